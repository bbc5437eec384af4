"""events.csv / events.csv.gz read by columnar engines: pyarrow splits the file into lines, DuckDB
checks the events and rolls them up per (account, user, local day); only the roll-up and the few
rows that need a closer look reach Python.

How one file goes (``read_columnar``):

1. pyarrow's CSV reader (C++, multi-threaded) reads the file, gzipped or not, as one text column
   per physical line, blank lines kept, so a row's line number is its position (header = line 1):
   exact, where a CSV reader proper does not say on which line a row was. A file holding a quote
   character (a quoted field may span lines) or a line pyarrow cannot take (not UTF-8) is not read
   here (``NotColumnar``): the row reader (``eventparse.EventParser``) reads it, counting lines the
   way the csv module does, before anything is written.
2. One in-memory DuckDB connection (2 threads, ``MEMORY_LIMIT``, spilling to a temporary folder)
   splits each line at commas (as the row reader splits an unquoted file) and sorts it into one of:
   ``take`` (a plain event: right width, known account, a user id and a timestamp of the common
   shapes, a plain duration, no event id, after the watermark and not in the future: counted into
   the roll-up in SQL), ``id`` (the same with an event id: handed on for de-duplication),
   ``late`` (skipped, counted), ``blank`` (a blank line, not an event) and ``py`` (anything else: an
   odd timestamp, a padded or unknown id, a wrong width, a future event ...). The sorting is
   conservative: a ``py`` row is given to the row reader's own checks, which accept or reject it
   with the same reason and line as they always did, so whatever the SQL does not recognise is
   judged by the very code that judged it before.
3. ``py`` and ``id`` rows come back in line order (so "duplicate event_id (first on line N)" names
   the same first line), ids are hashed with ``event_key`` (blake2b: the keys stored by earlier syncs
   stay valid) and checked against ``sync_seen_events`` by the sync's ``_Sink``; the ``take`` roll-up
   comes back in key order and is added into ``usage_daily`` through the sync's own connection and
   transaction, in chunks.

The numbers are those of the row reader, which stays as the test oracle and for quoted files
(tests/test_sync_columnar.py compares both on random files). Seconds are summed by DuckDB in
another order than the row reader's: with durations in whole (or binary-fraction) seconds the
sums are the same to the last bit, otherwise they may differ in the last bit of a double.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

from metrics.sync.eventparse import EventParams, EventParser, EventStats, event_key

logger = logging.getLogger(__name__)

MEMORY_LIMIT = "128MB"  # DuckDB's own; it spills to disk past it (10M events: 415 MB peak RSS reading, 537 MB at 256MB)
THREADS = 2
BLOCK_BYTES = 1024 * 1024  # pyarrow reads the file in blocks of this many bytes (it holds several: RSS grows with it)
FETCH = 20_000  # roll-up rows fetched from DuckDB at a time (100,000 held 50 MB more at the peak of 10M events)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# The timestamps the SQL takes itself; any other shape goes to the row reader's checks.
_TS = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$"
_SECONDS = r"^[0-9]{1,15}(\.[0-9]{1,15})?$"
# An identifier str.strip() would change (whitespace as str.isspace has it at either end), or holding a NUL.
_WS = r"\t-\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
_PADDED = rf"^[{_WS}]|[{_WS}]$|\x00"
TAKE, ID, LATE, PY, BLANK = 0, 1, 2, 3, 4  # the kinds of lines (see the module docstring)


class NotColumnar(Exception):
    """The file holds what this reader does not take (quotes, undecodable text): read it by rows."""


def available() -> bool:
    try:
        import duckdb  # noqa: F401
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return False
    return True


def readable(path: Path | None, first_line: int) -> bool:
    """A CSV file (plain or gzipped) whose header is its first line."""
    return path is not None and path.name.endswith((".csv", ".csv.gz")) and first_line == 1 and available()


def _us(dt: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact, unlike ``timestamp()``)."""
    return (dt - _EPOCH) // timedelta(microseconds=1)


