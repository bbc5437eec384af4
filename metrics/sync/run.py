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

A full refresh removes, per table whose file is in the export, the stored rows
whose key the export does not hold. A row read but rejected still counts as
seen; a rejected row whose key cannot be read, or a removal of more than
``Settings.sync_max_delete_share`` of a table, fails the run (nothing changes)
unless it is forced. What went is counted per table, and what went with the
removed accounts (their subscriptions, usage ...) per child table.

One bad value costs at most its row: an optional value that cannot be read is
dropped (left empty, reported) and the row kept, a rejected row does not claim
its key (a corrected row after it loads), and a field too large to store or
holding a NUL character rejects only its row.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Sequence

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Table,
    any_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import SQLAlchemyError

from metrics import schema
from metrics.clock import naive_utc
from metrics.db import file_in_use, planned_each_time, safe_url, scrub
from metrics.settings import Settings
from metrics.sync.errors import SourceError, SyncFailed, first_line
from metrics.sync.events import load_events
from metrics.sync.lock import acquire_lock, release_lock
from metrics.sync.sources import CsvSource, RowStream, SqlSource
from metrics.sync.state import Progress, RunState
from metrics.sync.tables import (
    ACCOUNT_CHILDREN,
    LOAD_ORDER,
    TABLE_SPECS,
    TableSpec,
    header_problem,
    unknown_columns,
)
from metrics.sync.values import BadValue, CellError, is_empty, timestamp_parser

logger = logging.getLogger(__name__)

CHUNK = 500  # rows compared against the database per query
MAX_FIELD = 16 * 1024 * 1024  # characters one value may hold; a longer one rejects its row


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
    deleted: int = 0  # full refresh: stored rows not in this export, removed
    refused: str | None = None  # why the whole file was not loaded
    dropped: int = 0  # optional values that could not be read: left empty, their rows kept
    cascaded: tuple[tuple[str, int], ...] = ()  # (table, rows) removed with the deleted accounts
    unknown_columns: tuple[str, ...] = ()  # header columns not in the contract
    kept_unknown: bool = False  # ... kept (as custom attributes of accounts) rather than ignored
    late: int = 0  # events only, of ``unchanged``: timed before what earlier syncs covered, not counted

    @property
    def changed(self) -> int:
        return self.inserted + self.updated + self.deleted + sum(n for _, n in self.cascaded)


@dataclass(frozen=True)
class SyncSummary:
    sync_id: int | None
    status: str  # ok | failed | busy | dry-run
    tables: tuple[TableCounts, ...] = ()
    rejected: int = 0
    seconds: float = 0.0
    message: str = ""
    source: str = ""
    full_refresh: bool = False

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


@dataclass
class _Held:
    """A row kept without the optional values it could not read, until the file ends: a later,
    clean row with the same key replaces it."""

    line: int
    values: dict
    row: Any
    dropped: list[tuple[str, str]]  # (column, reason)


def _unstorable(value: Any) -> str | None:
    """Why a raw value cannot be stored at all (too large, or a NUL that PostgreSQL refuses)."""
    if isinstance(value, str):
        if len(value) > MAX_FIELD:
            return f"value of {len(value):,} characters; a field holds at most {MAX_FIELD:,}"
        if "\x00" in value:
            return "contains a NUL character (\\x00); remove it from the export"
    return None


def _suspect(row: Sequence[Any]) -> bool:
    """Whether a value of ``row`` may be unstorable (one C-speed look at the whole row)."""
    try:
        joined = "".join(row)
    except TypeError:  # not all text (a SQL or Parquet source): look at each value
        return any(_unstorable(value) for value in row)
    return len(joined) > MAX_FIELD or "\x00" in joined


