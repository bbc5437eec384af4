"""`csbot ask` that draws no chart does not import matplotlib (a quarter of a second of every
answer's start-up): the bot's entry points import it only inside the function that draws.

Each check runs in a fresh interpreter (this test process may have loaded matplotlib already).
The same script answering a question that has a chart does load it, which shows the check sees
an import when there is one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import seed_two_plans

from metrics import schema
from metrics.db import make_engine

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import json, sys
from pathlib import Path
import bot.cli, bot.console, bot.slack.app, bot.slack.poster, bot.jobs  # every entry point, imported
imported_at_start = "matplotlib" in sys.modules
from bot.console import answer_once
from metrics.settings import Settings
settings = Settings(data_dir=Path(sys.argv[1]) / "data", database_url=sys.argv[2])
code = answer_once(settings, sys.argv[3])
charts = list((Path(sys.argv[1]) / "data" / "charts").glob("*.png"))
print(json.dumps({"at_start": imported_at_start, "after": "matplotlib" in sys.modules, "code": code,
                  "charts": len(charts)}))
"""


def _ask_in_a_fresh_process(tmp_path: Path, question: str) -> tuple[dict, str]:
    db = tmp_path / "csbot.db"
    if not db.exists():
        engine = make_engine(f"sqlite:///{db}")
        schema.metadata.create_all(engine)
        seed_two_plans(engine)
        engine.dispose()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for key in ("DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        env.pop(key, None)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), f"sqlite:///{db}", question],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    *answer, last = done.stdout.strip().splitlines()
    return json.loads(last), "\n".join(answer)


def test_an_answer_without_a_chart_never_imports_matplotlib(tmp_path):
    result, text = _ask_in_a_fresh_process(tmp_path, "term NRR")
    assert "Net Revenue Retention" in text and result["code"] == 0  # the question was answered
    assert result["charts"] == 0
    assert result["at_start"] is False and result["after"] is False


def test_an_answer_with_data_but_no_chart_never_imports_matplotlib(tmp_path):
    result, text = _ask_in_a_fresh_process(tmp_path, "customers")
    assert result["code"] == 0 and result["charts"] == 0, text
    assert result["after"] is False


def test_an_answer_with_a_chart_does_import_it_when_it_draws(tmp_path):
    result, text = _ask_in_a_fresh_process(tmp_path, "churn 2026-10")
    assert result["code"] == 0, text
    assert result["charts"] == 1 and result["at_start"] is False and result["after"] is True
