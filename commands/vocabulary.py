"""The words a question may use, from where they are kept: metric names and aliases (the catalog),
command names, aliases and keywords (the commands' specs), the Japanese names of known values
(the message table's ``values.*``) and, when a connection is given, the dimension values the data
holds (segment, plan, region, touch model, owner: one query, ``metrics.accounts.dimension_values``).

``prep`` is the one normal form every word and every question is compared in (``understand``
uses it on the question, this module on the words): NFKC, lower case, a space between Latin
letters or digits and kana (``Q3のGRR`` -> ``q3 の grr``) so that a glued Japanese particle
never hides a word.

The few words no table holds (how a dimension, a breakdown or a grain is said) are listed here,
once, in ``DIMENSION_WORDS``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import Connection

from commands.messages import table
from metrics import catalog
from metrics.filters import FILTER_KEYS

logger = logging.getLogger(__name__)

# How people name a dimension (EN and JA), for "by segment", "セグメント別", "plan:pro".
DIMENSION_WORDS: dict[str, tuple[str, ...]] = {
    "segment": ("segment", "segments", "セグメント"),
    "plan": ("plan", "plans", "料金プラン", "プラン"),
    "region": ("region", "regions", "リージョン", "地域", "エリア"),
    "owner": ("owner", "owners", "csm", "csms", "rep", "reps", "account manager", "account managers",
              "account owner", "account owners", "success manager", "success managers", "担当者", "担当", "担当csm",
              "オーナー"),
    "touch_model": ("touch model", "touch-model", "touch_model", "touch models", "タッチモデル"),
}
# Words people use for a metric under another name, offered as "did you mean" only (never read as
# the metric: "売上" may mean MRR, ARR or bookings, so the asker chooses).
NEAR_METRICS: dict[str, str] = {"売上": "MRR", "売上高": "MRR", "収益": "MRR", "revenue": "MRR", "sales": "MRR",
                                "income": "MRR", "解約数": "churn", "churns": "churn", "attrition": "churn",
                                "arpu": "ARPA"}
# Typed filter keys in Japanese ("担当: 山田"), on top of metrics.filters.FILTER_KEYS.
JA_FILTER_KEYS = {"担当": "owner", "担当者": "owner", "セグメント": "segment", "プラン": "plan", "地域": "region",
                  "リージョン": "region", "タッチモデル": "touch_model"}
# values.toml prefixes -> the dimension they name
_VALUE_PREFIX = {"segment": "segment", "touch": "touch_model", "region": "region"}

_KANA = r"\u3040-\u30ff\uff66-\uff9f"
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff"


def prep(text: str) -> str:
    """The normal form of a question or a word: NFKC, ``〜``/``~`` as ``..``, a space between
    Latin letters/digits and kana, and between Latin letters and kanji (``10月`` stays glued),
    and lower case with ``key``."""
    text = unicodedata.normalize("NFKC", text or "").replace("〜", "..").replace("~", "..")
    text = re.sub(rf"([A-Za-z0-9%])(?=[{_KANA}])(?![ヶヵかカケ]月)", r"\1 ", text)
    text = re.sub(rf"([{_KANA}])(?=[A-Za-z0-9@#<])", r"\1 ", text)
    text = re.sub(rf"([A-Za-z])(?=[{_CJK}])", r"\1 ", text)
    text = re.sub(rf"([{_CJK}])(?=[A-Za-z])", r"\1 ", text)
    return text


def key(word: str) -> str:
    """A vocabulary word as it is looked up: ``prep`` and lower case."""
    return prep(word).lower()


@dataclass(frozen=True)
class Vocabulary:
    """Every word csbot reads, in ``prep`` form."""

    metrics: dict[str, str]  # alias -> metric name
    commands: dict[str, str]  # command name / alias / keyword -> command name
    command_names: frozenset[str]  # the first word of a command: names and aliases
    values: dict[str, dict[str, str]]  # dimension -> word -> value as the data (or the contract) writes it
    data: bool = False  # values come from the database
    owners: tuple[str, ...] = field(default=())  # every owner as stored

    def value_words(self) -> list[tuple[str, str, str]]:
        """(word, dimension, value), longest word first."""
        out = [(w, dim, v) for dim, words in self.values.items() for w, v in words.items()]
        return sorted(out, key=lambda x: -len(x[0]))

    def suggestion_words(self, ascii_only: bool | None = None) -> list[str]:
        """Every word worth offering as "did you mean"."""
        words = set(self.metrics) | set(self.command_names) | {w for ws in DIMENSION_WORDS.values() for w in ws}
        for by_word in self.values.values():
            words |= set(by_word)
        if ascii_only is None:
            return sorted(words)
        return sorted(w for w in words if w.isascii() == ascii_only)


@lru_cache(maxsize=1)
def _static() -> tuple[dict[str, str], dict[str, str], frozenset[str], dict[str, dict[str, str]]]:
    from commands.registry import load_commands

    metrics = {key(alias): name for alias, name in catalog.vocabulary().items()}
    metrics.update({key(name.replace("_", " ")): name for name in catalog.names()})
    commands: dict[str, str] = {}
    names: set[str] = set()
    for spec in load_commands().values():
        for word in (spec.name, *spec.aliases):
            commands[key(word)] = spec.name
            names.add(key(word))
        for word in spec.keywords:
            commands.setdefault(key(word), spec.name)
    values: dict[str, dict[str, str]] = {dim: {} for dim in DIMENSION_WORDS}
    for message, entry in table().items():
        if not message.startswith("values."):
            continue
        prefix, _, value = message.removeprefix("values.").partition("_")
        dim = _VALUE_PREFIX.get(prefix)
        if dim is None:
            continue
        values[dim][key(str(entry["ja"]))] = value
        values[dim].setdefault(key(value), value)
    return metrics, commands, frozenset(names), values


def vocabulary(conn: Connection | None = None) -> Vocabulary:
    """The words of the catalog, the commands and the message table; with ``conn``, also the
    dimension values the data holds (then only those: a value the data lacks is not a filter)."""
    metrics, commands, names, known = _static()
    if conn is None:
        return Vocabulary(metrics=metrics, commands=commands, command_names=names,
                          values={dim: dict(words) for dim, words in known.items()})
    from metrics.accounts import dimension_values

    found = dimension_values(conn)
    values: dict[str, dict[str, str]] = {}
    for dim in DIMENSION_WORDS:
        stored = found.get(dim, [])
        by_lower = {v.lower(): v for v in stored}
        words: dict[str, str] = {}
        for value in stored:
            words[key(value)] = value
            if dim == "owner" and "@" in value:  # "alice" is alice@example.com
                words.setdefault(key(value.split("@", 1)[0]), value)
        for word, value in known.get(dim, {}).items():  # Japanese names of values the data holds
            if value.lower() in by_lower:
                words.setdefault(word, by_lower[value.lower()])
        values[dim] = words
    return Vocabulary(metrics=metrics, commands=commands, command_names=names, values=values, data=True,
                      owners=tuple(found.get("owner", [])))


def filter_key(word: str) -> str | None:
    """The ``Filters`` field a typed key names ("segment", "touch", "担当"), or None."""
    word = word.strip().lower()
    return FILTER_KEYS.get(word) or JA_FILTER_KEYS.get(word)


def headline_metric(command: str) -> str | None:
    """The metric a command's answer leads with, from the catalog: the metric named like the
    command, else the one whose alias is the command's name, else its first metric."""
    shown = [m for m in catalog.all() if m.command == command]
    for info in shown:
        if info.name == command:
            return info.name
    for info in shown:
        if command in info.aliases["en"]:
            return info.name
    return shown[0].name if shown else None
