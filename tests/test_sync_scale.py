"""The sync at scale: what keeps it linear and what an events file in any order gives.

Speed itself is measured by ``benchmarks/bench_scale_sync.py`` (figures, not tests);
these tests prove the mechanisms the figures rest on.
"""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, inspect, select
from sync_helpers import usage, write

from bot.cli import build_parser
from metrics import schema
from metrics.db import make_engine
from metrics.settings import Settings
from metrics.sync import CsvSource, run_sync
from metrics.sync import run as sync_run
from metrics.sync.eventparse import EventParams, EventParser

BASIC = Path(__file__).parent / "fixtures" / "sync" / "basic"


def _accounts(n: int) -> str:
    return "account_id,name\n" + "".join(f"A{i:03d},Company {i}\n" for i in range(n))


def _subscriptions(n: int) -> str:
    return "subscription_id,account_id,product,start_date,mrr\n" + "".join(
        f"S{i:03d},A{i:03d},core,2026-01-01,{100 * (i + 1)}\n" for i in range(n))


def test_key_lookups_into_a_table_the_sync_is_filling_are_planned_each_time_on_postgresql(engine, settings, tmp_path,
                                                                                          monkeypatch):
    """psycopg 3 prepares a statement after five runs and PostgreSQL may keep the plan it made while the
    table was nearly empty (a sequential scan: the sync grew quadratically). Every lookup of the sync's
    chunks must run unprepared, and the connection gets its setting back afterwards."""
    if engine.dialect.name != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's (run with CSBOT_TEST_DATABASE_URL)")
    monkeypatch.setattr(sync_run, "CHUNK", 4)  # 40 rows: ten lookups per table, past psycopg's threshold of five
    folder = tmp_path / "export"
    write(folder, "accounts.csv", _accounts(40))
    write(folder, "subscriptions.csv", _subscriptions(40))
    write(folder, "events.csv", "event_id,account_id,user_id,occurred_at\n"
          + "".join(f"e{i},A{i % 40:03d},u{i % 3},2026-11-0{1 + i % 9}T10:00:00\n" for i in range(60)))
    monkeypatch.setattr("metrics.sync.events.ID_CHUNK", 5)  # twelve id lookups in sync_seen_events
    seen: list[tuple[str, object]] = []

    def watch(conn, cursor, statement, params, context, executemany):
        upper = statement.lstrip().upper()
        lookup = upper.startswith("SELECT") and (" IN (" in upper or " = ANY (" in upper)
        if lookup:
            seen.append((statement.split("FROM", 1)[1].split()[0], conn.connection.dbapi_connection.prepare_threshold))

    event.listen(engine, "before_cursor_execute", watch)
    try:
        summary = run_sync(engine, CsvSource(folder), settings=settings)
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    assert summary.status == "ok", summary.message
    ours = [(name, t) for name, t in seen if name in ("accounts", "subscriptions", "sync_seen_events")]
    assert {name for name, _ in ours} == {"accounts", "subscriptions", "sync_seen_events"}
    assert sum(1 for name, _ in ours if name == "accounts") >= 10
    assert [(name, t) for name, t in ours if t is not None] == []
    with engine.connect() as conn:
        assert conn.connection.dbapi_connection.prepare_threshold == 5
        assert conn.execute(select(func.count()).select_from(schema.subscriptions)).scalar_one() == 40
        assert conn.execute(select(func.sum(schema.subscriptions.c.mrr))).scalar_one() == sum(100 * (i + 1) for i in range(40))
        assert conn.execute(select(func.sum(schema.usage_daily.c.events))).scalar_one() == 60


# --------------------------------------------------------------------------- events in any order


