"""Secrets never show, and hygiene around them (issue 13).

- A database URL holding a password in any form SQLAlchemy accepts (``user:pass@``, ``?password=``,
  ``?sslpassword=``, percent-encoded) is never printed, logged, stored in the sync log or posted to
  the admin channel, by any command of the command line or by the scheduled sync.
- ``.env`` is read from the working folder (or ``CSBOT_ENV_FILE``) only, never from a parent folder.
- A write that finds SQLite locked by a running sync says so, and since when, instead of "I can't
  reach the database".
"""

from __future__ import annotations

import getpass
import html
import logging
import os
import sqlite3
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from slack_double import SlackDouble
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

import metrics.db
from bot.cli import main
from bot.jobs.scheduler import Scheduler
from bot.slack.poster import SlackPoster
from commands.context import Context
from commands.router import dispatch
from metrics import schema
from metrics.db import Database, interactive_writes, make_engine, safe_url, scrub
from metrics.settings import Settings, dotenv_path
from metrics.sync import SqlSource, run_sync
from metrics.sync.lock import acquire_lock

# The passwords of the tests and every piece of them that must never show.
DB_PW, DB_PW_ODD = "Pw7f3k9Zq", "Pw@ss/7f3k"  # the second one percent-encoded in URLs: Pw%40ss%2F7f3k
SRC_PW, SRC_PW_ODD = "Src4Hq8Lm", "Src@Hq/8Lm"  # Src%40Hq%2F8Lm
FRAGMENTS = ("Pw7f3k9Zq", "Pw@ss", "Pw%40ss", "ss/7f3k", "ss%2F7f3k",
             "Src4Hq8Lm", "Src@Hq", "Src%40Hq", "Hq/8Lm", "Hq%2F8Lm")
TOKYO = ZoneInfo("Asia/Tokyo")
# SQLite ignores a password in the query, and SQLAlchemy says so (naming the key, not the value).
pytestmark = pytest.mark.filterwarnings("ignore:Query string argument.*pysqlite")


def leaks(*texts) -> list[str]:
    joined = "\n".join(str(t) for t in texts if t)
    return [f for f in FRAGMENTS if f in joined]


# --------------------------------------------------------------------------- safe_url and scrub

@pytest.mark.parametrize("url, shown", [
    ("postgresql://bob:Pw7f3k9Zq@db.example.com:5432/csbot", "postgresql://bob:***@db.example.com:5432/csbot"),
    ("postgresql://bob@db.example.com/csbot?password=Pw7f3k9Zq", "postgresql://bob@db.example.com/csbot?password=***"),
    ("postgresql://bob@db.example.com/csbot?sslpassword=Pw7f3k9Zq&sslmode=require",
     "postgresql://bob@db.example.com/csbot?sslmode=require&sslpassword=***"),
    ("postgresql://bob:Pw%40ss%2F7f3k@db.example.com/csbot", "postgresql://bob:***@db.example.com/csbot"),
    ("postgresql://bob@db.example.com/csbot?password=Pw%40ss%2F7f3k", "postgresql://bob@db.example.com/csbot?password=***"),
    ("postgresql://bob@h/csbot?passfile=/home/bob/.pgpass&application_name=csbot",
     "postgresql://bob@h/csbot?application_name=csbot&passfile=***"),
    ("snowflake://bob@acct/db?token=Pw7f3k9Zq&private_key_file_pwd=Pw7f3k9Zq",
     "snowflake://bob@acct/db?private_key_file_pwd=***&token=***"),
    ("sqlite:////srv/csbot.db?password=Pw7f3k9Zq", "sqlite:////srv/csbot.db?password=***"),
    ("sqlite:////srv/csbot.db", "sqlite:////srv/csbot.db"),
    ("postgresql://bob:Pw7f3k9Zq@db.example.com:port/csbot", "postgresql://<URL not shown: cannot parse it>"),
    ("bob:Pw7f3k9Zq at db.example.com", "<URL not shown: cannot parse it>"),
])
def test_safe_url_hides_every_credential_form_and_never_echoes_a_url_it_cannot_parse(url, shown):
    assert safe_url(url) == shown


