"""Random subscription histories, NPS answers and usage checked against a
deliberately naive day-by-day Python reference, on SQLite (or PostgreSQL when
CSBOT_TEST_DATABASE_URL is set) and on DuckDB; and the identities
net new MRR = MRR(end) - MRR(start) and NRR = GRR + expansion rate.
"""

from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import create_engine, delete

from metrics import schema
from metrics.calc import Calc
from metrics.compute import measure
from metrics.db import make_engine
from metrics.periods import Period, add_months, month_start
from metrics.settings import Settings

BASE = date(2026, 1, 1)
TODAY = date(2027, 6, 1)  # every month end the histories reach is known
EXAMPLES = 40


# ---- engines -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def engines(tmp_path_factory, _shared_engine):
    main = _shared_engine
    if main is None:
        main = make_engine(f"sqlite:///{tmp_path_factory.mktemp('props') / 'p.db'}")
    else:  # PostgreSQL: this process's schema, emptied
        schema.metadata.drop_all(main)
    schema.metadata.create_all(main)
    duck = create_engine("duckdb:///:memory:")
    # DuckDB has no SERIAL: create the data tables only (the metrics read nothing else).
    schema.metadata.create_all(duck, tables=list(schema.DATA_TABLES))
    for engine in (main, duck):  # the accounts stay; DuckDB refuses to delete a referenced key in one transaction
        with engine.begin() as conn:
            conn.execute(schema.accounts.insert(), [{"account_id": a, "name": a, "seats": 5} for a in ACCOUNTS])
    yield {"main": main, "duckdb": duck}
    duck.dispose()


def _reset(engine, subs, nps=(), usage=()):
    with engine.begin() as conn:
        for table in (schema.subscriptions, schema.nps_responses, schema.usage_daily):
            conn.execute(delete(table))
        if subs:
            conn.execute(schema.subscriptions.insert(), [
                {"subscription_id": f"s{i}", "account_id": a, "product": p, "start_date": s, "end_date": e, "mrr": m}
                for i, (a, p, s, e, m) in enumerate(subs)])
        if nps:
            conn.execute(schema.nps_responses.insert(), [
                {"response_id": f"n{i:03d}", "account_id": a, "respondent": r, "score": sc, "responded_at": t}
                for i, (a, r, sc, t) in enumerate(nps)])
        if usage:
            conn.execute(schema.usage_daily.insert(), [
                {"account_id": a, "user_id": u, "day": d, "events": 1, "seconds": sec} for (a, u, d), sec in usage])


def _measure_all(engine, names, period):
    with engine.connect() as conn:
        calc = Calc(conn, Settings())
        calc.today = TODAY
        return {n: measure(calc, n, period) for n in names}


# ---- strategies --------------------------------------------------------------------

ACCOUNTS = [f"A{i}" for i in range(6)]

sub_row = st.tuples(
    st.sampled_from(ACCOUNTS),
    st.sampled_from(["core", "addon"]),
    st.integers(0, 300),  # start offset from BASE
    st.one_of(st.none(), st.integers(1, 200)),  # length in days (None: open)
    st.sampled_from([0, 1000, 2500, 5000, 12345.67]),
)


@st.composite
def periods(draw):
    if draw(st.booleans()):
        first = add_months(BASE, draw(st.integers(0, 10)))
        return Period(first, add_months(first, draw(st.sampled_from([1, 1, 3]))), "month")
    start = BASE + timedelta(days=draw(st.integers(0, 330)))
    return Period(start, start + timedelta(days=draw(st.integers(1, 70))), "range")


def _rows(raw):
    return [(a, p, BASE + timedelta(days=s), None if n is None else BASE + timedelta(days=s + n), m)
            for a, p, s, n, m in raw]


# ---- the naive reference -------------------------------------------------------------

def mrr_on(rows, account, day, product=None):
    return sum(m for a, p, s, e, m in rows
               if a == account and (product is None or p == product) and s <= day and (e is None or day < e))


