"""The Slack ``Poster`` the jobs post through: Block Kit rendering, chart uploads, pacing, retries.

``SlackPoster(client, settings)`` implements ``bot.poster.Poster`` on a
``slack_sdk.WebClient``. It is the ONE retry layer: it works on a copy of the client
with the SDK's own retry handlers removed (``jobs_client`` builds one with none), so
a post is tried at most ``TRIES`` times for transient errors and waits at most
``MAX_RATE_LIMIT_WAITS`` times (``MAX_RATE_LIMIT_TOTAL`` seconds in all) for ``Retry-After``.

Pacing: posts to one channel are at least ``pace`` seconds apart (Slack allows about
one message per second per channel); a ``ratelimited`` answer holds that channel (and
only it) for ``Retry-After`` seconds. Waits happen in the calling thread: the
scheduler posts each channel from a thread of its own (``bot.jobs.lanes``), so one
held channel never delays another.

Timeouts: a post given a ``run_id`` carries it in the message ``metadata``
(``{"event_type": "csbot_<kind>", "event_payload": {"run_id": ...}}``). When Slack does
not answer in time the post may still have landed, so before posting again the poster
looks for that run_id in ``conversations.history`` (``conversations.replies`` in a
thread): found, the post counts as done (its ts is returned); not found after
``settle`` seconds, it is posted again; Slack cannot be asked, it fails as
``timeout_unconfirmed`` and is never posted twice.

Transient errors (network, 5xx, ``internal_error``) back off; anything else
(``not_in_channel``, ``channel_not_found`` ...) fails at once. A call that finally
fails raises ``SlackPostError`` (a ``PostError``): ``reason`` is Slack's error code,
``str()`` adds a hint for the admin ("invite me with /invite @csbot").
"""

from __future__ import annotations

import copy
import logging
import socket
import threading
import time
from typing import Any, Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.charts import alt_text, draw
from bot.poster import ChannelInfo, PostError
from bot.slack.blocks import message_payload
from bot.slack.client import NETWORK_ERRORS, slack_error
from bot.slack.mrkdwn import escape
from commands.reply import Attachment, Chart, Reply
from metrics.settings import Settings

logger = logging.getLogger(__name__)

TRIES = 3  # transient errors: this many tries in all
PACE_SECONDS = 1.1  # between two posts to one channel (Slack: about 1 message per second per channel)
SETTLE_SECONDS = 5.0  # after a timeout: how long a post may take to show up in the history
LANDED_CHECKS = 2  # looks in the history after a timeout (now, then after SETTLE_SECONDS)
HISTORY_LIMIT = 100
MAX_RATE_LIMIT_WAITS = 5
BACKOFF_SECONDS = 1.0  # 1 s, then 2 s
MAX_RETRY_AFTER = 120.0
MAX_RATE_LIMIT_TOTAL = 300.0  # seconds of Retry-After waits per call, well inside a claim's 10-minute takeover
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
    "timeout_unconfirmed": "Slack did not answer in time and could not be asked whether it posted; check the channel",
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


def _maybe_sent(exc: BaseException) -> bool:
    """Could the request have reached Slack? Not when the connection was refused or the name unknown."""
    reason = getattr(exc, "reason", exc)  # urllib wraps the socket error in URLError.reason
    return not isinstance(reason, (ConnectionRefusedError, socket.gaierror))


def jobs_client(settings: Settings) -> WebClient:
    """The WebClient the jobs post with: no retry handlers (``SlackPoster`` is the one retry layer)."""
    kwargs: dict[str, Any] = {"token": settings.slack_bot_token, "timeout": settings.slack_timeout,
                              "retry_handlers": []}
    if settings.slack_api_url:
        kwargs["base_url"] = settings.slack_api_url
    return WebClient(**kwargs)


def without_retries(client: WebClient) -> WebClient:
    """``client`` itself when it has no retry handlers, else a copy without them."""
    if not client.retry_handlers:
        return client
    bare = copy.copy(client)
    bare.retry_handlers = []
    return bare


class ChannelPacer:
    """Per-channel spacing of posts, shared by every thread of one poster. ``wait(channel)``
    reserves the channel's next slot and sleeps until it; ``hold(channel, seconds)`` (after a
    ``ratelimited`` answer) moves that channel's next slot ``seconds`` from now."""

    def __init__(self, pace: float, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.pace = pace
        self.clock = clock
        self.sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, channel: str) -> None:
        with self._lock:
            now = self.clock()
            slot = max(now, self._next.get(channel, now))
            self._next[channel] = slot + self.pace
        if slot > now:
            self.sleep(slot - now)

    def hold(self, channel: str, seconds: float) -> None:
        with self._lock:
            self._next[channel] = self.clock() + seconds


