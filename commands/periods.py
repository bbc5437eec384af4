"""The period words users type, in English and Japanese (docs/metrics.md, "Periods").

``parse_period("last-month", today)`` returns a ``Period``; ``find_periods`` pulls every
period out of a free-form question ("Q2 vs Q3", "先月の解約率は？", "Q3のGRR"), and
``find_period_spans`` says where each one was typed, so the question parser can tell a
period from an account name that holds one ("Q3 Labs"). ``default_period(today)`` is the
period an answer covers when none is asked for (``DEFAULT_PERIOD``: the one place it is
written). ``comparison_period`` is the other side of "YoY", "MoM", "QoQ" (前年比, 前月比).

Rules every reading follows:

- A word alone means the latest one that has begun: "October" in November 2026 is October
  2026, in September 2026 it is October 2025; "Q4", "H2", "上期" likewise.
- A period that has not started is refused (``PeriodNotStarted``): "next month", "2027".
  A period in progress runs to today and is "to date" (``Period.to_date``), like this-month.
- Fiscal years (``fiscal_start``, ``CSBOT_FISCAL_YEAR_START``) are named by the year they
  start in, the Japanese way: with April, FY2026 = 2026年度 = 2026-04-01..2027-03-31. Halves
  (H1, 上期) are halves of the fiscal year; quarters (Q3, 第3四半期) are calendar quarters
  unless a fiscal year names them (FY2026 Q3, 2026年度第3四半期).
- "since October", 「10月以降」, 「先月から」 run through today; two periods joined by "..", 〜,
  から, a dash, "from … to …" or "between … and …" are one span (「先月から今月」); a bare
  "to" / "and" / "vs" / と leaves two periods (a comparison: the query parser decides).
- Boundaries are ASCII-aware: a Japanese character next to an ASCII period word is a
  boundary ("Q3のGRR"), a letter, digit or hyphen is not ("Q3Labs", "7-Eleven").
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Callable

from commands.messages import t
from metrics.periods import Period, add_months, month_start, quarter_start, week_start

DEFAULT_PERIOD = "last-month"


class PeriodError(ValueError):
    """A period the user typed is not one csbot knows. The message lists examples."""

    def __init__(self, word: str, lang: str = "en", message: str | None = None):
        self.word = word
        super().__init__(message or t("periods.unknown", lang, word=word, examples=t("periods.examples", lang)))


# What to suggest instead of a period that has not started, by grain (canonical words; period_word
# gives the Japanese).
_INSTEAD = {
    "day": ("today", "yesterday"), "week": ("this-week", "last-week"), "month": ("this-month", "last-month"),
    "quarter": ("this-quarter", "last-quarter"), "half": ("h1", "h2"), "year": ("this-year", "last-year"),
    "fiscal_year": ("this-fiscal-year", "last-fiscal-year"),
}


class PeriodNotStarted(PeriodError):
    """A period that begins after today ("next month", "2027"): nothing to count yet."""

    def __init__(self, word: str, period: Period, today: date, lang: str = "en", *, fiscal: bool = False):
        self.period = period
        self.today = today
        kind = "fiscal_year" if fiscal and period.grain == "year" else period.grain
        this, last = _INSTEAD.get(kind, ("this-month", "last-30-days"))
        super().__init__(word, lang, t("periods.not_started", lang, word=word, today=today.isoformat(),
                                       this=period_word(this, lang), last=period_word(last, lang)))


def normalize(text: str) -> str:
    """NFKC (full-width to half-width), lower case, ～/〜 and 'to' ranges unified."""
    text = unicodedata.normalize("NFKC", text).lower().strip()
    return text.replace("〜", "..").replace("~", "..")


def _normalize_mapped(text: str) -> tuple[str, list[int], list[int]]:
    """``normalize`` (without the strip) keeping, for each character of the result, the start and
    the end of the original characters it came from: spans found in the result index the text as typed."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    while i < len(text):
        j = i + 1
        while j < len(text) and unicodedata.combining(text[j]):  # a base letter and its marks map together
            j += 1
        piece = unicodedata.normalize("NFKC", text[i:j]).lower().replace("〜", "..").replace("~", "..")
        out.append(piece)
        starts += [i] * len(piece)
        ends += [j] * len(piece)
        i = j
    return "".join(out), starts, ends


# ---- builders --------------------------------------------------------------

@dataclass(frozen=True)
class _Ctx:
    today: date
    fiscal_start: int = 1
    future: bool = False  # what is due is asked (renewals): a month or a quarter named without a year is the next one

    def fy_start(self, year: int) -> date:
        return date(year, self.fiscal_start, 1)

    @property
    def fiscal_year(self) -> int:
        """The fiscal year today is in, named by the year it started."""
        return self.today.year if self.today.month >= self.fiscal_start else self.today.year - 1


def _month(start: date) -> Period:
    return Period(start, add_months(start, 1), "month")


def _quarter(start: date) -> Period:
    return Period(start, add_months(start, 3), "quarter")


def _year(year: int) -> Period:
    return Period(date(year, 1, 1), date(year + 1, 1, 1), "year")


def _day(d: date) -> Period:
    return Period(d, d + timedelta(days=1), "day")


def _fiscal_year(year: int, ctx: _Ctx) -> Period:
    start = ctx.fy_start(year)
    return Period(start, add_months(start, 12), "year")


def _half(year: int, half: int, ctx: _Ctx) -> Period:
    start = add_months(ctx.fy_start(year), 6 * (half - 1))
    return Period(start, add_months(start, 6), "half")