def _events(n_accounts: int, n_events: int, seed: int = 3) -> tuple[list[str], list[tuple]]:
    """Time-ordered event lines (account, user, time, seconds) over five days, and the usage they give
    as (account, user, day, events, seconds), hand-counted."""
    rng = random.Random(seed)
    lines, expected = [], {}
    for i in range(n_events):
        account = f"A{rng.randrange(n_accounts):03d}"
        user = f"{account}-u{rng.randrange(3)}"
        day, minute = divmod(i * 5 * 1440 // n_events, 1440)
        lines.append(f"{account},{user},2026-11-0{1 + day}T{minute // 60:02d}:{minute % 60:02d}:00,{i % 7}")
        key = (account, user, date(2026, 11, 1 + day))
        events, seconds = expected.get(key, (0, 0.0))
        expected[key] = (events + 1, seconds + i % 7)
    return lines, sorted((a, u, d, e, s) for (a, u, d), (e, s) in expected.items())


def _parse(lines: list[str], max_keys: int) -> tuple[list[str], dict]:
    """Feed ``lines`` to an EventParser: the kinds it emitted, in order, and what they add up to."""
    kinds, total = [], {}

    def emit(kind, payload):
        if kind in ("agg", "part"):
            kinds.append(kind)
            for a, u, d, e, s in payload:
                old = total.get((a, u, d), (0, 0.0))
                total[(a, u, d)] = (old[0] + e, old[1] + s)

    params = EventParams(ia=0, iu=1, it=2, idur=3, iid=None, width=4, timezone="Asia/Tokyo",
                         known=frozenset(f"A{i:03d}" for i in range(20)), watermark=None, max_keys=max_keys,
                         id_chunk=1000, future_limit=datetime(2030, 1, 1), late_before=None)
    parser = EventParser(params, emit)
    parser.feed(([*line.split(",")] for line in lines), None, 1)
    parser.finish()
    return kinds, total


def test_a_time_ordered_file_adds_each_finished_day_at_once_and_a_shuffled_one_is_staged():
    """In time order a handed-on day never comes again, so its keys go straight into usage_daily ("agg");
    once the file goes back in time every roll-up may hold keys that come again, so it is staged ("part")
    and added up once. Both add up to the same totals."""
    lines, expected = _events(20, 600)
    want = {(a, u, d.isoformat()): (e, s) for a, u, d, e, s in expected}
    kinds, total = _parse(lines, max_keys=40)
    assert set(kinds) == {"agg"} and len(kinds) > 3
    assert total == want
    shuffled = lines[:]
    random.Random(5).shuffle(shuffled)
    kinds, total = _parse(shuffled, max_keys=40)
    assert "part" in kinds and kinds[-1] == "part"
    assert kinds.index("part") <= 2 and "agg" not in kinds[kinds.index("part"):]
    assert total == want


def test_a_shuffled_events_file_gives_the_usage_of_the_same_file_in_time_order(engine, settings, tmp_path, monkeypatch):
    monkeypatch.setattr("metrics.sync.events.AGG_MAX_KEYS", 25)  # a few keys at a time: many roll-ups staged
    lines, expected = _events(20, 800)
    random.Random(9).shuffle(lines)
    folder = tmp_path / "shuffled"
    write(folder, "accounts.csv", _accounts(20))
    write(folder, "events.csv", "account_id,user_id,occurred_at,duration_seconds\n" + "\n".join(lines) + "\n")

    summary = run_sync(engine, CsvSource(folder), settings=settings)

    assert summary.status == "ok", summary.message
    assert summary.table("events").inserted == 800
    assert usage(engine) == expected
    assert not [t for t in inspect(engine).get_table_names() if t.startswith("csbot_usage_stage")]  # gone with the run


# --------------------------------------------------------------------------- DuckDB


def test_csbot_sync_into_a_duckdb_file_the_bot_holds_says_so_and_what_to_do(tmp_path, capsys):
    """DuckDB lets one process at a time open its file: a sync while the bot runs gets one clear line, not
    DuckDB's lock error, and changes nothing; once the file is free the same sync loads."""
    pytest.importorskip("duckdb_engine")
    path = tmp_path / "csbot.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
                               "sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        settings = Settings(data_dir=tmp_path / "data", database_url=f"duckdb:///{path}")
        args = build_parser().parse_args(["sync", "--csv", str(BASIC)])
        assert args.run(args, settings) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"csbot sync: the DuckDB file {path} is in use by another process (PID {holder.pid})")
        assert "the running csbot bot" in err and "CSBOT_SYNC_SCHEDULE" in err and "stop the bot, run csbot sync" in err
        assert "Conflicting lock" not in err and "IO Error" not in err and len(err.strip().splitlines()) == 1
    finally:
        holder.communicate("", timeout=30)
    assert args.run(args, settings) == 0  # the bot stopped: the sync loads
    engine = make_engine(f"duckdb:///{path}")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.accounts)).scalar_one() == 3
        assert conn.execute(select(func.sum(schema.usage_daily.c.events))).scalar_one() == 4
    engine.dispose()
