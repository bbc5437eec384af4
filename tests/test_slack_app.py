"""csbot in Slack, end to end: signed requests to the Bolt app, a local stand-in for the
Web API, and the messages csbot sends back."""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime, timezone

import pytest
from slack_double import (
    app_mention_event,
    block_actions_body,
    bolt_request,
    event_body,
    im_message_event,
    sign,
    slash_command_body,
)

from bot.slack.app import create_app
from metrics import schema

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)  # 09:30 in Tokyo



@pytest.fixture
def listeners():
    """The thread pool the app's lazy listeners run in: ``settle`` waits until they are done."""
    pool = ThreadPoolExecutor(max_workers=5)
    yield pool
    pool.shutdown(wait=True)


def settle(listeners: ThreadPoolExecutor) -> None:
    """Wait until every lazy listener has finished, so "nothing was posted" is a fact, not a guess."""
    listeners.shutdown(wait=True)


@pytest.fixture
def app(slack, database, settings, listeners):
    # The seeds' example: plans of 30,000 and 50,000; the 50,000 one leaves in October.
    with database.engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [
            {"account_id": "A", "name": "Acme Corp", "segment": "smb"},
            {"account_id": "B", "name": "Globex", "segment": "enterprise"},
        ])
        conn.execute(schema.subscriptions.insert(), [
            {"subscription_id": "1", "account_id": "A", "product": "core", "start_date": date(2026, 1, 1),
             "end_date": None, "mrr": 30_000},
            {"subscription_id": "2", "account_id": "B", "product": "core", "start_date": date(2026, 1, 1),
             "end_date": date(2026, 10, 15), "mrr": 50_000},
        ])
    st = replace(settings, slack_api_url=slack.api_url, slack_bot_token=slack.bot_token, slack_signing_secret=SECRET)
    return create_app(st, database, clock=lambda: NOW, listener_executor=listeners)


def send(app, body, secret=SECRET):
    start = time.monotonic()
    response = app.dispatch(bolt_request(body, sign(secret, body)))
    return response, time.monotonic() - start


def all_text(payload: dict) -> str:
    return payload.get("text", "") + json.dumps(payload.get("blocks", []), ensure_ascii=False)


def test_slash_churn_last_month_acks_at_once_then_answers_with_the_right_numbers(app, slack):
    body = slash_command_body("/churn", "last-month", response_url=slack.response_url("r1"))
    response, seconds = send(app, body)
    assert response.status == 200
    assert seconds < 3.0  # Slack's limit for the ack
    [reply] = slack.wait_for("response_url")
    text = all_text(reply.json)
    assert "50.0%" in text and "62.5%" in text  # customer and revenue churn
    assert "Oct 1 – Oct 31, 2026" in text  # the exact dates
    assert "Globex" in text  # the churned account
    assert reply.json["response_type"] == "ephemeral"  # slash answers are private


def test_cs_prefix_reaches_the_same_command(app, slack):
    body = slash_command_body("/cs", "churn last-month", response_url=slack.response_url("r2"))
    assert send(app, body)[0].status == 200
    [reply] = slack.wait_for("response_url")
    assert "50.0%" in all_text(reply.json)


def test_a_request_with_a_bad_signature_is_refused_and_nothing_is_posted(app, slack, listeners):
    body = slash_command_body("/churn", "last-month", response_url=slack.response_url("r3"))
    response, _ = send(app, body, secret="not-the-secret")
    assert response.status == 401
    settle(listeners)
    assert slack.calls_to("response_url") == []


def test_a_mistyped_period_gets_the_usage_text_in_the_ack(app, slack, listeners):
    body = slash_command_body("/churn", "2026-13", response_url=slack.response_url("r4"))
    response, _ = send(app, body)
    assert response.status == 200
    assert "2026-13" in response.body and "last-month" in response.body
    settle(listeners)
    assert slack.calls_to("response_url") == []  # answered once, in the ack


def make_app(slack, database, settings, listeners=None, **overrides):
    st = replace(settings, slack_api_url=slack.api_url, slack_bot_token=slack.bot_token,
                 slack_signing_secret=SECRET, **overrides)
    return create_app(st, database, clock=lambda: NOW, listener_executor=listeners)


def test_a_mention_in_a_revenue_channel_is_answered_publicly_in_its_thread(app, slack, database, settings):
    app = make_app(slack, database, settings, revenue_channels=("cs-revenue",))
    event = app_mention_event("<@U0BOT> churn last month", channel="C0REVENUE", ts="1732240000.000500")
    response, _ = send(app, event_body(event))
    assert response.status == 200
    [post] = slack.wait_for("chat.postMessage")
    assert post.params["channel"] == "C0REVENUE"
    assert post.params["thread_ts"] == "1732240000.000500"
    assert "50.0%" in all_text(post.params)


def test_revenue_figures_asked_for_elsewhere_stay_private_and_say_why(app, slack, database, settings, listeners):
    app = make_app(slack, database, settings, listeners, revenue_channels=("cs-revenue",))
    event = app_mention_event("<@U0BOT> churn last month", channel="C0GENERAL", ts="1732240000.000600")
    send(app, event_body(event))
    [post] = slack.wait_for("chat.postEphemeral")
    # A top-level mention has no thread: an ephemeral answer naming one would never be shown.
    assert post.params["user"] == "U0ALICE" and "thread_ts" not in post.params
    assert "62.5%" in all_text(post.params) and "#cs-revenue" in all_text(post.params)
    settle(listeners)
    assert slack.calls_to("chat.postMessage") == []
    [seen] = slack.visible_to("U0ALICE")
    assert seen.kind == "ephemeral" and "62.5%" in seen.all_text
    assert slack.visible_to("U0BOB") == []


def test_a_dm_in_japanese_is_answered_in_japanese(app, slack):
    response, _ = send(app, event_body(im_message_event("先月の解約率は？")))
    assert response.status == 200
    [post] = slack.wait_for("chat.postMessage")
    text = all_text(post.params)
    assert post.params["channel"] == "D0DM"
    assert "解約率" in text and "50.0%" in text and "2026年10月1日〜10月31日" in text


def test_the_how_button_shows_the_formula_with_the_real_numbers(app, slack):
    body = block_actions_body("csbot_how_0", "churn 2026-10-01..2026-10-31 how", response_url=slack.response_url("r5"))
    assert send(app, body)[0].status == 200
    [reply] = slack.wait_for("response_url")
    text = all_text(reply.json)
    assert "1 churned / 2 customers at the start = 50.0%" in text
    assert "¥80,000" in text


def test_an_unknown_question_gets_examples_not_silence(app, slack):
    send(app, event_body(app_mention_event("<@U0BOT> make me a sandwich")))
    [post] = slack.wait_for("chat.postMessage")
    text = all_text(post.params)
    assert "churn last-month" in text and "help" in text


def test_every_message_fits_slack_block_kit(app, slack):
    from slack_sdk.models.blocks import Block

    body = slash_command_body("/churn", "last-month", response_url=slack.response_url("r6"))
    send(app, body)
    [reply] = slack.wait_for("response_url")
    blocks = reply.json["blocks"]
    assert 0 < len(blocks) <= 50
    for raw in blocks:
        block = Block.parse(raw)
        block.validate_json()  # raises on any broken limit