def _to_date(start: date, unit_end: date, grain: str, today: date) -> Period:
    """From the start of the current unit through today (the unit's end at most)."""
    return Period(start, min(unit_end, today + timedelta(days=1)), grain, to_date=True)


def _this_week(today: date) -> Period:
    start = week_start(today)
    return _to_date(start, start + timedelta(days=7), "week", today)


def _week_back(today: date, n: int) -> Period:
    start = week_start(today) - timedelta(days=7 * n)
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


def _last_quarters(n: int, today: date) -> Period:
    """The n complete calendar quarters before the current one."""
    if n < 1 or n > 40:
        raise ValueError(n)
    end = quarter_start(today)
    return Period(add_months(end, -3 * n), end, "months" if n > 1 else "quarter")


def _units_ago(n: int, unit: str, today: date) -> Period:
    """The whole month, quarter, year or week n units before the current one ("two months ago")."""
    if n < 1 or n > 120:
        raise ValueError(n)
    if unit == "month":
        return _month(add_months(month_start(today), -n))
    if unit == "quarter":
        return _quarter(add_months(quarter_start(today), -3 * n))
    if unit == "year":
        return _year(today.year - n)
    return _week_back(today, n)


FIXED: dict[str, Callable[[date], Period]] = {
    "today": lambda t: Period(t, t + timedelta(days=1), "day"),
    "yesterday": lambda t: Period(t - timedelta(days=1), t, "day"),
    "day-before-yesterday": lambda t: _day(t - timedelta(days=2)),
    "this-week": _this_week,
    "last-week": lambda t: _week_back(t, 1),
    "week-before-last": lambda t: _week_back(t, 2),
    "this-month": lambda t: _to_date(month_start(t), add_months(month_start(t), 1), "month", t),
    "last-month": lambda t: _month(add_months(month_start(t), -1)),
    "month-before-last": lambda t: _month(add_months(month_start(t), -2)),
    "this-quarter": lambda t: _to_date(quarter_start(t), add_months(quarter_start(t), 3), "quarter", t),
    "last-quarter": lambda t: _quarter(add_months(quarter_start(t), -3)),
    "this-year": lambda t: _to_date(date(t.year, 1, 1), date(t.year + 1, 1, 1), "year", t),
    "last-year": lambda t: _year(t.year - 1),
    "year-before-last": lambda t: _year(t.year - 2),
    "ytd": lambda t: _to_date(date(t.year, 1, 1), date(t.year + 1, 1, 1), "year", t),
    # Not started: read so that the answer can say so (PeriodNotStarted), not guessed as something else.
    "tomorrow": lambda t: _day(t + timedelta(days=1)),
    "next-week": lambda t: _week_back(t, -1),
    "next-month": lambda t: _month(add_months(month_start(t), 1)),
    "next-quarter": lambda t: _quarter(add_months(quarter_start(t), 3)),
    "next-year": lambda t: _year(t.year + 1),
}

# Words whose dates depend on the fiscal year start.
FISCAL: dict[str, Callable[[_Ctx], Period]] = {
    "this-fiscal-year": lambda c: _fiscal_year(c.fiscal_year, c),
    "last-fiscal-year": lambda c: _fiscal_year(c.fiscal_year - 1, c),
    "next-fiscal-year": lambda c: _fiscal_year(c.fiscal_year + 1, c),
    "h1": lambda c: _latest_half(1, c),
    "h2": lambda c: _latest_half(2, c),
}

# Other spellings of the same words (English and Japanese) -> the canonical word.
# The first Japanese spelling of a word is how csbot writes it (``period_word``).
SYNONYMS: dict[str, str] = {
    "今日": "today", "本日": "today",
    "昨日": "yesterday",
    "一昨日": "day-before-yesterday", "おととい": "day-before-yesterday",
    "今週": "this-week",
    "先週": "last-week", "前週": "last-week",
    "先々週": "week-before-last", "前々週": "week-before-last", "the-week-before-last": "week-before-last",
    "今月": "this-month", "当月": "this-month", "mtd": "this-month", "month-to-date": "this-month",
    "先月": "last-month", "前月": "last-month", "previous-month": "last-month", "prior-month": "last-month",
    "先々月": "month-before-last", "前々月": "month-before-last", "the-month-before-last": "month-before-last",
    "今四半期": "this-quarter", "当四半期": "this-quarter", "qtd": "this-quarter",
    "前四半期": "last-quarter", "先四半期": "last-quarter", "previous-quarter": "last-quarter",
    "今年": "this-year", "本年": "this-year",
    "昨年": "last-year", "去年": "last-year", "前年": "last-year", "previous-year": "last-year", "prior-year": "last-year",
    "一昨年": "year-before-last", "おととし": "year-before-last", "the-year-before-last": "year-before-last",
    "year-to-date": "ytd", "年初来": "ytd",
    "明日": "tomorrow",
    "来週": "next-week", "翌週": "next-week",
    "来月": "next-month", "翌月": "next-month",
    "来四半期": "next-quarter", "翌四半期": "next-quarter",
    "来年": "next-year", "翌年": "next-year",
    "今年度": "this-fiscal-year", "当年度": "this-fiscal-year", "本年度": "this-fiscal-year", "今期": "this-fiscal-year",
    "fytd": "this-fiscal-year", "fiscal-ytd": "this-fiscal-year", "current-fiscal-year": "this-fiscal-year",
    "前年度": "last-fiscal-year", "昨年度": "last-fiscal-year", "前期": "last-fiscal-year",
    "previous-fiscal-year": "last-fiscal-year", "prior-fiscal-year": "last-fiscal-year",
    "来年度": "next-fiscal-year", "翌年度": "next-fiscal-year", "来期": "next-fiscal-year",
    "上期": "h1", "上半期": "h1", "下期": "h2", "下半期": "h2",
}

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9

