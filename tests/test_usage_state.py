"""The usage state built at sync time (metrics/usage_state.py, issue 16) gives exactly the numbers the
direct SQL over usage_daily gives, and is read only while it matches the data.

Every usage metric (DAU, WAU, MAU, stickiness, average usage time, seat utilisation) for a period and
its previous one, filtered and not, broken down by every dimension and as a 12-month trend, is computed
twice on one connection, once from the state and once from usage_daily, and must be equal to the last
digit: on the demo company (loaded through the real sync, so the after-sync step built the state), on
hand-built cases with hand-counted numbers, and on random histories. Runs on SQLite, on PostgreSQL with
CSBOT_TEST_DATABASE_URL, and on DuckDB when its driver is installed.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from conftest import property_engines
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import and_, delete, insert, select, update

from metrics import schema, usage_state
from metrics.breakdown import breakdown, trend
from metrics.calc import Calc
from metrics.compute import measure
from metrics.derived import after_sync_steps
from metrics.filters import Filters
from metrics.grouping import DIMENSIONS
from metrics.periods import Period
from metrics.settings import Settings

USAGE = ("dau", "wau", "mau", "stickiness", "avg_usage_minutes", "seat_utilization")
DEMO_TODAY = date(2026, 11, 22)
D = date


def calcs(conn, today):
    """(direct, derived): two Calcs on one connection, one reading usage_daily, one the usage state."""
    direct, derived = Calc(conn, Settings(), today=today), Calc(conn, Settings(), today=today)
    usage_state.use(direct, False)
    usage_state.use(derived, True)
    assert usage_state.usable(derived), "the usage state should be fresh here"
    return direct, derived


def everything(calc, periods, span, filters=Filters(), dimensions=("segment",)):
    """Every usage number csbot shows for these periods, as plain data."""
    out: dict = {}
    for p in periods:
        for name in USAGE:
            out[(name, p)] = measure(calc, name, p, filters)
            out[(name, p.previous())] = measure(calc, name, p.previous(), filters)
    for by in dimensions:
        for name in USAGE:
            out[(name, "by", by)] = breakdown(calc, name, periods[0], filters, by)
    for name in USAGE:
        out[(name, "trend")] = trend(calc, name, span, "month", filters)
    return out


def assert_same(engine, today, periods, span, filters=Filters(), dimensions=("segment",)):
    with engine.connect() as conn:
        direct, derived = calcs(conn, today)
        want = everything(direct, periods, span, filters, dimensions)
        got = everything(derived, periods, span, filters, dimensions)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == want[key], key
    return want


# ---- the demo company (loaded through the sync with its after-sync steps) -------------------------

def demo_periods():
    oct_ = Period(D(2026, 10, 1), D(2026, 11, 1), "month")
    return [oct_, Period(D(2026, 11, 1), D(2026, 11, 23), "month", to_date=True),
            Period(D(2026, 7, 1), D(2026, 10, 1), "quarter"), Period(D(2026, 3, 10), D(2026, 4, 25), "range"),
            Period(D(2026, 11, 16), D(2026, 11, 23), "week", to_date=True), Period(D(2025, 1, 1), D(2026, 1, 1), "year")]


def test_the_demo_company_gives_the_same_usage_numbers_from_the_state_and_from_usage_daily(shared_demo):
    with shared_demo.engine.connect() as conn:
        assert usage_state.is_fresh(conn)  # the demo loads through the sync, whose step built it
    span = Period(D(2025, 11, 1), D(2026, 11, 23), "months")
    numbers = assert_same(shared_demo.engine, DEMO_TODAY, demo_periods(), span, dimensions=DIMENSIONS)
    oct_ = demo_periods()[0]
    assert numbers[("mau", oct_)].value > 0 and numbers[("avg_usage_minutes", oct_)].value > 0  # real usage
    assert len(numbers[("mau", "by", "segment")].groups) >= 2
    assert len(numbers[("stickiness", "trend")].points) == 13


@pytest.mark.parametrize("filters", [Filters(segment="enterprise"), Filters(segment="SMB", region="emea"),
                                     Filters(plan="growth"), Filters(touch_model="high")])
def test_the_demo_company_filtered_gives_the_same_usage_numbers(shared_demo, filters):
    span = Period(D(2026, 1, 1), D(2026, 11, 23), "months")
    assert_same(shared_demo.engine, DEMO_TODAY, demo_periods()[:2], span, filters, ("plan",))


def test_the_demo_company_by_owner_gives_the_same_usage_numbers(shared_demo):
    with shared_demo.engine.connect() as conn:
        owner = conn.execute(select(schema.accounts.c.owner).where(schema.accounts.c.owner.is_not(None))
                             .limit(1)).scalar_one()
    span = Period(D(2026, 6, 1), D(2026, 11, 23), "months")
    assert_same(shared_demo.engine, DEMO_TODAY, demo_periods()[:1], span, Filters(owner=(owner,)), ())


# ---- hand-built cases ---------------------------------------------------------------------------------

ACCOUNTS = {"A": dict(segment="smb", seats=10), "B": dict(segment="Enterprise", seats=0),
            "C": dict(segment="enterprise", seats=None), "E": dict(segment="", seats=5)}


def load(engine, rows, accounts=ACCOUNTS, subscriptions=("A", "B", "C", "E")):
    """rows: (account, user, day, seconds); every account in ``subscriptions`` pays from Jan 2026 (None: keep
    the subscriptions). Built."""
    with engine.begin() as conn:
        conn.execute(delete(schema.usage_daily))
        if subscriptions is not None:
            conn.execute(delete(schema.subscriptions))
        if accounts is not None:
            conn.execute(delete(schema.accounts))
            conn.execute(insert(schema.accounts), [{"account_id": a, "name": a, **attrs} for a, attrs in accounts.items()])
        if subscriptions:
            conn.execute(insert(schema.subscriptions), [
                {"subscription_id": f"s{a}", "account_id": a, "product": "core", "start_date": D(2026, 1, 1),
                 "end_date": None, "mrr": 100} for a in subscriptions])
        if rows:
            conn.execute(insert(schema.usage_daily), [{"account_id": a, "user_id": u, "day": d, "events": 2,
                                                       "seconds": s} for a, u, d, s in rows])
        usage_state.build(conn)


HAND = [
    # A/u1: Oct 3 and Oct 30: one user in October's MAU (and in the 30 days ending Oct 31), two user-days
    ("A", "u1", D(2026, 10, 3), 600), ("A", "u1", D(2026, 10, 30), 600),
    # A/u2 on Oct 31 (the last day: DAU), and on Nov 1 (the next month, in the workspace's own days)
    ("A", "u2", D(2026, 10, 31), 120), ("A", "u2", D(2026, 11, 1), 60),
    # B/u1: the same user id in another account is another user; Oct 1 is 31 days before Oct 31: not in MAU
    ("B", "u1", D(2026, 10, 1), 60), ("B", "u1", D(2026, 10, 25), 60),
    # C/u9 only on Oct 1 (outside the 30 days ending Oct 31), Sep 30 for the previous month
    ("C", "u9", D(2026, 10, 1), 30), ("C", "u9", D(2026, 9, 30), 30),
    # an account not in ``accounts``: counted unfiltered, never filtered
    ("GHOST", "g", D(2026, 10, 31), 300),
]
OCT = Period(D(2026, 10, 1), D(2026, 11, 1), "month")


def test_hand_counted_october_from_the_state(engine):
    load(engine, HAND)
    with engine.connect() as conn:
        _, calc = calcs(conn, D(2026, 12, 1))
        m = {name: measure(calc, name, OCT) for name in USAGE}
        ent = {name: measure(calc, name, OCT, Filters(segment="enterprise")) for name in USAGE}
    assert m["dau"].value == 2  # A/u2 and GHOST/g on Oct 31
    assert m["wau"].value == 4  # A/u1 (Oct 30), A/u2, B/u1 (Oct 25), GHOST/g
    assert m["mau"].value == 4  # A/u1 once though active on two days; B/u1 and C/u9 on Oct 1 are outside
    # user-days Oct 2..31: A/u1 x2, A/u2, B/u1, GHOST = 5; mean DAU 5/30 over MAU 4
    assert m["stickiness"].parts["user_days_30"] == 5 and m["stickiness"].value == pytest.approx(5 / 30 / 4)
    # average usage time in October: 7 user-days (every October row; not C's Sep 30, not A/u2's Nov 1)
    assert m["avg_usage_minutes"].parts["user_days"] == 7
    assert m["avg_usage_minutes"].value == round((600 + 600 + 120 + 60 + 60 + 30 + 300) / 60 / 7, 2)
    # seats: A 10 (MAU 2), B 0 and C NULL have no seats, E 5 (no users); GHOST pays nothing
    assert m["seat_utilization"].parts["seats"] == 15 and m["seat_utilization"].parts["mau"] == 2
    # enterprise: B and C (stored "Enterprise" and "enterprise"), never GHOST
    assert (ent["dau"].value, ent["wau"].value, ent["mau"].value) == (0, 1, 1)
    assert ent["avg_usage_minutes"].parts["user_days"] == 3


def test_hand_built_cases_give_the_same_numbers_both_ways(engine):
    load(engine, HAND)
    periods = [OCT, Period(D(2026, 11, 1), D(2026, 11, 2), "day"), Period(D(2026, 9, 1), D(2026, 12, 1), "range")]
    span = Period(D(2026, 1, 1), D(2026, 12, 1), "months")
    assert_same(engine, D(2026, 12, 1), periods, span, dimensions=DIMENSIONS)
    for f in (Filters(segment="enterprise"), Filters(segment="smb"), Filters(plan="none")):
        assert_same(engine, D(2026, 12, 1), periods, span, f, ("segment",))


def test_the_month_boundary_is_the_workspace_day_stored(engine):
    """usage_daily's days are the workspace's local days (the sync converts): a row on Nov 1 is
    November's, never October's, whatever its UTC time was."""
    load(engine, HAND)
    nov = Period(D(2026, 11, 1), D(2026, 12, 1), "month")
    with engine.connect() as conn:
        direct, derived = calcs(conn, D(2026, 12, 1))
        assert measure(derived, "avg_usage_minutes", nov).parts["user_days"] == 1
        assert measure(derived, "dau", Period(D(2026, 11, 1), D(2026, 11, 2), "day")).value == 1
        assert measure(derived, "dau", nov) == measure(direct, "dau", nov)


def test_a_late_event_on_an_old_day_changes_the_numbers_after_the_next_build(engine):
    from metrics.clock import naive_utc

    load(engine, HAND)
    with engine.begin() as conn:
        # what a sync does: a row for an old day, its log row, then the after-sync step
        conn.execute(insert(schema.usage_daily).values(account_id="C", user_id="u8", day=D(2026, 10, 20), events=1,
                                                       seconds=90))
        conn.execute(insert(schema.sync_log).values(source="x", started_at=naive_utc(), status="ok"))
        assert not usage_state.is_fresh(conn)
        usage_state.build(conn)
        direct, derived = calcs(conn, D(2026, 12, 1))
        assert measure(derived, "mau", OCT).value == 5
        assert measure(derived, "mau", OCT) == measure(direct, "mau", OCT)
        assert measure(derived, "avg_usage_minutes", OCT) == measure(direct, "avg_usage_minutes", OCT)


def test_the_state_holds_the_rolling_counts_per_group_and_day(engine):
    load(engine, HAND)
    g, gd = schema.usage_groups, schema.usage_group_daily
    with engine.connect() as conn:
        smb = conn.execute(select(gd.c.day, gd.c.user_days, gd.c.u7, gd.c.u30, gd.c.seated, gd.c.seats,
                                  gd.c.seated_users)
                           .select_from(gd.join(g, g.c.group_id == gd.c.group_id))
                           .where(g.c.segment == "smb").order_by(gd.c.day)).all()
    rows = {r.day: tuple(r)[1:] for r in smb}
    # (user-days, u7, u30, seated accounts, seats, seated users): A (smb, 10 seats) pays from Jan 1
    assert D(2025, 12, 31) not in rows and rows[D(2026, 1, 1)] == (0, 0, 0, 1, 10, 0)
    assert rows[D(2026, 10, 3)] == (1, 1, 1, 1, 10, 1)
    assert rows[D(2026, 10, 9)] == (0, 1, 1, 1, 10, 1) and rows[D(2026, 10, 10)] == (0, 0, 1, 1, 10, 1)
    assert rows[D(2026, 10, 30)] == (1, 1, 1, 1, 10, 1)  # A/u1 back: it had left the week, never the month
    assert rows[D(2026, 10, 31)] == (1, 2, 2, 1, 10, 2)
    assert rows[D(2026, 11, 1)] == (1, 2, 2, 1, 10, 2)
    assert rows[D(2026, 11, 7)] == (0, 1, 2, 1, 10, 2) and rows[D(2026, 11, 8)] == (0, 0, 2, 1, 10, 2)
    assert rows[D(2026, 11, 29)] == (0, 0, 1, 1, 10, 1)  # A/u1's last day Oct 30 + 29 days; A/u2's Nov 1 + 29
    assert rows[D(2026, 11, 30)] == (0, 0, 1, 1, 10, 1)
    assert rows[D(2026, 12, 1)] == (0, 0, 0, 1, 10, 0)  # the last change of all (A/u2 leaves the month)
    assert max(rows) == D(2026, 12, 1)  # later days read that day's seated accounts


def test_accounts_without_seats_and_without_usage(engine):
    load(engine, [("B", "u1", D(2026, 10, 31), 60), ("C", "u1", D(2026, 10, 31), 60)])
    with engine.connect() as conn:
        direct, derived = calcs(conn, D(2026, 12, 1))
        for calc in (direct, derived):
            su = measure(calc, "seat_utilization", OCT)
            assert (su.parts["seats"], su.parts["mau"]) == (15, 0)  # A 10 + E 5; B (0) and C (NULL) have none
            assert measure(calc, "mau", OCT).value == 2
    load(engine, [])
    with engine.connect() as conn:
        direct, derived = calcs(conn, D(2026, 12, 1))
        for name in USAGE:
            assert measure(derived, name, OCT) == measure(direct, name, OCT)
        assert measure(derived, "stickiness", OCT).value is None



def test_a_users_previous_day_is_never_another_users_row(engine):
    """The build finds each user's previous and next active day among the rows in usage_daily's key order
    (account, user, day): the row before A/u2's first is A/u1's, two days earlier, and must not keep A/u2
    out of the week's new users (nor keep A/u1 in the week past Oct 7)."""
    load(engine, [("A", "u1", D(2026, 10, 1), 60), ("A", "u2", D(2026, 10, 3), 60), ("A", "u3", D(2026, 10, 4), 60)],
         subscriptions=())
    g, gd = schema.usage_groups, schema.usage_group_daily
    with engine.connect() as conn:
        rows = dict(conn.execute(select(gd.c.day, gd.c.u7).select_from(gd.join(g, g.c.group_id == gd.c.group_id))
                                 .where(g.c.segment == "smb")).all())
    assert [rows[D(2026, 10, d)] for d in (1, 2, 3, 4, 7, 8, 9, 10, 11)] == [1, 1, 2, 3, 3, 2, 2, 1, 0]


