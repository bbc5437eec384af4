"""The one place csbot reads the wall clock.

Everything below an entry point takes ``now`` (an aware UTC instant) or ``today``
(a date in the workspace time zone) as an argument; the entry points (a Slack
event, a CLI command, a scheduler tick) call ``utcnow()`` once and pass it down,
so one answer has one "today" and tests can set it.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """Now, as an aware UTC instant."""
    return datetime.now(timezone.utc)


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    """The date in ``tz`` at ``now`` (default: the wall clock)."""
    return (now or utcnow()).astimezone(tz).date()


def naive_utc(now: datetime | None = None) -> datetime:
    """``now`` as the naive UTC value stored in timestamp columns (second precision)."""
    now = now or utcnow()
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=0)
