"""The CS glossary: load, validate and look up terms (English and Japanese).

The entries live in ``commands/glossary.toml`` (one file, both languages).
A metric term names its metrics; everything else about them (formula, label,
the command that shows the number) comes from the metric catalog
(``metrics/catalog.toml``), never written twice. This module knows nothing about
Slack or the database: ``commands/term.py`` turns a :class:`Term` into a
``Reply`` and adds today's value of its metric.

Lookups forgive what people actually type: case, spaces, hyphens,
underscores and middle dots, full-width letters (NFKC), hiragana for
katakana, katakana long-vowel marks (マネージャー / マネジャー, ティー / ティ),
a few katakana spelling variants, trailing question words ("って何？",
"とは", "what is ...?") and small typos ("chrun" -> churn rate).
"""

from __future__ import annotations

import logging
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from commands.language import LANGUAGES
from commands.periods import PeriodError, find_period
from metrics import catalog

logger = logging.getLogger(__name__)

DEFAULT_PATH = Path(__file__).with_name("glossary.toml")

#: Category keys in display order, with their labels per language.
CATEGORIES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "foundations": {"en": "Foundations", "ja": "基本用語"},
        "touch_models": {"en": "Touch models", "ja": "タッチモデル"},
        "lifecycle": {"en": "Customer lifecycle", "ja": "カスタマーライフサイクル"},
        "metrics": {"en": "Metrics", "ja": "指標"},
        "growth": {"en": "Growth and product", "ja": "グロース・プロダクト"},
    }
)
REQUIRED_TEXT = ("name", "short", "body")
OPTIONAL_TEXT = ("example", "formula")
TEXT_FIELDS = REQUIRED_TEXT + OPTIONAL_TEXT
_ENTRY_FIELDS = {"key", "category", "aliases", "related", "metrics", *LANGUAGES}
_KEY_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


class GlossaryError(ValueError):
    """The glossary file is broken; the message names the entry and the problem."""


@dataclass(frozen=True)
class Term:
    """One glossary entry."""

    key: str
    category: str
    texts: Mapping[str, Mapping[str, str]] = field(hash=False, repr=False)
    aliases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()  # metric catalog names; the first is the headline

    def text(self, lang: str, name: str) -> str | None:
        """``name`` (name, short, body, example, formula) in ``lang``; English when
        ``lang`` is unknown. None for an optional field the entry doesn't have."""
        if name not in TEXT_FIELDS:
            raise KeyError(f"unknown glossary text field {name!r}")
        lang = lang if lang in self.texts else "en"
        return self.texts.get(lang, {}).get(name) or None

    def name(self, lang: str = "en") -> str:
        return self.text(lang, "name") or self.key

    @property
    def metric(self) -> str | None:
        """The headline metric name, or None for a non-metric term."""
        return self.metrics[0] if self.metrics else None

    @property
    def command(self) -> str | None:
        """The csbot command that shows the headline metric (from the metric catalog)."""
        return catalog.get(self.metrics[0]).command if self.metrics else None

    @property
    def is_metric(self) -> bool:
        return bool(self.metrics)

    @property
    def names(self) -> tuple[str, ...]:
        """Every string that names this term: both names, then the aliases."""
        out = [self.texts[lang]["name"] for lang in LANGUAGES if self.texts.get(lang, {}).get("name")]
        return tuple(out) + self.aliases


@dataclass(frozen=True)
class LookupResult:
    """What a lookup found.

    ``term`` is set when one term matched (``exact`` False means it was found
    by typo tolerance or a partial match: say "showing X"). Otherwise
    ``ambiguous`` lists the candidates when several matched equally well, and
    ``suggestions`` the closest terms for "did you mean ...?".
    """

    query: str
    term: Term | None = None
    exact: bool = False
    matched: str | None = None  # the name or alias that matched
    suggestions: tuple[Term, ...] = ()
    ambiguous: tuple[Term, ...] = ()

    @property
    def found(self) -> bool:
        return self.term is not None


# --------------------------------------------------------------------------- text normalisation

_HIRAGANA_START, _HIRAGANA_END = 0x3041, 0x3096
_KANA_VARIANTS = (
    # spelling variants of loanwords, mapped one way on both sides
    ("ヴァ", "バ"),
    ("ヴィ", "ビ"),
    ("ヴェ", "ベ"),
    ("ヴォ", "ボ"),
    ("ヴ", "ブ"),
    ("ウィ", "ウイ"),
    ("ウェ", "ウエ"),
    ("ウォ", "ウオ"),
    ("ルティ", "リティ"),  # ロイヤルティ / ロイヤリティ
    ("トゥ", "ツ"),  # タイムトゥバリュー / タイムツーバリュー
    ("ヶ", "ケ"),
)
_LONG_VOWELS = "ー〜～"