def _lines(path: Path, progress: Callable[[int], None], trouble: list) -> Iterator[Any]:
    """Record batches (line, l) of the file's data lines; stops early, noting why in ``trouble``,
    at a quote character or what pyarrow cannot read."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    def odd_row(row) -> str:  # a line holding the separator below: not ours to read
        trouble.append("separator")
        return "skip"

    try:
        reader = pacsv.open_csv(
            pa.input_stream(str(path), compression="detect"),
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=["l"], block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(delimiter="\x1f", quote_char=False, escape_char=False,
                                             newlines_in_values=False, ignore_empty_lines=False,
                                             invalid_row_handler=odd_row),
            convert_options=pacsv.ConvertOptions(column_types={"l": pa.string()}, strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False),
        )
        line = 2
        for batch in reader:
            if trouble:
                return
            col = batch.column(0)
            if pc.any(pc.match_substring(col, '"')).as_py():
                trouble.append("quote")
                return
            n = len(col)
            yield pa.record_batch([pa.array(np.arange(line, line + n, dtype=np.int64)), col], names=["line", "l"])
            line += n
            progress(n)
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError, EOFError) as exc:
        trouble.append(str(exc))


def _classify_sql(p: EventParams) -> str:
    """The one pass over the lines: each sorted into a kind and grouped (see the module docstring).
    Kinds are numbers (``TAKE`` ...); a ``py`` or ``id`` row is a group of its own (its line)."""

    def col(i: int | None) -> str:
        return f"p[{i + 1}]" if i is not None else "''"

    return f"""
    CREATE TEMP TABLE agg AS
    WITH s AS (
        SELECT line, l, string_split(l, ',') AS p FROM src
    ), f AS (
        SELECT line, l, len(p) = {p.width} AS wide_ok, {col(p.ia)} AS a, {col(p.iu)} AS u, {col(p.it)} AS t,
               {col(p.idur)} AS d, {col(p.iid)} AS e
        FROM s
    ), g AS (
        SELECT line, l, a, u, t, d, e,
               wide_ok
               AND strlen(u) BETWEEN 1 AND 255 AND NOT regexp_matches(u, '{_PADDED}')
               AND regexp_matches(t, '{_TS}')
               AND (d = '' OR regexp_matches(d, '{_SECONDS}'))
               AND (e = '' OR (strlen(e) <= 1000 AND NOT regexp_matches(e, '{_PADDED}'))) AS fast
        FROM f
    ), h AS (
        SELECT line, l, a, u, e, fast, d,
               CASE WHEN fast AND NOT (t[-1] = 'Z' OR t[-6] IN ('+', '-')) THEN try_cast(t AS TIMESTAMP) END AS tsn,
               CASE WHEN fast AND (t[-1] = 'Z' OR t[-6] IN ('+', '-')) THEN try_cast(t AS TIMESTAMPTZ) END AS tst
        FROM g
    ), i AS (
        SELECT line, l, a, u, e, fast, tsn, epoch_us(tst) AS tsu,
               CASE WHEN tst IS NOT NULL THEN {_local_day(p.timezone)} ELSE CAST(tsn AS DATE) END AS day,
               CASE WHEN fast AND d <> '' THEN CAST(d AS DOUBLE) ELSE 0.0 END AS secs
        FROM h
    ), k0 AS (
        SELECT *,
               CASE WHEN l = '' THEN {BLANK}
                    WHEN NOT fast OR (tsn IS NULL AND tsu IS NULL) THEN {PY}
                    WHEN day >= $limit_day AND (tsn > $limit OR tsu > $limit_us) THEN {PY}
                    WHEN e <> '' THEN CASE WHEN day < $late_before THEN {LATE} ELSE {ID} END
                    WHEN tsn <= $wm OR tsu <= $wm_us THEN {LATE}
                    ELSE {TAKE} END AS kind
        FROM i
    ), k AS (  -- the account is looked up last, over what is left: inside ``fast`` it cost 3x the whole pass
        SELECT * REPLACE (CASE WHEN kind IN ({TAKE}, {ID}, {LATE}) AND NOT (a IN (SELECT a FROM known)) THEN {PY}
                               ELSE kind END AS kind)
        FROM k0
    )
    SELECT kind,
           CASE WHEN kind IN ({TAKE}, {ID}) THEN a END AS a,
           CASE WHEN kind IN ({TAKE}, {ID}) THEN u END AS u,
           CASE WHEN kind IN ({TAKE}, {ID}) THEN day END AS day,
           CASE WHEN kind IN ({PY}, {ID}) THEN line END AS line,
           CASE WHEN kind = {PY} THEN l WHEN kind = {ID} THEN e END AS x,  -- the line to judge, the event id
           count(*) AS n, sum(secs) AS s, max(tsn) AS newest_n, max(tsu) AS newest_us
    FROM k
    GROUP BY ALL
    """


def _local_day(zone: str) -> str:
    """SQL for the workspace-zone day of ``tst`` (a TIMESTAMPTZ; ``tsu`` its epoch microseconds). A zone
    whose offset from UTC never changed from 1990 to 2100 (Asia/Tokyo, UTC) adds that offset, which
    costs a tenth of DuckDB's time zone conversion; any other goes through the conversion."""
    tz = ZoneInfo(zone)
    offsets = {datetime(y, m, 1, tzinfo=tz).utcoffset() for y in range(1990, 2101) for m in (1, 4, 7, 10)}
    if len(offsets) != 1:
        return "CAST(timezone($tz, tst) AS DATE)"
    off_us = int(offsets.pop().total_seconds()) * 1_000_000
    return f"CAST(DATE '1970-01-01' + CAST(floor((epoch_us(tst) + {off_us}) / 86400000000) AS INTEGER) AS DATE)"


class _Numbered:
    """``reader`` for ``EventParser.feed`` over rows of given lines: feed takes a row's line as one
    past ``line_num`` after the row before, so ``rows`` sets it to the next row's line - 1."""

    def __init__(self) -> None:
        self.line_num = 0

    def rows(self, items: list[tuple[int, list[str]]]) -> Iterator[list[str]]:
        for i, (_line, row) in enumerate(items):
            nxt = items[i + 1][0] if i + 1 < len(items) else _line + 1
            self.line_num = nxt - 1
            yield row


