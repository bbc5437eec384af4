"""Shared fixtures.

The suite runs on SQLite by default. Set ``CSBOT_TEST_DATABASE_URL`` (for
example ``postgresql://127.0.0.1/test``) to run every database test on that
database instead: each test process gets its own PostgreSQL schema, and every
test starts from empty tables.

The demo company (of ``TODAY``) is loaded once per test process (``shared_demo``):
tests that only read share its database (``shared_demo.engine``); a test that writes
takes a copy of its own (the ``demo_copy`` fixture, or ``shared_demo.copy(tmp_dir)``): a file copy
on SQLite, a schema filled by ``INSERT ... SELECT`` on PostgreSQL.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from metrics import schema
from metrics.db import Database, make_engine
from metrics.settings import Settings

TEST_DATABASE_URL = os.environ.get("CSBOT_TEST_DATABASE_URL")
DOCS = Path(__file__).resolve().parent.parent / "docs"


def documented_metric_names() -> list[str]:
    """The names listed under "Names" in docs/metrics.md, in their order: the conventions' own list."""
    text = (DOCS / "metrics.md").read_text(encoding="utf-8")
    section = text.split("\n## Names\n", 1)[1].split("\n## ", 1)[0]
    first_paragraph = section.strip().split("\n\n", 1)[0]
    return re.findall(r"`([a-z_]+)`", first_paragraph.split(":", 1)[1])

# csbot must never pick up the developer's own .env or tokens during tests.
for _key in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL", "DATABASE_URL"):
    os.environ.pop(_key, None)


def new_database(tmp_dir) -> tuple:
    """An empty csbot database of its own, with every table: a new SQLite file in
    ``tmp_dir``, or a new schema on CSBOT_TEST_DATABASE_URL. Returns (engine, schema
    name or None); hand both to ``drop_database`` when done."""
    if not TEST_DATABASE_URL:
        engine = make_engine(f"sqlite:///{tmp_dir / 'csbot-test.db'}")
        schema.metadata.create_all(engine)
        return engine, None
    schema_name = f"csbot_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(TEST_DATABASE_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema_name}"'))
    admin.dispose()
    engine = _pg_schema_engine(schema_name)
    schema.metadata.create_all(engine)
    return engine, schema_name


def _pg_schema_engine(schema_name: str):
    sep = "&" if "?" in TEST_DATABASE_URL else "?"
    return make_engine(f"{TEST_DATABASE_URL}{sep}options=-csearch_path%3D{schema_name}")


def drop_database(engine, schema_name) -> None:
    engine.dispose()
    if schema_name:
        admin = make_engine(TEST_DATABASE_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def _shared_engine(tmp_path_factory):
    """One engine per test process for PostgreSQL (None on SQLite)."""
    if not TEST_DATABASE_URL:
        yield None
        return
    engine, schema_name = new_database(tmp_path_factory.mktemp("pg"))
    yield engine
    drop_database(engine, schema_name)


@pytest.fixture
def engine(_shared_engine, tmp_path):
    """An empty csbot database with every table created."""
    if _shared_engine is None:
        eng = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
        schema.metadata.create_all(eng)
        yield eng
        eng.dispose()
        return
    schema.metadata.drop_all(_shared_engine)
    schema.metadata.create_all(_shared_engine)
    yield _shared_engine


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url="sqlite:///unused-in-tests.db")


@pytest.fixture
def database(engine) -> Database:
    return Database(engine=engine, url=str(engine.url), embedded=False)


TODAY = date(2026, 11, 22)  # the fixed "today" of the tests (a Sunday)


@dataclass(frozen=True)
class DemoDatabase:
    """The demo company of TODAY, loaded once per test process. ``engine`` is shared: read it, never
    write to it. ``copy(tmp_dir)`` -> (engine, schema name or None), a database of your own to write
    to; hand both to ``drop_database`` when done."""

    engine: object
    summary: object  # metrics.demo.load.DemoSummary
    path: Path | None  # the SQLite file (None on PostgreSQL)
    schema_name: str | None  # the PostgreSQL schema (None on SQLite)

    def copy(self, tmp_dir: Path) -> tuple:
        if self.path is not None:
            target = tmp_dir / "csbot-demo.db"
            shutil.copyfile(self.path, target)
            return make_engine(f"sqlite:///{target}"), None
        engine, name = new_database(tmp_dir)
        admin = make_engine(TEST_DATABASE_URL)
        with admin.begin() as conn:
            for table in schema.metadata.sorted_tables:
                conn.execute(text(f'INSERT INTO "{name}".{table.name} SELECT * FROM "{self.schema_name}".{table.name}'))
                for column in table.columns:
                    seq = column.default if column.default is not None and column.default.is_sequence else None
                    if seq is not None:  # later inserts continue after the copied ids
                        conn.execute(text(f"SELECT setval('\"{name}\".{seq.name}', "
                                          f'(SELECT COALESCE(MAX({column.name}), 0) + 1 FROM "{name}".{table.name}), false)'))
        admin.dispose()
        return engine, name


