"""After a sync, what is derived from the data is brought up to date (data-contract.md,
issue 4): a real `csbot sync` in a fresh process writes today's health snapshots."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from metrics import schema
from metrics.db import make_engine

FIXTURES = Path(__file__).parent / "fixtures" / "sync" / "basic"


def test_a_csv_sync_writes_the_health_snapshots_of_the_paying_accounts(tmp_path):
    url = f"sqlite:///{tmp_path / 'team.db'}"
    env = {**os.environ, "DATABASE_URL": url, "CSBOT_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "sync", "--csv", str(FIXTURES)], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    engine = make_engine(url)
    with engine.connect() as conn:
        snapshots = conn.execute(select(func.count()).select_from(schema.health_snapshots)).scalar_one()
        accounts = conn.execute(select(func.count()).select_from(schema.accounts)).scalar_one()
    engine.dispose()
    assert accounts > 0 and snapshots > 0


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
