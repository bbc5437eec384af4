"""LTV, upsell, cross-sell and quick ratio on hand-made accounts (arithmetic in the comments)."""

from __future__ import annotations

from datetime import date

import pytest
from test_metrics_retention import OCT, load

from metrics.calc import Calc
from metrics.compute import measure
from metrics.periods import Period
from metrics.settings import Settings


def value(engine, name: str, period: Period, **settings):
    with engine.connect() as conn:
        return measure(Calc(conn, Settings(**settings)), name, period)


def _ten_customers_two_churn_in_september(engine):
    # Ten customers at 10,000 from January; two leave in September (Sep 10).
    # Monthly churn May..Oct: 0, 0, 0, 0 (Aug: nobody), Sep 2/10 = 0.2, Oct 0/8 = 0.
    # Mean of the six months May..Oct = 0.2 / 6 = 0.033333.
    # ARPA at Nov 1 = 80,000 / 8 = 10,000.
    subs = [(f"C{i}", "core", date(2026, 1, 1), date(2026, 9, 10) if i < 2 else None, 10_000) for i in range(10)]
    load(engine, subs)


def test_ltv_is_arpa_over_the_six_month_mean_churn(engine):
    _ten_customers_two_churn_in_september(engine)
    m = value(engine, "ltv", OCT)
    # 10,000 / (0.2 / 6) = 300,000
    assert m.value == pytest.approx(300_000)
    assert m.parts["arpa"] == 10_000
    assert m.parts["mean_monthly_churn"] == pytest.approx(0.2 / 6)
    assert [r["month"] for r in m.parts["monthly_churn"]] == ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09",
                                                              "2026-10"]


def test_ltv_applies_the_gross_margin_setting(engine):
    _ten_customers_two_churn_in_september(engine)
    # 300,000 x 0.8 = 240,000
    assert value(engine, "ltv", OCT, gross_margin=0.8).value == pytest.approx(240_000)


def test_ltv_is_not_defined_when_nobody_churned_in_six_months(engine):
    load(engine, [(f"C{i}", "core", date(2026, 1, 1), None, 10_000) for i in range(5)])
    m = value(engine, "ltv", OCT)
    assert m.value is None and m.parts["mean_monthly_churn"] == 0


def test_ltv_of_a_quarter_uses_the_six_months_ending_with_its_last_month(engine):
    _ten_customers_two_churn_in_september(engine)
    q3 = Period(date(2026, 7, 1), date(2026, 10, 1), "quarter")
    m = value(engine, "ltv", q3)
    # months Apr..Sep: mean churn 0.2 / 6; ARPA at Oct 1 = 10,000 -> 300,000
    assert m.parts["monthly_churn"][-1]["month"] == "2026-09"
    assert m.value == pytest.approx(300_000)


def test_upsell_counts_higher_mrr_on_a_product_already_paid_for(engine):
    # At Oct 1, S = {A, B, C, D}.
    # A: core 10,000 -> 15,000 (upsell).  B: core same, adds analytics (cross-sell, not upsell).
    # C: core 10,000 -> 8,000 and analytics 1,000 -> 5,000 (upsell on analytics).
    # D: unchanged. N: new in October with two products (not in S).
    load(engine, [
        ("A", "core", date(2026, 1, 1), date(2026, 10, 5), 10_000), ("A", "core", date(2026, 10, 5), None, 15_000),
        ("B", "core", date(2026, 1, 1), None, 10_000), ("B", "analytics", date(2026, 10, 9), None, 3_000),
        ("C", "core", date(2026, 1, 1), date(2026, 10, 5), 10_000), ("C", "core", date(2026, 10, 5), None, 8_000),
        ("C", "analytics", date(2026, 1, 1), date(2026, 10, 5), 1_000),
        ("C", "analytics", date(2026, 10, 5), None, 5_000),
        ("D", "core", date(2026, 1, 1), None, 10_000),
        ("N", "core", date(2026, 10, 2), None, 10_000), ("N", "api", date(2026, 10, 2), None, 10_000),
    ])
    up = value(engine, "upsell_rate", OCT)
    assert (up.parts["numerator"], up.parts["denominator"]) == (2, 4)  # A, C
    assert up.value == pytest.approx(0.5)
    cross = value(engine, "cross_sell_rate", OCT)
    assert (cross.parts["numerator"], cross.parts["denominator"]) == (1, 4)  # B
    assert cross.value == pytest.approx(0.25)


