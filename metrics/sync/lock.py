"""At most one sync at a time, across processes: the ``sync_lock`` row.

The lock is a row in the csbot database (name ``sync``) saying which host and
process holds it since when. A lock left by a dead process on this host, or
older than ``Settings.sync_lock_ttl_minutes``, is stale: the next sync takes it
over and ``sync_status`` does not report it as running.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from metrics import schema
from metrics.sync.errors import first_line

logger = logging.getLogger(__name__)

LOCK_NAME = "sync"


@dataclass(frozen=True)
class LockInfo:
    host: str
    pid: int
    source: str | None
    acquired_at: datetime  # UTC, aware


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _lock_info(row: Any) -> LockInfo:
    return LockInfo(host=row.host, pid=row.pid, source=row.source, acquired_at=row.acquired_at.replace(tzinfo=timezone.utc))


def _is_stale(row: Any, now: datetime, ttl: timedelta) -> bool:
    """``now``: naive UTC, as stored."""
    if row.host == socket.gethostname() and not _process_alive(row.pid):
        return True
    return row.acquired_at < now - ttl


def acquire_lock(engine: Engine, described: str, *, ttl: timedelta, now: datetime) -> tuple[str | None, LockInfo | None]:
    """(holder, None) when this process now holds the lock; (None, who holds it) otherwise.
    A lock left by a dead process (same host) or older than ``ttl`` is taken over. ``now``: naive UTC."""
    lock = schema.sync_lock
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    mine = dict(holder=holder, host=socket.gethostname()[:255], pid=os.getpid(), source=described[:1024])
    try:
        with engine.begin() as conn:
            row = conn.execute(select(lock).where(lock.c.name == LOCK_NAME)).first()
            if row is None:
                conn.execute(insert(lock).values(name=LOCK_NAME, acquired_at=now, **mine))
                return holder, None
            if not _is_stale(row, now, ttl):
                return None, _lock_info(row)
            logger.warning("taking over a stale sync lock of pid %s on %s", row.pid, row.host)
            taken = conn.execute(
                update(lock)
                .where(lock.c.name == LOCK_NAME, lock.c.holder == row.holder)
                .values(acquired_at=now, **mine)
            ).rowcount
            return (holder, None) if taken == 1 else (None, _lock_info(row))
    except IntegrityError:  # another process inserted the lock row first
        with engine.connect() as conn:
            row = conn.execute(select(lock).where(lock.c.name == LOCK_NAME)).first()
        return None, (_lock_info(row) if row else LockInfo(host="?", pid=0, source=None, acquired_at=now.replace(tzinfo=timezone.utc)))


def release_lock(engine: Engine, holder: str | None) -> None:
    if holder is None:
        return
    try:
        with engine.begin() as conn:
            conn.execute(delete(schema.sync_lock).where(schema.sync_lock.c.holder == holder))
    except SQLAlchemyError as exc:
        logger.warning("could not release the sync lock: %s", first_line(exc))


def running_sync(conn: Connection, *, ttl: timedelta, now: datetime) -> LockInfo | None:
    """Who holds the lock right now (None when nobody does, or the lock is stale). ``now``: naive UTC."""
    row = conn.execute(select(schema.sync_lock).where(schema.sync_lock.c.name == LOCK_NAME)).first()
    if row is None or _is_stale(row, now, ttl):
        return None
    return _lock_info(row)
