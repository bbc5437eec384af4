"""csbot sync keeps the data contract: idempotent, all-or-nothing, bad rows reported, events rolled up."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sync_helpers import rejected, rows, usage, write

from metrics import schema
from metrics.sync import (
    CsvSource,
    SourceError,
    SqlSource,
    load_mapping,
    run_sync,
    sync_status,
)
from metrics.sync import events as sync_events

FIXTURES = Path(__file__).parent / "fixtures" / "sync"
BASIC = FIXTURES / "basic"
REPO = Path(__file__).resolve().parent.parent


def copy_basic(tmp_path: Path, name: str = "export") -> Path:
    target = tmp_path / name
    shutil.copytree(BASIC, target)
    return target


def sync(engine, folder: Path, settings, **kwargs):
    summary = run_sync(engine, CsvSource(folder), settings=settings, **kwargs)
    assert summary.status in ("ok", "dry-run"), summary.message
    return summary


def dump(engine):
    """Every table except the lock (which only says who runs a sync right now)."""
    out = {}
    with engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            if table.name == "sync_lock":
                continue
            out[table.name] = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
    return out


# --------------------------------------------------------------------------- loading


def test_first_sync_loads_every_file_and_converts_zoned_times_to_workspace_time(engine, settings):
    summary = sync(engine, BASIC, settings)

    inserted = {t.table: t.inserted for t in summary.tables}
    assert inserted == {"accounts": 3, "subscriptions": 3, "events": 4, "nps": 2, "csat": 1, "onboarding": 2, "tickets": 2}
    assert summary.rejected == 0
    a = schema.accounts
    assert rows(engine, a, "account_id", "created_at", "attributes") == [
        ("A1", datetime(2024, 4, 1, 9, 0), {"crm_tier": "gold"}),
        ("A2", datetime(2025, 1, 15, 9, 0), None),  # 00:00Z is 09:00 in Tokyo; empty extra value not kept
        ("A3", datetime(2025, 6, 1, 10, 0), {"crm_tier": "silver"}),  # no zone: taken as workspace time
    ]
    assert rows(engine, schema.subscriptions, "subscription_id", "mrr", "end_date") == [
        ("S1", 100000.0, None),
        ("S2", 5000.0, date(2026, 2, 1)),
        ("S3", 30000.5, None),
    ]
    # e1 23:30Z on the 20th is 08:30 on the 21st in Tokyo; e4 15:00Z is midnight of the 22nd.
    assert usage(engine) == [
        ("A1", "u1", date(2026, 11, 21), 2, 90.0),
        ("A1", "u2", date(2026, 11, 21), 1, 0.0),
        ("A2", "u3", date(2026, 11, 22), 1, 10.0),
    ]
    assert rows(engine, schema.nps_responses, "response_id", "responded_at") == [
        ("N1", datetime(2026, 10, 1, 12, 0)),
        ("N2", datetime(2026, 10, 5, 9, 0)),
    ]


def test_same_input_twice_changes_nothing_the_second_time(engine, settings):
    sync(engine, BASIC, settings)
    before = dump(engine)
    second = sync(engine, BASIC, settings)

    assert all(t.inserted == 0 and t.updated == 0 for t in second.tables)
    assert {t.table: t.unchanged for t in second.tables}["subscriptions"] == 3
    assert second.rows_changed == 0
    after = dump(engine)
    for name in before:
        if name not in ("sync_log", "csbot_meta"):
            assert after[name] == before[name], name


def test_changed_row_replaces_the_old_one_by_its_key(engine, settings, tmp_path):
    folder = copy_basic(tmp_path)
    sync(engine, folder, settings)
    text = (folder / "subscriptions.csv").read_text().replace("S2,A2,core,2025-02-01,2026-02-01,5000",
                                                              "S2,A2,core,2025-02-01,2026-03-01,7000")
    (folder / "subscriptions.csv").write_text(text)

    second = sync(engine, folder, settings).table("subscriptions")

    assert (second.inserted, second.updated, second.unchanged) == (0, 1, 2)
    assert rows(engine, schema.subscriptions, "subscription_id", "mrr", "end_date")[1] == ("S2", 7000.0, date(2026, 3, 1))


def test_subscription_without_id_is_keyed_by_account_product_and_start(engine, settings, tmp_path):
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "subscriptions.csv", "account_id,product,start_date,mrr\nA1,core,2025-01-01,100\nA1,addon,2025-01-01,20\n")
    sync(engine, folder, settings)
    write(folder, "subscriptions.csv", "account_id,product,start_date,mrr\nA1,core,2025-01-01,150\nA1,addon,2025-01-01,20\n")

    second = sync(engine, folder, settings).table("subscriptions")

    assert (second.inserted, second.updated, second.unchanged) == (0, 1, 1)
    assert rows(engine, schema.subscriptions, "subscription_id", "mrr") == [
        ("A1|addon|2025-01-01", 20.0),
        ("A1|core|2025-01-01", 150.0),
    ]


def test_rows_missing_from_a_later_export_are_kept_unless_full_refresh(engine, settings, tmp_path):
    folder = copy_basic(tmp_path)
    sync(engine, folder, settings)
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\nA2,Beta\n")  # A3 gone
    write(folder, "subscriptions.csv", "subscription_id,account_id,product,start_date,mrr\nS1,A1,core,2025-01-01,100000\n")
    for name in ("events.csv", "nps.csv", "csat.csv", "onboarding.csv", "tickets.csv"):
        (folder / name).unlink()

    kept = sync(engine, folder, settings)
    assert kept.table("subscriptions").deleted == 0
    assert len(rows(engine, schema.subscriptions, "subscription_id")) == 3
    assert len(rows(engine, schema.accounts, "account_id")) == 3

    # 1 of 3 accounts is more than the 20% a full refresh removes unasked (tests/test_sync_safety.py)
    refreshed = sync(engine, folder, settings, full_refresh=True, force=True)
    assert refreshed.table("accounts").deleted == 1
    assert refreshed.table("accounts").cascaded == (("subscriptions", 1), ("onboarding", 2))
    assert refreshed.table("subscriptions").deleted == 1  # S2; S3 went with account A3
    assert rows(engine, schema.accounts, "account_id") == [("A1",), ("A2",)]
    assert rows(engine, schema.subscriptions, "subscription_id") == [("S1",)]
    assert rows(engine, schema.onboarding, "account_id") == []  # A3's milestones went with it
    assert len(rows(engine, schema.tickets, "ticket_id")) == 2  # no tickets file in this run: untouched


# --------------------------------------------------------------------------- bad input


def test_bad_rows_are_rejected_with_file_line_column_and_reason_and_good_rows_load(engine, settings, tmp_path):
    folder = tmp_path / "bad"
    write(folder, "accounts.csv", "account_id,name,seats\nA1,Acme,10\nA2,,5\nA3,Gamma,-1\n")
    write(
        folder,
        "subscriptions.csv",
        """
        subscription_id,account_id,product,start_date,end_date,mrr
        S1,A1,core,2025-01-01,,100
        S2,ZZ,core,2025-01-01,,100
        S3,A1,core,2025-13-01,,100
        S4,A1,core,2025-01-01,,-5
        S5,A1,core,2025-03-01,2025-02-01,100
        S1,A1,core,2025-05-01,,200
        S6,A1,,2025-01-01,,100
        S7,A1,"core, premium",2025-02-01,,300.5
        """,
    )
    write(folder, "nps.csv", "response_id,account_id,score,responded_at\n"
                             "N1,A1,11,2026-01-01T00:00:00Z\nN2,A1,10,yesterday\nN3,A1,0,2026-01-02\n")
    write(folder, "csat.csv", "response_id,account_id,score,responded_at\nC1,A1,0,2026-01-01\nC2,A1,5,2026-01-01\n")

    summary = sync(engine, folder, settings)

    # A3's seats cannot be read: that value is dropped, the account kept (the row is otherwise good)
    assert rows(engine, schema.accounts, "account_id", "seats") == [("A1", 10), ("A3", None)]
    assert rows(engine, schema.subscriptions, "subscription_id", "product", "mrr") == [
        ("S1", "core", 100.0),
        ("S7", "core, premium", 300.5),
    ]
    assert rows(engine, schema.nps_responses, "response_id", "score") == [("N3", 0)]
    assert rows(engine, schema.csat_responses, "response_id") == [("C2",)]
    found = {(f, line, col): reason for f, line, col, reason in rejected(engine)}
    assert set(found) == {
        ("accounts.csv", 3, "name"),
        ("accounts.csv", 4, "seats"),
        ("subscriptions.csv", 3, "account_id"),
        ("subscriptions.csv", 4, "start_date"),
        ("subscriptions.csv", 5, "mrr"),
        ("subscriptions.csv", 6, "end_date"),
        ("subscriptions.csv", 7, "subscription_id"),
        ("subscriptions.csv", 8, "product"),
        ("nps.csv", 2, "score"),
        ("nps.csv", 3, "responded_at"),
        ("csat.csv", 2, "score"),
    }
    assert "required" in found[("accounts.csv", 3, "name")]
    assert "unknown account 'ZZ'" in found[("subscriptions.csv", 3, "account_id")]
    assert "unparseable date" in found[("subscriptions.csv", 4, "start_date")]
    assert "negative" in found[("subscriptions.csv", 5, "mrr")]
    assert "before start_date" in found[("subscriptions.csv", 6, "end_date")]
    reason = found[("subscriptions.csv", 7, "subscription_id")]
    assert "duplicate" in reason and "line 2" in reason
    assert "out of range 0-10" in found[("nps.csv", 2, "score")]
    assert "out of range 1-5" in found[("csat.csv", 2, "score")]
    assert found[("accounts.csv", 4, "seats")] == "seats -1 must be at least 0; the field was dropped (left empty), the row kept"
    assert summary.rejected == 10
    assert {t.table: t.rejected for t in summary.tables} == {"accounts": 1, "subscriptions": 6, "nps": 2, "csat": 1}
    assert summary.table("accounts").dropped == 1
    with engine.connect() as conn:
        sync_ids = set(conn.execute(select(schema.rejected_rows.c.sync_id)).scalars())
    assert sync_ids == {summary.sync_id}


def test_file_missing_a_required_column_is_refused_whole_and_other_files_load(engine, settings, tmp_path):
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "subscriptions.csv", "subscription_id,account_id,product,start_date\nS1,A1,core,2025-01-01\n")

    summary = sync(engine, folder, settings)

    subs = summary.table("subscriptions")
    assert subs.refused is not None and "'mrr'" in subs.refused
    assert subs.inserted == 0 and "mrr" in summary.message
    assert rows(engine, schema.accounts, "account_id") == [("A1",)]
    assert rows(engine, schema.subscriptions) == []
    assert rejected(engine) == [("subscriptions.csv", 1, "mrr", subs.refused)]


def test_row_with_too_many_values_is_rejected_on_the_line_an_editor_shows(engine, settings, tmp_path):
    folder = tmp_path / "x"
    # line 3 is blank, the quoted comment of N1 spans lines 4-5, the broken row is on line 6
    write(
        folder,
        "accounts.csv",
        'account_id,name\nA1,Acme\n\nA2,"Beta\nInc"\nA3,Gamma,extra\nA4,Delta\n',
    )
    sync(engine, folder, settings)
    assert rows(engine, schema.accounts, "account_id", "name") == [("A1", "Acme"), ("A2", "Beta\nInc"), ("A4", "Delta")]
    assert [r[:3] for r in rejected(engine)] == [("accounts.csv", 6, None)]


# --------------------------------------------------------------------------- events


def test_resent_events_without_ids_are_not_counted_twice(engine, settings, tmp_path):
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "events.csv", "account_id,user_id,occurred_at,duration_seconds\n"
                                "A1,u1,2026-11-20T10:00:00,5\nA1,u1,2026-11-20T11:00:00,7\n")
    sync(engine, folder, settings)
    # the next export repeats both old events and adds one later the same day
    write(
        folder,
        "events.csv",
        "account_id,user_id,occurred_at,duration_seconds\nA1,u1,2026-11-20T10:00:00,5\nA1,u1,2026-11-20T11:00:00,7\n"
        "A1,u1,2026-11-20T02:30:00Z,100\n",  # 11:30 in Tokyo: newer than the last synced 11:00
    )

    second = sync(engine, folder, settings).table("events")

    assert (second.read, second.inserted, second.unchanged) == (3, 1, 2)
    assert usage(engine) == [("A1", "u1", date(2026, 11, 20), 3, 112.0)]


def test_resent_events_with_ids_are_not_counted_twice(engine, settings, tmp_path):
    folder = copy_basic(tmp_path)
    sync(engine, folder, settings)
    with open(folder / "events.csv", "a") as f:
        f.write("e5,A2,u3,2026-11-22T08:00:00+09:00,view,20\n")

    second = sync(engine, folder, settings).table("events")

    assert (second.read, second.inserted, second.unchanged) == (5, 1, 4)
    assert usage(engine)[-1] == ("A2", "u3", date(2026, 11, 22), 2, 30.0)


def test_duplicate_event_id_in_one_file_is_rejected_and_counted_once(engine, settings, tmp_path):
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "events.csv", "event_id,account_id,user_id,occurred_at\ne1,A1,u1,2026-11-20T10:00:00\ne1,A1,u1,2026-11-20T10:00:00\n")

    summary = sync(engine, folder, settings)

    assert summary.table("events").rejected == 1
    assert usage(engine) == [("A1", "u1", date(2026, 11, 20), 1, 0.0)]
    ((f, line, col, reason),) = rejected(engine)
    assert (f, line, col) == ("events.csv", 3, "event_id") and "first on line 2" in reason


def test_bad_events_are_rejected_and_good_ones_counted(engine, settings, tmp_path):
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(
        folder,
        "events.csv",
        "account_id,user_id,occurred_at,duration_seconds\n"
        "A1,u1,2026-11-20T10:00:00,5\n"
        "A9,u1,2026-11-20T10:00:00,5\n"
        "A1,,2026-11-20T10:00:00,5\n"
        "A1,u1,20/11/2026,5\n"
        "A1,u1,2026-11-20T10:00:00,-3\n"
        "A1,u2,2026-11-20T10:00:00,\n",
    )

    summary = sync(engine, folder, settings)

    assert summary.table("events").rejected == 4
    assert usage(engine) == [("A1", "u1", date(2026, 11, 20), 1, 5.0), ("A1", "u2", date(2026, 11, 20), 1, 0.0)]
    assert [r[:3] for r in rejected(engine)] == [
        ("events.csv", 3, "account_id"),
        ("events.csv", 4, "user_id"),
        ("events.csv", 5, "occurred_at"),
        ("events.csv", 6, "duration_seconds"),
    ]


def _many_events(folder: Path, utc: bool = False) -> list[tuple]:
    """240 events of 3 accounts over 5 days, a blank line, one bad row near the end; returns the roll-up.
    With ``utc`` the same moments are written in UTC ("...Z", nine hours earlier than Tokyo)."""
    write(folder, "accounts.csv", "account_id,name\nA1,a\nA2,b\nA3,c\n")
    lines = ["account_id,user_id,occurred_at,duration_seconds"]
    expected: dict = {}
    start = datetime(2026, 11, 1, 12, 0)
    for i in range(240):
        acct, user = f"A{i % 3 + 1}", f"u{i % 2}"
        moment = start + timedelta(minutes=30 * i)  # 30-minute steps: 48 a day, 5 days
        stamp = (moment - timedelta(hours=9)).isoformat() + "Z" if utc else moment.isoformat()
        lines.append(f"{acct},{user},{stamp},{i}")
        key = (acct, user, moment.date())
        events, secs = expected.get(key, (0, 0.0))
        expected[key] = (events + 1, secs + i)
    lines.insert(100, "")  # a blank line (line 101) is skipped, not counted, not rejected
    lines.insert(231, "A1,u1,not-a-time,1")  # file line 232
    write(folder, "events.csv", "\n".join(lines) + "\n")
    return sorted((a, u, d, e, s) for (a, u, d), (e, s) in expected.items())


def test_events_rolled_up_in_small_chunks_add_up_to_the_same_totals(engine, settings, tmp_path, monkeypatch):
    expected = _many_events(tmp_path / "x")
    monkeypatch.setattr(sync_events, "AGG_MAX_KEYS", 3)

    summary = sync(engine, tmp_path / "x", settings)

    assert summary.table("events").inserted == 240
    assert usage(engine) == expected
    assert [r[:3] for r in rejected(engine)] == [("events.csv", 232, "occurred_at")]


@pytest.mark.parametrize("utc", [False, True], ids=["workspace-time", "utc"])
def test_events_read_by_parallel_workers_give_the_same_totals_and_lines(engine, settings, tmp_path, monkeypatch, utc):
    expected = _many_events(tmp_path / "x", utc=utc)
    monkeypatch.setattr(sync_events, "READER", "rows")  # the row reader (the default is columnar)
    monkeypatch.setattr(sync_events, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(sync_events, "WORKERS", 2)
    monkeypatch.setattr(sync_events, "AGG_MAX_KEYS", 5)
    calls = []
    real = sync_events._load_parallel
    monkeypatch.setattr(sync_events, "_load_parallel", lambda *a: calls.append(len(a[1])) or real(*a))

    summary = sync(engine, tmp_path / "x", settings)

    assert calls == [2]  # two worker processes read the file
    assert summary.table("events").read == 241
    assert usage(engine) == expected
    assert [r[:3] for r in rejected(engine)] == [("events.csv", 232, "occurred_at")]
    again = sync(engine, tmp_path / "x", settings).table("events")
    assert (again.inserted, again.unchanged) == (0, 240)


def test_gzipped_csv_loads_like_plain_csv(engine, settings, tmp_path):
    folder = tmp_path / "gz"
    folder.mkdir()
    for path in BASIC.iterdir():
        with open(path, "rb") as src, gzip.open(folder / (path.name + ".gz"), "wb") as dst:
            dst.write(src.read())
    summary = sync(engine, folder, settings)
    assert summary.rows_in == 17
    assert usage(engine)[0] == ("A1", "u1", date(2026, 11, 21), 2, 90.0)


# --------------------------------------------------------------------------- transactions, log, after-sync steps


def test_failing_after_sync_step_rolls_back_everything_and_logs_a_failed_run(engine, settings):
    def broken(conn, summary):
        raise RuntimeError("health snapshot exploded")

    summary = run_sync(engine, CsvSource(BASIC), settings=settings, after=(broken,))

    assert summary.status == "failed" and "health snapshot exploded" in summary.message
    assert "after-sync step broken failed" in summary.message
    assert rows(engine, schema.accounts) == [] and usage(engine) == []
    assert rows(engine, schema.sync_log, "status", "message") == [("failed", summary.message)]


def test_after_sync_steps_see_the_new_data_inside_the_same_transaction_in_order(engine, settings):
    seen = []

    def count_accounts(conn, summary):
        seen.append((sorted(conn.execute(select(schema.accounts.c.account_id)).scalars()), summary.status))

    def second(conn, summary):
        seen.append("second")

    sync(engine, BASIC, settings, after=(count_accounts, second))
    assert seen == [(["A1", "A2", "A3"], "ok"), "second"]
    sync(engine, BASIC, settings)  # without steps, nothing else runs
    assert len(seen) == 2


def test_sync_log_records_each_run_and_status_shows_rejected_rows(engine, settings, tmp_path):
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "nps.csv", "response_id,account_id,score,responded_at\nN1,A1,12,2026-01-01\nN2,A1,9,2026-01-01\n")
    first = sync(engine, folder, settings)
    run_sync(engine, CsvSource(tmp_path / "missing"), settings=settings)  # fails: no such folder

    status = sync_status(engine)

    assert [(r.status, r.rows_in, r.rows_changed, r.rows_rejected) for r in status.runs] == [
        ("failed", 0, 0, 0),
        ("ok", 3, 2, 1),
    ]
    assert status.runs[1].source == f"csv:{folder.resolve()}"
    assert status.runs[0].message.startswith(str(tmp_path / "missing"))
    assert status.last_success is not None and status.last_success == status.runs[1].finished_at
    assert status.rejected_total == 1
    (rej,) = status.rejected
    assert (rej.file, rej.line, rej.column) == ("nps.csv", 2, "score") and "out of range" in rej.reason
    assert first.sync_id == status.runs[1].sync_id
    later = status.last_success + timedelta(hours=40)
    assert status.hours_since_success(later) == pytest.approx(40.0)
    assert status.is_stale(settings, later) and not status.is_stale(settings, status.last_success)


def test_dry_run_counts_everything_and_saves_nothing(engine, settings):
    summary = sync(engine, BASIC, settings, dry_run=True)
    assert summary.status == "dry-run" and summary.table("accounts").inserted == 3
    assert rows(engine, schema.accounts) == [] and rows(engine, schema.sync_log) == []


def _engine_url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


KILL_SCRIPT = """
import os, signal, sys
from pathlib import Path
from metrics.db import make_engine
from metrics.settings import Settings
from metrics.sync import CsvSource, run_sync
from metrics.sync import events as sync_events