def test_a_product_that_was_free_at_the_start_counts_as_cross_sell(engine):
    # E pays for core; its api product was on a free tier (0) at the start and pays 2,000 at the end.
    load(engine, [
        ("E", "core", date(2026, 1, 1), None, 10_000),
        ("E", "api", date(2026, 1, 1), date(2026, 10, 9), 0), ("E", "api", date(2026, 10, 9), None, 2_000),
    ])
    assert value(engine, "cross_sell_rate", OCT).value == pytest.approx(1.0)
    assert value(engine, "upsell_rate", OCT).value == pytest.approx(0.0)


def test_upsell_reads_the_states_at_both_ends_of_the_period_exactly(engine):
    # Only accounts with a row starting or ending inside (Oct 1, Nov 1] are read for the moves.
    # F: raised on Oct 1 itself: 12,000 is already the state at the start, no upsell in October.
    # G: raised on Nov 1: 00:00 of Nov 1 is the end of October, so it is an upsell in October.
    # H: a second product from Nov 1: a cross-sell in October. K: unchanged since January.
    load(engine, [
        ("F", "core", date(2026, 1, 1), date(2026, 10, 1), 10_000), ("F", "core", date(2026, 10, 1), None, 12_000),
        ("G", "core", date(2026, 1, 1), date(2026, 11, 1), 10_000), ("G", "core", date(2026, 11, 1), None, 12_000),
        ("H", "core", date(2026, 1, 1), None, 10_000), ("H", "api", date(2026, 11, 1), None, 1_000),
        ("K", "core", date(2026, 1, 1), None, 10_000),
    ])
    up = value(engine, "upsell_rate", OCT)
    assert (up.parts["numerator"], up.parts["denominator"]) == (1, 4)  # G of F, G, H, K
    cross = value(engine, "cross_sell_rate", OCT)
    assert (cross.parts["numerator"], cross.parts["denominator"]) == (1, 4)  # H


def test_quick_ratio_is_gains_over_losses_with_reactivation_apart(engine):
    # new N 30,000; expansion A +10,000; churn B 15,000; contraction C -5,000; reactivation R 7,000.
    # (30,000 + 10,000) / (15,000 + 5,000) = 2.0
    load(engine, [
        ("N", "core", date(2026, 10, 3), None, 30_000),
        ("A", "core", date(2026, 1, 1), date(2026, 10, 5), 10_000), ("A", "core", date(2026, 10, 5), None, 20_000),
        ("B", "core", date(2026, 1, 1), date(2026, 10, 5), 15_000),
        ("C", "core", date(2026, 1, 1), date(2026, 10, 5), 10_000), ("C", "core", date(2026, 10, 5), None, 5_000),
        ("R", "core", date(2026, 1, 1), date(2026, 3, 1), 7_000), ("R", "core", date(2026, 10, 20), None, 7_000),
    ])
    m = value(engine, "quick_ratio", OCT)
    assert m.value == pytest.approx(2.0)
    assert m.parts["reactivation"] == 7_000


def test_quick_ratio_without_losses_is_not_defined(engine):
    load(engine, [("N", "core", date(2026, 10, 3), None, 30_000)])
    assert value(engine, "quick_ratio", OCT).value is None


def _state_calcs(conn):
    """(direct, derived): one Calc counting from subscriptions, one reading the revenue state."""
    from metrics import revenue_state

    direct, derived = Calc(conn, Settings()), Calc(conn, Settings())
    revenue_state.use(direct, False)
    revenue_state.use(derived, True)
    return direct, derived


