"""Slack listeners: slash commands, mentions, DMs and buttons, all through one dispatch.

Every listener acks at once (within Slack's 3 seconds; with the usage text when
the input is plainly wrong) and does the real work in a lazy function.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any, Callable

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.blocks import message_payload
from commands.core import Context, dispatch, precheck
from commands.reply import Reply
from metrics.db import Database
from metrics.settings import Settings

logger = logging.getLogger(__name__)

SLASH = re.compile(r"^/[a-z][a-z0-9_-]*$")
ACTION = re.compile(r"^csbot_[a-z]+(?:_\d+)?$")


def register_listeners(app: App, settings: Settings, db: Database, *, clock: Callable[[], datetime] | None = None) -> None:
    listeners = Listeners(settings, db, clock=clock)
    app.command(SLASH)(ack=listeners.ack_command, lazy=[listeners.run_command])
    app.event("app_mention")(ack=_ack, lazy=[listeners.on_mention])
    app.event("message")(ack=_ack, lazy=[listeners.on_message])
    app.action(ACTION)(ack=_ack, lazy=[listeners.on_action])
    app.error(listeners.on_error)


def _ack(ack) -> None:
    ack()


def command_text(body: dict[str, Any]) -> tuple[str | None, str]:
    """The command a slash command names (None for /cs) and its text."""
    name = body.get("command", "/cs").lstrip("/").lower()
    text = body.get("text") or ""
    return (None if name in ("cs", "csbot") else name), text


class Listeners:
    def __init__(self, settings: Settings, db: Database, *, clock: Callable[[], datetime] | None = None):
        self.settings = settings
        self.db = db
        self.clock = clock

    def context(self, *, user_id: str | None, channel_id: str | None, surface: str) -> Context:
        now = self.clock() if self.clock else None
        return Context.create(self.db, self.settings, now=now, user_id=user_id, channel_id=channel_id, surface=surface)

    # -- slash commands ------------------------------------------------------
    def ack_command(self, ack, body) -> None:
        name, text = command_text(body)
        problem = precheck(text, name, self.settings, user_id=body.get("user_id"))
        if problem:
            ack(text=problem)  # Slack shows the usage message to the asker only
        else:
            ack()

    def run_command(self, body, respond) -> None:
        name, text = command_text(body)
        if precheck(text, name, self.settings, user_id=body.get("user_id")):
            return  # already answered in the ack
        ctx = self.context(user_id=body.get("user_id"), channel_id=body.get("channel_id"), surface="slash")
        reply = dispatch(text, ctx, command_name=name)
        respond(response_type="ephemeral", **message_payload(reply))

    # -- mentions and DMs ----------------------------------------------------
    def on_mention(self, event, client) -> None:
        ctx = self.context(user_id=event.get("user"), channel_id=event.get("channel"), surface="mention")
        reply = dispatch(event.get("text", ""), ctx)
        self._post(client, event["channel"], reply, thread_ts=event.get("thread_ts") or event.get("ts"))

    def on_message(self, event, client) -> None:
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
            return
        ctx = self.context(user_id=event.get("user"), channel_id=event.get("channel"), surface="dm")
        reply = dispatch(event.get("text", ""), ctx)
        self._post(client, event["channel"], reply, thread_ts=event.get("thread_ts"))

    # -- buttons -------------------------------------------------------------
    def on_action(self, body, action, respond) -> None:
        user = (body.get("user") or {}).get("id")
        channel = (body.get("channel") or {}).get("id")
        ctx = self.context(user_id=user, channel_id=channel, surface="action")
        reply = dispatch(action.get("value", ""), ctx)
        show_how = action.get("action_id", "").startswith("csbot_how")
        respond(response_type="ephemeral", replace_original=False, **message_payload(reply, show_how=show_how))

    def _post(self, client, channel: str, reply: Reply, thread_ts: str | None = None) -> None:
        payload = message_payload(reply)
        try:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, **payload)
        except SlackApiError as exc:
            logger.error("chat.postMessage to %s failed: %s", channel, exc.response.get("error"))

    def on_error(self, error, body, logger=logger) -> None:
        logger.error("listener error: %s", type(error).__name__)
