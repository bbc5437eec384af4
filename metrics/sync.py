"""``csbot sync``: copy the team's data into csbot's database (data-contract.md).

One run = one transaction: the sync log row, every table, the rejected rows and
the after-sync hooks commit together or not at all (a killed run leaves the
database as it was). A failed run is then logged as failed in a transaction of
its own. At most one sync runs at a time, across processes (``sync_lock``).

Entry points:
- ``run_sync(engine, source, settings=...)`` -> ``SyncSummary``
- ``sync_status(engine)`` -> ``SyncStatus`` (what ``--status`` and ``/cs sync`` show)
- ``scheduled_sync(settings)`` for the bot's scheduler (source from the environment:
  ``CSBOT_SYNC_CSV_DIR``, or ``CSBOT_SYNC_SQL_URL`` + ``CSBOT_SYNC_MAPPING``)
- ``cli(argv, settings)`` for ``csbot sync ...``
- ``register_after_sync(fn)``: ``fn(conn, summary)`` runs inside the sync's transaction.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import socket
import sys
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from metrics import schema
from metrics.db import DatabaseUnavailable, init_schema, last_successful_sync, make_engine, safe_url
from metrics.settings import Settings
from metrics.sync_events import load_events
from metrics.sync_rules import (
    LOAD_ORDER,
    REQUIRED_COLUMNS,
    TABLE_SPECS,
    BadValue,
    TableSpec,
    is_empty,
    timestamp_parser,
)
from metrics.sync_sources import CsvSource, RowStream, SourceError, SqlSource

logger = logging.getLogger(__name__)

__all__ = [
    "AFTER_SYNC_HOOKS",
    "CsvSource",
    "SqlSource",
    "SyncStatus",
    "SyncSummary",
    "TableCounts",
    "cli",
    "register_after_sync",
    "run_sync",
    "scheduled_sync",
    "source_from_env",
    "sync_status",
]

Progress = Callable[[str, int, float], None]  # (table, rows read so far, seconds since the table started)

CHUNK = 500  # rows compared against the database per query
REJECT_BATCH = 1000
LOCK_NAME = "sync"
DEFAULT_LOCK_TTL_MINUTES = 180.0


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class TableCounts:
    table: str
    file: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    deleted: int = 0
    refused: str | None = None  # why the whole file was not loaded

    @property
    def changed(self) -> int:
        return self.inserted + self.updated + self.deleted


@dataclass(frozen=True)
class SyncSummary:
    sync_id: int | None
    status: str  # ok | failed | busy | dry-run
    tables: tuple[TableCounts, ...] = ()
    rejected: int = 0
    seconds: float = 0.0
    message: str = ""
    source: str = ""

    @property
    def rows_in(self) -> int:
        return sum(t.read for t in self.tables)

    @property
    def rows_changed(self) -> int:
        return sum(t.changed for t in self.tables)

    def table(self, name: str) -> TableCounts | None:
        return next((t for t in self.tables if t.table == name), None)


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
    reason: str


@dataclass(frozen=True)
class LockInfo:
    host: str
    pid: int
    source: str | None
    acquired_at: datetime  # UTC, aware


@dataclass(frozen=True)
class SyncStatus:
    runs: tuple[SyncRun, ...]
    last_success: datetime | None  # UTC, aware
    rejected: tuple[RejectedRow, ...]  # of the last successful run (first ones)
    rejected_total: int
    running: LockInfo | None

    def hours_since_success(self, now: datetime | None = None) -> float | None:
        """Age of the data in hours (None before the first successful sync)."""
        if self.last_success is None:
            return None
        return ((now or datetime.now(timezone.utc)) - self.last_success).total_seconds() / 3600

    def is_stale(self, settings: Settings, now: datetime | None = None) -> bool:
        """True when the data is older than CSBOT_STALE_SYNC_HOURS (or was never synced)."""
        hours = self.hours_since_success(now)
        return hours is None or hours > settings.stale_sync_hours


class SyncFailed(RuntimeError):
    """A run cannot go on. ``str(err)`` is one line for the user."""


# --------------------------------------------------------------------------- hooks

AFTER_SYNC_HOOKS: list[Callable[[Connection, SyncSummary], None]] = []

# Modules that keep something derived from the data (they register a hook when
# imported): every sync brings them up to date, whoever started it.
DERIVED_MODULES = ("metrics.health",)


def _load_derived() -> None:
    import importlib

    for module in DERIVED_MODULES:
        importlib.import_module(module)


def register_after_sync(fn: Callable[[Connection, SyncSummary], None]) -> Callable[[Connection, SyncSummary], None]:
    """Run ``fn(conn, summary)`` after every sync, inside its transaction (usable as a decorator)."""
    if fn not in AFTER_SYNC_HOOKS:
        AFTER_SYNC_HOOKS.append(fn)
    return fn


# --------------------------------------------------------------------------- one run


class _Run:
    """What the table loaders share during one run."""

    def __init__(self, conn: Connection, sync_id: int, tz: ZoneInfo, full_refresh: bool, progress: Progress | None):
        self.conn = conn
        self.sync_id = sync_id
        self.tz = tz
        self.full_refresh = full_refresh
        self.progress = progress
        self.known_accounts: set[str] = set()
        self._rejected: list[dict] = []

    def reload_accounts(self) -> None:
        self.known_accounts = set(self.conn.execute(select(schema.accounts.c.account_id)).scalars())

    def reject(self, table: str, file: str | None, line: int | None, column: str | None, reason: str, raw: Any) -> None:
        if raw is not None and not isinstance(raw, str):
            raw = ",".join("" if v is None else str(v) for v in raw)
        self._rejected.append(
            {
                "sync_id": self.sync_id,
                "table_name": table,
                "file": file,
                "line": line,
                "column_name": column,
                "reason": reason[:2000],
                "raw": raw[:1000] if raw else None,
            }
        )
        if len(self._rejected) >= REJECT_BATCH:
            self.flush_rejected()

    def flush_rejected(self) -> None:
        if self._rejected:
            self.conn.execute(insert(schema.rejected_rows), self._rejected)
            self._rejected = []

    def report(self, table: str, rows: int, seconds: float) -> None:
        if self.progress is not None:
            self.progress(table, rows, seconds)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _header_problem(table: str, stream: RowStream) -> tuple[str | None, str] | None:
    if not stream.header:
        return None, "empty file: expected a header row with the column names"
    for column in REQUIRED_COLUMNS[table]:
        if column not in stream.header:
            return column, f"missing required column '{column}'; add it to the header (file not loaded)"
    return None


def _load_table(conn: Connection, spec: TableSpec, stream: RowStream, run: _Run) -> TableCounts:
    t = spec.table
    header = stream.header
    idx: dict[str, int] = {}
    for i, name in enumerate(header):
        idx.setdefault(name, i)
    ts = timestamp_parser(run.tz)
    present = [(c.name, idx[c.name], c.parse or ts, c.required) for c in spec.columns if c.name in idx]
    extras = (
        [(i, name) for i, name in enumerate(header) if name and name not in spec.column_names and idx.get(name) == i]
        if spec.extra_to_attributes
        else []
    )
    stored = [name for name, *_ in present]
    if spec.optional_key_column and spec.optional_key_column not in stored:
        stored.insert(0, spec.optional_key_column)
    if extras:
        stored.append("attributes")
    key_cols = list(spec.key)
    value_cols = [c for c in stored if c not in key_cols]
    width = len(header)
    started = time.monotonic()
    counts = dict(read=0, inserted=0, updated=0, unchanged=0, rejected=0, deleted=0)
    first_line_of: dict[Any, int] = {}
    chunk: list[dict] = []

    upd = None
    if value_cols:
        upd = (
            update(t)
            .where(*[t.c[k] == bindparam(f"k_{k}") for k in key_cols])
            .values({c: bindparam(f"v_{c}") for c in value_cols})
        )

    def key_of(values: dict) -> Any:
        if len(key_cols) == 1:
            return values[key_cols[0]]
        return tuple(values[k] for k in key_cols)

    def write(rows: list[dict]) -> None:
        keys = [key_of(r) for r in rows]
        key_expr = t.c[key_cols[0]] if len(key_cols) == 1 else tuple_(*[t.c[k] for k in key_cols])
        existing: dict[Any, tuple] = {}
        for found in conn.execute(select(*[t.c[c] for c in stored]).where(key_expr.in_(keys))):
            rec = dict(zip(stored, found))
            existing[key_of(rec)] = tuple(rec[c] for c in value_cols)
        inserts, updates = [], []
        for r in rows:
            old = existing.get(key_of(r))
            if old is None:
                inserts.append({c: r.get(c) for c in stored})
            elif old != tuple(r.get(c) for c in value_cols):
                params = {f"k_{k}": r[k] for k in key_cols}
                params.update({f"v_{c}": r.get(c) for c in value_cols})
                updates.append(params)
            else:
                counts["unchanged"] += 1
        if inserts:
            conn.execute(insert(t), inserts)
            counts["inserted"] += len(inserts)
        if updates and upd is not None:
            conn.execute(upd, updates)
            counts["updated"] += len(updates)

    def reject(line: int, column: str | None, reason: str, row) -> None:
        counts["rejected"] += 1
        run.reject(spec.name, stream.label, line, column, reason, row)

    prev = stream.first_line
    reader = stream.reader
    for row in stream.rows:
        line = prev + 1
        prev = reader.line_num
        if not row:
            continue
        counts["read"] += 1
        if len(row) != width:
            reject(line, None, f"{len(row)} values but the header has {width} columns", row)
            continue
        values: dict[str, Any] = {}
        problem: tuple[str, str] | None = None
        for name, i, parse, required in present:
            raw = row[i]
            if is_empty(raw):
                values[name] = None
                if required and problem is None:
                    problem = (name, "required value is empty")
                continue
            try:
                values[name] = parse(raw)
            except BadValue as exc:
                values[name] = None
                if problem is None:
                    problem = (name, str(exc))
        if spec.optional_key_column and not values.get(spec.optional_key_column):
            parts = [values.get(c) for c in ("account_id", "product", "start_date")]
            values[spec.optional_key_column] = "|".join(str(p) for p in parts) if all(parts) else None
        key = key_of(values)
        if not isinstance(key, tuple) or all(k is not None for k in key):
            if key is not None:
                if key in first_line_of:
                    if problem is None:
                        shown = key if not isinstance(key, tuple) else ", ".join(map(str, key))
                        problem = (key_cols[-1] if len(key_cols) > 1 else key_cols[0],
                                   f"duplicate key {shown!r} in this file (first on line {first_line_of[key]})")
                else:
                    first_line_of[key] = line
        if problem is None and spec.references_accounts and values["account_id"] not in run.known_accounts:
            problem = ("account_id", f"unknown account {values['account_id']!r} (not in accounts)")
        if problem is None:
            for later, earlier, column in spec.checks:
                if values.get(later) is not None and values.get(earlier) is not None and values[later] < values[earlier]:
                    problem = (column, f"{later} {values[later]} is before {earlier} {values[earlier]}")
                    break
        if problem is not None:
            reject(line, problem[0], problem[1], row)
            continue
        if extras:
            attrs = {name: _jsonable(row[i]) for i, name in extras if not is_empty(row[i])}
            values["attributes"] = attrs or None
        chunk.append(values)
        if len(chunk) >= CHUNK:
            write(chunk)
            chunk = []
            run.report(spec.name, counts["read"], time.monotonic() - started)
    if chunk:
        write(chunk)
    run.report(spec.name, counts["read"], time.monotonic() - started)
    if run.full_refresh:
        counts["deleted"] = _delete_missing(conn, spec, set(first_line_of))
    return TableCounts(table=spec.name, file=stream.label, **counts)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)):
        return value.strip() if isinstance(value, str) else value
    return str(value)


_ACCOUNT_CHILDREN = (
    schema.subscriptions,
    schema.usage_daily,
    schema.nps_responses,
    schema.csat_responses,
    schema.onboarding,
    schema.tickets,
    schema.health_snapshots,
)


def _delete_missing(conn: Connection, spec: TableSpec, keep: set) -> int:
    """Full refresh: rows whose key is not in this export go (with an account, its rows elsewhere)."""
    t = spec.table
    key_cols = [t.c[k] for k in spec.key]
    gone = [tuple(r) if len(key_cols) > 1 else r[0] for r in conn.execute(select(*key_cols))]
    gone = [k for k in gone if k not in keep]
    for start in range(0, len(gone), CHUNK):
        part = gone[start : start + CHUNK]
        if spec.name == "accounts":
            for child in _ACCOUNT_CHILDREN:
                conn.execute(delete(child).where(child.c.account_id.in_(part)))
        expr = key_cols[0] if len(key_cols) == 1 else tuple_(*key_cols)
        conn.execute(delete(t).where(expr.in_(part)))
    return len(gone)


def _sqlite_bulk_pragmas(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size=-65536")  # 64 MB page cache for the bulk load
        conn.exec_driver_sql("PRAGMA temp_store=MEMORY")


def run_sync(
    engine: Engine,
    source: CsvSource | SqlSource,
    *,
    settings: Settings,
    full_refresh: bool = False,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> SyncSummary:
    """Load every contract table the source has, in one transaction. Never raises for bad
    input or an unreachable database: the summary's status is "failed" with a one-line message."""
    clock = time.monotonic()
    started = _utcnow()
    described = source.describe()
    try:
        plan = source.files()
    except SourceError as exc:
        return _failed(engine, described, started, clock, str(exc))
    try:
        holder, holding = _acquire_lock(engine, described)
    except SQLAlchemyError as exc:
        return SyncSummary(None, "failed", seconds=time.monotonic() - clock, source=described,
                           message=f"cannot use the database at {safe_url(str(engine.url))}: {_first_line(exc)}")
    if holder is None:
        assert holding is not None
        return SyncSummary(
            None,
            "busy",
            seconds=time.monotonic() - clock,
            source=described,
            message=(
                f"another sync is running (pid {holding.pid} on {holding.host}, since "
                f"{holding.acquired_at:%Y-%m-%d %H:%M} UTC); try again when it has finished"
            ),
        )
    try:
        return _run_locked(engine, source, plan, described, settings, full_refresh, progress, dry_run, started, clock)
    except SyncFailed as exc:
        return _failed(engine, described, started, clock, str(exc))
    except SQLAlchemyError as exc:
        return _failed(engine, described, started, clock, f"database error: {_first_line(exc)}")
    except Exception as exc:  # noqa: BLE001 - a run must end with a summary, never a traceback
        logger.exception("sync failed")
        return _failed(engine, described, started, clock, f"unexpected error: {type(exc).__name__}: {_first_line(exc)}")
    finally:
        _release_lock(engine, holder)
        if isinstance(source, SqlSource):
            source.dispose()


