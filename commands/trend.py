"""The answer to "a metric over time" ("monthly churn for 2026", "NRRの推移").

A point per month, quarter or week of the span (default: the 12 complete months ending last
month), the unit in progress marked "to date"; a line chart, a table of the points (latest
first), and in words where it went from the first point to the latest, and its high and low.
The numbers come from ``metrics.breakdown.trend`` (the same measure as every answer).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from commands import format as fmt
from commands import metric_text
from commands.breakdown import dimension_name, not_breakable, value_name
from commands.context import Request
from commands.messages import t, t_list
from commands.metric_answer import asked_metrics, calc_for
from commands.query import GRAINS
from commands.reply import Chart, Reply, Series, Table
from metrics import catalog
from metrics.accounts import dimension_values
from metrics.breakdown import DIMENSIONS, Trend, can_break_down, trend
from metrics.filters import Filters
from metrics.grouping import filters_for
from metrics.periods import Period, add_months, month_start

logger = logging.getLogger(__name__)

MAX_ROWS = 20  # Slack: a table of at most 20 rows
MAX_GROUPS = 8  # a trend by segment, plan ...: at most this many lines (and the whole) on one chart
DEFAULT_MONTHS = 12  # no period asked: the 12 complete months ending last month


def default_span(today: date) -> Period:
    """The span of a trend when the question names none: the 12 complete months ending last month."""
    end = month_start(today)
    return Period(add_months(end, -DEFAULT_MONTHS), end, "months")


def unit_label(p: Period, grain: str) -> str:
    """A point's name, the same in every language: "2026-01", "2026-Q1", a week by its Monday "2026-11-16"."""
    if grain == "quarter":
        return f"{p.start.year}-Q{(p.start.month - 1) // 3 + 1}"
    if grain == "week":
        return p.start.isoformat()
    return f"{p.start:%Y-%m}"


def month_name(d: date, lang: str) -> str:
    """A month of a year: "Nov 2026" / "2026年11月"."""
    return t("trend.month_year", lang, month=t_list("format.months", lang)[d.month - 1], year=d.year)


def span_text(first: date, last: date, lang: str, *, months: bool = True) -> str:
    """The span of a series: by months "Jan – Nov 2026" / "2026年1月〜11月" ("Dec 2025 – Nov 2026"
    across years), or by days as ``fmt.period`` (weeks)."""
    if not months:
        return fmt.period(Period(first, last + timedelta(days=1)), lang)
    if (first.year, first.month) == (last.year, last.month):
        return month_name(first, lang)
    names = t_list("format.months", lang)
    if first.year == last.year:
        return t("trend.months_in_year", lang, first=names[first.month - 1], last=names[last.month - 1], year=last.year)
    return t("trend.months_range", lang, first=month_name(first, lang), last=month_name(last, lang))


def span_line(first: Period, last: Period, grain: str, filters: Filters, lang: str) -> str:
    """The span and the scope of a series: "Jan – Nov 2026 · segment:smb"."""
    text = span_text(first.start, last.last_day, lang, months=grain != "week")
    return f"{text} · {fmt.scope(filters, lang)}" if not filters.empty else text


