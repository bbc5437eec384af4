"""What the sync log says: the last runs, how fresh the data is, the rejected rows.

``sync_status(engine, settings)`` reads it into a ``SyncStatus`` (what
``csbot sync --status`` and ``/cs sync`` show); the words are theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, func, select

from metrics import schema
from metrics.clock import naive_utc, utcnow
from metrics.db import last_successful_sync, scrub
from metrics.settings import Settings
from metrics.sync.lock import LockInfo, running_sync


@dataclass(frozen=True)
class SyncRun:
    sync_id: int
    source: str
    started_at: datetime  # UTC, aware
    finished_at: datetime | None
    status: str
    rows_in: int
    rows_changed: int
    rows_rejected: int
    message: str | None


@dataclass(frozen=True)
class RejectedRow:
    table: str
    file: str | None
    line: int | None
    column: str | None
    reason: str  # stored in English (data)


@dataclass(frozen=True)
class SyncStatus:
    runs: tuple[SyncRun, ...]
    last_success: datetime | None  # UTC, aware
    rejected: tuple[RejectedRow, ...]  # of the last successful run (first ones)
    rejected_total: int
    running: LockInfo | None

    def hours_since_success(self, now: datetime | None = None) -> float | None:
        """Age of the data in hours at ``now`` (aware; default the wall clock). None before the first successful sync."""
        if self.last_success is None:
            return None
        return ((now or utcnow()) - self.last_success).total_seconds() / 3600

    def is_stale(self, settings: Settings, now: datetime | None = None) -> bool:
        """True when the data is older than CSBOT_STALE_SYNC_HOURS (or was never synced)."""
        hours = self.hours_since_success(now)
        return hours is None or hours > settings.stale_sync_hours


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def sync_status(engine: Engine, settings: Settings | None = None, *, now: datetime | None = None, limit: int = 5,
                rejected_limit: int = 20) -> SyncStatus:
    """The last ``limit`` runs, the first ``rejected_limit`` rejected rows of the last successful
    run, and the sync running at ``now`` (a lock older than ``settings.sync_lock_ttl_minutes`` is not)."""
    settings = settings or Settings()
    log, rej = schema.sync_log, schema.rejected_rows
    ttl = timedelta(minutes=settings.sync_lock_ttl_minutes)
    with engine.connect() as conn:
        rows = conn.execute(select(log).order_by(log.c.sync_id.desc()).limit(limit)).all()
        last_ok_id = conn.execute(select(func.max(log.c.sync_id)).where(log.c.status == "ok")).scalar()
        rejected: list[RejectedRow] = []
        total = 0
        if last_ok_id is not None:
            total = conn.execute(select(func.count()).select_from(rej).where(rej.c.sync_id == last_ok_id)).scalar_one()
            for r in conn.execute(
                select(rej).where(rej.c.sync_id == last_ok_id).order_by(rej.c.id).limit(rejected_limit)
            ):
                rejected.append(RejectedRow(r.table_name, r.file, r.line, r.column_name, r.reason))
        running = running_sync(conn, ttl=ttl, now=naive_utc(now))
    runs = tuple(
        SyncRun(
            sync_id=r.sync_id,
            source=scrub(r.source),  # a row stored before URLs were masked fully
            started_at=_aware(r.started_at),
            finished_at=_aware(r.finished_at),
            status=r.status,
            rows_in=r.rows_in or 0,
            rows_changed=r.rows_changed or 0,
            rows_rejected=r.rows_rejected or 0,
            message=scrub(r.message) if r.message else r.message,
        )
        for r in rows
    )
    return SyncStatus(
        runs=runs,
        last_success=last_successful_sync(engine),
        rejected=tuple(rejected),
        rejected_total=total,
        running=running,
    )
