"""What happens between csbot and Slack around one answer: an event redelivered is answered once,
owners stay resolved through the buttons, and a response_url Slack refuses (expired, used up,
blocks it will not take) is noticed, logged and replaced by an ephemeral message."""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from slack_double import (
    app_mention_event,
    block_actions_body,
    bolt_request,
    event_body,
    sign,
    slash_command_body,
)
from sqlalchemy import func, select

from bot.slack.app import EventLog, create_app
from bot.slack.listeners.send import respond_safely
from metrics import schema

SECRET = "delivery-secret"
NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)




def seed(engine):
    """Alice owns two accounts, one recorded by e-mail and one by Slack user ID; one of them churned.
    Bob owns one."""
    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [
            {"account_id": "A", "name": "Acme Corp", "segment": "smb", "owner": "alice@example.com"},
            {"account_id": "C", "name": "Cyberdyne", "segment": "smb", "owner": "U0ALICE"},
            {"account_id": "B", "name": "Globex", "segment": "enterprise", "owner": "U0BOB"},
        ])
        conn.execute(schema.subscriptions.insert(), [
            {"subscription_id": "1", "account_id": "A", "product": "core", "start_date": date(2026, 1, 1),
             "end_date": None, "mrr": 30_000},
            {"subscription_id": "3", "account_id": "C", "product": "core", "start_date": date(2026, 1, 1),
             "end_date": date(2026, 10, 20), "mrr": 20_000},
            {"subscription_id": "2", "account_id": "B", "product": "core", "start_date": date(2026, 1, 1),
             "end_date": date(2026, 10, 15), "mrr": 50_000},
        ])


@pytest.fixture
def app(slack, database, settings, engine, pool):
    seed(engine)
    st = replace(settings, slack_api_url=slack.api_url, slack_bot_token=slack.bot_token, slack_signing_secret=SECRET,
                 revenue_channels=("C0GENERAL", "C0REVENUE"))
    return create_app(st, database, clock=lambda: NOW, listener_executor=pool)


def send(app, body: str, **headers) -> int:
    return app.dispatch(bolt_request(body, {**sign(SECRET, body), **headers})).status


def text_of(payload: dict) -> str:
    return str(payload.get("text", "")) + str(payload.get("blocks", ""))


# ------------------------------------------------------------------ once per event

def test_the_same_event_delivered_three_times_is_answered_once(app, slack, pool, engine):
    body = event_body(app_mention_event("churn last month", channel="C0GENERAL"))
    statuses = [send(app, body), send(app, body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}),
                send(app, body, **{"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"})]
    pool.shutdown(wait=True)
    assert statuses == [200, 200, 200]  # each delivery acknowledged, so Slack stops retrying
    assert len(slack.calls_to("chat.postMessage")) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.slack_handled_events)).scalar_one() == 1


def test_two_replicas_answer_an_event_once(slack, database, settings, engine, pool):
    seed(engine)
    st = replace(settings, slack_api_url=slack.api_url, slack_bot_token=slack.bot_token, slack_signing_secret=SECRET,
                 revenue_channels=("C0GENERAL",))
    replicas = [create_app(st, database, clock=lambda: NOW, listener_executor=pool) for _ in range(2)]
    body = event_body(app_mention_event("churn last month", channel="C0GENERAL"))
    with ThreadPoolExecutor(max_workers=2) as both:
        statuses = list(both.map(lambda a: send(a, body), replicas))
    pool.shutdown(wait=True)
    assert statuses == [200, 200]
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_different_events_are_each_answered(app, slack, pool):
    for _ in range(2):
        send(app, event_body(app_mention_event("churn last month", channel="C0GENERAL")))
    pool.shutdown(wait=True)
    assert len(slack.calls_to("chat.postMessage")) == 2


def test_handled_events_older_than_a_day_are_pruned(engine):
    clock = [datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)]
    log = EventLog(engine, clock=lambda: clock[0])
    assert log.first_time("Ev1") and not log.first_time("Ev1")
    clock[0] += timedelta(days=1, hours=2)
    assert log.first_time("Ev2")  # prunes Ev1 (older than a day)
    with engine.connect() as conn:
        assert [r.event_id for r in conn.execute(select(schema.slack_handled_events.c.event_id))] == ["Ev2"]


# ------------------------------------------------------------------ owners through the buttons

def button_values(payload: dict) -> dict[str, str]:
    actions = [b for b in payload["blocks"] if b["type"] == "actions"]
    return {re.sub(r"_\d+$", "", e["action_id"]): e["value"] for a in actions for e in a["elements"]}