def test_scrub_takes_the_passwords_of_known_urls_out_of_a_driver_message_in_every_spelling():
    url = "postgresql://bob:Pw%40ss%2F7f3k@db.example.com/csbot?sslpassword=Pw7f3k9Zq"
    message = (f'could not connect with {url}: password "Pw@ss/7f3k" (Pw%40ss%2F7f3k) rejected; '
               "dsn: host=db.example.com sslpassword=Pw7f3k9Zq user=bob; also mysql://root:hunter22@10.0.0.1/x")
    assert scrub(message, url) == (
        "could not connect with postgresql://bob:***@db.example.com/csbot?sslpassword=***: password \"***\" (***) "
        "rejected; dsn: host=db.example.com sslpassword=*** user=bob; also mysql://root:***@10.0.0.1/x")
    assert scrub("no credentials here: Key (account_id)=(A1) already exists") == \
        "no credentials here: Key (account_id)=(A1) already exists"


# --------------------------------------------------------------------------- every command of the command line

UNREACHABLE = "127.0.0.1:1"  # nothing listens: the driver fails at once
DB_FORMS = [  # DATABASE_URL as given, what the error line shows of it
    (f"postgresql://csbot:{DB_PW}@{UNREACHABLE}/csbot", f"postgresql+psycopg://csbot:***@{UNREACHABLE}/csbot"),
    (f"postgresql://csbot@{UNREACHABLE}/csbot?password={DB_PW}", f"postgresql+psycopg://csbot@{UNREACHABLE}/csbot?password=***"),
    (f"postgresql://csbot@{UNREACHABLE}/csbot?sslpassword={DB_PW}",
     f"postgresql+psycopg://csbot@{UNREACHABLE}/csbot?sslpassword=***"),
    (f"postgresql://csbot:Pw%40ss%2F7f3k@{UNREACHABLE}/csbot", f"postgresql+psycopg://csbot:***@{UNREACHABLE}/csbot"),
    (f"postgresql://csbot@{UNREACHABLE}/csbot?password=Pw%40ss%2F7f3k&sslmode=disable",
     f"postgresql+psycopg://csbot@{UNREACHABLE}/csbot?password=***&sslmode=disable"),
    (f"sqlite://csbot:{DB_PW}@/team.db", "sqlite://csbot:***@/team.db"),  # SQLite takes no password: refused
    (f"postgresql://csbot:{DB_PW}@127.0.0.1:port/csbot", "cannot parse the URL"),
]
SOURCE_FORMS = [  # a source database URL, its safe form as the sync log's source shows it
    (f"postgresql://bob:{SRC_PW}@{UNREACHABLE}/warehouse", f"sql:postgresql://bob:***@{UNREACHABLE}/warehouse"),
    (f"postgresql://bob@{UNREACHABLE}/warehouse?password={SRC_PW}", f"sql:postgresql://bob@{UNREACHABLE}/warehouse?password=***"),
    (f"postgresql://bob@{UNREACHABLE}/warehouse?sslpassword={SRC_PW}",
     f"sql:postgresql://bob@{UNREACHABLE}/warehouse?sslpassword=***"),
    (f"postgresql://bob:Src%40Hq%2F8Lm@{UNREACHABLE}/warehouse", f"sql:postgresql://bob:***@{UNREACHABLE}/warehouse"),
    (f"postgresql://bob@{UNREACHABLE}/warehouse?password=Src%40Hq%2F8Lm",
     f"sql:postgresql://bob@{UNREACHABLE}/warehouse?password=***"),
]


def commands(mapping, source_url) -> list[list[str]]:
    return [
        ["ask", "churn last-month"],
        ["metric", "mrr", "--period", "2026-10", "--json"],
        ["sync", "--sql", source_url, "--mapping", str(mapping)],
        ["sync"],  # the source of CSBOT_SYNC_SQL_URL
        ["sync", "--status"],
        ["digest", "--dry-run"],
        ["health", "--snapshot"],
    ]


@pytest.fixture
def cli_env(monkeypatch, tmp_path, caplog):
    """The working folder without .env, the data folder in tmp, a SQL source with a mapping, logs captured."""
    monkeypatch.chdir(tmp_path)
    for key in ("DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL",
                "CSBOT_TIMEZONE", "CSBOT_LANGUAGE", "CSBOT_CURRENCY", "CSBOT_SYNC_CSV_DIR", "CSBOT_ENV_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CSBOT_DATA_DIR", str(tmp_path / "data"))
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[tables.accounts]\nquery = "SELECT 1 AS account_id"\n', encoding="utf-8")
    monkeypatch.setenv("CSBOT_SYNC_MAPPING", str(mapping))
    caplog.set_level(logging.INFO)
    return mapping


def run(capsys, argv) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, argv
    return code, out, err


