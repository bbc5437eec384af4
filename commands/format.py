"""Numbers and dates as people read them: the one formatter of text, blocks and charts
(docs/metrics.md, "Presentation").

- Full values for text and tables: ``money``, ``percent``, ``count``, ``score``, ``value``
  (by unit), ``change`` (against the previous period), ``period`` (the exact dates) and
  ``period_line`` (the dates and the filters of an answer).
- Compact values for charts: ``compact`` (bar labels, cells, legends and axis ticks, one
  scale per chart: "¥1.2M", "¥45万").
- csbot's own Slack links: ``slack_ref("channel", "C123")`` / ``slack_ref("user", "U123")``, a
  marker the Slack renderer turns into ``<#C123>``/``<@U123>``; never write ``<…>`` in a reply.

A sign is shown when asked (``signed=True``) for every unit and every currency; a score on
a 0..100 scale is never asked for one (only a metric marked ``signed`` in the catalog, NPS).
"""

from __future__ import annotations

import logging
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import fields
from datetime import date, datetime
from zoneinfo import ZoneInfo

from commands.messages import t, t_list, table
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


def value(unit: str, v: float | None, currency: str = "JPY", *, signed: bool = False, lang: str = "en") -> str:
    """Format a metric value by its unit (ratio, money, count, score, days, minutes); days and
    minutes carry their unit in ``lang`` ("43 days" / "43日", "28.8 min" / "28.8分")."""
    if v is None:
        return NONE
    if unit == "ratio":
        return percent(v, signed=signed)
    if unit == "money":
        return money(v, currency, signed=signed)
    if unit == "score":
        return score(v, signed=signed)
    if unit in ("days", "minutes"):
        number = _trim(f"{v:+,.1f}" if signed else f"{v:,.1f}")
        one = abs(v) == 1 and unit == "days"
        return t(f"format.unit_{'day' if one else unit}", lang, value=number)
    return count(v, signed=signed)


def _shown(unit: str, v: float) -> float:
    """A value as an answer prints it: a ratio as a percentage with one decimal ("90.4%")."""
    return round(v * 100, 1) if unit == "ratio" else v


def change(unit: str, current: float | None, previous: float | None, currency: str = "JPY", *,
           lang: str = "en") -> str | None:
    """The change against the previous period: "+1.2 pt" for ratios (between the percentages as shown:
    90.4% -> 90.5% is +0.1 pt, never ±0.0 pt), signed amounts otherwise."""
    if current is None or previous is None:
        return None
    if unit == "ratio":
        text = f"{_shown(unit, current) - _shown(unit, previous):+.1f} pt"
        return "±0.0 pt" if text in ("+0.0 pt", "-0.0 pt") else text
    return value(unit, current - previous, currency, signed=True, lang=lang)


def direction(unit: str, current: float | None, previous: float | None) -> int:
    """1 up, -1 down, 0 flat or unknown, between the values as shown (the arrow, "better"/"worse" and the
    change say the same: 48.24% and 48.21% are both 48.2%, flat)."""
    if current is None or previous is None:
        return 0
    a, b = _shown(unit, current), _shown(unit, previous)
    return 0 if a == b else 1 if a > b else -1


def day(d: date | datetime | None, lang: str = "en", *, year: bool = False) -> str:
    """One day: "Nov 22" / "11月22日"; with ``year``: "Nov 22, 2026" / "2026年11月22日"."""
    if d is None:
        return NONE
    if isinstance(d, datetime):
        d = d.date()
    month = t_list("format.months", lang)[d.month - 1]
    return t("format.day_year" if year else "format.day", lang, month=month, day=d.day, year=d.year)


def stamp(at: datetime, tz: ZoneInfo, lang: str = "en") -> str:
    """An instant in a zone: "Sun Nov 22 09:30 JST" / "11月22日(日) 09:30 JST"."""
    local = at.astimezone(tz)
    return t("format.stamp", lang, weekday=t_list("format.weekdays", lang)[local.weekday()],
             day=day(local.date(), lang), time=f"{local:%H:%M}", zone=local.tzname())


def period(p: Period, lang: str = "en") -> str:
    """The exact dates, inclusive: "Oct 1 – Oct 31, 2026" / "2026年10月1日〜10月31日"."""
    first, last = p.start, p.last_day
    if first == last:
        return day(first, lang, year=True)
    if first.year == last.year:
        return t("format.range_in_year", lang, first=day(first, lang), last=day(last, lang), year=last.year)
    return t("format.range", lang, first=day(first, lang, year=True), last=day(last, lang, year=True))


def period_line(p: Period, filters: Filters, lang: str) -> str:
    """The dates and the scope of an answer: "Oct 1 – Oct 31, 2026 · segment:smb"; a period still
    running says so: "Dec 1 – Dec 6, 2026 (to date)"."""
    text = t("periods.to_date", lang, dates=period(p, lang)) if p.to_date else period(p, lang)
    if not filters.empty:
        text += f" · {scope(filters, lang)}"
    return text


def dimension(field: str, lang: str) -> str:
    """An account dimension as people read it: "segment" / "セグメント", "touch model" / "タッチモデル"."""
    return t(f"format.dim_{field}", lang)


