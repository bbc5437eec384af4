"""The glossary: every term is found by every name users type, lookups forgive
spelling, and a broken glossary file is refused with the entry named."""

from __future__ import annotations

import re

import pytest
from conftest import documented_metric_names

from commands.glossary import (
    CATEGORIES,
    Glossary,
    GlossaryError,
    extract_term,
    get_glossary,
    lookup,
    normalize,
)
from commands.language import detect_language

GLOSSARY = get_glossary()

# The names of docs/metrics.md, "Names"
METRIC_NAMES = tuple(documented_metric_names())

# Every term the glossary must explain (the product's list of required terms), by its key here.
REQUIRED_TERMS = (
    "customer_success", "customer_support", "saas", "subscription", "recurring_revenue",
    "customer_loyalty", "behavioral_loyalty", "attitudinal_loyalty", "loyal_customer",
    "customer_experience", "customer_journey_map", "engagement", "csm", "cs_ops", "kpi",
    "kgi", "pdca", "profit_center", "cost_center",
    "high_touch", "low_touch", "tech_touch", "community_touch",
    "onboarding", "adoption", "expansion", "churn", "product_feedback",
    "churn_rate", "retention_rate", "nrr", "grr", "expansion_rate", "ltv", "nps", "csat",
    "health_score", "onboarding_completion_rate", "upsell", "cross_sell", "active_users",
    "sessions", "avg_usage_time", "stickiness", "mrr_arr",
    "ttv", "quick_win", "pql", "freemium", "plg", "slg", "product_tour", "tooltip",
)  # fmt: skip


# --------------------------------------------------------------------------- every name finds its term


@pytest.mark.parametrize("term", GLOSSARY.terms, ids=lambda t: t.key)
def test_every_name_and_alias_of_a_term_finds_it(term):
    names = [term.text("en", "name"), term.text("ja", "name"), *term.aliases]
    for name in names:
        result = GLOSSARY.lookup(name)
        assert result.term is not None, f"{name!r} found nothing"
        assert result.term.key == term.key, f"{name!r} found {result.term.key}, not {term.key}"
        assert result.exact, f"{name!r} matched {term.key} only approximately"


@pytest.mark.parametrize("key", REQUIRED_TERMS)
def test_every_term_of_the_design_list_is_in_the_glossary(key):
    assert GLOSSARY.get(key) is not None


def test_each_term_has_japanese_names_and_aliases_users_type():
    for term in GLOSSARY:
        ja_aliases = [a for a in term.aliases if detect_language(a) == "ja"]
        en_aliases = [a for a in term.aliases if detect_language(a) == "en"]
        assert ja_aliases, f"{term.key} has no Japanese alias"
        assert en_aliases, f"{term.key} has no English alias"


# --------------------------------------------------------------------------- forgiving lookups