def test_days_before_1970_are_counted_as_any_other(engine):
    """The build counts in whole days since 1970-01-01: the days before are negative numbers."""
    rows = [("A", "u1", D(1969, 12, 20), 60), ("A", "u1", D(1970, 1, 2), 60), ("A", "u2", D(1969, 12, 31), 30),
            ("B", "u1", D(1970, 1, 1), 60), ("GHOST", "g", D(1969, 11, 30), 10)]
    load(engine, rows, subscriptions=())
    with engine.begin() as conn:
        conn.execute(insert(schema.subscriptions).values(subscription_id="sA", account_id="A", product="core",
                                                         start_date=D(1969, 12, 25), end_date=D(1970, 1, 20), mrr=50))
        usage_state.build(conn)
    periods = [Period(D(1970, 1, 1), D(1970, 2, 1), "month"), Period(D(1969, 12, 25), D(1970, 1, 3), "range")]
    want = assert_same(engine, D(1970, 3, 1), periods, Period(D(1969, 6, 1), D(1970, 3, 1), "months"))
    assert want[("mau", periods[0])].value == 1  # the 30 days ending Jan 31: A/u1 on Jan 2 only
    assert want[("mau", periods[1])].value == 3  # ending Jan 2: A/u1, A/u2, B/u1 (not GHOST's Nov 30)
    assert want[("seat_utilization", periods[1])].parts["seats"] == 10