def test_owner_me_gives_the_same_accounts_after_the_buttons(app, slack, pool):
    send(app, slash_command_body("/churn", "last-month owner:me", response_url=slack.response_url("typed")))
    [typed] = slack.wait_for("response_url")
    assert "*1* of 2 customers" in text_of(typed.json)  # Acme (by e-mail) and Cyberdyne (by user ID)
    values = button_values(typed.json)
    assert "owner:me" not in values["csbot_how"]  # a button may be pressed by someone else
    send(app, block_actions_body("csbot_how_0", values["csbot_how"], response_url=slack.response_url("how")))
    send(app, block_actions_body("csbot_accounts_1", values["csbot_accounts"], response_url=slack.response_url("acc")))
    pool.shutdown(wait=True)
    [how] = [c for c in slack.calls_to("response_url") if c.path.endswith("/how")]
    [accounts] = [c for c in slack.calls_to("response_url") if c.path.endswith("/acc")]
    assert "1 churned / 2 customers at the start" in text_of(how.json)
    assert "Cyberdyne" in text_of(accounts.json) and "Globex" not in text_of(accounts.json)


def test_owner_at_alice_in_a_mention_matches_her_e_mail_accounts(app, slack, pool):
    # In a mention Slack sends <@U0ALICE> with no name: csbot looks her e-mail up.
    send(app, event_body(app_mention_event("churn last month owner:<@U0ALICE>", user="U0BOB", channel="C0GENERAL")))
    pool.shutdown(wait=True)
    [post] = slack.calls_to("chat.postMessage")
    assert "*1* of 2 customers" in text_of(post.params)


# ------------------------------------------------------------------ response_url refusals

def test_an_expired_response_url_is_logged_and_the_answer_goes_ephemeral(app, slack, pool, caplog):
    url = slack.response_url("old")
    slack.advance(31 * 60)  # Slack takes a response_url for 30 minutes
    with caplog.at_level(logging.ERROR):
        send(app, block_actions_body("csbot_how_0", "churn 2026-10-01..2026-10-31 how", response_url=url))
        pool.shutdown(wait=True)
    assert "response_url post failed: expired_url" in caplog.text
    [fallback] = slack.calls_to("chat.postEphemeral")
    assert fallback.params["user"] == "U0ALICE" and "thread_ts" not in fallback.params
    [seen] = slack.visible_to("U0ALICE")
    assert "2 churned / 3 customers at the start" in seen.all_text


def test_a_used_up_response_url_is_noticed(slack, caplog):
    from slack_sdk.webhook import WebhookClient

    hook = WebhookClient(slack.response_url("five"))
    for _ in range(5):
        assert respond_safely(lambda **kw: hook.send(**kw), text="hi")
    failures = []
    with caplog.at_level(logging.ERROR):
        assert not respond_safely(lambda **kw: hook.send(**kw), on_failure=failures.append, text="sixth")
    assert failures == ["used_url"] and "used_url" in caplog.text


def test_blocks_slack_refuses_on_a_response_url_are_noticed(slack, caplog):
    from slack_sdk.webhook import WebhookClient

    hook = WebhookClient(slack.response_url("bad"))
    failures = []
    field = {"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}  # Slack's limit is 2000
    with caplog.at_level(logging.ERROR):
        assert not respond_safely(lambda **kw: hook.send(**kw), on_failure=failures.append, text="t", blocks=[field])
    assert failures == ["invalid_blocks"]


def test_a_client_without_sdk_retries_hands_a_429_straight_back(slack, settings):
    from slack_sdk.errors import SlackApiError

    from bot.slack.client import make_client, slack_error

    st = replace(settings, slack_api_url=slack.api_url, slack_bot_token=slack.bot_token)
    slack.rate_limit_next("chat.postMessage", retry_after=30)
    with pytest.raises(SlackApiError) as err:
        make_client(st, rate_limit_retries=0).chat_postMessage(channel="C0GENERAL", text="hi")
    assert slack_error(err.value) == "ratelimited" and err.value.response.headers["Retry-After"] == "30"
    assert len(slack.calls_to("chat.postMessage")) == 1  # no hidden second layer of retries


def test_owner_at_alice_in_a_slash_command_matches_both_her_e_mail_and_her_user_id(app, slack, pool):
    # Slash commands (should_escape) send <@U0ALICE|alice>: the accounts under her ID and her e-mail count.
    send(app, slash_command_body("/churn", "last-month owner:<@U0ALICE|alice>", user_id="U0BOB",
                                 response_url=slack.response_url("at", user="U0BOB")))
    pool.shutdown(wait=True)
    [answer] = slack.calls_to("response_url")
    assert "*1* of 2 customers" in text_of(answer.json)  # Acme (alice@example.com) and Cyberdyne (U0ALICE)
