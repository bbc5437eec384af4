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