def test_the_build_leaves_no_temporary_table_behind(engine):
    load(engine, HAND)
    with engine.begin() as conn:
        first = state_rows(conn)
        usage_state.build(conn)  # twice in one transaction: the rows' working table is made anew
        assert state_rows(conn) == first
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("SELECT name FROM sqlite_temp_master").all() == []

# ---- freshness: the state is read only while it matches the data ---------------------------------------

def test_usage_written_without_a_sync_is_counted_the_direct_way_until_the_next_build(engine):
    load(engine, HAND)
    with engine.begin() as conn:
        assert usage_state.is_fresh(conn)
        conn.execute(insert(schema.usage_daily).values(account_id="A", user_id="new", day=D(2026, 12, 2), events=1,
                                                       seconds=1))
        assert not usage_state.is_fresh(conn)  # a new last day
        calc = Calc(conn, Settings(), today=D(2026, 12, 3))
        assert not usage_state.usable(calc)
        dec = Period(D(2026, 12, 2), D(2026, 12, 3), "day")
        assert measure(calc, "dau", dec).value == 1  # counted directly
        stale = Calc(conn, Settings(), today=D(2026, 12, 3))
        stale._memo[("usage_state_usable",)] = True
        assert measure(stale, "dau", dec).value == 0  # the stale state would have said 0
        usage_state.build(conn)
        assert usage_state.is_fresh(conn)
        assert measure(Calc(conn, Settings(), today=D(2026, 12, 3)), "dau", dec).value == 1