@pytest.mark.parametrize(
    ("query", "key"),
    [
        # case, spaces, hyphens, underscores, middle dots
        ("nrr", "nrr"),
        ("Nrr", "nrr"),
        ("high touch", "high_touch"),
        ("High Touch", "high_touch"),
        ("high-touch", "high_touch"),
        ("hightouch", "high_touch"),
        ("HIGH_TOUCH", "high_touch"),
        ("high・touch", "high_touch"),
        ("ハイ・タッチ", "high_touch"),
        ("tech touch", "tech_touch"),
        ("Cross Sell", "cross_sell"),
        ("crosssell", "cross_sell"),
        ("health_score", "health_score"),
        # full-width and half-width
        ("ＮＲＲ", "nrr"),
        ("ＬＴＶ", "ltv"),
        ("ﾍﾙｽｽｺｱ", "health_score"),
        ("ｃｓａｔ", "csat"),
        # hiragana typed for katakana
        ("へるすすこあ", "health_score"),
        ("ちゃーんれーと", "churn_rate"),
        # long-vowel marks and katakana spelling variants
        ("ロイヤルティ", "customer_loyalty"),
        ("ロイヤリティ", "customer_loyalty"),
        ("ロイヤルティー", "customer_loyalty"),
        ("顧客ロイヤリティー", "customer_loyalty"),
        ("行動ロイヤリティ", "behavioral_loyalty"),
        ("心理ロイヤルティー", "attitudinal_loyalty"),
        ("カスタマーサクセスマネージャー", "csm"),
        ("カスタマーサクセスマネジャー", "csm"),
        ("カスタマサクセスマネジャ", "csm"),
        ("ユーザコミュニティ", "community_touch"),
        ("クイックウイン", "quick_win"),
        ("タイムツーバリュー", "ttv"),
        ("エキスパンション", "expansion"),
        ("ツールティップ", "tooltip"),
        # Japanese names and their everyday synonyms
        ("チャーンレート", "churn_rate"),
        ("解約率", "churn_rate"),
        ("継続率", "retention_rate"),
        ("定着率", "retention_rate"),
        ("既存顧客維持率", "retention_rate"),
        ("売上維持率", "nrr"),
        ("拡大売上率", "expansion_rate"),
        ("顧客生涯価値", "ltv"),
        ("顧客推奨度", "nps"),
        ("粘着性", "stickiness"),
        ("サブスク", "subscription"),
        # question words around the term
        ("ヘルススコアって何？", "health_score"),
        ("ヘルススコアって何?", "health_score"),
        ("NRRとは", "nrr"),
        ("NRRとは？", "nrr"),
        ("解約率とは何ですか", "churn_rate"),
        ("チャーンレートの意味を教えて", "churn_rate"),
        ("what is stickiness?", "stickiness"),
        ("What's NRR?", "nrr"),
        ("what is a tooltip", "tooltip"),
        ("meaning of LTV", "ltv"),
        ("define ARPA", "arpa"),
        ("what does GRR stand for?", "grr"),
        ("LTV?", "ltv"),
        ("LTV？", "ltv"),
        # abbreviations and plurals
        ("CSM", "csm"),
        ("CX", "customer_experience"),
        ("TTV", "ttv"),
        ("PLG", "plg"),
        ("DAU/MAU", "stickiness"),
        ("KPIs", "kpi"),
        ("tooltips", "tooltip"),
        # a whole name inside a longer phrase, a unique part of a name
        ("nps score", "nps"),
        ("health", "health_score"),
    ],
)
def test_forgiving_lookup_finds_the_term(query, key):
    result = GLOSSARY.lookup(query)
    assert result.term is not None, f"{query!r} found nothing (suggestions {[t.key for t in result.suggestions]})"
    assert result.term.key == key


@pytest.mark.parametrize(
    ("typo", "key"),
    [
        ("chrun", "churn"),
        ("chrun rate", "churn_rate"),
        ("stickyness", "stickiness"),
        ("stickness", "stickiness"),
        ("retension", "retention_rate"),
        ("onbording", "onboarding"),
        ("helth score", "health_score"),
        ("Customer Sucess", "customer_success"),
        ("expantion", "expansion"),
        ("ヘルススコ", "health_score"),
        ("オンボーディング完了律", "onboarding_completion_rate"),
    ],
)
def test_small_typo_still_finds_the_term_but_says_it_guessed(typo, key):
    result = GLOSSARY.lookup(typo)
    assert result.term is not None and result.term.key == key
    assert result.exact is False  # the answer can say "showing results for ..."


def test_misspelled_churn_shows_a_churn_term_with_todays_churn_number():
    term = GLOSSARY.lookup("chrun").term
    assert term is not None
    assert "customer_churn_rate" in term.metrics
    assert term.command == "churn"  # from the metric catalog


def test_unknown_word_finds_nothing_and_offers_closest_terms():
    result = lookup("banana")
    assert result.term is None
    assert not result.found
    assert result.ambiguous == ()
    assert 1 <= len(result.suggestions) <= 3


def test_three_letter_abbreviation_typo_is_suggested_not_guessed():
    # "mmr" is one edit from MRR but also close to other three-letter names: never guess
    result = GLOSSARY.lookup("mmr")
    assert result.term is None
    assert result.suggestions[0].key == "mrr_arr"


def test_short_japanese_word_one_kana_off_is_not_guessed():
    # ヘルプ (help) is one kana away from ヘルス, but a three-character word is too short to guess
    assert GLOSSARY.lookup("ヘルプ").term is None


def test_abbreviations_one_letter_apart_are_not_confused():
    assert GLOSSARY.lookup("grr").term.key == "grr"
    assert GLOSSARY.lookup("nrr").term.key == "nrr"
    assert GLOSSARY.lookup("kgi").term.key == "kgi"
    assert GLOSSARY.lookup("kpi").term.key == "kpi"