# Comparison words are not periods: the query parser reads them and asks ``comparison_period``.
COMPARISONS: dict[str, int] = {
    "yoy": 12, "year-over-year": 12, "year-on-year": 12, "前年比": 12, "昨年比": 12, "前年同月比": 12, "前年同期比": 12,
    "mom": 1, "month-over-month": 1, "month-on-month": 1, "前月比": 1, "先月比": 1,
    "qoq": 3, "quarter-over-quarter": 3, "quarter-on-quarter": 3, "前四半期比": 3,
}

_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}

# ---- patterns ----------------------------------------------------------------

# ASCII-aware boundaries: a period word may touch Japanese (Q3のGRR) but not a letter, digit,
# underscore or hyphen of the same word (Q3Labs, 7-Eleven, 2026-Q3x).
_L = "0-9a-z_\u00c0-\u024f"
_W = rf"(?<![{_L}-])"
_E = rf"(?![{_L}-])"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
# Japanese words followed by 比 ("前年比", "前年同月比") are comparisons, not periods.
_NOT_COMPARISON = r"(?!(?:同月|同期|同週|同日)?比)"
_KAGETSU = r"(?:か月|ヶ月|カ月|ケ月|ヵ月|箇月)"


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    build: Callable[[re.Match[str], _Ctx], Period]
    fiscal: bool = False  # the period is a fiscal year (what to suggest instead when it has not started)


def _date(y: str, m: str, d: str) -> date:
    return date(int(y), int(m), int(d))


def _range(m: re.Match[str], ctx: _Ctx) -> Period:
    start = _date(m["y1"], m["m1"], m["d1"])
    last = _date(m["y2"], m["m2"], m["d2"])
    return Period(start, last + timedelta(days=1), "range")


def _latest(build: Callable[[int], Period], year: int, ctx: _Ctx) -> Period:
    """``build(year)``, or the year before's when that one has not begun: the latest that has. Asking
    for what is due (``ctx.future``: renewals in January, asked in December), the next one that has
    not ended: ``build(year)``, or the year after's when that one is over."""
    period = build(year)
    if ctx.future:
        return build(year + 1) if period.end <= ctx.today else period
    return build(year - 1) if period.start > ctx.today else period


def _named_month(m: re.Match[str], ctx: _Ctx) -> Period:
    month = MONTHS[m["name"]]
    if m.groupdict().get("year"):
        return _month(date(int(m["year"]), month, 1))
    return _latest(lambda y: _month(date(y, month, 1)), ctx.today.year, ctx)


def _ja_month(m: re.Match[str], ctx: _Ctx) -> Period:
    month = int(m["month"])
    if m.groupdict().get("year"):
        return _month(date(int(m["year"]), month, 1))
    return _latest(lambda y: _month(date(y, month, 1)), ctx.today.year, ctx)


def _ja_day(m: re.Match[str], ctx: _Ctx) -> Period:
    month, day = int(m["month"]), int(m["day"])
    if m.groupdict().get("year"):
        return _day(date(int(m["year"]), month, day))
    date(2024, month, day)  # a day that exists in some year (2月29日), else ValueError
    year = ctx.today.year
    while True:  # the latest such day that has begun (29 February: the latest leap year)
        try:
            d = date(year, month, day)
        except ValueError:
            year -= 1
            continue
        if d <= ctx.today:
            return _day(d)
        year -= 1


def _named_year(m: re.Match[str], ctx: _Ctx) -> int | None:
    """The year a range starts in when typed: "2026年", 「昨年」; None when not given."""
    groups = m.groupdict()
    if groups.get("y1"):
        return int(groups["y1"])
    if groups.get("rel"):
        return ctx.today.year + _REL_YEARS[groups["rel"]]
    return None


def _ja_day_range(m: re.Match[str], ctx: _Ctx) -> Period:
    """「10月1日〜10月15日」, 「2026年10月1日から15日まで」: both days inclusive. Without a year, the
    latest such span that has begun (a span still running runs to today)."""
    m1, d1, d2 = int(m["m1"]), int(m["d1"]), int(m["d2"])
    m2 = int(m["m2"]) if m["m2"] else m1
    year = _named_year(m, ctx)
    if year is not None:
        first = date(year, m1, d1)
    else:
        first = date(ctx.today.year, m1, d1)
        if first > ctx.today:
            first = date(first.year - 1, m1, d1)
    last = date(int(m["y2"]) if m["y2"] else first.year + ((m2, d2) < (m1, d1)), m2, d2)
    return Period(first, last + timedelta(days=1), "range")


def _quarter_number(m: re.Match[str]) -> int:
    q = int(next(v for k, v in m.groupdict().items() if k.startswith("q") and v))
    if not 1 <= q <= 4:
        raise ValueError(q)
    return q


def _calendar_quarter(m: re.Match[str], ctx: _Ctx) -> Period:
    q = _quarter_number(m)
    if m.groupdict().get("year"):
        return _quarter(date(int(m["year"]), 3 * q - 2, 1))
    return _latest(lambda y: _quarter(date(y, 3 * q - 2, 1)), ctx.today.year, ctx)


def _fiscal_quarter(m: re.Match[str], ctx: _Ctx) -> Period:
    q = _quarter_number(m)
    return _quarter(add_months(ctx.fy_start(int(m["year"])), 3 * (q - 1)))


