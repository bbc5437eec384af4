"""A metric split by an account dimension and over time (metrics/breakdown.py): each group's number
is the metric computed with that value as a filter, the counts add up to the whole, the accounts
with no value form a group of their own, a trend's points are the metric of each unit, and the
work is a few grouped statements, not one per value or per unit."""

from datetime import date

import pytest
from sqlalchemy import event

from metrics import schema
from metrics.breakdown import PRIMERS, NotBreakable, breakdown, can_break_down, trend, units
from metrics.calc import Calc
from metrics.compute import compute_metric
from metrics.filters import Filters
from metrics.grouping import MissingValue, filters_for
from metrics.periods import Period
from metrics.settings import Settings

TODAY = date(2026, 11, 22)  # the demo's today (tests/conftest.py)
OCT = Period(date(2026, 10, 1), date(2026, 11, 1), "month")
Q3 = Period(date(2026, 7, 1), date(2026, 10, 1), "quarter")
SETTINGS = Settings(database_url="sqlite:///unused-in-tests.db")
# The demo's surveys and onboarding cohorts are quarterly: a quarter has answers in every segment.
PERIOD_OF = {"nps": Q3, "csat": Q3, "onboarding_completion_rate": Q3, "ttv": Q3}


def calc(conn) -> Calc:
    return Calc(conn, SETTINGS, today=TODAY)


def alone(conn, name, period, filters):
    """The metric computed on its own (a fresh memo), as an answer with that filter would."""
    return compute_metric(conn, name, period, filters, calc=calc(conn))


@pytest.mark.parametrize("by", ["segment", "owner"])
@pytest.mark.parametrize("name", sorted(PRIMERS))
def test_each_group_is_the_metric_filtered_to_its_value_on_the_demo(shared_demo, name, by):
    period = PERIOD_OF.get(name, OCT)
    with shared_demo.engine.connect() as conn:
        b = breakdown(calc(conn), name, period, Filters(), by)
        assert len(b.groups) >= 3
        for g in b.groups:
            want = alone(conn, name, period, filters_for(Filters(), by, g.value))
            assert (g.current, g.previous) == (want.current, want.previous), (name, g.value)
        whole = alone(conn, name, period, Filters())
        assert (b.total, b.previous_total) == (whole.current, whole.previous)
        assert any(g.current.value is not None for g in b.groups)


@pytest.mark.parametrize("by", ["plan", "region", "touch_model"])
@pytest.mark.parametrize("name", ["customer_churn_rate", "nrr", "mrr", "mau", "health_score"])
def test_every_dimension_splits_the_same_way(shared_demo, name, by):
    with shared_demo.engine.connect() as conn:
        b = breakdown(calc(conn), name, OCT, Filters(), by)
        assert len(b.groups) >= 2
        for g in b.groups:
            assert g.current == alone(conn, name, OCT, filters_for(Filters(), by, g.value)).current


# (metric, count parts that add up over the groups)
ADDITIVE = [
    ("customer_churn_rate", ("customers_start", "churned_accounts", "customers_end", "early_churn_accounts")),
    ("mrr_movements", ("customers_start", "customers_end", "new_accounts", "churn_accounts", "expansion_accounts")),
    ("mrr", ("paying_customers",)),
    ("nps", ("responses", "promoters", "detractors")),
    ("csat", ("responses", "satisfied")),
    ("avg_usage_minutes", ("user_days",)),
    ("mau", ("mau",)),
    ("seat_utilization", ("accounts", "seats", "mau")),
    ("onboarding_completion_rate", ("accounts", "completed")),
    ("health_score", ("accounts", "green_accounts", "red_accounts")),
]


@pytest.mark.parametrize("name, counts", ADDITIVE)
def test_the_groups_counts_add_up_to_the_whole(shared_demo, name, counts):
    period = PERIOD_OF.get(name, OCT)
    with shared_demo.engine.connect() as conn:
        for by in ("segment", "owner"):
            b = breakdown(calc(conn), name, period, Filters(), by)
            for part in counts:
                assert sum(g.current.parts[part] for g in b.groups) == b.total.parts[part], (by, part)
                assert sum(g.previous.parts[part] for g in b.groups) == b.previous_total.parts[part], (by, part)
            assert b.total.parts[counts[0]] > 0


