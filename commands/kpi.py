"""kpi: the board of headline numbers; and ``family_reply``, the answer every
one-family command (mrr, nrr, grr, retention, nps, csat, usage, onboarding,
ltv) is built from."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable

from commands.answers import accounts_reply, calc_for, figure, page_number, how_lines, period_line, result, standard_buttons
from commands.arguments import strict_words
from commands.context import Request
from commands.router import command
from commands.reply import Chart, Figure, Reply, Table
from metrics import format as fmt
from metrics.periods import Period
from metrics.registry import Calc, MetricResult

WORDS = ("how", "accounts", "page")

# (results by name, lang, currency) -> lines / table / chart
Extra = Callable[[Calc, dict[str, MetricResult], Period, str, str], tuple[list[str], Table | None, Chart | None]]


def signed_figure(res: MetricResult, lang: str, currency: str) -> Figure:
    """A figure whose value carries its sign (NPS "+32")."""
    fig = figure(res, lang, currency)
    return replace(fig, value=res.metric.format_value(res.value, currency, signed=True))


def headline(res: MetricResult, lang: str, currency: str) -> str:
    signed = res.metric.unit == "score" and res.metric.name == "nps"
    return res.metric.format_value(res.value, currency, signed=signed)


def family_reply(req: Request, command_name: str, names: Iterable[str], extra: Extra | None = None,
                 title_metric: str | None = None, movements: tuple[str, ...] = (),
                 title_fn: Callable[[str, str], str] | None = None) -> Reply:
    """Compute ``names`` for the asked period and filters and build the answer.
    ``movements``: the MRR movements behind the number, listed by "Show accounts"."""
    args = req.parse()
    lang, currency = req.lang, req.ctx.settings.currency
    if not req.natural:
        strict_words(args, WORDS, lang)
    words = [w.lower() for w in args.words]
    period = args.period_or_default(req.ctx.today)
    filters = args.filters
    if movements and "accounts" in words:
        return accounts_reply(req, command_name, period, filters, movements, page_number(words))
    names = list(names)
    with req.connection() as conn:
        calc = calc_for(req, conn)  # month ends after today are not known yet (cohorts)
        results = {name: result(calc, name, period, filters) for name in names}
        lines, table, chart = extra(calc, results, period, lang, currency) if extra else ([], None, None)
    main = results[title_metric or names[0]]
    where = period_line(period, filters, lang)
    label = main.metric.label(lang)
    if title_fn is not None:
        title = title_fn(where, lang)
    elif lang == "ja":
        title = f"{label} {headline(main, lang, currency)}（{where}）"
    else:
        title = f"{label} {headline(main, lang, currency)} · {where}"
    if main.value is None and title_fn is None:
        lines.insert(0, "この期間は対象となるデータがないため、値を定義できません。" if lang == "ja"
                     else "Not defined for this period: there is nothing to divide by (no data in scope).")
    figures = tuple(signed_figure(r, lang, currency) if r.metric.name == "nps" else figure(r, lang, currency)
                    for r in results.values())
    only_how = "how" in words
    data: dict[str, object] = {"period": period.iso()}
    for name, res in results.items():
        data[name] = res.value
        data[f"previous_{name}"] = res.previous.value
    return Reply(
        title=title,
        summary=title,
        language=lang,
        period=period.describe(lang),
        figures=figures,
        lines=() if only_how else tuple(lines),
        table=None if only_how else table,
        chart=None if only_how else chart,
        how=how_lines(list(results.values()), lang, currency),
        buttons=standard_buttons(command_name, period, filters, lang, accounts=bool(movements)),
        revenue=any(r.metric.revenue for r in results.values()),
        data=data,
    )


BOARD = ("mrr", "arr", "customer_churn_rate", "grr", "nrr", "nps", "csat", "mau", "onboarding_completion_rate")


def _board(calc: Calc, results: dict[str, MetricResult], period: Period, lang: str, currency: str):
    rows = []
    for res in results.values():
        m = res.metric
        change = fmt.change(m.unit, res.value, res.previous.value, currency)
        rows.append((m.label(lang), headline(res, lang, currency),
                     m.format_value(res.previous.value, currency, signed=m.name == "nps"), change or "—"))
    cols = ("指標", "今期", "前期", "変化") if lang == "ja" else ("Metric", "This period", "Previous", "Change")
    table = Table(columns=cols, rows=tuple(rows), title="KPIボード" if lang == "ja" else "KPI board")
    return [], table, None


@command(
    "kpi",
    example="kpi last-month",
    aliases=("kpis", "board", "ダッシュボード", "KPIボード"),
    keywords=("kpi", "kpis", "kpi board", "dashboard", "headline numbers", "主要指標", "指標一覧", "ダッシュボード",
              "kpiボード"),
)
def kpi(req: Request) -> Reply:
    """kpi [period] [filters]"""
    return family_reply(req, "kpi", BOARD, _board,
                        title_fn=lambda where, lang: f"KPIボード（{where}）" if lang == "ja" else f"KPI board · {where}")