def _latest_half(half: int, ctx: _Ctx) -> Period:
    return _latest(lambda y: _half(y, half, ctx), ctx.fiscal_year, ctx)


def _half_of(m: re.Match[str], ctx: _Ctx) -> Period:
    half = 1 if (m["h"] == "1" or m["h"] == "上") else 2
    if m.groupdict().get("year"):
        return _half(int(m["year"]), half, ctx)
    return _latest_half(half, ctx)


def _month_range(m: re.Match[str], ctx: _Ctx) -> Period:
    """From the first day of one month through the last day of another ("10月〜12月", "2026-01..2026-03").
    Without years, the latest such span that has begun (a span still running runs to today)."""
    groups = m.groupdict()
    first = int(groups["m1"]) if groups.get("m1") else MONTHS[groups["n1"]]
    last = int(groups["m2"]) if groups.get("m2") else MONTHS[groups["n2"]]
    for month in (first, last):
        if not 1 <= month <= 12:
            raise ValueError(month)
    year = _named_year(m, ctx)
    if year is not None:
        start = date(year, first, 1)
    else:
        start = _latest(lambda y: _month(date(y, first, 1)), ctx.today.year, ctx).start
    end = date(int(groups["y2"]) if groups.get("y2") else start.year + (last < first), last, 1)
    return Period(start, add_months(end, 1), "months")


def _fiscal_year_ending(m: re.Match[str], ctx: _Ctx) -> Period:
    """「2026年3月期」: the twelve months that end with March 2026 (how Japanese companies name a fiscal year)."""
    last = date(int(m["year"]), int(m["month"]), 1)
    return Period(add_months(last, -11), add_months(last, 1), "year")


_REL_YEARS = {"今年": 0, "本年": 0, "今年度": 0, "本年度": 0, "当年度": 0, "this": 0,
              "昨年": -1, "去年": -1, "前年": -1, "昨年度": -1, "前年度": -1, "last": -1, "previous": -1, "prior": -1,
              "一昨年": -2, "おととし": -2}


def _in_relative_year(m: re.Match[str], ctx: _Ctx) -> Period:
    """A month, quarter or half of this year, last year or a fiscal year: 「昨年10月」, 「前年度の上期」,
    "Q3 last year", "last year's October". In a fiscal year (年度, "fiscal year") a month is the one
    inside that fiscal year and a quarter is a fiscal quarter."""
    groups = m.groupdict()
    offset = _REL_YEARS[m["rel"]]
    fiscal = "年度" in m["rel"] or bool(groups.get("fiscal"))
    year = (ctx.fiscal_year if fiscal else ctx.today.year) + offset
    if groups.get("h") or groups.get("hh"):
        return _half(year, 1 if groups.get("h") == "上" or groups.get("hh") == "1" else 2, ctx)
    if groups.get("month") or groups.get("name"):
        month = int(groups["month"]) if groups.get("month") else MONTHS[groups["name"]]
        if not 1 <= month <= 12:
            raise ValueError(month)
        year += fiscal and month < ctx.fiscal_start
        return _day(date(year, month, int(groups["day"]))) if groups.get("day") else _month(date(year, month, 1))
    q = _quarter_number(m)
    return _quarter(add_months(ctx.fy_start(year), 3 * (q - 1)) if fiscal else date(year, 3 * q - 2, 1))


def _two_digit_fy(m: re.Match[str], ctx: _Ctx) -> Period:
    return _fiscal_year(2000 + int(m["yy"]), ctx)


def _count(raw: str) -> int:
    return int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]


_NUMBER = r"(?P<n>\d+|" + "|".join(_NUMBER_WORDS) + r")"
_MONTH_NAMES = "|".join(re.escape(n) for n in sorted(MONTHS, key=len, reverse=True) if n != "may")
# "may" is a month unless it reads as the verb: "may I see ...", "churn may be ..."
_MAY = r"may(?!\s+(?:i|we|you|they|it|he|she|be|have|not|also|need|get|see)(?![a-z]))"
_JA_REL = r"(?P<rel>一昨年|おととし|今年|本年|昨年|去年|前年)\s*(?:の\s*)?"  # a calendar year in words
_DATE1 = r"(?P<y1>(?:19|20)\d\d)[-/](?P<m1>\d{1,2})[-/](?P<d1>\d{1,2})"
_DATE2 = r"(?P<y2>(?:19|20)\d\d)[-/](?P<m2>\d{1,2})[-/](?P<d2>\d{1,2})"


_Q = r"(?:q(?P<q1>[1-4])|(?P<q2>[1-4])q)"  # Q3, 3Q
_JA_Q = r"(?:第\s*)?(?:(?P<q1>[1-4])\s*四半期|q(?P<q2>[1-4])|(?P<q3>[1-4])q)"  # 第3四半期, 3四半期, Q3, 3Q


def _p(regex: str, build: Callable[[re.Match[str], _Ctx], Period], fiscal: bool = False) -> _Pattern:
    return _Pattern(re.compile(regex), build, fiscal)


