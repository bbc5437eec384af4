"""The engine, the schema, and what the database holds.

``open_database(settings)`` is the one way in: it makes the engine from
``DATABASE_URL`` (default: an SQLite file in the user's data folder) and creates
the tables. It never fills anything: filling the embedded default database with
the demo company on first use is ``bot.database.open_for_answers``.

Credentials never show: ``safe_url`` is the one way a URL is shown or stored (its
password and every secret-looking query parameter masked, an unparseable URL
not echoed at all), and ``scrub`` takes them out of any text (a driver's error, a
log line) before it is printed, logged, stored or posted. ``SecretFilter`` does
the same for every log record of the process.
"""

from __future__ import annotations

import logging
import re
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator
from urllib.parse import quote, quote_plus, unquote

from sqlalchemy import Connection, Engine, create_engine, delete, event, func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.schema import CreateIndex

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


MASK = "***"
# A query parameter (or DSN key) whose name contains one of these holds a credential:
# password, sslpassword, passfile, api_key, token, client_secret, credentials_path, PWD ...
_SECRET_NAME = re.compile(r"pass|pwd|secret|token|key|credential", re.IGNORECASE)
_PLACEHOLDER = "CSBOTMASKEDVALUE"
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*)://")
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s/@:'\"]*):([^\s/@'\"]+)@")
# In free text (a driver's DSN, an argument echoed back) a narrower rule, so that "primary_key=True"
# stays readable: password=..., sslpassword=..., passfile=..., api_key=..., token=..., secret=...
_SECRET_PAIR = re.compile(r"([\w.-]*(?:pass|pwd|secret|token|credential|api_?key|access_?key|private_?key|sslkey)[\w.-]*)"
                          r"(\s*=\s*)(['\"]?)([^\s&;,'\"]+)", re.IGNORECASE)
_SHORT = 4  # a secret shorter than this is masked only where it stands alone (not inside words)

_known_urls: set[str] = set()
_known_lock = threading.Lock()


def safe_url(url: str) -> str:
    """The URL with every credential hidden, fit for logs, the sync log and Slack: the password
    (``user:***@``) and the value of every query parameter whose name looks secret (``?password=***``,
    ``sslpassword``, ``passfile``, tokens, keys). A URL that cannot be parsed is not shown, only its scheme."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError, AttributeError):
        scheme = _SCHEME.match(str(url))
        return f"{scheme.group(1)}://<URL not shown: cannot parse it>" if scheme else "<URL not shown: cannot parse it>"
    query = {k: (_masked(v) if _SECRET_NAME.search(k) else v) for k, v in parsed.query.items()}
    return parsed.set(query=query).render_as_string(hide_password=True).replace(_PLACEHOLDER, MASK)


def _masked(value: str | tuple[str, ...]) -> str | tuple[str, ...]:
    return tuple(_PLACEHOLDER for _ in value) if isinstance(value, tuple) else _PLACEHOLDER


def remember_url(url: str | None) -> None:
    """Note a URL this process uses, so that ``scrub`` removes its credentials from any text later."""
    if url:
        with _known_lock:
            _known_urls.add(url)


def _secrets_of(url: str) -> set[str]:
    """The credentials in ``url`` in every spelling they may be echoed in: as written in the URL
    (percent-encoded or not), decoded, and re-encoded."""
    found: set[str] = set()
    userinfo = re.match(r"^[^:/?#]*://([^/?#]*)@", url)
    if userinfo and ":" in userinfo.group(1):
        found.add(userinfo.group(1).split(":", 1)[1])
    for name, value in re.findall(r"[?&;]([^=&#]+)=([^&#]*)", url):
        if _SECRET_NAME.search(unquote(name)):
            found.add(value)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError, AttributeError):
        parsed = None
    if parsed is not None:
        if parsed.password:
            found.add(str(parsed.password))
        for name, value in parsed.query.items():
            if _SECRET_NAME.search(name):
                found.update(value if isinstance(value, tuple) else (value,))
    spellings: set[str] = set()
    for secret in found:
        if secret and secret != MASK:
            spellings.update({secret, unquote(secret), quote(unquote(secret), safe=""), quote_plus(unquote(secret))})
    return spellings


def scrub(text: str, *urls: str | None) -> str:
    """``text`` (an error message, a log line) without credentials: each of ``urls`` and of the URLs
    this process has opened (``remember_url``) becomes its ``safe_url``, and their passwords and secret
    query values, plus anything shaped like ``scheme://user:password@`` or ``password=...``, become ***."""
    if not text:
        return text
    with _known_lock:
        known = set(_known_urls)
    known.update(u for u in urls if u)
    for url in sorted(known, key=len, reverse=True):
        if url in text:
            text = text.replace(url, safe_url(url))
    secrets = set().union(*(_secrets_of(u) for u in known)) if known else set()
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _SHORT:
            text = text.replace(secret, MASK)
        else:
            text = re.sub(r"(?<![\w%])" + re.escape(secret) + r"(?![\w%])", MASK, text)
    text = _USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
    return _SECRET_PAIR.sub(lambda m: m.group(0) if m.group(4).startswith(MASK)
                            else f"{m.group(1)}{m.group(2)}{m.group(3)}{MASK}", text)