sync_events.AGG_MAX_KEYS = 2  # write usage in tiny chunks so the kill lands after some of it

def progress(table, rows, seconds):
    if table == "events":
        print("killing", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

url, folder = sys.argv[1], sys.argv[2]
run_sync(make_engine(url), CsvSource(Path(folder)), settings=Settings(database_url=url), progress=progress)
print("not killed", flush=True)
"""


def test_killed_mid_run_leaves_the_database_exactly_as_before(engine, settings, tmp_path):
    sync(engine, BASIC, settings)
    before = dump(engine)
    folder = copy_basic(tmp_path)
    with open(folder / "accounts.csv", "a") as f:
        f.write("A4,Delta,pro,smb,low,U09,JP,Retail,3,,2026-01-01,\n")
    with open(folder / "events.csv", "a") as f:
        f.write("".join(f"e{i},A4,u9,2026-11-21T10:{i % 60:02d}:00+09:00,view,1\n" for i in range(10, 40)))
    (folder / "subscriptions.csv").write_text((folder / "subscriptions.csv").read_text().replace("100000", "120000"))

    done = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, _engine_url(engine), str(folder)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )

    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
    assert "killing" in done.stdout
    assert dump(engine) == before
    # the dead process's lock is stale: the next sync runs and takes the whole export
    after = sync(engine, folder, settings)
    assert after.table("accounts").inserted == 1 and after.table("events").inserted == 30
    assert rows(engine, schema.subscriptions, "subscription_id", "mrr")[0] == ("S1", 120000.0)


# --------------------------------------------------------------------------- one sync at a time


def _hold_lock(engine, pid: int, acquired_at: datetime | None = None, host: str | None = None) -> None:
    import socket

    with engine.begin() as conn:
        conn.execute(
            insert(schema.sync_lock).values(
                name="sync", holder="other", host=host or socket.gethostname(), pid=pid, source="csv:/elsewhere",
                acquired_at=acquired_at or datetime.utcnow(),
            )
        )


def test_second_sync_is_refused_while_another_one_runs(engine, settings):
    _hold_lock(engine, os.getppid())  # a live process holds the lock

    summary = run_sync(engine, CsvSource(BASIC), settings=settings)

    assert summary.status == "busy" and "another sync is running" in summary.message
    assert rows(engine, schema.accounts) == []
    assert sync_status(engine).running is not None


def test_lock_left_by_a_dead_process_does_not_block(engine, settings):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _hold_lock(engine, dead.pid)
    assert sync(engine, BASIC, settings).status == "ok"
    assert rows(engine, schema.sync_lock) == []


def test_lock_older_than_the_ttl_from_another_host_does_not_block(engine, settings):
    _hold_lock(engine, 1, acquired_at=datetime.utcnow() - timedelta(hours=5), host="elsewhere.example")
    assert sync(engine, BASIC, settings).status == "ok"


# --------------------------------------------------------------------------- SQL source


def _fight_churn_db(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE account (id INTEGER PRIMARY KEY, channel TEXT, date_of_birth DATE, country TEXT);
        CREATE TABLE subscription (id INTEGER PRIMARY KEY, account_id INTEGER, product_id INTEGER,
            start_date DATE, end_date DATE, mrr FLOAT, quantity FLOAT, units TEXT, bill_period_months INTEGER);
        CREATE TABLE event (account_id INTEGER, event_time TIMESTAMP, event_type_id INTEGER, user_id INTEGER);
        INSERT INTO account VALUES (1, 'appstore1', '1980-05-01', 'JP'), (2, 'web', '1990-01-31', 'US');
        INSERT INTO subscription VALUES
            (10, 1, 1, '2020-01-01', '2020-02-01', 9.99, 1.0, NULL, 1),
            (11, 1, 1, '2020-02-01', NULL, 9.99, 1.0, NULL, 1),
            (12, 2, 2, '2020-01-15', NULL, 19.5, 2.0, 'seats', 12);
        INSERT INTO event VALUES
            (1, '2020-01-03 10:00:00', 0, 100), (1, '2020-01-03 11:00:00', 1, 100),
            (1, '2020-01-04 09:00:00', 0, 101), (2, '2020-01-20 23:59:59', 3, 200);
        """
    )
    db.commit()
    db.close()