def _load_table(conn: Connection, spec: TableSpec, stream: RowStream, run: RunState) -> TableCounts:
    t = spec.table
    header = stream.header
    idx: dict[str, int] = {}
    for i, name in enumerate(header):
        idx.setdefault(name, i)
    ts = timestamp_parser(run.tz)
    droppable = {c.name for c in spec.columns if c.droppable and not c.required and c.name not in spec.key}
    present = [(c.name, idx[c.name], c.parse or ts, c.required, c.name in droppable)
               for c in spec.columns if c.name in idx]
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
    counts = dict(read=0, inserted=0, updated=0, unchanged=0, rejected=0, deleted=0, dropped=0)
    first_line_of: dict[Any, int] = {}  # key -> line of the row loaded for it
    held: dict[Any, _Held] = {}  # key -> a row kept without a value it could not read
    seen: set = set()  # every key this file holds, its row loaded or rejected
    keyless = 0  # rejected rows whose key cannot be read
    chunk: list[dict] = []
    key_parts = set(key_cols) | ({"account_id", "product", "start_date"} if spec.optional_key_column else set())
    key_parsers = [(name, i, parse) for name, i, parse, *_ in present if name in key_parts]

    upd = None
    if value_cols:
        upd = (
            update(t)
            .where(*[t.c[k] == bindparam(f"k_{k}") for k in key_cols])
            .values({c: bindparam(f"v_{c}") for c in value_cols})
        )

    single = key_cols[0] if len(key_cols) == 1 and not spec.optional_key_column else None

    def key_of(values: dict) -> Any:
        if single is not None:
            return values.get(single)
        if spec.optional_key_column and not values.get(spec.optional_key_column):
            parts = [values.get(c) for c in ("account_id", "product", "start_date")]
            values[spec.optional_key_column] = "|".join(str(p) for p in parts) if all(parts) else None
        key = tuple(values.get(k) for k in key_cols)
        if any(k is None for k in key):
            return None
        return key[0] if len(key_cols) == 1 else key

    def key_of_raw(row) -> Any:
        """The key of a row rejected before its values were read, when its key columns can be read."""
        values: dict[str, Any] = {}
        for name, i, parse in key_parsers:
            raw = row[i] if i < len(row) else None
            if is_empty(raw) or _unstorable(raw):
                continue
            try:
                values[name] = parse(raw)
            except BadValue:
                pass
        return key_of(values)

    copying = conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"
    if copying and len(key_cols) == 1:  # one array parameter: no statement of 500 placeholders to build and parse
        lookup = select(*[t.c[c] for c in stored]).where(
            t.c[key_cols[0]] == any_(bindparam("keys", type_=ARRAY(t.c[key_cols[0]].type))))
    else:
        lookup = None

    def write(rows: list[dict]) -> None:
        keys = [key_of(r) for r in rows]
        key_expr = t.c[key_cols[0]] if len(key_cols) == 1 else tuple_(*[t.c[k] for k in key_cols])
        existing: dict[Any, tuple] = {}
        with planned_each_time(conn):
            if lookup is not None:
                found_rows = conn.execute(lookup, {"keys": keys}).all()
            else:
                found_rows = conn.execute(select(*[t.c[c] for c in stored]).where(key_expr.in_(keys))).all()
        for found in found_rows:
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
            if copying:
                copy_rows(conn, t, stored, inserts)
            else:
                conn.execute(insert(t), inserts)
            counts["inserted"] += len(inserts)
        if updates and upd is not None:
            conn.execute(upd, updates)
            counts["updated"] += len(updates)

    def reject(line: int, column: str | None, reason: str, row) -> None:
        counts["rejected"] += 1
        run.reject(spec.name, stream.label, line, column, reason, row)

    def take(values: dict, row) -> None:
        nonlocal chunk
        if extras:
            # a spreadsheet formula error (#N/A) in a custom column is no value: it is not kept
            attrs = {name: _jsonable(row[i]) for i, name in extras
                     if not is_empty(row[i]) and not isinstance(row[i], CellError)}
            values["attributes"] = attrs or None
        chunk.append(values)
        if len(chunk) >= CHUNK:
            write(chunk)
            chunk = []
            run.report(spec.name, counts["read"], time.monotonic() - started)

    prev = stream.first_line
    reader = stream.reader
    for row in stream.rows:
        line = prev + 1
        prev = reader.line_num
        if not row:
            continue
        counts["read"] += 1
        problem: tuple[str | None, str] | None = None
        values: dict[str, Any] = {}
        dropped: list[tuple[str, str]] = []
        if len(row) != width:
            problem = (None, f"{len(row)} values but the header has {width} columns")
        elif _suspect(row):
            for j, raw in enumerate(row):
                why = _unstorable(raw)
                if why is not None:
                    problem = (header[j], why)
                    break
        if problem is not None:
            key = key_of_raw(row)
        else:
            for name, i, parse, required, may_drop in present:
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
                    if may_drop:
                        dropped.append((name, str(exc)))
                    elif problem is None:
                        problem = (name, str(exc))
            key = key_of(values)
            if problem is None and key is not None:
                first = first_line_of.get(key, held[key].line if dropped and key in held else None)
                if first is not None:
                    shown = key if not isinstance(key, tuple) else ", ".join(map(str, key))
                    problem = (key_cols[-1] if len(key_cols) > 1 else key_cols[0],
                               f"duplicate key {shown!r} in this file (first on line {first})")
            if problem is None and spec.references_accounts and values["account_id"] not in run.known_accounts:
                problem = ("account_id", f"unknown account {values['account_id']!r} (not in accounts)")
            if problem is None:
                for later, earlier, column in spec.checks:
                    if values.get(later) is not None and values.get(earlier) is not None and values[later] < values[earlier]:
                        problem = (column, f"{later} {values[later]} is before {earlier} {values[earlier]}")
                        break
        if problem is not None:
            reject(line, problem[0], problem[1], row)
            if key is None:
                keyless += 1
            else:
                seen.add(key)
            continue
        seen.add(key)
        if dropped:
            held[key] = _Held(line, values, row, dropped)
            continue
        replaced = held.pop(key, None)
        if replaced is not None:
            column, reason = replaced.dropped[0]
            reject(replaced.line, column, f"{reason}; replaced by the row on line {line}", replaced.row)
        first_line_of[key] = line
        take(values, row)
    for key, kept in held.items():
        for column, reason in kept.dropped:
            counts["dropped"] += 1
            run.reject(spec.name, stream.label, kept.line, column,
                       f"{reason}; the field was dropped (left empty), the row kept", kept.row)
        take(kept.values, kept.row)
    if chunk:
        write(chunk)
    run.report(spec.name, counts["read"], time.monotonic() - started)
    cascaded: tuple[tuple[str, int], ...] = ()
    if run.full_refresh:
        counts["deleted"], cascaded = _delete_missing(conn, spec, stream.label, seen, keyless, counts["rejected"], run)
    unknown = unknown_columns(spec.name, header)
    return TableCounts(table=spec.name, file=stream.label, cascaded=cascaded, unknown_columns=unknown,
                       kept_unknown=bool(unknown) and spec.extra_to_attributes, **counts)