class SecretFilter(logging.Filter):
    """Scrubs every record it sees (message, arguments and traceback) of credentials: add it to a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record still must not leak
            message = str(record.msg)
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


# How long an SQLite write waits for the write lock (a sync holds it for its whole run) before
# "database is locked": long for syncs, jobs and the command line; short while answering a
# person (``interactive_writes``), who is better told at once that a sync is running.
BUSY_TIMEOUT_MS = 30_000
INTERACTIVE_BUSY_TIMEOUT_MS = 3_000
_busy_timeout_ms: ContextVar[int] = ContextVar("csbot_sqlite_busy_timeout_ms", default=BUSY_TIMEOUT_MS)


@contextmanager
def interactive_writes() -> Iterator[None]:
    """SQLite connections taken inside this block wait ``INTERACTIVE_BUSY_TIMEOUT_MS`` for a write lock."""
    token = _busy_timeout_ms.set(INTERACTIVE_BUSY_TIMEOUT_MS)
    try:
        yield
    finally:
        _busy_timeout_ms.reset(token)


def is_locked_error(exc: BaseException) -> bool:
    """Is ``exc`` SQLite's "database is locked" (another connection holds the write lock)?"""
    return "database is locked" in str(getattr(exc, "orig", None) or exc)


def make_engine(url: str) -> Engine:
    remember_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseUnavailable("DATABASE_URL: cannot parse the URL; expected e.g. sqlite:///csbot.db") from None
    kwargs: dict = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
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
    except (ArgumentError, ValueError, TypeError) as exc:  # e.g. an SQLite URL with a user or host
        raise DatabaseUnavailable(f"DATABASE_URL: {scrub(_first_line(exc), url)}; "
                                  "expected e.g. sqlite:///csbot.db or postgresql://user@host/db") from None
    if engine.dialect.name == "postgresql":
        # Many rows in one INSERT ... VALUES statement (SQLAlchemy's "insertmanyvalues", 1,000 rows a
        # statement) rather than one statement a row: a sync's 500-row chunks are 3x faster to insert.
        engine.dialect.use_insertmanyvalues_wo_returning = True
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "checkout", _sqlite_busy_timeout)
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.close()


def _sqlite_busy_timeout(dbapi_conn, _record, _proxy) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={int(_busy_timeout_ms.get())}")
    cur.close()


@contextmanager
def planned_each_time(conn: Connection) -> Iterator[None]:
    """Inside this block every statement of ``conn`` is planned when it runs (PostgreSQL with psycopg 3):
    for the lookups of a table the same transaction is filling.

    psycopg 3 prepares a statement server-side once it has run five times, and PostgreSQL then may
    keep one generic plan for it. A sync runs the same chunked key lookup hundreds of times in one
    transaction while the table grows from nothing (its statistics do not see the new rows before the
    commit), so the plan made when the table was small (a sequential scan) was kept when it held 100k
    rows: one lookup went from 2.4 ms to 869 ms and the sync grew quadratically. Planned each time,
    the planner sees the table's real size and walks the primary key index. The inserts stay prepared
    (planning each of their rows would cost more than it saves)."""
    raw = conn.connection.dbapi_connection if conn.dialect.name == "postgresql" else None
    if raw is None or not hasattr(raw, "prepare_threshold"):
        yield
        return
    before = raw.prepare_threshold
    raw.prepare_threshold = None
    try:
        yield
    finally:
        raw.prepare_threshold = before


# DuckDB lets one process at a time open a database file to write; another gets this error.
_DUCKDB_LOCK = re.compile(r'Could not set lock on file "(?P<path>[^"]*)": Conflicting lock is held in .*?\(PID (?P<pid>\d+)\)', re.S)


