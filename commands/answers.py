"""Building blocks every metric answer shares: a headline figure with its
change, the how-computed lines, the period line and the standard buttons."""

from __future__ import annotations

from commands.core import Request
from commands.reply import Button, Figure
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

