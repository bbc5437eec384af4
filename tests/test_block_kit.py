"""Every message csbot builds is valid Block Kit within Slack's limits, every command is in
the app manifest (generated from the command registry), and the main replies match their
stored snapshots.

Snapshots live in tests/snapshots/; regenerate them with CSBOT_UPDATE_SNAPSHOTS=1 pytest
tests/test_block_kit.py after a deliberate change, and review the diff."""

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import seed_two_plans
from slack_sdk.models.blocks import Block

from bot.slack.blocks import (
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_BUTTON_VALUE,
    MAX_CONTEXT_ELEMENTS,
    MAX_FALLBACK,
    MAX_FIELD,
    MAX_FIELDS,
    MAX_HEADER,
    MAX_SECTION,
    message_payload,
)
from bot.slack.listeners.home import home_view
from bot.slack.manifest import MANIFEST_PATH, manifest_json
from commands.context import Context
from commands.registry import load_commands
from commands.router import dispatch
from metrics.db import Database
from metrics.settings import Settings

SNAPSHOTS = Path(__file__).parent / "snapshots"
MANIFEST = Path(__file__).parent.parent / "bot" / "slack" / "manifest.json"
NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)

QUESTIONS = [
    "churn last-month", "churn 2026-Q3 segment:enterprise accounts", "churn last-month how",
    "kpi", "mrr", "nrr last-12-months", "grr 2026-Q3", "retention", "nps", "csat", "usage", "onboarding", "ltv",
    "health", "health acme", "health Acme Corp", "health dropped last-30-days", "health backtest 3",
    "term", "term NRR", "term banana", "digest preview", "digest list", "sync", "help",
    "先月の解約率は？", "今月のNPS", "acmeの状態", "NRRって何？", "make me a sandwich", "churn lst-month",
]


def assert_valid_message(payload: dict) -> None:
    """Slack's published limits, checked on the escaped text Slack receives (slack_sdk checks some)."""
    blocks = payload["blocks"]
    assert payload["text"] and len(payload["text"]) <= MAX_FALLBACK
    assert 0 < len(blocks) <= MAX_BLOCKS
    for raw in blocks:
        Block.parse(raw).validate_json()  # slack_sdk's own model checks
        if raw["type"] == "header":
            assert raw["text"]["type"] == "plain_text" and 0 < len(raw["text"]["text"]) <= MAX_HEADER
        if raw["type"] == "section":
            assert len(raw.get("text", {}).get("text", "")) <= MAX_SECTION
            assert len(raw.get("fields", [])) <= MAX_FIELDS
            assert all(len(f["text"]) <= MAX_FIELD for f in raw.get("fields", []))
            assert raw.get("text", {}).get("text", "").count("```") % 2 == 0  # a code block never left open
        if raw["type"] == "context":
            assert len(raw["elements"]) <= MAX_CONTEXT_ELEMENTS
        if raw["type"] == "actions":
            assert len(raw["elements"]) <= 25
            ids = [e["action_id"] for e in raw["elements"]]
            assert len(ids) == len(set(ids))
            assert all(len(e["text"]["text"]) <= MAX_BUTTON_TEXT and len(e["value"]) <= MAX_BUTTON_VALUE
                       for e in raw["elements"])
    # Slack's control characters only as entities or csbot's own links (tests/test_slack_inert.py for hostile data)
    for text in [payload["text"], *_texts(blocks)]:
        assert not re.search(r"[<>]|&(?!amp;|lt;|gt;)", re.sub(r"<(?:#[CGD]|@[UW])[A-Z0-9]+>", "", text)), text


def _texts(obj):
    """Every string Slack shows in blocks: the ``text`` of each text object."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from _texts(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _texts(value)


@pytest.fixture(scope="module")
def demo_db(shared_demo):
    """The test process's shared demo database (conftest): the answers only read it."""
    return Database(engine=shared_demo.engine, url="demo", embedded=False)


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_answer_on_the_demo_company_is_valid_block_kit(demo_db, question, tmp_path):
    ctx = Context.create(demo_db, Settings(data_dir=tmp_path), now=NOW, user_email="alice@example.com")
    reply = dispatch(question, ctx)
    assert_valid_message(message_payload(reply))
    assert_valid_message(message_payload(reply, show_how=True))


def test_the_app_home_view_is_valid(demo_db, tmp_path):
    ctx = Context.create(demo_db, Settings(data_dir=tmp_path), now=NOW, user_email="alice@example.com")
    view = home_view(ctx)
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    for raw in view["blocks"]:
        Block.parse(raw).validate_json()


def test_every_command_has_its_own_slash_command_in_the_manifest_and_each_slash_command_is_answered():
    manifest = json.loads(MANIFEST.read_text())
    slash = {c["command"].lstrip("/") for c in manifest["features"]["slash_commands"]}
    commands = set(load_commands())
    assert "cs" in slash
    assert commands - {"help", "sync"} <= slash  # help and sync are reached as /cs help, /cs sync
    assert slash - {"cs"} <= commands
    for entry in manifest["features"]["slash_commands"]:
        assert len(entry["description"]) <= 2000 and entry["should_escape"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "app_mentions:read", "im:history", "files:write", "users:read.email"} <= scopes
    assert {"app_mention", "message.im", "app_home_opened"} <= set(manifest["settings"]["event_subscriptions"]["bot_events"])


def test_the_committed_manifest_is_the_one_generated_from_the_command_registry():
    assert MANIFEST_PATH == MANIFEST
    assert MANIFEST.read_text(encoding="utf-8") == manifest_json(load_commands().values()), (
        "bot/slack/manifest.json is stale: python -m bot.slack.manifest > bot/slack/manifest.json")


def test_each_slash_command_is_described_by_its_commands_own_help():
    manifest = json.loads(MANIFEST.read_text())
    by_name = {c["command"].lstrip("/"): c for c in manifest["features"]["slash_commands"]}
    for name, spec in load_commands().items():
        if name in by_name:
            assert by_name[name]["description"].lower() == spec.help("en").lower()
            assert by_name[name]["usage_hint"].startswith(spec.usage.partition(" ")[2])


@pytest.mark.parametrize("name, question", [
    ("churn_en", "churn last-month"),
    ("churn_ja", "先月の解約率は？"),
    ("churn_error", "churn lst-month"),
    ("term_nrr", "term NRR"),
    ("not_understood", "make me a sandwich"),
])
def test_main_replies_match_their_snapshots(engine, database, settings, name, question):
    seed_two_plans(engine)
    reply = dispatch(question, Context.create(database, settings, now=NOW))
    payload = message_payload(reply)
    assert_valid_message(payload)
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if os.environ.get("CSBOT_UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path.name}: write it with CSBOT_UPDATE_SNAPSHOTS=1 and review it"
    assert json.loads(path.read_text(encoding="utf-8")) == payload
