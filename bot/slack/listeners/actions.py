"""Buttons under an answer. Each button's value is the question to ask again.

- ``csbot_how``, ``csbot_accounts``, ``csbot_term``, ``csbot_pick``: answer the value
  privately (``csbot_how`` with the "how it was computed" section open);
- ``csbot_share``: post the answer for everyone through the click's ``response_url``
  (``in_channel``), when it may be public there;
- ``csbot_chart``: send the answer's chart to the asker's DM.

Block Kit action IDs carry the button's position (``csbot_how_0``) so they stay unique.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

from slack_bolt import App

from bot.slack.blocks import message_payload
from bot.slack.client import SLACK_ERRORS, slack_error
from bot.slack.listeners.deps import Deps, ack_at_once, logged
from bot.slack.listeners.send import (
    attachment_to_dm,
    failure_text,
    respond_or_post,
    respond_safely,
    revenue_note,
    upload_chart,
)
from bot.slack.mrkdwn import escape
from commands.format import slack_ref
from commands.messages import t
from commands.reply import Reply
from commands.router import dispatch

logger = logging.getLogger(__name__)

SHARE = re.compile(r"^csbot_share(?:_\d+)?$")
CHART = re.compile(r"^csbot_chart(?:_\d+)?$")
ANSWER = re.compile(r"^csbot_(?!share(?:_|$)|chart(?:_|$))[a-z]+(?:_\d+)?$")  # how, accounts, term, pick


def register(app: App, deps: Deps) -> None:
    @logged
    def answer_button(body, action, respond, client) -> None:
        on_answer(deps, body, action, respond, client)

    @logged
    def share_button(body, action, respond, client) -> None:
        on_share(deps, body, action, respond, client)

    @logged
    def chart_button(body, action, respond, client) -> None:
        on_chart(deps, body, action, respond, client)

    app.action(ANSWER)(ack=ack_at_once, lazy=[answer_button])
    app.action(SHARE)(ack=ack_at_once, lazy=[share_button])
    app.action(CHART)(ack=ack_at_once, lazy=[chart_button])


def _asked(deps: Deps, body: dict[str, Any], action: dict[str, Any], client) -> tuple[Reply, str | None, str | None]:
    """The answer to the button's question (a guest gets the polite refusal instead of revenue),
    the asker and the channel."""
    user = (body.get("user") or {}).get("id")
    channel = (body.get("channel") or {}).get("id")
    ctx = deps.context(client, user_id=user, channel_id=channel, surface="action")
    reply = dispatch(action.get("value", ""), ctx)
    reply = deps.for_asker(client, reply, user)
    return reply, user, channel


def on_answer(deps: Deps, body: dict[str, Any], action: dict[str, Any], respond, client) -> None:
    reply, user, channel = _asked(deps, body, action, client)
    show_how = re.sub(r"_\d+$", "", action.get("action_id", "")) == "csbot_how"
    reply = attachment_to_dm(client, deps.settings, user, reply)  # an ephemeral answer carries no file
    respond_or_post(respond, client, channel, user, reply.language, response_type="ephemeral",
                    replace_original=False, **message_payload(reply, show_how=show_how))


def on_share(deps: Deps, body: dict[str, Any], action: dict[str, Any], respond, client) -> None:
    """Post the answer for everyone through the click's response_url (``in_channel``): it works in
    channels csbot has not joined, private channels and DMs, where chat.postMessage as the bot cannot."""
    reply, user, channel = _asked(deps, body, action, client)
    lang = reply.language
    if reply.kind == "error":  # nothing to share (a guest's refusal, a question that no longer works)
        respond_or_post(respond, client, channel, user, lang, response_type="ephemeral", replace_original=False,
                        **message_payload(reply))
        return
    if not deps.may_be_public(client, reply, channel, user_id=user):
        respond_or_post(respond, client, channel, user, lang, response_type="ephemeral", replace_original=False,
                        text=escape(revenue_note("slack.share_refused", deps.settings, lang)))
        return
    by = t("slack.shared_by", lang, user=slack_ref("user", user or ""))
    shared = replace(reply, footer=f"{reply.footer} · {by}" if reply.footer else by)

    def tell(reason: str) -> None:
        if channel and user:
            _tell(client, channel, user, lang)

    if respond_safely(respond, on_failure=tell, response_type="in_channel", replace_original=False,
                      **message_payload(shared)):
        if deps.channels and deps.channels.info(channel).get("is_member"):
            upload_chart(client, deps.settings, channel, reply)  # the bot can add the chart where it is a member


def _tell(client, channel: str, user: str, lang: str) -> None:
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=failure_text("failed", lang))
    except SLACK_ERRORS as exc:
        logger.error("telling %s the share failed: %s", user, slack_error(exc))


def on_chart(deps: Deps, body: dict[str, Any], action: dict[str, Any], respond, client) -> None:
    reply, user, channel = _asked(deps, body, action, client)
    if reply.chart is None or not user:
        respond_or_post(respond, client, channel, user, reply.language, response_type="ephemeral",
                        replace_original=False, text=t("slack.no_chart", reply.language))
        return
    try:
        dm = client.conversations_open(users=user)["channel"]["id"]
    except SLACK_ERRORS as exc:
        logger.error("conversations.open failed: %s", slack_error(exc))
        return
    upload_chart(client, deps.settings, dm, reply)