def normalize(text: str) -> str:
    """The matching key of ``text``: NFKC, lower case, katakana for hiragana,
    no long-vowel marks, only letters and digits, known kana variants folded."""
    text = unicodedata.normalize("NFKC", text).casefold()
    chars: list[str] = []
    for ch in text:
        code = ord(ch)
        if _HIRAGANA_START <= code <= _HIRAGANA_END:
            ch = chr(code + 0x60)
        if ch in _LONG_VOWELS:
            continue
        if unicodedata.category(ch)[0] not in "LNM":
            continue  # spaces, hyphens, underscores, middle dots, slashes, ?, quotes
        chars.append(ch)
    out = "".join(chars)
    for variant, canonical in _KANA_VARIANTS:
        out = out.replace(variant, canonical)
    return out


# question words around a term: "NRRって何？", "what is NRR?"
_EN_PREFIXES = (
    "what is meant by",
    "what is the meaning of",
    "what's the meaning of",
    "what is the definition of",
    "what's the definition of",
    "what is a",
    "what is an",
    "what is the",
    "what is",
    "what's a",
    "what's an",
    "what's the",
    "what's",
    "whats",
    "what are",
    "what does",
    "meaning of",
    "definition of",
    "define",
    "explain",
    "tell me about",
    "describe",
    "glossary",
    "term",
)
_EN_SUFFIXES = ("stand for", "stands for", "mean", "means", "meaning", "definition")
_JA_SUFFIXES = (
    "ってどういう意味ですか",
    "ってどういう意味",
    "とはどういう意味ですか",
    "とはどういう意味",
    "ってなんですか",
    "って何ですか",
    "ってなに",
    "って何",
    "ってなん",
    "とはなんですか",
    "とは何ですか",
    "とは何でしょう",
    "とは何か",
    "とはなに",
    "とは何",
    "とは",
    "の意味を教えてください",
    "の意味を教えて",
    "について教えてください",
    "について教えて",
    "を教えてください",
    "を教えて",
    "を説明して",
    "について",
    "の意味は",
    "の意味",
    "の定義",
    "の説明",
    "は何ですか",
    "はなんですか",
    "は何",
    "はなに",
    "って",
)
_JA_PREFIXES = ("用語", "教えて")
_EDGE_PUNCT = " \t\r\n?？!！。．.、,:：;「」『』\"'“”‘’`()（）[]【】"
_MENTION_RE = re.compile(r"^\s*<@[^>]+>\s*")


def _strip_once(text: str) -> tuple[str, bool]:
    """Strip one question cue from ``text``; (rest, whether a cue was found)."""
    low = text.casefold()
    for prefix in _EN_PREFIXES:
        if low.startswith(prefix + " "):
            return text[len(prefix) + 1 :], True
    for prefix in _JA_PREFIXES:
        if low.startswith(prefix) and len(low) > len(prefix):
            rest = text[len(prefix) :]
            return rest.lstrip(" :：「"), True
    for suffix in _JA_SUFFIXES:
        if low.endswith(suffix) and len(low) > len(suffix):
            return text[: -len(suffix)], True
    for suffix in _EN_SUFFIXES:
        if low.endswith(" " + suffix):
            return text[: -len(suffix) - 1], True
    return text, False


def _strip_question(text: str) -> tuple[str, bool]:
    text = _MENTION_RE.sub("", unicodedata.normalize("NFKC", text or ""))
    text = text.strip(_EDGE_PUNCT)
    cue = False
    for _ in range(6):
        text, found = _strip_once(text)
        text = text.strip(_EDGE_PUNCT)
        if not found:
            break
        cue = True
    low = text.casefold()
    for article in ("the ", "a ", "an "):
        if low.startswith(article) and len(low) > len(article):
            text = text[len(article) :].strip()
            break
    return text, cue


def strip_question(text: str) -> str:
    """``text`` without question words: "ヘルススコアって何？" -> "ヘルススコア"."""
    return _strip_question(text)[0]


# words that make a question about a number, not about a word ("what is our churn?")
_METRIC_QUESTION_WORDS = re.compile(
    r"\b(our|my|your|last|this|today|yesterday|current|now|currently|previous)\b"
    r"|今期|前期|四半期|現在|いま|今の|弊社|当社|自社|うちの",  # period words the parser reads: _names_a_period
    re.IGNORECASE,
)


