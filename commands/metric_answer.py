"""The answer of a metric command: compute the metrics for the asked period and filters,
and build the ``Reply`` (headline figures with their change, the how-computed lines, the
period line, the standard buttons). ``family_reply`` is the whole answer of every command
that shows a family of metrics (mrr, nrr, grr, retention, nps, csat, usage, onboarding,
ltv, kpi); churn builds its own from the same parts."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable, Iterable

from commands import format as fmt
from commands import metric_text
from commands.arguments import request_args, strict_words
from commands.buttons import standard_buttons
from commands.context import Request
from commands.messages import t
from commands.movements import accounts_reply, page_number
from commands.reply import Chart, Figure, Reply, Table, error_reply
from metrics import catalog
from metrics.calc import Calc
from metrics.compute import MetricResult, compute_metric
from metrics.filters import Filters
from metrics.periods import Period

logger = logging.getLogger(__name__)

WORDS = ("how", "accounts", "page")

# (calc, results by name, period, lang, currency) -> lines / table / chart
Extra = Callable[[Calc, dict[str, MetricResult], Period, str, str], tuple[list[str], Table | None, Chart | None]]


def asked_metrics(req: Request, area: str) -> list[str] | Reply:
    """The catalog names of the metrics ``req.query`` asks for; when it names none, the short
    error of ``area`` (``<area>.no_metric`` with ``<area>.example``): breakdowns, trends and
    comparisons need a metric."""
    query = req.query
    names = [catalog.get(n).name for n in (query.metrics if query is not None else ())]
    if names:
        return names
    return error_reply(t(f"{area}.no_metric", req.lang), language=req.lang, hint=t(f"{area}.example", req.lang))


def headline_metric(req: Request, results: dict, default: str) -> str:
    """The metric an answer leads with: the one the question named when it named exactly one that the
    answer holds ("upsell rate q3" leads with the upsell rate, not the LTV beside it), else ``default``."""
    query = req.query
    asked = [catalog.get(n).name for n in (query.metrics if query is not None else ())]
    asked = [n for n in dict.fromkeys(asked) if n in results]
    return asked[0] if len(asked) == 1 else default


def calc_for(req: Request, conn) -> Calc:
    return Calc(conn, req.ctx.settings, today=req.ctx.today)


def result(calc: Calc, name: str, period: Period, filters: Filters) -> MetricResult:
    return compute_metric(calc.conn, name, period, filters, calc.settings, calc=calc)


def headline(res: MetricResult, currency: str, lang: str = "en") -> str:
    """The value as the answer shows it (with its sign when the catalog says so: NPS "+32";
    days and minutes with their unit in ``lang``)."""
    return metric_text.headline(res.metric, res.value, currency, lang)


def figure(res: MetricResult, lang: str, currency: str, label: str | None = None) -> Figure:
    metric = res.metric
    cur, prev = res.current.value, res.previous.value
    trend = fmt.direction(metric.unit, cur, prev)
    good = None if trend == 0 else (trend > 0) == metric.higher_is_better
    return Figure(
        label=label or metric_text.label(metric, lang),
        value=headline(res, currency, lang),
        previous=metric_text.headline(metric, prev, currency, lang) if prev is not None else None,
        change=fmt.change(metric.unit, cur, prev, currency, lang=lang),
        trend=trend,
        good=good,
    )


def how_lines(results: list[MetricResult], lang: str, currency: str) -> tuple[str, ...]:
    lines = []
    for res in results:
        lines.append(f"{metric_text.label(res.metric, lang)}: {metric_text.formula(res.metric, lang)}")
        lines.append(f"    {metric_text.explain(res.metric, res.current, lang, currency)}")
    return tuple(lines)


def family_reply(req: Request, command_name: str, names: Iterable[str], extra: Extra | None = None,
                 title_metric: str | None = None, movements: tuple[str, ...] = (),
                 title_fn: Callable[[str, str], str] | None = None, shows: tuple[str, ...] = (),
                 period_fn: Callable[[Calc, Period], Period] | None = None) -> Reply:
    """Compute ``names`` for the asked period and filters and build the answer.
    ``movements``: the MRR movements behind the number, listed by "Show accounts".
    ``shows``: metrics the ``extra`` lines or chart show beyond ``names`` (privacy).
    ``period_fn``: the period actually answered, from the asked one (usage: up to the last synced day)."""
    args = request_args(req)
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
        if period_fn is not None:
            period = period_fn(calc, period)
        results = {name: result(calc, name, period, filters) for name in names}
        lines, table, chart = extra(calc, results, period, lang, currency) if extra else ([], None, None)
    lead = title_metric or names[0]
    main = results[lead if title_fn is not None else headline_metric(req, results, lead)]
    where = fmt.period_line(period, filters, lang)
    if chart is not None and chart.subtitle == fmt.period(period, lang):
        chart = replace(chart, subtitle=where)  # a chart names the filter it shows, as the title does
    if title_fn is not None:
        title = title_fn(where, lang)
    else:
        title = t("metric_answer.title", lang, label=metric_text.label(main.metric, lang),
                  value=headline(main, currency, lang), where=where)
    if main.value is None and title_fn is None:
        lines.insert(0, t("metric_answer.not_defined", lang))
    only_how = "how" in words
    data: dict[str, object] = {"period": period.iso()}
    for name, res in results.items():
        data[name] = res.value
        data[f"previous_{name}"] = res.previous.value
    return Reply(
        title=title,
        summary=title,
        language=lang,
        period=fmt.period(period, lang),
        figures=tuple(figure(r, lang, currency) for r in results.values()),
        lines=() if only_how else tuple(lines),
        table=None if only_how else table,
        chart=None if only_how else chart,
        how=how_lines(list(results.values()), lang, currency),
        buttons=standard_buttons(command_name, period, filters, lang, accounts=bool(movements)),
        metrics=tuple(dict.fromkeys((*names, *shows))),
        data=data,
    )
