"""Product events -> ``usage_daily`` (events and seconds per account, user, local day).

Raw events are not kept. A CSV file (``.csv`` or ``.csv.gz``) is read by the columnar reader
(``columnar.py``: pyarrow reads the lines, DuckDB checks them and rolls them up in one pass, the
roll-up is added in key order through this module's writer). It is the default because it is the
faster (``benchmarks/bench_sync.py``, 10M events without ids, SQLite and PostgreSQL: 1.5-3.0x the
row reader's speed on a shuffled file; on a sorted one 1.3-1.4x less CPU, wall 0.8-1.3x as the load
varied). Files whose events all carry an ``event_id`` were 0.89x the row reader at 1M (the ids are
hashed in Python either way). The row reader below stays, with a reason each:
a file holding quote characters (a quoted field may span lines, and only the csv module counts its
lines), Parquet, Excel and SQL sources (typed values), and as the oracle the columnar reader is
tested against (tests/test_sync_columnar.py). ``READER = "rows"`` makes it read everything.

The row reader streams the file once; events are counted into an
in-memory roll-up of at most ``AGG_MAX_KEYS`` (account, user, day) keys, which
is added into ``usage_daily`` (``ON CONFLICT DO UPDATE SET events = events +
excluded.events``) whenever it is full, so memory stays flat whatever the
file size. A file not in time order (a shuffled export) would add nearly one
row per event that way, each chunk rewriting most of the table: once the file
goes back in time, its roll-ups are staged instead and added up in one pass at
the end (``_UsageWriter.stage``).

Re-sending old events never counts them twice:
- an event without an ``event_id`` is taken only when it is later than the newest
  ``occurred_at`` of earlier syncs (the watermark, kept in ``csbot_meta``);
- an event with one is counted once: a 64-bit hash of the id is kept in
  ``sync_seen_events`` (a repeat inside one run is a rejected duplicate), with
  the event's day. Only the ids of the last ``SEEN_ID_DAYS`` days behind the
  watermark are kept (the older ones are pruned in the same transaction), so
  an event with an id on an earlier day is not counted: it is late, like an
  event without id at or before the watermark. Both are reported as ``late``.

"Now" is the sync's own time, passed in: an event later than now plus
``FUTURE_MARGIN`` is a rejected row, so the watermark never passes that (a
watermark stored in the future by an older csbot is brought back to it).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue as queue_mod
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from metrics import schema
from metrics.db import has_column, planned_each_time
from metrics.sync import columnar
from metrics.sync.errors import SyncFailed
from metrics.sync.eventparse import (
    EventParams,
    EventParser,
    EventStats,
    parallel_ranges,
    rollup_rows,
    worker_main,
)
from metrics.sync.sources import RowStream

if TYPE_CHECKING:
    from metrics.sync.state import RunState

logger = logging.getLogger(__name__)

WATERMARK_KEY = "sync.events.watermark"
IDS_FROM_KEY = "sync.events.ids_kept_from"  # the day from which sync_seen_events holds every counted id
AGG_MAX_KEYS = 100_000  # (account, user, day) keys held before adding them into usage_daily
ID_CHUNK = 50_000  # events with an event_id checked against sync_seen_events at a time
PARALLEL_MIN_BYTES = 64 * 1024 * 1024  # smaller files are read by the main process alone
WORKERS = max(1, min(4, os.cpu_count() or 1))
# How far past the sync's time an event may be: the source's clock may run ahead of
# ours, or a timestamp without zone be written in a zone a few hours ahead of the
# workspace. Later is a typo (2099 for 2026) and a rejected row.
FUTURE_MARGIN = timedelta(days=1)
# Event ids are remembered for the events of this many days behind the watermark: a
# monthly export re-sent with a few days of overlap still finds every id it counted.
# An event with an id on an earlier day is late and not counted (its id may be gone).
SEEN_ID_DAYS = 35
# "columnar": a CSV file (plain or gzipped) is read by pyarrow + DuckDB (metrics/sync/columnar.py), the
# faster (benchmarks/bench_sync.py); "rows": by the row reader below (eventparse.py), which stays for
# quoted files, Parquet, Excel and SQL sources, and as the oracle the columnar reader is tested against.
READER = "columnar"
STAGE = "csbot_usage_stage"  # roll-up rows added up once at the end of the events (a table of the sync's transaction)
STAGE_BUCKETS = 64  # SQLite: staged rows are split by account over this many tables, each added up on its own
# usage_daily's index by day: kept up row by row, it cost more than the key's B-tree to load 2.4M rows
# into an empty table, and 60% of that to build in one sorted pass after the load (measured apart:
# 3.4 s kept up, 2.1 s built after)
DAY_INDEX = next(ix for ix in schema.usage_daily.indexes if ix.name == "ix_usage_daily_day_cover")


@dataclass
class EventCounts:
    read: int = 0
    taken: int = 0  # events newly counted into usage_daily
    skipped: int = 0  # events already counted by an earlier sync, and late ones
    rejected: int = 0
    late: int = 0  # of ``skipped``: timed before what earlier syncs covered (re-sent, or late: not counted)


def late_before(watermark: datetime | None) -> date | None:
    """Events with an id on a day before this are late: their ids are no longer kept."""
    return watermark.date() - timedelta(days=SEEN_ID_DAYS) if watermark is not None else None


def _read_meta(conn: Connection, key: str) -> str | None:
    return conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == key)).scalar()


def _write_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(delete(schema.meta).where(schema.meta.c.key == key))
    conn.execute(insert(schema.meta).values(key=key, value=value))


def read_watermark(conn: Connection) -> datetime | None:
    value = _read_meta(conn, WATERMARK_KEY)
    return datetime.fromisoformat(value) if value else None


def _prune_seen(conn: Connection, kept_from: date | None, watermark: datetime | None) -> None:
    """Forget the ids of events on a day before the window behind ``watermark`` (when that moved on)."""
    cutoff = late_before(watermark)
    if cutoff is not None and (kept_from is None or cutoff > kept_from):
        conn.execute(delete(schema.sync_seen_events).where(schema.sync_seen_events.c.day < cutoff))
        _write_meta(conn, IDS_FROM_KEY, cutoff.isoformat())


def _add_seen_day(conn: Connection, watermark: datetime | None, now: datetime) -> None:
    """A database made before ids were kept by day has no ``sync_seen_events.day``: add it, and
    date its ids on the watermark's day (no later than their events), kept the whole window."""
    if has_column(conn, "sync_seen_events", "day"):
        return
    conn.exec_driver_sql("ALTER TABLE sync_seen_events ADD COLUMN day DATE")
    conn.execute(update(schema.sync_seen_events).values(day=(watermark or now).date()))


