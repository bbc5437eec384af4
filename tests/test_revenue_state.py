"""The revenue state built at sync time (metrics/revenue_state.py, issue 16) gives exactly the numbers
the direct SQL over subscriptions gives, and is read only while it matches the data.

Every revenue metric, the movements and the accounts behind them, a breakdown by segment and a
12-month trend are computed twice on the same connection, once from the intervals and once from
the subscriptions, and must be equal to the last digit: on the demo company (loaded through the
real sync, so the after-sync step built the state), on hand-built edge cases (a zero-length row,
a downgrade to 0, a reactivation, overlapping rows of one account, an open-ended row, a row ending
on a period boundary, a paid row cancelled by a negative one) and on random histories. Runs on
SQLite, on PostgreSQL with CSBOT_TEST_DATABASE_URL, and on DuckDB when its driver is installed.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from conftest import property_engines
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, update

from metrics import revenue_state, schema
from metrics.breakdown import DIMENSIONS, breakdown, trend
from metrics.calc import Calc
from metrics.compute import measure
from metrics.derived import after_sync_steps
from metrics.filters import Filters
from metrics.periods import Period, add_months, as_date
from metrics.revenue import movement_accounts, movements
from metrics.settings import Settings
from metrics.value import monthly_churn

REVENUE = ("mrr", "arr", "arpa", "mrr_movements", "net_new_mrr", "customer_churn_rate", "revenue_churn_rate",
           "net_mrr_churn_rate", "annualized_churn_rate", "grr", "nrr", "expansion_rate", "retention_rate", "ltv",
           "quick_ratio", "upsell_rate", "cross_sell_rate", "cohort_retention",
           "onboarding_completion_rate", "ttv")  # (onboarding: its first paid days)
MOVES = ("new", "reactivation", "expansion", "contraction", "churn", "early_churn")
DEMO_TODAY = date(2026, 11, 22)


def calcs(conn, today):
    """(direct, derived): two Calcs on one connection, one reading subscriptions, one the intervals."""
    direct, derived = Calc(conn, Settings(), today=today), Calc(conn, Settings(), today=today)
    revenue_state.use(direct, False)
    revenue_state.use(derived, True)
    assert revenue_state.usable(derived), "the derived state should be fresh here"
    return direct, derived


def everything(calc, periods, span, filters=Filters()):
    """Every revenue number csbot shows for these periods, as plain data."""
    out: dict = {}
    for p in periods:
        for name in REVENUE:
            out[(name, p)] = measure(calc, name, p, filters)
        for move in MOVES:
            out[("accounts", move, p)] = movement_accounts(calc, p, filters, move, limit=None)
    for by in DIMENSIONS:  # (without filters: the groups' daily totals built with the state)
        out[f"churn by {by}"] = breakdown(calc, "customer_churn_rate", periods[0], filters, by)
        out[f"mrr by {by}"] = breakdown(calc, "mrr", periods[0], filters, by)
    out["nrr by segment"] = breakdown(calc, "nrr", periods[0], filters, "segment")
    out["movements by plan, a range"] = breakdown(calc, "mrr_movements", periods[-1], filters, "plan")
    out["churn trend"] = trend(calc, "customer_churn_rate", span, "month", filters)
    out["mrr trend"] = trend(calc, "mrr", span, "month", filters)
    out["movements trend"] = trend(calc, "mrr_movements", span, "month", filters)
    out["monthly churn"] = monthly_churn(calc, periods[0].start, 12, filters)
    return out


def assert_same(engine, today, periods, span, filters=Filters()):
    with engine.connect() as conn:
        direct, derived = calcs(conn, today)
        want, got = everything(direct, periods, span, filters), everything(derived, periods, span, filters)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == want[key], key
    return want


# ---- the demo company (loaded through the sync with its after-sync steps) -------------------------

def demo_periods():
    oct_ = Period(date(2026, 10, 1), date(2026, 11, 1), "month")
    return [
        oct_, oct_.previous(),
        Period(date(2026, 7, 1), date(2026, 10, 1), "quarter"),
        Period(date(2026, 11, 1), date(2026, 11, 23), "month", to_date=True),
        Period(date(2026, 3, 10), date(2026, 4, 25), "range"),
        Period(date(2025, 1, 1), date(2026, 1, 1), "year"),
    ]


def test_the_demo_company_gives_the_same_numbers_through_the_intervals_and_through_the_subscriptions(shared_demo):
    with shared_demo.engine.connect() as conn:
        assert revenue_state.is_fresh(conn)  # the demo loads through the sync, whose step built it
    span = Period(date(2025, 11, 1), date(2026, 11, 1), "months")
    numbers = assert_same(shared_demo.engine, DEMO_TODAY, demo_periods(), span)
    oct_ = demo_periods()[0]
    assert numbers[("customer_churn_rate", oct_)].parts["customers_start"] > 0  # a real book, not zeros
    assert len(numbers["churn trend"].points) == 12


def test_the_demo_company_by_segment_filter_gives_the_same_numbers(shared_demo):
    span = Period(date(2026, 1, 1), date(2026, 11, 1), "months")
    assert_same(shared_demo.engine, DEMO_TODAY, demo_periods()[:2], span, Filters(segment="enterprise"))


# ---- hand-built edge cases ---------------------------------------------------------------------------

D = date
SEGMENTS = {"Z": "smb", "DN": "smb", "R": "Enterprise", "O": "enterprise", "OPEN": None, "B": "mid", "NEG": "mid",
            "X": "smb", "EC": None, "FREE": "smb"}
EDGE_ROWS = [
    # a zero-length paid row before the first real one: not "paid before", so Oct is "new"
    ("Z", "core", D(2026, 6, 1), D(2026, 6, 1), 500), ("Z", "core", D(2026, 10, 3), None, 300),
    # a downgrade to a free plan (0) on Oct 12: churn in October
    ("DN", "core", D(2026, 1, 1), D(2026, 10, 12), 200), ("DN", "core", D(2026, 10, 12), None, 0),
    # paid Jan-Mar, back in October: a reactivation
    ("R", "core", D(2026, 1, 1), D(2026, 4, 1), 1000), ("R", "core", D(2026, 10, 20), None, 1200),
    # overlapping rows of one account: 100 from Feb, +50 from Sep 15 to Nov 10, +25 from Oct 1
    ("O", "core", D(2026, 2, 1), None, 100), ("O", "addon", D(2026, 9, 15), D(2026, 11, 10), 50),
    ("O", "seats", D(2026, 10, 1), None, 25.5),
    # open-ended since long ago
    ("OPEN", "core", D(2025, 5, 5), None, 12345.67),
    # ends exactly on a period boundary (Oct 1): paying at 00:00 of Sep 30, not at 00:00 of Oct 1
    ("B", "core", D(2026, 3, 1), D(2026, 10, 1), 700),
    # a paid row cancelled by a negative one for part of the time (total 0, yet a paying row runs)
    ("NEG", "core", D(2026, 8, 1), D(2026, 12, 1), 300), ("NEG", "credit", D(2026, 9, 1), D(2026, 10, 15), -300),
    # an end before its start: never runs
    ("X", "core", D(2026, 9, 10), D(2026, 9, 1), 999),
    # early churn: came and went inside October
    ("EC", "core", D(2026, 10, 5), D(2026, 10, 20), 400),
    # a free plan only
    ("FREE", "core", D(2026, 1, 1), None, 0),
]


def load(engine, rows, segments=SEGMENTS):
    """The subscriptions ``rows`` (and the accounts of ``segments``; None: keep the accounts), built."""
    with engine.begin() as conn:
        conn.execute(delete(schema.subscriptions))
        if segments is not None:
            conn.execute(delete(schema.accounts))
            conn.execute(insert(schema.accounts), [{"account_id": a, "name": a, "segment": seg,
                                                    "plan": "p" if a < "N" else None} for a, seg in segments.items()])
        if rows:
            conn.execute(insert(schema.subscriptions), [
                {"subscription_id": f"s{i}", "account_id": a, "product": p, "start_date": s, "end_date": e, "mrr": m}
                for i, (a, p, s, e, m) in enumerate(rows)])
        revenue_state.build(conn)


EDGE_TODAY = D(2026, 12, 15)


def edge_periods():
    oct_ = Period(D(2026, 10, 1), D(2026, 11, 1), "month")
    return [oct_, oct_.previous(), Period(D(2026, 9, 1), D(2026, 12, 1), "range"),
            Period(D(2026, 10, 11), D(2026, 10, 12), "day"), Period(D(2026, 1, 1), D(2026, 12, 1), "range"),
            Period(D(2026, 12, 1), D(2026, 12, 16), "month", to_date=True)]


def test_edge_cases_give_the_same_numbers_and_the_hand_counted_october(engine):
    load(engine, EDGE_ROWS)
    numbers = assert_same(engine, EDGE_TODAY, edge_periods(), Period(D(2025, 12, 1), D(2026, 12, 1), "months"))
    oct_ = edge_periods()[0]
    m = numbers[("mrr_movements", oct_)].parts
    # start (00:00 Oct 1): DN 200, O 100+50+25.5, OPEN 12345.67; NEG is 300-300 = 0; B ended on Oct 1
    assert m["customers_start"] == 3 and m["mrr_start"] == pytest.approx(200 + 175.5 + 12345.67)
    # end (00:00 Nov 1): Z 300, R 1200, O 175.5, OPEN, NEG 300
    assert m["customers_end"] == 5 and m["mrr_end"] == pytest.approx(300 + 1200 + 175.5 + 12345.67 + 300)
    assert (m["new_accounts"], m["new"]) == (1, 300)  # Z: the zero-length row in June is not a paid day
    # R, and NEG: not paying at the start (its total was 0) but it paid in August
    assert (m["reactivation_accounts"], m["reactivation"]) == (2, 1500)
    assert (m["churn_accounts"], m["churn"]) == (1, 200)  # DN, downgraded to free
    assert m["expansion_accounts"] == 0 and m["contraction_accounts"] == 0  # O's seats came at 00:00 Oct 1
    assert m["early_churn_accounts"] == 1  # EC
    sep = numbers[("mrr_movements", oct_.previous())].parts
    assert (sep["churn_accounts"], sep["churn"]) == (1, 700)  # B, ending on the boundary
    # NEG: its total is 0 at both ends of September, yet its paying row ran: early churn, as the rule reads
    assert sep["early_churn_accounts"] == 1
    assert (sep["expansion_accounts"], sep["expansion"]) == (1, 75.5)  # O: add-on from Sep 15, seats at 00:00 Oct 1
    day = numbers[("mrr_movements", edge_periods()[3])].parts  # Oct 11 alone: DN paid at its start, not at 00:00 Oct 12
    assert day["churn_accounts"] == 1 and day["mrr_end"] == pytest.approx(day["mrr_start"] - 200)


def test_the_intervals_of_overlapping_rows_are_the_sums_of_what_runs_and_the_first_paid_day(engine):
    load(engine, EDGE_ROWS)
    iv = schema.account_mrr_intervals
    with engine.connect() as conn:
        rows = conn.execute(select(iv.c.start_date, iv.c.end_date, iv.c.mrr, iv.c.paid, iv.c.first_paid)
                            .where(iv.c.account_id == "O").order_by(iv.c.start_date)).all()
        neg = conn.execute(select(iv.c.start_date, iv.c.end_date, iv.c.mrr, iv.c.paid)
                           .where(iv.c.account_id == "NEG").order_by(iv.c.start_date)).all()
        fd = schema.account_first_paid
        firsts = dict(conn.execute(select(fd.c.account_id, fd.c.first_paid)).all())
        free = conn.execute(select(iv.c.account_id, iv.c.start_date, iv.c.end_date, iv.c.mrr, iv.c.paid)
                            .where(iv.c.account_id.in_(("FREE", "X")))).all()
    open_end = revenue_state.OPEN_END
    assert [tuple(r) for r in rows] == [
        (D(2026, 2, 1), D(2026, 9, 15), 100, 1, D(2026, 2, 1)),
        (D(2026, 9, 15), D(2026, 10, 1), 150, 1, D(2026, 2, 1)),
        (D(2026, 10, 1), D(2026, 11, 10), 175.5, 1, D(2026, 2, 1)),
        (D(2026, 11, 10), open_end, 125.5, 1, D(2026, 2, 1)),
    ]
    assert [tuple(r) for r in neg] == [(D(2026, 8, 1), D(2026, 9, 1), 300, 1), (D(2026, 9, 1), D(2026, 10, 15), 0, 1),
                                       (D(2026, 10, 15), D(2026, 12, 1), 300, 1)]
    assert [tuple(r) for r in free] == [("FREE", D(2026, 1, 1), open_end, 0, 0)]  # X's row never runs
    assert firsts["Z"] == D(2026, 10, 3)  # its zero-length paid row in June is not a paid day
    assert firsts["R"] == D(2026, 1, 1) and firsts["NEG"] == D(2026, 8, 1)
    assert "FREE" not in firsts and "X" not in firsts  # never paid


# ---- freshness: the state is read only while it matches the data ---------------------------------------

def test_a_subscription_written_without_a_sync_is_counted_the_direct_way_until_the_next_build(engine):
    load(engine, EDGE_ROWS)
    oct_ = edge_periods()[0]
    with engine.begin() as conn:
        assert revenue_state.is_fresh(conn)
        conn.execute(insert(schema.subscriptions).values(subscription_id="late", account_id="FREE", product="core",
                                                         start_date=D(2026, 9, 1), end_date=None, mrr=1000))
        assert not revenue_state.is_fresh(conn)
        calc = Calc(conn, Settings(), today=EDGE_TODAY)
        assert not revenue_state.usable(calc)
        assert movements(calc, oct_, Filters()).customers_start == 4  # FREE now pays: counted
        # the stale intervals would have said 3
        stale = Calc(conn, Settings(), today=EDGE_TODAY)
        stale._memo[("revenue_state_usable",)] = True
        assert movements(stale, oct_, Filters()).customers_start == 3
        revenue_state.build(conn)
        assert revenue_state.is_fresh(conn)
        assert movements(Calc(conn, Settings(), today=EDGE_TODAY), oct_, Filters()).customers_start == 4


def test_a_deleted_row_a_later_sync_without_the_steps_and_forget_make_the_state_stale(engine):
    from metrics.clock import naive_utc

    load(engine, EDGE_ROWS)
    with engine.begin() as conn:
        conn.execute(delete(schema.subscriptions).where(schema.subscriptions.c.subscription_id == "s0"))
        assert not revenue_state.is_fresh(conn)
        revenue_state.build(conn)
        conn.execute(insert(schema.sync_log).values(source="x", started_at=naive_utc(), status="failed"))
        assert revenue_state.is_fresh(conn)  # a failed sync changed nothing
        conn.execute(insert(schema.sync_log).values(source="x", started_at=naive_utc(), status="ok"))
        assert not revenue_state.is_fresh(conn)  # a sync ran without rebuilding it
        revenue_state.build(conn)
        conn.execute(update(schema.subscriptions).where(schema.subscriptions.c.subscription_id == "s1")
                     .values(mrr=1))
        revenue_state.forget(conn)  # a tool that rewrites rows in place says so
        assert not revenue_state.is_fresh(conn)


def test_on_postgresql_a_write_counter_stamps_the_state_and_sees_an_update_in_place(engine):
    """The trigger counts every statement that writes subscriptions (in the writer's transaction); the
    stamp reads that number, one row, instead of counting the table. Without the trigger it counts."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the write counter is PostgreSQL's (run with CSBOT_TEST_DATABASE_URL)")
    from metrics.db import count_writes
    from metrics.stamps import writes_of

    count_writes(engine)  # as init_schema does (the test tables are made without it)
    load(engine, EDGE_ROWS)
    s1 = schema.subscriptions.c.subscription_id == "s1"
    with engine.begin() as conn:
        counted = conn.execute(select(writes_of(schema.subscriptions))).scalar_one()
        assert counted.startswith("w") and int(counted[1:]) >= 1  # the load's statements, counted
        assert revenue_state.is_fresh(conn)
        conn.execute(update(schema.subscriptions).where(s1).values(mrr=1))  # in place: a count would not see it
        assert conn.execute(select(writes_of(schema.subscriptions))).scalar_one() == f"w{int(counted[1:]) + 1}"
        assert not revenue_state.is_fresh(conn)
        revenue_state.build(conn)
        assert revenue_state.is_fresh(conn)
        conn.exec_driver_sql("DROP TRIGGER csbot_writes_subscriptions ON subscriptions")  # a user who may not make one
        assert conn.execute(select(writes_of(schema.subscriptions))).scalar_one() == \
            f"c{conn.execute(select(func.count()).select_from(schema.subscriptions)).scalar_one()}"
        revenue_state.build(conn)
        conn.execute(delete(schema.subscriptions).where(s1))
        assert not revenue_state.is_fresh(conn)  # the count still sees a delete


