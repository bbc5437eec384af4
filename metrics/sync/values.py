"""Reading one raw value of a synced row: text, choice, date, timestamp, number.

A parser takes what the source gives (text from a CSV file, typed values from a
SQL query) and returns the value to store, or raises ``BadValue`` with a reason
a user can act on. No database here: the event reader processes use it too.
"""

from __future__ import annotations

import math
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, Callable


class BadValue(ValueError):
    """A value that cannot be stored; ``str(err)`` is the reason shown to the user."""


class CellError(str):
    """A spreadsheet cell holding a formula error (``#N/A``, ``#REF!`` ...): shown as its code,
    never stored; every parser rejects it."""


def _refuse_error(value: Any) -> None:
    if isinstance(value, CellError):
        raise BadValue(f"the cell holds the formula error {str(value)}; fix the formula or clear the cell")


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return math.isnan(value)
    return False


def _show(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def parse_text(max_len: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        _refuse_error(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # an integer id that came through a float column
        text = str(value).strip()
        if len(text) > max_len:
            raise BadValue(f"longer than {max_len} characters")
        if "\x00" in text:  # PostgreSQL cannot store it; no identifier or name holds one
            raise BadValue("contains a NUL character (\\x00); remove it from the export")
        return text

    return parse


def parse_choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        _refuse_error(value)
        text = str(value).strip().lower()
        if text not in choices:
            raise BadValue(f"{_show(value)} is not one of {', '.join(choices)}")
        return text

    return parse


def parse_date(value: Any) -> date:
    _refuse_error(value)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        if len(text) > 10 and text[10] in "T ":
            moment = datetime.fromisoformat(text)
            if moment.time() == datetime.min.time():
                return moment.date()
    except ValueError:
        pass
    raise BadValue(f"unparseable date {_show(value)}; expected YYYY-MM-DD")


def timestamp_parser(tz: tzinfo) -> Callable[[Any], datetime]:
    """ISO 8601 -> naive workspace time. A zone is converted; no zone = workspace time."""

    def parse(value: Any) -> datetime:
        _refuse_error(value)
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        else:
            try:
                moment = datetime.fromisoformat(str(value).strip())
            except ValueError:
                raise BadValue(
                    f"unparseable timestamp {_show(value)}; expected ISO 8601 such as 2026-11-22T09:30:00+09:00"
                ) from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(tz).replace(tzinfo=None)
        return moment

    return parse


def _number(value: Any) -> float:
    _refuse_error(value)
    if isinstance(value, bool):
        raise BadValue(f"{_show(value)} is not a number")
    if isinstance(value, (int, float, Decimal)):
        number = float(value)
    else:
        try:
            number = float(Decimal(str(value).strip()))
        except (InvalidOperation, ValueError):
            raise BadValue(f"{_show(value)} is not a number") from None
    if math.isnan(number) or math.isinf(number):
        raise BadValue(f"{_show(value)} is not a number")
    return number


def parse_money(*, allow_negative: bool = False) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        number = _number(value)
        if number < 0 and not allow_negative:
            raise BadValue(f"negative amount {_show(value)}")
        if abs(number) >= 1e16:
            raise BadValue(f"amount {_show(value)} is too large")
        return round(number, 2)

    return parse


def parse_int(lo: int | None = None, hi: int | None = None, what: str = "value") -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        number = _number(value)
        if not number.is_integer():
            raise BadValue(f"{_show(value)} is not a whole number")
        whole = int(number)
        if (lo is not None and whole < lo) or (hi is not None and whole > hi):
            if lo is not None and hi is not None:
                raise BadValue(f"{what} {whole} out of range {lo}-{hi}")
            raise BadValue(f"{what} {whole} must be at least {lo}" if lo is not None else f"{what} {whole} must be at most {hi}")
        if abs(whole) > 2**31 - 1:
            raise BadValue(f"{what} {whole} is too large")
        return whole

    return parse


def parse_seconds(value: Any) -> float:
    number = _number(value)
    if number < 0:
        raise BadValue(f"negative duration {_show(value)}")
    return number
