"""After a sync, what is derived from the data is brought up to date (docs/data-contract.md,
issue 4): a real `csbot sync` in a fresh process writes today's health snapshots, because
its caller passes the after-sync steps of metrics.derived; run_sync alone writes none."""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from metrics import schema
from metrics.clock import local_today
from metrics.db import make_engine
from metrics.derived import after_sync_steps
from metrics.settings import load_settings
from metrics.sync import CsvSource, run_sync

FIXTURES = Path(__file__).parent / "fixtures" / "sync" / "basic"


def snapshot_days(engine) -> dict:
    h = schema.health_snapshots
    with engine.connect() as conn:
        return dict(conn.execute(select(h.c.day, func.count()).group_by(h.c.day)).all())


def test_run_sync_without_steps_writes_no_snapshots_and_with_the_derived_steps_writes_the_days(engine, settings):
    assert run_sync(engine, CsvSource(FIXTURES), settings=settings).status == "ok"
    assert snapshot_days(engine) == {}
    day = date(2026, 11, 22)
    summary = run_sync(engine, CsvSource(FIXTURES), settings=settings, after=after_sync_steps(settings, day))
    assert summary.status == "ok"
    days = snapshot_days(engine)
    assert list(days) == [day] and days[day] > 0


def test_a_plain_csbot_sync_writes_todays_health_snapshots_of_the_paying_accounts(tmp_path):
    url = f"sqlite:///{tmp_path / 'team.db'}"
    env = {**os.environ, "DATABASE_URL": url, "CSBOT_DATA_DIR": str(tmp_path)}
    tz = load_settings(env).tz
    before = local_today(tz)
    done = subprocess.run([sys.executable, "-m", "bot.cli", "sync", "--csv", str(FIXTURES)], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    engine = make_engine(url)
    with engine.connect() as conn:
        accounts = conn.execute(select(func.count()).select_from(schema.accounts)).scalar_one()
    days = snapshot_days(engine)
    engine.dispose()
    assert accounts > 0 and len(days) == 1
    (day, count), = days.items()
    assert day in (before, local_today(tz)) and count > 0


def test_demo_force_forgets_synced_events_so_a_later_sync_counts_them_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'team.db'}"
    env = {**os.environ, "DATABASE_URL": url, "CSBOT_DATA_DIR": str(tmp_path)}

    def csbot(*args):
        done = subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, capture_output=True, text=True,
                              timeout=180, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done

    def usage_events():
        engine = make_engine(url)
        with engine.connect() as conn:
            n = conn.execute(select(func.coalesce(func.sum(schema.usage_daily.c.events), 0))
                             .where(schema.usage_daily.c.account_id.in_(("A1", "A2", "A3")))).scalar_one()
        engine.dispose()
        return n

    csbot("sync", "--csv", str(FIXTURES))
    synced = usage_events()
    assert synced > 0
    csbot("demo", "--force")  # the team's data (usage included) is replaced by the demo company
    csbot("sync", "--csv", str(FIXTURES))  # the same export again: its events must count again
    assert usage_events() == synced


def test_demo_force_over_synced_data_leaves_todays_health_snapshots_with_red_accounts(tmp_path, monkeypatch, capsys):
    # before the restructure `csbot demo --force` deleted the snapshots and wrote none: the first digest
    # said "Accounts in red: —" while /health showed red accounts
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'team.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CSBOT_DATA_DIR", str(tmp_path))
    tz = load_settings(dict(os.environ)).tz
    assert main(["sync", "--csv", str(FIXTURES)]) == 0
    before = local_today(tz)
    assert main(["demo", "--force"]) == 0, capsys.readouterr().err
    engine = make_engine(url)
    days = snapshot_days(engine)
    h = schema.health_snapshots
    with engine.connect() as conn:
        red = conn.execute(select(func.count()).where(h.c.band == "red")).scalar_one()
    engine.dispose()
    (day, count), = days.items()
    assert day in (before, local_today(tz)) and count > 200 and red > 0