def scope(filters: Filters, lang: str) -> str:
    """The filters of an answer as people read them: "segment:enterprise owner:alice@example.com" /
    「セグメント：エンタープライズ · 担当者：alice@example.com」 (known values in the reader's language)."""
    parts = []
    for f in fields(filters):
        value = getattr(filters, f.name)
        if not value:
            continue
        shown = value[0] if isinstance(value, tuple) else value
        if f.name == "segment":
            shown = segment(shown, lang)
        elif f.name == "touch_model":
            shown = touch(shown, lang)
        elif f.name == "region":
            shown = region(shown, lang)
        parts.append(t(f"format.scope_{f.name}", lang, value=shown))
    return t("format.scope_sep", lang).join(parts)


# ---- the data's known values ----------------------------------------------------------------

def _known(field: str, raw: str | None, lang: str) -> str:
    if not raw:
        return NONE
    key = f"values.{field}_{raw.strip().lower()}"
    return t(key, lang) if key in table() else raw


def segment(raw: str | None, lang: str) -> str:
    """An account's segment as people read it: "enterprise" / "エンタープライズ"; unknown values as typed."""
    return _known("segment", raw, lang)


def touch(raw: str | None, lang: str) -> str:
    """An account's touch model: "tech" / "テックタッチ"; unknown values as typed."""
    return _known("touch", raw, lang)


def region(raw: str | None, lang: str) -> str:
    """An account's region: "japan" / "日本" for the common spellings; others as typed."""
    return _known("region", raw, lang)


def milestone(raw: str | None, lang: str) -> str:
    """An onboarding milestone: "first_value" / "価値実感"; unknown milestones as typed."""
    return _known("milestone", raw, lang)


# ---- compact values (charts) -------------------------------------------------------------

def compact(unit: str, values: Sequence[float], currency: str = "JPY", *, lang: str = "en", signed: bool = False,
            scale: float | None = None, exact: bool = False) -> list[str]:
    """Values written short and on one scale, for charts (bar labels, legends, axis ticks).

    Money is abbreviated by the largest of ``values`` and ``scale`` (the chart's largest
    value, so every label of a chart shares it): 万/億 for yen in Japanese, M/B otherwise
    ("¥45.3万", "¥2.4M"); ratios are percents. Labels keep three significant digits with
    trailing zeros dropped ("5%", "5.2%"); ``exact=True`` (axis ticks) gives every value the
    same, fewest decimals that write them all exactly ("2.5%", "5.0%"). Zero is "0", "0%", "¥0".
    Scores are unsigned unless ``signed`` (NPS: "+32"), as in ``score``.
    """
    finite = [float(v) for v in values]
    top = max([abs(v) for v in finite] + [abs(scale) if scale is not None else 0.0])
    div, suffix, symbol = 1.0, "", ""
    if unit == "ratio":
        div, suffix = 0.01, "%"
    elif unit == "money":
        symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
        if lang == "ja" and currency == "JPY":
            div, suffix = (1e8, "億") if top >= 1e9 else (1e4, "万") if top >= 1e5 else (1.0, "")
        else:
            div, suffix = (1e9, "B") if top >= 1e9 else (1e6, "M") if top >= 1e6 else (1.0, "")
    decimals: int | None = None
    if exact:
        whole = unit in ("count", "score") and all(v == round(v) for v in finite)
        decimals = 0 if whole else next(
            (d for d in range(4) if all(abs(round(v / div, d) - v / div) < 1e-6 * max(1.0, top / div) for v in finite)),
            3)
    out = []
    for v in finite:
        if abs(v) < 1e-9 * max(1.0, div):
            out.append(f"{symbol}0{suffix if unit == 'ratio' else ''}")
            continue
        x = abs(v) / div
        if decimals is not None:
            body = f"{x:,.{decimals}f}"
        elif unit == "money" and div == 1.0:
            body = f"{x:,.0f}" if currency in NO_DECIMALS or x >= 1000 else f"{x:,.2f}"
        elif unit == "money":
            body = _trim(f"{x:,.{0 if x >= 100 else 1 if x >= 10 else 2}f}")
        elif unit == "score" or (unit == "count" and x == round(x)):
            body = f"{x:,.0f}"  # scores are whole, as in ``score``
        else:
            body = _trim(f"{x:,.1f}")
        shown = body.strip("0.,") != ""  # a value written as zero gets no sign
        sign = "-" if v < 0 and shown else "+" if signed and v > 0 and shown else ""
        out.append(f"{sign}{symbol}{body}{suffix}")
    return out


# ---- csbot's own Slack references ----------------------------------------------------------

# A reference csbot makes itself (a channel, a user) travels in a Reply as a marker no data can
# forge: two private-use characters around a key drawn when the process starts. The Slack
# renderer (bot/slack/mrkdwn.py) turns a marker into <#C123>/<@U123> and escapes everything
# else; the console shows "#C123"/"@U123" (commands/reply.py render_text).
_REF_KEY = secrets.token_hex(4)
REF_OPEN, REF_CLOSE = "\ue000", "\ue001"
SLACK_REF = re.compile(REF_OPEN + _REF_KEY + r"(?P<sigil>[#@])(?P<id>[A-Z0-9]+)" + REF_CLOSE)
_REF_IDS = {"channel": ("#", re.compile(r"[CGD][A-Z0-9]{2,}")), "user": ("@", re.compile(r"[UW][A-Z0-9]{2,}"))}


def slack_ref(kind: str, id: str) -> str:
    """A channel (``kind="channel"``) or user (``"user"``) that Slack renders as a link, when ``id``
    is a valid Slack ID; anything else ("#cs-team", a name) comes back as plain text."""
    sigil, valid = _REF_IDS[kind]
    if valid.fullmatch(id or ""):
        return f"{REF_OPEN}{_REF_KEY}{sigil}{id}{REF_CLOSE}"
    return id or ""