def test_a_later_sync_without_the_steps_and_forget_make_the_state_stale(engine):
    from metrics.clock import naive_utc

    load(engine, HAND)
    with engine.begin() as conn:
        conn.execute(insert(schema.sync_log).values(source="x", started_at=naive_utc(), status="failed"))
        assert usage_state.is_fresh(conn)  # a failed sync changed nothing
        conn.execute(insert(schema.sync_log).values(source="x", started_at=naive_utc(), status="ok"))
        assert not usage_state.is_fresh(conn)  # a sync ran without rebuilding it
        usage_state.build(conn)
        conn.execute(update(schema.accounts).where(schema.accounts.c.account_id == "A").values(segment="mid"))
        usage_state.forget(conn)  # a tool that rewrites rows in place says so
        assert not usage_state.is_fresh(conn)


def test_the_after_sync_steps_build_the_usage_state_in_the_syncs_transaction(engine, settings):
    from pathlib import Path

    from metrics.sync import CsvSource, run_sync

    fixtures = Path(__file__).parent / "fixtures" / "sync" / "basic"
    assert run_sync(engine, CsvSource(fixtures), settings=settings).status == "ok"
    with engine.connect() as conn:
        assert not usage_state.is_fresh(conn)  # run_sync alone derives nothing
    summary = run_sync(engine, CsvSource(fixtures), settings=settings, after=after_sync_steps(settings, DEMO_TODAY))
    assert summary.status == "ok"
    with engine.connect() as conn:
        assert usage_state.is_fresh(conn)
        assert conn.execute(select(schema.usage_group_daily.c.day)).first() is not None


