"""Onboarding (docs/metrics.md, "Onboarding"): completion rate and median time to value.

The accounts of a period are those whose first paid day falls in it. An account
completed onboarding when every required milestone (``CSBOT_ONBOARDING_MILESTONES``)
has a ``completed_at`` whose date is at most ``CSBOT_ONBOARDING_DAYS`` after the
first paid day, i.e. ``completed_at < first paid day + (days + 1)`` at 00:00.
"""

from __future__ import annotations

import logging
import statistics
from datetime import date, timedelta
from typing import Callable

from sqlalchemy import Date, and_, case, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from metrics import revenue_state, schema
from metrics.calc import Calc, Measurement, ratio
from metrics.filters import Filters
from metrics.grouping import keyed
from metrics.periods import Period, add_months, as_date, month_start
from metrics.retention import first_paid_days

logger = logging.getLogger(__name__)

o = schema.onboarding


class days_after(FunctionElement):
    """``date_column + n days`` as a date, in each database's own spelling."""

    type = Date()
    inherit_cache = False  # the day count is rendered inline: never reuse a cached statement


@compiles(days_after)
def _days_after_default(element, compiler, **kw):  # PostgreSQL, DuckDB: date + integer = date
    col, n = list(element.clauses)
    return f"({compiler.process(col, **kw)} + {int(n.value)})"


@compiles(days_after, "sqlite")
def _days_after_sqlite(element, compiler, **kw):
    col, n = list(element.clauses)
    return f"date({compiler.process(col, **kw)}, '+{int(n.value)} days')"


def _cohort(calc: Calc, filters: Filters, period: Period):
    """The accounts whose first paid day is in the period (from the revenue state built at sync
    time while it is fresh: the same days, without reading every subscription)."""
    fp = first_paid_days(filters, revenue_state.usable(calc)).subquery("fp")
    return select(fp.c.account_id, fp.c.first_paid) \
        .where(fp.c.first_paid >= period.start, fp.c.first_paid < period.end).subquery("cohort")


def _completion_stmt(calc: Calc, period: Period, filters: Filters, by: str | None):
    required = tuple(dict.fromkeys(calc.settings.onboarding_milestones))
    days = calc.settings.onboarding_days
    cohort = _cohort(calc, filters, period)
    done = (
        select(o.c.account_id, func.count().label("n"))
        .select_from(o.join(cohort, cohort.c.account_id == o.c.account_id))
        .where(o.c.milestone.in_(required),
               o.c.completed_at < days_after(cohort.c.first_paid, literal(days + 1)))
        .group_by(o.c.account_id)
        .subquery("done")
    )
    finished = func.coalesce(done.c.n, 0) >= len(required)
    source, key = keyed(cohort, by)
    stmt = select(
        key.label("key"),
        func.count().label("accounts"),
        func.coalesce(func.sum(case((finished, 1), else_=0)), 0).label("completed"),
        # not finished yet, but their window has not closed: the rate can still rise
        func.coalesce(func.sum(case((and_(~finished, days_after(cohort.c.first_paid, literal(days)) >= calc.today), 1),
                                    else_=0)), 0).label("still_in_window"),
    ).select_from(source.outerjoin(done, done.c.account_id == cohort.c.account_id))
    return stmt.group_by(key) if by is not None else stmt


def _completion_counts(row) -> tuple[int, int, int]:
    return int(row["accounts"]), int(row["completed"]), int(row["still_in_window"])


def completion_counts(calc: Calc, period: Period, filters: Filters) -> tuple[int, int, int]:
    """(accounts whose first paid day is in the period, those that completed in time, those still in time)."""
    return calc.memo(("onboarding_counts", period, filters), lambda: _completion_counts(
        calc.conn.execute(_completion_stmt(calc, period, filters, None)).mappings().one()))


def onboarding_completion_rate_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    required = tuple(dict.fromkeys(calc.settings.onboarding_milestones))
    days = calc.settings.onboarding_days
    accounts, completed, still = completion_counts(calc, period, filters)
    return Measurement(ratio(completed, accounts),
                       {"numerator": completed, "denominator": accounts, "completed": completed,
                        "accounts": accounts, "still_in_window": still,
                        "within_days": days, "milestones": list(required)})


def _waits_stmt(calc: Calc, period: Period, filters: Filters, by: str | None):
    cohort = _cohort(calc, filters, period)
    first_value = (
        select(cohort.c.account_id, cohort.c.first_paid, func.min(o.c.completed_at).label("at"))
        .select_from(cohort.join(o, o.c.account_id == cohort.c.account_id))
        .where(o.c.milestone == "first_value")
        .group_by(cohort.c.account_id, cohort.c.first_paid)
        .subquery("first_value")
    )
    source, key = keyed(first_value, by)
    return select(key.label("key"), first_value.c.first_paid, first_value.c.at).select_from(source)


def ttv_waits(calc: Calc, period: Period, filters: Filters) -> list[int]:
    """Days from first paid day to first value, sorted, of the accounts whose first paid day is in the period."""
    return calc.memo(("ttv_waits", period, filters), lambda: sorted(
        (as_date(r.at) - as_date(r.first_paid)).days for r in calc.conn.execute(_waits_stmt(calc, period, filters, None))))


def ttv_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    waits = ttv_waits(calc, period, filters)
    value = float(statistics.median(waits)) if waits else None
    return Measurement(value, {"accounts": len(waits), "median_days": value,
                               "min_days": waits[0] if waits else None, "max_days": waits[-1] if waits else None})


# ---- per group (breakdowns) ------------------------------------------------------------

def completion_grouped(calc: Calc, period: Period, filters: Filters, by: str,
                       scope: Callable[[str | None], Filters]) -> set[str | None]:
    """The completion counts of every group of ``by`` in one statement, memoised as ``completion_counts``."""
    rows = calc.conn.execute(_completion_stmt(calc, period, filters, by)).mappings().all()
    for row in rows:
        calc.memo(("onboarding_counts", period, scope(row["key"])), lambda v=_completion_counts(row): v)
    return {row["key"] for row in rows}


def ttv_grouped(calc: Calc, period: Period, filters: Filters, by: str,
                scope: Callable[[str | None], Filters]) -> set[str | None]:
    """Every account's wait with its group in one statement (a median does not add up: the
    groups' medians are taken here), memoised as ``ttv_waits``."""
    waits: dict[str | None, list[int]] = {}
    for r in calc.conn.execute(_waits_stmt(calc, period, filters, by)):
        waits.setdefault(r.key, []).append((as_date(r.at) - as_date(r.first_paid)).days)
    for key, values in waits.items():
        calc.memo(("ttv_waits", period, scope(key)), lambda v=sorted(values): v)
    return set(waits)


def latest_mature_cohort(today: date, days: int, before: date | None = None) -> Period:
    """The latest calendar month whose every account's onboarding window has closed by ``today``
    (its last day + ``days`` is before ``today``), starting no later than ``before``'s month."""
    first = month_start(min(today, before) if before else today)
    while add_months(first, 1) - timedelta(days=1) + timedelta(days=days) >= today:
        first = add_months(first, -1)
    return Period(first, add_months(first, 1), "month")
