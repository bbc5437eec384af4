"""The engine, the schema, and what the database holds.

``open_database(settings)`` is the one way in: it makes the engine from
``DATABASE_URL`` (default: an SQLite file in the user's data folder) and creates
the tables. It never fills anything: filling the embedded default database with
the demo company on first use is ``bot.database.open_for_answers``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, create_engine, delete, event, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)

from metrics import schema
from metrics.settings import Settings

logger = logging.getLogger(__name__)


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or opened. ``str(err)`` is one line, no secrets."""


@dataclass(frozen=True)
class Database:
    engine: Engine
    url: str  # with any password masked
    embedded: bool  # the default SQLite file (demo data allowed)


def safe_url(url: str) -> str:
    """The URL with its password hidden, fit for logs, the sync log and Slack."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable database URL>"


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseUnavailable("DATABASE_URL: cannot parse the URL; expected e.g. sqlite:///csbot.db") from None
    kwargs: dict = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    elif parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":  # plain postgresql:// -> psycopg 3
            parsed = parsed.set(drivername="postgresql+psycopg")
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        hint = " (pip install 'csbot[postgres]')" if parsed.get_backend_name() == "postgresql" else ""
        raise DatabaseUnavailable(f"DATABASE_URL: no driver for {parsed.drivername}{hint}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def init_schema(engine: Engine) -> None:
    try:
        schema.metadata.create_all(engine)
    except OperationalError as exc:
        raise DatabaseUnavailable(f"cannot reach the database at {safe_url(str(engine.url))}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def is_empty(engine: Engine) -> bool:
    """True when no account has been loaded (by a sync or the demo)."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.accounts)).scalar_one() == 0


def get_meta(engine: Engine, key: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == key)).scalar()


def set_meta(conn, key: str, value: str) -> None:
    conn.execute(delete(schema.meta).where(schema.meta.c.key == key))
    conn.execute(insert(schema.meta).values(key=key, value=value))


def last_successful_sync(engine: Engine) -> datetime | None:
    """When the data was last refreshed (UTC, aware): the newest ok sync_log row."""
    with engine.connect() as conn:
        finished = conn.execute(
            select(func.max(schema.sync_log.c.finished_at)).where(schema.sync_log.c.status == "ok")
        ).scalar()
    if finished is None:
        return None
    if isinstance(finished, str):  # SQLite through an aggregate returns text
        finished = datetime.fromisoformat(finished)
    return finished.replace(tzinfo=timezone.utc) if finished.tzinfo is None else finished


def open_database(settings: Settings) -> Database:
    """Engine + schema of the configured database (nothing is loaded into it)."""
    url = settings.effective_database_url
    engine = make_engine(url)
    try:
        init_schema(engine)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"cannot use the database at {safe_url(url)}: {_first_line(exc)}") from None
    return Database(engine=engine, url=safe_url(url), embedded=settings.uses_embedded_database)