def test_money_adds_up_to_the_whole_mrr(shared_demo):
    with shared_demo.engine.connect() as conn:
        b = breakdown(calc(conn), "mrr", OCT, Filters(), "region")
        assert sum(g.current.value for g in b.groups) == pytest.approx(b.total.value, abs=0.01)


def test_a_breakdown_keeps_the_filters_of_the_question(shared_demo):
    with shared_demo.engine.connect() as conn:
        smb = Filters(segment="smb")
        b = breakdown(calc(conn), "customer_churn_rate", OCT, smb, "owner")
        for g in b.groups:
            want = alone(conn, "customer_churn_rate", OCT, filters_for(smb, "owner", g.value))
            assert g.current == want.current
        assert sum(g.current.parts["customers_start"] for g in b.groups) == \
            alone(conn, "customer_churn_rate", OCT, smb).current.parts["customers_start"]


def test_a_breakdown_is_a_few_grouped_statements_not_one_per_value(shared_demo):
    with shared_demo.engine.connect() as conn:
        statements = []
        event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        b = breakdown(calc(conn), "customer_churn_rate", OCT, Filters(), "owner")
        assert len(b.groups) >= 5
        # the stored labels, the grouped movements of both periods, and the whole for each period
        assert len(statements) <= 4, statements


@pytest.mark.parametrize("name", ["cohort_retention", "ltv"])
def test_a_metric_that_does_not_split_honestly_says_so(shared_demo, name):
    assert not can_break_down(name)
    with shared_demo.engine.connect() as conn, pytest.raises(NotBreakable):
        breakdown(calc(conn), name, OCT, Filters(), "segment")


def test_an_unknown_dimension_is_refused(shared_demo):
    with shared_demo.engine.connect() as conn, pytest.raises(NotBreakable):
        breakdown(calc(conn), "mrr", OCT, Filters(), "industry")
    assert not can_break_down("no_such_metric")


# ---- a small company, counted by hand ------------------------------------------------------

def load_small(engine):
    """Oct 2026, by segment (segments "Enterprise"/"enterprise" are one; NULL and "" are "no value"):
    enterprise: A 100 stays, B 200 leaves Oct 15            -> churn 1/2, MRR at the end 100
    smb:        C 50 -> 80 on Oct 10, D 30 leaves Oct 20, E 40 -> churn 1/3, MRR at the end 120
    no value:   F (NULL) new at 60 on Oct 5, G ("") 70 leaves Oct 2 -> churn 1/1, MRR at the end 60
    the whole:  churn 3/6 = 0.5, MRR at the end 280."""
    accounts = [("A", "Enterprise"), ("B", "enterprise"), ("C", "smb"), ("D", "smb"), ("E", "smb"), ("F", None),
                ("G", "")]
    subs = [
        ("A", date(2026, 1, 1), None, 100), ("B", date(2026, 1, 1), date(2026, 10, 15), 200),
        ("C", date(2026, 1, 1), date(2026, 10, 10), 50), ("C", date(2026, 10, 10), None, 80),
        ("D", date(2026, 1, 1), date(2026, 10, 20), 30), ("E", date(2026, 1, 1), None, 40),
        ("F", date(2026, 10, 5), None, 60), ("G", date(2026, 1, 1), date(2026, 10, 2), 70),
    ]
    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [{"account_id": a, "name": a, "segment": seg} for a, seg in accounts])
        conn.execute(schema.subscriptions.insert(), [
            {"subscription_id": str(i), "account_id": a, "product": "core", "start_date": s, "end_date": e, "mrr": m}
            for i, (a, s, e, m) in enumerate(subs)])


def test_hand_counted_churn_and_mrr_per_segment(engine):
    load_small(engine)
    with engine.connect() as conn:
        churn = breakdown(calc(conn), "customer_churn_rate", OCT, Filters(), "segment")
        mrr = breakdown(calc(conn), "mrr", OCT, Filters(), "segment")
    assert [g.value for g in churn.groups] == ["Enterprise", "smb", None]  # by value, no value last
    assert [g.current.value for g in churn.groups] == pytest.approx([1 / 2, 1 / 3, 1.0])
    assert [g.current.parts["customers_start"] for g in churn.groups] == [2, 3, 1]
    assert churn.total.value == pytest.approx(0.5)
    assert [g.current.value for g in mrr.groups] == pytest.approx([100, 120, 60])
    assert mrr.total.value == pytest.approx(280)
    # September: nobody left, everyone but F was paying
    assert [g.previous.value for g in churn.groups] == [0.0, 0.0, 0.0]
    assert [g.previous.value for g in mrr.groups] == pytest.approx([300, 120, 70])


