"""Health snapshots do not grow without end: ``write_snapshots`` keeps every day of the last
``CSBOT_HEALTH_SNAPSHOT_DAYS`` days (default 120) and, before that, the first stored day of each
month, pruning in the caller's transaction; what reads snapshots still answers after it.

On the hand-made accounts of test_health (its model; today D is 2026-11-22, so with 120 days every
day from 2026-07-25 on stays). The older days are hand-made rows: which of them survive is
checked day by day.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from test_health import MODEL, D, seed

from metrics import health as hm
from metrics import lists as ml
from metrics import schema
from metrics.filters import Filters
from metrics.health.snapshots import prune_snapshots
from metrics.settings import ConfigError, Settings, load_settings

h = schema.health_snapshots
KEEP_FROM = date(2026, 7, 25)  # D - 120 days: the oldest day every day of which is kept by default

# Hand-picked stored days (D itself is written by write_snapshots), and which survive with 120 days.
OLD_DAYS = {
    date(2025, 11, 25): True,   # first stored day of Nov 2025
    date(2025, 11, 26): False,
    date(2026, 1, 4): True,     # first of Jan 2026, though not the 1st
    date(2026, 1, 31): False,
    date(2026, 3, 1): True,
    date(2026, 3, 2): False,
    date(2026, 7, 1): True,     # first of July; the rest of July before Jul 25 goes
    date(2026, 7, 24): False,   # 121 days before D
    date(2026, 7, 25): True,    # 120 days before D: kept as every day of the window
    date(2026, 8, 10): True,
    date(2026, 10, 23): True,   # 30 days before D: what the portfolio compares with
    date(2026, 11, 21): True,
}


@pytest.fixture
def seeded(engine):
    seed(engine)
    return engine


def _store(engine, days, scores=None) -> None:
    """Hand-made snapshots of A and B on ``days`` (scores no computation gives)."""
    scores = scores or {"A": (70.0, "yellow"), "B": (30.0, "red")}
    with engine.begin() as conn:
        conn.execute(h.insert(), [{"account_id": acc, "day": d, "score": sc, "band": band, "components": {}}
                                  for d in days for acc, (sc, band) in scores.items()])


def _stored_days(engine) -> dict[date, int]:
    from sqlalchemy import func, select

    from metrics.periods import as_date

    with engine.connect() as conn:
        return {as_date(d): n for d, n in conn.execute(select(h.c.day, func.count()).group_by(h.c.day))}


def _write(engine, settings: Settings | None = None) -> int:
    with engine.begin() as conn:
        return hm.write_snapshots(conn, D, settings, model=MODEL)


def test_every_day_of_the_last_120_days_stays_and_before_that_the_first_stored_day_of_each_month(seeded):
    assert D - timedelta(days=120) == KEEP_FROM
    _store(seeded, OLD_DAYS)
    assert _write(seeded) == 3  # A, B, C paying on D: the default settings, 120 days
    days = _stored_days(seeded)
    assert sorted(days) == sorted([d for d, kept in OLD_DAYS.items() if kept] + [D])
    assert all(days[d] == 2 for d in days if d != D) and days[D] == 3  # survivors keep all their rows


@pytest.mark.parametrize("keep_days, gone", [
    # 30 days: Oct 23 (30 days before D) and after stay; Aug 10 goes (August's first is Aug 10 itself: stays)
    (30, {date(2025, 11, 26), date(2026, 1, 31), date(2026, 3, 2), date(2026, 7, 24), date(2026, 7, 25)}),
    # 0: nothing is pruned
    (0, set()),
    # longer than the data: nothing is pruned
    (400, set()),
])
def test_the_number_of_days_kept_follows_the_setting(seeded, keep_days, gone):
    _store(seeded, OLD_DAYS)
    _write(seeded, Settings(health_snapshot_days=keep_days))
    assert set(_stored_days(seeded)) == (set(OLD_DAYS) - gone) | {D}


def test_a_month_with_days_on_both_sides_of_the_window_keeps_its_first_day_and_the_window(seeded):
    # 30 days kept: Oct 23 .. Nov 22 all stay; October before the 23rd keeps its first stored day only
    october = [date(2026, 10, d) for d in (3, 9, 22, 23, 24)]
    _store(seeded, october)
    _write(seeded, Settings(health_snapshot_days=30))
    assert sorted(_stored_days(seeded)) == [date(2026, 10, 3), date(2026, 10, 23), date(2026, 10, 24), D]


def test_pruning_is_part_of_the_callers_transaction(seeded):
    _store(seeded, OLD_DAYS)
    with seeded.connect() as conn:
        tx = conn.begin()
        hm.write_snapshots(conn, D, None, model=MODEL)
        tx.rollback()  # the sync failed after it: nothing was written, nothing was pruned
    assert set(_stored_days(seeded)) == set(OLD_DAYS)


def test_prune_snapshots_alone_deletes_in_one_pass_and_is_idempotent(seeded):
    _store(seeded, OLD_DAYS)
    with seeded.begin() as conn:
        assert prune_snapshots(conn, D, 120) == 2 * 4  # four days of two rows each
        assert prune_snapshots(conn, D, 120) == 0


def test_the_setting_is_read_and_checked():
    assert Settings().health_snapshot_days == 120
    assert load_settings({}).health_snapshot_days == 120
    assert load_settings({"CSBOT_HEALTH_SNAPSHOT_DAYS": "90"}).health_snapshot_days == 90
    assert load_settings({"CSBOT_HEALTH_SNAPSHOT_DAYS": "0"}).health_snapshot_days == 0
    for bad in ("-1", "ninety", "1.5", "99999"):
        with pytest.raises(ConfigError) as err:
            load_settings({"CSBOT_HEALTH_SNAPSHOT_DAYS": bad})
        assert str(err.value).startswith("CSBOT_HEALTH_SNAPSHOT_DAYS: expected a whole number from 0 to 36500")


# --------------------------------------------------------------------------- what reads snapshots still answers


def test_after_pruning_the_portfolio_and_the_health_drop_list_compare_with_the_stored_day_30_back(seeded):
    _store(seeded, OLD_DAYS)
    _write(seeded)
    with seeded.connect() as conn:
        pf = hm.portfolio(conn, D, Filters(), None, model=MODEL)
        dropped = ml.health_drop_list(conn, D - timedelta(days=30), D, 10, Filters(), model=MODEL)
    assert pf.before_day == date(2026, 10, 23) and pf.before_stored is True
    rows = {r.account_id: r for r in pf.rows}
    assert rows["A"].previous == 70.0 and rows["B"].previous == 30.0 and rows["C"].previous is None
    # A: 70 -> 61 (9 points: not listed); B: 30 -> 35.71 rose
    assert dropped == []
    with seeded.connect() as conn:
        five = ml.health_drop_list(conn, D - timedelta(days=30), D, 9, Filters(), model=MODEL)
    assert [(r.account_id, r.previous, r.score, r.drop) for r in five] == [("A", 70.0, 61.0, 9)]


def test_after_pruning_who_dropped_to_red_last_month_still_reads_the_snapshots(seeded):
    # A green before October, red from Oct 10 on: a drop on Oct 10; old days around it are pruned
    _store(seeded, OLD_DAYS)
    _store(seeded, [date(2026, 9, 20)], {"A": (80.0, "green")})
    _store(seeded, [date(2026, 10, 10), date(2026, 10, 31)], {"A": (40.0, "red")})
    _write(seeded)
    with seeded.connect() as conn:
        report = hm.dropped_to_red(conn, date(2026, 10, 1), date(2026, 11, 1), today=D, model=MODEL)
    assert report.from_snapshots is True
    assert [(d.account_id, d.day, d.from_band) for d in report.drops] == [("A", date(2026, 10, 10), "green")]


def test_the_backtest_reads_no_snapshot_and_answers_the_same_after_pruning(seeded):
    _store(seeded, OLD_DAYS)
    before = hm.backtest(seeded, 6, None, today=D, model=MODEL)
    _write(seeded)
    after = hm.backtest(seeded, 6, None, today=D, model=MODEL)
    assert after.to_json() == before.to_json()
    assert after.accounts == 12  # A and B paying through each of the six months, scored 60 days before it


def test_who_dropped_to_red_in_a_period_older_than_the_daily_window_is_not_dated_by_month_starts(seeded):
    # Only month starts are kept before the window: a drop on Jan 20 must not be dated Feb 1 (the next
    # kept day) as if read from daily snapshots; the two ends of the period are compared instead.
    _store(seeded, [date(2026, 1, 1)], {"A": (80.0, "green")})
    _store(seeded, [date(2026, 2, 1)], {"A": (40.0, "red")})
    with seeded.connect() as conn:
        old = hm.dropped_to_red(conn, date(2026, 1, 15), date(2026, 2, 15), today=D, model=MODEL)
        recent = hm.dropped_to_red(conn, date(2026, 1, 15), date(2026, 2, 15), today=date(2026, 3, 1), model=MODEL)
    assert old.from_snapshots is False  # more than 120 days before D: ends compared, no day read off snapshots
    assert recent.from_snapshots is True  # inside the window the same snapshots are read as daily ones