def answer(req: Request) -> Reply:
    """A metric (or several) at ``query.grain`` (default month) over ``query.period`` (default
    the 12 complete months ending last month)."""
    query = req.query
    lang, currency = req.lang, req.ctx.settings.currency
    names = asked_metrics(req, "trend")
    if isinstance(names, Reply):
        return names
    grain = query.grain if query.grain in GRAINS else "month"
    if len(query.periods) >= 2:  # "from Q2 to Q4": the span from the first to the last
        span = Period(min(p.start for p in query.periods), max(p.end for p in query.periods), "range")
    else:
        span = query.period or default_span(req.ctx.today)
    filters = query.filters
    if query.by in DIMENSIONS:
        return _by_group(req, names[0], span, grain, filters, query.by)
    with req.connection() as conn:
        calc = calc_for(req, conn)
        trends = [trend(calc, name, span, grain, filters) for name in names]
    main = trends[0]
    metric = main.metric
    label = metric_text.label(metric, lang)
    grain_name = t(f"trend.grain_{grain}", lang)
    if not main.points:  # the span starts after today
        title = t("trend.no_points", lang, where=fmt.period_line(span, filters, lang))
        return Reply(title=title, summary=title, kind="info", language=lang, metrics=tuple(names))
    periods = [p for p, _ in main.points]
    first, last = periods[0], periods[-1]
    where = span_line(first, last, grain, filters, lang)
    title = t("trend.title", lang, label=label, grain=grain_name, where=where)
    names_of = [unit_label(p, grain) for p in periods]
    marked = _marked(periods, grain, lang)
    text = lambda m, v: metric_text.headline(m, v, currency, lang)  # noqa: E731

    # The chart: one line per metric of the first metric's unit.
    charted = [tr for tr in trends if tr.metric.unit == metric.unit]
    charted_labels = ", ".join(metric_text.label(tr.metric, lang) for tr in charted)
    chart = Chart(kind="line", title=t("trend.chart_title", lang, label=charted_labels, grain=grain_name), subtitle=where,
                  labels=tuple(marked),
                  series=tuple(Series(metric_text.label(tr.metric, lang), tuple(m.value for _, m in tr.points))
                               for tr in charted),
                  unit=metric.unit, signed=metric.signed,
                  partial_last=bool(charted and charted[0].points and charted[0].points[-1][0].to_date))

    # The table: the points, latest first, with the change from the point before.
    columns = [t(f"trend.column_{grain}", lang)]
    for tr in trends:
        columns += [metric_text.label(tr.metric, lang) if len(trends) > 1 else label, t("trend.change", lang)]
    rows = []
    for i in reversed(range(len(periods))):
        row = [marked[i]]
        for tr in trends:
            cur = tr.points[i][1].value
            prev = tr.points[i - 1][1].value if i > 0 else None
            row += [text(tr.metric, cur), fmt.change(tr.metric.unit, cur, prev, currency, lang=lang) or fmt.NONE]
        rows.append(tuple(row))
    tbl = Table(columns=tuple(columns), rows=tuple(rows[:MAX_ROWS]),
                total_rows=len(rows) if len(rows) > MAX_ROWS else None)

    lines = [line for tr in trends for line in _story(tr, grain, lang, currency)]
    if last.to_date:
        lines.append(t("trend.to_date", lang, label=names_of[-1], dates=fmt.period(last, lang)))
    if len(charted) < len(trends):
        lines.append(t("trend.not_charted", lang, labels=", ".join(
            metric_text.label(tr.metric, lang) for tr in trends if tr not in charted)))

    how: list[str] = []
    for tr in trends:
        how.append(f"{metric_text.label(tr.metric, lang)}: {metric_text.formula(tr.metric, lang)}")
        known = [(p, m) for p, m in tr.points if m.value is not None]
        for p, m in (known[-1:] if len(known) < 2 else [known[0], known[-1]]):
            how.append(f"    {unit_label(p, grain)}: {metric_text.explain(tr.metric, m, lang, currency)}")
    how.append(t("trend.how_points", lang, grain=grain_name))
    data: dict[str, object] = {"grain": grain, "metric": metric.name, "span": span.iso(), "points": _points(main, grain)}
    if len(trends) > 1:
        data["series"] = {tr.metric.name: _points(tr, grain) for tr in trends}
    return Reply(
        title=title,
        summary=title,
        language=lang,
        period=fmt.period(Period(first.start, last.end), lang),
        lines=tuple(lines),
        table=tbl,
        chart=chart,
        how=tuple(how),
        metrics=tuple(names),
        data=data,
    )


def _marked(periods: list[Period], grain: str, lang: str) -> list[str]:
    """The points' names as the chart and the table show them, the unit in progress marked "to date"."""
    return [unit_label(p, grain) + (t("trend.to_date_mark", lang) if p.to_date else "") for p in periods]


def _points(tr: Trend, grain: str) -> list[dict]:
    """A series as the reply's data carries it."""
    return [{"period": p.iso(), "label": unit_label(p, grain), "to_date": p.to_date, "value": m.value}
            for p, m in tr.points]


