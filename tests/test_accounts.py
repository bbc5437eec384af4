"""Account names resolve the way people type them."""

from __future__ import annotations

import pytest

from commands.accounts import normalize, resolve_account, strip_legal
from metrics import schema

NAMES = [
    ("A1", "Acme Corp"),
    ("A2", "Acme Logistics"),
    ("A3", "株式会社アクメ"),
    ("A4", "Globex"),
    ("A5", "Globex Labs"),
    ("A6", "さくら商事"),
    ("A7", "Initech, Inc."),
]


@pytest.fixture
def named(engine):
    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [{"account_id": i, "name": n} for i, n in NAMES])
    return engine


def resolve(engine, query):
    with engine.connect() as conn:
        return resolve_account(conn, query)


def test_normalising_folds_width_case_kana_and_punctuation():
    assert normalize("ＡＣＭＥ　ｃｏｒｐ") == normalize("Acme Corp") == "acmecorp"
    assert normalize("アクメ") == normalize("あくめ") == normalize("ｱｸﾒ")
    assert strip_legal("株式会社アクメ") == strip_legal("(株)アクメ") == strip_legal("㈱アクメ") == normalize("アクメ")
    assert strip_legal("Initech, Inc.") == "initech"


def test_ambiguous_acme_gives_a_pick_list_of_both_acmes(named):
    m = resolve(named, "acme")
    assert m.exact is None
    assert {r.name for r in m.candidates} == {"Acme Corp", "Acme Logistics"}
    assert m.total_candidates == 2


@pytest.mark.parametrize("query,account", [
    ("ＡＣＭＥ　ｃｏｒｐ", "A1"),  # full-width with an ideographic space
    ("acme corp", "A1"),
    ("ACME-Corp.", "A1"),
    ("acme inc", "A1"),  # another legal form of the only "Acme" + legal form
    ("acme crop", "A1"),  # a typo
    ("acme logistics", "A2"),
    ("アクメ", "A3"),  # the Japanese name without 株式会社
    ("あくめ", "A3"),  # in hiragana
    ("(株)アクメ", "A3"),
    ("globex", "A4"),  # the exact name wins over Globex Labs
    ("initech", "A7"),
    ("A5", "A5"),  # an account id
    ("ｻｸﾗ商事", "A6"),  # half-width katakana
])
def test_names_resolve_loosely_to_one_account(named, query, account):
    m = resolve(named, query)
    assert m.exact is not None, (query, m)
    assert m.exact.account_id == account


def test_no_match_gives_the_closest_names(named):
    m = resolve(named, "globexx labz")
    # a typo close to one name is taken as that name
    assert m.exact is not None and m.exact.account_id == "A5"
    m = resolve(named, "glbx")  # not a small typo of one name, but close to Globex: "did you mean"
    assert m.exact is None and not m.candidates
    assert [r.account_id for r in m.closest][:1] == ["A4"] and len(m.closest) <= 3
    # nothing close: no made-up suggestion, and the names looked through are counted
    m = resolve(named, "umbrella")
    assert m.exact is None and not m.candidates and not m.closest and m.searched == len(NAMES)


def test_empty_query_matches_nothing(named):
    m = resolve(named, "  ")
    assert m.exact is None and not m.candidates and not m.closest


# ---- the dimension values a question may name -------------------------------------------


def test_dimension_values_are_every_distinct_value_the_accounts_hold(engine):
    from metrics.accounts import dimension_values

    rows = [("B1", "smb", "alice@example.com", "japan"), ("B2", "Enterprise", "", None),
            ("B3", "enterprise", "bob@example.com", "japan"), ("B4", None, "alice@example.com", "  "),
            ("B5", "smb", None, "na"), ("B6", "mid-market", "carol@example.com", "apac")]
    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [{"account_id": i, "name": i, "segment": s, "owner": o, "region": r}
                                                for i, s, o, r in rows])
    with engine.connect() as conn:
        found = dimension_values(conn)
    # Each spelling once, sorted; NULL and blank are no value; a column nobody filled is empty.
    assert found == {
        "segment": ["Enterprise", "enterprise", "mid-market", "smb"],
        "plan": [],
        "region": ["apac", "japan", "na"],
        "touch_model": [],
        "owner": ["alice@example.com", "bob@example.com", "carol@example.com"],
    }


def test_a_database_made_before_the_added_indexes_gets_them_at_start(engine):
    from sqlalchemy import inspect

    from metrics.db import init_schema

    with engine.begin() as conn:
        for ix in schema.ADDED_INDEXES:
            ix.drop(conn)
    assert not {ix.name for ix in schema.ADDED_INDEXES} & {i["name"] for i in inspect(engine).get_indexes("accounts")}
    init_schema(engine)
    init_schema(engine)  # and again: nothing to do, no error
    names = {i["name"] for i in inspect(engine).get_indexes("accounts")}
    assert {"ix_accounts_segment", "ix_accounts_plan", "ix_accounts_region", "ix_accounts_touch_model",
            "ix_accounts_owner"} <= names
    assert "ix_health_day_totals" in {i["name"] for i in inspect(engine).get_indexes("health_snapshots")}


def test_a_database_made_before_snapshots_kept_their_mrr_gets_the_column_and_keeps_its_rows(engine):
    from datetime import date

    from sqlalchemy import inspect

    from metrics.db import init_schema

    with engine.begin() as conn:  # health_snapshots as an older csbot made it, with one row
        conn.exec_driver_sql("DROP TABLE health_snapshots")
        conn.exec_driver_sql("CREATE TABLE health_snapshots (account_id VARCHAR(64) NOT NULL, day DATE NOT NULL, "
                             "score FLOAT, band VARCHAR(16), components TEXT, PRIMARY KEY (account_id, day))")
        conn.exec_driver_sql("INSERT INTO health_snapshots (account_id, day, score, band) "
                             "VALUES ('A1', '2026-11-01', 61.0, 'yellow')")
    init_schema(engine)
    assert "mrr" in {c["name"] for c in inspect(engine).get_columns("health_snapshots")}
    with engine.connect() as conn:
        row = conn.execute(schema.health_snapshots.select()).one()
    assert (row.account_id, row.day, row.score, row.mrr) == ("A1", date(2026, 11, 1), 61.0, None)
