"""The one renewals query (App Home and digest) and the account reads of metrics/accounts.py."""

from __future__ import annotations

from datetime import date

from metrics import schema
from metrics.accounts import AccountRef, accounts_by_id_or_name, count_accounts
from metrics.filters import NO_FILTERS, Filters
from metrics.renewals import renewals

TODAY = date(2026, 11, 22)


def seed(engine):
    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [
            {"account_id": "A", "name": "Acme Corp", "owner": "alice@example.com", "plan": "pro",
             "renewal_date": date(2026, 12, 1)},
            {"account_id": "B", "name": "Beta", "owner": "U0BOB", "plan": "starter", "renewal_date": date(2026, 11, 22)},
            {"account_id": "C", "name": "Cobalt", "owner": "alice@example.com", "plan": None, "renewal_date": date(2027, 3, 1)},
            {"account_id": "D", "name": "Delta", "owner": "Alice@Example.com", "plan": None, "renewal_date": date(2026, 11, 21)},
            {"account_id": "E", "name": "Echo", "owner": "alice@example.com", "plan": None, "renewal_date": date(2026, 12, 1)},
        ])


def test_renewals_are_those_in_the_window_soonest_first(engine):
    seed(engine)
    with engine.connect() as conn:
        rows, total = renewals(conn, TODAY, 60, NO_FILTERS)
    assert [r["account_id"] for r in rows] == ["B", "A", "E"]  # today counts; yesterday and March do not
    assert total == 3
    assert set(rows[0]) == {"account_id", "name", "renewal_date", "owner", "plan"}


def test_renewals_follow_the_owner_rule_of_every_filter(engine):
    """A Slack user ID, an e-mail in any case, or the name before the @ all find the owner's accounts."""
    seed(engine)
    with engine.connect() as conn:
        by_email, _ = renewals(conn, TODAY, 60, Filters(owner=("U0ALICE", "ALICE@example.com")))
        by_name, _ = renewals(conn, TODAY, 60, Filters(owner=("alice",)))
        by_id, _ = renewals(conn, TODAY, 60, Filters(owner=("U0BOB",)))
        cut, total = renewals(conn, TODAY, 60, Filters(owner=("alice@example.com",)), limit=1)
    assert [r["account_id"] for r in by_email] == ["A", "E"] == [r["account_id"] for r in by_name]
    assert [r["account_id"] for r in by_id] == ["B"]
    assert len(cut) == 1 and total == 2


def test_count_and_find_accounts(engine):
    seed(engine)
    with engine.connect() as conn:
        assert count_accounts(conn, NO_FILTERS) == 5
        assert count_accounts(conn, Filters(owner=("alice@example.com",))) == 4
        assert accounts_by_id_or_name(conn, "acme corp") == [AccountRef("A", "Acme Corp")]
        assert accounts_by_id_or_name(conn, "B") == [AccountRef("B", "Beta")]