def test_the_after_sync_steps_build_the_state_in_the_syncs_transaction(engine, settings):
    from pathlib import Path

    from metrics.sync import CsvSource, run_sync

    fixtures = Path(__file__).parent / "fixtures" / "sync" / "basic"
    assert run_sync(engine, CsvSource(fixtures), settings=settings).status == "ok"
    with engine.connect() as conn:
        assert not revenue_state.is_fresh(conn)  # run_sync alone derives nothing
    summary = run_sync(engine, CsvSource(fixtures), settings=settings, after=after_sync_steps(settings, EDGE_TODAY))
    assert summary.status == "ok"
    with engine.connect() as conn:
        assert revenue_state.is_fresh(conn)
        n = conn.execute(select(schema.account_mrr_intervals.c.account_id)).all()
    assert n  # the fixture's paying accounts have intervals


def test_an_accounts_only_sync_that_moves_an_account_to_another_segment_changes_the_breakdown(engine, settings, tmp_path):
    """The groups by account dimension are built from the accounts: a sync of the accounts alone rebuilds
    them (the stamp holds the sync), and the derived breakdown stays the direct one."""
    import shutil
    from pathlib import Path

    from metrics.sync import CsvSource, run_sync

    fixtures = Path(__file__).parent / "fixtures" / "sync" / "basic"
    steps = after_sync_steps(settings, EDGE_TODAY)
    assert run_sync(engine, CsvSource(fixtures), settings=settings, after=steps).status == "ok"
    month = Period(D(2026, 11, 1), D(2026, 12, 1), "month")

    def by_segment():
        with engine.connect() as conn:
            direct, derived = calcs(conn, EDGE_TODAY)
            got = breakdown(derived, "mrr", month, Filters(), "segment")
            assert got == breakdown(direct, "mrr", month, Filters(), "segment")
            n = conn.execute(select(func.count()).select_from(schema.subscriptions)).scalar_one()
        return {g.value: g.current.value for g in got.groups}, got.total.value, n

    before, total, n = by_segment()
    assert before.get("enterprise") and before.get("mid-market")  # A1 (enterprise) pays in the fixture
    only = tmp_path / "accounts-only"
    only.mkdir()
    shutil.copy(fixtures / "accounts.csv", only / "accounts.csv")
    text = (only / "accounts.csv").read_text(encoding="utf-8")
    (only / "accounts.csv").write_text(text.replace("A1,Acme,pro,enterprise,", "A1,Acme,pro,mid-market,"), encoding="utf-8")
    assert run_sync(engine, CsvSource(only), settings=settings, after=steps).status == "ok"
    after, total_after, n_after = by_segment()
    assert n_after == n and total_after == total  # the subscriptions are untouched: only the groups moved
    assert after != before
    assert round(after.get("mid-market", 0) + after.get("enterprise", 0), 2) == \
        round(before["mid-market"] + before["enterprise"], 2)
    assert after["mid-market"] > before["mid-market"] and after.get("enterprise", 0) < before["enterprise"]


