"""DAU, WAU, MAU, stickiness, usage time and seat utilisation on hand-made activity."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from test_metrics_retention import OCT, load

from metrics import schema
from metrics.calc import Calc
from metrics.compute import measure
from metrics.filters import Filters
from metrics.settings import Settings

LAST = date(2026, 10, 31)  # OCT's last day


def value(engine, name, filters=Filters()):
    with engine.connect() as conn:
        return measure(Calc(conn, Settings()), name, OCT, filters)


def activity(engine, rows):
    """rows: (account, user, day, seconds)"""
    with engine.begin() as conn:
        conn.execute(schema.usage_daily.insert(), [
            {"account_id": a, "user_id": u, "day": d, "events": 3, "seconds": s} for a, u, d, s in rows])


@pytest.fixture
def usage(engine):
    load(engine, [("A", "core", date(2026, 1, 1), None, 10_000), ("B", "core", date(2026, 1, 1), None, 10_000),
                  ("X", "core", date(2026, 1, 1), date(2026, 10, 15), 10_000)],
         accounts={"A": {"seats": 10, "segment": "smb"}, "B": {"seats": 5, "segment": "enterprise"},
                   "X": {"seats": 100}})
    rows = []
    # A/u1 active every one of the 30 days Oct 2..31 (30 user-days), 600 s a day.
    rows += [("A", "u1", LAST - timedelta(days=i), 600) for i in range(30)]
    # A/u2 active Oct 31 only; B/u1 active Oct 26 (in the week); B/u2 active Oct 10 (in the month only).
    rows += [("A", "u2", LAST, 1200), ("B", "u1", date(2026, 10, 26), 60), ("B", "u2", date(2026, 10, 10), 60)]
    # The same user id in another account is another user; Oct 1 is 31 days before: outside MAU.
    rows += [("B", "u1", LAST, 60), ("B", "u3", date(2026, 10, 1), 60)]
    # X stopped paying on Oct 15; its user still shows in MAU but its seats do not count.
    rows += [("X", "u1", date(2026, 10, 20), 60)]
    activity(engine, rows)
    return engine


def test_dau_wau_mau_are_distinct_users_on_the_last_day_week_and_month(usage):
    # DAU Oct 31: A/u1, A/u2, B/u1 = 3
    # WAU Oct 25..31: + nothing new (B/u1 on 26 is B/u1 already, X/u1 on 20 is outside) = 3
    # MAU Oct 2..31: A/u1, A/u2, B/u1, B/u2, X/u1 = 5 (B/u3 on Oct 1 is outside)
    assert value(usage, "dau").value == 3
    assert value(usage, "wau").value == 3
    assert value(usage, "mau").value == 5
    assert value(usage, "mau", Filters(segment="enterprise")).value == 2  # B/u1, B/u2


def test_stickiness_is_mean_dau_over_30_days_over_mau(usage):
    # user-days Oct 2..31: A/u1 30 + A/u2 1 + B/u1 2 + B/u2 1 + X/u1 1 = 35; mean DAU 35 / 30; / MAU 5 = 0.2333
    m = value(usage, "stickiness")
    assert m.value == pytest.approx(35 / 30 / 5)
    assert m.parts["dau_wau"] == pytest.approx(1.0)  # 3 / 3
    assert m.parts["wau_mau"] == pytest.approx(3 / 5)


def test_average_usage_time_is_minutes_per_active_user_day(usage):
    # all of October: seconds 30x600 + 1200 + 60 x 5 = 19,500 s = 325 min over 36 user-days -> 9.03 min
    m = value(usage, "avg_usage_minutes")
    assert m.parts["user_days"] == 36
    assert m.value == pytest.approx(round(325 / 36, 2))


def test_seat_utilisation_counts_mau_of_paying_accounts_over_their_seats(usage):
    # Paying on Oct 31: A (10 seats; MAU 2) and B (5 seats; MAU 2: u1, u2). X stopped paying.
    # 4 / 15 = 0.2667
    m = value(usage, "seat_utilization")
    assert (m.parts["mau"], m.parts["seats"]) == (4, 15)
    assert m.value == pytest.approx(4 / 15)


def test_usage_without_activity_is_zero_users_and_undefined_ratios(engine):
    load(engine, [("A", "core", date(2026, 1, 1), None, 10_000)], accounts={"A": {"seats": 3}})
    assert value(engine, "mau").value == 0
    assert value(engine, "stickiness").value is None
    assert value(engine, "avg_usage_minutes").value is None
    assert value(engine, "seat_utilization").value == 0.0