def file_in_use(exc: BaseException) -> str | None:
    """What DuckDB's "Could not set lock on file" means and what to do, in one line (None for any other
    error): the file is open in another process, most likely the running bot while ``csbot sync`` runs."""
    found = _DUCKDB_LOCK.search(str(getattr(exc, "orig", None) or exc))
    if found is None:
        return None
    return (f"the DuckDB file {found['path']} is in use by another process (PID {found['pid']}), most likely the "
            "running csbot bot or another csbot sync: DuckDB lets one process at a time open its file. To sync while "
            "the bot runs, let the bot sync on its schedule (CSBOT_SYNC_SCHEDULE with CSBOT_SYNC_CSV_DIR or "
            "CSBOT_SYNC_SQL_URL); or stop the bot, run csbot sync, then start the bot again. "
            "PostgreSQL has no such limit")


def init_schema(engine: Engine) -> None:
    try:
        schema.metadata.create_all(engine)
        _add_columns(engine)
        _add_indexes(engine)
        count_writes(engine)
    except OperationalError as exc:
        url = engine.url.render_as_string(hide_password=False)
        in_use = file_in_use(exc)
        if in_use is not None:
            raise DatabaseUnavailable(in_use) from None
        raise DatabaseUnavailable(f"cannot reach the database at {safe_url(url)}: {scrub(_first_line(exc), url)}") from None


def has_column(conn: Connection, table: str, column: str) -> bool:
    """Whether ``table`` has ``column`` in the database (a database made by an older csbot may not)."""
    if conn.dialect.name == "duckdb":  # duckdb_engine's inspector asks for PostgreSQL catalog tables DuckDB lacks
        return conn.execute(text(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = :t AND column_name = :c"), {"t": table, "c": column}).scalar_one() > 0
    return any(c["name"] == column for c in inspect(conn).get_columns(table))


def _add_columns(engine: Engine) -> None:
    """Add the columns added since older databases were made (``schema.ADDED_COLUMNS``, nullable)."""
    for table, name in schema.ADDED_COLUMNS:
        with engine.begin() as conn:
            if not has_column(conn, table.name, name):
                column = table.c[name]
                kind = column.type.compile(dialect=engine.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}")


def _add_indexes(engine: Engine) -> None:
    """Create the indexes added since older databases were made (``schema.ADDED_INDEXES``), each in a
    transaction of its own. One that cannot be created (a database user without the right to) is
    logged and left out: the answers that use it are slower, never wrong."""
    for ix in schema.ADDED_INDEXES:
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "duckdb":  # duckdb_engine cannot list indexes (checkfirst)
                    conn.execute(CreateIndex(ix, if_not_exists=True))
                else:  # looked up first: PostgreSQL locks the table even for IF NOT EXISTS
                    ix.create(conn, checkfirst=True)
        except SQLAlchemyError as exc:
            logger.warning("could not add index %s (answers that use it are slower): %s", ix.name, _first_line(exc))


def count_writes(engine: Engine) -> None:
    """PostgreSQL: a statement trigger on each ``schema.WRITE_COUNTED`` table adds one to its row of
    ``csbot_writes`` for every statement that writes it (insert, update, delete, truncate), in that
    statement's transaction: the derived states' stamps read the number instead of counting the table
    for every answer (30 ms at 224k subscriptions). The function keeps the schema it was made in, so a
    session with another search path counts into the right table. One that cannot be made (a user
    without the right to) is logged and left out: the stamps then count the table, as elsewhere."""
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE OR REPLACE FUNCTION csbot_count_write() RETURNS trigger LANGUAGE plpgsql "
                "SET search_path FROM CURRENT AS $$ BEGIN "
                "INSERT INTO csbot_writes (tbl, n) VALUES (TG_TABLE_NAME, 1) "
                "ON CONFLICT (tbl) DO UPDATE SET n = csbot_writes.n + 1; RETURN NULL; END $$")
            for table in schema.WRITE_COUNTED:  # constant names, never user input
                exists = conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_trigger WHERE tgname = %(name)s AND tgrelid = to_regclass(%(table)s)",
                    {"name": schema.write_trigger(table), "table": table}).scalar_one()
                if not exists:
                    conn.exec_driver_sql(
                        f"CREATE TRIGGER {schema.write_trigger(table)} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                        "FOR EACH STATEMENT EXECUTE FUNCTION csbot_count_write()")
    except SQLAlchemyError as exc:
        logger.warning("could not count writes with a trigger (freshness checks count the tables): %s", _first_line(exc))


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
        raise DatabaseUnavailable(file_in_use(exc) or f"cannot use the database at {safe_url(url)}: "
                                                      f"{scrub(_first_line(exc), url)}") from None
    return Database(engine=engine, url=safe_url(url), embedded=settings.uses_embedded_database)
