"""Building blocks every metric answer shares: a headline figure with its
change, the how-computed lines, the period line and the standard buttons."""

from __future__ import annotations

from commands.context import Request
from commands.reply import Button, Chart, Figure, Reply, Table
from metrics import format as fmt
from metrics.filters import Filters
from metrics.periods import Period
from metrics.registry import Calc, MetricResult, compute_metric


def calc_for(req: Request, conn) -> Calc:
    return Calc(conn, req.ctx.settings, today=req.ctx.today)


def result(calc: Calc, name: str, period: Period, filters: Filters) -> MetricResult:
    return compute_metric(calc.conn, name, period, filters, calc.settings, calc=calc)


def figure(res: MetricResult, lang: str, currency: str, label: str | None = None) -> Figure:
    metric = res.metric
    cur, prev = res.current.value, res.previous.value
    trend = 0
    good = None
    if cur is not None and prev is not None and cur != prev:
        trend = 1 if cur > prev else -1
        if metric.higher_is_better is not None:
            good = (trend > 0) == metric.higher_is_better
    return Figure(
        label=label or metric.label(lang),
        value=metric.format_value(cur, currency),
        previous=metric.format_value(prev, currency) if prev is not None else None,
        change=fmt.change(metric.unit, cur, prev, currency),
        trend=trend,
        good=good,
    )


def how_lines(results: list[MetricResult], lang: str, currency: str) -> tuple[str, ...]:
    lines = []
    for res in results:
        lines.append(f"{res.metric.label(lang)}: {res.metric.formula(lang)}")
        lines.append(f"    {res.metric.explain(res.current, lang, currency)}")
    return tuple(lines)


def period_line(period: Period, filters: Filters, lang: str) -> str:
    text = period.describe(lang)
    if not filters.empty:
        text += f" · {filters.describe()}"
    return text


def period_token(period: Period) -> str:
    """A period as a word the parser reads back (for buttons)."""
    return f"{period.start.isoformat()}..{period.last_day.isoformat()}"


def filter_tokens(filters: Filters) -> str:
    tokens = []
    for key, value in (("segment", filters.segment), ("touch", filters.touch_model), ("plan", filters.plan),
                       ("region", filters.region)):
        if value:
            tokens.append(f"{key}:{value}")
    if filters.owner:
        tokens.append(f"owner:{filters.owner[0]}")
    return " ".join(tokens)


def standard_buttons(command: str, period: Period, filters: Filters, lang: str,
                     accounts: bool = True) -> tuple[Button, ...]:
    base = f"{command} {period_token(period)} {filter_tokens(filters)}".strip()
    buttons = [Button("csbot_how", "計算方法" if lang == "ja" else "How is this computed?", f"{base} how")]
    if accounts:
        buttons.append(Button("csbot_accounts", "対象の顧客" if lang == "ja" else "Show accounts", f"{base} accounts"))
    return tuple(buttons)



# ---- the accounts behind a number -------------------------------------------------

PAGE = 10
MOVEMENT_LABELS = {
    "new": ("New", "新規"), "reactivation": ("Reactivation", "再開"), "expansion": ("Expansion", "拡大"),
    "contraction": ("Contraction", "縮小"), "churn": ("Churn", "解約"),
}
MOVEMENT_SIGN = {"new": 1, "reactivation": 1, "expansion": 1, "contraction": -1, "churn": -1}


def page_number(words: list[str]) -> int:
    from commands.arguments import UsageError

    numbers = [int(w) for w in words if w.isdigit()]
    page = numbers[0] if numbers else 1
    if page < 1:
        raise UsageError("Pages start at 1.")
    return page


def movement_table(rows: list[dict], lang: str, currency: str, title: str, total: int) -> Table:
    ja = lang == "ja"
    cols = ("顧客", "動き", "MRRの増減", "セグメント", "担当") if ja else ("Account", "Movement", "MRR change", "Segment", "Owner")
    body = tuple(
        (r["name"], MOVEMENT_LABELS[r["movement"]][1 if ja else 0],
         fmt.money(MOVEMENT_SIGN[r["movement"]] * r["amount"], currency).replace("¥", "+¥", 1)
         if MOVEMENT_SIGN[r["movement"]] > 0 else fmt.money(-r["amount"], currency),
         r["segment"] or "—", r["owner"] or "—")
        for r in rows)
    return Table(columns=cols, rows=body, title=title, total_rows=total)


def accounts_reply(req: Request, command: str, period: Period, filters: Filters, kinds: tuple[str, ...],
                   page: int) -> Reply:
    """The accounts behind a revenue number (its movements), largest first, ``PAGE`` a page."""
    from commands.arguments import UsageError
    from metrics.revenue import movement_accounts

    lang, currency = req.lang, req.ctx.settings.currency
    ja = lang == "ja"
    with req.connection() as conn:
        calc = calc_for(req, conn)
        merged, total = [], 0
        for kind in kinds:  # enough rows of each kind to fill this page after merging
            rows, n = movement_accounts(calc, period, filters, kind, limit=page * PAGE)
            merged += [{**r, "movement": kind} for r in rows]
            total += n
    pages = max(1, -(-total // PAGE))
    if page > pages:
        raise UsageError(f"ページは {pages} までです。" if ja else
                         ("There is only 1 page." if pages == 1 else f"There are only {pages} pages."))
    merged.sort(key=lambda r: (-r["amount"], r["name"]))
    rows = merged[(page - 1) * PAGE: page * PAGE]
    names = "・".join(MOVEMENT_LABELS[k][1] for k in kinds) if ja else ", ".join(MOVEMENT_LABELS[k][0].lower() for k in kinds)
    where = period_line(period, filters, lang)
    title = f"{names}の顧客 {total}社（{where}）" if ja else f"{total} account(s) with {names} · {where}"
    buttons: tuple[Button, ...] = ()
    if page < pages:
        value = f"{command} {period_token(period)} {filter_tokens(filters)} accounts {page + 1}".replace("  ", " ")
        buttons = (Button("csbot_accounts", "次へ" if ja else "Next page", value),)
    return Reply(title=title, summary=title, language=lang, period=period.describe(lang),
                 table=movement_table(rows, lang, currency, "対象の顧客" if ja else "Accounts", total),
                 lines=(f"{page}/{pages} ページ" if ja else f"page {page}/{pages}",), buttons=buttons, revenue=True,
                 data={"accounts": [r["account_id"] for r in rows], "total": total, "page": page})


def movements_chart(moves, period: Period, lang: str, currency: str) -> Chart:
    """The period's MRR movements as a waterfall (churn, mrr and the digest draw the same one)."""
    kinds = ("new", "reactivation", "expansion", "contraction", "churn")
    return Chart(
        kind="waterfall",
        title="MRRの増減" if lang == "ja" else "MRR movements",
        subtitle=period.describe(lang),
        labels=tuple(MOVEMENT_LABELS[k][1 if lang == "ja" else 0] for k in kinds),
        series=(("MRR", tuple(MOVEMENT_SIGN[k] * moves.amounts[k] for k in kinds)),),
        unit="money",
        alt=f"MRR movements {period.describe('en')}: net {fmt.money(moves.net_new, currency)}",
    )