def test_letters_inside_a_word_of_another_name_are_not_that_term():
    # "CAC" (not in the glossary) answered the PDCA cycle: its letters run across "PDCA cycle"
    result = GLOSSARY.lookup("CAC")
    assert result.term is None and not result.ambiguous
    assert GLOSSARY.lookup("health").term.key == "health_score"  # the start of a word still is
    assert GLOSSARY.lookup("cycle").term.key == "pdca"


def test_word_shared_by_several_terms_lists_them_to_pick_from():
    result = GLOSSARY.lookup("customer")
    assert result.term is None
    keys = {t.key for t in result.ambiguous}
    assert {"customer_success", "customer_support", "customer_experience"} <= keys


def test_empty_or_punctuation_only_query_finds_nothing_quietly():
    for query in ("", "   ", "？", "what is"):
        result = GLOSSARY.lookup(query)
        assert result.term is None


def test_normalize_folds_width_case_kana_and_separators():
    assert normalize("Ｈｉｇｈ－Ｔｏｕｃｈ") == normalize("high touch") == "hightouch"
    assert normalize("ろいやるてぃー") == normalize("ロイヤリティ")
    assert normalize("カスタマー・サクセス") == normalize("カスタマサクセス")


# --------------------------------------------------------------------------- questions and language


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("what is stickiness?", "stickiness"),
        ("What's NRR?", "NRR"),
        ("NRRって何？", "NRR"),
        ("NRRってなに", "NRR"),
        ("ヘルススコアとは", "ヘルススコア"),
        ("ヘルススコアとは？", "ヘルススコア"),
        ("explain high touch", "high touch"),
        ("define LTV", "LTV"),
        ("meaning of churn rate", "churn rate"),
        ("what does GRR stand for?", "GRR"),
        ("what does ARPA mean", "ARPA"),
        ("チャーンレートの意味を教えて", "チャーンレート"),
        ("「オンボーディング」とは何ですか？", "オンボーディング"),
        ("<@U012ABC> what is NPS?", "NPS"),
    ],
)
def test_extract_term_pulls_the_term_out_of_a_question(text, term):
    assert extract_term(text) == term


@pytest.mark.parametrize(
    "text",
    [
        "churn last-month",  # a command, not a question about a word
        "what is our NRR last month?",  # a question about a number
        "先月の解約率は？",
        "今月のNRRって何？",
        "hello",
        "what is",
    ],
)
def test_extract_term_leaves_other_messages_alone(text):
    assert extract_term(text) is None


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("what is NRR?", "en"),
        ("NRRって何？", "ja"),
        ("解約率", "ja"),
        ("ﾍﾙｽｽｺｱ", "ja"),
        ("ＮＲＲ", "ja"),  # full-width letters come from a Japanese IME
        ("high touch", "en"),
        ("", "en"),
    ],
)
def test_detect_language_follows_the_script(text, lang):
    assert detect_language(text) == lang


# --------------------------------------------------------------------------- content rules


def test_every_text_is_in_the_language_it_claims():
    for term in GLOSSARY:
        for field in ("name", "short", "body", "example", "formula"):
            en, ja = term.text("en", field), term.text("ja", field)
            if en is None:
                assert ja is None, f"{term.key}: ja.{field} without en.{field}"
                continue
            assert detect_language(ja) == "ja", f"{term.key}: ja.{field} has no Japanese"
            # English may quote a Japanese word (サブスク) but must not be Japanese text
            japanese_chars = sum(1 for ch in en if detect_language(ch) == "ja")
            assert japanese_chars <= 6, f"{term.key}: en.{field} looks Japanese"


def test_short_definitions_are_one_line_and_bodies_a_few_sentences():
    for term in GLOSSARY:
        for lang, end in (("en", r"(?<=[.!?])\s+"), ("ja", r"(?<=。)")):
            assert "\n" not in term.text(lang, "short")
            sentences = [s for s in re.split(end, term.text(lang, "body")) if s.strip()]
            assert 2 <= len(sentences) <= 5, f"{term.key}: {lang}.body has {len(sentences)} sentences"


def test_metric_terms_name_their_metrics_and_command_but_no_formula():
    # the formula text comes from the metric declaration, never written twice
    for term in GLOSSARY:
        if term.is_metric:
            assert term.command, term.key
            assert term.metric == term.metrics[0]
            assert term.text("en", "formula") is None and term.text("ja", "formula") is None, term.key
        else:
            assert term.metric is None and term.command is None, term.key