def first_paid_day(rows, account):
    day = BASE
    while day < BASE + timedelta(days=600):
        if mrr_on(rows, account, day) > 0:
            return day
        day += timedelta(days=1)
    return None


def reference(rows, period: Period) -> dict:
    start, end = period.start, period.end
    m0 = {a: round(mrr_on(rows, a, start), 2) for a in ACCOUNTS}
    m1 = {a: round(mrr_on(rows, a, end), 2) for a in ACCOUNTS}
    S = [a for a in ACCOUNTS if m0[a] > 0]
    E = [a for a in ACCOUNTS if m1[a] > 0]
    paid_before = {a: any(mrr_on(rows, a, BASE + timedelta(days=i)) > 0 for i in range((start - BASE).days))
                   for a in ACCOUNTS}
    churn = sum(m0[a] for a in S if a not in E)
    expansion = sum(m1[a] - m0[a] for a in S if a in E and m1[a] > m0[a])
    contraction = sum(m0[a] - m1[a] for a in S if a in E and m1[a] < m0[a])
    new = sum(m1[a] for a in E if a not in S and not paid_before[a])
    mrr_start = sum(m0.values())
    out = {
        "customer_churn_rate": len([a for a in S if a not in E]) / len(S) if S else None,
        "retention_rate": len([a for a in S if a in E]) / len(S) if S else None,
        "grr": (mrr_start - churn - contraction) / mrr_start if S else None,
        "nrr": sum(m1[a] for a in S) / mrr_start if S else None,
        "expansion_rate": expansion / mrr_start if S else None,
        "net_mrr_churn_rate": (churn + contraction - expansion) / mrr_start if S else None,
        "quick_ratio": (new + expansion) / (churn + contraction) if churn + contraction else None,
        "net_new_mrr": sum(m1.values()) - mrr_start,
    }
    c = out["customer_churn_rate"]
    out["annualized_churn_rate"] = None if c is None else 1 - (1 - c) ** (12 / period.months)
    products = ("core", "addon")
    up = [a for a in S if any(0 < mrr_on(rows, a, start, p) < mrr_on(rows, a, end, p) for p in products)]
    cross = [a for a in S if any(mrr_on(rows, a, start, p) <= 0 < mrr_on(rows, a, end, p) for p in products)]
    out["upsell_rate"] = len(up) / len(S) if S else None
    out["cross_sell_rate"] = len(cross) / len(S) if S else None
    # cohort: first paid day in the period; paying at the end of the month after its month
    members = [a for a in ACCOUNTS if (fp := first_paid_day(rows, a)) is not None and start <= fp < end]
    kept = [a for a in members if mrr_on(rows, a, add_months(month_start(first_paid_day(rows, a)), 2)) > 0]
    out["cohort_retention"] = len(kept) / len(members) if members else None
    # LTV: ARPA at the end / mean monthly churn of the six months ending with the period's last month
    paying_end = [a for a in ACCOUNTS if m1[a] > 0]
    arpa = sum(m1[a] for a in paying_end) / len(paying_end) if paying_end else None
    rates = []
    for i in range(6):
        ms = add_months(month_start(period.last_day), i - 5)
        at_start = [a for a in ACCOUNTS if mrr_on(rows, a, ms) > 0]
        if at_start:
            rates.append(len([a for a in at_start if mrr_on(rows, a, add_months(ms, 1)) <= 0]) / len(at_start))
    mean = statistics.mean(rates) if rates else None
    out["ltv"] = arpa / mean if arpa is not None and mean else None
    return out


CHECKED = ("customer_churn_rate", "retention_rate", "grr", "nrr", "expansion_rate", "net_mrr_churn_rate",
           "quick_ratio", "net_new_mrr", "annualized_churn_rate", "upsell_rate", "cross_sell_rate",
           "cohort_retention", "ltv")


MONEY = ("net_new_mrr", "ltv")  # rounded to the cent


def _close(a, b, money=False):
    if a is None or b is None:
        return a is None and b is None
    return a == pytest.approx(b, rel=1e-9, abs=0.006 if money else 1e-9)