# ---- random histories --------------------------------------------------------------------------------

BASE = D(2026, 1, 1)
RANDOM_ACCOUNTS = {f"A{i}": dict(segment=("x", "X", None, "y", "")[i % 5], seats=(3, 0, None)[i % 3])
                   for i in range(6)}
use_row = st.tuples(st.sampled_from([*RANDOM_ACCOUNTS, "ORPHAN"]), st.sampled_from(["u1", "u2", "u3"]),
                    st.integers(0, 120), st.sampled_from([0, 30, 61.5, 3600]))


@st.composite
def random_period(draw):
    start = BASE + timedelta(days=draw(st.integers(0, 130)))
    if draw(st.booleans()):
        start = start.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        return Period(start, end, "month")
    return Period(start, start + timedelta(days=draw(st.integers(1, 45))), "range")


@pytest.fixture(scope="module")
def random_engines(tmp_path_factory, _shared_engine):
    with property_engines(tmp_path_factory.mktemp("us"), _shared_engine, usage_state.TABLES) as engines:
        yield from _filled(engines)


def _filled(engines):
    for engine in engines.values():  # the accounts and subscriptions stay
        with engine.begin() as conn:
            conn.execute(insert(schema.accounts), [{"account_id": a, "name": a, **attrs}
                                                   for a, attrs in RANDOM_ACCOUNTS.items()])
            conn.execute(insert(schema.subscriptions), [
                {"subscription_id": f"s{a}", "account_id": a, "product": "core", "start_date": BASE + timedelta(days=9 * i),
                 "end_date": None if i % 2 else BASE + timedelta(days=60 + 9 * i), "mrr": 100}
                for i, a in enumerate(RANDOM_ACCOUNTS)])
    yield engines


