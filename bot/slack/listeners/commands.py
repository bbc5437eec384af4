"""Slash commands: ``/churn``, ``/health`` ... and ``/cs <anything>``.

The ack comes at once (with the usage text when the input is plainly wrong); the
answer follows on the ``response_url``, private to the asker, with "Share in
channel" and, when the answer has one, "Chart" buttons.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from slack_bolt import App

from bot.slack.blocks import message_payload
from bot.slack.listeners.deps import Deps, logged
from bot.slack.listeners.send import attachment_to_dm, respond_or_post
from bot.slack.mrkdwn import decode, escape
from commands.messages import t
from commands.reply import Button
from commands.router import dispatch, precheck

SLASH = re.compile(r"^/[a-z][a-z0-9_-]*$")


def register(app: App, deps: Deps) -> None:
    def ack_slash(ack, body) -> None:
        ack_command(deps, ack, body)

    @logged
    def answer_slash(body, respond, client) -> None:
        answer_command(deps, body, respond, client)

    app.command(SLASH)(ack=ack_slash, lazy=[answer_slash])


def command_text(body: dict[str, Any]) -> tuple[str | None, str]:
    """The command a slash command names (None for /cs) and its text."""
    name = body.get("command", "/cs").lstrip("/").lower()
    text = decode(body.get("text"))  # Slack sends &amp; &lt; &gt;: the commands read what was typed
    return (None if name in ("cs", "csbot") else name), text


def ack_command(deps: Deps, ack, body: dict[str, Any]) -> None:
    name, text = command_text(body)
    problem = precheck(text, name, deps.settings, user_id=body.get("user_id"))
    if problem:
        ack(text=escape(problem))  # Slack shows the usage message to the asker only
    else:
        ack()


def answer_command(deps: Deps, body: dict[str, Any], respond, client) -> None:
    name, text = command_text(body)
    if precheck(text, name, deps.settings, user_id=body.get("user_id")):
        return  # already answered in the ack
    user, channel = body.get("user_id"), body.get("channel_id")
    text = deps.with_emails(client, text)  # owner:@alice arrives as <@U…|alice>: match her e-mail too
    ctx = deps.context(client, user_id=user, channel_id=channel, surface="slash")
    reply = dispatch(text, ctx, command_name=name)
    reply = deps.for_asker(client, reply, user)
    asked = f"{name} {text}".strip() if name else text
    if reply.kind == "answer":
        lang = reply.language
        extra = [Button("csbot_share", t("slack.share_button", lang), asked)]
        if reply.chart is not None:
            extra.append(Button("csbot_chart", t("slack.chart_button", lang), asked))
        reply = replace(reply, buttons=reply.buttons + tuple(extra))
    reply = attachment_to_dm(client, deps.settings, user, reply)  # an ephemeral answer carries no file
    respond_or_post(respond, client, channel, user, reply.language, response_type="ephemeral",
                    **message_payload(reply))
