"""The App Home tab: a ``home`` view built from ``commands.home``."""

from __future__ import annotations

from typing import Any

from bot.blocks import render_blocks
from commands.context import Context
from commands.home import home_reply


def home_view(ctx: Context) -> dict[str, Any]:
    reply = home_reply(ctx)
    blocks = [b for b in render_blocks(reply) if b["type"] != "actions"]
    return {"type": "home", "blocks": blocks[:100]}