def extract_term(text: str) -> str | None:
    """The term asked about in a natural question, or None when ``text`` isn't
    a "what is X" question: "what is stickiness?" -> "stickiness",
    "NRRって何？" -> "NRR", "explain high touch" -> "high touch",
    "define LTV" -> "LTV". Questions about a number ("what is our NRR last
    month?", "先月の解約率は？") give None: they go to the metric commands."""
    rest, cue = _strip_question(text)
    if not cue or not rest or len(rest) > 40:
        return None
    if _METRIC_QUESTION_WORDS.search(rest) or _names_a_period(rest):
        return None
    return rest


_ANY_DAY = date(2000, 1, 15)  # only whether a period is named matters here, not which


def _names_a_period(text: str) -> bool:
    """Does ``text`` name a period ("9月", "2026-Q3", "last-quarter")? The period parser decides."""
    try:
        period, _ = find_period(text, _ANY_DAY)
    except PeriodError:
        return True  # shaped like a period (2026年13月): the metric command explains what is wrong
    return period is not None


# --------------------------------------------------------------------------- the glossary


_SUGGEST_FLOOR = 45.0


def _typo_budget(query: str) -> int:
    """How many edits a query of this length may carry and still match."""
    if len(query) <= 3:  # "mmr", "ヘルプ": too short to guess which word was meant
        return 0
    size = sum(2 if ord(ch) > 0x2FFF else 1 for ch in query)  # a kana/kanji says more
    if size <= 8:
        return 1
    if size <= 14:
        return 2
    return 3