def test_the_random_histories_run_on_duckdb_when_it_is_installed(random_engines):
    pytest.importorskip("duckdb_engine")
    assert "duckdb" in random_engines


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.lists(use_row, max_size=30), period=random_period())
def test_random_histories_give_the_same_numbers_both_ways_on_every_engine(random_engines, raw, period):
    rows = {(a, u, BASE + timedelta(days=d)): s for a, u, d, s in raw}  # one row per account, user and day
    today = D(2026, 8, 1)
    for engine in random_engines.values():
        load(engine, [(a, u, d, s) for (a, u, d), s in rows.items()], accounts=None, subscriptions=None)
        with engine.connect() as conn:
            direct, derived = calcs(conn, today)
            for p in (period, period.previous()):
                for f in (Filters(), Filters(segment="x")):
                    for name in USAGE:
                        assert measure(derived, name, p, f) == measure(direct, name, p, f), (name, p, f)
            for name in ("mau", "stickiness", "avg_usage_minutes"):
                assert breakdown(derived, name, period, Filters(), "segment") == \
                    breakdown(direct, name, period, Filters(), "segment"), name


# ---- the incremental rebuild after a sync: the same rows as a full build ---------------------------------

def state_rows(conn):
    gd = schema.usage_group_daily
    return sorted(tuple(r) for r in conn.execute(select(gd.c.day, gd.c.group_id, gd.c.user_days, gd.c.events,
                                                        gd.c.seconds, gd.c.u7, gd.c.u30)))


def add_usage(conn, rows):
    """What a sync does to usage_daily: new rows, or events and seconds added into an existing row."""
    ud = schema.usage_daily
    for a, user, d, s in rows:
        key = and_(ud.c.account_id == a, ud.c.user_id == user, ud.c.day == d)
        if conn.execute(select(ud.c.events).where(key)).first() is None:
            conn.execute(insert(ud).values(account_id=a, user_id=user, day=d, events=1, seconds=s))
        else:
            conn.execute(update(ud).where(key).values(events=ud.c.events + 1, seconds=ud.c.seconds + s))


def test_a_sync_adding_events_to_an_old_day_rebuilds_from_that_day_to_the_same_state(engine):
    load(engine, HAND)
    with engine.begin() as conn:
        assert usage_state.changed_since(conn) is None
        assert usage_state.refresh(conn) == 0  # nothing changed: only the stamp
        add_usage(conn, [("A", "u1", D(2026, 10, 3), 5), ("C", "u7", D(2026, 10, 12), 50)])
        assert usage_state.changed_since(conn) == D(2026, 10, 3)
        usage_state.refresh(conn)
        assert usage_state.is_fresh(conn) and usage_state.changed_since(conn) is None
        incremental = state_rows(conn)
        usage_state.build(conn)
        assert state_rows(conn) == incremental
        direct, derived = calcs(conn, D(2026, 12, 1))
        assert measure(derived, "mau", OCT).value == 5 == measure(direct, "mau", OCT).value
        # a later sync touching Oct 28 only: C/u9 (Oct 1, 27 days before) is still in that day's 30-day window
        add_usage(conn, [("B", "u1", D(2026, 10, 28), 5)])
        assert usage_state.changed_since(conn) == D(2026, 10, 28)
        usage_state.refresh(conn)
        incremental = state_rows(conn)
        usage_state.build(conn)
        assert state_rows(conn) == incremental


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.lists(use_row, max_size=25), later=st.lists(use_row, max_size=10))
def test_random_later_syncs_rebuild_incrementally_to_the_full_build_on_every_engine(random_engines, first, later):
    rows = {(a, u, BASE + timedelta(days=d)): s for a, u, d, s in first}
    added = [(a, u, BASE + timedelta(days=d), s) for a, u, d, s in later]
    for engine in random_engines.values():
        load(engine, [(a, u, d, s) for (a, u, d), s in rows.items()], accounts=None, subscriptions=None)
        with engine.begin() as conn:
            add_usage(conn, added)
            usage_state.refresh(conn)
            incremental = state_rows(conn)
            usage_state.build(conn)
            assert state_rows(conn) == incremental