def test_metric_terms_carry_a_worked_example_in_both_languages():
    for term in GLOSSARY:
        if term.category == "metrics" and term.key != "sessions":
            assert term.text("en", "example") and term.text("ja", "example"), term.key


def test_churn_rate_example_carries_the_seed_figures():
    term = GLOSSARY.get("churn_rate")
    for lang in ("en", "ja"):
        example = term.text(lang, "example")
        assert "3,000" in example and "5.0%" in example  # 150 of 3,000 customers
        assert "62.5%" in example and "50.0%" in example  # the ¥30,000 / ¥50,000 plans


def test_cohort_retention_example_is_the_seed_cohort():
    for lang in ("en", "ja"):
        example = GLOSSARY.get("cohort_retention").text(lang, "example")
        assert "200" in example and "160" in example and "80.0%" in example


def test_japanese_text_is_unwrapped_without_spaces_and_english_with_them():
    churn = GLOSSARY.get("churn_rate")
    assert "\n" not in churn.text("ja", "body")
    assert " " not in churn.text("ja", "short")
    assert "  " not in churn.text("en", "body")
    assert "start of the period and no longer" in churn.text("en", "body")


def test_term_text_falls_back_to_english_for_an_unknown_language():
    term = GLOSSARY.get("nps")
    assert term.text("fr", "name") == term.text("en", "name")
    assert term.name("ja") == term.text("ja", "name")
    with pytest.raises(KeyError):
        term.text("en", "colour")


def test_by_category_lists_every_term_once_in_display_order():
    for lang in ("en", "ja"):
        groups = GLOSSARY.by_category(lang)
        assert [label for label, _ in groups] == [labels[lang] for labels in CATEGORIES.values()]
        listed = [t.key for _, terms in groups for t in terms]
        assert sorted(listed) == sorted(t.key for t in GLOSSARY)
    assert GLOSSARY.by_category("ja")[0][0] == "基本用語"


def test_related_terms_resolve_to_terms():
    nrr = GLOSSARY.get("nrr")
    assert [t.key for t in GLOSSARY.related_terms(nrr)] == list(nrr.related)


def test_terms_for_metric_puts_the_headline_term_first():
    assert [t.key for t in GLOSSARY.terms_for_metric("mau")] == ["active_users", "stickiness"]
    assert [t.key for t in GLOSSARY.terms_for_metric("stickiness")] == ["stickiness"]
    # the lifecycle entry "churn" also shows churn, but the metric's own term comes first
    assert [t.key for t in GLOSSARY.terms_for_metric("customer_churn_rate")] == ["churn_rate", "churn"]
    assert GLOSSARY.terms_for_metric("nrr")[0].key == "nrr"


def test_default_glossary_is_loaded_once():
    assert get_glossary() is get_glossary()


# --------------------------------------------------------------------------- metric coverage


def test_every_declared_metric_has_a_glossary_term():
    assert GLOSSARY.check_metric_coverage(METRIC_NAMES) == []


def test_coverage_check_reports_a_metric_without_term():
    problems = GLOSSARY.check_metric_coverage([*METRIC_NAMES, "payback_months"])
    assert problems == ["metric 'payback_months' has no glossary term"]


def test_coverage_check_reports_a_term_metric_that_is_not_declared():
    declared = [name for name in METRIC_NAMES if name != "nps"]
    problems = GLOSSARY.check_metric_coverage(declared)
    assert problems == ["entry 'nps': metric 'nps' is not a declared metric"]


# --------------------------------------------------------------------------- validation of the file

GOOD_ENTRY = """
[[term]]
key = "{key}"
category = "foundations"
aliases = {aliases}
related = {related}

[term.en]
name = "{name}"
short = "A short line."
body = "One sentence. Another one."

[term.ja]
name = "{ja_name}"
short = "短い説明。"
body = "一文目。二文目。"
"""


def _entry(key, *, name=None, ja_name=None, aliases=(), related=()):
    return GOOD_ENTRY.format(
        key=key,
        name=name or key.title(),
        ja_name=ja_name or f"{key}の用語",
        aliases="[" + ", ".join(f'"{a}"' for a in aliases) + "]",
        related="[" + ", ".join(f'"{r}"' for r in related) + "]",
    )


