"""Onboarding completion and time to value on hand-made milestones."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from test_metrics_retention import OCT, load

from metrics import schema
from metrics.calc import Calc
from metrics.compute import measure
from metrics.settings import Settings

Q3 = OCT.__class__(date(2026, 7, 1), date(2026, 10, 1), "quarter")
ALL = ("kickoff", "setup", "first_value", "training")


def value(engine, name, period=Q3, **settings):
    with engine.connect() as conn:
        return measure(Calc(conn, Settings(**settings)), name, period)


def milestones(engine, rows):
    with engine.begin() as conn:
        conn.execute(schema.onboarding.insert(), [{"account_id": a, "milestone": m, "completed_at": t} for a, m, t in rows])


@pytest.fixture
def cohort(engine):
    # First paid days in Q3: A Jul 1, B Jul 10, C Aug 1, D Sep 1 (free first from June), E Sep 30.
    # O paid first in June (outside Q3).
    load(engine, [
        ("A", "core", date(2026, 7, 1), None, 1_000), ("B", "core", date(2026, 7, 10), None, 1_000),
        ("C", "core", date(2026, 8, 1), None, 1_000), ("D", "core", date(2026, 6, 1), date(2026, 9, 1), 0),
        ("D", "core", date(2026, 9, 1), None, 1_000), ("E", "core", date(2026, 9, 30), None, 1_000),
        ("O", "core", date(2026, 6, 1), None, 1_000),
    ])
    rows = []
    # A: all four, the last (training) on Sep 29 = day 90 after Jul 1 -> in time; first_value Jul 21 (20 days).
    rows += [("A", m, datetime(2026, 7, 5, 10)) for m in ("kickoff", "setup")]
    rows += [("A", "first_value", datetime(2026, 7, 21, 18)), ("A", "training", datetime(2026, 9, 29, 23, 59))]
    # B: all four, training on Oct 9 = day 91 after Jul 10 -> too late; first_value Aug 9 (30 days).
    rows += [("B", m, datetime(2026, 7, 15)) for m in ("kickoff", "setup")]
    rows += [("B", "first_value", datetime(2026, 8, 9, 9)), ("B", "training", datetime(2026, 10, 9, 9))]
    # C: no training -> not complete; first_value Aug 11 (10 days). An extra, unrequired milestone changes nothing.
    rows += [("C", m, datetime(2026, 8, 3)) for m in ("kickoff", "setup")] + [("C", "first_value", datetime(2026, 8, 11))]
    rows += [("C", "go_live", datetime(2026, 8, 12))]
    # D: all four within a week of Sep 1; first_value Sep 6 (5 days).
    rows += [("D", m, datetime(2026, 9, 6)) for m in ALL]
    # O: complete, but outside the period.
    rows += [("O", m, datetime(2026, 6, 20)) for m in ALL]
    milestones(engine, rows)
    return engine


def test_completion_rate_counts_every_required_milestone_within_90_days(cohort):
    # accounts A, B, C, D, E (5); complete in time: A, D -> 2 / 5 = 40%
    m = value(cohort, "onboarding_completion_rate")
    assert (m.parts["numerator"], m.parts["denominator"]) == (2, 5)
    assert m.value == pytest.approx(0.4)


def test_completion_follows_the_configured_window_and_milestones(cohort):
    # 91 days: B's training on day 91 counts too -> A, B, D = 3 / 5
    assert value(cohort, "onboarding_completion_rate", onboarding_days=91).value == pytest.approx(0.6)
    # only kickoff and first_value required: A, B, C, D -> 4 / 5
    assert value(cohort, "onboarding_completion_rate",
                 onboarding_milestones=("kickoff", "first_value")).value == pytest.approx(0.8)


def test_ttv_is_the_median_days_to_first_value(cohort):
    # A 20, B 30, C 10, D 5 (E has not reached it): median of 5, 10, 20, 30 = 15
    m = value(cohort, "ttv")
    assert m.value == pytest.approx(15.0) and m.parts["accounts"] == 4


def test_no_new_customers_means_not_defined(cohort):
    nov = OCT.__class__(date(2026, 11, 1), date(2026, 12, 1), "month")
    assert value(cohort, "onboarding_completion_rate", nov).value is None
    assert value(cohort, "ttv", nov).value is None


def measured_on(engine, today, name="onboarding_completion_rate", period=Q3):
    with engine.connect() as conn:
        return measure(Calc(conn, Settings(), today=today), name, period)


def test_the_rate_says_how_many_unfinished_customers_are_still_inside_their_window(cohort):
    # Not finished in time: B (window closed Oct 8), C (window to Oct 30), E (window to Dec 29).
    assert measured_on(cohort, date(2026, 10, 15)).parts["still_in_window"] == 2  # C and E
    assert measured_on(cohort, date(2026, 11, 22)).parts["still_in_window"] == 1  # E only
    # the rate itself does not change with today
    assert measured_on(cohort, date(2026, 11, 22)).value == pytest.approx(0.4)
