"""What every job is given (``JobContext``: poster, settings, engine, worker name), what one tick
did (``TickResult``), and the shared steps: the admin report, the revenue rule for a target."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.jobs.lanes import Lanes
from bot.poster import Poster, PostError
from commands.privacy import is_revenue_channel
from metrics.db import DatabaseUnavailable
from metrics.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickResult:
    """What one tick did (for tests and logs)."""

    sent: list[int] = field(default_factory=list)  # delivery IDs
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)  # alerts_fired IDs posted
    jobs: list[str] = field(default_factory=list)  # run keys run


@dataclass(frozen=True)
class JobContext:
    """One process's jobs: where they post, what they read, and the name they claim rows with."""

    poster: Poster
    settings: Settings
    engine: Engine
    worker: str
    channel_names: dict[str, str | None] = field(default_factory=dict)  # channel ID -> name, asked once
    warned: set[str] = field(default_factory=set)  # configuration warnings logged once
    lanes: Lanes | None = None  # one posting thread per channel (None: post inline)

    def report_admin(self, text: str) -> None:
        """Tell CSBOT_ADMIN_CHANNEL (when set); a failure here is only logged."""
        admin = self.settings.admin_channel
        if not admin:
            return
        try:
            self.poster.post_text(admin, text)  # paced with any other post to the admin channel
        except PostError as exc:
            logger.error("could not report to the admin channel %s: %s", admin, exc.reason)

    def channel_name(self, channel: str) -> str | None:
        if channel not in self.channel_names:
            try:
                self.channel_names[channel] = self.poster.channel_info(channel).name
            except PostError as exc:
                logger.warning("channel info for %s failed: %s", channel, exc.reason)
                return None  # not cached: ask again next time
        return self.channel_names[channel]

    def revenue_allowed(self, target: str, channel: str, channel_name: str | None) -> bool:
        """May revenue figures go here? DMs yes; channels only when listed in CSBOT_REVENUE_CHANNELS
        (by ID or name; the name is asked for when only the ID is known)."""
        if target == "dm":
            return True
        if not self.settings.revenue_channels:
            return False
        if is_revenue_channel(self.settings, channel):  # by ID; a typed label (channel_name) never counts
            return True
        if not channel.startswith("#"):  # a configured name: the name Slack gives this ID
            return is_revenue_channel(self.settings, channel, slack_name=self.channel_name(channel))
        return False

    def warn_once(self, key: str, message: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            logger.warning(message)


def is_db_error(exc: BaseException) -> bool:
    return isinstance(exc, (SQLAlchemyError, DatabaseUnavailable))
