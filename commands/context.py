"""Who is asking, where, when and against which data (``Context``), and the one
question a command answers (``Request``), with the request's one database connection;
and the two facts about that data every answer may need: ``NoData`` and ``freshness``."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from commands.messages import t
from metrics.clock import local_today, utcnow
from metrics.db import Database, last_successful_sync
from metrics.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    """Who is asking, where, and against which data. ``now`` and ``today`` are read
    once, at the entry point (a Slack event, the console, a CLI command): every
    answer below uses them, never the wall clock."""

    db: Database
    settings: Settings
    today: date
    now: datetime
    user_id: str | None = None
    user_email: str | None = None
    channel_id: str | None = None
    thread_ts: str | None = None  # the Slack thread a question was asked in (follow-ups refine its last query)
    surface: str = "console"  # console | cli | slash | mention | dm | home | digest
    # The revenue channels' IDs, CSBOT_REVENUE_CHANNELS names resolved through Slack (None: the IDs
    # configured as IDs only). commands.privacy decides by channel ID with them.
    revenue_channel_ids: frozenset[str] | None = None

    @classmethod
    def create(cls, db: Database, settings: Settings, *, now: datetime | None = None, **kwargs) -> Context:
        """A context at ``now`` (default: the clock, read here once); ``today`` is its date in the workspace."""
        now = now or utcnow()
        return cls(db=db, settings=settings, today=local_today(settings.tz, now), now=now, **kwargs)


@dataclass(frozen=True)
class Request:
    """One question for one command. ``conn`` is the request's database connection,
    opened by the router's dispatch and closed after the answer (None for a command
    that declares it needs no data)."""

    command: str
    args: str  # the text after the command word, as typed
    text: str  # the whole question
    lang: str
    ctx: Context
    natural: bool = False  # a free-form question rather than "command args"
    conn: Connection | None = None
    commands: tuple[Any, ...] = ()  # every command's ``CommandSpec`` (what help lists), given by dispatch
    query: Any = None  # the ``commands.query.Query`` the text was understood as (set by dispatch)

    def connection(self) -> AbstractContextManager[Connection]:
        """The request's connection for a ``with`` block. It opens and closes
        nothing: dispatch does, once per request, so every query of an answer
        (and the accounts view inside it) shares one connection."""
        if self.conn is None:
            raise RuntimeError(f"command {self.command!r} has no database connection (needs_data=False)")
        return nullcontext(self.conn)


class NoData(RuntimeError):
    """The named database holds no synced data yet."""


def freshness(ctx: Context, lang: str) -> str:
    """The footer of an answer: when the data was last synced, in the workspace's time zone."""
    synced = last_successful_sync(ctx.db.engine)
    if synced is None:
        return t("router.never_synced", lang)
    stamp = synced.astimezone(ctx.settings.tz).strftime("%Y-%m-%d %H:%M %Z")
    return t("router.synced_at", lang, stamp=stamp)
