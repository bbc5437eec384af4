"""The Bolt app factory: no module-level app, no globals.

``create_app(settings, db)`` builds the ``slack_bolt.App`` on csbot's WebClient
(``bot.slack.client.make_client``), answers each Events API event once (``EventLog``:
Slack redelivers events, several replicas may each get one), wires every listener
through ``register_listeners`` and sets the error handler, which logs the exception
with its traceback.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Executor
from datetime import datetime, timedelta, timezone
from typing import Callable

from slack_bolt import App, BoltResponse
from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.slack.client import ChannelDirectory, make_client
from bot.slack.listeners import register_listeners
from bot.slack.listeners.deps import Deps, log_error
from metrics import schema
from metrics.clock import utcnow
from metrics.db import Database
from metrics.settings import ConfigError, Settings

logger = logging.getLogger(__name__)

KEEP_EVENTS = timedelta(days=1)  # Slack retries within minutes; a day is plenty
PRUNE_EVERY = timedelta(hours=1)


class EventLog:
    """The ``event_id``s already answered, in the database (``schema.slack_handled_events``) so that
    replicas agree: ``first_time`` inserts the id if absent, in one statement, and says whether this
    call inserted it. Rows older than a day are pruned (at most once an hour per process)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None):
        self.engine = engine
        self.clock = clock
        self._pruned_at: datetime | None = None
        self._lock = threading.Lock()

    def _now(self) -> datetime:
        now = self.clock() if self.clock else utcnow()
        return now if now.tzinfo is None else now.astimezone(timezone.utc).replace(tzinfo=None)

    def first_time(self, event_id: str) -> bool:
        now = self._now()
        table = schema.slack_handled_events
        try:
            with self.engine.begin() as conn:
                stmt, returning = _insert_if_absent(conn.dialect.name, table, {"event_id": event_id[:64],
                                                                               "handled_at": now})
                result = conn.execute(stmt)
                inserted = result.first() is not None if returning else True
        except IntegrityError:
            return False  # another replica (or a retry) inserted it first
        except SQLAlchemyError as exc:
            logger.warning("could not record event %s (%s): answering it anyway", event_id, type(exc).__name__)
            return True
        self._prune(now)
        return inserted

    def _prune(self, now: datetime) -> None:
        with self._lock:
            if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
                return
            self._pruned_at = now
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(schema.slack_handled_events)
                             .where(schema.slack_handled_events.c.handled_at < now - KEEP_EVENTS))
        except SQLAlchemyError as exc:
            logger.warning("could not prune answered events: %s", type(exc).__name__)


def _insert_if_absent(dialect: str, table, values: dict):
    """INSERT … ON CONFLICT DO NOTHING RETURNING where the database has it (no row back on a
    duplicate); elsewhere a plain INSERT whose duplicate raises IntegrityError."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).values(**values).on_conflict_do_nothing(index_elements=["event_id"]) \
            .returning(table.c.event_id), True
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).values(**values).on_conflict_do_nothing(index_elements=["event_id"]) \
            .returning(table.c.event_id), True
    return insert(table).values(**values), False


def once_per_event(events: EventLog):
    """A Bolt middleware: an Events API delivery whose ``event_id`` was already answered (a retry,
    ``X-Slack-Retry-Num``; the same event at another replica) is acknowledged and nothing more."""

    def middleware(body: dict, next: Callable[[], BoltResponse]) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not events.first_time(str(event_id)):
            logger.info("event %s already answered: skipped", event_id)
            return BoltResponse(status=200, body="")
        return next()

    return middleware


def create_app(settings: Settings, db: Database, *, socket_mode: bool = False,
               clock: Callable[[], datetime] | None = None, listener_executor: Executor | None = None,
               process_before_response: bool = False) -> App:
    """``clock`` gives the current time (tests pin it); default: now. ``listener_executor``
    runs the lazy listeners (default: Bolt's thread pool; tests pass one they can drain)."""
    if not settings.slack_bot_token:
        raise ConfigError("SLACK_BOT_TOKEN", "missing; put your bot token (xoxb-...) in .env")
    if not socket_mode and not settings.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET",
                          "missing; HTTP mode needs the signing secret from your Slack app's Basic Information page")
    client = make_client(settings)
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret,
        request_verification_enabled=not socket_mode or bool(settings.slack_signing_secret),
        token_verification_enabled=False,  # no auth.test at start: start fast, fail on first use with a clear log line
        logger=logging.getLogger("csbot.bolt"),
        listener_executor=listener_executor,
        process_before_response=process_before_response,  # HTTP mode: acks in the request thread, never queued
    )
    app.middleware(once_per_event(EventLog(db.engine)))  # real time: retries come within minutes
    register_listeners(app, Deps(settings, db, clock=clock, channels=ChannelDirectory(client, settings)))
    app.error(log_error)
    return app
