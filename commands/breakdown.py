"""The answer to "a metric by a dimension" ("churn by segment", "セグメント別のNRR").

One row per value of the dimension (sorted by the metric, worst or best first as the
numbers fall), its change against the previous period, the counts behind it where they
mean something (churned / at start for churn, paying customers for MRR), and the whole as
the last row; a bar per value; "how" lines saying what each row's number is made of.
The numbers come from ``metrics.breakdown.breakdown`` (one query per metric family).
"""

from __future__ import annotations

import logging

from commands import format as fmt
from commands import metric_text
from commands.context import Request
from commands.messages import t
from commands.metric_answer import asked_metrics, calc_for, figure
from commands.periods import default_period
from commands.reply import Chart, Reply, Series, Table, error_reply
from metrics import catalog
from metrics.breakdown import DIMENSIONS, Breakdown, Group, NotBreakable, breakdown, can_break_down
from metrics.calc import Measurement
from metrics.compute import MetricResult

logger = logging.getLogger(__name__)

MAX_ROWS = 20  # Slack: a table of at most 20 rows (the whole is one of them)

# The counts behind a group's number, where they mean something: the parts shown ("6 / 285")
# and the message naming them (breakdown.parts_<key>).
PARTS: dict[str, tuple[tuple[str, ...], str]] = {
    "customer_churn_rate": (("numerator", "denominator"), "churned"),
    "annualized_churn_rate": (("churned_accounts", "customers_start"), "churned"),
    "retention_rate": (("numerator", "denominator"), "retained"),
    "upsell_rate": (("numerator", "denominator"), "upsold"),
    "cross_sell_rate": (("numerator", "denominator"), "cross_sold"),
    "csat": (("satisfied", "responses"), "satisfied"),
    "seat_utilization": (("mau", "seats"), "seats"),
    "onboarding_completion_rate": (("completed", "accounts"), "completed"),
    "mrr": (("paying_customers",), "paying"),
    "arr": (("paying_customers",), "paying"),
    "arpa": (("paying_customers",), "paying"),
    "nps": (("responses",), "respondents"),
    "health_score": (("accounts",), "accounts"),
    "ttv": (("accounts",), "accounts"),
    "grr": (("customers_start",), "at_start"),
    "nrr": (("customers_start",), "at_start"),
    "revenue_churn_rate": (("customers_start",), "at_start"),
    "net_mrr_churn_rate": (("customers_start",), "at_start"),
    "expansion_rate": (("customers_start",), "at_start"),
}

# What to suggest when a metric cannot be broken down.
INSTEAD = {"cohort_retention": "retention_rate"}


def dimension_name(by: str, lang: str) -> str:
    """A dimension as people read it: "segment" / "セグメント", "touch model" / "タッチモデル"."""
    return fmt.dimension(by, lang)