def _by_group(req: Request, name: str, span: Period, grain: str, filters: Filters, by: str) -> Reply:
    """"NPSの推移 セグメント別": one line per value of ``by`` the data holds (each the metric with that
    value as a filter, as "NPS for enterprise by month" gives it) and the whole, on one chart; the
    table holds the values, latest first. Accounts with no value are in the whole only."""
    lang, currency = req.lang, req.ctx.settings.currency
    metric = catalog.get(name)
    if not can_break_down(name):
        return not_breakable(name, by, lang)
    with req.connection() as conn:
        values = dimension_values(conn).get(by, [])
        chosen = getattr(filters, by)
        if chosen:  # "enterprise NPS by month by segment": the one value asked
            values = [v for v in values if v in (chosen if isinstance(chosen, tuple) else (chosen,))]
        if len(values) > MAX_GROUPS:
            title = t("trend.too_many_groups", lang, n=len(values), dim=dimension_name(by, lang), most=MAX_GROUPS)
            return Reply(title=title, summary=title, kind="info", language=lang,
                         lines=(t("trend.too_many_groups_hint", lang, label=metric_text.label(metric, lang),
                                  dim=dimension_name(by, lang)),), metrics=(name,))
        calc = calc_for(req, conn)
        whole = trend(calc, name, span, grain, filters)
        groups = [(v, trend(calc, name, span, grain, filters_for(filters, by, v))) for v in values]
    label = metric_text.label(metric, lang)
    if not whole.points:
        title = t("trend.no_points", lang, where=fmt.period_line(span, filters, lang))
        return Reply(title=title, summary=title, kind="info", language=lang, metrics=(name,))
    periods = [p for p, _ in whole.points]
    first, last = periods[0], periods[-1]
    where = span_line(first, last, grain, filters, lang)
    dim = dimension_name(by, lang)
    grain_name = t(f"trend.grain_{grain}", lang)
    title = t("trend.title_by", lang, label=label, grain=grain_name, dim=dim, where=where)
    marked = _marked(periods, grain, lang)
    series = [(t("breakdown.all", lang), whole)] + [(value_name(by, v, lang), tr) for v, tr in groups]
    chart = Chart(kind="line", title=t("trend.chart_title_by", lang, label=label, grain=grain_name, dim=dim),
                  subtitle=where, labels=tuple(marked),
                  series=tuple(Series(s_label, tuple(m.value for _, m in tr.points)) for s_label, tr in series),
                  unit=metric.unit, signed=metric.signed, partial_last=last.to_date)
    text = lambda v: metric_text.headline(metric, v, currency, lang) if v is not None else fmt.NONE  # noqa: E731
    rows = [tuple([marked[i], *(text(tr.points[i][1].value) for _, tr in series)]) for i in reversed(range(len(periods)))]
    tbl = Table(columns=(t(f"trend.column_{grain}", lang), *(s_label for s_label, _ in series)), rows=tuple(rows[:MAX_ROWS]),
                total_rows=len(rows) if len(rows) > MAX_ROWS else None)
    lines = [_story(tr, grain, lang, currency, label=s_label)[0] for s_label, tr in series]
    if last.to_date:
        lines.append(t("trend.to_date", lang, label=unit_label(last, grain), dates=fmt.period(last, lang)))
    how = [f"{label}: {metric_text.formula(metric, lang)}", t("trend.how_points", lang, grain=grain_name),
           t("trend.how_groups", lang, dim=dim)]
    return Reply(title=title, summary=title, language=lang, period=fmt.period(Period(first.start, last.end), lang),
                 lines=tuple(lines), table=tbl, chart=chart, how=tuple(how), metrics=(name,),
                 data={"grain": grain, "metric": name, "span": span.iso(), "by": by, "points": _points(whole, grain),
                       "groups": {v: _points(tr, grain) for v, tr in groups}})


def _story(tr: Trend, grain: str, lang: str, currency: str, label: str | None = None) -> list[str]:
    """Where the series went: from the first known point to the latest, and its high and low
    (``label``: the series' name, the metric's unless given)."""
    known = [(unit_label(p, grain), m.value) for p, m in tr.points if m.value is not None]
    label = label or metric_text.label(tr.metric, lang)
    if not known:
        return [t("trend.no_values", lang, label=label)]
    text = lambda v: metric_text.headline(tr.metric, v, currency, lang)  # noqa: E731
    (first_label, first), (last_label, last) = known[0], known[-1]
    if len(known) == 1:
        return [t("trend.one_point", lang, label=label, value=text(last), at=last_label)]
    change = fmt.change(tr.metric.unit, last, first, currency, lang=lang)
    moved = fmt.direction(tr.metric.unit, last, first)
    verdict = "flat" if moved == 0 else "better" if (moved > 0) == tr.metric.higher_is_better else "worse"
    out = [t(f"trend.from_to_{verdict}", lang, label=label, first=text(first), first_at=first_label, last=text(last),
             last_at=last_label, change=change)]
    if len(known) > 2:
        high = max(known, key=lambda k: k[1])
        low = min(known, key=lambda k: k[1])
        out.append(t("trend.high_low", lang, high=text(high[1]), high_at=high[0], low=text(low[1]), low_at=low[0]))
    return out