def read_columnar(path: Path, p: EventParams, emit: Callable[[str, Any], None],
                  progress: Callable[[int], None]) -> EventStats:
    """Read the events of ``path``; roll-ups, ids and rejected rows go to ``emit`` (the kinds of
    ``eventparse.Emit``), lines read to ``progress``. Raises NotColumnar before emitting anything."""
    import duckdb
    import pyarrow as pa

    tz = ZoneInfo(p.timezone)
    tmp = tempfile.mkdtemp(prefix="csbot-events-")
    con = duckdb.connect(config={"threads": THREADS, "memory_limit": MEMORY_LIMIT, "temp_directory": tmp,
                                 "preserve_insertion_order": False})
    try:
        con.register("known_arrow", pa.table({"a": pa.array(sorted(p.known), pa.string())}))
        con.execute("CREATE TEMP TABLE known AS SELECT a FROM known_arrow")
        con.unregister("known_arrow")
        trouble: list = []
        schema = pa.schema([("line", pa.int64()), ("l", pa.string())])
        src = pa.RecordBatchReader.from_batches(schema, _lines(path, progress, trouble))
        con.register("src", src)
        wm = p.watermark
        params = {
            "tz": p.timezone,
            "limit": p.future_limit,
            "limit_day": p.future_limit.date(),
            "limit_us": _us(p.future_limit.replace(tzinfo=tz)),
            "late_before": date.fromisoformat(p.late_before) if p.late_before else None,
            "wm": wm,
            "wm_us": _us(wm.replace(tzinfo=tz)) if wm is not None else None,
        }
        t0, c0 = time.perf_counter(), time.process_time()
        sql = _classify_sql(p)
        if "$tz" not in sql:  # a fixed offset (``_local_day``): DuckDB refuses a parameter the SQL does not use
            del params["tz"]
        con.execute(sql, params)
        con.unregister("src")
        if trouble:
            raise NotColumnar(trouble[0])
        t1, c1 = time.perf_counter(), time.process_time()
        stats = _hand_on(con, p, emit, tz)
        logger.info("%s: read and rolled up in %.1f s (CPU %.1f s), handed on in %.1f s (CPU %.1f s)", path.name,
                    t1 - t0, c1 - c0, time.perf_counter() - t1, time.process_time() - c1)
        return stats
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _hand_on(con, p: EventParams, emit: Callable[[str, Any], None], tz: ZoneInfo) -> EventStats:
    stats = EventStats()
    newest_n: datetime | None = None
    newest_us: int | None = None
    for kind, n, nn, nu in con.execute(
            f"SELECT kind, sum(n), max(newest_n), max(newest_us) FROM agg WHERE kind IN ({TAKE}, {ID}, {LATE}) "
            "GROUP BY kind").fetchall():  # PY rows are read and judged by the row reader below
        stats.read += n
        if kind == TAKE:
            stats.taken += n
        elif kind == LATE:
            stats.skipped += n
        if kind in (TAKE, ID):
            if nn is not None and (newest_n is None or nn > newest_n):
                newest_n = nn
            if nu is not None and (newest_us is None or nu > newest_us):
                newest_us = nu

    parser = EventParser(p, lambda kind, payload: None if kind == "progress" else emit(kind, payload))
    numbered = _Numbered()
    batch: list[tuple[int, list[str]]] = []

    def feed() -> None:
        parser.feed(numbered.rows(batch), numbered, batch[0][0] - 1)
        batch.clear()

    cur = con.execute(f"SELECT line, kind, x, a, u, strftime(day, '%Y-%m-%d'), s FROM agg "
                      f"WHERE kind IN ({PY}, {ID}) ORDER BY line")
    while chunk := cur.fetchmany(FETCH):
        for line, kind, x, a, u, day, secs in chunk:
            if kind == PY:
                batch.append((line, x.split(",")))
                continue
            if batch:
                feed()
            parser.pending.append((event_key(x), a, u, day, secs, line, x))
            if len(parser.pending) >= p.id_chunk:
                emit("ids", parser.pending)
                parser.pending = []
    if batch:
        feed()
    rest = parser.finish()  # emits the last ids, roll-up and rejected rows of the row reader's part

    cur = con.execute(f"SELECT a, u, strftime(day, '%Y-%m-%d'), n, s FROM agg WHERE kind = {TAKE} ORDER BY a, u, day")
    while chunk := cur.fetchmany(FETCH):
        emit("agg", chunk)

    stats.merge(rest)
    newest = stats.newest
    if newest_n is not None and (newest is None or newest_n > newest):
        newest = newest_n
    if newest_us is not None:
        local = (_EPOCH + timedelta(microseconds=newest_us)).astimezone(tz).replace(tzinfo=None)
        newest = local if newest is None or local > newest else newest
    stats.newest = newest
    return stats
