"""Retention metrics on small hand-made accounts: every expected number is worked out by hand in the comments."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import TODAY

from metrics import schema
from metrics.calc import Calc
from metrics.compute import compute_metric, measure
from metrics.periods import Period
from metrics.settings import Settings

OCT = Period(date(2026, 10, 1), date(2026, 11, 1), "month")
SEP = Period(date(2026, 9, 1), date(2026, 10, 1), "month")


def load(engine, subs: list[tuple], accounts: dict[str, dict] | None = None) -> None:
    """subs: (account_id, product, start, end, mrr)."""
    ids = sorted({row[0] for row in subs} | set(accounts or {}))
    keys = {k for extra in (accounts or {}).values() for k in extra}
    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [
            {"account_id": i, "name": f"Account {i}", **{k: None for k in keys}, **(accounts or {}).get(i, {})}
            for i in ids])
        if subs:
            conn.execute(schema.subscriptions.insert(), [
                {"subscription_id": f"{a}|{p}|{s}|{n}", "account_id": a, "product": p, "start_date": s,
                 "end_date": e, "mrr": m} for n, (a, p, s, e, m) in enumerate(subs)])


def value(engine, name: str, period: Period, today: date = TODAY, **settings):
    with engine.connect() as conn:
        calc = Calc(conn, Settings(**settings))
        calc.today = today
        return measure(calc, name, period)


def test_seed_example_50000_plan_leaving_is_50_percent_logo_and_62_5_percent_revenue_churn(engine):
    # plans of 30,000 and 50,000 at the start of October; the 50,000 one ends on Oct 15.
    load(engine, [("A", "core", date(2026, 1, 1), None, 30_000), ("B", "core", date(2026, 1, 1), date(2026, 10, 15), 50_000)])
    assert value(engine, "customer_churn_rate", OCT).value == pytest.approx(0.5)  # 1 / 2
    assert value(engine, "revenue_churn_rate", OCT).value == pytest.approx(0.625)  # 50,000 / 80,000
    assert value(engine, "grr", OCT).value == pytest.approx(0.375)  # (80,000 - 50,000) / 80,000
    assert value(engine, "nrr", OCT).value == pytest.approx(0.375)  # no expansion
    assert value(engine, "retention_rate", OCT).value == pytest.approx(0.5)
    assert value(engine, "net_mrr_churn_rate", OCT).value == pytest.approx(0.625)


def test_seed_example_150_of_3000_is_5_percent_churn_and_annualises_to_46_percent(engine):
    # 3,000 customers at 10,000 each; 150 end on Oct 20.
    subs = [(f"C{i:04d}", "core", date(2026, 1, 1), date(2026, 10, 20) if i < 150 else None, 10_000) for i in range(3000)]
    load(engine, subs)
    assert value(engine, "customer_churn_rate", OCT).value == pytest.approx(0.05)
    assert value(engine, "retention_rate", OCT).value == pytest.approx(0.95)
    # a month: 1 - (1 - 0.05)^12 = 1 - 0.540360 = 0.459640 (not 0.05 x 12 = 0.60)
    assert value(engine, "annualized_churn_rate", OCT).value == pytest.approx(1 - 0.95 ** 12)
    assert value(engine, "annualized_churn_rate", OCT).value == pytest.approx(0.4596399, abs=1e-6)


def test_annualised_churn_of_a_quarter_compounds_over_four_quarters(engine):
    # 10 customers at the start of Q3, 2 leave in August: quarterly churn 20%,
    # annualised 1 - 0.8^(12/3) = 1 - 0.4096 = 0.5904.
    subs = [(f"C{i}", "core", date(2026, 1, 1), date(2026, 8, 10) if i < 2 else None, 1_000) for i in range(10)]
    load(engine, subs)
    q3 = Period(date(2026, 7, 1), date(2026, 10, 1), "quarter")
    assert value(engine, "annualized_churn_rate", q3).value == pytest.approx(0.5904)


def test_nrr_counts_expansion_of_existing_customers_and_ignores_new_ones(engine):
    # At Oct 1: A 100,000, B 50,000, C 50,000 -> MRR(start) 200,000.
    # A expands to 130,000 (+30,000), B contracts to 40,000 (-10,000), C churns (-50,000),
    # N is new in October with 500,000 (excluded from NRR).
    load(engine, [
        ("A", "core", date(2026, 1, 1), date(2026, 10, 10), 100_000),
        ("A", "core", date(2026, 10, 10), None, 130_000),
        ("B", "core", date(2026, 1, 1), date(2026, 10, 5), 50_000),
        ("B", "core", date(2026, 10, 5), None, 40_000),
        ("C", "core", date(2026, 1, 1), date(2026, 10, 31), 50_000),
        ("N", "core", date(2026, 10, 3), None, 500_000),
    ])
    # GRR = (200,000 - 50,000 - 10,000) / 200,000 = 0.70
    assert value(engine, "grr", OCT).value == pytest.approx(0.70)
    # expansion rate = 30,000 / 200,000 = 0.15
    assert value(engine, "expansion_rate", OCT).value == pytest.approx(0.15)
    # NRR = (130,000 + 40,000 + 0) / 200,000 = 0.85 = GRR + expansion rate
    nrr = value(engine, "nrr", OCT)
    assert nrr.value == pytest.approx(0.85)
    assert nrr.parts["numerator"] == 170_000 and nrr.parts["denominator"] == 200_000
    # net MRR churn = (50,000 + 10,000 - 30,000) / 200,000 = 0.15
    assert value(engine, "net_mrr_churn_rate", OCT).value == pytest.approx(0.15)


def test_net_mrr_churn_is_negative_when_expansion_outweighs_losses(engine):
    # A 10,000 -> 25,000 (+15,000); B 10,000 churns: (10,000 - 15,000) / 20,000 = -0.25; NRR 1.25.
    load(engine, [
        ("A", "core", date(2026, 1, 1), date(2026, 10, 2), 10_000), ("A", "core", date(2026, 10, 2), None, 25_000),
        ("B", "core", date(2026, 1, 1), date(2026, 10, 2), 10_000),
    ])
    assert value(engine, "net_mrr_churn_rate", OCT).value == pytest.approx(-0.25)
    assert value(engine, "nrr", OCT).value == pytest.approx(1.25)


def test_trailing_twelve_months_nrr_compares_a_year_apart(engine):
    # Period Nov 2025 .. Oct 2026. At Nov 1 2025: A 10,000, B 10,000. At Nov 1 2026: A 15,000 (expanded in
    # March), B gone (June), D new in 2026 (excluded). NRR = 15,000 / 20,000 = 0.75; GRR = 10,000 / 20,000 = 0.5.
    load(engine, [
        ("A", "core", date(2025, 1, 1), date(2026, 3, 1), 10_000), ("A", "core", date(2026, 3, 1), None, 15_000),
        ("B", "core", date(2025, 1, 1), date(2026, 6, 1), 10_000), ("D", "core", date(2026, 2, 1), None, 99_000),
    ])
    ttm = Period(date(2025, 11, 1), date(2026, 11, 1), "months")
    assert value(engine, "nrr", ttm).value == pytest.approx(0.75)
    assert value(engine, "grr", ttm).value == pytest.approx(0.5)


def test_no_customers_at_the_start_means_rates_are_not_defined(engine):
    load(engine, [("N", "core", date(2026, 10, 3), None, 5_000)])
    for name in ("grr", "nrr", "expansion_rate", "net_mrr_churn_rate", "retention_rate", "annualized_churn_rate"):
        assert value(engine, name, OCT).value is None, name


def test_seed_cohort_200_new_160_still_paying_a_month_later_is_80_percent(engine):
    # 200 accounts start paying in September; 40 of them end during October (first paid day in Sep).
    # Cell (Sep, 1) = paying at the end of October = 160 / 200.
    subs = [(f"K{i:03d}", "core", date(2026, 9, 1 + i % 30), date(2026, 10, 1 + i % 28) if i < 40 else None, 8_000)
            for i in range(200)]
    # Reactivated: R first paid in July, left in August, came back in September: stays in the July cohort.
    subs += [("R", "core", date(2026, 7, 5), date(2026, 8, 5), 8_000), ("R", "core", date(2026, 9, 10), None, 8_000)]
    # A free plan does not start a cohort: F was on free from August and paid from September.
    subs += [("F", "core", date(2026, 8, 1), date(2026, 9, 20), 0), ("F", "core", date(2026, 9, 20), None, 8_000)]
    load(engine, subs)
    m = value(engine, "cohort_retention", SEP)
    # F joins the September cohort (first paid Sep 20): 161 / 201 = 0.800995...
    assert m.parts["denominator"] == 201 and m.parts["numerator"] == 161
    assert m.value == pytest.approx(161 / 201)
    (row,) = m.parts["cohorts"]
    assert row["cohort"] == "2026-09" and row["size"] == 201
    # end of October (Nov 1) is known on Nov 22; end of November is not.
    assert row["retention"] == [pytest.approx(161 / 201)]


def test_cohort_200_new_160_paying_exactly(engine):
    subs = [(f"K{i:03d}", "core", date(2026, 9, 1 + i % 30), date(2026, 10, 1 + i % 28) if i < 40 else None, 8_000)
            for i in range(200)]
    load(engine, subs)
    assert value(engine, "cohort_retention", SEP).value == pytest.approx(0.80)


def test_cohort_table_follows_each_cohort_month_by_month_and_keeps_reactivations_in_the_first_cohort(engine):
    # July cohort: J1, J2, R (3). August cohort: G1 (1).
    # J1 leaves Sep 15 -> paying at Aug 31/Sep 1? yes (k=1 = end of Aug = Sep 1), Oct 1 no.
    # R leaves Aug 5 (not paying Sep 1), returns Sep 10 (paying Oct 1, Nov 1).
    # J2 stays. G1 leaves Oct 20.
    load(engine, [
        ("J1", "core", date(2026, 7, 1), date(2026, 9, 15), 1_000),
        ("J2", "core", date(2026, 7, 31), None, 2_000),
        ("R", "core", date(2026, 7, 5), date(2026, 8, 5), 3_000), ("R", "core", date(2026, 9, 10), None, 6_000),
        ("G1", "core", date(2026, 8, 2), date(2026, 10, 20), 4_000),
    ])
    period = Period(date(2026, 7, 1), date(2026, 9, 1), "months")
    m = value(engine, "cohort_retention", period)
    july, august = m.parts["cohorts"]
    assert (july["cohort"], july["size"], august["cohort"], august["size"]) == ("2026-07", 3, "2026-08", 1)
    # July: end of Aug (Sep 1): J1, J2 = 2/3; end of Sep (Oct 1): J2, R = 2/3; end of Oct (Nov 1): J2, R = 2/3.
    assert july["paying"] == [2, 2, 2]
    # MRR kept against MRR on the first paid day (1,000 + 2,000 + 3,000 = 6,000):
    # Sep 1: 3,000 -> 0.5; Oct 1: 2,000 + 6,000 = 8,000 -> 1.333; Nov 1: 8,000.
    assert july["mrr"] == 6_000
    assert july["mrr_retention"] == [pytest.approx(0.5), pytest.approx(8 / 6), pytest.approx(8 / 6)]
    # August: end of Sep (Oct 1): G1 paying = 1/1; end of Oct (Nov 1): 0/1.
    assert august["retention"] == [1.0, 0.0]
    # value: July members at end of August (2 of 3) + August members at end of September (1 of 1) = 3 / 4
    assert m.value == pytest.approx(0.75)


def test_cohort_value_is_not_defined_before_the_following_month_has_ended(engine):
    load(engine, [("A", "core", date(2026, 10, 5), None, 1_000)])
    m = value(engine, "cohort_retention", OCT)  # end of November is after Nov 22
    assert m.value is None and m.parts["cohorts"][0]["retention"] == []
    assert value(engine, "cohort_retention", OCT, today=date(2026, 12, 1)).value == 1.0


def test_previous_period_is_reported_beside_the_value(engine):
    # September: 4 customers, 1 churns (25%); October: 3 customers, none churns.
    load(engine, [(f"C{i}", "core", date(2026, 1, 1), date(2026, 9, 9) if i == 0 else None, 1_000) for i in range(4)])
    res = compute_metric(engine, "retention_rate", OCT)
    assert res.value == pytest.approx(1.0) and res.previous.value == pytest.approx(0.75)
    assert res.to_json()["previous"]["period"] == {"start": "2026-09-01", "end": "2026-10-01"}
