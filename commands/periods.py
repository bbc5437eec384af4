"""The period words users type, in English and Japanese (docs/metrics.md, "Periods").

``parse_period("last-month", today)`` returns a ``Period``; ``find_period`` pulls a
period out of a free-form question ("churn last month please", "先月の解約率は？");
``default_period(today)`` is the period an answer covers when none is asked for
(``DEFAULT_PERIOD``: the one place it is written).
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

from commands.messages import t
from metrics.periods import Period, add_months, month_start, quarter_start, week_start

DEFAULT_PERIOD = "last-month"


class PeriodError(ValueError):
    """A period the user typed is not one csbot knows. The message lists examples."""

    def __init__(self, word: str, lang: str = "en"):
        self.word = word
        super().__init__(t("periods.unknown", lang, word=word, examples=t("periods.examples", lang)))


def normalize(text: str) -> str:
    """NFKC (full-width to half-width), lower case, ～/〜 and 'to' ranges unified."""
    text = unicodedata.normalize("NFKC", text).lower().strip()
    return text.replace("〜", "..").replace("~", "..")


# ---- builders --------------------------------------------------------------

def _month(start: date) -> Period:
    return Period(start, add_months(start, 1), "month")


def _quarter(start: date) -> Period:
    return Period(start, add_months(start, 3), "quarter")


def _year(year: int) -> Period:
    return Period(date(year, 1, 1), date(year + 1, 1, 1), "year")


def _to_date(start: date, unit_end: date, grain: str, today: date) -> Period:
    """From the start of the current unit through today (the unit's end at most)."""
    return Period(start, min(unit_end, today + timedelta(days=1)), grain, to_date=True)


def _this_week(today: date) -> Period:
    start = week_start(today)
    return _to_date(start, start + timedelta(days=7), "week", today)


def _last_week(today: date) -> Period:
    start = week_start(today) - timedelta(days=7)
    return Period(start, start + timedelta(days=7), "week")


def _last_days(n: int, today: date) -> Period:
    """The n complete days before today."""
    if n < 1 or n > 3660:
        raise ValueError(n)
    return Period(today - timedelta(days=n), today, "days")


def _last_months(n: int, today: date) -> Period:
    """The n complete calendar months before the current one."""
    if n < 1 or n > 120:
        raise ValueError(n)
    end = month_start(today)
    return Period(add_months(end, -n), end, "months" if n > 1 else "month")


FIXED: dict[str, Callable[[date], Period]] = {
    "today": lambda t: Period(t, t + timedelta(days=1), "day"),
    "yesterday": lambda t: Period(t - timedelta(days=1), t, "day"),
    "this-week": _this_week,
    "last-week": _last_week,
    "this-month": lambda t: _to_date(month_start(t), add_months(month_start(t), 1), "month", t),
    "last-month": lambda t: _month(add_months(month_start(t), -1)),
    "this-quarter": lambda t: _to_date(quarter_start(t), add_months(quarter_start(t), 3), "quarter", t),
    "last-quarter": lambda t: _quarter(add_months(quarter_start(t), -3)),
    "this-year": lambda t: _to_date(date(t.year, 1, 1), date(t.year + 1, 1, 1), "year", t),
    "last-year": lambda t: _year(t.year - 1),
    "ytd": lambda t: _to_date(date(t.year, 1, 1), date(t.year + 1, 1, 1), "year", t),
}

# Other spellings of the same words (English and Japanese) -> the canonical word.
SYNONYMS: dict[str, str] = {
    "今日": "today", "本日": "today",
    "昨日": "yesterday",
    "今週": "this-week",
    "先週": "last-week", "前週": "last-week",
    "今月": "this-month", "当月": "this-month", "mtd": "this-month", "month-to-date": "this-month",
    "先月": "last-month", "前月": "last-month", "previous-month": "last-month", "prior-month": "last-month",
    "今四半期": "this-quarter", "当四半期": "this-quarter", "qtd": "this-quarter",
    "前四半期": "last-quarter", "先四半期": "last-quarter", "previous-quarter": "last-quarter",
    "今年": "this-year", "本年": "this-year", "今年度": "this-year",
    "昨年": "last-year", "去年": "last-year", "前年": "last-year",
    "year-to-date": "ytd", "年初来": "ytd",
}

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9

_DATE = r"(\d{4})-(\d{1,2})-(\d{1,2})"
_JA_NUM = r"(\d+)"


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    build: Callable[[re.Match[str], date], Period]


def _range(m: re.Match[str], today: date) -> Period:
    start = date(int(m[1]), int(m[2]), int(m[3]))
    last = date(int(m[4]), int(m[5]), int(m[6]))
    return Period(start, last + timedelta(days=1), "range")


def _named_month(m: re.Match[str], today: date) -> Period:
    month = MONTHS[m["name"]]
    year = int(m["year"]) if m["year"] else today.year
    if not m["year"] and date(year, month, 1) > today:  # "october" = the latest October that has begun
        year -= 1
    return _month(date(year, month, 1))


def _quarter_of(m: re.Match[str], today: date) -> Period:
    year = int(m["year"]) if m["year"] else today.year
    q = int(m["q"])
    if not 1 <= q <= 4:
        raise ValueError(q)
    if not m["year"] and date(year, 3 * q - 2, 1) > today:
        year -= 1
    return _quarter(date(year, 3 * q - 2, 1))


def _ja_month(m: re.Match[str], today: date) -> Period:
    year = int(m["year"]) if m["year"] else today.year
    month = int(m["month"])
    if not m["year"] and date(year, month, 1) > today:
        year -= 1
    return _month(date(year, month, 1))


_W = r"(?<![\w-])"  # a period word starts at a word boundary
_E = r"(?![\w-])"

PATTERNS: tuple[_Pattern, ...] = (
    _Pattern(re.compile(_W + _DATE + r"\s*(?:\.\.|to|–|—)\s*" + _DATE + _E), _range),
    _Pattern(re.compile(_W + _DATE + _E), lambda m, t: Period(date(int(m[1]), int(m[2]), int(m[3])),
                                                              date(int(m[1]), int(m[2]), int(m[3])) + timedelta(days=1), "day")),
    _Pattern(re.compile(_W + r"(?P<year>\d{4})-?q(?P<q>[1-4])" + _E), _quarter_of),
    _Pattern(re.compile(_W + r"(?P<year>\d{4})年\s*(?:第)?(?:q(?P<q>[1-4])|(?P<q2>[1-4])四半期)"),
             lambda m, t: _quarter(date(int(m["year"]), 3 * int(m["q"] or m["q2"]) - 2, 1))),
    _Pattern(re.compile(_W + r"(\d{4})-(\d{1,2})" + _E), lambda m, t: _month(date(int(m[1]), int(m[2]), 1))),
    _Pattern(re.compile(r"(?:(?P<year>\d{4})年)?\s*(?P<month>\d{1,2})月(?!\d)"), _ja_month),
    _Pattern(re.compile(r"(?P<year>\d{4})年(?!\s*\d)(?:度)?"), lambda m, t: _year(int(m["year"]))),
    _Pattern(re.compile(_W + r"(?:last|past|trailing)[- ](\d+)[- ]days?" + _E), lambda m, t: _last_days(int(m[1]), t)),
    _Pattern(re.compile(r"(?:過去|直近)\s*" + _JA_NUM + r"\s*日(?:間)?"), lambda m, t: _last_days(int(m[1]), t)),
    _Pattern(re.compile(_W + r"(?:last|past|trailing)[- ](\d+)[- ]months?" + _E), lambda m, t: _last_months(int(m[1]), t)),
    _Pattern(re.compile(_W + r"ttm" + _E), lambda m, t: _last_months(12, t)),
    _Pattern(re.compile(r"(?:過去|直近)\s*" + _JA_NUM + r"\s*(?:か月|ヶ月|カ月|ケ月|ヵ月)(?:間)?"),
             lambda m, t: _last_months(int(m[1]), t)),
    _Pattern(re.compile(_W + r"(?:in\s+)?q(?P<q>[1-4])(?:[- ](?P<year>\d{4}))?" + _E), _quarter_of),
    _Pattern(re.compile(_W + r"(?P<name>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?(?:[- ,]+(?P<year>\d{4}))?" + _E),
             _named_month),
    _Pattern(re.compile(_W + r"(\d{4})" + _E), lambda m, t: _year(int(m[1])) if 2000 <= int(m[1]) <= 2100 else _fail()),
)


def _fail() -> Period:
    raise ValueError("not a period")


def _word_patterns() -> tuple[_Pattern, ...]:
    words: dict[str, str] = {w: w for w in FIXED}
    words.update(SYNONYMS)
    # "last month", "last_month" and "lastmonth" are "last-month" too.
    for w in FIXED:
        if "-" in w:
            words[w.replace("-", " ")] = w
            words[w.replace("-", "_")] = w
    alternatives = sorted(words, key=len, reverse=True)
    ascii_words = [w for w in alternatives if w.isascii()]
    ja_words = [w for w in alternatives if not w.isascii()]
    out = [
        _Pattern(re.compile(_W + "(" + "|".join(re.escape(w) for w in ascii_words) + ")" + _E),
                 lambda m, t: FIXED[words[m[1]]](t)),
        _Pattern(re.compile("(" + "|".join(re.escape(w) for w in ja_words) + ")"),
                 lambda m, t: FIXED[words[m[1]]](t)),
    ]
    return tuple(out)


ALL_PATTERNS = PATTERNS[:2] + _word_patterns() + PATTERNS[2:]


def find_period(text: str, today: date, lang: str = "en") -> tuple[Period | None, str]:
    """The first period expression in ``text`` and the text without it.

    Raises ``PeriodError`` (its message in ``lang``) when something shaped like a period is
    not a valid one (``2026-13``, ``2026年13月``, ``2026-02-30``).
    """
    norm = normalize(text)
    for pattern in ALL_PATTERNS:
        m = pattern.regex.search(norm)
        if m is None:
            continue
        try:
            period = pattern.build(m, today)
        except ValueError:
            raise PeriodError(m[0].strip(), lang) from None
        rest = (norm[: m.start()] + " " + norm[m.end():]).strip()
        return period, re.sub(r"\s+", " ", rest)
    return None, norm


def default_period(today: date) -> Period:
    """The period an answer covers when the question names none."""
    return FIXED[DEFAULT_PERIOD](today)


def period_word(canonical: str, lang: str) -> str:
    """How a person writes a fixed period in ``lang``: "last-month" / "先月"."""
    if lang == "ja":
        return next((w for w, c in SYNONYMS.items() if c == canonical and not w.isascii()), canonical)
    return canonical


def parse_period(word: str | None, today: date, lang: str = "en") -> Period:
    """Exactly one period word (or ``default_period`` when empty)."""
    word = (word or "").strip()
    if not word:
        return default_period(today)
    try:
        period, rest = find_period(word, today, lang)
    except PeriodError:
        raise PeriodError(word, lang) from None
    if period is None or rest.strip(" ,.?？!の"):
        raise PeriodError(word, lang)
    return period


def find_periods(text: str, today: date, lang: str = "en") -> tuple[list[Period], str]:
    """Every period expression in ``text`` (in order of appearance) and the text without them.

    INTERFACE: ``PeriodError`` as ``find_period``."""
    found: list[Period] = []
    rest = text
    while True:
        period, leftover = find_period(rest, today, lang)
        if period is None:
            return found, leftover
        found.append(period)
        rest = leftover
