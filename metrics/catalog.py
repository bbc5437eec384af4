"""The metric catalog: what each metric is, read from ``metrics/catalog.toml``.

One entry per metric (the names of the metric conventions): its unit, the command
that shows it, whether it is taken over the period or at its end, whether it is a
revenue figure, which way is good, the units of its parts, how people type it
(aliases, the parser's vocabulary) and its label, description, formula and
"how it was computed" template in English and Japanese. The file is checked on
first use; a broken entry stops csbot with the metric and the problem.

How a metric is computed is not here: ``metrics/compute.py`` binds each name to
its function. How its texts are filled in and shown is ``commands/metric_text.py``.
"""

from __future__ import annotations

import builtins
import logging
import re
import string
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping

logger = logging.getLogger(__name__)

PATH = Path(__file__).with_name("catalog.toml")

UNITS = ("ratio", "money", "count", "score", "days", "minutes")
KINDS = ("period", "point_in_time")
LANGUAGES = ("en", "ja")
TEXTS = ("label", "description", "formula", "how")
_FIELDS = {"unit", "command", "kind", "revenue", "higher_is_better", "signed", "part_units", "aliases", "part_aliases",
           *LANGUAGES}
_NAME = re.compile(r"[a-z][a-z0-9_]*")


class CatalogError(ValueError):
    """The catalog file is malformed: the message names the metric and the problem."""


@dataclass(frozen=True)
class MetricInfo:
    """One metric of the catalog (data only: no computation, no formatting)."""

    name: str
    unit: str
    command: str  # the command whose answer shows it
    kind: str  # period | point_in_time
    revenue: bool  # a revenue figure (privacy rule)
    higher_is_better: bool
    signed: bool  # shown with its sign ("+32")
    part_units: Mapping[str, str]  # unit of each part a "how" text names (others: count)
    aliases: Mapping[str, tuple[str, ...]]  # lang -> how people type it (lower case)
    texts: Mapping[str, Mapping[str, str]]  # lang -> label, description, formula, how
    # alias -> the one part of the metric it names ("new mrr" -> "new" of the MRR movements)
    part_aliases: Mapping[str, str]

    @property
    def point_in_time(self) -> bool:
        return self.kind == "point_in_time"

    def text(self, lang: str, field: str) -> str:
        """One of label, description, formula, how in ``lang`` (English for an unknown language)."""
        return self.texts[lang if lang in self.texts else "en"][field]

    def part_unit(self, part: str) -> str:
        return self.part_units.get(part, "count")


@dataclass(frozen=True)
class Catalog:
    metrics: Mapping[str, MetricInfo]  # in file order
    command_words: Mapping[str, Mapping[str, tuple[str, ...]]]  # command -> lang -> words


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


_GLOSSED = re.compile(r"^(?P<head>[^(（]+?)\s*[(（](?P<gloss>[^)）]+)[)）]$")  # "NRR (net revenue retention)"


def _words(where: str, value: object) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict) or set(value) != set(LANGUAGES):
        raise CatalogError(f"{where}: needs en and ja lists")
    out = {}
    for lang in LANGUAGES:
        words = value[lang]
        if not isinstance(words, list) or not builtins.all(isinstance(w, str) and w.strip() for w in words):
            raise CatalogError(f"{where}.{lang}: must be a list of non-empty strings")
        if any(w != w.strip().lower() for w in words):
            raise CatalogError(f"{where}.{lang}: words are written in lower case without outer spaces")
        out[lang] = tuple(words)
    return out


def _metric(name: str, entry: object, shared_units: Mapping[str, str]) -> MetricInfo:
    where = f"{PATH.name}: metric {name!r}"
    if not _NAME.fullmatch(name):
        raise CatalogError(f"{where}: names are snake_case")
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: not a table")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise CatalogError(f"{where}: unknown field(s) {', '.join(unknown)}")
    if entry.get("unit") not in UNITS:
        raise CatalogError(f"{where}: unit must be one of {', '.join(UNITS)}")
    if entry.get("kind") not in KINDS:
        raise CatalogError(f"{where}: kind must be one of {', '.join(KINDS)}")
    if not isinstance(entry.get("command"), str) or not entry["command"]:
        raise CatalogError(f"{where}: command (the command that shows it) is missing")
    for flag in ("revenue", "higher_is_better"):
        if not isinstance(entry.get(flag), bool):
            raise CatalogError(f"{where}: {flag} must be true or false")
    if not isinstance(entry.get("signed", False), bool):
        raise CatalogError(f"{where}: signed must be true or false")
    own_units = entry.get("part_units", {})
    if not isinstance(own_units, dict) or any(u not in UNITS for u in own_units.values()):
        raise CatalogError(f"{where}: part_units must map parts to units")
    texts: dict[str, Mapping[str, str]] = {}
    for lang in LANGUAGES:
        block = entry.get(lang)
        if not isinstance(block, dict) or set(block) != set(TEXTS):
            raise CatalogError(f"{where}: [{lang}] needs exactly {', '.join(TEXTS)}")
        if not builtins.all(isinstance(v, str) and v for v in block.values()):
            raise CatalogError(f"{where}: [{lang}] texts must be non-empty strings")
        texts[lang] = MappingProxyType(dict(block))
    if _placeholders(texts["en"]["how"]) != _placeholders(texts["ja"]["how"]):
        raise CatalogError(f"{where}: en.how and ja.how name different parts")
    for lang in LANGUAGES:
        for field in ("label", "description", "formula"):
            if _placeholders(texts[lang][field]):
                raise CatalogError(f"{where}: {lang}.{field} is plain text (no {{placeholders}})")
    aliases = _words(f"{where}: aliases", entry.get("aliases"))
    return MetricInfo(
        name=name, unit=entry["unit"], command=entry["command"], kind=entry["kind"], revenue=entry["revenue"],
        higher_is_better=entry["higher_is_better"], signed=entry.get("signed", False),
        part_units=MappingProxyType({**shared_units, **own_units}),
        aliases=MappingProxyType(aliases),
        texts=MappingProxyType(texts),
        part_aliases=MappingProxyType(_part_aliases(where, entry.get("part_aliases", {}), aliases)),
    )


