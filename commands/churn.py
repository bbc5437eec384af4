"""churn: customer and revenue churn for a period, the movements and the churned accounts."""

from __future__ import annotations

import logging

from commands import format as fmt
from commands import metric_text
from commands.arguments import request_args, strict_words
from commands.buttons import standard_buttons
from commands.context import Request
from commands.messages import t, t_list
from commands.metric_answer import calc_for, figure, headline, headline_metric, how_lines, result
from commands.movements import PAGE, accounts_reply, page_number
from commands.reply import Chart, Reply, Series, Table
from commands.spec import command
from metrics import catalog
from metrics.filters import Filters
from metrics.periods import Period, add_months, month_start
from metrics.revenue import movement_accounts, movements
from metrics.value import monthly_churn

logger = logging.getLogger(__name__)

WORDS = ("how", "accounts", "page")
ACCOUNT_KINDS = ("churn", "early_churn")  # "Show accounts": the churned, then those who joined and left
TREND_MONTHS = 6  # the churn chart: the customer churn rate of the months ending with the period
SHOWS = ("customer_churn_rate", "revenue_churn_rate", "mrr_movements")  # figures, then the movements in words


@command(
    "churn",
    example="churn last-month segment:enterprise",
    aliases=("解約", "解約率", "チャーン", "チャーンレート"),
    keywords=catalog.command_keywords("churn"),
)
def churn(req: Request) -> Reply:
    """churn [period] [filters]"""
    args = request_args(req)
    lang, currency = req.lang, req.ctx.settings.currency
    words = [w.lower() for w in args.words]
    if not req.natural:
        strict_words(args, WORDS, lang)
    period = args.period_or_default(req.ctx.today)
    filters = args.filters

    with req.connection() as conn:
        calc = calc_for(req, conn)
        customer = result(calc, "customer_churn_rate", period, filters)
        revenue = result(calc, "revenue_churn_rate", period, filters)
        moves = movements(calc, period, filters)
        if "accounts" in words:
            return accounts_reply(req, "churn", period, filters, ACCOUNT_KINDS, page_number(words))
        rows, total = movement_accounts(calc, period, filters, "churn", limit=PAGE)
        chart = trend_chart(calc, period, filters, lang)

    where = fmt.period_line(period, filters, lang)
    churned, start = moves.counts["churn"], moves.customers_start
    money = lambda v: fmt.money(v, currency)  # noqa: E731
    if headline_metric(req, {"customer_churn_rate": customer, "revenue_churn_rate": revenue},
                       "customer_churn_rate") == "revenue_churn_rate":  # "revenue churn last month" leads with it
        title = t("metric_answer.title", lang, label=metric_text.label(revenue.metric, lang),
                  value=headline(revenue, currency, lang), where=where)
    else:
        title = t("churn.title", lang, value=headline(customer, currency, lang), where=where)
    lines = [
        t("churn.churned", lang, churned=f"{churned:,}", start=f"{start:,}", lost=money(moves.amounts["churn"])),
        t("churn.moved", lang, contracted=f"{moves.counts['contraction']:,}",
          contraction=money(moves.amounts["contraction"]), expanded=f"{moves.counts['expansion']:,}",
          expansion=money(moves.amounts["expansion"])),
    ]
    if moves.counts["early_churn"]:
        lines.append(t("churn.early_churn", lang, early=moves.counts["early_churn"]))
    if customer.value is None:
        lines.insert(0, t("churn.not_defined", lang))

    table = _table(rows, total, lang, currency) if rows else None
    how = how_lines([customer, revenue], lang, currency)
    words_requested_how = "how" in words
    return Reply(
        title=title,
        summary=title,
        language=lang,
        period=fmt.period(period, lang),
        figures=(figure(customer, lang, currency), figure(revenue, lang, currency)),
        lines=tuple(lines) if not words_requested_how else (),
        table=table if not words_requested_how else None,
        chart=chart if not words_requested_how else None,
        how=how,
        buttons=standard_buttons("churn", period, filters, lang),
        metrics=SHOWS,
        data={
            "customer_churn_rate": customer.value,
            "revenue_churn_rate": revenue.value,
            "previous_customer_churn_rate": customer.previous.value,
            "churned_accounts": churned,
            "customers_start": start,
            "movements": moves.parts(),
            "period": period.iso(),
        },
    )


def trend_chart(calc, period: Period, filters: Filters, lang: str) -> Chart:
    """The customer churn rate of each of the ``TREND_MONTHS`` calendar months ending with the
    period's last month (the same counts as ``customer_churn_rate`` for each month, in one
    statement), so a churn answer shows whether this period is unusual; ``mrr`` keeps the waterfall."""
    last = month_start(period.last_day)
    months = monthly_churn(calc, last, TREND_MONTHS, filters)
    span = Period(months[0][0], add_months(last, 1), grain="months")
    rates = tuple(None if start == 0 else churned / start for _, churned, start in months)
    return Chart(kind="line", title=t("churn.trend_title", lang), subtitle=fmt.period_line(span, filters, lang),
                 labels=tuple(m.strftime("%Y-%m") for m, _, _ in months),
                 series=(Series(t("churn.trend_series", lang), rates),), unit="ratio",
                 alt=f"Customer churn rate by month, {fmt.period(span, 'en')}")


def _table(rows: list[dict], total: int, lang: str, currency: str) -> Table:
    body = tuple((r["name"], fmt.segment(r["segment"], lang), fmt.money(r["amount"], currency), r["owner"] or "—") for r in rows)
    return Table(columns=t_list("churn.columns", lang), rows=body, title=t("churn.table_title", lang), total_rows=total)