FIGHT_CHURN_MAPPING = """
[tables.accounts]
query = "SELECT id AS account_id, 'account ' || id AS name, channel, date_of_birth, country FROM account"

[tables.subscriptions]
query = "SELECT * FROM subscription"
[tables.subscriptions.columns]
id = "subscription_id"
product_id = "product"

[tables.events]
query = "SELECT * FROM event"
[tables.events.columns]
event_time = "occurred_at"
event_type_id = "event_type"
"""


def test_fight_churn_subscription_and_event_tables_load_through_a_mapping(engine, settings, tmp_path):
    _fight_churn_db(tmp_path / "churn.db")
    mapping = write(tmp_path, "mapping.toml", FIGHT_CHURN_MAPPING)
    source = SqlSource.from_mapping(f"sqlite:///{tmp_path / 'churn.db'}", mapping)

    summary = run_sync(engine, source, settings=settings)

    assert summary.status == "ok", summary.message
    assert summary.rejected == 0
    assert rows(engine, schema.subscriptions, "subscription_id", "account_id", "product", "start_date", "end_date", "mrr",
                "quantity", "bill_period_months") == [
        ("10", "1", "1", date(2020, 1, 1), date(2020, 2, 1), 9.99, 1, 1),
        ("11", "1", "1", date(2020, 2, 1), None, 9.99, 1, 1),
        ("12", "2", "2", date(2020, 1, 15), None, 19.5, 2, 12),
    ]
    assert rows(engine, schema.accounts, "account_id", "attributes")[0] == (
        "1", {"channel": "appstore1", "date_of_birth": "1980-05-01", "country": "JP"}
    )
    assert usage(engine) == [
        ("1", "100", date(2020, 1, 3), 2, 0.0),
        ("1", "101", date(2020, 1, 4), 1, 0.0),
        ("2", "200", date(2020, 1, 20), 1, 0.0),
    ]
    assert summary.source == f"sql:sqlite:///{tmp_path / 'churn.db'}"
    again = run_sync(engine, SqlSource.from_mapping(f"sqlite:///{tmp_path / 'churn.db'}", mapping), settings=settings)
    assert again.rows_changed == 0


def test_warehouse_mapping_example_parses(tmp_path):
    queries = {q.table: q for q in load_mapping(FIXTURES / "warehouse_mapping.toml")}
    assert sorted(queries) == ["accounts", "events", "subscriptions"]
    assert ("message_id", "event_id") in queries["events"].renames
    assert ("timestamp", "occurred_at") in queries["events"].renames
    assert "stripe.subscription_item" in queries["subscriptions"].query


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[tables.invoices]\nquery = 'SELECT 1'\n", "unknown table [tables.invoices]"),
        ("[tables.events]\nsql = 'SELECT 1'\n", "needs query"),
        ("[tables.events\n", "not valid TOML"),
    ],
)
def test_bad_mapping_file_is_explained_in_one_line(tmp_path, text, expected):
    path = write(tmp_path, "m.toml", text)
    with pytest.raises(SourceError) as err:
        load_mapping(path)
    assert expected in str(err.value) and "\n" not in str(err.value)