def _part_aliases(where: str, value: object, aliases: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """``{part = [alias, ...]}`` -> alias -> part; each alias one of the metric's own."""
    if not isinstance(value, dict):
        raise CatalogError(f"{where}: part_aliases must map parts to lists of aliases")
    own = {a for words in aliases.values() for a in words}
    out: dict[str, str] = {}
    for part, words in value.items():
        if not isinstance(words, list) or not builtins.all(isinstance(w, str) for w in words):
            raise CatalogError(f"{where}: part_aliases.{part} must be a list of aliases")
        for w in words:
            if w not in own:
                raise CatalogError(f"{where}: part_aliases.{part} names {w!r}, which is not an alias of the metric")
            if out.setdefault(w, part) != part:
                raise CatalogError(f"{where}: {w!r} names two parts")
    return out


def parse(text: str) -> Catalog:
    """Read and check catalog TOML text."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{PATH.name}: not valid TOML: {exc}") from None
    shared = doc.get("part_units", {})
    if not isinstance(shared, dict) or any(u not in UNITS for u in shared.values()):
        raise CatalogError(f"{PATH.name}: [part_units] must map parts to units")
    entries = doc.get("metric")
    if not isinstance(entries, dict) or not entries:
        raise CatalogError(f"{PATH.name}: no [metric.<name>] entries")
    metrics = {name: _metric(name, entry, shared) for name, entry in entries.items()}
    words = {cmd: MappingProxyType(_words(f"{PATH.name}: command_words.{cmd}", value))
             for cmd, value in doc.get("command_words", {}).items()}
    owner: dict[str, str] = {}
    for info in metrics.values():
        for lang in LANGUAGES:
            for alias in info.aliases[lang]:
                if owner.setdefault(alias, info.name) != info.name:
                    raise CatalogError(f"{PATH.name}: alias {alias!r} names both {owner[alias]} and {info.name}")
    for cmd, by_lang in words.items():
        for lang in LANGUAGES:
            for word in by_lang[lang]:
                if word in owner:
                    raise CatalogError(f"{PATH.name}: command word {word!r} of {cmd} is an alias of {owner[word]}")
    return Catalog(metrics=MappingProxyType(metrics), command_words=MappingProxyType(words))


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The packaged catalog, read and checked once."""
    return parse(PATH.read_text(encoding="utf-8"))


def key(name: str) -> str:
    """How a typed metric name is looked up: "Customer-Churn-Rate" -> "customer_churn_rate"."""
    return name.strip().lower().replace("-", "_")


def get(name: str) -> MetricInfo:
    """The metric ``name`` (case and hyphens forgiven); KeyError when there is none."""
    metrics = catalog().metrics
    k = key(name)
    if k not in metrics:
        raise KeyError(name)
    return metrics[k]


def all() -> tuple[MetricInfo, ...]:  # noqa: A001 - the catalog's own word for "every metric"
    """Every metric, in catalog order."""
    return tuple(catalog().metrics.values())


def names() -> tuple[str, ...]:
    return tuple(catalog().metrics)


def label_words(info: MetricInfo) -> tuple[str, ...]:
    """How the labels csbot prints for ``info`` may be typed back, lower case: each whole, and a
    label with a gloss also as its two parts ("NRR (net revenue retention)": "nrr", "net revenue
    retention"; "カスタマーチャーンレート（顧客解約率）"). A gloss of one plain word ("median")
    names no metric by itself and is left out."""
    words: list[str] = []
    for lang in LANGUAGES:
        label = info.text(lang, "label").strip().lower()
        words.append(label)
        m = _GLOSSED.match(label)
        if m:
            words.append(m["head"].strip())
            if not re.fullmatch(r"[a-z]+", m["gloss"].strip()):
                words.append(m["gloss"].strip())
    return tuple(dict.fromkeys(words))


def vocabulary() -> dict[str, str]:
    """Word -> metric name, for the parser: every alias in both languages, each name itself, and
    the words of each label (``label_words``) that no alias holds and no other label shares: a
    CSM types back what an answer printed."""
    out: dict[str, str] = {}
    for info in catalog().metrics.values():
        out[info.name] = info.name
        for lang in LANGUAGES:
            for alias in info.aliases[lang]:
                out[alias] = info.name
    labelled: dict[str, set[str]] = {}
    for info in catalog().metrics.values():
        for word in label_words(info):
            labelled.setdefault(word, set()).add(info.name)
    for word, owners in labelled.items():
        if len(owners) == 1 and word not in out:
            out[word] = next(iter(owners))
    return out


def command_keywords(command: str) -> tuple[str, ...]:
    """The words that point a free-form question to ``command``: the aliases of the metrics
    it shows, then its own words, English first."""
    words: list[str] = []
    for lang in LANGUAGES:
        for info in catalog().metrics.values():
            if info.command == command:
                words.extend(info.aliases[lang])
        words.extend(catalog().command_words.get(command, {}).get(lang, ()))
    return tuple(dict.fromkeys(words))


def any_revenue(metric_names: Iterable[str]) -> bool:
    """Is any of these metrics a revenue figure? (KeyError for a name the catalog lacks.)"""
    return any(get(n).revenue for n in metric_names)
