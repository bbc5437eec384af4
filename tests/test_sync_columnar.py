"""The columnar events reader (metrics/sync/columnar.py: pyarrow + DuckDB) gives what the row reader
(eventparse.py) gives: the same usage_daily, rejected rows (file, line, column, reason), counts,
watermark and remembered event ids, on hand-made files (line numbers after blank lines, CRLF,
gzip; a quoted file handed to the row reader) and on random ones (property test: any order, any
mix of good, padded, odd and bad rows, ids repeated, a second sync over the first).

Runs on SQLite, or on CSBOT_TEST_DATABASE_URL through the ``engine`` fixture."""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sync_helpers import usage

from metrics import schema
from metrics.sync import CsvSource, columnar, run_sync
from metrics.sync import events as sync_events

NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)  # 09:30 on 2026-11-22 in Tokyo, the workspace zone
HEADER = "event_id,account_id,user_id,occurred_at,event_type,duration_seconds"
ACCOUNTS = "account_id,name\nA1,Acme\nA2,Beta\nA3,Gamma\n"


@pytest.fixture
def calls(monkeypatch):
    """How each columnar read ended: "read" or "rows" (handed to the row reader)."""
    seen: list[str] = []
    real = columnar.read_columnar

    def spy(*args, **kwargs):
        try:
            out = real(*args, **kwargs)
        except columnar.NotColumnar:
            seen.append("rows")
            raise
        seen.append("read")
        return out

    monkeypatch.setattr(columnar, "read_columnar", spy)
    return seen


def export(folder: Path, lines: list[str], *, gz: bool = False, newline: str = "\n") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "accounts.csv").write_text(ACCOUNTS, encoding="utf-8")
    for old in ("events.csv", "events.csv.gz"):
        (folder / old).unlink(missing_ok=True)
    data = newline.join([HEADER, *lines]).encode("utf-8") + newline.encode()
    if gz:
        with gzip.open(folder / "events.csv.gz", "wb") as f:
            f.write(data)
    else:
        (folder / "events.csv").write_bytes(data)


def sync(engine, folder: Path, settings):
    summary = run_sync(engine, CsvSource(folder), settings=settings, now=NOW)
    assert summary.status == "ok", summary.message
    return summary.table("events")


def rejected(engine) -> list[tuple]:
    r = schema.rejected_rows
    with engine.connect() as conn:
        return sorted((tuple(x) for x in conn.execute(select(r.c.file, r.c.line, r.c.column_name, r.c.reason))),
                      key=lambda r: (r[0], r[1], r[2] or "", r[3]))


def seen(engine) -> list[tuple]:
    s = schema.sync_seen_events
    with engine.connect() as conn:
        return sorted(tuple(x) for x in conn.execute(select(s.c.event_key, s.c.line, s.c.day)))


# --------------------------------------------------------------------------- hand-made files


