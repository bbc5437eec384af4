"""NPS and CSAT on hand-made answers (arithmetic in the comments)."""

from __future__ import annotations

from datetime import datetime

import pytest
from test_metrics_retention import OCT, load

from metrics import schema
from metrics.calc import Calc
from metrics.compute import measure
from metrics.filters import Filters
from metrics.settings import Settings


def value(engine, name, period=OCT, filters=Filters()):
    with engine.connect() as conn:
        return measure(Calc(conn, Settings()), name, period, filters)


def nps_rows(engine, rows):
    """rows: (account, respondent, score, responded_at)"""
    with engine.begin() as conn:
        conn.execute(schema.nps_responses.insert(), [
            {"response_id": f"N{i}", "account_id": a, "respondent": r, "score": s, "responded_at": t}
            for i, (a, r, s, t) in enumerate(rows)])


def csat_rows(engine, rows):
    with engine.begin() as conn:
        conn.execute(schema.csat_responses.insert(), [
            {"response_id": f"C{i}", "account_id": a, "score": s, "responded_at": t} for i, (a, s, t) in enumerate(rows)])


def test_nps_is_promoters_minus_detractors_over_respondents(engine):
    load(engine, [], accounts={"A": {"segment": "smb"}, "B": {"segment": "enterprise"}})
    at = datetime(2026, 10, 12, 10, 0)
    # 5 promoters (9, 10, 9, 10, 9), 3 passives (7, 8, 7), 2 detractors (0, 6): 100 x (5 - 2) / 10 = +30
    scores = [9, 10, 9, 10, 9, 7, 8, 7, 0, 6]
    nps_rows(engine, [("A" if i < 6 else "B", f"u{i}", s, at) for i, s in enumerate(scores)])
    m = value(engine, "nps")
    assert m.value == 30
    assert (m.parts["promoters"], m.parts["passives"], m.parts["detractors"], m.parts["responses"]) == (5, 3, 2, 10)
    # enterprise only: B has u6..u9 = 8, 7, 0, 6 -> 0 promoters, 2 detractors of 4 -> -50
    assert value(engine, "nps", filters=Filters(segment="enterprise")).value == -50


def test_nps_counts_only_each_respondents_latest_answer_in_the_period(engine):
    load(engine, [], accounts={"A": {}})
    nps_rows(engine, [
        ("A", "alice", 2, datetime(2026, 10, 2, 9)),    # superseded by her 10 on Oct 20
        ("A", "alice", 10, datetime(2026, 10, 20, 9)),
        ("A", "bob", 9, datetime(2026, 9, 30, 23, 59)),  # September: outside the period
        ("A", "bob", 5, datetime(2026, 10, 3, 9)),
        ("A", "carol", 8, datetime(2026, 11, 1, 0, 0)),  # November 1 00:00: outside (end exclusive)
        ("A", None, 9, datetime(2026, 10, 31, 23, 59)),  # no respondent: its own respondent
    ])
    m = value(engine, "nps")
    # alice 10 (promoter), bob 5 (detractor), anonymous 9 (promoter): 100 x (2 - 1) / 3 = 33.3 -> 33
    assert m.value == 33 and m.parts["responses"] == 3


def test_nps_rounds_to_an_integer_and_can_be_negative(engine):
    load(engine, [], accounts={"A": {}})
    at = datetime(2026, 10, 5)
    # 1 promoter, 5 detractors, 0 passives of 6: 100 x -4 / 6 = -66.67 -> -67
    nps_rows(engine, [("A", f"u{i}", 10 if i == 0 else 3, at) for i in range(6)])
    assert value(engine, "nps").value == -67


def test_nps_without_answers_is_not_defined(engine):
    load(engine, [], accounts={"A": {}})
    assert value(engine, "nps").value is None


def test_csat_is_the_top_two_box_share_with_the_mean(engine):
    load(engine, [], accounts={"A": {}})
    at = datetime(2026, 10, 7, 15)
    # scores 5, 5, 4, 3, 1: top-2-box 3 / 5 = 60; mean 18 / 5 = 3.6
    csat_rows(engine, [("A", s, at) for s in (5, 5, 4, 3, 1)] + [("A", 1, datetime(2026, 11, 1))])
    m = value(engine, "csat")
    assert m.value == pytest.approx(60.0)
    assert m.parts["mean"] == pytest.approx(3.6)
    assert m.parts["distribution"] == {"1": 1, "2": 0, "3": 1, "4": 1, "5": 2}
