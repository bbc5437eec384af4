"""Mentions (``app_mention``) and direct messages (``message.im``).

A mention is answered in its thread, with the chart; an answer carrying revenue
figures outside the revenue channels goes to the asker only and says why. A DM is
answered in the DM. When Slack will not take the answer, the asker is told.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from slack_bolt import App

from bot.slack.listeners.deps import Deps, ack_at_once, logged
from bot.slack.listeners.send import post, revenue_note, tell_failure, upload_chart
from bot.slack.mrkdwn import decode
from commands.router import dispatch


def register(app: App, deps: Deps) -> None:
    @logged
    def answer_mention(event, client) -> None:
        on_mention(deps, event, client)

    @logged
    def answer_dm(event, client) -> None:
        on_message(deps, event, client)

    app.event("app_mention")(ack=ack_at_once, lazy=[answer_mention])
    app.event("message")(ack=ack_at_once, lazy=[answer_dm])


def on_mention(deps: Deps, event: dict[str, Any], client) -> None:
    channel, user = event.get("channel"), event.get("user")
    thread = event.get("thread_ts") or event.get("ts")
    ctx = deps.context(client, user_id=user, channel_id=channel, surface="mention")
    reply = dispatch(decode(event.get("text")), ctx)
    if not deps.may_be_public(client, reply, channel):
        reply = replace(reply, lines=reply.lines + (revenue_note("slack.private_note", deps.settings, reply.language),))
        post(client, channel, reply, thread_ts=thread, ephemeral_user=user)
        return
    if post(client, channel, reply, thread_ts=thread):
        upload_chart(client, deps.settings, channel, reply, thread_ts=thread)
    else:
        tell_failure(client, channel, user, thread, reply.language)


def on_message(deps: Deps, event: dict[str, Any], client) -> None:
    """A DM to the bot (other message events, the bot's own and edits are ignored)."""
    if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
        return
    channel, user, thread = event.get("channel"), event.get("user"), event.get("thread_ts")
    ctx = deps.context(client, user_id=user, channel_id=channel, surface="dm")
    reply = dispatch(decode(event.get("text")), ctx)
    if post(client, channel, reply, thread_ts=thread):
        upload_chart(client, deps.settings, channel, reply, thread_ts=thread)
    else:
        tell_failure(client, channel, user, thread, reply.language)