PATTERNS: tuple[_Pattern, ...] = (
    # dates and ranges of dates
    _p(_W + r"(?:from\s+)?" + _DATE1 + r"\s*(?:\.\.|to|through|until|–|—|から)\s*" + _DATE2 + r"(?:\s*まで)?" + _E, _range),
    _p(_W + r"between\s+" + _DATE1 + r"\s+and\s+" + _DATE2 + _E, _range),
    _p(_W + _DATE1 + _E, lambda m, c: _day(_date(m["y1"], m["m1"], m["d1"]))),
    _p(r"(?<!\d)(?:(?P<y1>(?:19|20)\d\d)年\s*|" + _JA_REL + r")?(?P<m1>\d{1,2})月\s*(?P<d1>\d{1,2})日\s*(?:\.\.|から|-|–|—)\s*"
       + r"(?:(?P<y2>(?:19|20)\d\d)年\s*)?(?:(?P<m2>\d{1,2})月\s*)?(?P<d2>\d{1,2})日(?:\s*まで)?", _ja_day_range),
    _p(r"(?<!\d)(?:" + _YEAR + r"年\s*)?(?P<month>\d{1,2})月\s*(?P<day>\d{1,2})日", _ja_day),
    # fiscal quarters (named with their fiscal year), calendar quarters
    _p(_W + r"fy\s?-?" + _YEAR + r"[\s-]*" + _Q + _E, _fiscal_quarter),
    _p(_W + _YEAR + r"年度\s*(?:の\s*)?" + _JA_Q, _fiscal_quarter),
    _p(_W + _YEAR + r"[\s-]?" + _Q + _E, _calendar_quarter),
    _p(_W + _Q + r"(?:[\s-]+" + _YEAR + r")?" + _E, _calendar_quarter),
    _p(_W + _YEAR + r"年\s*(?:の\s*)?" + _JA_Q, _calendar_quarter),
    _p(r"第\s*(?:(?P<q1>[1-4])\s*四半期|q(?P<q2>[1-4])|(?P<q3>[1-4])q)" + _E, _calendar_quarter),
    # a month, quarter or half of a year named in words: 昨年10月, 前年度の上期, Q3 last year, last year's October
    _p(r"(?P<rel>一昨年|おととし|今年度|本年度|当年度|前年度|昨年度|今年|本年|昨年|去年|前年)\s*(?:の\s*)?"
       + r"(?:(?<!\d)(?P<month>\d{1,2})月(?:\s*(?P<day>\d{1,2})日|(?!\s*\d))"
       + r"|(?:第\s*)?(?:(?P<q1>[1-4])\s*四半期|q(?P<q2>[1-4])|(?P<q3>[1-4])q)"
       + r"|(?P<h>[上下])半?期|h(?P<hh>[12]))" + _NOT_COMPARISON, _in_relative_year),
    _p(_W + r"(?:q(?P<q1>[1-4])|(?P<q2>[1-4])q|h(?P<hh>[12])|(?P<name>" + _MONTH_NAMES + r"|may))\.?\s+(?:of\s+|in\s+)?"
       + r"(?P<rel>this|last|previous|prior)\s+(?P<fiscal>fiscal\s+)?year" + _E, _in_relative_year),
    _p(_W + r"(?P<rel>this|last|previous|prior)\s+(?P<fiscal>fiscal\s+)?year(?:['’]s)?\s+"
       + r"(?:q(?P<q1>[1-4])|(?P<q2>[1-4])q|h(?P<hh>[12])|(?P<name>" + _MONTH_NAMES + r"|may))" + _E, _in_relative_year),
    # halves of the fiscal year
    _p(_W + r"(?:fy\s?-?)?" + _YEAR + r"[\s-]?h(?P<h>[12])" + _E, _half_of),
    _p(_W + r"h(?P<h>[12])(?:[\s-]+(?:fy\s?-?)?" + _YEAR + r")?" + _E, _half_of),
    _p(r"(?:" + _W + _YEAR + r"年(?:度)?\s*(?:の\s*)?)?(?<!以)(?P<h>[上下])半?期" + _NOT_COMPARISON, _half_of),
    # fiscal years
    _p(_W + r"fy\s?-?" + _YEAR + _E, lambda m, c: _fiscal_year(int(m["year"]), c), fiscal=True),
    _p(_W + r"fy\s?-?(?P<yy>\d\d)" + _E, _two_digit_fy, fiscal=True),
    _p(_W + _YEAR + r"年度" + _NOT_COMPARISON, lambda m, c: _fiscal_year(int(m["year"]), c), fiscal=True),
    # months, ranges of months, a fiscal year named by the month it ends (2026年3月期)
    _p(_W + r"(?:from\s+)?(?P<y1>(?:19|20)\d\d)[-/](?P<m1>\d{1,2})\s*(?:\.\.|to|through|until|–|—|から)\s*"
       + r"(?P<y2>(?:19|20)\d\d)[-/](?P<m2>\d{1,2})(?:\s*まで)?" + _E, _month_range),
    _p(_W + r"(?:from\s+)?(?P<n1>" + _MONTH_NAMES + "|may)" + r"\.?(?:[\s,]+(?P<y1>(?:19|20)\d\d))?\s*(?:\.\.|to|through|until|-|–|—)\s*"
       + r"(?P<n2>" + _MONTH_NAMES + "|may)" + r"\.?(?:[\s,]+(?P<y2>(?:19|20)\d\d))?" + _E, _month_range),
    _p(_W + r"between\s+(?P<n1>" + _MONTH_NAMES + "|may)" + r"\.?(?:[\s,]+(?P<y1>(?:19|20)\d\d))?\s+and\s+"
       + r"(?P<n2>" + _MONTH_NAMES + "|may)" + r"\.?(?:[\s,]+(?P<y2>(?:19|20)\d\d))?" + _E, _month_range),
    _p(r"(?:" + _W + r"(?P<y1>(?:19|20)\d\d)年\s*|" + _JA_REL + r")?(?<!\d)(?P<m1>\d{1,2})月\s*(?:\.\.|から|-|–|—)\s*"
       + r"(?:(?P<y2>(?:19|20)\d\d)年\s*)?(?P<m2>\d{1,2})月(?:\s*まで)?", _month_range),
    _p(_W + _YEAR + r"年\s*(?P<month>\d{1,2})月期", _fiscal_year_ending, fiscal=True),
    _p(_W + _YEAR + r"[-/](?P<month>\d{1,2})" + _E, _ja_month),
    _p(r"(?:" + _W + _YEAR + r"年\s*)?(?<!\d)(?P<month>\d{1,2})月(?!\d)" + _NOT_COMPARISON, _ja_month),
    _p(_W + r"(?P<name>" + _MONTH_NAMES + "|" + _MAY + r")\.?(?:[\s,-]+" + _YEAR + r")?" + _E, _named_month),
    # years
    _p(_W + _YEAR + r"年(?!度)" + _NOT_COMPARISON, lambda m, c: _year(int(m["year"]))),
    _p(_W + _YEAR + _E, lambda m, c: _year(int(m["year"]))),
    # rolling windows and "ago"
    _p(_W + r"(?:last|past|trailing)[\s-](?P<n>\d+)[\s-]days?" + _E, lambda m, c: _last_days(int(m["n"]), c.today)),
    _p(r"(?:過去|直近)\s*(?P<n>\d+)\s*日(?:間)?", lambda m, c: _last_days(int(m["n"]), c.today)),
    _p(_W + r"(?:last|past|trailing)[\s-](?P<n>\d+)[\s-]weeks?" + _E, lambda m, c: _last_days(7 * int(m["n"]), c.today)),
    _p(r"(?:過去|直近)\s*(?P<n>\d+)\s*週間?", lambda m, c: _last_days(7 * int(m["n"]), c.today)),
    _p(_W + r"(?:last|past|trailing)[\s-](?P<n>\d+)[\s-]months?" + _E, lambda m, c: _last_months(int(m["n"]), c.today)),
    _p(_W + r"ttm" + _E, lambda m, c: _last_months(12, c.today)),
    _p(r"(?:過去|直近)\s*(?P<n>\d+)\s*" + _KAGETSU + r"(?:間)?", lambda m, c: _last_months(int(m["n"]), c.today)),
    # a year and a half year as months: "past year" is the 12 complete months, as "past 12 months" is
    _p(_W + r"(?:last|past|trailing)[\s-](?P<n>\d+)[\s-]years?" + _E, lambda m, c: _last_months(12 * int(m["n"]), c.today)),
    _p(_W + r"(?:the\s+)?(?:past|trailing)[\s-]year" + _E, lambda m, c: _last_months(12, c.today)),
    _p(_W + r"(?:the\s+)?(?:last|past|trailing)[\s-]half[\s-]year" + _E, lambda m, c: _last_months(6, c.today)),
    _p(r"(?:過去|直近)\s*(?P<n>\d+)\s*年(?:間)?(?!度)", lambda m, c: _last_months(12 * int(m["n"]), c.today)),
    _p(r"(?:過去|直近|この)\s*半年(?:間)?", lambda m, c: _last_months(6, c.today)),
    _p(_W + r"(?:last|past|trailing)[\s-](?P<n>\d+)[\s-]quarters?" + _E, lambda m, c: _last_quarters(int(m["n"]), c.today)),
    _p(r"(?:過去|直近)\s*(?P<n>\d+)\s*四半期(?:分)?", lambda m, c: _last_quarters(int(m["n"]), c.today)),
    _p(_W + _NUMBER + r"[\s-](?P<unit>week|month|quarter|year)s?[\s-]ago" + _E,
       lambda m, c: _units_ago(_count(m["n"]), m["unit"], c.today)),
    _p(r"(?<!\d)(?P<n>\d+)\s*" + _KAGETSU + r"前(?!\d)", lambda m, c: _units_ago(int(m["n"]), "month", c.today)),
)