@pytest.mark.parametrize("db_url, shown", DB_FORMS, ids=[f"db{i}" for i in range(len(DB_FORMS))])
def test_every_command_with_an_unreachable_database_says_so_in_one_line_without_the_password(
        cli_env, monkeypatch, capsys, caplog, db_url, shown):
    source_url, _ = SOURCE_FORMS[DB_FORMS.index((db_url, shown)) % len(SOURCE_FORMS)]
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CSBOT_SYNC_SQL_URL", source_url)
    for argv in [*commands(cli_env, source_url), ["demo"]]:
        code, out, err = run(capsys, argv)
        assert code == 1, argv
        assert leaks(out, err) == [], (argv, out, err)
        [line] = [x for x in err.splitlines() if x.startswith("csbot")]
        assert shown in line, (argv, line)
    assert leaks(caplog.text) == []


def working_forms(base: str) -> list[str]:
    """The test database's own URL with a password in each form its driver accepts (PostgreSQL here
    trusts local connections, so a password given is not checked; SQLite ignores query arguments)."""
    url = make_url(base)
    forms = [url.update_query_dict({"password": DB_PW}), url.update_query_dict({"sslpassword": DB_PW}),
             url.update_query_dict({"password": DB_PW_ODD})]
    if url.get_backend_name() == "postgresql":
        user = url.username or getpass.getuser()
        forms += [url.set(username=user, password=DB_PW), url.set(username=user, password=DB_PW_ODD)]
    return [f.render_as_string(hide_password=False) for f in forms]


def test_every_command_on_a_working_database_never_prints_logs_or_stores_its_password(
        cli_env, engine, monkeypatch, capsys, caplog):
    forms = working_forms(engine.url.render_as_string(hide_password=False))
    assert any("Pw%40ss%2F7f3k" in f for f in forms)  # the odd password is percent-encoded in the URL
    monkeypatch.setenv("DATABASE_URL", forms[0])
    monkeypatch.setenv("CSBOT_SYNC_SQL_URL", SOURCE_FORMS[0][0])
    code, out, err = run(capsys, ["demo"])
    assert code == 0 and "Loaded the demo company into " in out and leaks(out, err) == []
    failed_sources = []
    for i, db_url in enumerate(forms):
        env_source, env_shown = SOURCE_FORMS[i % len(SOURCE_FORMS)]
        cli_source, cli_shown = SOURCE_FORMS[(i + 1) % len(SOURCE_FORMS)]
        monkeypatch.setenv("DATABASE_URL", db_url)
        monkeypatch.setenv("CSBOT_SYNC_SQL_URL", env_source)
        for argv in commands(cli_env, cli_source):
            code, out, err = run(capsys, argv)
            assert code == (1 if argv[:1] == ["sync"] and argv[1:2] != ["--status"] else 0), (argv, err)
            assert leaks(out, err) == [], (argv, out, err)
            if argv == ["sync", "--status"]:
                assert env_shown in out and cli_shown in out  # the last two runs, their sources masked
        failed_sources += [cli_shown, env_shown]
    assert leaks(caplog.text) == []
    with engine.connect() as conn:
        logged = conn.execute(select(schema.sync_log.c.source, schema.sync_log.c.status, schema.sync_log.c.message)
                              .order_by(schema.sync_log.c.sync_id)).all()
    assert [r.source for r in logged if r.status == "failed"] == failed_sources
    assert all(r.message.startswith(f"cannot reach the source database {r.source[4:]}: ")
               for r in logged if r.status == "failed")
    assert leaks(*(f"{r.source} {r.message}" for r in logged)) == []


def test_a_failed_run_stores_and_returns_its_message_scrubbed_when_the_driver_echoes_the_password(
        engine, settings, monkeypatch, tmp_path):
    source_url = SOURCE_FORMS[3][0]  # percent-encoded password

    class EchoingEngine:
        """A driver that quotes its connection string and password in its error (some do)."""

        def connect(self):
            raise OperationalError("connect", {}, Exception(f'cannot use {source_url}: password "{SRC_PW_ODD}" '
                                                            f"(Src%40Hq%2F8Lm) rejected"))

        def dispose(self):
            pass

    monkeypatch.setattr("metrics.sync.sources.make_engine", lambda url: EchoingEngine())
    mapping = tmp_path / "m.toml"
    mapping.write_text('[tables.accounts]\nquery = "SELECT 1"\n', encoding="utf-8")
    summary = run_sync(engine, SqlSource.from_mapping(source_url, mapping), settings=settings)
    assert summary.status == "failed"
    assert summary.message == (f"cannot reach the source database postgresql://bob:***@{UNREACHABLE}/warehouse: "
                               f"cannot use postgresql://bob:***@{UNREACHABLE}/warehouse: password \"***\" (***) rejected")
    with engine.connect() as conn:
        row = conn.execute(select(schema.sync_log.c.source, schema.sync_log.c.message)).one()
    assert row.message == summary.message and row.source == SOURCE_FORMS[3][1]


