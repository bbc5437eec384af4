"""Customer and revenue churn and the MRR movements, checked against hand-computed numbers."""

from datetime import date

import pytest

from metrics import schema
from metrics.compute import compute_metric
from metrics.filters import Filters
from metrics.periods import Period

OCT = Period(date(2026, 10, 1), date(2026, 11, 1), "month")


def load(engine, accounts, subs):
    """accounts: [(id, segment)], subs: [(account, product, start, end, mrr)]"""
    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [
            {"account_id": a, "name": f"Account {a}", "segment": seg} for a, seg in accounts
        ])
        conn.execute(schema.subscriptions.insert(), [
            {"subscription_id": f"S{i}", "account_id": a, "product": p, "start_date": s, "end_date": e, "mrr": m}
            for i, (a, p, s, e, m) in enumerate(subs)
        ])


def value(engine, name, period=OCT, **filters):
    return compute_metric(engine, name, period, Filters(**filters))


def test_seed_example_150_of_3000_customers_churned_is_5_percent(engine):
    accounts = [(f"A{i}", "smb") for i in range(3000)]
    subs = [(f"A{i}", "core", date(2025, 1, 1), date(2026, 10, 20) if i < 150 else None, 10_000) for i in range(3000)]
    load(engine, accounts, subs)
    res = value(engine, "customer_churn_rate")
    assert res.current.parts["numerator"] == 150 and res.current.parts["denominator"] == 3000
    assert res.value == pytest.approx(0.05)


def test_seed_example_two_plans_the_larger_leaves_customer_50_revenue_62_5(engine):
    # 30,000 and 50,000 a month; the 50,000 customer leaves: 1/2 customers, 50,000/80,000 of MRR.
    load(engine, [("A", "smb"), ("B", "smb")], [
        ("A", "core", date(2026, 1, 1), None, 30_000),
        ("B", "core", date(2026, 1, 1), date(2026, 10, 15), 50_000),
    ])
    assert value(engine, "customer_churn_rate").value == pytest.approx(0.5)
    assert value(engine, "revenue_churn_rate").value == pytest.approx(0.625)


def test_churn_counts_an_account_that_downgraded_to_a_free_plan(engine):
    load(engine, [("A", "smb"), ("B", "smb")], [
        ("A", "core", date(2026, 1, 1), date(2026, 10, 10), 40_000),
        ("A", "core-free", date(2026, 10, 10), None, 0),  # still a customer row, but MRR 0
        ("B", "core", date(2026, 1, 1), None, 60_000),
    ])
    churn = value(engine, "customer_churn_rate")
    assert churn.current.parts["numerator"] == 1 and churn.value == pytest.approx(0.5)
    assert value(engine, "revenue_churn_rate").value == pytest.approx(40_000 / 100_000)


def test_a_customer_who_joins_and_leaves_within_the_period_is_not_churn(engine):
    load(engine, [("A", "smb"), ("B", "smb")], [
        ("A", "core", date(2026, 1, 1), None, 30_000),
        ("B", "core", date(2026, 10, 5), date(2026, 10, 25), 20_000),  # in neither S nor E
    ])
    churn = value(engine, "customer_churn_rate")
    assert churn.value == 0.0
    assert churn.current.parts["early_churn_accounts"] == 1
    moves = value(engine, "mrr_movements").current.parts
    assert moves["new_accounts"] == 0 and moves["churn_accounts"] == 0


def test_an_account_that_ends_on_the_first_day_of_the_period_churned_in_the_period_before(engine):
    # end_date is exclusive: a row ending on Oct 1 is not active at 00:00 Oct 1.
    load(engine, [("A", "smb"), ("B", "smb")], [
        ("A", "core", date(2026, 1, 1), date(2026, 10, 1), 30_000),
        ("B", "core", date(2026, 1, 1), None, 30_000),
    ])
    assert value(engine, "customer_churn_rate").value == 0.0
    sep = Period(date(2026, 9, 1), date(2026, 10, 1), "month")
    assert value(engine, "customer_churn_rate", sep).value == pytest.approx(0.5)