def _fill_demo(engine) -> object:
    from metrics.demo.load import load_demo

    return load_demo(engine, Settings(database_url="sqlite:///unused-in-tests.db"), today=TODAY)


@pytest.fixture(scope="session")
def shared_demo(tmp_path_factory):
    """The demo company of TODAY, loaded once per test process (see ``DemoDatabase``)."""
    folder = tmp_path_factory.mktemp("demo")
    if TEST_DATABASE_URL:
        engine, name = new_database(folder)
        yield DemoDatabase(engine=engine, summary=_fill_demo(engine), path=None, schema_name=name)
        drop_database(engine, name)
        return
    path = folder / "csbot-demo.db"
    engine = make_engine(f"sqlite:///{path}")
    schema.metadata.create_all(engine)
    summary = _fill_demo(engine)
    with engine.connect() as conn:  # everything in the main file, so that a file copy is the whole database
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    yield DemoDatabase(engine=engine, summary=summary, path=path, schema_name=None)
    engine.dispose()


@pytest.fixture
def demo_copy(shared_demo, tmp_path):
    """A database of this test's own holding the demo company (to write to)."""
    engine, name = shared_demo.copy(tmp_path)
    yield engine
    drop_database(engine, name)


def _now():
    """The fixed "now" of the tests: 2026-11-22 09:30 in Tokyo."""
    from datetime import datetime, timezone

    return datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)


@pytest.fixture
def ask(database, settings):
    """ask("churn last-month") -> Reply, through the same dispatch as Slack, on a fixed today."""
    from commands.context import Context
    from commands.router import dispatch

    def _ask(text: str, **ctx_kwargs):
        ctx = Context.create(database, settings, now=_now(), **ctx_kwargs)
        return dispatch(text, ctx)

    return _ask


def wait_for_listeners(app) -> None:
    """Return once every listener a Bolt ``app`` has started in the background (its lazy
    functions) has finished, so that "nothing was posted" is checked after the fact, not
    after a guessed sleep. The app takes no further requests afterwards."""
    app.listener_runner.listener_executor.shutdown(wait=True)


def seed_two_plans(engine):
    """The seeds' example: plans of 30,000 and 50,000 a month; the 50,000 one leaves on Oct 15, 2026."""
    from metrics import schema

    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [
            {"account_id": "A", "name": "Acme Corp", "segment": "smb", "owner": "alice@example.com"},
            {"account_id": "B", "name": "Globex", "segment": "enterprise", "owner": "U0BOB"},
        ])
        conn.execute(schema.subscriptions.insert(), [
            {"subscription_id": "1", "account_id": "A", "product": "core", "start_date": date(2026, 1, 1),
             "end_date": None, "mrr": 30_000},
            {"subscription_id": "2", "account_id": "B", "product": "core", "start_date": date(2026, 1, 1),
             "end_date": date(2026, 10, 15), "mrr": 50_000},
        ])


@pytest.fixture
def slack_double():
    """A running Slack Web API double (tests/slack_double.py), stopped after the test."""
    from slack_double import SlackDouble

    with SlackDouble() as double:
        yield double


@pytest.fixture
def slack(slack_double):
    """The Slack double under its short name (the Slack tests' ``slack``)."""
    return slack_double


@pytest.fixture
def pool():
    """The executor a Bolt app's listeners run on in a test; ``pool.shutdown(wait=True)`` waits
    for every answer (the fixture shuts it down at the end in any case)."""
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(max_workers=4)
    yield executor
    executor.shutdown(wait=True)


@contextmanager
def property_engines(tmp_dir, shared_engine, state_tables):
    """The engines a derived-against-direct property test runs on: the suite's (SQLite, or PostgreSQL
    with CSBOT_TEST_DATABASE_URL), emptied, and an in-memory DuckDB when it is installed, holding the
    data tables and ``state_tables``: ``{"main": ..., "duckdb": ...}``."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import NoSuchModuleError

    engines = {}
    main = shared_engine or make_engine(f"sqlite:///{tmp_dir / 'p.db'}")
    schema.metadata.drop_all(main)
    schema.metadata.create_all(main)
    engines["main"] = main
    try:
        duck = create_engine("duckdb:///:memory:")
        duck.connect().close()
    except (ImportError, NoSuchModuleError):  # DuckDB is optional
        duck = None
    if duck is not None:
        schema.metadata.create_all(duck, tables=[*schema.DATA_TABLES, schema.meta, schema.sync_log, *state_tables])
        engines["duckdb"] = duck
    try:
        yield engines
    finally:
        if duck is not None:
            duck.dispose()
