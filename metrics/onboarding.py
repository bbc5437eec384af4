"""Onboarding (docs/metrics.md, "Onboarding"): completion rate and median time to value.

The accounts of a period are those whose first paid day falls in it. An account
completed onboarding when every required milestone (``CSBOT_ONBOARDING_MILESTONES``)
has a ``completed_at`` whose date is at most ``CSBOT_ONBOARDING_DAYS`` after the
first paid day, i.e. ``completed_at < first paid day + (days + 1)`` at 00:00.
"""

from __future__ import annotations

import logging
import statistics
from datetime import date, datetime, timedelta

from sqlalchemy import Date, and_, case, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from metrics import schema
from metrics.calc import Calc, Measurement, ratio
from metrics.filters import Filters
from metrics.periods import Period, add_months, month_start
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


def _cohort(filters: Filters, period: Period):
    fp = first_paid_days(filters).subquery("fp")
    return select(fp.c.account_id, fp.c.first_paid) \
        .where(fp.c.first_paid >= period.start, fp.c.first_paid < period.end).subquery("cohort")


def onboarding_completion_rate_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    required = tuple(dict.fromkeys(calc.settings.onboarding_milestones))
    days = calc.settings.onboarding_days
    cohort = _cohort(filters, period)
    done = (
        select(o.c.account_id, func.count().label("n"))
        .select_from(o.join(cohort, cohort.c.account_id == o.c.account_id))
        .where(o.c.milestone.in_(required),
               o.c.completed_at < days_after(cohort.c.first_paid, literal(days + 1)))
        .group_by(o.c.account_id)
        .subquery("done")
    )
    finished = func.coalesce(done.c.n, 0) >= len(required)
    today = calc.today
    row = calc.conn.execute(select(
        func.count().label("accounts"),
        func.coalesce(func.sum(case((finished, 1), else_=0)), 0).label("completed"),
        # not finished yet, but their window has not closed: the rate can still rise
        func.coalesce(func.sum(case((and_(~finished, days_after(cohort.c.first_paid, literal(days)) >= today), 1),
                                    else_=0)), 0).label("still_in_window"),
    ).select_from(cohort.outerjoin(done, done.c.account_id == cohort.c.account_id))).mappings().one()
    accounts, completed = int(row["accounts"]), int(row["completed"])
    return Measurement(ratio(completed, accounts),
                       {"numerator": completed, "denominator": accounts, "completed": completed,
                        "accounts": accounts, "still_in_window": int(row["still_in_window"]),
                        "within_days": days, "milestones": list(required)})


def ttv_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    cohort = _cohort(filters, period)
    rows = calc.conn.execute(
        select(cohort.c.first_paid, func.min(o.c.completed_at).label("at"))
        .select_from(cohort.join(o, o.c.account_id == cohort.c.account_id))
        .where(o.c.milestone == "first_value")
        .group_by(cohort.c.account_id, cohort.c.first_paid)
    ).all()
    waits = sorted((_as_date(r.at) - _as_date(r.first_paid)).days for r in rows)
    value = float(statistics.median(waits)) if waits else None
    return Measurement(value, {"accounts": len(waits), "median_days": value,
                               "min_days": waits[0] if waits else None, "max_days": waits[-1] if waits else None})


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def latest_mature_cohort(today: date, days: int, before: date | None = None) -> Period:
    """The latest calendar month whose every account's onboarding window has closed by ``today``
    (its last day + ``days`` is before ``today``), starting no later than ``before``'s month."""
    first = month_start(min(today, before) if before else today)
    while add_months(first, 1) - timedelta(days=1) + timedelta(days=days) >= today:
        first = add_months(first, -1)
    return Period(first, add_months(first, 1), "month")
