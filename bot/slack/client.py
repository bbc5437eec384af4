"""The Slack Web API client csbot uses, and how a failed call is named.

``make_client`` builds the ``WebClient`` (honouring ``SLACK_API_URL`` and retrying
rate-limited calls); ``NETWORK_ERRORS`` and ``slack_error`` let the listeners and the
poster catch a failed call and log it in one short, token-free word.
"""

from __future__ import annotations

import socket
import urllib.error

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from metrics.settings import Settings

NETWORK_ERRORS = (TimeoutError, socket.timeout, urllib.error.URLError, ConnectionError)
SLACK_ERRORS = (SlackApiError, *NETWORK_ERRORS)  # what a Web API call may raise


def make_client(settings: Settings) -> WebClient:
    kwargs = {"token": settings.slack_bot_token, "timeout": settings.slack_timeout}
    if settings.slack_api_url:
        kwargs["base_url"] = settings.slack_api_url
    client = WebClient(**kwargs)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
    return client


def slack_error(exc: BaseException) -> str:
    """A short name for a failed Slack call, safe to log (never the token)."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return type(exc).__name__