@pytest.mark.parametrize("gz", [False, True], ids=["csv", "csv.gz"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_bad_rows_are_named_by_their_line_after_blank_lines_in_plain_gzipped_and_crlf_files(
        engine, settings, tmp_path, calls, gz, newline):
    export(tmp_path / "x", [
        ",A1,u1,2026-11-20T10:00:00,view,10",          # line 2
        "",                                            # line 3: blank, not an event
        ",A1,u1,2026-11-20T11:00:00Z,view,5",          # line 4: 20:00 in Tokyo, the same day
        ",ZZ,u1,2026-11-20T11:00:00,view,1",           # line 5: unknown account
        "",                                            # line 6
        "",                                            # line 7
        ",A2,u2,2026-11-20T23:30:00Z,view,2.5",        # line 8: 08:30 on the 21st in Tokyo
        ",A2,u2,2026-13-01T00:00:00,view,1",           # line 9: not a date
        ",A2,u2,2026-11-20T10:00:00,view,1,extra",     # line 10: 7 values
        "e1,A1,u1,2026-11-21T10:00:00,view,1",         # line 11
        "e1,A1,u1,2026-11-21T11:00:00,view,1",         # line 12: e1 again
        ",A3, u3 ,2026-11-21 12:00,view,",             # line 13: padded user: u3, no duration
        ",A3,u3,2099-01-01T00:00:00,view,1",           # line 14: far future
        ",A3,u3,2026-11-21T12:00:00,view,-4",          # line 15: negative duration
    ], gz=gz, newline=newline)

    ev = sync(engine, tmp_path / "x", settings)

    assert calls == ["read"]
    name = "events.csv.gz" if gz else "events.csv"
    assert [(f, line, col) for f, line, col, _ in rejected(engine)] == [
        (name, 5, "account_id"), (name, 9, "occurred_at"), (name, 10, None), (name, 12, "event_id"),
        (name, 14, "occurred_at"), (name, 15, "duration_seconds")]
    assert "first on line 11" in rejected(engine)[3][3]
    assert (ev.read, ev.inserted, ev.rejected) == (11, 5, 6)
    assert usage(engine) == [
        ("A1", "u1", date(2026, 11, 20), 2, 15.0), ("A1", "u1", date(2026, 11, 21), 1, 1.0),
        ("A2", "u2", date(2026, 11, 21), 1, 2.5), ("A3", "u3", date(2026, 11, 21), 1, 0.0)]
    assert [line for _, line, _ in seen(engine)] == [11]
    with engine.connect() as conn:
        assert sync_events.read_watermark(conn) == datetime(2026, 11, 21, 12, 0)


@pytest.mark.parametrize("zone, days", [
    # Tokyo (+09:00 all year): 15:00Z is midnight
    ("Asia/Tokyo", (date(2026, 11, 1), date(2026, 11, 1), date(2026, 11, 1), date(2026, 11, 1),
                    date(2026, 11, 20), date(2026, 11, 21))),
    # New York: summer time (-04:00) ends at 06:00Z on Nov 1; midnight of Nov 1 was 04:00Z
    ("America/New_York", (date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 1), date(2026, 11, 1),
                          date(2026, 11, 20), date(2026, 11, 20))),
])
def test_an_event_in_utc_counts_on_the_day_it_was_in_the_workspace_zone(engine, settings, tmp_path, calls, zone,
                                                                        days):
    times = ("2026-11-01T03:59:59Z", "2026-11-01T04:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z",
             "2026-11-20T14:59:59.999999Z", "2026-11-20T15:00:00Z")
    export(tmp_path / "x", [f",A1,u{i},{t},view,1" for i, t in enumerate(times)])

    ev = sync(engine, tmp_path / "x", replace(settings, timezone=zone))

    assert calls == ["read"] and ev.inserted == len(times)
    assert usage(engine) == [("A1", f"u{i}", d, 1, 1.0) for i, d in enumerate(days)]


def test_a_quoted_field_over_two_lines_is_read_by_the_row_reader_which_counts_its_lines(
        engine, settings, tmp_path, calls):
    export(tmp_path / "x", [
        ',A1,u1,2026-11-20T10:00:00,"a note',          # lines 2-3: one row
        'over two lines",1',
        ",ZZ,u1,2026-11-20T11:00:00,view,1",           # line 4: unknown account
        ",A1,u1,2026-11-20T12:00:00,view,2",           # line 5
    ])

    ev = sync(engine, tmp_path / "x", settings)

    assert calls == ["rows"]  # the columnar reader handed the file on, before writing anything
    assert [(line, col) for _, line, col, _ in rejected(engine)] == [(4, "account_id")]
    assert (ev.read, ev.inserted, ev.rejected) == (3, 2, 1)
    assert usage(engine) == [("A1", "u1", date(2026, 11, 20), 2, 3.0)]


def test_the_row_reader_is_kept_for_parquet(engine, settings, tmp_path, calls):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "accounts.csv").write_text(ACCOUNTS, encoding="utf-8")
    pq.write_table(pa.table({"account_id": ["A1", "ZZ"], "user_id": ["u1", "u1"],
                             "occurred_at": ["2026-11-20T10:00:00", "2026-11-20T10:00:00"],
                             "duration_seconds": [3.0, 1.0]}), folder / "events.parquet")

    ev = sync(engine, folder, settings)

    assert calls == []
    assert (ev.read, ev.inserted, ev.rejected) == (2, 1, 1)
    assert usage(engine) == [("A1", "u1", date(2026, 11, 20), 1, 3.0)]


