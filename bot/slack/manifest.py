"""The Slack app manifest, generated: one slash command per command of the registry
(its description and usage hint from the command's own help), plus ``/cs``; the bot
scopes, the events the listeners handle, and interactivity for the buttons.

The committed ``bot/slack/manifest.json`` is this module's output (a test checks it).
Regenerate it after changing a command's help::

    python -m bot.slack.manifest > bot/slack/manifest.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from bot.slack.server import EVENTS_PATH
from commands.registry import load_commands
from commands.spec import CommandSpec

MANIFEST_PATH = Path(__file__).with_name("manifest.json")
REQUEST_URL = f"https://YOUR-CSBOT-HOST{EVENTS_PATH}"  # the operator puts their host here (HTTP mode)

NAME = "csbot"
DESCRIPTION = "Customer Success numbers in Slack: churn, NRR, health, NPS and a glossary, in English and Japanese."
LONG_DESCRIPTION = (
    "csbot answers questions such as /churn last-month, /health acme or “@csbot NRRって何？” from your team's "
    "own synced data: the number, what it means, how it was computed and a small chart. Every morning it can "
    "post a KPI digest to your team's channel. Self-hosted and open source: your data never leaves your database."
)
BACKGROUND_COLOR = "#1f3a5f"

# /cs reaches every command; these have no slash command of their own (/cs help, /cs sync).
ONLY_THROUGH_CS = frozenset({"help", "sync"})
CS_DESCRIPTION = "Ask csbot anything: churn, health, kpi, term …"
CS_USAGE_HINT = "churn last-month | health acme | term NRR | help"

# Every scope csbot uses, and why; nothing else (a test checks the double answers missing_scope
# for a method whose scope is not here).
BOT_SCOPES = (
    "app_mentions:read",  # app_mention events
    "channels:history",  # conversations.history: did a digest post land after a timeout (public channels)
    "channels:read",  # conversations.list/info: revenue channels named in CSBOT_REVENUE_CHANNELS; channel_rename
    "chat:write",
    "commands",
    "files:write",  # charts
    "groups:history",  # conversations.history in private channels (as channels:history)
    "groups:read",  # the same for private channels; group_rename
    "im:history",  # message.im events
    "im:read",  # conversations.info of a DM: is it the asker's own DM with csbot
    "im:write",  # conversations.open: a chart to the asker's DM
    "mpim:read",  # conversations.info of a group DM: several people, so revenue stays private there
    "users:read",  # users.info: guests (is_restricted) never see revenue; the App Home's language
    "users:read.email",  # "owner:me" and owner:@alice through the person's e-mail
)
BOT_EVENTS = ("app_home_opened", "app_mention", "channel_rename", "group_rename", "message.im")


def usage_hint(spec: CommandSpec) -> str:
    """``churn [period] [filters]`` and example ``churn last-month`` -> ``[period] [filters] e.g. last-month``."""
    args = spec.usage.partition(" ")[2]
    example = spec.example.partition(" ")[2]
    return f"{args} e.g. {example}" if example else args


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def slash_command(name: str, description: str, hint: str) -> dict[str, Any]:
    return {"command": f"/{name}", "url": REQUEST_URL, "description": description, "usage_hint": hint,
            "should_escape": True}


def slash_commands(specs: Iterable[CommandSpec]) -> list[dict[str, Any]]:
    """``/cs``, then one per command (by name), described by the command's English help."""
    own = sorted((s for s in specs if s.name not in ONLY_THROUGH_CS), key=lambda s: s.name)
    return [slash_command("cs", CS_DESCRIPTION, CS_USAGE_HINT)] + [
        slash_command(s.name, _sentence(s.help("en")), usage_hint(s)) for s in own
    ]


def build_manifest(specs: Iterable[CommandSpec]) -> dict[str, Any]:
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": NAME,
            "description": DESCRIPTION,
            "background_color": BACKGROUND_COLOR,
            "long_description": LONG_DESCRIPTION,
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": NAME, "always_online": True},
            "slash_commands": slash_commands(specs),
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": {"request_url": REQUEST_URL, "bot_events": list(BOT_EVENTS)},
            "interactivity": {"is_enabled": True, "request_url": REQUEST_URL},
            "org_deploy_enabled": False,
            "socket_mode_enabled": True,
            "token_rotation_enabled": False,
        },
    }


def manifest_json(specs: Iterable[CommandSpec]) -> str:
    """The manifest as the committed file holds it."""
    return json.dumps(build_manifest(specs), ensure_ascii=False, indent=2) + "\n"


def main() -> int:
    print(manifest_json(load_commands().values()), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
