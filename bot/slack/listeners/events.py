"""Mentions (``app_mention``), direct messages (``message.im``) and channel renames.

A mention is answered in its thread, with the chart; an answer carrying revenue
figures outside the revenue channels goes to the asker only and says why (in the
channel itself for a top-level mention: Slack shows no ephemeral message in a thread
that has no replies yet). A DM is answered in the DM. A guest asking for revenue is
told politely that it is for members. When Slack will not take the answer, the asker
is told. A renamed channel makes the revenue channels given by name be resolved again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from slack_bolt import App

from bot.slack.listeners.deps import Deps, ack_at_once, logged
from bot.slack.listeners.send import (
    attachment_to_dm,
    post,
    revenue_note,
    tell_failure,
    upload_attachment,
    upload_chart,
)
from bot.slack.mrkdwn import decode
from commands.router import dispatch


def register(app: App, deps: Deps) -> None:
    @logged
    def answer_mention(event, client) -> None:
        on_mention(deps, event, client)

    @logged
    def answer_dm(event, client) -> None:
        on_message(deps, event, client)

    def renamed(ack) -> None:
        ack()
        if deps.channels:
            deps.channels.forget()

    app.event("app_mention")(ack=ack_at_once, lazy=[answer_mention])
    app.event("message")(ack=ack_at_once, lazy=[answer_dm])
    app.event("channel_rename")(renamed)
    app.event("group_rename")(renamed)


def event_text(deps: Deps, event: dict[str, Any], client) -> str:
    """The question as Slack sent it, with user mentions carrying their e-mail (``owner:@alice``)."""
    return deps.with_emails(client, decode(event.get("text") or ""))


def on_mention(deps: Deps, event: dict[str, Any], client) -> None:
    channel, user = event.get("channel"), event.get("user")
    # A public answer starts (or joins) the mention's thread. A private one may only name a thread
    # that already has replies: Slack never shows an ephemeral message in a thread that does not
    # exist yet, so a top-level mention is answered privately in the channel itself.
    thread = event.get("thread_ts") or event.get("ts")
    existing_thread = event.get("thread_ts")
    # The question belongs to the thread its answer starts (or joins): a follow-up there refines it.
    ctx = deps.context(client, user_id=user, channel_id=channel, surface="mention", thread_ts=thread)
    reply = dispatch(event_text(deps, event, client), ctx)
    shown = deps.for_asker(client, reply, user)
    if shown is not reply:  # a guest, or Slack would not say who asks: only they see why
        post(client, channel, shown, thread_ts=existing_thread, ephemeral_user=user)
        return
    if not deps.may_be_public(client, reply, channel, user_id=user):
        reply = replace(reply, lines=reply.lines + (revenue_note("slack.private_note", deps.settings, reply.language),))
        reply = attachment_to_dm(client, deps.settings, user, reply)
        if not post(client, channel, reply, thread_ts=existing_thread, ephemeral_user=user):
            tell_failure(client, channel, user, existing_thread, reply.language)
        return
    if post(client, channel, reply, thread_ts=thread):
        upload_chart(client, deps.settings, channel, reply, thread_ts=thread)
        upload_attachment(client, deps.settings, channel, reply, thread_ts=thread)
    else:
        tell_failure(client, channel, user, existing_thread, reply.language)


def on_message(deps: Deps, event: dict[str, Any], client) -> None:
    """A DM to the bot (other message events, the bot's own and edits are ignored)."""
    if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
        return
    channel, user, thread = event.get("channel"), event.get("user"), event.get("thread_ts")
    ctx = deps.context(client, user_id=user, channel_id=channel, surface="dm", thread_ts=thread)
    reply = dispatch(event_text(deps, event, client), ctx)
    reply = deps.for_asker(client, reply, user)
    if post(client, channel, reply, thread_ts=thread):
        upload_chart(client, deps.settings, channel, reply, thread_ts=thread)
        upload_attachment(client, deps.settings, channel, reply, thread_ts=thread)
    else:
        tell_failure(client, channel, user, thread, reply.language)
