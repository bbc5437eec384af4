"""The metric catalog: one entry per metric of the conventions, each bound to exactly one
computation, checked on load; the parser's vocabulary and the commands' routing words
come from it."""

from __future__ import annotations

import re

import pytest
from conftest import documented_metric_names

from commands.glossary import get_glossary
from commands.registry import load_commands
from metrics import catalog
from metrics.catalog import CatalogError, parse
from metrics.compute import COMPUTE

# docs/metrics.md, "Names": the names used by `csbot metric`, the catalog and the JSON
NAMES = documented_metric_names()


def test_the_catalog_the_computations_and_the_conventions_name_the_same_metrics():
    assert list(catalog.names()) == NAMES
    assert set(COMPUTE) == set(NAMES)


def test_every_metric_names_a_command_that_exists():
    commands = load_commands()
    for info in catalog.all():
        assert info.command in commands, info.name


def test_lookup_forgives_case_and_hyphens_and_refuses_unknown_names():
    assert catalog.get("Customer-Churn-Rate").name == "customer_churn_rate"
    with pytest.raises(KeyError):
        catalog.get("nope")


def test_grr_has_one_japanese_name_in_the_catalog_and_the_glossary():
    name = "グロス売上維持率"
    assert name in catalog.get("grr").text("ja", "label")
    assert name in get_glossary().get("grr").name("ja")
    assert catalog.vocabulary()[name] == "grr"


def test_the_vocabulary_maps_what_people_type_to_the_metric():
    vocab = catalog.vocabulary()
    assert vocab["解約率"] == "customer_churn_rate" and vocab["churn rate"] == "customer_churn_rate"
    assert vocab["売上維持率"] == "nrr" and vocab["net revenue retention"] == "nrr"
    assert vocab["upsell"] == "upsell_rate" and vocab["ltv"] == "ltv"


@pytest.mark.parametrize("name", catalog.names())
def test_a_label_csbot_prints_is_a_name_it_reads_back(name):
    """A CSM types back what an answer printed: the whole label in either language, and its name
    apart from its gloss ("カスタマーチャーンレート" of "カスタマーチャーンレート（顧客解約率）")."""
    info, vocab = catalog.get(name), catalog.vocabulary()
    for lang in ("en", "ja"):
        label = info.text(lang, "label").lower()
        assert vocab[label] == name
        head = re.split(r"\s*[(（]", label)[0]
        assert vocab[head] == name, (lang, head)


def test_a_gloss_of_one_plain_word_names_no_metric():
    assert catalog.get("ttv").text("en", "label") == "Time to value (median)"
    assert "median" not in catalog.vocabulary()
    assert catalog.vocabulary()["net revenue retention"] == "nrr"
    assert catalog.vocabulary()["顧客満足度"] == "csat" and catalog.vocabulary()["daily active users"] == "dau"


def test_the_commands_route_by_the_catalogs_words():
    commands = load_commands()
    for name in {info.command for info in catalog.all()} - {"health"}:
        assert commands[name].keywords == catalog.command_keywords(name), name
    assert "net revenue retention" in catalog.command_keywords("nrr")
    assert "dashboard" in catalog.command_keywords("kpi")


def test_revenue_follows_the_catalog():
    assert catalog.any_revenue(["nps", "mrr"]) and not catalog.any_revenue(["nps", "csat"])
    with pytest.raises(KeyError):
        catalog.any_revenue(["nope"])


ENTRY = """
[metric.alpha]
unit = "ratio"
command = "churn"
kind = "period"
revenue = false
higher_is_better = true
aliases.en = ["alpha"]
aliases.ja = ["アルファ"]

[metric.alpha.en]
label = "Alpha"
description = "A share."
formula = "a / b"
how = "{numerator} / {denominator} = {value}"

[metric.alpha.ja]
label = "アルファ"
description = "割合。"
formula = "a ÷ b"
how = "{numerator} ÷ {denominator} = {value}"
"""


def test_a_small_valid_catalog_loads():
    info = parse(ENTRY).metrics["alpha"]
    assert info.unit == "ratio" and info.part_unit("numerator") == "count" and not info.point_in_time
    assert dict(info.part_aliases) == {}
    parted = parse(ENTRY.replace('aliases.ja = ["アルファ"]', 'aliases.ja = ["アルファ"]\npart_aliases = { a = ["アルファ"] }'))
    assert dict(parted.metrics["alpha"].part_aliases) == {"アルファ": "a"}


@pytest.mark.parametrize("broken, message", [
    (ENTRY.replace('unit = "ratio"', 'unit = "percent"'), "unit must be one of"),
    (ENTRY.replace('kind = "period"', 'kind = "daily"'), "kind must be one of"),
    (ENTRY.replace('revenue = false\n', ''), "revenue must be true or false"),
    (ENTRY.replace('label = "アルファ"\n', ''), r"\[ja\] needs exactly"),
    (ENTRY.replace("{numerator} ÷ {denominator}", "{numerator} ÷ {total}"), "name different parts"),
    (ENTRY.replace('aliases.en = ["alpha"]', 'aliases.en = ["Alpha"]'), "lower case"),
    (ENTRY + ENTRY.replace("metric.alpha", "metric.beta").replace('["アルファ"]', '["ベータ"]'), "names both alpha and beta"),
    (ENTRY.replace('higher_is_better = true', 'higher_is_better = true\ncolour = "red"'), r"unknown field\(s\) colour"),
    (ENTRY.replace('aliases.ja = ["アルファ"]', 'aliases.ja = ["アルファ"]\npart_aliases = { a = ["beta"] }'),
     "names 'beta', which is not an alias of the metric"),
    (ENTRY.replace('aliases.ja = ["アルファ"]', 'aliases.ja = ["アルファ"]\npart_aliases = { a = ["alpha"], b = ["alpha"] }'),
     "'alpha' names two parts"),
])
def test_a_broken_catalog_is_refused_naming_the_metric_and_the_problem(broken, message):
    with pytest.raises(CatalogError, match=message):
        parse(broken)


def test_a_metric_and_its_glossary_term_go_by_the_same_name_in_both_languages():
    from commands import metric_text

    def core(name: str) -> str:
        return name.split("（")[0].split(" (")[0].strip().lower()

    for term in get_glossary().terms:
        if term.metric and term.key == term.metric:
            info = catalog.get(term.metric)
            for lang in ("en", "ja"):
                assert core(term.name(lang)) == core(metric_text.label(info, lang)), (term.key, lang)