def test_the_stored_months_and_groups_are_what_an_answer_reads_and_what_the_intervals_give(engine):
    """revenue_monthly holds each month's movements as counted off the intervals, and an answer without
    filters reads it (a changed row shows); revenue_daily_groups likewise for a breakdown."""
    load(engine, EDGE_ROWS)
    oct_ = edge_periods()[0]
    with engine.begin() as conn:
        rm = schema.revenue_monthly
        stored = {m: c for m, c in conn.execute(select(rm.c.month, rm.c.cell)).all()}
        months = sorted(as_date(m) for m in stored)
        # from the first interval's month (the open row of May 2025) to the month after the last change (Dec 2026)
        assert months[0] == D(2025, 5, 1) and months[-1] == D(2027, 1, 1)
        periods = [Period(m, add_months(m, 1), "month") for m in months]
        live = revenue_state._movements(conn, periods, Filters(), None)
        products = revenue_state._product_moves(conn, periods, Filters())
        cells = {as_date(m): json.loads(c) for m, c in stored.items()}
        assert {m: tuple(cell.pop("products")) for m, cell in cells.items()} == \
            {m: products.get(j, (0, 0)) for j, m in enumerate(months)}
        assert cells == {months[j]: cell for j, cell in live[None].items()}
        # O's add-on (from Sep 15) and seats (from 00:00 Oct 1): one cross-sell in September
        assert tuple(json.loads(stored[next(m for m in stored if as_date(m) == D(2026, 9, 1))])
                     ["products"]) == (0, 1)
        calc = Calc(conn, Settings(), today=EDGE_TODAY)
        assert movements(calc, oct_, Filters()).counts["churn"] == 1
        cell = json.loads(conn.execute(select(rm.c.cell).where(rm.c.month == oct_.start)).scalar_one())
        cell["n_churn"] = 7
        conn.execute(update(rm).where(rm.c.month == oct_.start).values(cell=json.dumps(cell)))
        assert movements(Calc(conn, Settings(), today=EDGE_TODAY), oct_, Filters()).counts["churn"] == 7
        assert movements(Calc(conn, Settings(), today=EDGE_TODAY), oct_, Filters(segment="smb")).counts["churn"] == 1
        rg = schema.revenue_daily_groups
        conn.execute(update(rg).where(rg.c.dim == "segment", rg.c.key == "smb").values(paying=rg.c.paying + 100))
        b = breakdown(Calc(conn, Settings(), today=EDGE_TODAY), "mrr", oct_, Filters(), "segment")
        assert {g.value: g.current.parts["paying_customers"] for g in b.groups}["smb"] >= 100
        keys = schema.revenue_group_keys
        labels = dict(conn.execute(select(keys.c.key, keys.c.label).where(keys.c.dim == "segment")).all())
        assert labels == {"": None, "smb": "smb", "enterprise": "Enterprise", "mid": "mid"}


