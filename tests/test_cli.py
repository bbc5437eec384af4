"""The csbot command line: the contract in the README's "The command line", and one clear line for every mistake."""

import json
import shutil
from datetime import date

import pytest

from bot.cli import main
from metrics import schema
from metrics.db import init_schema, make_engine


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean environment: no .env, no tokens, the embedded database in a temp folder."""
    monkeypatch.chdir(tmp_path)
    for key in ("DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL",
                "CSBOT_TIMEZONE", "CSBOT_LANGUAGE", "CSBOT_CURRENCY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CSBOT_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def embedded_demo(env, shared_demo, tmp_path):
    """The embedded database already holding the demo company: a copy of the test process's
    shared demo (on PostgreSQL runs, the embedded SQLite file fills itself on first use)."""
    if shared_demo.path is not None:
        (tmp_path / "data").mkdir(exist_ok=True)
        shutil.copyfile(shared_demo.path, tmp_path / "data" / "csbot.db")
    return env


@pytest.fixture
def named_db(env, tmp_path):
    url = f"sqlite:///{tmp_path / 'team.db'}"
    env.setenv("DATABASE_URL", url)
    engine = make_engine(url)
    init_schema(engine)
    return engine


def test_the_embedded_database_fills_itself_with_the_demo_company_and_answers(env, capsys, tmp_path):
    code, out, _ = run(capsys, "ask", "churn last-month")
    assert code == 0
    assert "Customer churn" in out and "%" in out
    assert (tmp_path / "data" / "csbot.db").exists()


def test_ask_json_prints_the_slack_payloads_it_would_post(embedded_demo, capsys):
    code, out, _ = run(capsys, "ask", "先月の解約率は？", "--json")
    assert code == 0
    payloads = json.loads(out)
    assert isinstance(payloads, list) and payloads[0]["blocks"][0]["type"] == "header"
    assert "解約率" in payloads[0]["text"]


def seed_example(engine):
    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [{"account_id": "A", "name": "A"}, {"account_id": "B", "name": "B"}])
        conn.execute(schema.subscriptions.insert(), [
            {"subscription_id": "1", "account_id": "A", "product": "core", "start_date": date(2026, 1, 1),
             "end_date": None, "mrr": 30_000},
            {"subscription_id": "2", "account_id": "B", "product": "core", "start_date": date(2026, 1, 1),
             "end_date": date(2026, 10, 15), "mrr": 50_000},
        ])


@pytest.mark.parametrize("name, expected", [
    ("customer_churn_rate", 0.5), ("revenue_churn_rate", 0.625), ("mrr", 30_000), ("mrr_movements", -50_000),
])
def test_metric_json_for_the_foundation_metrics(named_db, capsys, name, expected):
    seed_example(named_db)
    code, out, _ = run(capsys, "metric", name, "--period", "2026-10", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["name"] == name and data["period"] == {"start": "2026-10-01", "end": "2026-11-01"}
    assert data["value"] == pytest.approx(expected)
    assert set(data) >= {"unit", "parts", "previous"}


def test_metric_list_json_names_every_declared_metric(env, capsys):
    code, out, _ = run(capsys, "metric", "--list", "--json")
    names = {m["name"] for m in json.loads(out)}
    assert code == 0 and {"mrr", "mrr_movements", "customer_churn_rate", "revenue_churn_rate"} <= names


def test_a_named_empty_database_is_not_filled_with_demo_data_and_says_what_to_do(named_db, capsys):
    code, out, err = run(capsys, "ask", "churn last-month")
    assert code == 1
    assert "csbot sync" in out and "csbot demo" in out
    with named_db.connect() as conn:
        assert conn.execute(schema.accounts.select()).first() is None


def test_demo_refuses_a_database_that_holds_synced_data_unless_forced(named_db, capsys):
    seed_example(named_db)
    code, _, err = run(capsys, "demo")
    assert code == 1 and "--force" in err
    with named_db.connect() as conn:  # nothing was lost
        assert len(conn.execute(schema.accounts.select()).all()) == 2


def test_an_unknown_metric_suggests_the_closest_names(env, capsys):
    code, _, err = run(capsys, "metric", "customer_churn", "--json")
    assert code == 2 and "customer_churn_rate" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("item", ["segmnt=smb", "segment", "segment=", "owner=me"])
def test_a_bad_metric_filter_is_refused_in_one_line_naming_the_keys(named_db, capsys, item):
    seed_example(named_db)
    code, out, err = run(capsys, "metric", "mrr", "--period", "2026-10", "--filter", item, "--json")
    assert code == 2 and not out and len(err.strip().splitlines()) == 1
    assert "segment, touch, owner, plan, region" in err or "owner:<e-mail>" in err


def test_metric_filters_go_through_the_shared_parser(named_db, capsys):
    seed_example(named_db)
    code, out, _ = run(capsys, "metric", "mrr", "--period", "2026-10", "--filter", "Touch=high", "--json")
    assert code == 0 and json.loads(out)["value"] == 0


def test_an_unreachable_database_is_one_line_without_the_password(env, capsys):
    env.setenv("DATABASE_URL", "postgresql://csbot:hunter2@127.0.0.1:1/nowhere")
    code, out, err = run(capsys, "ask", "churn last-month")
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "hunter2" not in out + err and "database" in err.lower()


@pytest.mark.parametrize("key, value", [
    ("CSBOT_TIMEZONE", "Mars/Olympus"), ("CSBOT_LANGUAGE", "fr"), ("CSBOT_CURRENCY", "円"),
    ("DATABASE_URL", "not a url"), ("SLACK_BOT_TOKEN", "xoxp-user-token"),
])
def test_a_malformed_setting_is_one_line_naming_the_key(env, capsys, key, value):
    env.setenv(key, value)
    code, _, err = run(capsys, "ask", "help")
    assert code == 2
    assert key in err and len(err.strip().splitlines()) == 1


def test_serve_without_a_signing_secret_names_the_missing_key(env, capsys):
    env.setenv("SLACK_BOT_TOKEN", "xoxb-123")
    code, _, err = run(capsys, "serve", "--port", "0")
    assert code == 2 and "SLACK_SIGNING_SECRET" in err


def test_socket_mode_without_an_app_token_names_the_missing_key(env, capsys):
    env.setenv("SLACK_BOT_TOKEN", "xoxb-123")
    code, _, err = run(capsys, "run")
    assert code == 2 and "SLACK_APP_TOKEN" in err


def test_the_console_answers_line_by_line_and_ends_at_end_of_input(embedded_demo, capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("help\nchurn 2026-Q3\n先月の解約率\nquit\n"))
    code, out, _ = run(capsys)
    assert code == 0
    assert "What csbot can answer" in out
    assert "Jul 1 – Sep 30, 2026" in out or "Customer churn" in out
    assert "解約率" in out


SUBCOMMANDS = ("run", "serve", "ask", "glossary", "metric", "demo", "sync", "health", "digest")


def test_every_subcommand_is_listed_and_its_help_shows_an_example(capsys):
    from bot.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    listing = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert f"    {name} " in listing, name
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0
        text = capsys.readouterr().out
        assert f"csbot {name}" in text.split("example", 1)[1], f"csbot {name} --help has no example"


def test_a_subcommands_error_is_one_line_with_its_name(env, capsys):
    with pytest.raises(SystemExit) as done:
        main(["metric", "--period"])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("csbot metric:"), err