def _word_patterns() -> tuple[_Pattern, ...]:
    words: dict[str, str] = {w: w for w in (*FIXED, *FISCAL)}
    words.update(SYNONYMS)
    # "last month", "last_month" are "last-month" too.
    for w, canonical in list(words.items()):
        if "-" in w:
            words[w.replace("-", " ")] = canonical
            words[w.replace("-", "_")] = canonical
    alternatives = sorted(words, key=len, reverse=True)
    ascii_words = [w for w in alternatives if w.isascii()]
    ja_words = [w for w in alternatives if not w.isascii()]

    def build(m: re.Match[str], ctx: _Ctx) -> Period:
        canonical = words[m[1]]
        return FIXED[canonical](ctx.today) if canonical in FIXED else FISCAL[canonical](ctx)

    def is_fiscal(word: str) -> bool:
        return words[word].endswith("fiscal-year")

    return (
        _p(_W + "(" + "|".join(re.escape(w) for w in ascii_words if not is_fiscal(w)) + ")" + _E, build),
        _p(_W + "(" + "|".join(re.escape(w) for w in ascii_words if is_fiscal(w)) + ")" + _E, build, fiscal=True),
        _p("(" + "|".join(re.escape(w) for w in ja_words if not is_fiscal(w)) + ")" + _NOT_COMPARISON, build),
        _p("(" + "|".join(re.escape(w) for w in ja_words if is_fiscal(w)) + ")" + _NOT_COMPARISON, build, fiscal=True),
    )


ALL_PATTERNS = _word_patterns() + PATTERNS