# ---- random histories --------------------------------------------------------------------------------

BASE = D(2026, 1, 1)
ACCOUNTS = [f"A{i}" for i in range(6)]
sub_row = st.tuples(
    st.sampled_from(ACCOUNTS), st.sampled_from(["core", "addon"]), st.integers(0, 300),
    st.one_of(st.none(), st.integers(-3, 200)),  # length in days (None: open; 0 or less: never runs)
    st.sampled_from([0, 1000, 2500, 5000, 12345.67, -1000]),
)


@st.composite
def random_period(draw):
    if draw(st.booleans()):
        first = add_months(BASE, draw(st.integers(0, 10)))
        return Period(first, add_months(first, draw(st.sampled_from([1, 1, 3]))), "month")
    start = BASE + timedelta(days=draw(st.integers(0, 330)))
    return Period(start, start + timedelta(days=draw(st.integers(1, 70))), "range")


RANDOM_VALUES = ("Pro", "pro", "", None, "basic")


@pytest.fixture(scope="module")
def random_engines(tmp_path_factory, _shared_engine):
    with property_engines(tmp_path_factory.mktemp("rs"), _shared_engine, revenue_state.TABLES) as engines:
        yield from _filled(engines)


def _filled(engines):
    for engine in engines.values():  # the accounts stay (DuckDB refuses to delete a referenced key in one transaction)
        with engine.begin() as conn:
            conn.execute(insert(schema.accounts), [
                {"account_id": a, "name": a, "segment": "x" if i % 2 else None,
                 # every dimension: values in two cases, empty, missing
                 **{by: RANDOM_VALUES[(i + k) % len(RANDOM_VALUES)] for k, by in enumerate(DIMENSIONS) if by != "segment"}}
                for i, a in enumerate(ACCOUNTS)])
    yield engines


