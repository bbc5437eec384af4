"""Product usage (docs/metrics.md, "Usage"): DAU, WAU, MAU, stickiness, average
usage time and seat utilisation, from ``usage_daily`` (one row per account,
user and active day, rolled up from the raw events by the sync).

A user is an (account, user id) pair. DAU, WAU, MAU, stickiness and seat
utilisation are taken on the period's last day ``d``: DAU on ``d``, WAU over
``d-6..d``, MAU over ``d-29..d``. DAU and user-days are plain counts of rows
(one row per user and day); WAU and MAU de-duplicate users over a range of the
day index.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Callable

from sqlalchemy import and_, case, func, or_, select

from metrics import schema, usage_state
from metrics.calc import Calc, Measurement, ratio
from metrics.filters import Filters
from metrics.grouping import group_key, keyed
from metrics.periods import Period, as_date

logger = logging.getLogger(__name__)

u = schema.usage_daily
s = schema.subscriptions
acc = schema.accounts


def _window(day: date, days: int):
    return and_(u.c.day >= day - timedelta(days=days - 1), u.c.day <= day)


def users_per_account(day: date, days: int):
    """Per account, its distinct users in the window. (Grouping by account and counting
    distinct users is about twice as fast on SQLite as grouping by account and user.)"""
    return select(u.c.account_id, func.count(u.c.user_id.distinct()).label("users")) \
        .where(_window(day, days)).group_by(u.c.account_id)


def distinct_users(calc: Calc, day: date, days: int, filters: Filters) -> int:
    """Distinct (account, user) pairs active in the ``days`` days ending ``day``."""
    def compute() -> int:
        if days in usage_state.WINDOWS and usage_state.usable(calc):
            return usage_state.distinct_users(calc.conn, day, days, filters)
        per_account = filters.restrict(users_per_account(day, days), u.c.account_id).subquery("per_account")
        return int(calc.conn.execute(select(func.coalesce(func.sum(per_account.c.users), 0))).scalar_one())

    return calc.memo(("distinct_users", day, days, filters), compute)


def user_days(calc: Calc, day: date, days: int, filters: Filters) -> int:
    """Active user-days in the ``days`` days ending ``day`` (a row of usage_daily is one)."""
    def compute() -> int:
        if usage_state.usable(calc):
            return usage_state.user_days(calc.conn, day, days, filters)
        stmt = filters.restrict(select(func.count()).select_from(u).where(_window(day, days)), u.c.account_id)
        return int(calc.conn.execute(stmt).scalar_one())

    return calc.memo(("user_days", day, days, filters), compute)


def dau_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    d = period.last_day
    dau = user_days(calc, d, 1, filters)  # one row per user and day: no need to de-duplicate
    return Measurement(dau, {"dau": dau, "day": d})


def wau_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    d = period.last_day
    wau = distinct_users(calc, d, 7, filters)
    return Measurement(wau, {"wau": wau, "day": d})


def mau_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    d = period.last_day
    mau = distinct_users(calc, d, 30, filters)
    return Measurement(mau, {"mau": mau, "day": d})


def stickiness_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    d = period.last_day
    mau = distinct_users(calc, d, 30, filters)
    wau = distinct_users(calc, d, 7, filters)
    dau = user_days(calc, d, 1, filters)
    days30 = user_days(calc, d, 30, filters)
    mean_dau = days30 / 30
    parts = {"numerator": round(mean_dau, 4), "denominator": mau, "mean_dau_30": round(mean_dau, 4),
             "user_days_30": days30, "dau": dau, "wau": wau, "mau": mau, "day": d,
             "dau_wau": ratio(dau, wau), "wau_mau": ratio(wau, mau)}
    return Measurement(ratio(mean_dau, mau), parts)


def usage_minutes(calc: Calc, period: Period, filters: Filters) -> tuple[int, float]:
    """(active user-days, seconds) in the period."""
    def compute() -> tuple[int, float]:
        if usage_state.usable(calc):
            return usage_state.usage_minutes(calc.conn, period.start, period.end - timedelta(days=1), filters)
        stmt = select(func.count().label("user_days"), func.coalesce(func.sum(u.c.seconds), 0).label("seconds")) \
            .where(u.c.day >= period.start, u.c.day < period.end)
        row = calc.conn.execute(filters.restrict(stmt, u.c.account_id)).mappings().one()
        return int(row["user_days"]), float(row["seconds"])

    return calc.memo(("usage_minutes", period, filters), compute)


def avg_usage_minutes_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    user_days, seconds = usage_minutes(calc, period, filters)
    minutes = seconds / 60
    value = ratio(minutes, user_days)
    return Measurement(None if value is None else round(value, 2),
                       {"numerator": round(minutes, 2), "denominator": user_days, "minutes": round(minutes, 2),
                        "user_days": user_days})


def _paying_seated(day: date):
    paying = (
        select(s.c.account_id)
        .where(s.c.start_date <= day, or_(s.c.end_date.is_(None), s.c.end_date > day))
        .group_by(s.c.account_id)
        .having(func.sum(s.c.mrr) > 0)
    )
    return select(acc.c.account_id, acc.c.seats).where(acc.c.seats > 0, acc.c.account_id.in_(paying))


def seat_counts(calc: Calc, day: date, filters: Filters) -> tuple[int, int, int]:
    """(paying accounts with seats, their seats, their users over the 30 days ending ``day``)."""
    def compute() -> tuple[int, int, int]:
        if usage_state.usable(calc):
            return usage_state.seat_counts(calc.conn, day, filters)
        seated = _paying_seated(day)
        cond = filters.account_condition()
        if cond is not None:
            seated = seated.where(cond)
        seated = seated.subquery("seated")
        # the month's users per account (a range of the day index), then only the seated accounts
        per_account = users_per_account(day, 30).subquery("per_account")
        row = calc.conn.execute(
            select(func.count(), func.coalesce(func.sum(seated.c.seats), 0),
                   func.coalesce(func.sum(per_account.c.users), 0))
            .select_from(seated.outerjoin(per_account, per_account.c.account_id == seated.c.account_id))
        ).one()
        return int(row[0]), int(row[1]), int(row[2])

    return calc.memo(("seat_counts", day, filters), compute)


def seat_utilization_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    day = period.last_day
    accounts, seats, mau = seat_counts(calc, day, filters)
    return Measurement(ratio(int(mau), seats),
                       {"numerator": int(mau), "denominator": seats, "mau": int(mau), "seats": seats,
                        "accounts": accounts, "day": day})


def last_usage_day(calc: Calc, period: Period) -> date | None:
    """The last day with any usage data, not after the period (the sync's last day); None without data.
    Unfiltered: a quiet day of one account is a zero, not a day that has not been synced."""
    return calc.memo(("last_usage_day", period.last_day), lambda: as_date(calc.conn.execute(
        select(func.max(u.c.day)).where(u.c.day <= period.last_day)).scalar_one()))


def mean_dau(calc: Calc, period: Period, filters: Filters) -> float:
    """Active user-days in the period / its days."""
    return user_days(calc, period.last_day, period.days, filters) / period.days


# ---- per group (breakdowns) ------------------------------------------------------------

def activity_grouped(calc: Calc, day: date, filters: Filters, by: str,
                     scope: Callable[[str | None], Filters]) -> set[str | None]:
    """For every group of ``by``, in one statement: user-days on ``day`` and over the 30 days ending
    it, distinct users over the 7 and the 30 days ending it; memoised as ``user_days`` and
    ``distinct_users`` (DAU, WAU, MAU, stickiness); returns the groups seen."""
    rows = usage_state.activity_grouped(calc.conn, day, filters, by) if usage_state.usable(calc) \
        else _activity_grouped_direct(calc, day, filters, by)
    for row in rows:
        f = scope(row["key"])
        calc.memo(("user_days", day, 1, f), lambda v=int(row["d1"]): v)
        calc.memo(("user_days", day, 30, f), lambda v=int(row["d30"]): v)
        calc.memo(("distinct_users", day, 7, f), lambda v=int(row["u7"]): v)
        calc.memo(("distinct_users", day, 30, f), lambda v=int(row["u30"]): v)
    return {row["key"] for row in rows}


def _activity_grouped_direct(calc: Calc, day: date, filters: Filters, by: str) -> list:
    week = day - timedelta(days=6)
    per_account = filters.restrict(
        select(u.c.account_id,
               func.sum(case((u.c.day == day, 1), else_=0)).label("d1"),
               func.count().label("d30"),
               func.count(case((u.c.day >= week, u.c.user_id), else_=None).distinct()).label("u7"),
               func.count(u.c.user_id.distinct()).label("u30"))
        .where(_window(day, 30)).group_by(u.c.account_id), u.c.account_id,
    ).subquery("per_account")
    p = per_account.c
    source, key = keyed(per_account, by)
    rows = calc.conn.execute(select(key.label("key"), *[func.coalesce(func.sum(p[k]), 0).label(k)
                                                         for k in ("d1", "d30", "u7", "u30")])
                             .select_from(source).group_by(key)).mappings().all()
    return rows


def usage_minutes_grouped(calc: Calc, period: Period, filters: Filters, by: str,
                          scope: Callable[[str | None], Filters]) -> set[str | None]:
    """User-days and seconds in the period for every group of ``by``, memoised as ``usage_minutes``."""
    if usage_state.usable(calc):
        rows = usage_state.usage_minutes_grouped(calc.conn, period.start, period.end - timedelta(days=1), filters, by)
        for row in rows:
            value = (int(row["user_days"]), float(row["seconds"]))
            calc.memo(("usage_minutes", period, scope(row["key"])), lambda v=value: v)
        return {row["key"] for row in rows}
    per_account = filters.restrict(
        select(u.c.account_id, func.count().label("user_days"), func.sum(u.c.seconds).label("seconds"))
        .where(u.c.day >= period.start, u.c.day < period.end).group_by(u.c.account_id), u.c.account_id,
    ).subquery("per_account")
    p = per_account.c
    source, key = keyed(per_account, by)
    rows = calc.conn.execute(select(key.label("key"), func.coalesce(func.sum(p.user_days), 0).label("user_days"),
                                    func.coalesce(func.sum(p.seconds), 0).label("seconds"))
                             .select_from(source).group_by(key)).mappings().all()
    for row in rows:
        value = (int(row["user_days"]), float(row["seconds"]))
        calc.memo(("usage_minutes", period, scope(row["key"])), lambda v=value: v)
    return {row["key"] for row in rows}


def seat_counts_grouped(calc: Calc, day: date, filters: Filters, by: str,
                        scope: Callable[[str | None], Filters]) -> set[str | None]:
    """Seated paying accounts, seats and their month's users for every group of ``by``, memoised as
    ``seat_counts``."""
    if usage_state.usable(calc):
        rows = usage_state.seat_counts_grouped(calc.conn, day, filters, by)
        for row in rows:
            value = (int(row["accounts"]), int(row["seats"]), int(row["users"]))
            calc.memo(("seat_counts", day, scope(row["key"])), lambda v=value: v)
        return {row["key"] for row in rows}
    seated = _paying_seated(day).add_columns(group_key(by).label("key"))
    cond = filters.account_condition()
    if cond is not None:
        seated = seated.where(cond)
    seated = seated.subquery("seated")
    per_account = users_per_account(day, 30).subquery("per_account")
    rows = calc.conn.execute(
        select(seated.c.key, func.count().label("accounts"), func.coalesce(func.sum(seated.c.seats), 0).label("seats"),
               func.coalesce(func.sum(per_account.c.users), 0).label("users"))
        .select_from(seated.outerjoin(per_account, per_account.c.account_id == seated.c.account_id))
        .group_by(seated.c.key)
    ).mappings().all()
    for row in rows:
        value = (int(row["accounts"]), int(row["seats"]), int(row["users"]))
        calc.memo(("seat_counts", day, scope(row["key"])), lambda v=value: v)
    return {row["key"] for row in rows}