class Glossary:
    """All terms, indexed for lookup. Build with :meth:`load` or :meth:`loads`."""

    def __init__(self, terms: Iterable[Term], source: str = "<glossary>") -> None:
        self.source = source
        self.terms: tuple[Term, ...] = tuple(terms)
        self._by_key: dict[str, Term] = {}
        self._index: dict[str, dict[str, str]] = {}  # normalized -> {term key: name typed}
        for term in self.terms:
            self._by_key.setdefault(term.key, term)
            for name in (*term.names, term.key):  # the key too: buttons carry it
                norm = normalize(name)
                if norm:
                    self._index.setdefault(norm, {}).setdefault(term.key, name)
        self._keys = list(self._index)
        self.validate()

    # ---- construction

    @classmethod
    def load(cls, path: str | Path | None = None) -> Glossary:
        """Read and validate the glossary file (the packaged one by default)."""
        path = Path(path) if path is not None else DEFAULT_PATH
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise GlossaryError(f"cannot read the glossary file {path}: {exc.strerror or exc}") from None
        return cls.loads(text, source=str(path))

    @classmethod
    def loads(cls, text: str, source: str = "<glossary>") -> Glossary:
        """Parse and validate glossary TOML text."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise GlossaryError(f"{source}: not valid TOML: {exc}") from None
        entries = data.get("term")
        if not isinstance(entries, list) or not entries:
            raise GlossaryError(f"{source}: no [[term]] entries")
        terms = [_parse_entry(entry, index, source) for index, entry in enumerate(entries, 1)]
        glossary = cls(terms, source=source)
        logger.debug("glossary loaded from %s: %d terms", source, len(terms))
        return glossary

    # ---- validation

    def validate(self) -> None:
        """Raise :class:`GlossaryError` naming the first broken entry."""
        seen: set[str] = set()
        metric_names = set(catalog.names())
        for term in self.terms:
            where = f"{self.source}: entry '{term.key}'"
            if term.key in seen:
                raise GlossaryError(f"{where}: the key is used by two entries")
            seen.add(term.key)
            if not _KEY_RE.match(term.key):
                raise GlossaryError(f"{where}: the key must be snake_case (a-z, 0-9, _)")
            if term.category not in CATEGORIES:
                known = ", ".join(CATEGORIES)
                raise GlossaryError(f"{where}: unknown category '{term.category}' (use one of {known})")
            for name in REQUIRED_TEXT:
                for lang in LANGUAGES:
                    if not term.texts.get(lang, {}).get(name):
                        raise GlossaryError(f"{where}: {lang}.{name} is missing or empty")
            for name in OPTIONAL_TEXT:
                present = [lang for lang in LANGUAGES if term.texts.get(lang, {}).get(name)]
                if present and len(present) != len(LANGUAGES):
                    missing = ", ".join(f"{lang}.{name}" for lang in LANGUAGES if lang not in present)
                    raise GlossaryError(f"{where}: {missing} is missing (every text needs both languages)")
            for other in term.related:
                if other == term.key:
                    raise GlossaryError(f"{where}: related lists the entry itself")
                if other not in self._by_key:
                    raise GlossaryError(f"{where}: related term '{other}' does not exist")
            for name in term.metrics:
                if name not in metric_names:
                    raise GlossaryError(f"{where}: metric '{name}' is not in the metric catalog")
            if len(set(term.metrics)) != len(term.metrics):
                raise GlossaryError(f"{where}: a metric is listed twice")
        for norm, owners in self._index.items():
            if len(owners) > 1:
                first, second = sorted(owners, key=lambda k: [t.key for t in self.terms].index(k))[:2]
                raise GlossaryError(
                    f"{self.source}: entry '{second}': the name or alias '{owners[second]}' "
                    f"is also a name of entry '{first}' ('{owners[first]}'); each must point to one term"
                )

    def check_metric_coverage(self, metric_names: Iterable[str]) -> list[str]:
        """Problems between the glossary and the declared metrics: a declared
        metric no term points to, a term metric that isn't declared. Empty when
        they agree."""
        declared = list(dict.fromkeys(metric_names))
        pointed: dict[str, list[str]] = {}
        for term in self.terms:
            for name in term.metrics:
                pointed.setdefault(name, []).append(term.key)
        problems = [f"metric '{name}' has no glossary term" for name in declared if name not in pointed]
        declared_set = set(declared)
        for term in self.terms:
            for name in term.metrics:
                if name not in declared_set:
                    problems.append(f"entry '{term.key}': metric '{name}' is not a declared metric")
        return problems

    # ---- access

    def __iter__(self) -> Iterator[Term]:
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def get(self, key: str) -> Term | None:
        return self._by_key.get(key)

    def terms_for_metric(self, metric: str) -> list[Term]:
        """Terms that show ``metric``: the ones whose headline it is first, then
        terms of the metrics category, then file order."""
        hits = [t for t in self.terms if metric in t.metrics]
        return sorted(hits, key=lambda t: (t.metrics.index(metric), t.category != "metrics"))

    def related_terms(self, term: Term) -> list[Term]:
        return [self._by_key[k] for k in term.related if k in self._by_key]

    def by_category(self, lang: str = "en") -> list[tuple[str, list[Term]]]:
        """(category label in ``lang``, its terms in file order), categories in display order."""
        lang = lang if lang in LANGUAGES else "en"
        out = []
        for cat, labels in CATEGORIES.items():
            terms = [t for t in self.terms if t.category == cat]
            if terms:
                out.append((labels[lang], terms))
        return out

    # ---- lookup

    def lookup(self, query: str) -> LookupResult:
        """Find the term ``query`` names; see :class:`LookupResult`."""
        raw = query or ""
        stripped = strip_question(raw)
        norm = normalize(stripped) or normalize(raw)
        if not norm:
            return LookupResult(query=raw)

        hit = self._exact(norm)
        if hit is None and norm.endswith("s") and len(norm) > 3:
            hit = self._exact(norm[:-1])  # plural: "KPIs", "tooltips"
        if hit is not None:
            return LookupResult(query=raw, term=hit[0], exact=True, matched=hit[1])

        # small typos: edit distance (a swap counts as one edit) within a budget
        budget = _typo_budget(norm)
        if budget:
            result = self._typo_match(raw, norm, budget)
            if result is not None:
                return result

        # the query holds a whole name ("nps score", "high touch model")
        contained = [k for k in self._keys if len(k) >= 3 and k in norm]
        if contained:
            longest = max(len(k) for k in contained)
            owners = self._owners([k for k in contained if len(k) == longest])
            if len(owners) == 1:
                key, name = owners[0]
                return LookupResult(query=raw, term=self._by_key[key], matched=name)
            return LookupResult(query=raw, ambiguous=tuple(self._by_key[k] for k, _ in owners))

        # the query is part of a name ("health" -> health score), from the start of one of its words
        # when it is Latin script: "cac" is not part of "PDCA cycle"
        if len(norm) >= 3:
            owners = self._owners([k for k in self._keys if norm in k and self._begins_a_word(norm, k)])
            if len(owners) == 1:
                key, name = owners[0]
                return LookupResult(query=raw, term=self._by_key[key], matched=name)
            if len(owners) > 1:
                return LookupResult(query=raw, ambiguous=tuple(self._by_key[k] for k, _ in owners[:8]))

        return LookupResult(query=raw, suggestions=self.suggest(norm))

    def suggest(self, norm: str, limit: int = 3) -> tuple[Term, ...]:
        """The closest terms to a normalised query, best first (may be empty
        when nothing is even remotely close)."""
        best: dict[str, float] = {}
        for key in self._keys:
            # whole-string similarity first; a partial match counts a bit less
            score = max(fuzz.ratio(norm, key), 0.85 * fuzz.WRatio(norm, key))
            if score < _SUGGEST_FLOOR:
                continue
            for term_key in self._index[key]:
                if score > best.get(term_key, 0.0):
                    best[term_key] = score
        order = {t.key: i for i, t in enumerate(self.terms)}
        ranked = sorted(best, key=lambda k: (-best[k], order[k]))
        return tuple(self._by_key[k] for k in ranked[:limit])

    def _begins_a_word(self, norm: str, key: str) -> bool:
        if not norm.isascii():
            return True  # Japanese names run words together: any part is a part
        return any(normalize(name[m.start():]).startswith(norm)
                   for name in self._index[key].values() for m in re.finditer(r"\b\w", name))

    def _exact(self, norm: str) -> tuple[Term, str] | None:
        owners = self._index.get(norm)
        if not owners:
            return None
        key, name = next(iter(owners.items()))
        return self._by_key[key], name

    def _owners(self, norms: Iterable[str]) -> list[tuple[str, str]]:
        """Distinct (term key, name) owning any of ``norms``, in file order."""
        found: dict[str, str] = {}
        for norm in norms:
            for key, name in self._index[norm].items():
                found.setdefault(key, name)
        order = {t.key: i for i, t in enumerate(self.terms)}
        return sorted(found.items(), key=lambda kv: order[kv[0]])

    def _typo_match(self, raw: str, norm: str, budget: int) -> LookupResult | None:
        best: dict[str, tuple[int, str]] = {}
        for key in self._keys:
            if abs(len(key) - len(norm)) > budget:
                continue
            dist = OSA.distance(norm, key, score_cutoff=budget)
            if dist > budget:
                continue
            for term_key, name in self._index[key].items():
                if term_key not in best or dist < best[term_key][0]:
                    best[term_key] = (dist, name)
        if not best:
            return None
        low = min(d for d, _ in best.values())
        winners = [k for k, (d, _) in best.items() if d == low]
        if len(winners) == 1:
            key = winners[0]
            return LookupResult(query=raw, term=self._by_key[key], matched=best[key][1])
        order = {t.key: i for i, t in enumerate(self.terms)}
        winners.sort(key=order.__getitem__)
        return LookupResult(query=raw, ambiguous=tuple(self._by_key[k] for k in winners))


def _parse_entry(entry: Any, index: int, source: str) -> Term:
    if not isinstance(entry, dict):
        raise GlossaryError(f"{source}: term #{index} is not a table")
    key = entry.get("key")
    if not isinstance(key, str) or not key:
        raise GlossaryError(f"{source}: term #{index} has no key")
    where = f"{source}: entry '{key}'"
    unknown = sorted(set(entry) - _ENTRY_FIELDS)
    if unknown:
        raise GlossaryError(f"{where}: unknown field(s) {', '.join(unknown)}")
    category = entry.get("category")
    if not isinstance(category, str):
        raise GlossaryError(f"{where}: category is missing")

    def str_list(name: str) -> tuple[str, ...]:
        value = entry.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise GlossaryError(f"{where}: {name} must be a list of non-empty strings")
        return tuple(v.strip() for v in value)

    texts: dict[str, Mapping[str, str]] = {}
    for lang in LANGUAGES:
        block = entry.get(lang, {})
        if not isinstance(block, dict):
            raise GlossaryError(f"{where}: [{lang}] must be a table")
        bad = sorted(set(block) - set(TEXT_FIELDS))
        if bad:
            raise GlossaryError(f"{where}: unknown field(s) {', '.join(f'{lang}.{b}' for b in bad)}")
        for name, value in block.items():
            if not isinstance(value, str):
                raise GlossaryError(f"{where}: {lang}.{name} must be text")
        texts[lang] = MappingProxyType({k: _join_lines(v, lang) for k, v in block.items()})
    return Term(
        key=key,
        category=category,
        texts=MappingProxyType(texts),
        aliases=str_list("aliases"),
        related=str_list("related"),
        metrics=str_list("metrics"),
    )


def _join_lines(value: str, lang: str) -> str:
    """Unwrap a multi-line TOML string: lines of a paragraph joined with a space
    in English and with nothing in Japanese; blank lines keep paragraphs apart."""
    sep = "" if lang == "ja" else " "
    paragraphs = re.split(r"\n\s*\n", value.strip())
    return "\n\n".join(sep.join(line.strip() for line in p.splitlines() if line.strip()) for p in paragraphs)


@lru_cache(maxsize=1)
def get_glossary() -> Glossary:
    """The packaged glossary, loaded and validated once."""
    return Glossary.load()


def lookup(query: str) -> LookupResult:
    """Look ``query`` up in the packaged glossary."""
    return get_glossary().lookup(query)