def copy_rows(conn: Connection, table: Table, columns: Sequence[str], rows: list[dict]) -> None:
    """Insert ``rows`` (dicts holding ``columns``) with PostgreSQL's COPY (psycopg 3), inside the
    connection's transaction: no statement to build or parse, unlike one INSERT of many placeholders
    (the sync's 500-row chunks went 3x slower that way). A JSON column's value is written as JSON text,
    None as NULL, as an INSERT stores them."""
    as_json = {c for c in columns if isinstance(table.c[c].type, JSON)}
    names = ", ".join(f'"{c}"' for c in columns)
    with conn.connection.dbapi_connection.cursor() as cur:
        with cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            if as_json:
                for r in rows:
                    copy.write_row([json.dumps(r.get(c)) if c in as_json and r.get(c) is not None else r.get(c)
                                    for c in columns])
            else:
                for r in rows:
                    copy.write_row([r.get(c) for c in columns])


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)):
        return value.strip() if isinstance(value, str) else value
    return str(value)


def _refusal(label: str, table: str, gone: int, total: int, share: float, rejected: int) -> str:
    """The one line of a full refresh that would remove too much."""
    check = (f"check the export ({rejected:,} of its rows were rejected: a sync without --full-refresh loads the "
             "rest and lists them)" if rejected else "check the export")
    return (f"{label}: a full refresh would remove {gone:,} of the {total:,} rows of {table} ({gone / total:.0%}; "
            f"at most {share * 100:g}% without --force, CSBOT_SYNC_MAX_DELETE_SHARE); nothing was changed. "
            f"{check[0].upper()}{check[1:]}, or run `csbot sync --full-refresh --force` to remove them")


def _delete_missing(conn: Connection, spec: TableSpec, label: str, seen: set, keyless: int, rejected: int,
                    run: RunState) -> tuple[int, tuple[tuple[str, int], ...]]:
    """Full refresh: rows whose key this export does not hold go (with an account, its rows elsewhere).
    Returns (rows removed, (child table, rows removed with them) ...); raises ``SyncFailed`` rather than
    remove what it cannot be sure of, unless forced."""
    t = spec.table
    key_cols = [t.c[k] for k in spec.key]
    stored = [tuple(r) if len(key_cols) > 1 else r[0] for r in conn.execute(select(*key_cols))]
    gone = [k for k in stored if k not in seen]
    if not gone:
        return 0, ()
    if not run.force:
        if keyless:
            rows, have = ("row has", "it stands") if keyless == 1 else ("rows have", "they stand")
            names = " and ".join(spec.key) if not spec.optional_key_column else "subscription_id (or account_id, product and start_date)"
            raise SyncFailed(
                f"{label}: {keyless:,} rejected {rows} no readable {names}, so a full refresh cannot tell which "
                f"stored rows {have} for; nothing was changed. Fix {'it' if keyless == 1 else 'them'} (a sync "
                f"without --full-refresh loads the rest and lists the rejected rows), or run "
                f"`csbot sync --full-refresh --force` to remove the {len(gone):,} rows not in the export"
            )
        if len(gone) > run.max_delete_share * len(stored):
            raise SyncFailed(_refusal(label, spec.name, len(gone), len(stored), run.max_delete_share, rejected))
    removed: dict[str, int] = {}
    for start in range(0, len(gone), CHUNK):
        part = gone[start : start + CHUNK]
        if spec.name == "accounts":
            for child in ACCOUNT_CHILDREN:
                n = conn.execute(delete(child).where(child.c.account_id.in_(part))).rowcount
                removed[child.name] = removed.get(child.name, 0) + max(n or 0, 0)
        expr = key_cols[0] if len(key_cols) == 1 else tuple_(*key_cols)
        conn.execute(delete(t).where(expr.in_(part)))
    return len(gone), tuple((name, n) for name, n in removed.items() if n)