def value_name(by: str | None, raw: str | None, lang: str) -> str:
    """A dimension's value as people read it: segments, touch models and common regions through
    the message table ("エンタープライズ", "日本"), accounts with no value as "(none)" / 「（未設定）」, others as stored."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return t("breakdown.none", lang)
    if by == "segment":
        return fmt.segment(raw, lang)
    if by == "touch_model":
        return fmt.touch(raw, lang)
    if by == "region":
        return fmt.region(raw, lang)
    return str(raw)


def parts_text(name: str, m: Measurement) -> str | None:
    """The counts behind a number ("6 / 285"), or None when the metric has none worth showing."""
    keys = PARTS.get(name, ((), ""))[0]
    if not keys:
        return None
    values = [m.parts.get(k) for k in keys]
    if any(not isinstance(v, (int, float)) for v in values):
        return fmt.NONE
    return " / ".join(fmt.count(v) for v in values)


def _order(groups: tuple[Group, ...]) -> list[Group]:
    """By the metric, largest first; groups with no number last (then by name)."""
    known = sorted((g for g in groups if g.current.value is not None), key=lambda g: (-g.current.value, str(g.value)))
    return known + [g for g in groups if g.current.value is None]


def _result(b: Breakdown, current: Measurement, previous: Measurement) -> MetricResult:
    return MetricResult(metric=b.metric, period=b.period, current=current, previous_period=b.previous_period,
                        previous=previous)


def answer(req: Request) -> Reply:
    """A metric (or several) by ``query.by`` for ``query.period`` (default: last month)."""
    query = req.query
    lang, currency = req.lang, req.ctx.settings.currency
    names = asked_metrics(req, "breakdown")
    if isinstance(names, Reply):
        return names
    by = query.by
    if by not in DIMENSIONS:
        return error_reply(t("breakdown.no_dimension", lang), language=lang, hint=t("breakdown.example", lang))
    blocked = next((n for n in names if not can_break_down(n)), None)
    if blocked is not None:
        return not_breakable(blocked, by, lang)
    period = query.period or default_period(req.ctx.today)
    filters = query.filters
    try:
        with req.connection() as conn:
            calc = calc_for(req, conn)
            results = [breakdown(calc, name, period, filters, by) for name in names]
    except NotBreakable:
        return not_breakable(names[0], by, lang)

    main = results[0]
    metric = main.metric
    label = metric_text.label(metric, lang)
    dim = dimension_name(by, lang)
    where = fmt.period_line(period, filters, lang)
    title = t("breakdown.title", lang, label=label, dim=dim, where=where)
    ordered = _order(main.groups)
    shown = ordered[: MAX_ROWS - 1]
    money = lambda m, v: metric_text.headline(m, v, currency, lang)  # noqa: E731

    # The table: the value, then per metric its number and change; the counts behind a single metric.
    columns = [dim]
    for b in results:
        columns += [metric_text.label(b.metric, lang) if len(results) > 1 else label, t("breakdown.change", lang)]
    with_parts = len(results) == 1 and metric.name in PARTS
    if with_parts:
        columns.append(t(f"breakdown.parts_{PARTS[metric.name][1]}", lang))
    by_value = [{g.value: g for g in b.groups} for b in results]
    rows = []
    for g in shown:
        row = [value_name(by, g.value, lang)]
        for b, groups in zip(results, by_value):
            own = groups.get(g.value)
            cur = own.current.value if own else None
            prev = own.previous.value if own else None
            row += [money(b.metric, cur), fmt.change(b.metric.unit, cur, prev, currency, lang=lang) or fmt.NONE]
        if with_parts:
            row.append(parts_text(metric.name, g.current))
        rows.append(tuple(row))
    whole = [t("breakdown.all", lang)]
    for b in results:
        whole += [money(b.metric, b.total.value),
                  fmt.change(b.metric.unit, b.total.value, b.previous_total.value, currency, lang=lang) or fmt.NONE]
    if with_parts:
        whole.append(parts_text(metric.name, main.total))
    rows.append(tuple(whole))
    total_rows = len(ordered) + 1
    tbl = Table(columns=tuple(columns), rows=tuple(rows), total_rows=total_rows if total_rows > len(rows) else None)

    # The chart: a bar per value, sorted by the (first) metric; metrics sharing its unit side by side.
    charted = [b for b in results if b.metric.unit == metric.unit]
    series = tuple(
        Series(metric_text.label(b.metric, lang), tuple(groups[g.value].current.value if g.value in groups else None
                                                         for g in shown))
        for b, groups in zip(results, by_value) if b in charted)
    charted_labels = ", ".join(metric_text.label(b.metric, lang) for b in charted)
    chart = Chart(kind="bars", title=t("breakdown.chart_title", lang, label=charted_labels, dim=dim), subtitle=where,
                  labels=tuple(value_name(by, g.value, lang) for g in shown), series=series, unit=metric.unit,
                  signed=metric.signed)

    lines = []
    if len(query.periods) > 1:  # a breakdown is for one period: say which, and how to ask for two
        lines.append(t("breakdown.one_period", lang, period=fmt.period(period, lang)))
    if len(charted) < len(results):
        lines.append(t("breakdown.not_charted", lang, labels=", ".join(
            metric_text.label(b.metric, lang) for b in results if b not in charted)))
    empty = [value_name(by, g.value, lang) for g in ordered if g.current.value is None]
    if empty:
        lines.append(t("breakdown.empty_groups", lang, values=", ".join(empty)))

    how: list[str] = []
    for b in results:
        how.append(f"{metric_text.label(b.metric, lang)}: {metric_text.formula(b.metric, lang)}")
        for g in _order(b.groups)[: MAX_ROWS - 1]:
            how.append(f"    {value_name(by, g.value, lang)}: {metric_text.explain(b.metric, g.current, lang, currency)}")
        how.append(f"    {t('breakdown.all', lang)}: {metric_text.explain(b.metric, b.total, lang, currency)}")
    how.append(t("breakdown.how_groups", lang, dim=dim))

    data: dict[str, object] = {
        "by": by,
        "period": period.iso(),
        "metric": metric.name,
        "groups": {g.value: g.current.value for g in main.groups},
        "total": main.total.value,
    }
    if len(results) > 1:
        data["metrics"] = {b.metric.name: {"groups": {g.value: g.current.value for g in b.groups}, "total": b.total.value}
                           for b in results}
    return Reply(
        title=title,
        summary=title,
        language=lang,
        period=fmt.period(period, lang),
        figures=tuple(figure(_result(b, b.total, b.previous_total), lang, currency) for b in results),
        lines=tuple(lines),
        table=tbl,
        chart=chart,
        how=tuple(how),
        metrics=tuple(names),
        data=data,
    )


def not_breakable(name: str, by: str | None, lang: str) -> Reply:
    """A metric csbot does not split by ``by``, said with one it does (a breakdown's or a trend's by a dimension)."""
    metric = catalog.get(name)
    other = catalog.get(INSTEAD.get(metric.name, "customer_churn_rate"))
    dim = dimension_name(by, lang) if by in DIMENSIONS else str(by)
    title = t("breakdown.not_breakable", lang, label=metric_text.label(metric, lang), dim=dim)
    hint = t("breakdown.try_instead", lang, label=metric_text.label(other, lang), dim=dim)
    return Reply(title=title, summary=title, kind="info", language=lang, lines=(hint,))
