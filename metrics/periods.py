"""A reporting period: half-open ``[start, end)`` of dates in the workspace time zone."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

# How a period was asked for decides what "the previous period" is.
# A "half" is six months from a fiscal year's start or its seventh month; a "year" may be a fiscal year
# (twelve months from CSBOT_FISCAL_YEAR_START): both step back by their length.
GRAINS = ("day", "week", "month", "quarter", "half", "year", "days", "months", "range")


def add_months(d: date, months: int) -> date:
    """The same day ``months`` later (clamped to the month's last day)."""
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def month_start(d: date) -> date:
    return d.replace(day=1)


def quarter_start(d: date) -> date:
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())  # weeks start on Monday


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # exclusive: the first day after the period
    grain: str = "range"
    # For a "to date" period (this-month on the 22nd): the full unit's start, so the
    # previous period is the same span of the previous unit.
    to_date: bool = False

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty period {self.start}..{self.end}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def months(self) -> float:
        """Length in months: whole months when aligned, else days / (365/12)."""
        if self.start.day == 1 and self.end.day == 1:
            return float((self.end.year - self.start.year) * 12 + self.end.month - self.start.month)
        return self.days / (365 / 12)

    def previous(self) -> "Period":
        """The period just before, of the same kind: the month before a month,
        the same days of last month for month-to-date, the six months before a half,
        the same number of days before a range."""
        step = {"month": 1, "quarter": 3, "half": 6, "year": 12}.get(self.grain)
        if self.grain == "months":
            step = round(self.months)
        if step:
            start = add_months(self.start, -step)
            if self.to_date:  # the same number of days into the previous unit
                return replace(self, start=start, end=start + (self.end - self.start))
            return replace(self, start=start, end=add_months(self.end, -step))
        # days, ranges and weeks (a week to date steps back a whole week)
        back = timedelta(days=7) if self.grain == "week" else self.end - self.start
        return replace(self, start=self.start - back, end=self.end - back)

    def iso(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


# ---- dates as the database drivers return them -------------------------------------------

def midnight(d: date) -> datetime:
    """00:00 of ``d``: "as of d" is the state at this instant."""
    return datetime.combine(d, time.min)


def as_date(v: Any) -> date | None:
    """A date column's value as a ``date`` (drivers return dates, datetimes or text)."""
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


def as_datetime(v: Any) -> datetime | None:
    """A timestamp column's value as a ``datetime``."""
    if v is None or isinstance(v, datetime):
        return v
    if isinstance(v, date):
        return midnight(v)
    return datetime.fromisoformat(str(v))