def test_movements_are_classified_and_net_new_equals_the_change_in_mrr(engine):
    load(engine, [(x, "smb") for x in "NRECKS"], [
        ("N", "core", date(2026, 10, 10), None, 10_000),                      # new: 10,000
        ("R", "core", date(2025, 1, 1), date(2025, 6, 1), 5_000),             # paid before ...
        ("R", "core", date(2026, 10, 20), None, 7_000),                       # ... reactivation: 7,000
        ("E", "core", date(2026, 1, 1), date(2026, 10, 15), 20_000),
        ("E", "core", date(2026, 10, 15), None, 26_000),                      # expansion: 6,000
        ("E", "analytics", date(2026, 10, 15), None, 4_000),                  # (+4,000 more: 10,000 in all)
        ("C", "core", date(2026, 1, 1), date(2026, 10, 15), 50_000),
        ("C", "core", date(2026, 10, 15), None, 35_000),                      # contraction: 15,000
        ("K", "core", date(2026, 1, 1), date(2026, 10, 31), 12_000),          # churn: 12,000
        ("S", "core", date(2026, 1, 1), None, 8_000),                         # steady
    ])
    parts = value(engine, "mrr_movements").current.parts
    assert (parts["new"], parts["reactivation"], parts["expansion"], parts["contraction"], parts["churn"]) == (
        10_000, 7_000, 10_000, 15_000, 12_000)
    # MRR at start: E 20,000 + C 50,000 + K 12,000 + S 8,000 = 90,000
    # MRR at end:   N 10,000 + R 7,000 + E 30,000 + C 35,000 + S 8,000 = 90,000
    assert parts["mrr_start"] == 90_000 and parts["mrr_end"] == 90_000
    assert parts["net_new_mrr"] == 10_000 + 7_000 + 10_000 - 15_000 - 12_000 == 0
    assert value(engine, "net_new_mrr").value == parts["mrr_end"] - parts["mrr_start"]
    # revenue churn = (12,000 + 15,000) / 90,000
    assert value(engine, "revenue_churn_rate").value == pytest.approx(27_000 / 90_000)
    assert value(engine, "mrr").value == 90_000
    assert value(engine, "customer_churn_rate").value == pytest.approx(1 / 4)


def test_filters_restrict_churn_to_the_segment_asked_for(engine):
    load(engine, [("A", "enterprise"), ("B", "smb"), ("C", "smb")], [
        ("A", "core", date(2026, 1, 1), None, 300_000),
        ("B", "core", date(2026, 1, 1), date(2026, 10, 3), 30_000),
        ("C", "core", date(2026, 1, 1), None, 30_000),
    ])
    assert value(engine, "customer_churn_rate", segment="smb").value == pytest.approx(0.5)
    assert value(engine, "customer_churn_rate", segment="Enterprise").value == 0.0
    assert value(engine, "customer_churn_rate").value == pytest.approx(1 / 3)


def test_churn_is_not_defined_when_nobody_paid_at_the_start(engine):
    load(engine, [("A", "smb")], [("A", "core", date(2026, 10, 5), None, 30_000)])
    res = value(engine, "customer_churn_rate")
    assert res.value is None and res.to_json()["value"] is None


def test_metric_json_follows_the_contract(engine):
    load(engine, [("A", "smb"), ("B", "smb")], [
        ("A", "core", date(2026, 1, 1), None, 30_000),
        ("B", "core", date(2026, 1, 1), date(2026, 9, 15), 50_000),
    ])
    data = value(engine, "customer_churn_rate").to_json()
    assert data["name"] == "customer_churn_rate" and data["unit"] == "ratio"
    assert data["period"] == {"start": "2026-10-01", "end": "2026-11-01"}
    assert data["value"] == 0.0 and data["parts"]["denominator"] == 1
    assert data["previous"]["period"] == {"start": "2026-09-01", "end": "2026-10-01"}
    assert data["previous"]["value"] == 0.5


def test_show_accounts_lists_the_accounts_behind_nrr_with_signed_amounts_largest_first(engine, ask):
    load(engine, [(x, "smb") for x in "ECKS"] + [(f"Z{i}", "smb") for i in range(12)], [
        ("E", "core", date(2026, 1, 1), date(2026, 10, 15), 20_000),
        ("E", "core", date(2026, 10, 15), None, 30_000),                  # expansion +10,000
        ("C", "core", date(2026, 1, 1), date(2026, 10, 15), 50_000),
        ("C", "core", date(2026, 10, 15), None, 35_000),                  # contraction -15,000
        ("K", "core", date(2026, 1, 1), date(2026, 10, 31), 12_000),      # churn -12,000
        ("S", "core", date(2026, 1, 1), None, 8_000),                     # steady: not listed
        *[(f"Z{i}", "core", date(2026, 1, 1), date(2026, 10, 20), 1_000 + i) for i in range(12)],  # 12 small churns
    ])
    reply = ask("nrr 2026-10 accounts")
    assert reply.data["total"] == 15 and reply.table.total_rows == 15
    rows = reply.table.rows
    assert [r[:3] for r in rows[:3]] == [
        ("Account C", "Contraction", "-¥15,000"), ("Account K", "Churn", "-¥12,000"), ("Account E", "Expansion", "+¥10,000")]
    assert len(rows) == 10 and reply.buttons[0].value == "nrr 2026-10-01..2026-10-31 accounts 2"
    second = ask(reply.buttons[0].value)
    assert len(second.table.rows) == 5 and second.buttons == ()
    assert ask("nrr 2026-10 accounts 3").kind == "error"  # only 2 pages
