"""Revenue state derived at sync time, so that a revenue answer reads little (issue 16).

Every revenue number (MRR, movements, churn, NRR, their breakdowns and trends) needs each
account's total MRR at 00:00 of a few days. Counted from ``subscriptions`` that means
grouping every row of every account for every answer. This module keeps, built in the sync's
transaction (``metrics.derived``), what does not change between syncs:

- ``account_mrr_intervals``: each account's total MRR as intervals ``[start_date, end_date)`` of
  constant value, cut at every day a row starts or ends (``end_date`` 9999-12-31: still running).
  ``paid`` is 1 when some row with ``mrr > 0`` runs in the interval, ``first_paid`` the account's
  first paid day. Every stretch of days on which some row runs is covered (a free plan: total 0), so
  the accounts a window touches are the same as in ``subscriptions``. An account's MRR on day ``d``
  is the one interval holding ``d``, or 0 when none does.
- ``account_first_days``: per account, the first day of any of its rows (the accounts a grouped
  statement lists) and its first paid day (cohorts, new against reactivation).

docs/metrics.md's definitions are unchanged and read the same off the intervals: "paid before
``start``" (a row with mrr > 0 that ran a day before ``start``) is ``first_paid < start``; "paid on
some day inside the period" (early churn) is a ``paid`` interval overlapping ``[start, end)``.

Freshness: tests and tools may write subscriptions without a sync, so the state is read only
while it matches the data. The build writes a stamp in ``csbot_meta`` (the subscriptions' row
count, their latest start day and the latest sync that did not fail); ``usable(calc)`` compares it
with the data once per ``Calc`` and otherwise the metrics count from ``subscriptions`` as before.
A tool that rewrites subscriptions in place outside a sync calls ``forget(conn)`` (or ``build``).
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import Connection, and_, case, delete, func, insert, literal, or_, select, union
from sqlalchemy.sql import Subquery

from metrics import schema
from metrics.db import set_meta

logger = logging.getLogger(__name__)

s = schema.subscriptions
iv = schema.account_mrr_intervals
fd = schema.account_first_days

OPEN_END = date(9999, 12, 31)  # the end of an interval still running
STAMP_KEY = "revenue_state"
_VERSION = "v1"
_USE_KEY = ("revenue_state_usable",)


# ---- build (inside the sync's transaction) ------------------------------------------------------

def build(conn: Connection) -> int:
    """Rebuild both tables from ``subscriptions`` and stamp them; returns the number of intervals."""
    conn.execute(delete(iv))
    conn.execute(delete(fd))
    # rows that run at least one day (a zero-length row never counts, docs/metrics.md)
    rows = select(s.c.account_id, s.c.start_date, s.c.end_date, s.c.mrr).where(
        or_(s.c.end_date.is_(None), s.c.end_date > s.c.start_date)).subquery("r")
    points = union(
        select(rows.c.account_id, rows.c.start_date.label("day")),
        select(rows.c.account_id, rows.c.end_date.label("day")).where(rows.c.end_date.is_not(None)),
    ).subquery("points")
    spans = select(
        points.c.account_id, points.c.day.label("start_date"),
        func.lead(points.c.day).over(partition_by=points.c.account_id, order_by=points.c.day).label("end_date"),
    ).subquery("spans")
    total = func.round(func.sum(rows.c.mrr), 2)
    paid = func.max(case((rows.c.mrr > 0, 1), else_=0))
    valued = (
        select(spans.c.account_id, spans.c.start_date, spans.c.end_date, total.label("mrr"), paid.label("paid"))
        .select_from(spans.join(rows, and_(
            rows.c.account_id == spans.c.account_id, rows.c.start_date <= spans.c.start_date,
            or_(rows.c.end_date.is_(None), rows.c.end_date > spans.c.start_date))))
        .group_by(spans.c.account_id, spans.c.start_date, spans.c.end_date)
    ).subquery("valued")
    first = func.min(case((valued.c.paid == 1, valued.c.start_date), else_=None)).over(partition_by=valued.c.account_id)
    conn.execute(insert(iv).from_select(
        ["account_id", "start_date", "end_date", "mrr", "paid", "first_paid"],
        select(valued.c.account_id, valued.c.start_date, func.coalesce(valued.c.end_date, literal(OPEN_END)),
               valued.c.mrr, valued.c.paid, first),
    ))
    conn.execute(insert(fd).from_select(
        ["account_id", "first_start", "first_paid"],
        select(s.c.account_id, func.min(s.c.start_date), func.min(case(
            (and_(s.c.mrr > 0, or_(s.c.end_date.is_(None), s.c.end_date > s.c.start_date)), s.c.start_date),
            else_=None))).group_by(s.c.account_id),
    ))
    set_meta(conn, STAMP_KEY, stamp(conn))
    n = conn.execute(select(func.count()).select_from(iv)).scalar_one()
    logger.debug("revenue state: %s intervals", n)
    return int(n)


def forget(conn: Connection) -> None:
    """Mark the derived state stale (the metrics count from subscriptions until the next build)."""
    set_meta(conn, STAMP_KEY, "")


# ---- freshness -----------------------------------------------------------------------------------

def stamp(conn: Connection) -> str:
    """What the state was built from: cheap to read (a count and two index lookups), and changed by
    any insert or delete of a subscription, a new latest start day, and any later sync that did not
    fail (a sync without the after-sync steps leaves the state stale)."""
    count = conn.execute(select(func.count()).select_from(s)).scalar_one()
    latest = conn.execute(select(func.max(s.c.start_date))).scalar()
    log = schema.sync_log
    sync_id = conn.execute(select(func.max(log.c.sync_id)).where(log.c.status != "failed")).scalar()
    return f"{_VERSION}|{count}|{latest}|{sync_id}"


def is_fresh(conn: Connection) -> bool:
    stored = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == STAMP_KEY)).scalar()
    return bool(stored) and stored == stamp(conn)


def usable(calc) -> bool:
    """Whether this answer reads the derived state (checked once per ``Calc``)."""
    return calc.memo(_USE_KEY, lambda: is_fresh(calc.conn))


def use(calc, derived: bool) -> None:
    """Make ``calc`` read (True: only if fresh) or not read the derived state: for tests and benchmarks."""
    calc._memo[_USE_KEY] = derived and is_fresh(calc.conn)


# ---- read helpers ----------------------------------------------------------------------------------

def alive_on(day) -> object:
    """SQL condition: the interval holds ``day``."""
    return and_(iv.c.start_date <= day, iv.c.end_date > day)


def per_account(days, periods, filters, first_paid: bool = True) -> Subquery:
    """Per account: ``m{i}`` its MRR at 00:00 of ``days[i]``, ``first_paid`` and ``w{j}`` (1 when it
    paid on some day of ``periods[j]``), from the intervals that touch ``[min(days), max(days)]``: the
    same columns ``revenue.movements_grouped`` counts from subscriptions."""
    days = list(days)
    lo, hi = min(days), max(days)
    cols = [func.sum(case((alive_on(d), iv.c.mrr), else_=0)).label(f"m{i}") for i, d in enumerate(days)]
    if first_paid:
        cols.append(func.max(iv.c.first_paid).label("first_paid"))
    cols += [func.max(case((and_(iv.c.paid == 1, iv.c.start_date < p.end, iv.c.end_date > p.start), 1), else_=0))
             .label(f"w{j}") for j, p in enumerate(periods)]
    stmt = select(iv.c.account_id, *cols).where(iv.c.end_date > lo, iv.c.start_date <= hi).group_by(iv.c.account_id)
    return filters.restrict(stmt, iv.c.account_id).subquery("account_mrr")


def accounts_started(hi, filters) -> Subquery:
    """The accounts with a subscription row starting on or before ``hi`` (running or not): those a
    grouped movements statement over subscriptions lists, even with nothing to count."""
    return filters.restrict(select(fd.c.account_id).where(fd.c.first_start <= hi), fd.c.account_id).subquery("started")


def mrr_on(conn: Connection, day, filters) -> tuple[float, int]:
    """MRR and paying customers at 00:00 of ``day``: one interval per account holds it, no grouping."""
    stmt = filters.restrict(
        select(func.coalesce(func.sum(iv.c.mrr), 0), func.coalesce(func.sum(case((iv.c.mrr > 0, 1), else_=0)), 0))
        .where(iv.c.end_date > day, iv.c.start_date <= day), iv.c.account_id)
    row = conn.execute(stmt).one()
    return round(float(row[0]), 2), int(row[1])
