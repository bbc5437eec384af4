"""The sync at scale: what keeps it linear and what an events file in any order gives.

Speed itself is measured by ``benchmarks/bench_scale_sync.py`` (figures, not tests);
these tests prove the mechanisms the figures rest on.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select
from sync_helpers import write

from metrics import schema
from metrics.sync import CsvSource, run_sync
from metrics.sync import run as sync_run


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
