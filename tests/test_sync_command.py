"""/cs sync: freshness, the last runs and the rejected rows with their reasons (raw values: not public)."""

from dataclasses import replace
from datetime import datetime

from commands.privacy import may_be_public
from metrics import schema


def add_run(engine, finished, status="ok", rejected=(), table="nps"):
    with engine.begin() as conn:
        sync_id = conn.execute(schema.sync_log.insert().values(
            source="csv:/srv/exports", started_at=finished, finished_at=finished, status=status,
            rows_in=120, rows_changed=7, rows_rejected=len(rejected))).inserted_primary_key[0]
        for line, column, reason in rejected:
            conn.execute(schema.rejected_rows.insert().values(
                sync_id=sync_id, table_name=table, file=f"{table}.csv", line=line, column_name=column, reason=reason))


def test_sync_shows_freshness_and_the_rejected_rows_with_file_line_and_reason(engine, ask):
    # the fixed now is 2026-11-22 00:30 UTC; the sync finished 6.5 hours before
    add_run(engine, datetime(2026, 11, 21, 18, 0), rejected=[(14, "score", "score 11 is out of range 0-10")])
    reply = ask("/cs sync")
    assert reply.title == "Last good sync 2026-11-22 03:00 (6 h ago)"  # Tokyo time
    assert "• nps.csv:14 [score]: score 11 is out of range 0-10" in reply.lines
    assert reply.table.rows[0][1:5] == ("ok", "120", "7", "1")


def test_sync_flags_stale_data(engine, ask):
    add_run(engine, datetime(2026, 11, 19, 0, 0))  # 72 hours old; the default limit is 36
    reply = ask("sync")
    assert any("stale" in line for line in reply.lines)


def test_sync_before_any_sync_says_how_to_load_data(engine, ask):
    reply = ask("同期")
    assert reply.language == "ja" and "csbot sync --csv" in reply.lines[0]


def test_sync_quoting_raw_rejected_values_is_shown_only_to_the_asker_outside_revenue_channels(engine, ask, settings):
    add_run(engine, datetime(2026, 11, 21, 18, 0), table="subscriptions",
            rejected=[(7, "mrr", "'¥980,000' is not a number")])
    reply = ask("/cs sync")
    assert "• subscriptions.csv:7 [mrr]: '¥980,000' is not a number" in reply.lines
    cfg = replace(settings, revenue_channels=("C0REVENUE",))
    assert not may_be_public(reply, cfg, "C0GENERAL")
    assert may_be_public(reply, cfg, "C0REVENUE") and may_be_public(reply, cfg, "D0ASKER", is_dm=True)


def test_sync_without_raw_values_may_be_public_anywhere(engine, ask, settings):
    add_run(engine, datetime(2026, 11, 21, 18, 0))
    reply = ask("/cs sync")
    assert reply.title == "Last good sync 2026-11-22 03:00 (6 h ago)" and not any("•" in line for line in reply.lines)
    assert may_be_public(reply, replace(settings, revenue_channels=("C0REVENUE",)), "C0GENERAL")
