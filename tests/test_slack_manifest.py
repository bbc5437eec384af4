"""The manifest asks for the scopes csbot uses and no others, and the committed manifest.json is current."""

from __future__ import annotations

import re
from pathlib import Path

from slack_double import METHOD_SCOPES

from bot.slack.manifest import BOT_EVENTS, BOT_SCOPES, MANIFEST_PATH, manifest_json
from commands.registry import load_commands

ROOT = Path(__file__).parent.parent
# Scopes a method needs beyond METHOD_SCOPES, by the conversations csbot passes it.
CONVERSATION_METHODS = {
    "conversations_info": {"channels:read", "groups:read", "im:read", "mpim:read"},
    "conversations_list": {"channels:read", "groups:read"},  # public_channel,private_channel
    "conversations_history": {"channels:history", "groups:history"},
    "conversations_open": {"im:write"},
}
# Scopes no Web API call needs: events and features.
FOR_EVENTS = {"app_mentions:read": "app_mention", "im:history": "message.im", "commands": "slash commands"}


def called_methods() -> set[str]:
    """Every WebClient method csbot's code calls (client.chat_postMessage(...) ...)."""
    found = set()
    for path in (ROOT / "bot").rglob("*.py"):
        found |= set(re.findall(r"client\.(chat_\w+|conversations_\w+|users_\w+|views_\w+|files_\w+)\(",
                                path.read_text(encoding="utf-8")))
    return found


def needed_scopes() -> set[str]:
    needed = set(FOR_EVENTS)
    for method in called_methods():
        if method in CONVERSATION_METHODS:
            needed |= CONVERSATION_METHODS[method]
        elif method == "files_upload_v2":
            needed.add("files:write")
        else:
            api = method.replace("_", ".", 1)
            api = re.sub(r"_(\w)", lambda m: m.group(1).upper(), api)  # chat.post_ephemeral -> chat.postEphemeral
            if api in METHOD_SCOPES:
                needed.add(METHOD_SCOPES[api])
    needed.add("users:read.email")  # users.info gives the e-mail only with it ("owner:me")
    return needed


# conversations.history: the scheduler checks whether a digest landed after a timeout before posting again.
HISTORY = {"channels:history", "groups:history"}


def test_the_manifest_asks_for_exactly_the_scopes_csbot_uses():
    needed = needed_scopes()
    assert needed <= set(BOT_SCOPES), f"missing: {needed - set(BOT_SCOPES)}"
    assert set(BOT_SCOPES) - needed <= HISTORY, f"unused: {set(BOT_SCOPES) - needed - HISTORY}"


def test_group_dms_and_renames_are_covered():
    assert {"mpim:read", "groups:history", "channels:history"} <= set(BOT_SCOPES)
    assert {"channel_rename", "group_rename", "app_mention", "message.im", "app_home_opened"} == set(BOT_EVENTS)


def test_the_committed_manifest_is_current():
    assert MANIFEST_PATH.read_text(encoding="utf-8") == manifest_json(load_commands().values())