class SlackPoster:
    """``Poster`` for Slack. ``sleep`` waits (pacing, Retry-After, backoff) and ``clock`` tells the
    time for pacing (tests pass a fake pair); ``pace`` seconds between posts to one channel;
    ``settle`` seconds for a timed-out post to show up in the history before it is posted again."""

    def __init__(self, client: WebClient, settings: Settings, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, pace: float = PACE_SECONDS,
                 settle: float = SETTLE_SECONDS):
        self.client = without_retries(client)
        self.settings = settings
        self.sleep = sleep
        self.settle = settle
        self.pacer = ChannelPacer(pace, clock, sleep)
        self._ids: dict[str, str] = {}  # "#name" -> the ID Slack answered with (uploads need the ID)

    # ------------------------------------------------------------------ Poster

    def post(self, channel: str, reply: Reply, *, thread_ts: str | None = None, run_id: str | None = None) -> str:
        return self._post(channel, thread_ts, message_payload(reply), "message", run_id)

    def post_text(self, channel: str, text: str, *, thread_ts: str | None = None, run_id: str | None = None) -> str:
        return self._post(channel, thread_ts, {"text": escape(text)}, "text", run_id)

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
                                                           filename="csbot-chart.png", title=escape(chart.title),
                                                           alt_txt=escape(alt)),
                       f"chart upload to {channel}", channel=channel)
        except PostError:
            raise
        except Exception as exc:  # the upload's second step (a plain HTTP PUT) fails differently
            raise SlackPostError(type(exc).__name__) from None

    def upload_file(self, channel: str, attachment: Attachment, *, thread_ts: str | None = None) -> None:
        """Upload a file an answer offers (a long list as CSV) where the answer went."""
        channel = self._ids.get(channel, channel)
        try:
            self._call(lambda: self.client.files_upload_v2(channel=channel, thread_ts=thread_ts, content=attachment.content,
                                                           filename=attachment.filename, title=escape(attachment.title)),
                       f"file upload to {channel}", channel=channel)
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

    def find_posted(self, channel: str, run_id: str, *, thread_ts: str | None = None,
                    since: float | None = None) -> str | None:
        """The ts of the message carrying ``run_id`` in its metadata (posted after ``since``, epoch
        seconds), or None. Raises ``SlackPostError`` when Slack cannot be asked."""
        target = self._ids.get(channel, channel)
        kwargs: dict[str, Any] = {"channel": target, "limit": HISTORY_LIMIT, "include_all_metadata": True}
        if since is not None:
            kwargs["oldest"] = f"{since:.6f}"
        if thread_ts:
            resp = self._call(lambda: self.client.conversations_replies(ts=thread_ts, **kwargs), "conversations.replies")
        else:
            resp = self._call(lambda: self.client.conversations_history(**kwargs), "conversations.history")
        for message in resp.get("messages") or []:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("run_id") == run_id:
                return message.get("ts")
        return None

    # ------------------------------------------------------------------ calls

    def _post(self, channel: str, thread_ts: str | None, payload: dict[str, Any], what: str,
              run_id: str | None = None) -> str:
        target = self._ids.get(channel, channel)
        extra: dict[str, Any] = {"thread_ts": thread_ts} if thread_ts else {}
        if run_id:
            kind = run_id.split(":", 1)[0]
            extra["metadata"] = {"event_type": f"csbot_{kind}", "event_payload": {"run_id": run_id}}
        landed = self._landed(target, thread_ts, run_id) if run_id else None
        resp = self._call(lambda: self.client.chat_postMessage(channel=target, **extra, **payload),
                          f"{what} to {target}", channel=target, landed=landed)
        answered = resp.get("channel")
        if answered and answered != channel:
            self._ids[channel] = answered  # posted to "#name": later calls (threads, uploads) use the ID
        return resp["ts"]

    def _landed(self, target: str, thread_ts: str | None, run_id: str) -> Callable[[], dict | None]:
        """After a timeout: the post's answer when the message is found in the channel, None when it is
        certainly not there (post again). Raises ``SlackPostError("timeout_unconfirmed")`` when unsure.
        It reads the channel's (thread's) latest ``HISTORY_LIMIT`` messages: no ``oldest``, so no clock
        of ours is compared with Slack's."""

        def check() -> dict | None:
            for attempt in range(LANDED_CHECKS):
                if attempt:
                    self.sleep(self.settle)
                try:
                    ts = self.find_posted(target, run_id, thread_ts=thread_ts)
                except PostError as exc:
                    logger.error("post %s to %s timed out and the history could not be read (%s)", run_id, target,
                                 exc.reason)
                    raise SlackPostError("timeout_unconfirmed") from None
                if ts:
                    logger.warning("post %s to %s timed out but had landed (ts %s): not posted again", run_id,
                                   target, ts)
                    return {"ok": True, "channel": target, "ts": ts}
            logger.warning("post %s to %s timed out and did not land: posting again", run_id, target)
            return None

        return check

    def _call(self, fn: Callable[[], Any], what: str, *, channel: str | None = None,
              landed: Callable[[], Any] | None = None) -> Any:
        """Call ``fn`` (one Web API call) with retries; ``channel``: paced and held per channel;
        ``landed``: after a network error, whether the call took effect anyway (its answer) or not
        (None). Raises ``SlackPostError`` when it finally fails."""
        transient = 0
        waits = 0
        waited = 0.0
        while True:
            if channel:
                self.pacer.wait(channel)
            try:
                return fn()
            except SlackApiError as exc:
                error = slack_error(exc)
                status = getattr(exc.response, "status_code", 200) or 200
                if status == 429 or error == "ratelimited":
                    waits += 1
                    delay = _retry_after(exc)
                    waited += delay
                    if waits > MAX_RATE_LIMIT_WAITS or waited > MAX_RATE_LIMIT_TOTAL:
                        if channel:
                            self.pacer.hold(channel, delay)
                        raise SlackPostError("ratelimited", retry_after=delay) from None
                    logger.warning("%s rate limited; retrying in %.0f s", what, delay)
                    if channel:
                        self.pacer.hold(channel, delay)  # the wait happens in pacer.wait, for this channel only
                    else:
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
                if landed is not None and _maybe_sent(exc):
                    answer = landed()
                    if answer is not None:
                        return answer
                transient += 1
                if transient >= TRIES:
                    raise SlackPostError(f"network error ({type(exc).__name__})") from None
                logger.warning("%s failed (%s); retrying", what, type(exc).__name__)
                self.sleep(BACKOFF_SECONDS * 2 ** (transient - 1))
