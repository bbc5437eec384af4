"""Numbers as people read them (metrics.md, "Presentation")."""

from __future__ import annotations

import math

CURRENCY_SYMBOLS = {"JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "CNY": "CN¥", "KRW": "₩", "INR": "₹", "AUD": "A$", "CAD": "CA$"}
NO_DECIMALS = {"JPY", "KRW"}


def money(value: float | None, currency: str = "JPY") -> str:
    if value is None:
        return "—"
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    sign = "-" if value < 0 else ""
    amount = abs(value)
    text = f"{amount:,.0f}" if currency in NO_DECIMALS or amount >= 100_000 else f"{amount:,.2f}"
    return f"{sign}{symbol}{text}"


def percent(value: float | None, *, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"


def count(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def score(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.0f}" if signed else f"{value:.0f}"


def value(unit: str, v: float | None, currency: str = "JPY", *, signed: bool = False) -> str:
    """Format a metric value by its unit (ratio, money, count, score, days, minutes)."""
    if v is None:
        return "—"
    if unit == "ratio":
        return percent(v, signed=signed)
    if unit == "money":
        return ("+" if signed and v > 0 else "") + money(v, currency)
    if unit == "score":
        return score(v, signed=signed)
    if unit in ("days", "minutes"):
        text = f"{v:+,.1f}" if signed else f"{v:,.1f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return (f"{v:+,.0f}" if float(v).is_integer() else f"{v:+,.1f}") if signed else count(v)


def change(unit: str, current: float | None, previous: float | None, currency: str = "JPY") -> str | None:
    """The change against the previous period: "+1.2 pt" for ratios, signed amounts otherwise."""
    if current is None or previous is None:
        return None
    delta = current - previous
    if unit == "ratio":
        text = f"{delta * 100:+.1f} pt"
        return "±0.0 pt" if text in ("+0.0 pt", "-0.0 pt") else text
    return value(unit, delta, currency, signed=True)