def test_upsell_and_cross_sell_read_the_stored_month_and_count_the_rest_off_the_product_intervals(engine):
    import json

    from sqlalchemy import insert, select, update

    from metrics import revenue_state, schema
    from metrics.filters import Filters

    # At Oct 1, S = {A, B, C, D}. A (smb): core 10,000 -> 15,000 on Oct 5 (upsell).
    # B (smb): adds analytics on Oct 20 (cross-sell). C (ent): analytics 1,000 -> 5,000 on Oct 25 (upsell),
    # core 10,000 -> 8,000 the same day. D (ent): unchanged. N: new in October (not in S).
    load(engine, [
        ("A", "core", date(2026, 1, 1), date(2026, 10, 5), 10_000), ("A", "core", date(2026, 10, 5), None, 15_000),
        ("B", "core", date(2026, 1, 1), None, 10_000), ("B", "analytics", date(2026, 10, 20), None, 3_000),
        ("C", "core", date(2026, 1, 1), date(2026, 10, 25), 10_000), ("C", "core", date(2026, 10, 25), None, 8_000),
        ("C", "analytics", date(2026, 1, 1), date(2026, 10, 25), 1_000),
        ("C", "analytics", date(2026, 10, 25), None, 5_000),
        ("D", "core", date(2026, 1, 1), None, 10_000),
        ("N", "core", date(2026, 10, 2), None, 10_000), ("N", "api", date(2026, 10, 2), None, 10_000),
    ], {"A": {"segment": "smb"}, "B": {"segment": "smb"}, "C": {"segment": "ent"}, "D": {"segment": "ent"},
        "N": {"segment": "smb"}})
    smb = Filters(segment="smb")
    first_half = Period(date(2026, 10, 1), date(2026, 10, 15), "range")  # only A's upsell: S = {A, B, C, D}
    wanted = {  # (period, filters): (upsell, cross-sell, S), counted by hand
        (OCT, Filters()): (2, 1, 4), (OCT, smb): (1, 1, 2), (first_half, Filters()): (1, 0, 4),
        (first_half, smb): (1, 0, 2), (OCT.previous(), Filters()): (0, 0, 4),
    }

    def counts(calc, period, filters):
        up, cross = (measure(calc, name, period, filters) for name in ("upsell_rate", "cross_sell_rate"))
        return up.parts["numerator"], cross.parts["numerator"], up.parts["denominator"]

    with engine.begin() as conn:
        revenue_state.build(conn)
        rm = schema.revenue_monthly
        cell = json.loads(conn.execute(select(rm.c.cell).where(rm.c.month == OCT.start)).scalar_one())
        assert cell["products"] == [2, 1]  # October's counts stored by the build
        direct, derived = _state_calcs(conn)
        for (period, filters), want in wanted.items():
            assert counts(derived, period, filters) == counts(direct, period, filters) == want, (period, filters)
        # the month without filters is read from the stored cell (an altered cell shows), nothing else is
        conn.execute(update(rm).where(rm.c.month == OCT.start).values(cell=json.dumps({**cell, "products": [3, 3]})))
        _, derived = _state_calcs(conn)
        assert counts(derived, OCT, Filters()) == (3, 3, 4)
        assert counts(derived, OCT, smb) == (1, 1, 2) and counts(derived, first_half, Filters()) == (1, 0, 4)
        # a subscription written without a sync: the state is stale, counted from subscriptions (D upsells)
        conn.execute(insert(schema.subscriptions).values(subscription_id="D2", account_id="D", product="core",
                                                         start_date=date(2026, 10, 10), end_date=None, mrr=500))
        calc = Calc(conn, Settings())
        assert not revenue_state.usable(calc)
        assert counts(calc, OCT, Filters()) == (3, 1, 4)
        revenue_state.build(conn)
        assert counts(Calc(conn, Settings()), OCT, Filters()) == (3, 1, 4)
