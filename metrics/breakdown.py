"""A metric split by an account dimension (``breakdown``) and a metric over time (``trend``).

``breakdown(calc, "customer_churn_rate", period, filters, "segment")`` gives one ``Group``
per value of the dimension (and one for accounts with no value), each with its measurement
for the period and the previous period, plus the whole. ``trend(calc, name, span, "month",
filters)`` gives the metric for every month (quarter, week) of ``span``.

How: each metric family has a grouped statement in its own module (``revenue.movements_grouped``,
``voice.nps_grouped``...): the per-account subquery the metric already counts with, outer-joined
to the accounts and grouped by the dimension (``metrics/grouping.py``). Its per-group counts are
memoised on the ``Calc`` under the very key the metric reads for that group's filters, and the
metric's own function then makes each ``Measurement``: a group's number is, by construction, the
metric computed with ``Filters(<by>=<value>)``, and the definitions of docs/metrics.md stay in one
place. A trend of a revenue metric counts every unit boundary in one statement the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

from metrics import catalog, onboarding, revenue, revenue_state, usage, value, voice
from metrics.calc import Calc, Measurement
from metrics.catalog import MetricInfo
from metrics.compute import measure
from metrics.filters import Filters
from metrics.grouping import DIMENSIONS, MissingValue, filters_for, labels
from metrics.health.snapshots import book_totals
from metrics.periods import Period, add_months, month_start, quarter_start, week_start

logger = logging.getLogger(__name__)

__all__ = ["DIMENSIONS", "NotBreakable", "Group", "Breakdown", "can_break_down", "breakdown", "Trend", "units", "trend",
           "MissingValue"]


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


Scope = Callable[[str | None], Filters]
# (calc, period, previous period, filters, by, scope) -> the group keys seen; memoises each group's counts
Primer = Callable[[Calc, Period, Period, Filters, str, Scope], set]


def _movements(calc, period, prev, filters, by, scope):
    return revenue.movements_grouped(calc, [period, prev], filters, by, scope)


def _mrr(calc, period, prev, filters, by, scope):
    return revenue.mrr_on_grouped(calc, [period.end, prev.end], filters, by, scope)


def _each_period(fn, day_of=None):
    """A primer that runs the family's grouped statement once per period (or per day of ``day_of``)."""
    def primer(calc, period, prev, filters, by, scope):
        seen: set = set()
        for p in (period, prev):
            seen |= fn(calc, day_of(p) if day_of else p, filters, by, scope)
        return seen
    return primer


def _health_day(calc: Calc, period: Period) -> date:
    return min(period.end, calc.today)  # as health_score_measure takes it


def _health(calc, period, prev, filters, by, scope):
    """Every group's band totals in one grouped statement per day, memoised as the metric reads them."""
    seen: set = set()
    for p in (period, prev):
        day = _health_day(calc, p)
        groups = book_totals(calc.conn, day, filters, calc.settings, by=by)
        for key, bands in groups.items():
            calc.memo(("health_totals", day, scope(key)), lambda v=bands: v)
        seen |= set(groups)
    return seen


# the metrics counted from the MRR and paying customers on a day (``revenue.mrr_on``)
_MRR_ON_METRICS = ("mrr", "arr", "arpa", "paying_customers")
_MOVEMENT_METRICS = ("mrr_movements", "net_new_mrr", "customer_churn_rate", "revenue_churn_rate", "net_mrr_churn_rate",
                     "grr", "nrr", "expansion_rate", "retention_rate", "annualized_churn_rate", "quick_ratio")