# --------------------------------------------------------------------------- the admin channel

@pytest.fixture
def slack():
    with SlackDouble() as double:
        double.channels["C0ADMIN"] = {"id": "C0ADMIN", "name": "csbot-admin", "is_member": True, "is_im": False}
        yield double


def admin_reports(slack) -> list[str]:
    """The admin channel's reports as a person reads them (Slack shows &amp; as &)."""
    return [html.unescape(c.params.get("text", "")) for c in slack.calls_to("chat.postMessage")
            if c.params.get("channel") == "C0ADMIN"]


def scheduled(engine, slack, settings) -> Scheduler:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    poster = SlackPoster(client, settings, sleep=lambda s: None)
    return Scheduler(poster, settings, Database(engine, safe_url(str(engine.url)), False), snapshot=None)


SIX_AM = datetime(2026, 11, 22, 6, 0, tzinfo=TOKYO).astimezone(timezone.utc)


@pytest.mark.parametrize("i", range(len(SOURCE_FORMS)))
def test_a_failed_scheduled_sync_reports_to_the_admin_channel_without_any_password(engine, slack, tmp_path, caplog, i):
    db_url = working_forms(engine.url.render_as_string(hide_password=False))[i % 3]
    source_url, shown = SOURCE_FORMS[i]
    mapping = tmp_path / "m.toml"
    mapping.write_text('[tables.accounts]\nquery = "SELECT 1"\n', encoding="utf-8")
    caplog.set_level(logging.INFO)
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, sync_sql_url=source_url, sync_mapping=mapping,
                        sync_schedule="0 6 * * *", admin_channel="C0ADMIN")
    assert scheduled(engine, slack, settings).run_jobs(SIX_AM) == ["sync|2026-11-21T21:00"]
    [report] = admin_reports(slack)
    assert report.startswith(f":warning: The scheduled sync failed: cannot reach the source database {shown[4:]}: ")
    with engine.connect() as conn:
        logged = conn.execute(select(schema.sync_log.c.source, schema.sync_log.c.message)).one()
        run_message = conn.execute(select(schema.scheduler_runs.c.message)).scalar_one()
    assert logged.source == shown and run_message == logged.message
    assert leaks(report, logged.source, logged.message, run_message, caplog.text) == []


@pytest.mark.parametrize("db_url, shown", DB_FORMS[:5], ids=[f"db{i}" for i in range(5)])
def test_a_scheduled_sync_that_cannot_reach_its_database_reports_without_the_password(engine, slack, tmp_path, caplog,
                                                                                      db_url, shown):
    caplog.set_level(logging.INFO)
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, sync_csv_dir=tmp_path,
                        sync_schedule="0 6 * * *", admin_channel="C0ADMIN")
    scheduled(engine, slack, settings).run_jobs(SIX_AM)
    [report] = admin_reports(slack)
    assert report.startswith(f":warning: The scheduled sync failed: cannot reach the database at {shown}: ")
    assert leaks(report, caplog.text) == []


def test_the_admin_report_scrubs_a_failure_message_that_quotes_the_url_and_its_password(engine, slack, tmp_path):
    db_url = f"postgresql://csbot:Pw%40ss%2F7f3k@{UNREACHABLE}/csbot?sslpassword={DB_PW}"

    class Failed:
        status = "failed"
        message = f'connection to {db_url} failed: password "{DB_PW_ODD}" rejected'

    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, sync_schedule="0 6 * * *",
                        admin_channel="C0ADMIN")
    sched = scheduled(engine, slack, settings)
    sched.sync = lambda s: Failed()
    sched.run_jobs(SIX_AM)
    assert admin_reports(slack) == [
        f":warning: The scheduled sync failed: connection to postgresql://csbot:***@{UNREACHABLE}/csbot?sslpassword=*** "
        "failed: password \"***\" rejected."]
    with engine.connect() as conn:
        assert leaks(conn.execute(select(schema.scheduler_runs.c.message)).scalar_one()) == []


# --------------------------------------------------------------------------- .env

