"""The App Home: the viewer's book (accounts, renewals coming up) and the team's headline KPIs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, func, or_, select

from commands import format as fmt
from commands.core import Context, freshness
from commands.metric_answer import figure
from commands.periods import parse_period
from commands.reply import Reply, Table
from metrics import schema
from metrics.calc import Calc
from metrics.compute import compute_metric
from metrics.db import is_empty

HEADLINE = ("mrr", "customer_churn_rate", "nrr", "nps")
RENEWAL_DAYS = 60


def owner_condition(ctx: Context):
    ids = [x.lower() for x in (ctx.user_id, ctx.user_email) if x]
    if not ids:
        return None
    return or_(*(func.lower(schema.accounts.c.owner) == i for i in ids))


def home_reply(ctx: Context) -> Reply:
    lang = ctx.settings.language if ctx.settings.language in ("en", "ja") else "en"
    currency = ctx.settings.currency
    title = "csbot ホーム" if lang == "ja" else "csbot home"
    engine = ctx.db.engine
    if is_empty(engine):
        msg = ("まだデータがありません。`csbot sync` でデータを取り込んでください。" if lang == "ja"
               else "No data yet: load it with `csbot sync`.")
        return Reply(title=title, summary=msg, kind="info", language=lang, lines=(msg,))
    period = parse_period(None, ctx.today)
    a = schema.accounts
    lines: list[str] = []
    table = None
    with engine.connect() as conn:
        calc = Calc(conn, ctx.settings, today=ctx.today)
        figures = tuple(figure(compute_metric(conn, name, period, settings=ctx.settings, calc=calc), lang, currency)
                        for name in HEADLINE)
        mine = owner_condition(ctx)
        if mine is None:
            lines.append("担当顧客を表示するには、Slack のメールアドレスを顧客の担当者（owner）に設定してください。" if lang == "ja"
                         else "To see your book here, set accounts' owner to your Slack user ID or e-mail.")
        else:
            book = conn.execute(select(func.count()).select_from(a).where(mine)).scalar_one()
            lines.append(f"あなたの担当顧客: *{book}社*" if lang == "ja" else f"Your book: *{book}* accounts")
            lines.extend(_book_health(conn, ctx, lang))
            horizon = ctx.today + timedelta(days=RENEWAL_DAYS)
            rows = conn.execute(
                select(a.c.name, a.c.renewal_date, a.c.plan)
                .where(and_(mine, a.c.renewal_date >= ctx.today, a.c.renewal_date < horizon))
                .order_by(a.c.renewal_date, a.c.name)
                .limit(10)
            ).all()
            total = conn.execute(
                select(func.count()).select_from(a)
                .where(and_(mine, a.c.renewal_date >= ctx.today, a.c.renewal_date < horizon))
            ).scalar_one()
            cols = ("顧客", "更新日", "残り日数", "プラン") if lang == "ja" else ("Account", "Renewal", "Days left", "Plan")
            table = Table(
                columns=cols,
                rows=tuple((r.name, r.renewal_date.isoformat(), str((r.renewal_date - ctx.today).days), r.plan or "—")
                           for r in rows),
                title=f"{RENEWAL_DAYS}日以内の更新" if lang == "ja" else f"Renewals in the next {RENEWAL_DAYS} days",
                total_rows=total,
            )
            if not rows:
                lines.append(f"{RENEWAL_DAYS}日以内に更新を迎える担当顧客はありません。" if lang == "ja"
                             else f"No renewals in your book in the next {RENEWAL_DAYS} days.")
    return Reply(title=title, summary=title, language=lang, period=fmt.period(period, lang), figures=figures,
                 lines=tuple(lines), table=table, footer=freshness(ctx, lang), revenue=True)


BAND_EMOJI = {"red": "🔴", "yellow": "🟡", "green": "🟢"}
BAND_JA = {"red": "赤", "yellow": "黄", "green": "緑"}


def _book_health(conn, ctx: Context, lang: str) -> list[str]:
    """The viewer's accounts by health band, the ones at risk named first."""
    from metrics.filters import Filters
    from metrics.health import portfolio

    ids = tuple(x for x in (ctx.user_id, ctx.user_email) if x)
    book = portfolio(conn, ctx.today, Filters(owner=ids), ctx.settings)
    if not book.rows:
        return []
    bands = " · ".join(f"{BAND_EMOJI[b]} {BAND_JA[b] if lang == 'ja' else b} {book.counts.get(b, 0)}"
                       for b in ("red", "yellow", "green"))
    out = [bands]
    risky = [r for r in book.rows if r.band in ("red", "yellow")][:5]
    if risky:
        head = "要注意: " if lang == "ja" else "At risk: "
        out.append(head + ", ".join(f"{r.name} ({r.score:.0f})" for r in risky))
    return out
