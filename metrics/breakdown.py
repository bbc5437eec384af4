"""A metric split by an account dimension (``breakdown``) and a metric over time (``trend``).

``breakdown(calc, "customer_churn_rate", period, filters, "segment")`` gives one ``Group``
per value of the dimension (and one for accounts with no value), each with its measurement
for the period and the previous period, plus the whole. ``trend(calc, name, span, "month",
filters)`` gives the metric for every month (quarter, week) of ``span``.

INTERFACE STUB: the per-value loop below is a placeholder with the final signatures; it is
to be replaced by one GROUP BY statement per metric family.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import distinct, select

from metrics import catalog, schema
from metrics.calc import Calc, Measurement
from metrics.catalog import MetricInfo
from metrics.compute import measure
from metrics.filters import Filters
from metrics.periods import Period, add_months, month_start, quarter_start, week_start

logger = logging.getLogger(__name__)

DIMENSIONS = ("segment", "plan", "region", "owner", "touch_model")


class NotBreakable(ValueError):
    """The metric has no breakdown by this dimension (say so; never answer the whole instead)."""


@dataclass(frozen=True)
class Group:
    value: str | None  # the dimension's value as stored; None: accounts with no value
    current: Measurement
    previous: Measurement


@dataclass(frozen=True)
class Breakdown:
    metric: MetricInfo
    by: str
    period: Period
    previous_period: Period
    groups: tuple[Group, ...]  # ordered by value (None last)
    total: Measurement  # the whole, with the same filters
    previous_total: Measurement


def can_break_down(name: str) -> bool:
    return catalog.get(name).name != "cohort_retention"


def breakdown(calc: Calc, name: str, period: Period, filters: Filters, by: str) -> Breakdown:
    if by not in DIMENSIONS:
        raise NotBreakable(by)
    metric = catalog.get(name)
    if not can_break_down(metric.name):
        raise NotBreakable(metric.name)
    prev = period.previous()
    col = schema.accounts.c[by]
    stmt = select(distinct(col))
    cond = filters.account_condition()
    if cond is not None:
        stmt = stmt.where(cond)
    values = sorted((v for (v,) in calc.conn.execute(stmt)), key=lambda v: (v is None, str(v)))
    groups = []
    for v in values:
        if v is None:
            continue
        f = replace(filters, **{by: (v,) if by == "owner" else v})
        groups.append(Group(v, measure(calc, metric.name, period, f), measure(calc, metric.name, prev, f)))
    return Breakdown(metric, by, period, prev, tuple(groups), measure(calc, metric.name, period, filters),
                     measure(calc, metric.name, prev, filters))


@dataclass(frozen=True)
class Trend:
    metric: MetricInfo
    grain: str
    span: Period
    points: tuple[tuple[Period, Measurement], ...]


def units(span: Period, grain: str, today) -> list[Period]:
    """The grain's units that overlap ``span``, up to today (the one in progress is "to date")."""
    step = {"month": 1, "quarter": 3}.get(grain)
    start = {"month": month_start, "quarter": quarter_start, "week": week_start}[grain](span.start)
    out = []
    while start < span.end and start <= today:
        end = add_months(start, step) if step else start + timedelta(days=7)
        if end > today + timedelta(days=1):
            out.append(Period(start, today + timedelta(days=1), grain, to_date=True))
        else:
            out.append(Period(start, end, grain))
        start = end
    return out


def trend(calc: Calc, name: str, span: Period, grain: str, filters: Filters) -> Trend:
    metric = catalog.get(name)
    points = tuple((p, measure(calc, metric.name, p, filters)) for p in units(span, grain, calc.today))
    return Trend(metric, grain, span, points)
