"""churn: customer and revenue churn for a period, the movements and the churned accounts."""

from __future__ import annotations

from commands.answers import (PAGE, accounts_reply, calc_for, figure, how_lines, movements_chart, page_number,
                              period_line, result, standard_buttons)
from commands.arguments import strict_words
from commands.context import Request
from commands.router import command
from commands.reply import Reply, Table
from metrics import format as fmt
from metrics.revenue import movement_accounts, movements

WORDS = ("how", "accounts", "page")


@command(
    "churn",
    example="churn last-month segment:enterprise",
    aliases=("解約", "解約率", "チャーン", "チャーンレート"),
    keywords=("churn", "churned", "解約", "チャーン", "離脱"),
)
def churn(req: Request) -> Reply:
    """churn [period] [filters]"""
    args = req.parse()
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
            return accounts_reply(req, "churn", period, filters, ("churn",), page_number(words))
        rows, total = movement_accounts(calc, period, filters, "churn", limit=PAGE)

    where = period_line(period, filters, lang)
    churned, start = moves.counts["churn"], moves.customers_start
    if lang == "ja":
        title = f"解約率 {customer.metric.format_value(customer.value, currency)}（{where}）"
        lines = [
            f"期首の有料顧客 {start:,}社のうち *{churned:,}社* が解約し、MRR {fmt.money(moves.amounts['churn'], currency)} を失いました。",
            f"縮小（ダウングレード）{moves.counts['contraction']:,}社で {fmt.money(moves.amounts['contraction'], currency)}、"
            f"拡大 {moves.counts['expansion']:,}社で {fmt.money(moves.amounts['expansion'], currency)}。",
        ]
        if moves.counts["early_churn"]:
            lines.append(f"期間内に契約して解約した顧客が {moves.counts['early_churn']}社あります（期首にいないため解約率には含みません）。")
    else:
        title = f"Customer churn {customer.metric.format_value(customer.value, currency)} · {where}"
        lines = [
            f"*{churned:,}* of {start:,} customers paying at the start churned, taking {fmt.money(moves.amounts['churn'], currency)} of MRR.",
            f"{moves.counts['contraction']:,} contracted ({fmt.money(moves.amounts['contraction'], currency)}); "
            f"{moves.counts['expansion']:,} expanded ({fmt.money(moves.amounts['expansion'], currency)}).",
        ]
        if moves.counts["early_churn"]:
            lines.append(f"{moves.counts['early_churn']} customer(s) joined and left within the period: early churn, not in the rate.")
    if customer.value is None:
        lines.insert(0, "期首に有料顧客がいないため、解約率は定義できません。" if lang == "ja"
                     else "No paying customers at the start of the period, so churn is not defined.")

    table = _table(rows, total, lang, currency) if rows else None
    how = how_lines([customer, revenue], lang, currency)
    chart = movements_chart(moves, period, lang, currency)
    words_requested_how = "how" in words
    return Reply(
        title=title,
        summary=title,
        language=lang,
        period=period.describe(lang),
        figures=(figure(customer, lang, currency), figure(revenue, lang, currency)),
        lines=tuple(lines) if not words_requested_how else (),
        table=table if not words_requested_how else None,
        chart=chart if not words_requested_how else None,
        how=how,
        buttons=standard_buttons("churn", period, filters, lang),
        revenue=True,
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


def _table(rows: list[dict], total: int, lang: str, currency: str) -> Table:
    cols = ("顧客", "セグメント", "失ったMRR", "担当") if lang == "ja" else ("Account", "Segment", "MRR lost", "Owner")
    body = tuple((r["name"], r["segment"] or "—", fmt.money(r["amount"], currency), r["owner"] or "—") for r in rows)
    title = "解約した顧客" if lang == "ja" else "Churned accounts"
    return Table(columns=cols, rows=body, title=title, total_rows=total)