# ---- finding -------------------------------------------------------------------

@dataclass(frozen=True)
class FoundPeriod:
    """One period in a text: ``start``/``end`` index the text as given (``text[start:end]``
    is ``text``, the words as typed). ``error`` (only with ``keep_errors``): why the words are
    not a period csbot can answer for (``period`` is then None)."""

    period: Period | None
    start: int
    end: int
    text: str
    error: PeriodError | None = None


_UNITS = ("week", "month", "quarter", "half", "year")  # calendar units that are "to date" while today is in them


def _settle(period: Period, pattern: _Pattern, ctx: _Ctx, word: str, lang: str) -> Period:
    """Refuse a period that has not started; cut one in progress at today (to date). With
    ``ctx.future`` (what is due, such as renewals), a period ahead is what is asked: kept whole."""
    tomorrow = ctx.today + timedelta(days=1)
    if ctx.future and period.end > tomorrow:
        return period
    if period.start > ctx.today:
        raise PeriodNotStarted(word, period, ctx.today, lang, fiscal=pattern.fiscal)
    if period.end > tomorrow:
        # a span of months cut at today is compared with the same number of days before it
        grain = "range" if period.grain == "months" else period.grain
        return replace(period, end=tomorrow, grain=grain, to_date=True)
    if period.end == tomorrow and period.grain in _UNITS:  # December on 31 December: still running today
        return replace(period, to_date=True)
    return period


def _matches(norm: str) -> list[tuple[re.Match[str], _Pattern]]:
    """Every period expression in ``norm``, leftmost first; where two overlap, the longer
    (then the earlier pattern) wins: "2026年10月" is a month, not the year 2026."""
    candidates = []
    for index, pattern in enumerate(ALL_PATTERNS):
        for m in pattern.regex.finditer(norm):
            if m.end() > m.start():
                candidates.append((m.start(), -(m.end() - m.start()), index, m, pattern))
    candidates.sort(key=lambda c: c[:3])
    chosen: list[tuple[re.Match[str], _Pattern]] = []
    taken = 0
    for start, _, _, m, pattern in candidates:
        if start >= taken:
            chosen.append((m, pattern))
            taken = m.end()
    return chosen


# "since October", 「10月以降」, 「先月から」: from the start of the period through today.
_SINCE_BEFORE = re.compile(r"(?<![a-z])(?:since|starting(?:\s+from)?)\s+$")
_SINCE_AFTER = re.compile(r"\s*(?:以降|以来|から(?!\s*[\d〜.]))")


def _since(norm: str, lo: int, hi: int, begin: int, stop: int) -> tuple[int, int] | None:
    """The span widened to take in a "since" word next to it (within ``begin``..``stop``), or None."""
    before = _SINCE_BEFORE.search(norm, begin, lo)
    if before is not None:
        return before.start(), hi
    after = _SINCE_AFTER.match(norm, hi, stop)
    if after is not None:
        return lo, after.end()
    return None


# Two periods joined into one span: "2026-Q2..2026-Q3", 「先月〜今月」, 「先月から今月」, "from Q2 to Q3",
# "between Q2 and Q3" (a bare "to" or "and" may be a comparison: "compare Q2 to Q3").
_JOIN = re.compile(r"\s*(?:\.\.|-|–|—|から)\s*")
_JOIN_WORD = re.compile(r"\s+(?:to|through|until)\s+")
_FROM = re.compile(r"(?<![a-z])from\s+$")
_BETWEEN = re.compile(r"(?<![a-z])between\s+$")
_AND = re.compile(r"\s+and\s+")
_UNTIL = re.compile(r"\s*まで")

_Group = tuple[int, int, list[tuple[re.Match[str], _Pattern]], bool]  # span, matches, "since"


def _groups(norm: str, matches: list[tuple[re.Match[str], _Pattern]]) -> list[_Group]:
    """The chosen matches as periods: alone, widened by a "since" word, or two joined into one span."""
    out: list[_Group] = []
    i, taken = 0, 0
    while i < len(matches):
        m = matches[i][0]
        stop = matches[i + 2][0].start() if i + 2 < len(matches) else len(norm)
        if i + 1 < len(matches):
            n = matches[i + 1][0]
            lead = None
            if _JOIN.fullmatch(norm, m.end(), n.start()):
                lead = _FROM.search(norm, taken, m.start())
                lo = lead.start() if lead else m.start()
            elif _JOIN_WORD.fullmatch(norm, m.end(), n.start()) and (lead := _FROM.search(norm, taken, m.start())):
                lo = lead.start()
            elif _AND.fullmatch(norm, m.end(), n.start()) and (lead := _BETWEEN.search(norm, taken, m.start())):
                lo = lead.start()
            else:
                lo = -1
            if lo >= 0:
                until = _UNTIL.match(norm, n.end(), stop)
                hi = until.end() if until else n.end()
                out.append((lo, hi, matches[i:i + 2], False))
                taken, i = hi, i + 2
                continue
        stop = matches[i + 1][0].start() if i + 1 < len(matches) else len(norm)
        since = _since(norm, m.start(), m.end(), taken, stop)
        lo, hi = since or (m.start(), m.end())
        out.append((lo, hi, matches[i:i + 1], since is not None))
        taken, i = hi, i + 1
    return out