@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No csbot keys in the environment, restored afterwards even when a .env file sets them."""
    for key in ("SLACK_API_URL", "CSBOT_LANGUAGE", "CSBOT_CURRENCY", "CSBOT_ENV_FILE", "DATABASE_URL"):
        monkeypatch.setenv(key, "-")
        monkeypatch.delenv(key)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("CSBOT_DATA_DIR", str(tmp_path / "data"))
    work = tmp_path / "team" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    return work


PLANTED = "SLACK_API_URL=http://attacker.invalid/api/\nCSBOT_CURRENCY=EUR\n"


def test_a_dotenv_planted_in_a_parent_folder_is_never_read(clean_env, capsys):
    (clean_env.parent / ".env").write_text(PLANTED, encoding="utf-8")
    (clean_env.parent.parent / ".env").write_text(PLANTED, encoding="utf-8")
    assert dotenv_path({}, cwd=clean_env) is None
    code, _, _ = run(capsys, ["ask", "help"])
    assert code == 0
    assert "SLACK_API_URL" not in os.environ and "CSBOT_CURRENCY" not in os.environ


def test_the_dotenv_of_the_working_folder_or_csbot_env_file_is_read(clean_env, capsys, monkeypatch):
    (clean_env / ".env").write_text("CSBOT_CURRENCY=USD\n", encoding="utf-8")
    assert run(capsys, ["ask", "help"])[0] == 0
    assert os.environ["CSBOT_CURRENCY"] == "USD"

    monkeypatch.delenv("CSBOT_CURRENCY")
    named = clean_env.parent.parent / "csbot.env"
    named.write_text("CSBOT_CURRENCY=EUR\n", encoding="utf-8")
    monkeypatch.setenv("CSBOT_ENV_FILE", str(named))
    assert run(capsys, ["ask", "help"])[0] == 0
    assert os.environ["CSBOT_CURRENCY"] == "EUR"  # the named file, not the working folder's


def test_a_missing_csbot_env_file_is_one_line_naming_the_key(clean_env, capsys, monkeypatch):
    monkeypatch.setenv("CSBOT_ENV_FILE", str(clean_env / "nowhere.env"))
    code, out, err = run(capsys, ["ask", "help"])
    assert code == 2 and not out
    assert err == (f"csbot: configuration error: CSBOT_ENV_FILE: no such file: {clean_env / 'nowhere.env'}; "
                   "give the path of your .env file or unset it\n")


# --------------------------------------------------------------------------- a write while a sync runs (SQLite)

NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)  # 09:30 in Tokyo


@pytest.fixture
def sqlite_db(tmp_path):
    """An SQLite database of its own (the lock is SQLite's, whatever the suite runs on)."""
    path = tmp_path / "busy.db"
    engine = make_engine(f"sqlite:///{path}")
    schema.metadata.create_all(engine)
    yield path, engine
    engine.dispose()


@pytest.fixture
def locked(sqlite_db):
    """A second connection holding SQLite's write lock, as a running sync's transaction does."""
    path, _ = sqlite_db
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield
    other.execute("ROLLBACK")
    other.close()


def answer(engine, settings, text):
    return dispatch(text, Context.create(Database(engine, "sqlite:///busy.db", False), settings, now=NOW))


@pytest.mark.parametrize("text, said", [
    ("digest subscribe <#C0GENERAL|general> 09:00", "A sync is running (started 09:10); try again when it ends."),
    ("ダイジェスト 登録 <#C0GENERAL|general> 09:00", "データの同期中です（09:10 開始）。同期が終わってからもう一度お試しください。"),
])
def test_a_write_during_a_running_sync_says_a_sync_is_running_and_since_when(sqlite_db, settings, monkeypatch, text,
                                                                            said):
    _, engine = sqlite_db
    holder, _ = acquire_lock(engine, "csv:/srv/exports", ttl=timedelta(hours=3), now=datetime(2026, 11, 22, 0, 10))
    assert holder is not None
    monkeypatch.setattr(metrics.db, "INTERACTIVE_BUSY_TIMEOUT_MS", 0)  # give up at once: no waiting in tests
    path = engine.url.database
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        reply = answer(engine, settings, text)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert reply.kind == "error" and reply.title == said
    with engine.connect() as conn:
        assert conn.execute(select(schema.digest_subscriptions)).all() == []


def test_a_write_blocked_by_another_write_says_the_database_is_busy(sqlite_db, locked, settings, monkeypatch):
    monkeypatch.setattr(metrics.db, "INTERACTIVE_BUSY_TIMEOUT_MS", 0)
    reply = answer(sqlite_db[1], settings, "digest subscribe <#C0GENERAL|general> 09:00")
    assert reply.kind == "error" and reply.title == "The database is busy with another change; try again in a moment."


def test_a_question_waits_3_seconds_for_the_write_lock_other_work_30(sqlite_db):
    _, engine = sqlite_db
    with interactive_writes():
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 3000
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
