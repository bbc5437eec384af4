"""How a listener answers: post a ``Reply`` (in a channel, a thread or privately),
answer on a ``response_url`` (checking what Slack answered), upload the reply's chart,
and tell the asker when Slack would not take the answer. Failures are logged in one
short word (``slack_error`` / the response_url's answer), never ignored.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Callable

from bot.poster import PostError
from bot.slack.blocks import message_payload
from bot.slack.client import SLACK_ERRORS, slack_error
from commands.format import slack_ref
from commands.messages import t
from commands.privacy import is_channel_id
from commands.reply import Reply
from metrics.settings import Settings

logger = logging.getLogger(__name__)


def post(client, channel: str | None, reply: Reply, *, thread_ts: str | None = None,
         ephemeral_user: str | None = None, on_failure=None) -> bool:
    """Post ``reply``; on failure log it and, with ``on_failure`` (a ``respond``), tell the asker why.
    An ephemeral message names ``thread_ts`` only for a thread that already has replies (Slack
    shows none in a thread that does not exist yet): the caller decides."""
    payload = message_payload(reply)
    try:
        if ephemeral_user:
            if thread_ts:
                client.chat_postEphemeral(channel=channel, user=ephemeral_user, thread_ts=thread_ts, **payload)
            else:
                client.chat_postEphemeral(channel=channel, user=ephemeral_user, **payload)
        else:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, **payload)
        return True
    except SLACK_ERRORS as exc:
        error = slack_error(exc)
        logger.error("posting to %s failed: %s", channel, error)
        if on_failure is not None:
            respond_safely(on_failure, response_type="ephemeral", replace_original=False,
                           text=failure_text(error, reply.language))
        return False


def respond_safely(respond, *, on_failure: Callable[[str], None] | None = None, **kwargs: Any) -> bool:
    """Answer on the ``response_url`` and check Slack's answer: True when taken. A refusal
    (``expired_url`` after 30 minutes, ``used_url`` after 5 uses, ``invalid_blocks`` ...) comes back
    as an HTTP status, not an exception: it is logged in one line and handed to ``on_failure``."""
    try:
        response = respond(**kwargs)
    except SLACK_ERRORS as exc:
        reason = slack_error(exc)
    except Exception as exc:  # no response_url in the request, a malformed one
        reason = type(exc).__name__
    else:
        status = getattr(response, "status_code", 200)
        if status is None or 200 <= int(status) < 300:
            return True
        body = str(getattr(response, "body", "") or "").strip()
        reason = body[:40] if body and " " not in body[:40] else f"HTTP {status}"
    logger.error("response_url post failed: %s", reason)
    if on_failure is not None:
        on_failure(reason)
    return False


def respond_or_post(respond, client, channel: str | None, user: str | None, lang: str, **kwargs: Any) -> bool:
    """A private answer on the ``response_url``; when Slack refuses it there, the same answer as an
    ephemeral message in the channel (an expired or used-up URL), or a short note saying the answer
    could not be shown (blocks Slack would not take)."""

    def fall_back(reason: str) -> None:
        payload = {k: v for k, v in kwargs.items() if k in ("text", "blocks")}
        if reason in ("expired_url", "used_url", "invalid_url") and payload and channel and user:
            _ephemeral(client, channel, user, **payload)
        elif channel and user:
            _ephemeral(client, channel, user, text=failure_text("failed", lang))

    return respond_safely(respond, on_failure=fall_back, **kwargs)


def _ephemeral(client, channel: str, user: str, **payload: Any) -> None:
    try:
        client.chat_postEphemeral(channel=channel, user=user, **payload)
    except SLACK_ERRORS as exc:
        logger.error("ephemeral fallback to %s failed: %s", channel, slack_error(exc))


def tell_failure(client, channel: str | None, user: str | None, thread_ts: str | None, lang: str) -> None:
    """The answer could not be posted (timeout, Slack error): try once to tell the asker
    (in ``thread_ts`` only when that thread already has replies)."""
    if not user:
        return
    try:
        if thread_ts:
            client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts,
                                      text=failure_text("failed", lang))
        else:
            client.chat_postEphemeral(channel=channel, user=user, text=failure_text("failed", lang))
    except SLACK_ERRORS as exc:
        logger.error("telling %s about the failure failed: %s", user, slack_error(exc))


def failure_text(error: str, lang: str) -> str:
    """What to tell the asker when Slack answered ``error``."""
    if error in ("not_in_channel", "channel_not_found"):
        return t("slack.post_not_in_channel", lang)
    if error == "ratelimited":
        return t("slack.post_ratelimited", lang)
    return t("slack.post_failed", lang)


def revenue_note(key: str, settings: Settings, lang: str) -> str:
    """``slack.private_note`` or ``slack.share_refused``, naming the revenue channels."""
    channels = ", ".join(slack_ref("channel", c) if is_channel_id(c) else f"#{c}" for c in settings.revenue_channels)
    where = (t("slack.revenue_channels", lang, channels=channels) if channels
             else t("slack.revenue_channels_unset", lang))
    return t(key, lang, where=where)


def upload_chart(client, settings: Settings, channel: str | None, reply: Reply, thread_ts: str | None = None) -> None:
    """Draw the reply's chart (when it has data) and upload it through the Slack poster; failures are logged."""
    if reply.chart is None or not channel:
        return
    # matplotlib is loaded on the first chart, not when the app starts
    from bot.charts import has_data
    from bot.slack.poster import SlackPoster

    if not has_data(reply.chart):
        return
    try:
        SlackPoster(client, settings).upload_chart(channel, reply.chart, thread_ts=thread_ts, lang=reply.language)
    except PostError as exc:
        logger.error("chart upload to %s failed: %s", channel, exc)


def upload_attachment(client, settings: Settings, channel: str | None, reply: Reply, thread_ts: str | None = None) -> bool:
    """Upload the file the reply offers (a long list as CSV) where the reply was posted; failures are logged."""
    if reply.attachment is None or not channel:
        return False
    from bot.slack.poster import SlackPoster

    try:
        SlackPoster(client, settings).upload_file(channel, reply.attachment, thread_ts=thread_ts)
        return True
    except PostError as exc:
        logger.error("file upload to %s failed: %s", channel, exc)
        return False


def attachment_to_dm(client, settings: Settings, user: str | None, reply: Reply) -> Reply:
    """A private answer (ephemeral) cannot carry a file: the file goes to the asker's DM with csbot,
    and the answer says so. Returns the reply to show (unchanged when there is no file)."""
    if reply.attachment is None or not user:
        return reply
    try:
        dm = client.conversations_open(users=user)["channel"]["id"]
    except SLACK_ERRORS as exc:
        logger.error("conversations.open for a file failed: %s", slack_error(exc))
        return reply
    if not upload_attachment(client, settings, dm, reply):
        return reply
    return replace(reply, lines=reply.lines + (t("slack.file_in_dm", reply.language, filename=reply.attachment.filename),))
