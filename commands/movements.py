"""The MRR movements behind a revenue number: the accounts that made them ("Show
accounts", a page at a time, largest first) and the waterfall chart that churn, mrr
and the digest draw alike."""

from __future__ import annotations

import logging

from commands import format as fmt
from commands.arguments import UsageError
from commands.buttons import filter_tokens, period_token
from commands.context import Request
from commands.messages import t, t_list
from commands.reply import Button, Chart, Reply, Series, Table
from metrics.calc import Calc
from metrics.filters import Filters
from metrics.periods import Period
from metrics.revenue import Movements, movement_accounts

logger = logging.getLogger(__name__)

PAGE = 10
KINDS = ("new", "reactivation", "expansion", "contraction", "churn")
MOVEMENT_SIGN = {"new": 1, "reactivation": 1, "expansion": 1, "contraction": -1, "churn": -1}
# Listed by "Show accounts" beside the movements, but with no MRR change between the period's ends:
# a customer who joined and left within the period (counted apart from the churn rate).
NO_CHANGE = ("early_churn",)


def movement_label(kind: str, lang: str) -> str:
    return t(f"movements.{kind}", lang)


def page_number(words: list[str]) -> int:
    numbers = [int(w) for w in words if w.isdigit()]
    page = numbers[0] if numbers else 1
    if page < 1:
        raise UsageError("Pages start at 1.")
    return page


def movement_table(rows: list[dict], lang: str, currency: str, title: str, total: int) -> Table:
    body = tuple(
        (r["name"], movement_label(r["movement"], lang),
         "—" if r["movement"] in NO_CHANGE else fmt.money(MOVEMENT_SIGN[r["movement"]] * r["amount"], currency,
                                                          signed=True),
         fmt.segment(r["segment"], lang), r["owner"] or "—")
        for r in rows)
    return Table(columns=t_list("movements.columns", lang), rows=body, title=title, total_rows=total)


def accounts_reply(req: Request, command: str, period: Period, filters: Filters, kinds: tuple[str, ...],
                   page: int) -> Reply:
    """The accounts behind a revenue number (its movements), largest first, ``PAGE`` a page."""
    lang, currency = req.lang, req.ctx.settings.currency
    with req.connection() as conn:
        calc = Calc(conn, req.ctx.settings, today=req.ctx.today)
        merged, total = [], 0
        for kind in kinds:  # enough rows of each kind to fill this page after merging
            rows, n = movement_accounts(calc, period, filters, kind, limit=page * PAGE)
            merged += [{**r, "movement": kind} for r in rows]
            total += n
    pages = max(1, -(-total // PAGE))
    if page > pages:
        raise UsageError(t("movements.only_one_page" if pages == 1 else "movements.only_pages", lang, pages=pages))
    merged.sort(key=lambda r: (-r["amount"], r["name"]))
    rows = merged[(page - 1) * PAGE: page * PAGE]
    names = t("movements.joiner", lang).join(t(f"movements.{k}_in_list", lang) for k in kinds)
    title = t("movements.accounts_title", lang, total=total, names=names, where=fmt.period_line(period, filters, lang))
    buttons: tuple[Button, ...] = ()
    if page < pages:
        value = f"{command} {period_token(period)} {filter_tokens(filters)} accounts {page + 1}".replace("  ", " ")
        buttons = (Button("csbot_accounts", t("movements.next_page", lang), value),)
    return Reply(title=title, summary=title, language=lang, period=fmt.period(period, lang),
                 table=movement_table(rows, lang, currency, t("movements.table_title", lang),
                                       total - (page - 1) * PAGE),  # "and N more": after this page
                 lines=(t("movements.page", lang, page=page, pages=pages),), buttons=buttons,
                 metrics=("mrr_movements",),
                 data={"accounts": [r["account_id"] for r in rows], "total": total, "page": page})


def movements_chart(moves: Movements, period: Period, lang: str, currency: str,
                    filters: Filters | None = None) -> Chart:
    """The period's MRR movements as a waterfall (mrr and the digest draw the same one); the
    subtitle names the period and the filter."""
    return Chart(
        kind="waterfall",
        title=t("movements.chart_title", lang),
        subtitle=fmt.period_line(period, filters or Filters(), lang),
        labels=(*(movement_label(k, lang) for k in KINDS), t("charts.net", lang)),
        roles=(*KINDS, "net"),
        series=(Series("MRR", (*(MOVEMENT_SIGN[k] * moves.amounts[k] for k in KINDS), moves.net_new)),),
        unit="money",
        alt=f"MRR movements {fmt.period(period, 'en')}: net {fmt.money(moves.net_new, currency)}",
    )
