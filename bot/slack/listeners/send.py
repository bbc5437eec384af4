"""How a listener answers: post a ``Reply`` (in a channel, a thread or privately),
answer on a ``response_url``, upload the reply's chart, and tell the asker when Slack
would not take the answer. Failures are logged in one short word (``slack_error``).
"""

from __future__ import annotations

import logging

from bot.poster import PostError
from bot.slack.blocks import message_payload
from bot.slack.client import SLACK_ERRORS, slack_error
from commands.format import slack_ref
from commands.messages import t
from commands.reply import Reply
from metrics.settings import Settings

logger = logging.getLogger(__name__)


def post(client, channel: str | None, reply: Reply, *, thread_ts: str | None = None,
         ephemeral_user: str | None = None, on_failure=None) -> bool:
    """Post ``reply``; on failure log it and, with ``on_failure`` (a ``respond``), tell the asker why."""
    payload = message_payload(reply)
    try:
        if ephemeral_user:
            client.chat_postEphemeral(channel=channel, user=ephemeral_user, thread_ts=thread_ts, **payload)
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


def respond_safely(respond, **kwargs) -> None:
    """Answer on the ``response_url``; a failure is logged, never raised."""
    try:
        respond(**kwargs)
    except SLACK_ERRORS as exc:
        logger.error("response_url post failed: %s", slack_error(exc))
    except Exception as exc:  # a response_url that answers with an error status
        logger.error("response_url post failed: %s", type(exc).__name__)


def tell_failure(client, channel: str | None, user: str | None, thread_ts: str | None, lang: str) -> None:
    """The answer could not be posted (timeout, Slack error): try once to tell the asker."""
    if not user:
        return
    try:
        client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts,
                                  text=failure_text("failed", lang))
    except SLACK_ERRORS:
        pass  # Slack is unreachable: the first failure is already in the log


def failure_text(error: str, lang: str) -> str:
    """What to tell the asker when Slack answered ``error``."""
    if error in ("not_in_channel", "channel_not_found"):
        return t("slack.post_not_in_channel", lang)
    if error == "ratelimited":
        return t("slack.post_ratelimited", lang)
    return t("slack.post_failed", lang)


def revenue_note(key: str, settings: Settings, lang: str) -> str:
    """``slack.private_note`` or ``slack.share_refused``, naming the revenue channels."""
    channels = ", ".join(f"#{c}" if not c.startswith(("C", "G")) else slack_ref("channel", c) for c in settings.revenue_channels)
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
