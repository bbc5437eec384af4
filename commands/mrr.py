"""mrr: MRR, ARR, ARPA and how MRR moved over the period (new, reactivation,
expansion, contraction, churn, net new MRR)."""

from __future__ import annotations

import logging
from dataclasses import replace

from commands import format as fmt
from commands.context import Request
from commands.messages import t
from commands.metric_answer import family_reply
from commands.movements import KINDS, movements_chart
from commands.reply import Reply
from commands.spec import command
from metrics import catalog
from metrics.revenue import movements

logger = logging.getLogger(__name__)


def _movements(calc, results, period, lang, currency):
    filters = results["mrr"].filters
    m = movements(calc, period, filters)
    a, n = m.amounts, m.counts
    money = {k: fmt.money(a[k], currency) for k in KINDS}
    lines = [
        t("mrr.moved", lang, start=fmt.money(m.mrr_start, currency), end=fmt.money(m.mrr_end, currency),
          net=fmt.money(m.net_new, currency)),
        t("mrr.movements", lang, **{f"n_{k}": n[k] for k in KINDS}, **money),
    ]
    chart = movements_chart(m, period, lang, currency, filters)
    return lines, None, chart


@command(
    "mrr",
    example="mrr last-month",
    aliases=("arr", "arpa", "月次経常収益"),
    keywords=catalog.command_keywords("mrr"),
)
def mrr(req: Request) -> Reply:
    """mrr [period] [filters]"""
    part = _part_asked(req)
    led: dict = {}

    def extra(calc, results, period, lang, currency):
        lines, table, chart = _movements(calc, results, period, lang, currency)
        if part is not None:  # the movement asked leads: counted with the same Calc (its movements are memoised)
            led.update(_led_by(calc, results["mrr"], part, lang, currency))
            lines.insert(0, led["line"])
        return lines, table, chart

    reply = family_reply(req, "mrr", ("mrr", "arr", "arpa", "paying_customers", "net_new_mrr", "quick_ratio"), extra,
                         movements=KINDS, shows=("mrr_movements",))
    if not led:  # no movement asked, an error, a page of accounts
        return reply
    return replace(reply, title=led["title"], summary=led["title"], data={**reply.data, **led["data"]})


def _part_asked(req: Request) -> str | None:
    """The one movement a question named ("new MRR last month", "先月の拡大MRR"), else None."""
    q = req.query
    if q is None or q.part not in KINDS or "mrr_movements" not in q.metrics or q.intent not in ("value", "command"):
        return None
    return q.part


def _led_by(calc, res, part: str, lang: str, currency: str) -> dict:
    """The title, the first line and the data of the MRR answer (``res``: its MRR result) led by the
    movement asked: its amount and accounts, then the period before."""
    period, before, filters = res.period, res.previous_period, res.filters
    now, then = movements(calc, period, filters), movements(calc, before, filters)
    amount, n = now.amounts[part], now.counts[part]
    label = t(f"mrr.part_{part}", lang)
    title = t("mrr.part_title", lang, label=label, value=fmt.money(amount, currency), accounts=_accounts(n, lang),
              where=fmt.period_line(period, filters, lang))
    line = t("mrr.part_before", lang, label=label, period=fmt.period(before, lang),
             value=fmt.money(then.amounts[part], currency), accounts=_accounts(then.counts[part], lang),
             change=fmt.change("money", amount, then.amounts[part], currency, lang=lang) or fmt.NONE)
    data = {"part": part, part: amount, f"{part}_accounts": n, f"previous_{part}": then.amounts[part],
            f"previous_{part}_accounts": then.counts[part]}
    return {"title": title, "line": line, "data": data}


def _accounts(n: int, lang: str) -> str:
    return t("mrr.part_accounts_one", lang) if n == 1 else t("mrr.part_accounts", lang, n=f"{n:,}")
