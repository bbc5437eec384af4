"""The Slack Web API client csbot uses, and how a failed call is named.

``make_client`` builds the ``WebClient`` (honouring ``SLACK_API_URL`` and retrying
rate-limited calls); ``NETWORK_ERRORS`` and ``slack_error`` let the listeners and the
poster catch a failed call and log it in one short, token-free word.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import urllib.error

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from commands import privacy
from metrics.settings import Settings

logger = logging.getLogger(__name__)

INFO_TTL = 600.0  # seconds a conversations.info answer is kept (membership changes when csbot is invited)

NETWORK_ERRORS = (TimeoutError, socket.timeout, urllib.error.URLError, ConnectionError)
SLACK_ERRORS = (SlackApiError, *NETWORK_ERRORS)  # what a Web API call may raise


def make_client(settings: Settings, *, rate_limit_retries: int = 3) -> WebClient:
    """The bot's client. ``rate_limit_retries``: how often the SDK itself waits Retry-After and tries
    again on HTTP 429; 0 for a caller that has its own retry layer (one layer, not two)."""
    kwargs = {"token": settings.slack_bot_token, "timeout": settings.slack_timeout}
    if settings.slack_api_url:
        kwargs["base_url"] = settings.slack_api_url
    client = WebClient(**kwargs)
    if rate_limit_retries > 0:
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries))
    return client


def slack_error(exc: BaseException) -> str:
    """A short name for a failed Slack call, safe to log (never the token)."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return type(exc).__name__


class ChannelDirectory:
    """What csbot asks Slack about channels, cached: the revenue channels as IDs
    (``CSBOT_REVENUE_CHANNELS`` may name them: names are resolved through ``conversations.list``,
    public and private channels the bot is in, once, and again after a rename, ``forget``), and
    whether a conversation is a person's own DM with the bot (``conversations.info``).

    ``commands.privacy`` decides by ID only; this gives it the IDs. A failed lookup is logged and
    not cached (the IDs given as IDs still count)."""

    def __init__(self, client: WebClient, settings: Settings):
        self.client = client
        self.settings = settings
        self._lock = threading.Lock()
        self._by_name: dict[str, str] | None = None
        self._info: dict[str, tuple[float, dict]] = {}  # channel ID -> (when asked, conversations.info)

    def revenue_ids(self) -> frozenset[str]:
        names = privacy.configured_names(self.settings)
        ids = privacy.configured_ids(self.settings)
        if not names:
            return ids
        by_name = self._names()
        missing = sorted(n for n in names if n not in by_name)
        if by_name and missing:
            logger.warning("CSBOT_REVENUE_CHANNELS: no channel named %s (or csbot is not in it)", ", ".join(missing))
        return ids | frozenset(by_name[n] for n in names if n in by_name)

    def _names(self) -> dict[str, str]:
        with self._lock:
            if self._by_name is not None:
                return self._by_name
        found: dict[str, str] = {}
        cursor = None
        try:
            while True:
                page = self.client.conversations_list(types="public_channel,private_channel", exclude_archived=True,
                                                      limit=1000, cursor=cursor)
                for channel in page.get("channels") or []:
                    if channel.get("name"):
                        found[channel["name"].lower()] = channel["id"]
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SLACK_ERRORS as exc:
            logger.warning("conversations.list failed: %s (revenue channels given by name are not counted)",
                           slack_error(exc))
            return {}
        with self._lock:
            self._by_name = found
        return found

    def forget(self) -> None:
        """A channel was renamed (or created, or archived): resolve the names again on next use."""
        with self._lock:
            self._by_name = None
            self._info.clear()

    def info(self, channel_id: str | None) -> dict:
        """``conversations.info`` of ``channel_id``, cached ({} when Slack would not say)."""
        if not channel_id:
            return {}
        with self._lock:
            cached = self._info.get(channel_id)
            if cached is not None and time.monotonic() - cached[0] < INFO_TTL:
                return cached[1]
        try:
            info = dict(self.client.conversations_info(channel=channel_id)["channel"])
        except SLACK_ERRORS as exc:
            logger.warning("conversations.info for %s failed: %s", channel_id, slack_error(exc))
            return {}
        with self._lock:
            self._info[channel_id] = (time.monotonic(), info)
        return info

    def is_own_dm(self, channel_id: str | None, user_id: str | None) -> bool:
        """Is ``channel_id`` the DM between ``user_id`` and the bot (not a group DM, not a DM
        between two people, where the bot is not a member and Slack says channel_not_found)?"""
        if not channel_id or not user_id or not channel_id.startswith("D"):
            return False
        info = self.info(channel_id)
        return bool(info.get("is_im")) and info.get("user") == user_id
