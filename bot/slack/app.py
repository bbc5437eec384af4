"""The Bolt app factory: no module-level app, no globals.

``create_app(settings, db)`` builds the ``slack_bolt.App`` on csbot's WebClient
(``bot.slack.client.make_client``), wires every listener through
``register_listeners`` and sets the error handler, which logs the exception with
its traceback.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from datetime import datetime
from typing import Callable

from slack_bolt import App

from bot.slack.client import ChannelDirectory, make_client
from bot.slack.listeners import register_listeners
from bot.slack.listeners.deps import Deps, log_error
from metrics.db import Database
from metrics.settings import ConfigError, Settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings, db: Database, *, socket_mode: bool = False,
               clock: Callable[[], datetime] | None = None, listener_executor: Executor | None = None) -> App:
    """``clock`` gives the current time (tests pin it); default: now. ``listener_executor``
    runs the lazy listeners (default: Bolt's thread pool; tests pass one they can drain)."""
    if not settings.slack_bot_token:
        raise ConfigError("SLACK_BOT_TOKEN", "missing; put your bot token (xoxb-...) in .env")
    if not socket_mode and not settings.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET",
                          "missing; HTTP mode needs the signing secret from your Slack app's Basic Information page")
    client = make_client(settings)
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret,
        request_verification_enabled=not socket_mode or bool(settings.slack_signing_secret),
        token_verification_enabled=False,  # no auth.test at start: start fast, fail on first use with a clear log line
        logger=logging.getLogger("csbot.bolt"),
        listener_executor=listener_executor,
    )
    register_listeners(app, Deps(settings, db, clock=clock, channels=ChannelDirectory(client, settings)))
    app.error(log_error)
    return app