def _run_locked(engine, source, plan, described, settings, full_refresh, progress, dry_run, started, clock) -> SyncSummary:
    tables: list[TableCounts] = []
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            _sqlite_bulk_pragmas(conn)
            sync_id = conn.execute(
                insert(schema.sync_log).values(source=described[:1024], started_at=started, status="running")
            ).inserted_primary_key[0]
            run = _Run(conn, sync_id, settings.tz, full_refresh, progress)
            run.reload_accounts()
            for table in LOAD_ORDER:
                if table not in plan:
                    continue
                try:
                    with source.open(table, plan[table]) as stream:
                        problem = _header_problem(table, stream)
                        if problem is not None:
                            column, reason = problem
                            run.reject(table, stream.label, 1 if isinstance(source, CsvSource) else None, column, reason, None)
                            tables.append(TableCounts(table=table, file=stream.label, refused=reason))
                            continue
                        if table == "events":
                            ev = load_events(conn, stream, run)
                            tables.append(
                                TableCounts(table="events", file=stream.label, read=ev.read, inserted=ev.taken,
                                            unchanged=ev.skipped, rejected=ev.rejected)
                            )
                        else:
                            tables.append(_load_table(conn, TABLE_SPECS[table], stream, run))
                            if table == "accounts":
                                run.reload_accounts()
                except UnicodeDecodeError as exc:
                    raise SyncFailed(f"{_label(plan[table])}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
                except csv.Error as exc:
                    raise SyncFailed(f"{_label(plan[table])}: broken CSV ({exc}); check quoting near the end of the loaded part") from None
                except (OSError, EOFError) as exc:
                    raise SyncFailed(f"{_label(plan[table])}: cannot read ({exc})") from None
                except SourceError as exc:
                    raise SyncFailed(str(exc)) from None
            run.flush_rejected()
            rejected = sum(t.rejected for t in tables)
            refused = [f"{t.file} refused: {t.refused}" for t in tables if t.refused]
            summary = SyncSummary(
                sync_id=sync_id,
                status="dry-run" if dry_run else "ok",
                tables=tuple(tables),
                rejected=rejected,
                seconds=time.monotonic() - clock,
                message="; ".join(refused),
                source=described,
            )
            _load_derived()
            for hook in list(AFTER_SYNC_HOOKS):
                try:
                    hook(conn, summary)
                except SQLAlchemyError:
                    raise
                except Exception as exc:
                    name = getattr(hook, "__qualname__", repr(hook))
                    logger.exception("after-sync hook %s failed", name)
                    raise SyncFailed(f"after-sync step {name} failed: {_first_line(exc)}") from None
            summary = replace(summary, seconds=time.monotonic() - clock)
            conn.execute(
                update(schema.sync_log)
                .where(schema.sync_log.c.sync_id == sync_id)
                .values(
                    finished_at=_utcnow(),
                    status="ok",
                    rows_in=summary.rows_in,
                    rows_changed=summary.rows_changed,
                    rows_rejected=summary.rejected,
                    message=summary.message or None,
                    details={t.table: _counts_json(t) for t in tables},
                )
            )
            if dry_run:
                trans.rollback()
            else:
                trans.commit()
            return summary
        except BaseException:
            if trans.is_active:
                trans.rollback()
            raise


def _label(target: Any) -> str:
    return target.name if isinstance(target, Path) else f"query {getattr(target, 'table', target)}"


def _counts_json(t: TableCounts) -> dict:
    return {
        "file": t.file,
        "read": t.read,
        "inserted": t.inserted,
        "updated": t.updated,
        "unchanged": t.unchanged,
        "rejected": t.rejected,
        "deleted": t.deleted,
        "refused": t.refused,
    }


def _failed(engine: Engine, described: str, started: datetime, clock: float, message: str) -> SyncSummary:
    message = " ".join(message.split())  # one line
    sync_id = None
    try:
        with engine.begin() as conn:
            sync_id = conn.execute(
                insert(schema.sync_log).values(
                    source=described[:1024], started_at=started, finished_at=_utcnow(), status="failed", message=message
                )
            ).inserted_primary_key[0]
    except SQLAlchemyError as exc:
        logger.warning("could not log the failed sync: %s", _first_line(exc))
    logger.warning("sync failed: %s", message)
    return SyncSummary(sync_id, "failed", seconds=time.monotonic() - clock, message=message, source=described)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# --------------------------------------------------------------------------- lock


def _lock_ttl() -> timedelta:
    raw = os.environ.get("CSBOT_SYNC_LOCK_TTL_MINUTES", "").strip()
    try:
        minutes = float(raw) if raw else DEFAULT_LOCK_TTL_MINUTES
    except ValueError:
        minutes = DEFAULT_LOCK_TTL_MINUTES
    return timedelta(minutes=max(minutes, 1.0))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _lock_info(row) -> LockInfo:
    return LockInfo(host=row.host, pid=row.pid, source=row.source, acquired_at=row.acquired_at.replace(tzinfo=timezone.utc))


def _is_stale(row, now: datetime) -> bool:
    if row.host == socket.gethostname() and not _process_alive(row.pid):
        return True
    return row.acquired_at < now - _lock_ttl()


def _acquire_lock(engine: Engine, described: str) -> tuple[str | None, LockInfo | None]:
    """(holder, None) when this process now holds the lock; (None, who holds it) otherwise.
    A lock left by a dead process (same host) or older than the TTL is taken over."""
    lock = schema.sync_lock
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    mine = dict(holder=holder, host=socket.gethostname()[:255], pid=os.getpid(), source=described[:1024])
    now = _utcnow()
    try:
        with engine.begin() as conn:
            row = conn.execute(select(lock).where(lock.c.name == LOCK_NAME)).first()
            if row is None:
                conn.execute(insert(lock).values(name=LOCK_NAME, acquired_at=now, **mine))
                return holder, None
            if not _is_stale(row, now):
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


def _release_lock(engine: Engine, holder: str | None) -> None:
    if holder is None:
        return
    try:
        with engine.begin() as conn:
            conn.execute(delete(schema.sync_lock).where(schema.sync_lock.c.holder == holder))
    except SQLAlchemyError as exc:
        logger.warning("could not release the sync lock: %s", _first_line(exc))


# --------------------------------------------------------------------------- status


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def sync_status(engine: Engine, limit: int = 5, rejected_limit: int = 20) -> SyncStatus:
    log, rej, lock = schema.sync_log, schema.rejected_rows, schema.sync_lock
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
        holder = conn.execute(select(lock).where(lock.c.name == LOCK_NAME)).first()
    running = None
    if holder is not None and not _is_stale(holder, _utcnow()):
        running = _lock_info(holder)
    runs = tuple(
        SyncRun(
            sync_id=r.sync_id,
            source=r.source,
            started_at=_aware(r.started_at),
            finished_at=_aware(r.finished_at),
            status=r.status,
            rows_in=r.rows_in or 0,
            rows_changed=r.rows_changed or 0,
            rows_rejected=r.rows_rejected or 0,
            message=r.message,
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


# --------------------------------------------------------------------------- schedule


def source_from_env(env: Mapping[str, str] | None = None) -> CsvSource | SqlSource | None:
    """The source of scheduled (and argument-less) syncs:
    ``CSBOT_SYNC_CSV_DIR``, or ``CSBOT_SYNC_SQL_URL`` + ``CSBOT_SYNC_MAPPING``. None when unset."""
    env = os.environ if env is None else env
    csv_dir = (env.get("CSBOT_SYNC_CSV_DIR") or "").strip()
    sql_url = (env.get("CSBOT_SYNC_SQL_URL") or "").strip()
    mapping = (env.get("CSBOT_SYNC_MAPPING") or "").strip()
    if csv_dir and sql_url:
        raise SourceError("set CSBOT_SYNC_CSV_DIR or CSBOT_SYNC_SQL_URL, not both")
    if csv_dir:
        return CsvSource(Path(csv_dir).expanduser())
    if sql_url:
        if not mapping:
            raise SourceError("CSBOT_SYNC_SQL_URL needs CSBOT_SYNC_MAPPING (a TOML file with one query per table)")
        return SqlSource.from_mapping(sql_url, mapping)
    return None


def next_run_after(schedule: str, after: datetime) -> datetime:
    """The next time the cron expression ``schedule`` fires after ``after`` (same tz as ``after``)."""
    from croniter import croniter

    if not croniter.is_valid(schedule):
        raise ValueError(f"CSBOT_SYNC_SCHEDULE: {schedule!r} is not a cron expression (e.g. '0 6 * * *' for 06:00 daily)")
    return croniter(schedule, after).get_next(datetime)


def scheduled_sync(settings: Settings) -> SyncSummary | None:
    """One sync for the bot's scheduler. None when no source is configured or another
    sync is running (never two at once, across processes)."""
    try:
        source = source_from_env()
    except SourceError as exc:
        logger.error("scheduled sync not run: %s", exc)
        return None
    if source is None:
        logger.warning("CSBOT_SYNC_SCHEDULE is set but no source: set CSBOT_SYNC_CSV_DIR or CSBOT_SYNC_SQL_URL")
        return None
    try:
        engine = make_engine(settings.effective_database_url)
        init_schema(engine)
    except DatabaseUnavailable as exc:
        logger.error("scheduled sync not run: %s", exc)
        return SyncSummary(None, "failed", message=str(exc), source=source.describe())
    try:
        full = os.environ.get("CSBOT_SYNC_FULL_REFRESH", "").strip().lower() in ("1", "true", "yes")
        summary = run_sync(engine, source, settings=settings, full_refresh=full)
    finally:
        engine.dispose()
    if summary.status == "busy":
        logger.info("scheduled sync skipped: %s", summary.message)
        return None
    logger.info("scheduled sync %s: %s rows in, %s changed, %s rejected", summary.status, summary.rows_in,
                summary.rows_changed, summary.rejected)
    return summary


# --------------------------------------------------------------------------- CLI


class _TtyProgress:
    """Rows and rows/s on one carriage-return-updated line of stderr."""

    def __init__(self, stream):
        self.stream = stream
        self.last = 0.0
        self.table = None

    def __call__(self, table: str, rows: int, seconds: float) -> None:
        now = time.monotonic()
        if table == self.table and now - self.last < 0.2:
            return
        self.last, self.table = now, table
        rate = rows / seconds if seconds > 0 else 0.0
        self.stream.write(f"\r  {table:<13} {rows:>12,} rows  {rate:>10,.0f} rows/s ")
        self.stream.flush()

    def done(self) -> None:
        if self.table is not None:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


def format_summary(summary: SyncSummary) -> str:
    head = f"{'table':<14}{'read':>11}{'inserted':>11}{'updated':>10}{'unchanged':>11}{'rejected':>10}"
    lines = [head]
    for t in summary.tables:
        if t.refused:
            lines.append(f"{t.table:<14}  refused: {t.refused}")
            continue
        lines.append(f"{t.table:<14}{t.read:>11,}{t.inserted:>11,}{t.updated:>10,}{t.unchanged:>11,}{t.rejected:>10,}")
        if t.deleted:
            lines.append(f"{'':<14}  {t.deleted:,} deleted (not in this full export)")
    events = summary.table("events")
    if events is not None and not events.refused:
        lines.append("(events: inserted = newly counted into usage_daily, unchanged = already synced before)")
    done = "dry run, nothing saved" if summary.status == "dry-run" else f"sync #{summary.sync_id}"
    lines.append(f"{summary.rows_in:,} rows read in {summary.seconds:.1f} s ({done})")
    if summary.rejected:
        lines.append(f"{summary.rejected:,} rows rejected: see `csbot sync --status` for file, line and reason")
    return "\n".join(lines)


def format_status(status: SyncStatus, tz: ZoneInfo, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    lines = []
    if status.last_success is None:
        lines.append("No successful sync yet.")
    else:
        hours = status.hours_since_success(now)
        local = status.last_success.astimezone(tz)
        lines.append(f"Last successful sync: {local:%Y-%m-%d %H:%M} {local.tzname()} ({hours:.1f} h ago)")
    if status.running is not None:
        r = status.running
        lines.append(f"A sync is running now (pid {r.pid} on {r.host}, since {r.acquired_at.astimezone(tz):%H:%M}).")
    if status.runs:
        lines.append("")
        lines.append(f"{'#':>5}  {'started':<17} {'status':<8}{'rows in':>10}{'changed':>10}{'rejected':>10}  source")
        for run in status.runs:
            started = run.started_at.astimezone(tz)
            lines.append(
                f"{run.sync_id:>5}  {started:%Y-%m-%d %H:%M} {run.status:<8}{run.rows_in:>10,}{run.rows_changed:>10,}"
                f"{run.rows_rejected:>10,}  {run.source}"
            )
            if run.status == "failed" and run.message:
                lines.append(f"{'':>7}{run.message}")
    if status.rejected_total:
        lines.append("")
        lines.append(f"Rejected rows of the last successful sync ({status.rejected_total:,}):")
        for r in status.rejected:
            where = f"{r.file or r.table}" + (f":{r.line}" if r.line is not None else "")
            col = f" [{r.column}]" if r.column else ""
            lines.append(f"  {where}{col}: {r.reason}")
        if status.rejected_total > len(status.rejected):
            lines.append(f"  ... and {status.rejected_total - len(status.rejected):,} more (table rejected_rows)")
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line + exit code 2, without argparse's usage dump
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="csbot sync",
        description="Copy your data into csbot's database (see the data contract).",
        epilog="Without --csv/--sql, the source comes from CSBOT_SYNC_CSV_DIR or CSBOT_SYNC_SQL_URL + CSBOT_SYNC_MAPPING.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--csv", metavar="DIR", help="folder with accounts.csv, subscriptions.csv, events.csv ... (.csv or .csv.gz)")
    src.add_argument("--sql", metavar="URL", help="SQLAlchemy URL of the source database (needs --mapping)")
    src.add_argument("--status", action="store_true", help="show the last runs, freshness and rejected rows")
    p.add_argument("--mapping", metavar="FILE.toml", help="one query per table for --sql")
    p.add_argument("--full-refresh", action="store_true", help="delete rows that are missing from this export")
    p.add_argument("--dry-run", action="store_true", help="check and count everything, save nothing")
    return p


def cli(argv: list[str], settings: Settings) -> int:
    """``csbot sync ...``: 0 ok, 1 the run failed, 2 usage error."""
    out, err = sys.stdout, sys.stderr
    try:
        args = _parser().parse_args(argv)
    except _UsageError as exc:
        print(f"csbot sync: {exc} (see csbot sync --help)", file=err)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    if args.status and (args.full_refresh or args.dry_run or args.mapping):
        print("csbot sync: --status takes no other option", file=err)
        return 2
    if args.mapping and not args.sql:
        print("csbot sync: --mapping goes with --sql URL", file=err)
        return 2
    if args.sql and not args.mapping:
        print("csbot sync: --sql needs --mapping FILE.toml (one query per table)", file=err)
        return 2
    try:
        engine = make_engine(settings.effective_database_url)
        init_schema(engine)
    except DatabaseUnavailable as exc:
        print(f"csbot sync: {exc}", file=err)
        return 1
    try:
        if args.status:
            try:
                print(format_status(sync_status(engine), settings.tz), file=out)
            except SQLAlchemyError as exc:
                print(f"csbot sync: cannot read the sync log: {_first_line(exc)}", file=err)
                return 1
            return 0
        try:
            if args.csv:
                source: CsvSource | SqlSource | None = CsvSource(Path(args.csv).expanduser())
            elif args.sql:
                source = SqlSource.from_mapping(args.sql, args.mapping)
            else:
                source = source_from_env()
        except SourceError as exc:
            print(f"csbot sync: {exc}", file=err)
            return 1
        if source is None:
            print("csbot sync: give --csv DIR or --sql URL --mapping FILE.toml (or set CSBOT_SYNC_CSV_DIR)", file=err)
            return 2
        progress = _TtyProgress(err) if err.isatty() else None
        print(f"Syncing {source.describe()} into {safe_url(settings.effective_database_url)}", file=err)
        summary = run_sync(engine, source, settings=settings, full_refresh=args.full_refresh, progress=progress,
                           dry_run=args.dry_run)
        if progress is not None:
            progress.done()
        if summary.status in ("failed", "busy"):
            print(f"csbot sync: {summary.message}", file=err)
            return 1
        print(format_summary(summary), file=out)
        if summary.message:
            print(f"warning: {summary.message}", file=err)
        return 0
    finally:
        engine.dispose()
