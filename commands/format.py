"""Numbers and dates as people read them: the one formatter of text, blocks and charts
(metrics.md, "Presentation").

- Full values for text and tables: ``money``, ``percent``, ``count``, ``score``, ``value``
  (by unit), ``change`` (against the previous period), ``period`` (the exact dates) and
  ``period_line`` (the dates and the filters of an answer).
- Compact values for charts: ``compact`` (bar labels, cells, legends: "¥1.2M", "¥45万") and
  ``tick`` (one axis tick at a given scale), with ``money_scale`` choosing that scale.

A sign is shown when asked (``signed=True``) for every unit and every currency; a score on
a 0..100 scale is never asked for one (only a metric marked ``signed`` in the catalog, NPS).
"""

from __future__ import annotations

import logging
import math
from datetime import date

from commands.messages import t, t_list
from metrics.filters import Filters
from metrics.periods import Period

logger = logging.getLogger(__name__)

CURRENCY_SYMBOLS = {"JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "CNY": "CN¥", "KRW": "₩", "INR": "₹", "AUD": "A$",
                    "CAD": "CA$"}
NO_DECIMALS = {"JPY", "KRW"}
NONE = "—"


def symbol(currency: str) -> str:
    return CURRENCY_SYMBOLS.get(currency, currency + " ")


def _sign(value: float, signed: bool) -> str:
    return "-" if value < 0 else "+" if signed and value > 0 else ""


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


# ---- full values ------------------------------------------------------------------------

def money(value: float | None, currency: str = "JPY", *, signed: bool = False) -> str:
    """"¥1,234,000", "$1,234.50"; ``signed``: "+¥30,000" / "+$30.00" (a gain), "-¥30,000" always."""
    if value is None:
        return NONE
    amount = abs(value)
    text = f"{amount:,.0f}" if currency in NO_DECIMALS or amount >= 100_000 else f"{amount:,.2f}"
    return f"{_sign(value, signed)}{symbol(currency)}{text}"


def percent(value: float | None, *, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NONE
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"


def count(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return NONE
    if signed:
        return f"{value:+,.0f}" if float(value).is_integer() else f"{value:+,.1f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def score(value: float | None, *, signed: bool = False) -> str:
    """A score as a whole number; ``signed`` only for a scale that runs below zero (NPS "+32")."""
    if value is None:
        return NONE
    return f"{value:+.0f}" if signed else f"{value:.0f}"


def value(unit: str, v: float | None, currency: str = "JPY", *, signed: bool = False) -> str:
    """Format a metric value by its unit (ratio, money, count, score, days, minutes)."""
    if v is None:
        return NONE
    if unit == "ratio":
        return percent(v, signed=signed)
    if unit == "money":
        return money(v, currency, signed=signed)
    if unit == "score":
        return score(v, signed=signed)
    if unit in ("days", "minutes"):
        return _trim(f"{v:+,.1f}" if signed else f"{v:,.1f}")
    return count(v, signed=signed)


def change(unit: str, current: float | None, previous: float | None, currency: str = "JPY") -> str | None:
    """The change against the previous period: "+1.2 pt" for ratios, signed amounts otherwise."""
    if current is None or previous is None:
        return None
    delta = current - previous
    if unit == "ratio":
        text = f"{delta * 100:+.1f} pt"
        return "±0.0 pt" if text in ("+0.0 pt", "-0.0 pt") else text
    return value(unit, delta, currency, signed=True)


def period(p: Period, lang: str = "en") -> str:
    """The exact dates, inclusive: "Oct 1 – Oct 31, 2026" / "2026年10月1日〜10月31日"."""
    first, last = p.start, p.last_day
    months = t_list("format.months", lang)

    def day(d: date, key: str = "format.day") -> str:
        return t(key, lang, month=months[d.month - 1], day=d.day, year=d.year)

    if first == last:
        return day(first, "format.day_year")
    if first.year == last.year:
        return t("format.range_in_year", lang, first=day(first), last=day(last), year=last.year)
    return t("format.range", lang, first=day(first, "format.day_year"), last=day(last, "format.day_year"))


def period_line(p: Period, filters: Filters, lang: str) -> str:
    """The dates and the scope of an answer: "Oct 1 – Oct 31, 2026 · segment:smb"."""
    text = period(p, lang)
    if not filters.empty:
        text += f" · {filters.describe()}"
    return text


# ---- compact values (charts) -------------------------------------------------------------

def money_scale(amount: float, currency: str, lang: str) -> tuple[float, str]:
    """(divisor, suffix) for a money amount: 万/億 for yen in Japanese, M/B otherwise."""
    a = abs(amount)
    if lang == "ja" and currency == "JPY":
        if a >= 1e9:
            return 1e8, "億"
        if a >= 1e5:
            return 1e4, "万"
        return 1.0, ""
    if a >= 1e9:
        return 1e9, "B"
    if a >= 1e6:
        return 1e6, "M"
    return 1.0, ""


def _sig(x: float) -> str:
    """Three significant digits, trailing zeros dropped, thousands separators."""
    a = abs(x)
    decimals = 0 if a >= 100 else 1 if a >= 10 else 2
    return _trim(f"{x:,.{decimals}f}")


def compact(unit: str, v: float | None, lang: str = "en", currency: str = "JPY", *, signed: bool = False,
            ref: float | None = None) -> str:
    """A value as written on a chart (bar labels, cells, legends): short but exact enough.

    Money is abbreviated (¥1.2M, ¥45万) by the size of ``ref`` (the chart's largest value,
    so every label of one chart uses the same scale), else by its own size.
    """
    if v is None:
        return NONE
    a = abs(v)
    if unit == "ratio":
        return f"{_sign(v, signed)}{_trim(f'{a * 100:.1f}')}%"
    if unit == "money":
        div, suffix = money_scale(a if ref is None else max(abs(ref), a), currency, lang)
        text = (f"{a:,.0f}" if currency in NO_DECIMALS or a >= 1000 else f"{a:,.2f}") if div == 1.0 else _sig(a / div)
        return f"{_sign(v, signed)}{symbol(currency)}{text}{suffix}"
    if unit == "score":
        return f"{_sign(round(v), signed)}{abs(round(v)):d}"
    if unit in ("days", "minutes"):
        return f"{_sign(v, signed)}{_trim(f'{a:,.1f}')}{t('format.' + unit, lang)}"
    return f"{_sign(v, signed)}{_trim(f'{a:,.1f}')}" if not float(a).is_integer() else f"{_sign(v, signed)}{a:,.0f}"


def tick(unit: str, x: float, *, div: float = 1.0, suffix: str = "", decimals: int = 0, currency: str = "JPY",
         signed: bool = False) -> str:
    """One axis tick: ``x / div`` with ``decimals`` decimals and the scale's ``suffix``
    (a chart chooses div/suffix/decimals once for all its ticks: ``money_scale`` for money,
    div 0.01 and "%" for ratios)."""
    if abs(x) < 1e-9 * max(1.0, abs(div)):
        return f"{symbol(currency)}0" if unit == "money" else "0%" if unit == "ratio" else "0"
    v = x / div
    sign = "-" if round(v, decimals) < 0 else "+" if signed and round(v, decimals) > 0 else ""
    body = f"{abs(v):,.{decimals}f}"
    if unit == "money":
        return f"{sign}{symbol(currency)}{body}{suffix}"
    if unit in ("count", "score") and decimals == 0:
        return f"{sign}{abs(round(v)):,d}"
    return f"{sign}{body}{suffix}"