def test_the_random_histories_run_on_duckdb_when_it_is_installed(random_engines):
    pytest.importorskip("duckdb_engine")
    assert "duckdb" in random_engines


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.lists(sub_row, max_size=14), period=random_period())
def test_random_histories_give_the_same_numbers_both_ways_on_every_engine(random_engines, raw, period):
    rows = [(a, p, BASE + timedelta(days=s), None if n is None else BASE + timedelta(days=s + n), m)
            for a, p, s, n, m in raw]
    today = D(2027, 6, 1)
    for engine in random_engines.values():
        load(engine, rows, None)
        with engine.connect() as conn:
            direct, derived = calcs(conn, today)
            for p in (period, period.previous()):
                for name in ("mrr", "mrr_movements", "customer_churn_rate", "nrr", "grr", "ltv", "arpa", "cohort_retention",
                             "upsell_rate", "cross_sell_rate"):
                    assert measure(derived, name, p) == measure(direct, name, p), (name, p)
                for move in MOVES:
                    assert movement_accounts(derived, p, Filters(), move, None) == \
                        movement_accounts(direct, p, Filters(), move, None)
            for by in DIMENSIONS:
                for name in ("mrr_movements", "mrr"):
                    assert breakdown(derived, name, period, Filters(), by) == breakdown(direct, name, period, Filters(), by)
            span = Period(add_months(BASE, 1), add_months(BASE, 13), "months")  # every month (stored or not) both ways
            assert trend(derived, "mrr_movements", span, "month", Filters()) == \
                trend(direct, "mrr_movements", span, "month", Filters())
