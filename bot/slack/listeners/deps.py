"""What every listener shares: the settings, the database and the clock (``Deps``),
what Slack says about the asker (e-mail, locale, guest or not: one ``users.info``, cached)
and about channels (``bot.slack.client.ChannelDirectory``: the revenue channels as IDs, a
person's own DM), the privacy questions asked of ``commands.privacy``, the plain ack, and
the one error handler.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from bot.slack.client import SLACK_ERRORS, ChannelDirectory, slack_error
from commands import privacy
from commands.context import Context
from commands.messages import LANGUAGES, t
from commands.reply import Reply, error_reply
from metrics.db import Database
from metrics.settings import Settings

logger = logging.getLogger(__name__)

# A user mention as Slack sends it in event and slash-command text: <@U123> or <@U123|name>.
USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class Person:
    """What ``users.info`` said about a Slack user."""

    email: str | None = None
    locale: str | None = None
    guest: bool = False  # is_restricted (multi-channel guest) or is_ultra_restricted (single-channel)


@dataclass(frozen=True)
class Deps:
    """Passed to every listener module's ``register``. ``clock`` gives the current
    time (tests pin it); default: now. ``channels``: the channel directory on the app's client."""

    settings: Settings
    db: Database
    clock: Callable[[], datetime] | None = None
    channels: ChannelDirectory | None = None
    _people: dict[str, Person] = field(default_factory=dict, repr=False, compare=False)

    def context(self, client, *, user_id: str | None, channel_id: str | None, surface: str,
                thread_ts: str | None = None) -> Context:
        now = self.clock() if self.clock else None
        revenue_ids = self.revenue_ids() if privacy.configured_names(self.settings) else None
        return Context.create(self.db, self.settings, now=now, user_id=user_id,
                              user_email=self.user_email(client, user_id), channel_id=channel_id,
                              thread_ts=thread_ts, surface=surface, revenue_channel_ids=revenue_ids)

    def person(self, client, user_id: str | None) -> Person | None:
        """``users.info`` of ``user_id``, looked up once and cached (None when Slack would not say)."""
        if not user_id or client is None:
            return None
        if user_id not in self._people:
            try:
                user = client.users_info(user=user_id, include_locale=True)["user"]
            except SLACK_ERRORS as exc:
                logger.warning("users.info for %s failed: %s", user_id, slack_error(exc))
                return None  # not cached: try again next time
            self._people[user_id] = Person(
                email=(user.get("profile") or {}).get("email"), locale=user.get("locale"),
                guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")))
        return self._people[user_id]

    def user_email(self, client, user_id: str | None) -> str | None:
        """The user's e-mail (accounts' owners may be e-mails)."""
        person = self.person(client, user_id)
        return person.email if person else None

    def is_guest(self, client, user_id: str | None) -> bool | None:
        """A guest of the workspace (None: Slack would not say)."""
        if not user_id:
            return False
        person = self.person(client, user_id)
        return None if person is None else person.guest

    def user_language(self, client, user_id: str | None) -> str:
        """The language to answer ``user_id`` in where there is no question to read it from
        (the App Home): the workspace's CSBOT_LANGUAGE, or under ``auto`` the user's Slack
        locale ("ja-JP" -> ja; English otherwise or when Slack does not say)."""
        if self.settings.language in LANGUAGES:
            return self.settings.language
        person = self.person(client, user_id)
        locale = ((person.locale if person else None) or "").lower()
        return "ja" if locale.startswith("ja") else "en"

    def with_emails(self, client, text: str) -> str:
        """``text`` with each user mention written as ``<@U123|e-mail>`` when Slack gives the user's e-mail,
        so that ``owner:@alice`` (which arrives as ``<@U123>``, no name) matches accounts owned by that
        e-mail. The bot's own mention and users without an e-mail are left as they are."""

        def one(m: re.Match) -> str:
            email = self.user_email(client, m.group(1))
            return f"<@{m.group(1)}|{email}>" if email and " " not in email else m.group(0)

        if "<@" not in text:
            return text
        return USER_MENTION.sub(one, text)

    def revenue_ids(self) -> frozenset[str]:
        return self.channels.revenue_ids() if self.channels else privacy.configured_ids(self.settings)

    def may_be_public(self, client, reply: Reply, channel_id: str | None, *, user_id: str | None = None) -> bool:
        """``commands.privacy.may_be_public`` by channel ID: a revenue channel (its name resolved through
        Slack), or ``user_id``'s own DM with csbot."""
        if privacy.may_be_public(reply, self.settings, channel_id, revenue_ids=privacy.configured_ids(self.settings)):
            return True  # no revenue in it, or a channel given by ID: no Slack call needed
        is_dm = bool(self.channels) and self.channels.is_own_dm(channel_id, user_id)
        return privacy.may_be_public(reply, self.settings, channel_id, is_dm=is_dm, revenue_ids=self.revenue_ids())

    def for_asker(self, client, reply: Reply, user_id: str | None) -> Reply:
        """``reply``, or what the asker gets instead when ``commands.privacy.may_see`` says a guest may not
        see it: a guest is told politely; when Slack would not say who is asking (users.info failed),
        revenue is held back and the asker is asked to try again."""
        if privacy.may_see(reply, guest=True):
            return reply
        guest = self.is_guest(client, user_id)
        if guest is None:
            return error_reply(t("slack.who_unknown", reply.language), language=reply.language)
        if not privacy.may_see(reply, guest=guest):
            return error_reply(t("slack.guest_refused", reply.language), language=reply.language)
        return reply


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