def _spans(text: str, today: date, lang: str, fiscal_start: int, keep_errors: bool,
           future: bool = False) -> tuple[list[FoundPeriod], str, list[int]]:
    if not 1 <= fiscal_start <= 12:
        raise ValueError(f"fiscal_start must be a month number 1..12, got {fiscal_start}")
    ctx = _Ctx(today, fiscal_start, future)
    norm, starts, ends = _normalize_mapped(text or "")
    found: list[FoundPeriod] = []
    cut: list[int] = []
    for lo, hi, group, since in _groups(norm, _matches(norm)):
        start, end = starts[lo], ends[hi - 1]
        word = text[start:end]
        try:
            try:
                built = [pattern.build(m, ctx) for m, pattern in group]
                if len(built) == 2:  # one span from the first day of the first through the last of the second
                    aligned = built[0].start.day == 1 and built[1].end.day == 1
                    period = Period(built[0].start, built[1].end, "months" if aligned else "range",
                                    to_date=built[1].to_date)
                else:
                    period = built[0]
                period = _settle(period, group[0][1], ctx, word, lang)
            except PeriodError:
                raise
            except ValueError:
                raise PeriodError(word, lang) from None
            if since:
                period = Period(period.start, today + timedelta(days=1), "range", to_date=True)
        except PeriodError as err:
            if not keep_errors:
                raise
            found.append(FoundPeriod(None, start, end, word, err))
        else:
            found.append(FoundPeriod(period, start, end, word))
        cut += [lo, hi]
    return found, norm, cut


def _without(norm: str, cut: list[int]) -> str:
    """``norm`` with each found period replaced by a space, spaces collapsed."""
    pieces, last = [], 0
    for i in range(0, len(cut), 2):
        pieces.append(norm[last:cut[i]])
        last = cut[i + 1]
    pieces.append(norm[last:])
    return re.sub(r"\s+", " ", " ".join(pieces)).strip()


def find_period_spans(text: str, today: date, lang: str = "en", fiscal_start: int = 1, *,
                      keep_errors: bool = False, future: bool = False) -> list[FoundPeriod]:
    """Every period expression in ``text``, in order, with where it was typed.

    Raises ``PeriodError`` for the first thing shaped like a period that is not a valid one
    (``2026-13``), ``PeriodNotStarted`` for one that has not begun (``2027``); with
    ``keep_errors`` those come back as ``FoundPeriod(period=None, error=...)`` instead, so a
    caller can first drop spans that are part of an account name ("Studio 2027"). With ``future``
    (a question about what is due), a period ahead ("next month", 来月, 2027-01) is read, whole."""
    return _spans(text, today, lang, fiscal_start, keep_errors, future)[0]


def find_periods(text: str, today: date, lang: str = "en", *, fiscal_start: int = 1) -> tuple[list[Period], str]:
    """Every period expression in ``text`` (in order of appearance) and the text without them
    (normalized: NFKC, lower case; each period replaced by a space).

    INTERFACE: ``PeriodError`` as ``find_period``."""
    found, norm, cut = _spans(text, today, lang, fiscal_start, False)
    return [f.period for f in found if f.period is not None], _without(norm, cut)


def find_period(text: str, today: date, lang: str = "en", *, fiscal_start: int = 1) -> tuple[Period | None, str]:
    """The first period expression in ``text`` and the (normalized) text without it.

    Raises ``PeriodError`` (its message in ``lang``) when something shaped like a period is
    not a valid one (``2026-13``, ``2026年13月``, ``2026-02-30``), ``PeriodNotStarted`` when
    it has not begun (``next-month``)."""
    found, norm, cut = _spans(text, today, lang, fiscal_start, False)
    if not found:
        return None, re.sub(r"\s+", " ", norm).strip()
    return found[0].period, _without(norm, cut[:2])


def default_period(today: date) -> Period:
    """The period an answer covers when the question names none."""
    return FIXED[DEFAULT_PERIOD](today)


def period_word(canonical: str, lang: str) -> str:
    """How a person writes a fixed period in ``lang``: "last-month" / "先月"."""
    if lang == "ja":
        return next((w for w, c in SYNONYMS.items() if c == canonical and not w.isascii()), canonical)
    return {"h1": "H1", "h2": "H2"}.get(canonical, canonical)


def parse_period(word: str | None, today: date, lang: str = "en", *, fiscal_start: int = 1) -> Period:
    """Exactly one period word (or ``default_period`` when empty): the CLI's ``--period``, a
    slash command's period."""
    word = (word or "").strip()
    if not word:
        return default_period(today)
    try:
        found, norm, cut = _spans(word, today, lang, fiscal_start, False)
    except PeriodNotStarted:
        raise
    except PeriodError:
        raise PeriodError(word, lang) from None
    if len(found) != 1 or _without(norm, cut).strip(" ,.?？!の"):
        raise PeriodError(word, lang)
    period = found[0].period
    assert period is not None
    return period


def comparison_period(period: Period, word: str) -> Period:
    """The period a comparison word sets against ``period``: "yoy"/"前年比" the same span one
    year earlier, "mom"/"前月比" one month earlier, "qoq"/"前四半期比" one quarter earlier. A
    whole month, quarter or year moves by whole units (March -> February); a to-date or other
    span keeps its number of days (Dec 1-6 -> Nov 1-6), never reaching into ``period``.
    Raises ``KeyError`` for a word that is not a comparison word (``COMPARISONS``)."""
    months = COMPARISONS[normalize(word).replace(" ", "-").replace("_", "-")]
    start = add_months(period.start, -months)
    aligned = period.start.day == 1 and period.end.day == 1 and not period.to_date
    end = add_months(period.end, -months) if aligned else min(start + (period.end - period.start), period.start)
    return replace(period, start=start, end=end)
