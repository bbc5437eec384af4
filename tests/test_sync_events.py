"""Product events never stop counting and are never counted twice (docs/data-contract.md, events.csv):
a far-future typo is a rejected row and cannot move the watermark past the sync's time; events timed
before what earlier syncs covered are reported as late; identifiers are compared stripped, the same by
the one-process reader and the parallel reader processes; the remembered event ids stay bounded."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.schema import CreateTable
from sync_helpers import usage, write

from bot.cli.sync import format_summary
from metrics import schema
from metrics.sync import CsvSource, run_sync
from metrics.sync import events as sync_events
from metrics.sync.eventparse import event_key

NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)  # 09:30 on 2026-11-22 in Tokyo, the workspace zone
HEADER = "event_id,account_id,user_id,occurred_at,event_type,duration_seconds\n"


def sync(engine, folder: Path, settings, now: datetime = NOW):
    summary = run_sync(engine, CsvSource(folder), settings=settings, now=now)
    assert summary.status == "ok", summary.message
    return summary


def rejected(engine) -> list[tuple]:
    r = schema.rejected_rows
    with engine.connect() as conn:
        return sorted(tuple(x) for x in conn.execute(select(r.c.line, r.c.column_name, r.c.reason)))


def watermark(engine) -> datetime | None:
    with engine.connect() as conn:
        return sync_events.read_watermark(conn)


def seen_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.sync_seen_events)).scalar_one()


# --------------------------------------------------------------------------- the future and the watermark


def test_a_far_future_event_is_rejected_and_later_events_still_count(engine, settings, tmp_path):
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "events.csv", "account_id,user_id,occurred_at\n"
                                "A1,u1,2026-11-20T10:00:00\n"
                                "A1,u1,2099-01-01T10:00:00\n")  # a typo for 2026

    first = sync(engine, folder, settings).table("events")

    assert (first.read, first.inserted, first.rejected) == (2, 1, 1)
    ((line, column, reason),) = rejected(engine)
    assert (line, column) == (3, "occurred_at") and "2099-01-01 10:00 is in the future" in reason
    assert watermark(engine) == datetime(2026, 11, 20, 10, 0)
    # the next export: the same two rows and one event the next day, all without event_id
    write(folder, "events.csv", "account_id,user_id,occurred_at\n"
                                "A1,u1,2026-11-20T10:00:00\n"
                                "A1,u1,2099-01-01T10:00:00\n"
                                "A1,u1,2026-11-21T08:00:00\n")

    second = sync(engine, folder, settings).table("events")

    assert (second.read, second.inserted, second.unchanged, second.rejected) == (3, 1, 1, 1)
    assert usage(engine) == [("A1", "u1", date(2026, 11, 20), 1, 0.0), ("A1", "u1", date(2026, 11, 21), 1, 0.0)]


def test_an_event_up_to_a_day_after_the_sync_counts_and_a_second_later_is_rejected(engine, settings, tmp_path):
    # NOW is 09:30 on 2026-11-22 in Tokyo: the last moment that counts is 09:30 on 2026-11-23
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "events.csv", HEADER +
          "e1,A1,u1,2026-11-23T09:30:00,view,1\n"
          "e2,A1,u1,2026-11-23T09:30:01,view,2\n"
          "e3,A1,u1,2026-11-23T00:30:00Z,view,4\n"  # 09:30 in Tokyo
          "e4,A1,u1,2026-11-23T00:30:01Z,view,8\n"
          ",A1,u2,2026-11-23T09:30:01+09:00,view,16\n")

    summary = sync(engine, folder, settings).table("events")

    assert (summary.inserted, summary.rejected) == (2, 3)
    assert usage(engine) == [("A1", "u1", date(2026, 11, 23), 2, 5.0)]
    assert [(line, column) for line, column, _ in rejected(engine)] == [(3, "occurred_at"), (5, "occurred_at"),
                                                                        (6, "occurred_at")]
    assert watermark(engine) == datetime(2026, 11, 23, 9, 30)


def test_a_watermark_stored_in_the_future_is_brought_back_to_a_day_after_the_sync(engine, settings, tmp_path):
    with engine.begin() as conn:  # what a far-future event left behind before such events were rejected
        conn.execute(insert(schema.meta).values(key=sync_events.WATERMARK_KEY, value="2099-01-01T10:00:00"))
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "events.csv", "account_id,user_id,occurred_at\nA1,u1,2026-11-22T09:00:00\n")

    first = sync(engine, folder, settings).table("events")

    assert (first.inserted, first.late) == (0, 1)  # before 09:30 on 2026-11-23, the sync's time plus a day
    assert watermark(engine) == datetime(2026, 11, 23, 9, 30)
    write(folder, "events.csv", "account_id,user_id,occurred_at\nA1,u1,2026-11-22T09:00:00\nA1,u1,2026-11-23T10:00:00\n")
    second = sync(engine, folder, settings, now=NOW + timedelta(days=1)).table("events")
    assert (second.inserted, second.late) == (1, 1)  # counting goes on
    assert usage(engine) == [("A1", "u1", date(2026, 11, 23), 1, 0.0)]
    assert watermark(engine) == datetime(2026, 11, 23, 10, 0)


def test_late_events_are_counted_in_the_summary_its_json_and_the_command_line(engine, settings, tmp_path):
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "events.csv", "account_id,user_id,occurred_at\nA1,u1,2026-11-20T10:00:00\nA1,u1,2026-11-20T11:00:00\n")
    sync(engine, folder, settings)
    # the next export re-sends both, brings one that came late (10:30) and a new one (12:00)
    write(folder, "events.csv", "account_id,user_id,occurred_at\nA1,u1,2026-11-20T10:00:00\nA1,u1,2026-11-20T11:00:00\n"
                                "A1,u1,2026-11-20T10:30:00\nA1,u1,2026-11-20T12:00:00\n")

    summary = sync(engine, folder, settings)

    events = summary.table("events")
    assert (events.read, events.inserted, events.unchanged, events.late) == (4, 1, 3, 3)
    with engine.connect() as conn:
        details = conn.execute(select(schema.sync_log.c.details).where(schema.sync_log.c.sync_id == summary.sync_id)).scalar()
    assert details["events"]["late"] == 3
    assert "3 events timed before what earlier syncs covered were not counted" in format_summary(summary)
    assert usage(engine) == [("A1", "u1", date(2026, 11, 20), 3, 0.0)]


# --------------------------------------------------------------------------- stripped identifiers


@pytest.mark.parametrize("parallel", [None, False, True], ids=["columnar", "one-process", "reader-processes"])
def test_identifiers_are_stripped_and_blank_ones_handled_alike_by_both_readers(engine, settings, tmp_path, monkeypatch,
                                                                               parallel):
    if parallel is not None:  # the row reader (None: the default, columnar)
        monkeypatch.setattr(sync_events, "READER", "rows")
    if parallel:
        monkeypatch.setattr(sync_events, "PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(sync_events, "WORKERS", 2)
    calls = []
    real = sync_events._load_parallel
    monkeypatch.setattr(sync_events, "_load_parallel", lambda *a: calls.append(len(a[1])) or real(*a))
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "events.csv", HEADER +
          "e1,A1,u1,2026-11-20T10:00:00,view,1\n"
          " e1 ,A1,u1,2026-11-20T09:00:00,view,128\n"    # line 3: e1 again: a duplicate
          "e2,A1, u1,2026-11-20T11:00:00,view ,2\n"       # line 4: the same user u1
          " ,A1,u2,2026-11-20T12:00:00,view,4\n"          # line 5: a blank event_id is no event_id
          " ,A1,u2,2026-11-20T13:00:00,view,8\n"          # line 6: ... so this one is not a duplicate
          "e5,A1, ,2026-11-20T14:00:00,view,16\n"         # line 7: blank user: rejected
          "e6, ,u1,2026-11-20T15:00:00,view,32\n"         # line 8: blank account: rejected
          "e7, A1 ,u1 ,2026-11-20T16:00:00,view,64\n"     # line 9: A1 and u1
          "e8,A1,u1,2099-01-01T10:00:00,view,256\n"       # line 10: far future: rejected
          ",A1,u2,2099-01-01T01:00:00Z,view,512\n")       # line 11: far future: rejected

    summary = sync(engine, folder, settings).table("events")

    assert calls == ([2] if parallel else [])
    assert (summary.read, summary.inserted, summary.rejected) == (10, 5, 5)
    assert usage(engine) == [("A1", "u1", date(2026, 11, 20), 3, 67.0), ("A1", "u2", date(2026, 11, 20), 2, 12.0)]
    assert [(line, column) for line, column, _ in rejected(engine)] == [
        (3, "event_id"), (7, "user_id"), (8, "account_id"), (10, "occurred_at"), (11, "occurred_at")]
    assert "first on line 2" in rejected(engine)[0][2]
    assert watermark(engine) == datetime(2026, 11, 20, 16, 0)


# --------------------------------------------------------------------------- remembered event ids


def test_remembered_event_ids_stay_bounded_and_a_resent_event_is_never_counted_twice(engine, settings, tmp_path):
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    lines = [HEADER.strip()]
    seen, late, inserted = [], [], []
    first = date(2026, 7, 1)
    for k in range(5):  # five syncs, 20 days apart; each export re-sends everything sent before
        day = first + timedelta(days=20 * k)
        lines += [f"e{k}a,A1,u1,{day}T10:00:00,view,1", f"e{k}b,A1,u2,{day}T11:00:00,view,2"]
        write(folder, "events.csv", "\n".join(lines) + "\n")
        summary = sync(engine, folder, settings, now=datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc))
        events = summary.table("events")
        seen.append(seen_count(engine))
        late.append(events.late)
        inserted.append(events.inserted)
        assert events.read == events.inserted + events.unchanged == 2 * (k + 1)

    # the window is 35 days behind the newest event: after 20 days both days are kept, after 40 days
    # the older day's ids go, and its events (re-sent every time) are late from then on
    assert seen == [2, 4, 4, 4, 4]
    assert sync_events.SEEN_ID_DAYS == 35
    assert inserted == [2, 2, 2, 2, 2]
    assert late == [0, 0, 0, 2, 4]
    expected = [("A1", user, first + timedelta(days=20 * k), 1, secs) for k in range(5) for user, secs in
                (("u1", 1.0), ("u2", 2.0))]
    assert usage(engine) == sorted(expected)
    with engine.connect() as conn:
        days = conn.execute(select(schema.sync_seen_events.c.day).distinct()).scalars().all()
    assert sorted(days) == [date(2026, 8, 30), date(2026, 9, 19)]


def test_a_database_from_before_the_bound_keeps_its_ids_for_the_whole_window(engine, settings, tmp_path):
    with engine.begin() as conn:  # the table as earlier versions made it, holding one id
        conn.execute(text("DROP TABLE sync_seen_events"))
        conn.execute(text("CREATE TABLE sync_seen_events (event_key BIGINT PRIMARY KEY, sync_id INTEGER NOT NULL, "
                          "line INTEGER)"))
        conn.execute(text("INSERT INTO sync_seen_events VALUES (:k, 0, 2)"), {"k": event_key("e1")})  # an earlier sync
        conn.execute(insert(schema.meta).values(key=sync_events.WATERMARK_KEY, value="2026-11-20T10:00:00"))
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "events.csv", HEADER + "e1,A1,u1,2026-11-20T09:00:00,view,1\ne2,A1,u1,2026-11-21T09:00:00,view,2\n")

    summary = sync(engine, folder, settings).table("events")

    assert (summary.inserted, summary.unchanged) == (1, 1)
    assert usage(engine) == [("A1", "u1", date(2026, 11, 21), 1, 2.0)]
    s = schema.sync_seen_events
    with engine.connect() as conn:
        kept = sorted(conn.execute(select(s.c.event_key, s.c.day)).all())
    assert kept == sorted([(event_key("e1"), date(2026, 11, 20)), (event_key("e2"), date(2026, 11, 21))])


def test_a_clock_set_back_never_counts_an_event_whose_id_was_forgotten(engine, settings, tmp_path):
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "events.csv", HEADER + "e3,A1,u1,2026-10-18T10:00:00,view,1\ne2,A1,u1,2026-11-23T09:00:00,view,2\n")
    first = sync(engine, folder, settings).table("events")  # the window now starts on 2026-10-19: e3's id goes
    assert (first.inserted, seen_count(engine)) == (2, 1)

    # the next sync's clock is two days behind: e2 is now too far ahead, and e3 stays forgotten, so late
    second = sync(engine, folder, settings, now=NOW - timedelta(days=2)).table("events")

    assert (second.inserted, second.late, second.rejected) == (0, 1, 1)
    assert usage(engine) == [("A1", "u1", date(2026, 10, 18), 1, 1.0), ("A1", "u1", date(2026, 11, 23), 1, 2.0)]


@pytest.mark.parametrize("parallel", [None, False, True], ids=["columnar", "one-process", "reader-processes"])
def test_a_nul_in_a_user_or_event_id_rejects_that_event_only_on_every_database(engine, settings, tmp_path, monkeypatch,
                                                                               parallel):
    if parallel is not None:  # the row reader (None: the default, columnar)
        monkeypatch.setattr(sync_events, "READER", "rows")
    if parallel:
        monkeypatch.setattr(sync_events, "PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(sync_events, "WORKERS", 2)
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "events.csv", HEADER +
          "e1,A1,u1,2026-11-20T10:00:00,view,1\n"
          "e2,A1,u\x001,2026-11-20T11:00:00,view,2\n"     # line 3: a NUL in the user
          "e\x003,A1,u2,2026-11-20T12:00:00,view,4\n"     # line 4: a NUL in the event id
          "e4,A1,u2,2026-11-20T13:00:00,view,8\n")

    summary = sync(engine, folder, settings).table("events")

    assert (summary.read, summary.inserted, summary.rejected) == (4, 2, 2)
    assert usage(engine) == [("A1", "u1", date(2026, 11, 20), 1, 1.0), ("A1", "u2", date(2026, 11, 20), 1, 8.0)]
    assert [(line, column) for line, column, _ in rejected(engine)] == [(3, "user_id"), (4, "event_id")]
    assert all("NUL" in reason for _, _, reason in rejected(engine))


# --------------------------------------------------------------------------- usage_daily's index by day


def _has_day_index(engine) -> bool:
    return sync_events.DAY_INDEX.name in {ix["name"] for ix in inspect(engine).get_indexes("usage_daily")}


def test_the_index_by_day_is_there_after_a_failed_first_sync_a_first_sync_a_full_refresh_and_a_later_sync(
        engine, settings, tmp_path):
    """On SQLite a sync into an empty usage_daily builds the index by day after the load: whatever happens,
    the table has it again at the end, and the counts are those of the file."""
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\nA2,Beta\n")
    write(folder, "events.csv", "account_id,user_id,occurred_at,duration_seconds\n"
                                "A1,u1,2026-11-20T10:00:00,3\n"
                                "A1,u1,2026-11-20T11:00:00,4\n"
                                "A2,u9,2026-11-21T10:00:00,5\n")

    def broken(conn, summary):
        raise RuntimeError("boom")

    failed = run_sync(engine, CsvSource(folder), settings=settings, now=NOW, after=(broken,))
    assert failed.status == "failed" and usage(engine) == []
    assert _has_day_index(engine)

    first = sync(engine, folder, settings).table("events")
    assert (first.read, first.inserted) == (3, 3)
    expected = [("A1", "u1", date(2026, 11, 20), 2, 7.0), ("A2", "u9", date(2026, 11, 21), 1, 5.0)]
    assert usage(engine) == expected and _has_day_index(engine)

    refreshed = run_sync(engine, CsvSource(folder), settings=settings, now=NOW, full_refresh=True)
    assert refreshed.status == "ok", refreshed.message
    assert usage(engine) == expected and _has_day_index(engine)

    write(folder, "events.csv", "account_id,user_id,occurred_at,duration_seconds\n"
                                "A2,u9,2026-11-21T12:00:00,6\n")
    sync(engine, folder, settings)
    assert usage(engine) == [expected[0], ("A2", "u9", date(2026, 11, 21), 2, 11.0)] and _has_day_index(engine)
    if engine.dialect.name == "sqlite":  # a window of days is read from the index, not the whole table
        with engine.connect() as conn:
            plan = " ".join(r[-1] for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT count(DISTINCT user_id) FROM usage_daily "
                "WHERE day BETWEEN '2026-11-01' AND '2026-11-30'"))
        assert sync_events.DAY_INDEX.name in plan


def test_a_sqlite_database_made_before_keeps_its_usage_table_and_counts_the_same(engine, settings, tmp_path):
    """Databases made before csbot stored usage_daily without a rowid keep their table as it was: syncs
    add to it and answer the same as into a new one."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the table's storage is SQLite's")
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "events.csv", "account_id,user_id,occurred_at,duration_seconds\n"
                                "A1,u1,2026-11-20T10:00:00,3\nA1,u2,2026-11-20T11:00:00,4\n")
    new_ddl = str(CreateTable(schema.usage_daily).compile(engine))
    assert "WITHOUT ROWID" in new_ddl
    with engine.begin() as conn:  # the table as csbot made it before
        conn.exec_driver_sql("DROP TABLE usage_daily")
        conn.exec_driver_sql(new_ddl.replace("WITHOUT ROWID", ""))
        sync_events.DAY_INDEX.create(conn)

    sync(engine, folder, settings)
    write(folder, "events.csv", "account_id,user_id,occurred_at,duration_seconds\nA1,u1,2026-11-20T12:00:00,5\n")
    sync(engine, folder, settings)

    assert usage(engine) == [("A1", "u1", date(2026, 11, 20), 2, 8.0), ("A1", "u2", date(2026, 11, 20), 1, 4.0)]
    with engine.connect() as conn:
        ddl = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'usage_daily'").scalar_one()
    assert "WITHOUT ROWID" not in ddl and _has_day_index(engine)
