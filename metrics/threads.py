"""The last question of each Slack thread: plain storage for follow-ups (``commands/followup.py``).

``remember`` keeps one row per (channel, thread), replacing the previous question; rows older
than ``KEEP`` are pruned on every write. ``recall`` gives the stored question back while it is
younger than ``max_age``. No clock here: every caller passes ``now`` (UTC)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select

from metrics import schema
from metrics.clock import naive_utc

logger = logging.getLogger(__name__)

KEEP = timedelta(days=1)
t = schema.thread_queries


def remember(conn: Connection, channel_id: str, thread_ts: str, query: dict[str, Any], now: datetime) -> None:
    """Store ``query`` as the thread's last question (in the caller's transaction)."""
    stamp = naive_utc(now)
    key = and_(t.c.channel_id == channel_id, t.c.thread_ts == thread_ts)
    conn.execute(delete(t).where(key))
    conn.execute(delete(t).where(t.c.updated_at < stamp - KEEP))
    conn.execute(insert(t).values(channel_id=channel_id, thread_ts=thread_ts, query=query, updated_at=stamp))


def recall(conn: Connection, channel_id: str, thread_ts: str, now: datetime,
           max_age: timedelta = KEEP) -> dict[str, Any] | None:
    """The thread's last question, or None (none stored, or older than ``max_age``)."""
    row = conn.execute(select(t.c.query, t.c.updated_at).where(
        t.c.channel_id == channel_id, t.c.thread_ts == thread_ts)).first()
    if row is None or row.updated_at < naive_utc(now) - max_age:
        return None
    return dict(row.query)
