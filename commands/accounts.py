"""Account names as people type them: "acme", "ACME Corp", "ＡＣＭＥ　ｃｏｒｐ",
"(株)アクメ", "あくめ", "acme crop".

``resolve_account(conn, query) -> Match`` finds the account a user means:
- ``exact``: one account, when the name (or id) matches after normalising, or
  when only one account matches loosely (contains the words, or a small typo);
- ``candidates``: several accounts match: show a short pick list;
- ``closest``: nothing matches: the nearest names, to suggest ("did you mean"), only
  those close enough (``CLOSE_SCORE``); ``searched`` says how many names were looked
  through, so "no account matches" is never mistaken for "there are no accounts".

Normalising: NFKC (full-width to half-width), lower case, katakana to
hiragana, punctuation and spaces dropped; legal forms ("Corp", "Inc", "Ltd",
"株式会社", "(株)" ...) are ignored when they are the only difference.
Reusable by any command that takes an account name. The queries are
``metrics.accounts``'; this module holds the matching rules on what people type.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy import Connection

from metrics.accounts import AccountRef, accounts_by_id_or_name, all_accounts

logger = logging.getLogger(__name__)

MAX_CANDIDATES = 5
TYPO_SCORE = 85.0  # rapidfuzz ratio (0-100) for a name to count as a small typo away
TYPO_MARGIN = 5.0  # ... and ahead of the next name by this much to be taken without asking
CLOSE_SCORE = 70.0  # rapidfuzz WRatio (0-100) for a name to be offered as "did you mean" when nothing matched

_LEGAL_WORDS = (
    "corporation", "corp", "incorporated", "inc", "company", "co", "limited", "ltd", "llc", "plc", "gmbh",
    "kk", "k.k.", "holdings",
)
_LEGAL_JA = ("株式会社", "有限会社", "合同会社", "(株)", "(有)", "(同)")


@dataclass(frozen=True)
class Match:
    query: str
    exact: AccountRef | None = None
    candidates: tuple[AccountRef, ...] = ()  # several matched: ask which one
    closest: tuple[AccountRef, ...] = ()  # none matched: the nearest names
    how: str = "none"  # id | name | legal-form | contains | typo | ambiguous | none
    total_candidates: int = 0  # how many matched when ``candidates`` was cut
    searched: int = 0  # how many account names were looked through (0: there are no accounts)


def _kata_to_hira(text: str) -> str:
    return "".join(chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in text)


def normalize(name: str) -> str:
    """Comparable form of a name: NFKC, lower case, hiragana, no punctuation or spaces."""
    text = unicodedata.normalize("NFKC", name or "").lower()
    text = _kata_to_hira(text)
    return re.sub(r"[\W_]+", "", text)


def strip_legal(name: str) -> str:
    """The name without its legal form ("Acme Corp" -> "acme", "株式会社アクメ" -> "あくめ"), normalised."""
    text = unicodedata.normalize("NFKC", name or "").lower()
    for word in _LEGAL_JA:
        text = text.replace(word, " ")
    words = re.split(r"[\s,.・、]+", text)
    kept = [w for w in words if w and w.strip(".") not in _LEGAL_WORDS]
    stripped = normalize(" ".join(kept))
    return stripped or normalize(name)


def has_legal_form(name: str) -> bool:
    return strip_legal(name) != normalize(name)


def resolve_account(conn: Connection, query: str) -> Match:
    """The account ``query`` names (see the module doc)."""
    query = (query or "").strip()
    if not query:
        return Match(query=query)
    # Fast path: an account id or the exact name, through SQL.
    found = accounts_by_id_or_name(conn, query)
    by_id = [r for r in found if r.account_id == query]
    if by_id:
        return Match(query=query, exact=by_id[0], how="id")
    if len(found) == 1:
        return Match(query=query, exact=found[0], how="name")
    return match_names(query, all_accounts(conn))


def match_names(query: str, names: list[AccountRef]) -> Match:
    """The matching rules on a list of names (no database): used by ``resolve_account``."""
    q_full, q_core = normalize(query), strip_legal(query)
    if not q_full:
        return Match(query=query, searched=len(names))
    full = [normalize(r.name) for r in names]
    core = [strip_legal(r.name) for r in names]

    def result(found: list[AccountRef], how: str) -> Match | None:
        if not found:
            return None
        if len(found) == 1:
            return Match(query=query, exact=found[0], how=how)
        found = sorted(found, key=lambda r: (len(r.name), r.name))
        return Match(query=query, candidates=tuple(found[:MAX_CANDIDATES]), how="ambiguous",
                     total_candidates=len(found))

    # 1. the whole name, normalised ("ＡＣＭＥ　ｃｏｒｐ" = "Acme Corp")
    m = result([r for r, f in zip(names, full) if f == q_full], "name")
    if m:
        return m
    # 2. the same name in another legal form ("acme inc", "(株)アクメ") - only when a legal form was typed
    if has_legal_form(query):
        m = result([r for r, k in zip(names, core) if k == q_core], "legal-form")
        if m:
            return m
    # 3. names that contain what was typed ("acme" -> Acme Corp, Acme Logistics, ...)
    needle = q_core if len(q_core) >= 2 else q_full
    if len(needle) >= 2:
        m = result([r for r, f in zip(names, full) if needle in f], "contains")
        if m:
            return m
    # 4. a small typo ("acme crop")
    scored: dict[int, float] = {}
    for choices, q in ((full, q_full), (core, q_core)):
        for _, score, idx in process.extract(q, choices, scorer=fuzz.ratio, limit=MAX_CANDIDATES * 2):
            scored[idx] = max(scored.get(idx, 0.0), score)
    ranked = sorted(scored.items(), key=lambda x: -x[1])
    close = [(idx, sc) for idx, sc in ranked if sc >= TYPO_SCORE]
    if close:
        if len(close) == 1 or close[0][1] - close[1][1] >= TYPO_MARGIN:
            return Match(query=query, exact=names[close[0][0]], how="typo")
        return result([names[i] for i, _ in close], "typo")  # type: ignore[return-value]
    # 5. nothing: the nearest names, by a looser score
    loose = process.extract(q_core, core, scorer=fuzz.WRatio, limit=3)
    closest = tuple(names[idx] for _, score, idx in loose if score >= CLOSE_SCORE)
    return Match(query=query, closest=closest, how="none", searched=len(names))
