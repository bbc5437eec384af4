"""The Bolt app factory: no module-level app, no globals.

``create_app(settings, db)`` builds the ``slack_bolt.App`` with a WebClient that
honours ``SLACK_API_URL`` and retries rate-limited calls, then wires every
listener through ``bot.listeners.register_listeners``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.listeners import register_listeners
from metrics.db import Database
from metrics.settings import ConfigError, Settings

logger = logging.getLogger(__name__)


def make_client(settings: Settings) -> WebClient:
    kwargs = {"token": settings.slack_bot_token, "timeout": settings.slack_timeout}
    if settings.slack_api_url:
        kwargs["base_url"] = settings.slack_api_url
    client = WebClient(**kwargs)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
    return client


def create_app(settings: Settings, db: Database, *, socket_mode: bool = False,
               clock: Callable[[], datetime] | None = None) -> App:
    """``clock`` gives the current time (tests pin it); default: now."""
    if not settings.slack_bot_token:
        raise ConfigError("SLACK_BOT_TOKEN", "missing; put your bot token (xoxb-...) in .env")
    if not socket_mode and not settings.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET", "missing; HTTP mode needs the signing secret from your Slack app's Basic Information page")
    app = App(
        client=make_client(settings),
        signing_secret=settings.slack_signing_secret,
        request_verification_enabled=not socket_mode or bool(settings.slack_signing_secret),
        token_verification_enabled=False,  # no auth.test at start: start fast, fail on first use with a clear log line
        logger=logging.getLogger("csbot.bolt"),
    )
    register_listeners(app, settings, db, clock=clock)
    return app
