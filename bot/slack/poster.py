"""The Slack ``Poster`` the jobs post through: Block Kit rendering, chart uploads, retries.

``SlackPoster(client, settings)`` implements ``bot.poster.Poster`` on a
``slack_sdk.WebClient``. Every call is retried: ``ratelimited`` waits for
``Retry-After`` (at most ``MAX_RATE_LIMIT_WAITS`` times); transient errors
(network, 5xx, ``internal_error``) get ``TRIES`` tries with backoff; anything
else (``not_in_channel``, ``channel_not_found`` ...) fails at once. A call that
finally fails raises ``SlackPostError`` (a ``PostError``): ``reason`` is Slack's
error code, ``str()`` adds a hint for the admin ("invite me with /invite @csbot").
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.charts import alt_text, draw
from bot.poster import ChannelInfo, PostError
from bot.slack.blocks import message_payload
from bot.slack.client import NETWORK_ERRORS, slack_error
from commands.reply import Chart, Reply
from metrics.settings import Settings

logger = logging.getLogger(__name__)

TRIES = 3  # transient errors: this many tries in all
MAX_RATE_LIMIT_WAITS = 5
BACKOFF_SECONDS = 1.0  # 1 s, then 2 s
MAX_RETRY_AFTER = 120.0
TRANSIENT_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "timeout"}
PERMANENT_ERRORS = {"not_in_channel", "channel_not_found", "is_archived", "invalid_auth", "not_authed",
                    "account_inactive"}
CHART_NOT_DRAWN = "chart_not_drawn"
ERROR_HINTS = {
    "not_in_channel": "invite me with /invite @csbot",
    "channel_not_found": "the channel is gone, private without me, or the ID is wrong",
    "is_archived": "the channel is archived",
    "invalid_auth": "check SLACK_BOT_TOKEN",
    "not_authed": "check SLACK_BOT_TOKEN",
    "account_inactive": "the bot token was revoked",
    "ratelimited": "Slack kept rate limiting",
}


class SlackPostError(PostError):
    """A Slack call that failed for good; ``str()`` is the code with a hint, safe to store and show."""

    def __str__(self) -> str:
        hint = ERROR_HINTS.get(self.reason)
        return f"{self.reason} ({hint})" if hint else self.reason


def _retry_after(exc: SlackApiError) -> float:
    headers = getattr(exc.response, "headers", None) or {}
    for key in ("Retry-After", "retry-after"):
        if key in headers:
            value = headers[key]
            value = value[0] if isinstance(value, list) else value
            try:
                return min(max(float(value), 0.0), MAX_RETRY_AFTER)
            except (TypeError, ValueError):
                break
    return 1.0


class SlackPoster:
    """``Poster`` for Slack. ``sleep`` waits between retries (tests pass their own)."""

    def __init__(self, client: WebClient, settings: Settings, *, sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.settings = settings
        self.sleep = sleep
        self._ids: dict[str, str] = {}  # "#name" -> the ID Slack answered with (uploads need the ID)

    # ------------------------------------------------------------------ Poster

    def post(self, channel: str, reply: Reply, *, thread_ts: str | None = None) -> str:
        return self._post(channel, thread_ts, message_payload(reply), "message")

    def post_text(self, channel: str, text: str, *, thread_ts: str | None = None) -> str:
        return self._post(channel, thread_ts, {"text": text}, "text")

    def upload_chart(self, channel: str, chart: Chart, *, thread_ts: str | None = None, lang: str = "en") -> None:
        try:
            png = draw(chart, lang, self.settings.currency)
            alt = alt_text(chart, lang)
        except Exception:
            logger.exception("drawing the chart %r failed", chart.title)
            raise SlackPostError(CHART_NOT_DRAWN, permanent=True) from None
        channel = self._ids.get(channel, channel)
        try:
            self._call(lambda: self.client.files_upload_v2(channel=channel, thread_ts=thread_ts, file=png,
                                                           filename="csbot-chart.png", title=chart.title,
                                                           alt_txt=alt),
                       f"chart upload to {channel}")
        except PostError:
            raise
        except Exception as exc:  # the upload's second step (a plain HTTP PUT) fails differently
            raise SlackPostError(type(exc).__name__) from None

    def open_dm(self, user: str) -> str:
        resp = self._call(lambda: self.client.conversations_open(users=user), "conversations.open")
        return resp["channel"]["id"]

    def channel_info(self, channel: str) -> ChannelInfo:
        resp = self._call(lambda: self.client.conversations_info(channel=channel), "conversations.info")
        info = resp["channel"]
        return ChannelInfo(id=info.get("id") or channel, name=info.get("name"), is_private=bool(info.get("is_private")),
                           is_im=bool(info.get("is_im")), is_mpim=bool(info.get("is_mpim")))

    # ------------------------------------------------------------------ calls

    def _post(self, channel: str, thread_ts: str | None, payload: dict[str, Any], what: str) -> str:
        target = self._ids.get(channel, channel)
        extra = {"thread_ts": thread_ts} if thread_ts else {}
        resp = self._call(lambda: self.client.chat_postMessage(channel=target, **extra, **payload),
                          f"{what} to {target}")
        answered = resp.get("channel")
        if answered and answered != channel:
            self._ids[channel] = answered  # posted to "#name": later calls (threads, uploads) use the ID
        return resp["ts"]

    def _call(self, fn: Callable[[], Any], what: str) -> Any:
        """Call ``fn`` (one Web API call) with retries. Raises ``SlackPostError`` when it finally fails."""
        transient = 0
        waits = 0
        while True:
            try:
                return fn()
            except SlackApiError as exc:
                error = slack_error(exc)
                status = getattr(exc.response, "status_code", 200) or 200
                if status == 429 or error == "ratelimited":
                    waits += 1
                    delay = _retry_after(exc)
                    if waits > MAX_RATE_LIMIT_WAITS:
                        raise SlackPostError("ratelimited", retry_after=delay) from None
                    logger.warning("%s rate limited; retrying in %.0f s", what, delay)
                    self.sleep(delay)
                    continue
                if error in TRANSIENT_ERRORS or status >= 500:
                    transient += 1
                    if transient >= TRIES:
                        raise SlackPostError(error) from None
                    self.sleep(BACKOFF_SECONDS * 2 ** (transient - 1))
                    continue
                raise SlackPostError(error, permanent=error in PERMANENT_ERRORS) from None
            except NETWORK_ERRORS as exc:
                transient += 1
                if transient >= TRIES:
                    raise SlackPostError(f"network error ({type(exc).__name__})") from None
                logger.warning("%s failed (%s); retrying", what, type(exc).__name__)
                self.sleep(BACKOFF_SECONDS * 2 ** (transient - 1))