PRIMERS: dict[str, Primer] = {
    **{name: _movements for name in _MOVEMENT_METRICS},
    **{name: _mrr for name in _MRR_ON_METRICS},
    "nps": _each_period(voice.nps_grouped),
    "csat": _each_period(voice.csat_grouped),
    **{name: _each_period(usage.activity_grouped, lambda p: p.last_day) for name in ("dau", "wau", "mau", "stickiness")},
    "avg_usage_minutes": _each_period(usage.usage_minutes_grouped),
    "seat_utilization": _each_period(usage.seat_counts_grouped, lambda p: p.last_day),
    "onboarding_completion_rate": _each_period(onboarding.completion_grouped),
    "ttv": _each_period(onboarding.ttv_grouped),
    "health_score": _health,
    "upsell_rate": _each_period(value.product_moves_grouped),
    "cross_sell_rate": _each_period(value.product_moves_grouped),
}
# The families whose statement also counts the whole of several periods at once.
WHOLE_IN_ONE: dict[str, Callable[[Calc, list, Filters], object]] = {
    **{name: revenue.movements_grouped for name in _MOVEMENT_METRICS},
    **{name: lambda calc, periods, filters: revenue.mrr_on_grouped(calc, [p.end for p in periods], filters)
       for name in _MRR_ON_METRICS},
}
# Not breakable: cohort_retention (a table of cohorts), ltv (a mean of six months' churn rates).


def can_break_down(name: str) -> bool:
    """Whether ``breakdown`` splits this metric (False for an unknown name)."""
    try:
        return catalog.get(name).name in PRIMERS
    except KeyError:
        return False


def breakdown(calc: Calc, name: str, period: Period, filters: Filters, by: str) -> Breakdown:
    """The metric for each value of ``by`` (and for the accounts with none), this period and the
    previous one, and the whole; NotBreakable for a dimension or metric that has no breakdown."""
    if by not in DIMENSIONS:
        raise NotBreakable(by)
    metric = catalog.get(name)
    if not can_break_down(metric.name):
        raise NotBreakable(metric.name)
    return calc.memo(("breakdown", metric.name, period, filters, by),
                     lambda: _breakdown(calc, metric, period, filters, by))


def _breakdown(calc: Calc, metric: MetricInfo, period: Period, filters: Filters, by: str) -> Breakdown:
    prev = period.previous()
    # the labels the build stored with the revenue state while it is fresh (the same: one small read)
    stored = revenue_state.group_labels(calc.conn, by) if revenue_state.usable(calc) else labels(calc.conn, by)

    def scope(key: str | None) -> Filters:
        return filters_for(filters, by, None if key is None else stored.get(key, key))

    keys = PRIMERS[metric.name](calc, period, prev, filters, by, scope)
    if metric.name in WHOLE_IN_ONE:  # the whole of both periods in one more statement
        WHOLE_IN_ONE[metric.name](calc, [period, prev], filters)
    groups = []
    for key in sorted(keys, key=lambda k: (k is None, k or "")):
        f = scope(key)
        groups.append(Group(None if key is None else stored.get(key, key),
                            measure(calc, metric.name, period, f), measure(calc, metric.name, prev, f)))
    return Breakdown(metric, by, period, prev, tuple(groups), measure(calc, metric.name, period, filters),
                     measure(calc, metric.name, prev, filters))


TREND_CHUNK = 36  # units counted in one statement (SQLite allows 2,000 result columns; 36 units use ~600)


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
        if end > today:  # the unit holding today is in progress: to date, as "this week" is
            out.append(Period(start, today + timedelta(days=1), grain, to_date=True))
        else:
            out.append(Period(start, end, grain))
        start = end
    return out


def trend(calc: Calc, name: str, span: Period, grain: str, filters: Filters) -> Trend:
    """The metric for each ``grain`` unit of ``span`` up to the answer's today (the unit in progress
    to date). Revenue metrics count every unit in one statement; others go unit by unit."""
    metric = catalog.get(name)
    periods = units(span, grain, calc.today)
    if periods and not all(calc.has(("measure", metric.name, p, filters)) for p in periods):
        # up to TREND_CHUNK units a statement: a statement's columns grow with its units
        for i in range(0, len(periods), TREND_CHUNK):
            chunk = periods[i:i + TREND_CHUNK]
            if metric.name in _MOVEMENT_METRICS:
                revenue.movements_grouped(calc, chunk, filters)
            elif metric.name in _MRR_ON_METRICS:
                revenue.mrr_on_grouped(calc, [p.end for p in chunk], filters)
    points = tuple((p, measure(calc, metric.name, p, filters)) for p in periods)
    return Trend(metric, grain, span, points)
