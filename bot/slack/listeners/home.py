"""The App Home tab (``app_home_opened``): the viewer's book, renewals and the team's
KPIs from ``commands.home``, published as a ``home`` view."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from slack_bolt import App

from bot.slack.blocks import render_blocks
from bot.slack.client import SLACK_ERRORS, slack_error
from bot.slack.listeners.deps import Deps, ack_at_once, logged
from commands.context import Context
from commands.home import home_reply

logger = logging.getLogger(__name__)

MAX_HOME_BLOCKS = 100


def register(app: App, deps: Deps) -> None:
    @logged
    def publish_home(event, client) -> None:
        on_home_opened(deps, event, client)

    app.event("app_home_opened")(ack=ack_at_once, lazy=[publish_home])


def home_view(ctx: Context, lang: str | None = None) -> dict[str, Any]:
    """The Home tab in ``lang`` (default: the workspace's CSBOT_LANGUAGE, as ``home_reply`` reads it)."""
    if lang is not None:
        ctx = replace(ctx, settings=replace(ctx.settings, language=lang))
    reply = home_reply(ctx)
    blocks = [b for b in render_blocks(reply) if b["type"] != "actions"]
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


def on_home_opened(deps: Deps, event: dict[str, Any], client) -> None:
    if event.get("tab") not in (None, "home"):
        return
    user = event.get("user")
    ctx = deps.context(client, user_id=user, channel_id=None, surface="home")
    try:
        client.views_publish(user_id=user, view=home_view(ctx, deps.user_language(client, user)))
    except SLACK_ERRORS as exc:
        logger.error("views.publish failed: %s", slack_error(exc))
