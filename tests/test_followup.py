"""Follow-ups in a thread refine the thread's last question: "and by segment?", "Q2は？",
"enterpriseだけ" keep what was asked before and change only what they name; the thread's
question survives a restart (it is stored), expires, and never leaks across threads."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from commands.context import Context
from commands.followup import from_data, is_follow_up, recall, refine, remember, to_data
from commands.query import Query
from metrics.filters import Filters
from metrics.periods import Period

NOV = Period(date(2026, 11, 1), date(2026, 12, 1), "month")
Q2 = Period(date(2026, 4, 1), date(2026, 7, 1), "quarter")
Q3 = Period(date(2026, 7, 1), date(2026, 10, 1), "quarter")
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)

CHURN_NOV = Query(intent="value", command="churn", metrics=("customer_churn_rate",), periods=(NOV,),
                  period_words=("last month",), filters=Filters(owner=("alice@example.com",)), text="churn last month")


def test_by_segment_turns_the_question_into_a_breakdown_of_the_same_metric_period_and_filters():
    q = refine(CHURN_NOV, Query(intent="breakdown", by="segment", text="and by segment?"))
    assert (q.intent, q.by, q.metrics, q.periods, q.filters) == (
        "breakdown", "segment", ("customer_churn_rate",), (NOV,), Filters(owner=("alice@example.com",)))


def test_a_period_replaces_the_period_and_keeps_the_rest():
    q = refine(CHURN_NOV, Query(periods=(Q2,), period_words=("Q2",), text="Q2は？"))
    assert (q.intent, q.metrics, q.periods, q.period_words) == ("value", ("customer_churn_rate",), (Q2,), ("Q2",))
    assert q.filters == CHURN_NOV.filters


def test_a_filter_is_added_to_the_previous_filters():
    q = refine(CHURN_NOV, Query(filters=Filters(segment="enterprise"), text="enterpriseだけ"))
    assert q.filters == Filters(segment="enterprise", owner=("alice@example.com",))
    assert q.periods == (NOV,) and q.metrics == ("customer_churn_rate",)


def test_a_named_filter_field_replaces_the_same_field():
    prev = refine(CHURN_NOV, Query(filters=Filters(segment="enterprise")))
    q = refine(prev, Query(filters=Filters(segment="smb")))
    assert q.filters.segment == "smb"


def test_two_periods_make_a_comparison_and_one_period_ends_it():
    compared = refine(CHURN_NOV, Query(intent="compare", periods=(Q2, Q3)))
    assert (compared.intent, compared.periods) == ("compare", (Q2, Q3))
    single = refine(compared, Query(periods=(Q3,)))
    assert (single.intent, single.periods) == ("value", (Q3,))


def test_versus_one_period_compares_it_with_the_previous_period():
    q = refine(CHURN_NOV, Query(intent="compare", periods=(Q3,), period_words=("Q3",), text="vs Q3"))
    assert (q.intent, q.periods) == ("compare", (NOV, Q3))


def test_a_grain_makes_a_trend_over_the_default_span_and_drops_the_breakdown():
    by_seg = refine(CHURN_NOV, Query(intent="breakdown", by="segment"))
    q = refine(by_seg, Query(intent="trend", grain="month", text="monthly?"))
    assert (q.intent, q.grain, q.by, q.periods) == ("trend", "month", None, ())


def test_two_filter_values_compare_them():
    sides = (Filters(segment="enterprise"), Filters(segment="smb"))
    q = refine(CHURN_NOV, Query(intent="compare", compare_filters=sides))
    assert (q.intent, q.compare_filters, q.periods) == ("compare", sides, (NOV,))


def test_what_is_not_a_follow_up():
    assert not is_follow_up(Query(metrics=("nrr",), periods=(Q2,)))  # a new question
    assert not is_follow_up(Query(command="health", account="Acme"))
    assert not is_follow_up(Query(intent="define", term="NRR"))
    assert not is_follow_up(Query(periods=(Q2,), unknown=("blorp",)))  # not understood: said so, not refined
    assert not is_follow_up(Query(intent="list", listing="renewals"))
    assert not is_follow_up(Query())  # nothing to refine with
    assert is_follow_up(Query(periods=(Q2,)))
    assert is_follow_up(Query(intent="breakdown", by="plan"))
    assert is_follow_up(Query(filters=Filters(region="APAC")))


def test_a_question_survives_the_round_trip_through_plain_data():
    q = Query(intent="compare", command="nrr", metrics=("nrr", "grr"), periods=(Q2, Q3), period_words=("Q2", "Q3"),
              filters=Filters(segment="smb", owner=("U1", "alice@example.com")),
              compare_filters=(Filters(plan="pro"), Filters(plan="basic")), grain="month", listing=None, list_n=30,
              words=("how",), text="compare Q2 and Q3 nrr")
    assert from_data(to_data(q)) == q
    to_date = Period(date(2026, 12, 1), date(2026, 12, 7), "month", to_date=True)
    assert from_data(to_data(Query(periods=(to_date,)))).periods == (to_date,)


def _ctx(database, settings, *, channel="C1", thread="1700000000.000100", surface="mention", now=NOW):
    return Context(db=database, settings=settings, today=date(2026, 12, 6), now=now, user_id="U1",
                   channel_id=channel, thread_ts=thread, surface=surface)


def test_a_thread_remembers_its_last_question_and_only_its_own(database, settings, engine):
    with engine.begin() as conn:
        remember(conn, _ctx(database, settings), CHURN_NOV)
        other = refine(CHURN_NOV, Query(periods=(Q2,)))
        remember(conn, _ctx(database, settings, thread="1700000000.000200"), other)
    with engine.connect() as conn:
        assert recall(conn, _ctx(database, settings)) == CHURN_NOV
        assert recall(conn, _ctx(database, settings, thread="1700000000.000200")).periods == (Q2,)
        assert recall(conn, _ctx(database, settings, thread="1700000000.000300")) is None
        assert recall(conn, _ctx(database, settings, channel="C2")) is None
        # a top-level message in a channel has no thread: nothing to refine
        assert recall(conn, _ctx(database, settings, thread=None)) is None


def test_the_last_question_replaces_the_one_before(database, settings, engine):
    ctx = _ctx(database, settings)
    with engine.begin() as conn:
        remember(conn, ctx, CHURN_NOV)
        remember(conn, ctx, refine(CHURN_NOV, Query(intent="breakdown", by="segment")))
    with engine.connect() as conn:
        assert recall(conn, ctx).by == "segment"


def test_a_dm_refers_back_for_half_an_hour_a_thread_for_a_day(database, settings, engine):
    dm = _ctx(database, settings, channel="D1", thread=None, surface="dm")
    with engine.begin() as conn:
        remember(conn, dm, CHURN_NOV)
        remember(conn, _ctx(database, settings), CHURN_NOV)
    with engine.connect() as conn:
        assert recall(conn, _ctx(database, settings, channel="D1", thread=None, surface="dm",
                                 now=NOW + timedelta(minutes=29))) == CHURN_NOV
        assert recall(conn, _ctx(database, settings, channel="D1", thread=None, surface="dm",
                                 now=NOW + timedelta(minutes=31))) is None
        assert recall(conn, _ctx(database, settings, now=NOW + timedelta(hours=23))) == CHURN_NOV
        assert recall(conn, _ctx(database, settings, now=NOW + timedelta(hours=25))) is None


def test_questions_that_cannot_be_refined_are_not_remembered(database, settings, engine):
    ctx = _ctx(database, settings)
    with engine.begin() as conn:
        remember(conn, ctx, Query(intent="define", term="NRR"))
        remember(conn, ctx, Query(intent="value", metrics=("nrr",), unknown=("blorp",)))
    with engine.connect() as conn:
        assert recall(conn, ctx) is None


def test_old_threads_are_pruned_on_write(database, settings, engine):
    from sqlalchemy import func, select

    from metrics import schema

    with engine.begin() as conn:
        remember(conn, _ctx(database, settings, thread="1"), CHURN_NOV)
        remember(conn, _ctx(database, settings, thread="2", now=NOW + timedelta(days=2)), CHURN_NOV)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.thread_queries)).scalar_one() == 1
