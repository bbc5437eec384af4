"""What every listener shares: the settings, the database and the clock (``Deps``),
the asker's e-mail and the channel's name (looked up once, then cached), the
privacy question asked of ``commands.privacy``, the plain ack, and the one error handler.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from bot.slack.client import SLACK_ERRORS, slack_error
from commands import privacy
from commands.context import Context
from commands.messages import LANGUAGES
from commands.reply import Reply
from metrics.db import Database
from metrics.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deps:
    """Passed to every listener module's ``register``. ``clock`` gives the current
    time (tests pin it); default: now."""

    settings: Settings
    db: Database
    clock: Callable[[], datetime] | None = None
    _emails: dict[str, str | None] = field(default_factory=dict, repr=False, compare=False)
    _locales: dict[str, str | None] = field(default_factory=dict, repr=False, compare=False)
    _channel_names: dict[str, str | None] = field(default_factory=dict, repr=False, compare=False)

    def context(self, client, *, user_id: str | None, channel_id: str | None, surface: str) -> Context:
        now = self.clock() if self.clock else None
        return Context.create(self.db, self.settings, now=now, user_id=user_id,
                              user_email=self.user_email(client, user_id), channel_id=channel_id, surface=surface)

    def user_email(self, client, user_id: str | None) -> str | None:
        """The asker's e-mail (accounts' owners may be e-mails), looked up once and cached."""
        if not user_id or client is None:
            return None
        if user_id not in self._emails:
            try:
                user = client.users_info(user=user_id, include_locale=True)["user"]
            except SLACK_ERRORS as exc:
                logger.warning("users.info for %s failed: %s", user_id, slack_error(exc))
                return None  # not cached: try again next time
            self._emails[user_id] = (user.get("profile") or {}).get("email")
            self._locales[user_id] = user.get("locale")
        return self._emails[user_id]

    def user_language(self, client, user_id: str | None) -> str:
        """The language to answer ``user_id`` in where there is no question to read it from
        (the App Home): the workspace's CSBOT_LANGUAGE, or under ``auto`` the user's Slack
        locale ("ja-JP" -> ja; English otherwise or when Slack does not say)."""
        if self.settings.language in LANGUAGES:
            return self.settings.language
        self.user_email(client, user_id)  # one users.info gives both, cached
        locale = (self._locales.get(user_id or "") or "").lower()
        return "ja" if locale.startswith("ja") else "en"

    def channel_name(self, client, channel_id: str | None) -> str | None:
        if not channel_id:
            return None
        if channel_id not in self._channel_names:
            try:
                self._channel_names[channel_id] = client.conversations_info(channel=channel_id)["channel"].get("name")
            except SLACK_ERRORS as exc:
                logger.warning("conversations.info for %s failed: %s", channel_id, slack_error(exc))
                return None
        return self._channel_names[channel_id]

    def may_be_public(self, client, reply: Reply, channel_id: str | None, *, is_dm: bool = False) -> bool:
        """``commands.privacy.may_be_public``, looking the channel's name up only when its ID
        alone does not settle it."""
        if privacy.may_be_public(reply, self.settings, channel_id, is_dm=is_dm):
            return True
        if not channel_id or not self.settings.revenue_channels:
            return False
        return privacy.may_be_public(reply, self.settings, channel_id, is_dm=is_dm,
                                     channel_name=self.channel_name(client, channel_id))


def ack_at_once(ack) -> None:
    """The ack of a listener whose work is all lazy."""
    ack()


def log_error(error: BaseException, body: dict[str, Any] | None = None) -> None:
    """The app's error handler: the exception with its traceback, and what Slack sent
    (its type, never the payload: it may carry a user's question)."""
    kind = (body or {}).get("type") or (body or {}).get("command") or "request"
    logger.error("listener failed on %s: %s: %s", kind, type(error).__name__, error, exc_info=error)


def logged(fn: Callable[..., None]) -> Callable[..., None]:
    """A lazy listener whose failure reaches ``log_error`` (Bolt would log one line
    without the traceback). Bolt injects its arguments by ``fn``'s parameter names."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Exception as exc:
            log_error(exc, kwargs.get("body"))

    return run