# --------------------------------------------------------------------------- both readers on random files

GOOD_TIMES = (
    "2026-11-20T10:00:00", "2026-11-20 23:59:59", "2026-11-21T00:00", "2026-11-20T10:00:00.5",
    "2026-11-20T15:00:00Z", "2026-11-20T14:59:59.999999Z", "2026-11-21T09:00:00+09:00", "2026-11-20T10:00:00-05:00",
    "2026-11-23T09:30:00", "2026-11-23T00:30:00Z",  # exactly the future limit: taken
    "2026-10-01T08:00:00", "2026-09-01T08:00:00Z",  # old: late in a second sync (ids: before the kept window)
    "2026-11-20",  # a date alone: the row reader's own parsing
    "20261120T100000",  # ISO basic: likewise
    # around New York's change back from summer time (06:00Z on Nov 1): the local day of each side
    "2026-11-01T03:59:59Z", "2026-11-01T04:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z",
)
BAD_TIMES = ("2026-13-01T00:00:00", "2026-02-30T10:00:00", "yesterday", "", "2026-11-23T09:30:01",
             "2026-11-23T00:30:01Z", "2099-01-01T00:00:00+09:00", "2026-11-20T24:00:00")
ACCOUNT_VALUES = ("A1", "A2", "A3", " A1", "A2 ", "ZZ", "")
USER_VALUES = ("u1", "u2", "ü3", "山田", " u1", "u2\t", "\u3000u1", "", " ", "u" * 256)
DURATIONS = ("", "0", "12", "0.5", "2.25", " 3", "1e2", "-1", "abc", "inf", "nan", "1_0")
EVENT_IDS = ("", "", "", "e1", "e2", "e3", " e1", "e2 ", " ", "x" * 1001)

row = st.one_of(
    st.tuples(st.sampled_from(EVENT_IDS), st.sampled_from(ACCOUNT_VALUES), st.sampled_from(USER_VALUES),
              st.sampled_from(GOOD_TIMES + BAD_TIMES), st.sampled_from(("view", "click")),
              st.sampled_from(DURATIONS)).map(",".join),
    st.sampled_from(("", ",A1,u1,2026-11-20T10:00:00,view", ",A1,u1,2026-11-20T10:00:00,view,1,2", "A1")),
)
files = st.lists(row, min_size=0, max_size=40)
PROPERTY = hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _state(engine, summaries) -> tuple:
    counts = [(e.read, e.inserted, e.unchanged, e.rejected, e.late) for e in summaries]
    with engine.connect() as conn:
        wm = sync_events.read_watermark(conn)
    return counts, usage(engine), rejected(engine), seen(engine), wm


def _empty(engine) -> None:
    with engine.begin() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            conn.execute(delete(table))


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/New_York"])  # a fixed offset; one with summer time
@PROPERTY
@given(first=files, resent=st.integers(0, 40), more=files, gz=st.booleans(), crlf=st.booleans())
def test_both_readers_give_the_same_usage_rejects_counts_watermark_and_ids(
        engine, settings, tmp_path, calls, zone, first, resent, more, gz, crlf):
    settings = replace(settings, timezone=zone)
    second = first[resent:] + more  # the next export re-sends the end of the first one (its newest events)
    results = []
    for reader in ("columnar", "rows"):
        _empty(engine)
        calls.clear()
        sync_events.READER = reader
        try:
            summaries = []
            for n, lines in enumerate((first, second)):
                export(tmp_path / f"{reader}{n}", lines, gz=gz, newline="\r\n" if crlf else "\n")
                summaries.append(sync(engine, tmp_path / f"{reader}{n}", settings))
        finally:
            sync_events.READER = "columnar"
        assert calls == (["read", "read"] if reader == "columnar" else [])
        results.append(_state(engine, summaries))
    assert results[0] == results[1]
