"""A long list of accounts reaches Slack as a CSV file beside the answer: in the thread of a public
answer, and in the asker's DM with csbot when the answer is private (an ephemeral message cannot
carry a file), which the answer then says. The file holds every account the answer counts."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from slack_double import app_mention_event, bolt_request, event_body, sign, slash_command_body

from bot.slack.app import create_app
from metrics.db import Database

SECRET = "files-secret"
NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)
QUESTION = "accounts owned by alice"  # more accounts than a table shows (20)




@pytest.fixture
def app(slack, demo_copy, settings, pool):
    st = replace(settings, slack_api_url=slack.api_url, slack_bot_token=slack.bot_token, slack_signing_secret=SECRET,
                 revenue_channels=("C0REVENUE",))
    return create_app(st, Database(demo_copy, str(demo_copy.url), False), clock=lambda: NOW, listener_executor=pool)


def send(app, body: str) -> int:
    return app.dispatch(bolt_request(body, sign(SECRET, body))).status


def counted(text: str) -> int:
    """N in "The full list of N accounts is attached ..."."""
    return int(re.search(r"full list of (\d+) accounts", text)[1])


def uploaded(slack):
    return [u for u in slack.uploads.values() if u.completed]


def csv_rows(upload) -> list[str]:
    assert upload.data.startswith("\ufeff".encode())  # a BOM: Excel reads Japanese names
    return upload.data.decode("utf-8-sig").strip().splitlines()[1:]


def test_a_public_answer_in_a_revenue_channel_gets_its_csv_in_the_thread(app, slack, pool):
    assert send(app, event_body(slack.user_posted(app_mention_event(QUESTION, channel="C0REVENUE")))) == 200
    pool.shutdown(wait=True)
    [answer] = slack.calls_to("chat.postMessage")
    n = counted(answer.params["text"] + str(answer.params.get("blocks")))
    assert n > 20
    [upload] = uploaded(slack)
    assert upload.filename.endswith(".csv") and len(csv_rows(upload)) == n
    [complete] = slack.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == "C0REVENUE" and complete.params["thread_ts"] == answer.params["thread_ts"]


def test_a_private_answer_sends_its_csv_to_the_askers_dm_and_says_so(app, slack, pool):
    body = slash_command_body("/cs", QUESTION, channel_id="C0GENERAL",
                              response_url=slack.response_url("slash", channel="C0GENERAL"))
    assert send(app, body) == 200
    pool.shutdown(wait=True)
    [answer] = slack.calls_to("response_url")
    text = answer.json["text"] + str(answer.json.get("blocks"))
    assert "direct messages with csbot" in text
    [upload] = uploaded(slack)
    [complete] = slack.calls_to("files.completeUploadExternal")
    [opened] = slack.calls_to("conversations.open")
    assert opened.params["users"] == "U0ALICE" and complete.params["channel_id"] != "C0GENERAL"
    assert len(csv_rows(upload)) == counted(text)
