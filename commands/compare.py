"""The answer to a comparison: a metric (or several) for two periods ("Q2 vs Q3", "前年比")
or for two groups of accounts in one period ("enterprise vs smb").

Side A and side B with their numbers, the change B − A and whether it is good news (the
catalog's ``higher_is_better``), a table of the figures side by side, a bar per side (bars
grouped by metric when several share a unit), and how each side's number was made.
Two periods are put in calendar order, so the change reads forward in time; two groups
keep the order they were asked in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace

from commands import format as fmt
from commands import metric_text
from commands.breakdown import value_name
from commands.context import Request
from commands.messages import t
from commands.metric_answer import asked_metrics, calc_for
from commands.periods import default_period
from commands.reply import Chart, Reply, Series, Table, error_reply
from commands.trend import month_name
from metrics import catalog
from metrics.calc import Measurement
from metrics.catalog import MetricInfo
from metrics.compute import measure
from metrics.filters import Filters
from metrics.periods import Period

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Side:
    label: str
    period: Period
    filters: Filters


def period_name(p: Period, lang: str) -> str:
    """A period named short, for a side of a comparison: "Oct 2026" / "2026年10月", "Q3 2026" /
    "2026年第3四半期", "2026" / "2026年"; other spans by their dates ("Oct 1 – Oct 15, 2026")."""
    whole = not p.to_date and p.start.day == 1
    if whole and p.grain == "month":
        return month_name(p.start, lang)
    if whole and p.grain == "quarter" and p.start.month in (1, 4, 7, 10):
        return t("compare.quarter", lang, q=(p.start.month - 1) // 3 + 1, year=p.start.year)
    if whole and p.grain == "year" and p.start.month == 1:
        return t("compare.year", lang, year=p.start.year)
    return fmt.period(p, lang)


def side_label(side: Filters, lang: str) -> str:
    """A group of accounts named by the values that set it apart: "enterprise" / "エンタープライズ",
    "smb · apac"; no filter at all: "All" / 「全体」."""
    parts = []
    for f in fields(side):
        value = getattr(side, f.name)
        if value:
            parts.append(value_name(f.name, value[0] if isinstance(value, tuple) else value, lang))
    return " · ".join(parts) if parts else t("breakdown.all", lang)


def combine(base: Filters, side: Filters) -> Filters:
    """A side's filters on top of the question's own (the side's value wins for a field both set)."""
    return replace(base, **{f.name: getattr(side, f.name) for f in fields(side) if getattr(side, f.name)})


def sides_of(query, today) -> list[Side] | str:
    """The two sides asked for, or the message key saying why there are none."""
    if query.compare_filters:
        if len(query.periods) >= 2:
            return "compare.both"
        period = query.period or default_period(today)
        groups = list(query.compare_filters[:2])
        if len(groups) == 1:  # "enterprise vs the rest of us": one group against the whole
            groups.insert(0, Filters())
        return [Side("", period, combine(query.filters, f)) for f in groups]
    if len(query.periods) >= 2:
        a, b = sorted(query.periods[:2], key=lambda p: (p.start, p.end))
    else:
        b = query.period or default_period(today)
        a = b.previous()
    return [Side("", a, query.filters), Side("", b, query.filters)]


def answer(req: Request) -> Reply:
    """Two sides of each metric in ``query.metrics``: two periods, or two ``compare_filters`` in one period."""
    query = req.query
    lang, currency = req.lang, req.ctx.settings.currency
    names = asked_metrics(req, "compare")
    if isinstance(names, Reply):
        return names
    found = sides_of(query, req.ctx.today)
    if isinstance(found, str):
        return error_reply(t(found, lang), language=lang, hint=t("compare.example", lang))
    by_filters = bool(query.compare_filters)
    groups = ((Filters(),) * (2 - len(query.compare_filters[:2])) + tuple(query.compare_filters[:2])
              if by_filters else (query.filters, query.filters))
    sides = [replace(s, label=side_label(f, lang) if by_filters else period_name(s.period, lang))
             for s, f in zip(found, groups)]
    if sides[0].label == sides[1].label:  # two spans with the same short name: their dates tell them apart
        sides = [replace(s, label=fmt.period(s.period, lang)) for s in sides]
    a, b = sides
    metrics = [catalog.get(n) for n in names]
    with req.connection() as conn:
        calc = calc_for(req, conn)
        values = {m.name: (measure(calc, m.name, a.period, a.filters), measure(calc, m.name, b.period, b.filters))
                  for m in metrics}

    main = metrics[0]
    labels = ", ".join(metric_text.label(m, lang) for m in metrics)
    if by_filters:
        where = fmt.period_line(a.period, query.filters, lang)
        period_text = fmt.period(a.period, lang)
    else:
        where = fmt.scope(query.filters, lang) if not query.filters.empty else ""
        period_text = t("compare.periods", lang, a=fmt.period(a.period, lang), b=fmt.period(b.period, lang))
    title = t("compare.title_where" if where else "compare.title", lang, label=labels, a=a.label, b=b.label,
              where=where)
    text = lambda m, v: metric_text.headline(m, v, currency, lang)  # noqa: E731

    lines, rows, how = [], [], []
    for m in metrics:
        ma, mb = values[m.name]
        change = fmt.change(m.unit, mb.value, ma.value, currency, lang=lang)
        lines.append(t(f"compare.line_{_verdict(m, ma.value, mb.value)}", lang, label=metric_text.label(m, lang),
                       a=a.label, va=text(m, ma.value), b=b.label, vb=text(m, mb.value), change=change or fmt.NONE))
        rows.append((metric_text.label(m, lang), text(m, ma.value), text(m, mb.value), change or fmt.NONE))
        how.append(f"{metric_text.label(m, lang)}: {metric_text.formula(m, lang)}")
        for side, ms in ((a, ma), (b, mb)):
            how.append(f"    {side.label}: {metric_text.explain(m, ms, lang, currency)}")
    if by_filters:
        how.append(t("compare.how_groups", lang, a=a.label, b=b.label))
    columns = (t("compare.column_metric", lang), a.label, b.label, t("compare.column_change", lang))
    table = Table(columns=columns, rows=tuple(rows))

    charted = [m for m in metrics if m.unit == main.unit]
    if len(charted) < len(metrics):
        lines.append(t("compare.not_charted", lang, labels=", ".join(
            metric_text.label(m, lang) for m in metrics if m not in charted)))
    if len(charted) == 1:
        chart_labels = (a.label, b.label)
        series = (Series(metric_text.label(main, lang), (values[main.name][0].value, values[main.name][1].value)),)
    else:  # grouped: a pair of bars (A, B) per metric
        chart_labels = tuple(metric_text.label(m, lang) for m in charted)
        series = tuple(Series(side.label, tuple(values[m.name][i].value for m in charted)) for i, side in enumerate(sides))
    chart_title = (t("compare.chart_title", lang, label=metric_text.label(main, lang), a=a.label, b=b.label)
                   if len(charted) == 1 else t("compare.periods", lang, a=a.label, b=b.label))  # the metrics name the bars
    chart = Chart(kind="bars", title=chart_title, subtitle=where or period_text,
        labels=chart_labels, series=series, unit=main.unit, signed=main.signed)

    def comparison(m: MetricInfo) -> dict[str, object]:
        ma, mb = values[m.name]
        return {
            "comparison": [{"label": s.label, "value": ms.value, "period": s.period.iso(), "filters": s.filters.describe()}
                           for s, ms in ((a, ma), (b, mb))],
            "change": _delta(ma, mb),
        }

    data: dict[str, object] = {"metric": main.name, "by": "filters" if by_filters else "periods", **comparison(main)}
    if len(metrics) > 1:
        data["metrics"] = {m.name: comparison(m) for m in metrics}
    return Reply(
        title=title,
        summary=title,
        language=lang,
        period=period_text,
        lines=tuple(lines),
        table=table,
        chart=chart,
        how=tuple(how),
        metrics=tuple(names),
        data=data,
    )


def _delta(a: Measurement, b: Measurement) -> float | None:
    return None if a.value is None or b.value is None else b.value - a.value


def _verdict(metric: MetricInfo, a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "none"
    moved = fmt.direction(metric.unit, b, a)
    if moved == 0:
        return "same"
    return "better" if (moved > 0) == metric.higher_is_better else "worse"