def test_small_valid_file_loads():
    glossary = Glossary.loads(_entry("alpha", related=["beta"]) + _entry("beta", aliases=["b term"]))
    assert [t.key for t in glossary] == ["alpha", "beta"]
    assert glossary.lookup("b-term").term.key == "beta"


def test_missing_japanese_is_refused_naming_the_entry():
    text = _entry("alpha") + _entry("beta").replace('name = "betaの用語"\n', "")
    with pytest.raises(GlossaryError, match=r"entry 'beta'.*ja\.name"):
        Glossary.loads(text)


def test_missing_japanese_block_is_refused_naming_the_entry():
    text = _entry("alpha").split("[term.ja]")[0]
    with pytest.raises(GlossaryError, match=r"entry 'alpha'.*ja\."):
        Glossary.loads(text)


def test_example_in_one_language_only_is_refused():
    text = _entry("alpha").replace('body = "One sentence. Another one."', 'body = "One. Two."\nexample = "1 + 1 = 2"')
    with pytest.raises(GlossaryError, match=r"entry 'alpha'.*ja\.example"):
        Glossary.loads(text)


def test_dangling_related_link_is_refused_naming_the_entry():
    text = _entry("alpha", related=["beta"]) + _entry("gamma")
    with pytest.raises(GlossaryError, match=r"entry 'alpha'.*related term 'beta' does not exist"):
        Glossary.loads(text)


def test_alias_pointing_to_two_terms_is_refused_naming_both():
    text = _entry("alpha", aliases=["High Touch"]) + _entry("beta", aliases=["high-touch"])
    with pytest.raises(GlossaryError, match=r"entry 'beta'.*'high-touch'.*entry 'alpha'"):
        Glossary.loads(text)


def test_alias_equal_to_another_terms_name_is_refused():
    text = _entry("alpha", name="Churn") + _entry("beta", aliases=["チャーン", "churn"])
    with pytest.raises(GlossaryError, match=r"entry 'beta'"):
        Glossary.loads(text)


def test_unknown_category_is_refused():
    text = _entry("alpha").replace('category = "foundations"', 'category = "misc"')
    with pytest.raises(GlossaryError, match=r"entry 'alpha'.*unknown category 'misc'"):
        Glossary.loads(text)


def test_duplicate_key_is_refused():
    with pytest.raises(GlossaryError, match=r"entry 'alpha'.*two entries"):
        Glossary.loads(_entry("alpha") + _entry("alpha", name="Other", ja_name="別の用語"))


def test_misspelled_field_is_refused_rather_than_ignored():
    text = _entry("alpha").replace("related = []", 'related = []\nmetric = "nps"')
    with pytest.raises(GlossaryError, match=r"entry 'alpha'.*unknown field\(s\) metric"):
        Glossary.loads(text)


def test_metric_term_naming_a_metric_the_catalog_lacks_is_refused():
    text = _entry("alpha").replace("related = []", 'related = []\nmetrics = ["nope"]')
    with pytest.raises(GlossaryError, match=r"entry 'alpha'.*metric 'nope' is not in the metric catalog"):
        Glossary.loads(text)


def test_a_metric_term_takes_its_command_from_the_catalog_and_may_not_write_it_again():
    text = _entry("alpha").replace("related = []", 'related = []\nmetrics = ["upsell_rate"]')
    assert Glossary.loads(text).get("alpha").command == "ltv"  # the command whose answer shows upsell
    with pytest.raises(GlossaryError, match=r"entry 'alpha'.*unknown field\(s\) command"):
        Glossary.loads(text.replace("related = []", 'related = []\ncommand = "nrr"'))


def test_broken_toml_is_one_clear_error():
    with pytest.raises(GlossaryError, match="not valid TOML") as info:
        Glossary.loads('[[term]]\nkey = "alpha\n')
    assert "\n" not in str(info.value)


def test_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(GlossaryError, match="cannot read the glossary file"):
        Glossary.load(tmp_path / "nope.toml")


def test_packaged_file_passes_validation_again(tmp_path):
    from commands.glossary import DEFAULT_PATH

    copy = tmp_path / "glossary.toml"
    copy.write_text(DEFAULT_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    assert len(Glossary.load(copy)) == len(GLOSSARY)
