"""What is derived from the synced data and must be brought up to date after every sync.

``after_sync_steps(settings, today)`` gives the steps a sync's caller hands to
``run_sync(..., after=...)`` (``csbot sync``, the scheduled sync, the demo): each
``step(conn, summary)`` runs inside the sync's transaction, so the derived state
commits with the data or not at all. Today: the revenue state (``metrics.revenue_state``: each
account's MRR as intervals, first paid days), the usage state (``metrics.usage_state``: usage
per day and group of accounts) and the health snapshots of ``today``.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, Callable

from sqlalchemy import Connection

from metrics import revenue_state, usage_state
from metrics.health import write_snapshots
from metrics.settings import Settings

logger = logging.getLogger(__name__)

Step = Callable[[Connection, Any], None]  # (conn, the sync's SyncSummary)


def after_sync_steps(settings: Settings, today: date) -> tuple[Step, ...]:
    """The steps that keep derived state up to date after a sync, in the order they run."""

    def revenue_intervals(conn: Connection, summary: Any) -> None:
        """Each account's MRR as intervals of constant value and its first paid day, rebuilt."""
        revenue_state.build(conn)

    def health_snapshots(conn: Connection, summary: Any) -> None:
        """Today's health snapshots from the fresh data (replaces the day's rows)."""
        write_snapshots(conn, today, settings)

    return (revenue_intervals, usage_rollups, health_snapshots)


def usage_rollups(conn: Connection, summary: Any) -> None:
    """Per day and usage group: user-days, events, seconds, and the distinct users of the 7 and 30 days
    ending the day (``metrics.usage_state``), rebuilt from the first day the sync changed."""
    usage_state.refresh(conn, summary)