def forget_events(conn: Connection) -> None:
    """Full refresh: usage is rebuilt from this export alone."""
    conn.execute(delete(schema.usage_daily))
    conn.execute(delete(schema.sync_seen_events))
    conn.execute(delete(schema.meta).where(schema.meta.c.key.in_((WATERMARK_KEY, IDS_FROM_KEY))))


class _UsageWriter:
    """Adds a roll-up chunk into usage_daily with the fastest upsert the database has."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.dialect = conn.dialect.name
        self.driver = conn.dialect.driver
        self._staged = False

    def add(self, rows: list[tuple]) -> None:
        """Add roll-up rows (account, user, "YYYY-MM-DD", events, seconds), in key order."""
        if not rows:
            return
        if self.dialect == "sqlite":
            self.conn.exec_driver_sql(
                "INSERT INTO usage_daily (account_id, user_id, day, events, seconds) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (account_id, user_id, day) DO UPDATE SET "
                "events = usage_daily.events + excluded.events, seconds = usage_daily.seconds + excluded.seconds",
                rows,
            )
        elif self.dialect == "postgresql" and self.driver == "psycopg":
            self._add_postgres_copy(rows)
        elif self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(schema.usage_daily)
            stmt = stmt.on_conflict_do_update(
                index_elements=["account_id", "user_id", "day"],
                set_={
                    "events": schema.usage_daily.c.events + stmt.excluded.events,
                    "seconds": schema.usage_daily.c.seconds + stmt.excluded.seconds,
                },
            )
            self.conn.execute(stmt, _dicts(rows))
        else:
            self._add_generic(rows)

    def stage(self, rows: list[tuple]) -> None:
        """Keep roll-up rows whose keys may come again (a file not in time order) to add up once in
        ``finish``: one pass over usage_daily, where adding each chunk as it came rewrote most of the
        table's pages every chunk. On SQLite plain tables of this transaction (on disk: a shuffled file
        stages about one row per event), ``STAGE_BUCKETS`` of them by account, so that adding each up
        sorts a slice in memory, not the whole; PostgreSQL stages every chunk anyway."""
        if not rows:
            return
        if self.dialect != "sqlite":
            self.add(rows)
            return
        if not self._staged:
            for b in range(STAGE_BUCKETS):
                self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}_{b}")
                self.conn.exec_driver_sql(
                    f"CREATE TABLE {STAGE}_{b} (account_id TEXT, user_id TEXT, day TEXT, events INTEGER, seconds REAL)")
            self._staged = True
        buckets: list[list[tuple]] = [[] for _ in range(STAGE_BUCKETS)]
        for row in rows:  # str hashes differ between processes but not within this one, which alone stages
            buckets[hash(row[0]) % STAGE_BUCKETS].append(row)
        for b, part in enumerate(buckets):
            if part:
                self.conn.exec_driver_sql(
                    f"INSERT INTO {STAGE}_{b} (account_id, user_id, day, events, seconds) VALUES (?, ?, ?, ?, ?)", part)

    def _add_postgres_copy(self, rows: list[tuple]) -> None:
        """COPY into a staging table; ``finish`` adds it all into usage_daily in one statement."""
        raw = self.conn.connection.dbapi_connection
        with raw.cursor() as cur:
            if not self._staged:
                cur.execute(f"DROP TABLE IF EXISTS {STAGE}")
                cur.execute(
                    f"CREATE TEMP TABLE {STAGE} "
                    "(account_id text, user_id text, day date, events integer, seconds double precision) ON COMMIT DROP"
                )
                self._staged = True
            with cur.copy(f"COPY {STAGE} (account_id, user_id, day, events, seconds) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def finish(self) -> None:
        if not self._staged:
            return
        if self.dialect == "sqlite":
            for b in range(STAGE_BUCKETS):
                self.conn.exec_driver_sql(
                    "INSERT INTO usage_daily (account_id, user_id, day, events, seconds) "
                    f"SELECT account_id, user_id, day, sum(events), sum(seconds) FROM {STAGE}_{b} WHERE true "
                    "GROUP BY account_id, user_id, day ORDER BY account_id, user_id, day "
                    "ON CONFLICT (account_id, user_id, day) DO UPDATE SET "
                    "events = usage_daily.events + excluded.events, seconds = usage_daily.seconds + excluded.seconds"
                )
                self.conn.exec_driver_sql(f"DROP TABLE {STAGE}_{b}")
            self._staged = False
            return
        raw = self.conn.connection.dbapi_connection
        with raw.cursor() as cur:
            cur.execute(
                "INSERT INTO usage_daily (account_id, user_id, day, events, seconds) "
                f"SELECT account_id, user_id, day, sum(events), sum(seconds) FROM {STAGE} "
                "GROUP BY account_id, user_id, day ORDER BY account_id, user_id, day "
                "ON CONFLICT (account_id, user_id, day) DO UPDATE SET "
                "events = usage_daily.events + excluded.events, seconds = usage_daily.seconds + excluded.seconds"
            )
            cur.execute(f"DROP TABLE {STAGE}")
        self._staged = False

    def _add_generic(self, rows: list[tuple]) -> None:
        t = schema.usage_daily
        items = [((a, u, date.fromisoformat(d)), (c, s)) for a, u, d, c, s in rows]
        for start in range(0, len(items), 500):
            part = items[start : start + 500]
            keys = {k for k, _ in part}
            accounts = {k[0] for k in keys}
            existing = set()
            for row in self.conn.execute(
                select(t.c.account_id, t.c.user_id, t.c.day).where(t.c.account_id.in_(accounts))
            ):
                if tuple(row) in keys:
                    existing.add(tuple(row))
            updates = [
                {"k_a": a, "k_u": u, "k_d": d, "add_e": v[0], "add_s": v[1]} for (a, u, d), v in part if (a, u, d) in existing
            ]
            inserts = [
                {"account_id": a, "user_id": u, "day": d, "events": v[0], "seconds": v[1]}
                for (a, u, d), v in part
                if (a, u, d) not in existing
            ]
            if updates:
                self.conn.execute(
                    update(t)
                    .where(t.c.account_id == bindparam("k_a"), t.c.user_id == bindparam("k_u"), t.c.day == bindparam("k_d"))
                    .values(events=t.c.events + bindparam("add_e"), seconds=t.c.seconds + bindparam("add_s")),
                    updates,
                )
            if inserts:
                self.conn.execute(insert(t), inserts)


def _dicts(rows: list[tuple]) -> list[dict]:
    return [
        {"account_id": a, "user_id": u, "day": date.fromisoformat(d), "events": c, "seconds": s}
        for a, u, d, c, s in rows
    ]


class _Sink:
    """The main process's side: writes roll-ups, checks event ids, stores rejected rows."""

    def __init__(self, conn: Connection, stream: RowStream, run: "RunState"):
        self.conn = conn
        self.run = run
        self.label = stream.label
        self.writer = _UsageWriter(conn)
        self.read = 0
        self.started = time.monotonic()
        self.id_taken = 0
        self.id_skipped = 0
        self.id_rejected = 0
        self.day_of: dict[str, date] = {}

    def __call__(self, kind: str, payload: Any) -> None:
        if kind == "agg":
            self.writer.add(payload)
            self.run.report("events", self.read, time.monotonic() - self.started)
        elif kind == "part":
            self.writer.stage(payload)
            self.run.report("events", self.read, time.monotonic() - self.started)
        elif kind == "ids":
            self._ids(payload)
        elif kind == "rej":
            for line, column, reason, raw in payload:
                self.run.reject("events", self.label, line, column, reason, raw)
        elif kind == "progress":
            self.read += payload
            self.run.report("events", self.read, time.monotonic() - self.started)

    def _ids(self, items: list) -> None:
        """Count events whose id was never synced; a repeat inside this run is rejected."""
        run = self.run
        first: dict[int, int] = {}
        unique = []
        for item in items:
            key, line = item[0], item[5]
            if key in first:
                self._dup(line, item[6], first[key])
                continue
            first[key] = line
            unique.append(item)
        s = schema.sync_seen_events
        seen_before: dict[int, tuple[int, int | None]] = {}
        keys = list(first)
        for start in range(0, len(keys), 5000):
            part = keys[start : start + 5000]
            with planned_each_time(self.conn):  # sync_seen_events grows inside this transaction
                found = self.conn.execute(select(s.c.event_key, s.c.sync_id, s.c.line).where(s.c.event_key.in_(part))).all()
            for k, sid, line in found:
                seen_before[k] = (sid, line)
        fresh = []
        for item in unique:
            hit = seen_before.get(item[0])
            if hit is None:
                fresh.append(item)
            elif hit[0] == run.sync_id:
                self._dup(item[5], item[6], hit[1])
            else:
                self.id_skipped += 1
        if not fresh:
            return
        sid = run.sync_id
        if self.conn.dialect.name == "sqlite":  # the day as SQLite stores a Date, without a bind processor per row
            self.conn.exec_driver_sql("INSERT INTO sync_seen_events (event_key, sync_id, line, day) VALUES (?, ?, ?, ?)",
                                      [(it[0], sid, it[5], it[3]) for it in fresh])
        elif self.writer.dialect == "postgresql" and self.writer.driver == "psycopg":
            with self.conn.connection.dbapi_connection.cursor() as cur:
                with cur.copy("COPY sync_seen_events (event_key, sync_id, line, day) FROM STDIN") as copy:
                    for it in fresh:
                        copy.write_row((it[0], sid, it[5], it[3]))
        else:
            day_of = self.day_of
            for it in fresh:
                if it[3] not in day_of:
                    day_of[it[3]] = date.fromisoformat(it[3])
            self.conn.execute(insert(s), [{"event_key": it[0], "sync_id": sid, "line": it[5], "day": day_of[it[3]]}
                                          for it in fresh])
        cnt: dict = {}
        sec: dict = {}
        for _k, a, u, d, secs, _ln, _e in fresh:
            key = (a, u, d)
            cnt[key] = cnt.get(key, 0) + 1
            sec[key] = sec.get(key, 0.0) + secs
        self.writer.add(rollup_rows(cnt, sec))
        self.id_taken += len(fresh)

    def _dup(self, line: int, event_id: str, first_line: int | None) -> None:
        self.id_rejected += 1
        where = f" (first on line {first_line})" if first_line is not None else ""
        self.run.reject("events", self.label, line, "event_id", f"duplicate event_id {event_id!r}{where}", None)


