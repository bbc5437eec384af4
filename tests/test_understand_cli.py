"""``csbot ask`` says by its exit status whether it answered: 0 answered, 2 not understood or refused
(the question is to be changed), 1 an error."""

from __future__ import annotations

import shutil

import pytest

from bot.cli import main


@pytest.fixture
def demo_cli(monkeypatch, tmp_path, shared_demo):
    """The embedded database holding the demo company (a copy of the shared one on SQLite)."""
    if shared_demo.path is None:
        pytest.skip("the embedded database is SQLite")
    monkeypatch.chdir(tmp_path)
    for key in ("DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL",
                "CSBOT_LANGUAGE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CSBOT_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    shutil.copyfile(shared_demo.path, tmp_path / "data" / "csbot.db")


@pytest.mark.parametrize("question, code, said", [
    ("churn last-month", 0, "Customer churn"),
    ("先月の解約率は？", 0, "解約率"),
    ("chrun last month", 2, "Did you mean “churn”?"),
    ("先月のバナナ", 2, "「バナナ」"),
    ("churn 2099", 2, "has not started"),
    ("churn lastmonth", 2, "I don't know the period"),
])
def test_csbot_ask_exit_status_says_whether_it_answered(demo_cli, capsys, question, code, said):
    assert main(["ask", question]) == code
    out, err = capsys.readouterr()
    assert said in out and "Traceback" not in out + err
