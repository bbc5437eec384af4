"""`csbot sync ...` on the command line, the status view and the scheduled sync."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sync_helpers import write

from bot.cli import build_parser
from metrics import schema
from metrics.clock import local_today
from metrics.settings import Settings
from metrics.sync import next_run_after, scheduled_sync

FIXTURES = Path(__file__).parent / "fixtures" / "sync"
BASIC = FIXTURES / "basic"


def cli(argv: list[str], settings: Settings) -> int:
    """``csbot sync <argv>`` through the csbot parser, with these settings: the exit code."""
    try:
        args = build_parser().parse_args(["sync", *argv])
    except SystemExit as exc:  # a usage error (2) or --help (0)
        return int(exc.code or 0)
    return args.run(args, settings)


@pytest.fixture
def db_settings(engine, tmp_path) -> Settings:
    """Settings pointing the CLI at the test database (no sync source configured)."""
    return Settings(data_dir=tmp_path / "data", database_url=engine.url.render_as_string(hide_password=False))


def test_sync_prints_a_summary_per_table_and_exits_0(db_settings, capsys):
    assert cli(["--csv", str(BASIC)], db_settings) == 0
    out, err = capsys.readouterr()
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line and line.split()[0] in ("accounts", "events")}
    assert lines["accounts"] == ["3", "3", "0", "0", "0"]  # read inserted updated unchanged rejected
    assert lines["events"] == ["4", "4", "0", "0", "0"]
    assert "17 rows read in" in out
    assert "\r" not in err  # not a terminal: no progress line


def test_progress_shows_rows_and_rate_on_a_terminal(db_settings, capsys, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    fake = Tty()
    monkeypatch.setattr("sys.stderr", fake)
    assert cli(["--csv", str(BASIC)], db_settings) == 0
    assert "\r  accounts" in fake.getvalue() and "rows/s" in fake.getvalue()


def test_help_shows_the_options_and_an_example(db_settings, capsys):
    assert cli(["--help"], db_settings) == 0
    out = capsys.readouterr().out
    assert "--full-refresh" in out and "csbot sync --csv ./exports" in out


@pytest.mark.parametrize(
    "argv",
    [[], ["--sql", "sqlite:///x.db"], ["--mapping", "m.toml"], ["--status", "--full-refresh"], ["--nope"], ["--csv"]],
)
def test_usage_errors_exit_2_with_one_line(db_settings, capsys, argv):
    assert cli(argv, db_settings) == 2
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and err.startswith("csbot sync:")
    assert "Traceback" not in err


def test_failed_run_exits_1_with_one_line_and_no_traceback(db_settings, capsys, tmp_path):
    assert cli(["--csv", str(tmp_path / "nowhere")], db_settings) == 1
    out, err = capsys.readouterr()
    assert err.splitlines()[-1] == (f"csbot sync: {tmp_path / 'nowhere'}: no such folder; "
                                    "give the folder that holds accounts.csv, subscriptions.csv ...")
    assert "Traceback" not in err


def test_password_of_the_source_is_never_printed_nor_logged(db_settings, engine, capsys, tmp_path):
    mapping = write(tmp_path, "m.toml", '[tables.accounts]\nquery = "SELECT 1"\n')
    code = cli(["--sql", "postgresql://bob:s3cret-pw@127.0.0.1:1/warehouse", "--mapping", str(mapping)], db_settings)
    out, err = capsys.readouterr()
    assert code == 1
    assert "s3cret-pw" not in out + err
    assert "bob:***@127.0.0.1:1/warehouse" in err
    with engine.connect() as conn:
        logged = conn.execute(select(schema.sync_log.c.source, schema.sync_log.c.message)).one()
    assert "s3cret-pw" not in " ".join(logged) and logged.source == "sql:postgresql://bob:***@127.0.0.1:1/warehouse"


def test_status_shows_last_runs_freshness_and_rejected_rows(db_settings, capsys, tmp_path):
    folder = tmp_path / "x"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "nps.csv", "response_id,account_id,score,responded_at\nN1,A1,12,2026-01-01\n")
    assert cli(["--csv", str(folder)], db_settings) == 0
    capsys.readouterr()

    assert cli(["--status"], db_settings) == 0
    out = capsys.readouterr().out
    assert out.startswith("Last successful sync: ")
    assert "ok" in out and f"csv:{folder.resolve()}" in out
    assert "nps.csv:2 [score]: NPS score 12 out of range 0-10" in out


def test_dry_run_saves_nothing(db_settings, engine, capsys):
    assert cli(["--csv", str(BASIC), "--dry-run"], db_settings) == 0
    assert "dry run, nothing saved" in capsys.readouterr().out
    with engine.connect() as conn:
        assert conn.execute(select(schema.accounts)).all() == []


def test_scheduled_sync_takes_its_source_from_the_settings_and_writes_the_days_snapshots(db_settings, engine):
    assert scheduled_sync(db_settings) is None  # nothing configured: nothing done
    now = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)
    summary = scheduled_sync(replace(db_settings, sync_csv_dir=BASIC), now=now)
    assert summary is not None and summary.status == "ok" and summary.rows_in == 17
    with engine.connect() as conn:
        assert len(conn.execute(select(schema.accounts)).all()) == 3
        days = conn.execute(select(schema.health_snapshots.c.day, func.count())
                            .group_by(schema.health_snapshots.c.day)).all()
    assert [day for day, n in days if n > 0] == [local_today(db_settings.tz, now)]


def test_scheduled_sync_is_skipped_while_another_sync_runs(db_settings, engine):
    import os
    import socket

    from sqlalchemy import insert

    with engine.begin() as conn:
        conn.execute(insert(schema.sync_lock).values(
            name="sync", holder="cli", host=socket.gethostname(), pid=os.getppid(), acquired_at=datetime.utcnow()))
    assert scheduled_sync(replace(db_settings, sync_csv_dir=BASIC)) is None
    with engine.connect() as conn:
        assert conn.execute(select(schema.accounts)).all() == []


def test_schedule_is_read_as_cron():
    assert next_run_after("0 6 * * *", datetime(2026, 11, 22, 7, 0)) == datetime(2026, 11, 23, 6, 0)
    with pytest.raises(ValueError, match="CSBOT_SYNC_SCHEDULE"):
        next_run_after("every morning", datetime(2026, 11, 22))


def test_parquet_files_load_when_pyarrow_is_installed(db_settings, engine, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    folder = tmp_path / "pq"
    folder.mkdir()
    pq.write_table(pa.table({"account_id": ["A1"], "name": ["Acme"]}), folder / "accounts.parquet")
    pq.write_table(
        pa.table({"account_id": ["A1", "A1"], "user_id": ["u1", "u1"], "occurred_at": ["2026-11-20T10:00:00", "2026-11-20T11:00:00"]}),
        folder / "events.parquet",
    )
    assert cli(["--csv", str(folder)], db_settings) == 0
    with engine.connect() as conn:
        assert conn.execute(select(schema.usage_daily.c.events)).scalar_one() == 2


def test_a_refused_file_loads_the_rest_but_exits_3_so_a_script_notices(db_settings, tmp_path, capsys):
    folder = tmp_path / "exports"
    write(folder, "accounts.csv", "account_id,name\nA1,Acme\n")
    write(folder, "subscriptions.csv", "account_id,product,start_date,end_dat,mrr\nA1,core,2026-01-01,2026-10-01,300\n")

    assert cli(["--csv", str(folder)], db_settings) == 3

    out, err = capsys.readouterr()
    assert "did you mean end_date?" in out and "did you mean end_date?" in err
    assert out.splitlines()[1].split()[:3] == ["accounts", "1", "1"]
