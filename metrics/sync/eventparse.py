"""Reading events row by row: rows -> roll-up chunks, rejected rows and counts.

A CSV file is read by the columnar reader (``columnar.py``) when it can; this one reads what it
cannot (a file with quoted fields, Parquet, Excel, SQL sources), judges every row the columnar
reader's SQL does not recognise (so rejections keep one wording), and is the oracle the columnar
reader is tested against.

``EventParser`` checks each event and counts it into an in-memory roll-up
(account, user, local day) of at most ``max_keys`` keys; whenever the roll-up
is full it is handed to ``emit`` and started afresh, so memory stays flat.
Events with an ``event_id`` are handed on (hashed) for de-duplication against
the database instead.

Identifiers are compared stripped (``" u1"`` is ``u1``); a blank account or user
is a rejected row, a blank event id means "no event id". An event timed after
``future_limit`` is a rejected row (it would move the watermark past "now").
Events timed before what earlier syncs covered are not counted ("late"): without
an event id, at or before the watermark; with one, on a day before ``late_before``
(their ids may have been pruned, so they could not be told from re-sent ones).

A large plain, unquoted CSV is read by several worker processes at once, each
taking a byte range of the file (``parallel_ranges``); the main process only
writes what they emit. No database here: the reader processes only parse.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import math
import operator
import os
import queue as queue_mod
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

from metrics.sync.values import (
    BadValue,
    is_empty,
    parse_seconds,
    parse_text,
    timestamp_parser,
)

PROGRESS_EVERY = 131_072
REJECT_BATCH = 1000
BLOCK_BYTES = 8 * 1024 * 1024
_SPLIT = operator.methodcaller("split", ",")

_parse_user = parse_text(255)
_parse_account = parse_text(64)
_parse_event_id = parse_text(1000)


def event_key(event_id: str) -> int:
    """A stable signed 64-bit key for an event id."""
    digest = hashlib.blake2b(event_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True)
class EventParams:
    ia: int
    iu: int
    it: int
    idur: int | None
    iid: int | None
    width: int
    timezone: str
    known: frozenset[str]
    watermark: datetime | None  # naive workspace time: events without id at or before it are skipped
    max_keys: int
    id_chunk: int
    future_limit: datetime  # naive workspace time: a later event is a rejected row
    late_before: str | None  # "YYYY-MM-DD": events with an id on an earlier day are skipped as late


@dataclass
class EventStats:
    read: int = 0
    taken: int = 0  # events without id counted into the roll-up
    skipped: int = 0  # late: events without id at or before the watermark, or with one before late_before
    rejected: int = 0
    newest: datetime | None = None  # naive workspace time of the newest accepted event

    def merge(self, other: "EventStats") -> None:
        self.read += other.read
        self.taken += other.taken
        self.skipped += other.skipped
        self.rejected += other.rejected
        if other.newest is not None and (self.newest is None or other.newest > self.newest):
            self.newest = other.newest


def rollup_rows(cnt: dict, sec: dict) -> list[tuple]:
    """Roll-up rows in primary-key order, so the upserts walk the index instead of jumping around."""
    rows = [(*k, c, sec[k]) for k, c in cnt.items()]
    rows.sort()
    return rows


Emit = Callable[[str, Any], None]
# emitted: ("agg", [(account, user, "YYYY-MM-DD", events, seconds)] in key order): keys that will not come again
#          while the file is in time order, to add into usage_daily at once;
#          ("part", [the same, in no order]): once the file has gone back in time, keys that may come again, to stage
#          and add up once at the end (adding each into usage_daily as it came cost 4-5x on a shuffled file);
# ("ids", [(key, account, user, "YYYY-MM-DD", seconds, line, event_id)]),
#          ("rej", [(line, column, reason, raw)]), ("progress", rows read since the last report)


class EventParser:
    def __init__(self, p: EventParams, emit: Emit):
        self.p = p
        self.emit = emit
        self.tz = ZoneInfo(p.timezone)
        self.parse_ts = timestamp_parser(self.tz)
        self.stats = EventStats()
        self.cnt: dict = {}
        self.sec: dict = {}
        self.pending: list = []
        self.rejects: list = []
        self.newest_naive = datetime.min
        self.newest_aware: datetime | None = None
        self.days: dict = {}
        self.flushed_through = ""  # the latest day of the keys handed on so far ("YYYY-MM-DD")
        self.disordered = False  # a key came for a day already handed on: the file is not in time order

    def _reject(self, line: int, column: str | None, reason: str, row) -> None:
        self.stats.rejected += 1
        raw = ",".join("" if v is None else str(v) for v in row)[:1000] if row is not None else None
        self.rejects.append((line, column, reason, raw))
        if len(self.rejects) >= REJECT_BATCH:
            self.emit("rej", self.rejects)
            self.rejects = []

    def _future(self, line: int, dt: datetime, row) -> None:
        local = dt.astimezone(self.tz).replace(tzinfo=None) if dt.tzinfo is not None else dt
        self._reject(line, "occurred_at",
                     f"{local:%Y-%m-%d %H:%M} is in the future (later than {self.p.future_limit:%Y-%m-%d %H:%M}, "
                     "a day after this sync ran); fix the date or the clock of the system that wrote it", row)

    def _slow(self, row, line):
        """Full checks for a row the fast path could not take: (account, user, naive local
        time, seconds, event id) or None when rejected."""
        p = self.p
        if len(row) != p.width:
            self._reject(line, None, f"{len(row)} values but the header has {p.width} columns", row)
            return None
        values = {}
        for name, i, parse in (
            ("account_id", p.ia, _parse_account),
            ("user_id", p.iu, _parse_user),
            ("occurred_at", p.it, self.parse_ts),
        ):
            raw = row[i]
            if is_empty(raw):
                self._reject(line, name, "required value is empty", row)
                return None
            try:
                values[name] = parse(raw)
            except BadValue as exc:
                self._reject(line, name, str(exc), row)
                return None
        if values["account_id"] not in p.known:
            self._reject(line, "account_id", f"unknown account {values['account_id']!r} (not in accounts)", row)
            return None
        secs = 0.0
        if p.idur is not None and not is_empty(row[p.idur]):
            try:
                secs = parse_seconds(row[p.idur])
            except BadValue as exc:
                self._reject(line, "duration_seconds", str(exc), row)
                return None
        eid = None
        if p.iid is not None and not is_empty(row[p.iid]):
            try:
                eid = _parse_event_id(row[p.iid])
            except BadValue as exc:
                self._reject(line, "event_id", str(exc), row)
                return None
        return values["account_id"], values["user_id"], values["occurred_at"], secs, eid

    def feed(self, rows: Iterable, reader: Any, prev: int, offset: int = 0) -> None:
        """Rows of one stretch of the file; ``reader.line_num + offset`` is the last line
        read (reader None: each row is one line), ``prev`` the line just before the first row."""
        p = self.p
        ia, iu, it, idur, iid, width = p.ia, p.iu, p.it, p.idur, p.iid, p.width
        known = p.known
        tz = self.tz
        wm = p.watermark
        wm_aware = wm.replace(tzinfo=tz) if wm is not None else None
        limit = p.future_limit
        limit_aware = limit.replace(tzinfo=tz)
        limit_day = limit.date().isoformat()
        strip = str.strip
        late_before = p.late_before
        fromiso = datetime.fromisoformat
        inf = math.inf
        days = self.days
        cnt, sec = self.cnt, self.sec
        pending = self.pending
        st = self.stats
        read = taken = skipped = 0
        newest_naive = self.newest_naive
        newest_aware = self.newest_aware
        since = 0
        for row in rows:
            line = prev + 1
            prev = reader.line_num + offset if reader is not None else line
            if not row:
                continue  # a blank line
            read += 1
            since += 1
            if since >= PROGRESS_EVERY:
                self.emit("progress", since)
                since = 0
            try:
                if len(row) != width:
                    raise TypeError
                acct = row[ia]
                user = row[iu]
                if user.__class__ is not str:  # a SQL source's number, a spreadsheet's #N/A: the full checks
                    raise TypeError
                user = strip(user)
                if acct not in known or not user or len(user) > 255 or "\x00" in user:
                    raise TypeError
                ts = row[it]
                dt = fromiso(ts)
                if idur is None:
                    secs = 0.0
                else:
                    d = row[idur]
                    secs = float(d) if d else 0.0
                    if not 0.0 <= secs < inf:
                        raise TypeError
                if iid is None:
                    eid = None
                else:
                    eid = row[iid]
                    if eid.__class__ is str:
                        eid = strip(eid)  # blank: no event id
                        if len(eid) > 1000 or "\x00" in eid:
                            raise TypeError
                    elif eid.__class__ is int:
                        eid = str(eid)
                    elif eid is not None:
                        raise TypeError  # a float, a decimal...: the full checks
                zone = dt.tzinfo
                dkey = ts[:10] if zone is None else (ts[:16], zone)
            except (TypeError, ValueError):
                if len(row) == 1 and not row[0]:  # a blank line of a split (unquoted) block
                    read -= 1
                    since -= 1
                    continue
                got = self._slow(row, line)
                if got is None:
                    continue
                acct, user, dt, secs, eid = got
                zone = None
                dkey = dt.date()
            day = days.get(dkey)
            if day is None:
                day = days[dkey] = (dt.astimezone(tz) if zone is not None else dt).date().isoformat()
            # the day first: comparing with a zoned limit costs a microsecond
            if day >= limit_day and dt > (limit if zone is None else limit_aware):
                self._future(line, dt, row)
                continue
            if eid:
                if late_before is not None and day < late_before:
                    skipped += 1
                    continue
                pending.append((event_key(eid), acct, user, day, secs, line, eid))
                if zone is None:
                    if dt > newest_naive:
                        newest_naive = dt
                elif newest_aware is None or dt > newest_aware:
                    newest_aware = dt
                if len(pending) >= p.id_chunk:
                    self.emit("ids", pending)
                    pending = self.pending = []
                continue
            if zone is None:
                if wm is not None and dt <= wm:
                    skipped += 1
                    continue
                if dt > newest_naive:
                    newest_naive = dt
            else:
                if wm_aware is not None and dt <= wm_aware:
                    skipped += 1
                    continue
                if newest_aware is None or dt > newest_aware:
                    newest_aware = dt
            key = (acct, user, day)
            taken += 1
            if key in cnt:
                cnt[key] += 1
                sec[key] += secs
            else:
                cnt[key] = 1
                sec[key] = secs
                if len(cnt) >= p.max_keys:
                    cnt, sec = self.cnt, self.sec = self._flush_all_but(day)
                    if len(days) > 100_000:
                        days.clear()
        if since:
            self.emit("progress", since)
        st.read += read
        st.taken += taken
        st.skipped += skipped
        self.newest_naive, self.newest_aware = newest_naive, newest_aware

    def _flush_all_but(self, day: str) -> tuple[dict, dict]:
        """Hand on the roll-up except the keys of ``day`` (the day being read: in a time-ordered
        file its keys would otherwise be written twice); everything when those are too many.

        A file not in time order (a key for a day already handed on) hands every roll-up on whole as
        "part", unsorted, from then on: its keys come again and again (a shuffled file of 10M events
        over 2.4M keys fills the roll-up with keys seen once), so they are staged and added up once."""
        cnt, sec = self.cnt, self.sec
        if not self.disordered:
            first = min(k[2] for k in cnt)
            if first <= self.flushed_through:
                self.disordered = True
        if self.disordered:
            self.emit("part", [(*k, c, sec[k]) for k, c in cnt.items()])
            return {}, {}
        keep = [k for k in cnt if k[2] == day]
        self._handed_on(cnt, day)
        if len(keep) > self.p.max_keys // 2 or len(keep) == len(cnt):
            self.emit("agg", rollup_rows(cnt, sec))
            return {}, {}
        kept_cnt = {k: cnt.pop(k) for k in keep}
        kept_sec = {k: sec.pop(k) for k in keep}
        self.emit("agg", rollup_rows(cnt, sec))
        return kept_cnt, kept_sec

    def _handed_on(self, cnt: dict, day: str) -> None:
        """Note the latest day before ``day`` (the day being read, which may go on) that is handed on."""
        before = max((k[2] for k in cnt if k[2] < day), default="")
        if before > self.flushed_through:
            self.flushed_through = before

    def finish(self) -> EventStats:
        if self.pending:
            self.emit("ids", self.pending)
            self.pending = []
        if self.cnt:
            if self.disordered:
                self.emit("part", [(*k, c, self.sec[k]) for k, c in self.cnt.items()])
            else:
                self.emit("agg", rollup_rows(self.cnt, self.sec))
            self.cnt, self.sec = {}, {}
        if self.rejects:
            self.emit("rej", self.rejects)
            self.rejects = []
        newest = self.newest_naive if self.newest_naive != datetime.min else None
        if self.newest_aware is not None:
            local = self.newest_aware.astimezone(self.tz).replace(tzinfo=None)
            newest = local if newest is None or local > newest else newest
        self.stats.newest = newest
        return self.stats


# --------------------------------------------------------------------------- parallel


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int
    first_line: int  # line number of the first line in the range (1-based)


def parallel_ranges(path: Path, parts: int, min_bytes: int) -> list[ByteRange] | None:
    """Byte ranges of whole lines after the header, or None when the file should be read
    by one process (small, compressed, or holding quotes - a quoted field may span lines)."""
    if parts < 2 or not path.name.endswith(".csv"):
        return None
    size = path.stat().st_size
    if size < min_bytes:
        return None
    with open(path, "rb") as f:
        header = f.readline()
        data_start = len(header)
        cuts = [data_start]
        for i in range(1, parts):
            f.seek(max(data_start, size * i // parts))
            f.readline()  # to the end of the line the guess fell in
            cuts.append(max(f.tell(), cuts[-1]))
        cuts.append(size)
        f.seek(0)
        lines_before = {c: 0 for c in cuts}
        newlines = 0
        pos = 0
        pending = sorted(set(cuts))
        while True:
            block = f.read(BLOCK_BYTES)
            if not block:
                break
            if b'"' in block:
                return None
            while pending and pending[0] <= pos + len(block):
                cut = pending.pop(0)
                lines_before[cut] = newlines + block.count(b"\n", 0, cut - pos)
            newlines += block.count(b"\n")
            pos += len(block)
    ranges = [ByteRange(a, b, lines_before[a] + 1) for a, b in zip(cuts, cuts[1:]) if b > a]
    return ranges if len(ranges) > 1 else None


def read_range(path: str, rng: ByteRange, parser: EventParser) -> None:
    """Feed the rows of one byte range of an unquoted CSV file to ``parser``."""
    with open(path, "rb") as f:
        f.seek(rng.start)
        remaining = rng.end - rng.start
        carry = b""
        line = rng.first_line
        while remaining > 0 or carry:
            data = f.read(min(BLOCK_BYTES, remaining)) if remaining > 0 else b""
            remaining -= len(data)
            data = carry + data
            if remaining > 0:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    carry = data
                    continue
                carry, data = data[cut:], data[:cut]
            else:
                carry = b""
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                at = line + data.count(b"\n", 0, exc.start)
                raise ValueError(f"not UTF-8 text ({exc.reason} on line {at}); save it as UTF-8") from None
            if "\r" in text:
                reader = csv.reader(io.StringIO(text, newline=""))
                parser.feed(reader, reader, line - 1, offset=line - 1)
            else:  # no quotes in the file, one row per line: splitting is twice as fast as csv
                parser.feed(map(_SPLIT, text.split("\n")), None, line - 1)
            line += text.count("\n")
            del text


def worker_main(path: str, rng: ByteRange, params: EventParams, out, parent_pid: int) -> None:
    """Body of one worker process: parse a byte range, put what it finds on ``out``."""

    def put(item) -> None:
        while True:
            try:
                out.put(item, timeout=1.0)
                return
            except queue_mod.Full:
                if os.getppid() != parent_pid:  # the sync was killed: stop quietly
                    os._exit(1)

    gc.disable()  # the roll-up makes millions of short-lived objects and no cycles: ~5% faster
    parser = EventParser(params, lambda kind, payload: put((kind, payload)))
    try:
        read_range(path, rng, parser)
        put(("done", parser.finish()))
    except Exception as exc:  # noqa: BLE001 - reported to the main process as one line
        put(("error", " ".join(str(exc).split()) or type(exc).__name__))
