"""One sync run: the transaction, the table loaders and what a run reports.

``run_sync(engine, source, settings=..., after=...)`` loads every contract table
the source has in one transaction: the sync log row, every table, the rejected
rows and the after-sync steps commit together or not at all (a killed run
leaves the database as it was). A failed run is then logged as failed in a
transaction of its own. At most one sync runs at a time, across processes
(``metrics.sync.lock``).

The after-sync steps are the caller's: callables ``step(conn, summary)`` run
inside the transaction once every table is loaded (``metrics.derived`` lists
the ones that keep derived state up to date). Without steps nothing else runs.
"""

from __future__ import annotations

import csv
import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from metrics import schema
from metrics.clock import naive_utc
from metrics.db import safe_url
from metrics.settings import Settings
from metrics.sync.errors import SourceError, SyncFailed, first_line
from metrics.sync.events import load_events
from metrics.sync.lock import acquire_lock, release_lock
from metrics.sync.sources import CsvSource, RowStream, SqlSource
from metrics.sync.tables import (
    ACCOUNT_CHILDREN,
    LOAD_ORDER,
    TABLE_SPECS,
    TableSpec,
    header_problem,
)
from metrics.sync.values import BadValue, is_empty, timestamp_parser

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, float], None]  # (table, rows read so far, seconds since the table started)

CHUNK = 500  # rows compared against the database per query
REJECT_BATCH = 1000


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
    late: int = 0  # events only, of ``unchanged``: timed before what earlier syncs covered, not counted

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


AfterSync = Callable[[Connection, SyncSummary], None]  # an after-sync step, run inside the sync's transaction


# --------------------------------------------------------------------------- one run


class RunState:
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


def _load_table(conn: Connection, spec: TableSpec, stream: RowStream, run: RunState) -> TableCounts:
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


def _delete_missing(conn: Connection, spec: TableSpec, keep: set) -> int:
    """Full refresh: rows whose key is not in this export go (with an account, its rows elsewhere)."""
    t = spec.table
    key_cols = [t.c[k] for k in spec.key]
    gone = [tuple(r) if len(key_cols) > 1 else r[0] for r in conn.execute(select(*key_cols))]
    gone = [k for k in gone if k not in keep]
    for start in range(0, len(gone), CHUNK):
        part = gone[start : start + CHUNK]
        if spec.name == "accounts":
            for child in ACCOUNT_CHILDREN:
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
    after: Sequence[AfterSync] = (),
    now: datetime | None = None,
) -> SyncSummary:
    """Load every contract table the source has, then run the ``after`` steps, in one transaction.
    Never raises for bad input or an unreachable database: the summary's status is "failed" with a
    one-line message ("busy" when another sync holds the lock)."""
    clock = time.monotonic()
    started = naive_utc(now)  # the run's "now" (the entry point's clock): no event may be later than a day after it
    described = source.describe()
    try:
        plan = source.files()
    except SourceError as exc:
        return _failed(engine, described, started, clock, str(exc))
    try:
        holder, holding = acquire_lock(engine, described, ttl=timedelta(minutes=settings.sync_lock_ttl_minutes),
                                       now=started)
    except SQLAlchemyError as exc:
        return SyncSummary(None, "failed", seconds=time.monotonic() - clock, source=described,
                           message=f"cannot use the database at {safe_url(str(engine.url))}: {first_line(exc)}")
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
        return _run_locked(engine, source, plan, described, settings, full_refresh, progress, dry_run, tuple(after),
                           started, clock)
    except SyncFailed as exc:
        return _failed(engine, described, started, clock, str(exc))
    except SQLAlchemyError as exc:
        return _failed(engine, described, started, clock, f"database error: {first_line(exc)}")
    except Exception as exc:  # noqa: BLE001 - a run must end with a summary, never a traceback
        logger.exception("sync failed")
        return _failed(engine, described, started, clock, f"unexpected error: {type(exc).__name__}: {first_line(exc)}")
    finally:
        release_lock(engine, holder)
        if isinstance(source, SqlSource):
            source.dispose()


def _run_locked(engine: Engine, source: CsvSource | SqlSource, plan: dict, described: str, settings: Settings,
                full_refresh: bool, progress: Progress | None, dry_run: bool, after: tuple[AfterSync, ...],
                started: datetime, clock: float) -> SyncSummary:
    tables: list[TableCounts] = []
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            _sqlite_bulk_pragmas(conn)
            sync_id = conn.execute(
                insert(schema.sync_log).values(source=described[:1024], started_at=started, status="running")
            ).inserted_primary_key[0]
            run = RunState(conn, sync_id, settings.tz, full_refresh, progress)
            run.reload_accounts()
            for table in LOAD_ORDER:
                if table not in plan:
                    continue
                try:
                    with source.open(table, plan[table]) as stream:
                        problem = header_problem(table, stream.header)
                        if problem is not None:
                            column, reason = problem
                            run.reject(table, stream.label, 1 if isinstance(source, CsvSource) else None, column, reason, None)
                            tables.append(TableCounts(table=table, file=stream.label, refused=reason))
                            continue
                        if table == "events":
                            ev = load_events(conn, stream, run, started)
                            tables.append(
                                TableCounts(table="events", file=stream.label, read=ev.read, inserted=ev.taken,
                                            unchanged=ev.skipped, rejected=ev.rejected, late=ev.late)
                            )
                        else:
                            tables.append(_load_table(conn, TABLE_SPECS[table], stream, run))
                            if table == "accounts":
                                run.reload_accounts()
                except UnicodeDecodeError as exc:
                    raise SyncFailed(f"{_label(plan[table])}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                                     "save it as UTF-8") from None
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
            for step in after:
                try:
                    step(conn, summary)
                except SQLAlchemyError:
                    raise
                except Exception as exc:
                    name = getattr(step, "__name__", type(step).__name__)
                    logger.exception("after-sync step %s failed", name)
                    raise SyncFailed(f"after-sync step {name} failed: {first_line(exc)}") from None
            summary = replace(summary, seconds=time.monotonic() - clock)
            conn.execute(
                update(schema.sync_log)
                .where(schema.sync_log.c.sync_id == sync_id)
                .values(
                    finished_at=naive_utc(),
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
        "late": t.late,
    }


def _failed(engine: Engine, described: str, started: datetime, clock: float, message: str) -> SyncSummary:
    message = " ".join(message.split())  # one line
    sync_id = None
    try:
        with engine.begin() as conn:
            sync_id = conn.execute(
                insert(schema.sync_log).values(
                    source=described[:1024], started_at=started, finished_at=naive_utc(), status="failed", message=message
                )
            ).inserted_primary_key[0]
    except SQLAlchemyError as exc:
        logger.warning("could not log the failed sync: %s", first_line(exc))
    logger.warning("sync failed: %s", message)
    return SyncSummary(sync_id, "failed", seconds=time.monotonic() - clock, message=message, source=described)