@hsettings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.lists(sub_row, max_size=12), period=periods())
def test_revenue_metrics_match_a_naive_day_by_day_reference_on_every_database(engines, raw, period):
    rows = _rows(raw)
    expected = reference(rows, period)
    results = {}
    for name, engine in engines.items():
        _reset(engine, rows)
        results[name] = _measure_all(engine, CHECKED + ("mrr_movements", "mrr"), period)
    for name, got in results.items():
        for metric in CHECKED:
            assert _close(got[metric].value, expected[metric], metric in MONEY), (name, metric, got[metric].value, expected[metric])
        # identities
        moves = got["mrr_movements"].parts
        assert moves["net_new_mrr"] == pytest.approx(moves["mrr_end"] - moves["mrr_start"], abs=0.005)
        nrr, grr, exp = got["nrr"].value, got["grr"].value, got["expansion_rate"].value
        if nrr is None:
            assert grr is None and exp is None
        else:
            assert nrr == pytest.approx(grr + exp, abs=1e-12)
    # identical on every database, parts included
    main, duck = results["main"], results["duckdb"]
    for metric in CHECKED:
        assert main[metric].value == duck[metric].value and main[metric].parts == duck[metric].parts, metric


nps_answer = st.tuples(
    st.sampled_from(ACCOUNTS[:3]),
    st.one_of(st.none(), st.sampled_from(["u1", "u2", "u3"])),
    st.integers(0, 10),
    st.integers(0, 60 * 24 * 90),  # minutes after 2026-03-01
)
usage_day = st.tuples(st.sampled_from(ACCOUNTS[:3]), st.sampled_from(["u1", "u2", "u3", "u4"]),
                      st.integers(0, 80))


@hsettings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=st.lists(nps_answer, max_size=25), days=st.lists(usage_day, max_size=40, unique=True),
       period=periods())
def test_nps_and_usage_match_a_naive_reference(engines, answers, days, period):
    t0 = datetime(2026, 3, 1)
    nps = [(a, r, s, t0 + timedelta(minutes=m)) for a, r, s, m in answers]
    usage = [((a, u, date(2026, 3, 1) + timedelta(days=d)), 60.0 * (d + 1)) for a, u, d in days]
    # NPS reference: latest answer per (account, respondent) inside the period; no respondent = its own.
    lo, hi = datetime.combine(period.start, datetime.min.time()), datetime.combine(period.end, datetime.min.time())
    latest: dict = {}
    for i, (a, r, s, t) in enumerate(nps):
        if lo <= t < hi:
            key = (a, r if r is not None else f"n{i:03d}")
            if key not in latest or (t, f"n{i:03d}") > latest[key][0]:
                latest[key] = ((t, f"n{i:03d}"), s)
    scores = [s for _, s in latest.values()]
    expected_nps = (round(100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores))
                    if scores else None)
    # usage reference on the period's last day d
    d = period.last_day
    users_in = lambda lo_day: {(a, u) for (a, u, day), _ in usage if lo_day <= day <= d}  # noqa: E731
    mau, wau, dau = users_in(d - timedelta(days=29)), users_in(d - timedelta(days=6)), users_in(d)
    user_days = sum(1 for (a, u, day), _ in usage if d - timedelta(days=29) <= day <= d)
    in_period = [sec for (a, u, day), sec in usage if period.start <= day < period.end]
    expected = {
        "nps": expected_nps, "dau": len(dau), "wau": len(wau), "mau": len(mau),
        "stickiness": (user_days / 30) / len(mau) if mau else None,
        "avg_usage_minutes": round(sum(in_period) / 60 / len(in_period), 2) if in_period else None,
    }
    for name, engine in engines.items():
        _reset(engine, [], nps, usage)
        got = _measure_all(engine, tuple(expected), period)
        for metric, want in expected.items():
            assert _close(got[metric].value, want), (name, metric, got[metric].value, want)