def _drop_day_index_if_empty(conn: Connection) -> bool:
    """SQLite, usage_daily empty (a first sync, a full refresh): drop the index by day, to build it once the
    events are in (``DAY_INDEX``). In the sync's transaction: a failed sync gets it back with the rollback,
    and answers read the table as it was until the commit. Not on PostgreSQL, where dropping an index locks
    the table against every reader until the commit."""
    if conn.dialect.name != "sqlite" or conn.execute(select(schema.usage_daily.c.day).limit(1)).first() is not None:
        return False
    DAY_INDEX.drop(conn, checkfirst=True)
    return True


def load_events(conn: Connection, stream: RowStream, run: "RunState", now: datetime) -> EventCounts:
    """Count the stream's events into usage_daily; ``now`` is the sync's time (naive UTC)."""
    header = stream.header
    idx: dict[str, int] = {}
    for i, name in enumerate(header):
        idx.setdefault(name, i)
    local_now = now.replace(tzinfo=timezone.utc).astimezone(run.tz).replace(tzinfo=None)
    limit = local_now + FUTURE_MARGIN
    if run.full_refresh:
        forget_events(conn)
    day_index_after = _drop_day_index_if_empty(conn)
    stored = read_watermark(conn)
    # never past the limit: a later one was stored by a csbot that let a far-future event through
    watermark = min(stored, limit) if stored is not None else None
    _add_seen_day(conn, watermark, local_now)
    kept = _read_meta(conn, IDS_FROM_KEY)
    kept_from = date.fromisoformat(kept) if kept else None
    cutoff = late_before(watermark)
    if kept_from is not None and (cutoff is None or kept_from > cutoff):
        cutoff = kept_from  # the clock went back: ids before this day are gone all the same
    params = EventParams(
        ia=idx["account_id"],
        iu=idx["user_id"],
        it=idx["occurred_at"],
        idur=idx.get("duration_seconds"),
        iid=idx.get("event_id"),
        width=len(header),
        timezone=run.tz.key,
        known=frozenset(run.known_accounts),
        watermark=watermark,
        max_keys=AGG_MAX_KEYS,
        id_chunk=ID_CHUNK,
        future_limit=limit,
        late_before=cutoff.isoformat() if cutoff is not None else None,
    )
    sink = _Sink(conn, stream, run)
    path = getattr(stream, "path", None)
    stats = None
    if READER == "columnar" and columnar.readable(path, stream.first_line):
        try:
            stats = columnar.read_columnar(path, params, sink, lambda n: sink("progress", n))
        except columnar.NotColumnar as exc:  # nothing written yet: the row reader takes the file
            logger.info("%s: read by rows (%s)", stream.label, exc)
            sink.read = 0
    if stats is None:
        ranges = parallel_ranges(path, WORKERS, PARALLEL_MIN_BYTES) if path is not None else None
        if ranges:
            stats = _load_parallel(str(path), ranges, params, sink, stream.label)
        else:
            parser = EventParser(params, sink)
            parser.feed(stream.rows, stream.reader, stream.first_line)
            stats = parser.finish()
    sink.writer.finish()
    if day_index_after:
        DAY_INDEX.create(conn)
    run.report("events", stats.read, time.monotonic() - sink.started)
    newest = watermark
    if stats.newest is not None and (newest is None or stats.newest > newest):
        newest = stats.newest  # no later than the limit: later events were rejected
    if newest is not None and newest != stored:
        _write_meta(conn, WATERMARK_KEY, newest.isoformat())
    _prune_seen(conn, kept_from, newest)
    return EventCounts(
        read=stats.read,
        taken=stats.taken + sink.id_taken,
        skipped=stats.skipped + sink.id_skipped,
        rejected=stats.rejected + sink.id_rejected,
        late=stats.skipped,
    )


def _load_parallel(path: str, ranges: list, params: EventParams, sink: _Sink, label: str) -> EventStats:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue(maxsize=len(ranges))
    workers = [
        ctx.Process(target=worker_main, args=(path, rng, params, out, os.getpid()), daemon=True) for rng in ranges
    ]
    for w in workers:
        w.start()
    total = EventStats()
    running = len(workers)
    try:
        while running:
            try:
                kind, payload = out.get(timeout=5.0)
            except queue_mod.Empty:
                if not any(w.is_alive() for w in workers):
                    raise SyncFailed(f"{label}: a reader process stopped unexpectedly") from None
                continue
            if kind == "done":
                total.merge(payload)
                running -= 1
            elif kind == "error":
                raise SyncFailed(f"{label}: {payload}")
            else:
                sink(kind, payload)
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
            w.join(timeout=5)
        out.close()
    return total