USAGE_BEFORE = "csbot_usage_before_refresh"


def _usage_keys_before(conn: Connection) -> int:
    """Full refresh of events: remember which usage rows exist (in a temporary table); their count."""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {USAGE_BEFORE}")
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {USAGE_BEFORE} AS SELECT account_id, user_id, day FROM usage_daily")
    return conn.execute(select(func.count()).select_from(text(USAGE_BEFORE))).scalar_one()


def _usage_removed(conn: Connection) -> int:
    """Usage rows that existed before the events were reloaded and no longer do."""
    gone = conn.execute(text(
        f"SELECT count(*) FROM {USAGE_BEFORE} b WHERE NOT EXISTS (SELECT 1 FROM usage_daily u "
        "WHERE u.account_id = b.account_id AND u.user_id = b.user_id AND u.day = b.day)"
    )).scalar_one()
    conn.exec_driver_sql(f"DROP TABLE {USAGE_BEFORE}")
    return gone


def _sqlite_bulk_pragmas(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size=-65536")  # 64 MB page cache for the bulk load
        # Sorts and windows too big for the page cache spill to a temporary file: in memory, the usage
        # state's build over 10M events took 300 MB more, for no time gained.
        conn.exec_driver_sql("PRAGMA temp_store=FILE")
        # Big sorts (building usage_daily's day index after a first load, the usage state's groups) may
        # use a second core: the day index of 2.4M rows took 1.9 s instead of 2.7 s.
        conn.exec_driver_sql("PRAGMA threads=2")


def run_sync(
    engine: Engine,
    source: CsvSource | SqlSource,
    *,
    settings: Settings,
    full_refresh: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    dry_run: bool = False,
    after: Sequence[AfterSync] = (),
    now: datetime | None = None,
) -> SyncSummary:
    """Load every contract table the source has, then run the ``after`` steps, in one transaction.
    Never raises for bad input or an unreachable database: the summary's status is "failed" with a
    one-line message ("busy" when another sync holds the lock). ``full_refresh`` also removes the
    rows missing from the export; a removal beyond ``settings.sync_max_delete_share`` of a table, or
    one that rejected rows without a readable key leave in doubt, fails the run unless ``force``."""
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
                           message=file_in_use(exc) or f"cannot use the database at {safe_url(str(engine.url))}: {first_line(exc)}")
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
        return _run_locked(engine, source, plan, described, settings, full_refresh, force, progress, dry_run,
                           tuple(after), started, clock)
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
                full_refresh: bool, force: bool, progress: Progress | None, dry_run: bool,
                after: tuple[AfterSync, ...],
                started: datetime, clock: float) -> SyncSummary:
    tables: list[TableCounts] = []
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            _sqlite_bulk_pragmas(conn)
            sync_id = conn.execute(
                insert(schema.sync_log).values(source=described[:1024], started_at=started, status="running")
            ).inserted_primary_key[0]
            run = RunState(conn, sync_id, settings.tz, full_refresh, progress, force=force,
                           max_delete_share=settings.sync_max_delete_share)
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
                            before = _usage_keys_before(conn) if full_refresh else 0
                            ev = load_events(conn, stream, run, started)
                            removed = _usage_removed(conn) if full_refresh else 0
                            if removed and not force and removed > settings.sync_max_delete_share * before:
                                raise SyncFailed(_refusal(stream.label, "usage_daily", removed, before,
                                                          settings.sync_max_delete_share, ev.rejected))
                            unknown = unknown_columns("events", stream.header)
                            tables.append(
                                TableCounts(table="events", file=stream.label, read=ev.read, inserted=ev.taken,
                                            unchanged=ev.skipped, rejected=ev.rejected, late=ev.late, deleted=removed,
                                            unknown_columns=unknown)
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
                full_refresh=full_refresh,
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
        "cascaded": dict(t.cascaded),
        "dropped": t.dropped,
        "unknown_columns": list(t.unknown_columns),
        "kept_unknown": t.kept_unknown,
        "refused": t.refused,
        "late": t.late,
    }


def _failed(engine: Engine, described: str, started: datetime, clock: float, message: str) -> SyncSummary:
    message = scrub(" ".join(message.split()))  # one line, no credentials (a driver may echo the URL)
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
    logger.info("sync failed: %s", message)  # the caller tells the user (CLI line, admin report)
    return SyncSummary(sync_id, "failed", seconds=time.monotonic() - clock, message=message, source=described)