def test_hand_counted_movements_per_segment(engine):
    load_small(engine)
    with engine.connect() as conn:
        b = breakdown(calc(conn), "mrr_movements", OCT, Filters(), "segment")
    parts = {g.value: g.current.parts for g in b.groups}
    assert parts["smb"]["expansion"] == 30 and parts["smb"]["churn"] == 30
    assert parts[None]["new"] == 60 and parts[None]["churn"] == 70 and parts[None]["new_accounts"] == 1
    assert parts["Enterprise"]["churn"] == 200 and b.total.value == pytest.approx(280 - 490)  # MRR at the start: 490


def test_the_no_value_group_is_the_accounts_without_one(engine):
    load_small(engine)
    with engine.connect() as conn:
        b = breakdown(calc(conn), "revenue_churn_rate", OCT, Filters(), "segment")
        none = b.groups[-1]
        assert none.value is None and none.current.value == pytest.approx(70 / 70)
        # the same number as the filter "no segment" counts it on its own
        assert none.current == alone(conn, "revenue_churn_rate", OCT, MissingValue(missing="segment")).current


# ---- trends ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, grain", [
    ("customer_churn_rate", "month"), ("nrr", "month"), ("mrr", "month"), ("net_new_mrr", "quarter"),
    ("revenue_churn_rate", "week"), ("nps", "quarter"), ("dau", "month"),
])
def test_trend_points_are_the_metric_of_each_unit(shared_demo, name, grain):
    span = Period(date(2026, 1, 1), date(2027, 1, 1), "year")
    with shared_demo.engine.connect() as conn:
        tr = trend(calc(conn), name, span, grain, Filters(segment="smb"))
        assert tr.points[-1][0].to_date and tr.points[-1][0].end == date(2026, 11, 23)  # up to today
        for p, m in tr.points:
            assert m == alone(conn, name, p, Filters(segment="smb")).current, p
    if grain == "month":
        assert len(tr.points) == 11


def test_a_revenue_trend_is_one_statement_for_every_month(shared_demo):
    span = Period(date(2025, 11, 1), date(2026, 11, 1), "months")
    with shared_demo.engine.connect() as conn:
        statements = []
        event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        tr = trend(calc(conn), "nrr", span, "month", Filters())
    assert len(tr.points) == 12 and len(statements) <= 3  # (derived: the freshness check, totals, changes)


def test_units_of_a_span_stop_at_today_with_the_one_in_progress_to_date():
    got = units(Period(date(2026, 10, 1), date(2027, 1, 1), "quarter"), "month", TODAY)
    assert [(p.start, p.end, p.to_date) for p in got] == [
        (date(2026, 10, 1), date(2026, 11, 1), False), (date(2026, 11, 1), date(2026, 11, 23), True)]


@pytest.mark.parametrize("name", ["customer_churn_rate", "nrr", "arpa", "dau", "csat"])
def test_a_period_to_date_splits_against_the_same_days_of_the_month_before(shared_demo, name):
    to_date = Period(date(2026, 11, 1), date(2026, 11, 23), "month", to_date=True)
    with shared_demo.engine.connect() as conn:
        b = breakdown(calc(conn), name, to_date, Filters(), "region")
        assert b.previous_period == Period(date(2026, 10, 1), date(2026, 10, 23), "month", to_date=True)
        for g in b.groups:
            want = alone(conn, name, to_date, filters_for(Filters(), "region", g.value))
            assert (g.current, g.previous) == (want.current, want.previous), g.value


def test_a_long_weekly_trend_is_counted_in_chunks_of_units(shared_demo):
    span = Period(date(2025, 1, 6), date(2026, 11, 2), "range")  # 95 weeks, Monday to Monday
    with shared_demo.engine.connect() as conn:
        statements = []
        event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        tr = trend(calc(conn), "customer_churn_rate", span, "week", Filters())
        assert len(tr.points) == 95 and len(statements) <= 7  # 36 + 36 + 23 weeks (derived: 2 a chunk + freshness)
        for p, m in tr.points[::10]:
            assert m == alone(conn, "customer_churn_rate", p, Filters()).current, p
