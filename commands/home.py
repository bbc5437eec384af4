"""The App Home: the viewer's book (accounts, their health, renewals coming up)
and the team's headline KPIs. The numbers come from ``metrics``; this module words them."""

from __future__ import annotations

import logging

from sqlalchemy import Connection

from commands import format as fmt
from commands.arguments import asker_ids
from commands.context import Context, freshness
from commands.health import BAND_EMOJI, band_label
from commands.language import LANGUAGES
from commands.messages import t, t_list
from commands.metric_answer import figure
from commands.periods import default_period
from commands.reply import Reply, Table
from commands.voice import fallback_figure, nps_fallback
from metrics import catalog
from metrics import health as hm
from metrics.accounts import count_accounts
from metrics.calc import Calc
from metrics.compute import compute_metric
from metrics.db import is_empty
from metrics.filters import Filters
from metrics.renewals import renewals

logger = logging.getLogger(__name__)

HEADLINE = ("mrr", "customer_churn_rate", "nrr", "nps")
RENEWAL_DAYS = 60
RENEWAL_ROWS = 10
AT_RISK_NAMES = 5


def home_reply(ctx: Context) -> Reply:
    """The Home tab of the asker in ``ctx`` (an entry point: it opens its own connection)."""
    lang = ctx.settings.language if ctx.settings.language in LANGUAGES else "en"
    currency = ctx.settings.currency
    title = t("home.title", lang)
    engine = ctx.db.engine
    if is_empty(engine):
        msg = t("home.no_data", lang)
        return Reply(title=title, summary=msg, kind="info", language=lang, lines=(msg,))
    period = default_period(ctx.today)
    declared = catalog.names()
    ids = asker_ids(ctx)
    lines: list[str] = []
    table = None
    with engine.connect() as conn:
        calc = Calc(conn, ctx.settings, today=ctx.today)
        figures = tuple(_headline_figure(calc, compute_metric(conn, name, period, settings=ctx.settings, calc=calc),
                                         lang, currency) for name in HEADLINE if name in declared)
        if not ids:
            lines.append(t("home.who_are_you", lang))
        else:
            mine = Filters(owner=ids)
            lines.append(t("home.book", lang, count=count_accounts(conn, mine)))
            lines.extend(_book_health(conn, ctx, mine, lang))
            rows, total = renewals(conn, ctx.today, RENEWAL_DAYS, mine, limit=RENEWAL_ROWS)
            table = Table(
                columns=t_list("home.renewal_columns", lang),
                rows=tuple((r["name"], r["renewal_date"].isoformat(), str((r["renewal_date"] - ctx.today).days),
                            r["plan"] or "—") for r in rows),
                title=t("home.renewals_title", lang, days=RENEWAL_DAYS),
                total_rows=total,
            )
            if not rows:
                lines.append(t("home.no_renewals", lang, days=RENEWAL_DAYS))
    return Reply(title=title, summary=title, language=lang, period=fmt.period(period, lang), figures=figures,
                 lines=tuple(lines), table=table, footer=freshness(ctx, lang), revenue=True)


def _headline_figure(calc: Calc, res, lang: str, currency: str):
    """A headline figure; NPS from the latest survey, labelled with its dates, when the period has no answers."""
    found = nps_fallback(calc, res) if res.metric.name == "nps" else None
    return figure(res, lang, currency) if found is None else fallback_figure(res, found, lang, currency)


def _book_health(conn: Connection, ctx: Context, mine: Filters, lang: str) -> list[str]:
    """The viewer's accounts by health band, the ones at risk named first."""
    book = hm.portfolio(conn, ctx.today, mine, ctx.settings)
    if not book.rows:
        return []
    bands = " · ".join(f"{BAND_EMOJI[b]} {band_label(b, lang)} {book.counts.get(b, 0)}" for b in hm.BANDS)
    out = [bands]
    risky = [r for r in book.rows if r.band in hm.RISKY_BANDS][:AT_RISK_NAMES]
    if risky:
        out.append(t("home.at_risk", lang, names=", ".join(f"{r.name} ({r.score:.0f})" for r in risky)))
    return out
