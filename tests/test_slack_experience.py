"""Slack experience: sharing, the App Home, and Slack's own errors (not_in_channel,
rate limits, timeouts) handled the way a user would want."""

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from conftest import seed_two_plans
from slack_double import (
    app_home_opened_event,
    app_mention_event,
    block_actions_body,
    bolt_request,
    event_body,
    sign,
    slash_command_body,
)

from bot.slack.app import create_app

SECRET = "test-secret"
NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)



@pytest.fixture
def listeners():
    pool = ThreadPoolExecutor(max_workers=4)
    yield pool
    pool.shutdown(wait=True)


@pytest.fixture
def make(slack, database, settings, engine):
    seed_two_plans(engine)

    def _make(clock=lambda: NOW, listener_executor=None, **overrides):
        st = replace(settings, slack_api_url=slack.api_url, slack_bot_token=slack.bot_token,
                     slack_signing_secret=SECRET, **overrides)
        return create_app(st, database, clock=clock, listener_executor=listener_executor)

    return _make


def send(app, body):
    return app.dispatch(bolt_request(body, sign(SECRET, body)))


def text_of(payload):
    return payload.get("text", "") + json.dumps(payload.get("blocks", []), ensure_ascii=False)


def test_a_private_answer_offers_share_in_channel(make, slack):
    app = make()
    send(app, slash_command_body("/churn", "last-month", response_url=slack.response_url("r1")))
    [reply] = slack.wait_for("response_url")
    actions = [b for b in reply.json["blocks"] if b["type"] == "actions"][0]["elements"]
    share = [a for a in actions if a["action_id"].startswith("csbot_share")]
    assert share and share[0]["value"] == "churn last-month"


def test_sharing_in_a_revenue_channel_posts_the_answer_for_everyone(make, slack):
    app = make(revenue_channels=("C0REVENUE",))
    send(app, block_actions_body("csbot_share_3", "churn last-month", channel_id="C0REVENUE",
                                 response_url=slack.response_url("r2", channel="C0REVENUE")))
    [shared] = slack.wait_for("response_url")
    assert shared.json["response_type"] == "in_channel" and shared.json["replace_original"] is False
    assert "50.0%" in text_of(shared.json) and "shared by <@U0ALICE>" in text_of(shared.json)
    [seen] = [s for s in slack.visible_to("U0BOB") if s.channel == "C0REVENUE"]
    assert seen.kind == "message" and "50.0%" in seen.all_text


def test_sharing_revenue_figures_outside_the_revenue_channels_is_refused_with_the_reason(make, slack):
    app = make(revenue_channels=("cs-revenue",))
    send(app, block_actions_body("csbot_share_3", "churn last-month", channel_id="C0GENERAL",
                                 response_url=slack.response_url("r3")))
    [reply] = slack.wait_for("response_url")
    assert "#cs-revenue" in reply.json["text"]
    assert slack.calls_to("chat.postMessage") == []


def test_a_japanese_answer_that_may_not_be_shared_here_says_so_in_japanese(make, slack):
    app = make(revenue_channels=("cs-revenue",))
    send(app, block_actions_body("csbot_share_3", "先月の解約率は？", channel_id="C0GENERAL",
                                 response_url=slack.response_url("r9")))
    [reply] = slack.wait_for("response_url")
    assert "#cs-revenue" in reply.json["text"] and "共有できません" in reply.json["text"]
    assert slack.calls_to("chat.postMessage") == []


@pytest.mark.parametrize("channel", ["C0NOTMEMBER", "G0PRIVATE"])
def test_sharing_works_where_the_bot_is_not_a_member(make, slack, listeners, channel):
    # Through the click's response_url: no chat.postMessage as the bot, so no not_in_channel,
    # in a public channel it has not joined as in a private channel it cannot see.
    slack.add_channel("G0PRIVATE", "cs-leads", member=False, private=True)
    app = make(revenue_channels=(channel,), listener_executor=listeners)
    send(app, block_actions_body("csbot_share_3", "churn last-month", channel_id=channel,
                                 response_url=slack.response_url("r4", channel=channel)))
    listeners.shutdown(wait=True)
    [shared] = slack.calls_to("response_url")
    assert shared.json["response_type"] == "in_channel"
    assert slack.calls_to("chat.postMessage") == []
    assert any(s.channel == channel and "50.0%" in s.all_text for s in slack.visible_to("U0BOB"))


def test_a_rate_limited_post_is_retried_after_retry_after(make, slack):
    app = make(revenue_channels=("C0GENERAL",))
    slack.rate_limit_next("chat.postMessage", retry_after=1)
    start = time.monotonic()
    send(app, event_body(app_mention_event("<@U0BOT> churn last month", channel="C0GENERAL")))
    posts = slack.wait_for("chat.postMessage", count=2, timeout=8)
    assert posts[1].time - posts[0].time >= 0.9  # waited Retry-After before trying again
    assert time.monotonic() - start < 8


def test_a_slack_timeout_tells_the_user_and_logs_once_without_the_token(make, slack, caplog):
    app = make(revenue_channels=("C0GENERAL",), slack_timeout=0.5)
    slack.delay_next("chat.postMessage", seconds=2)
    with caplog.at_level(logging.DEBUG):
        send(app, event_body(app_mention_event("<@U0BOT> churn last month", channel="C0GENERAL")))
        [note] = slack.wait_for("chat.postEphemeral", timeout=8)
    assert "try again" in note.params["text"]
    failures = [r for r in caplog.records if "posting to C0GENERAL failed" in r.getMessage()]
    assert len(failures) == 1
    assert slack.bot_token not in caplog.text


def test_the_app_home_shows_the_viewers_book_and_the_team_kpis(make, slack):
    app = make()
    send(app, event_body(app_home_opened_event(user="U0ALICE")))  # alice@example.com owns Acme Corp
    [publish] = slack.wait_for("views.publish")
    view = publish.params["view"] if isinstance(publish.params["view"], dict) else json.loads(publish.params["view"])
    text = json.dumps(view, ensure_ascii=False)
    assert view["type"] == "home" and publish.params["user_id"] == "U0ALICE"
    assert "Your book: *1* accounts" in text
    assert "Customer churn rate" in text and "50.0%" in text


def _home_text(app, slack, user):
    send(app, event_body(app_home_opened_event(user=user)))
    [publish] = slack.wait_for("views.publish")
    view = publish.params["view"] if isinstance(publish.params["view"], dict) else json.loads(publish.params["view"])
    return json.dumps(view, ensure_ascii=False)


def test_the_app_home_speaks_the_viewers_slack_locale_under_auto(make, slack):
    slack.users["U0ALICE"]["locale"] = "ja-JP"  # users.info gives it when asked (include_locale)
    text = _home_text(make(), slack, "U0ALICE")
    assert "あなたの担当顧客: *1社*" in text and "カスタマーチャーンレート" in text and "50.0%" in text
    assert "Your book" not in text and "Customer churn rate" not in text


def test_the_app_home_follows_a_set_language_over_the_locale(make, slack):
    slack.users["U0ALICE"]["locale"] = "ja-JP"
    text = _home_text(make(language="en"), slack, "U0ALICE")
    assert "Your book: *1* accounts" in text and "あなたの担当顧客" not in text


def test_owner_me_finds_the_askers_accounts_through_their_slack_email(make, slack):
    app = make()
    send(app, slash_command_body("/churn", "last-month owner:me", user_id="U0ALICE",
                                 response_url=slack.response_url("r5")))
    [reply] = slack.wait_for("response_url")
    # alice@example.com owns only Acme Corp, which did not churn
    assert "*0* of 1 customers" in text_of(reply.json)
    assert len(slack.calls_to("users.info")) == 1
    send(app, slash_command_body("/churn", "last-month owner:me", user_id="U0ALICE",
                                 response_url=slack.response_url("r6")))
    slack.wait_for("response_url", count=2)
    assert len(slack.calls_to("users.info")) == 1  # looked up once, then cached


def test_a_failing_answer_is_logged_with_its_traceback(make, slack, caplog):
    def broken_clock():
        raise RuntimeError("the clock broke")

    listeners = ThreadPoolExecutor(max_workers=2)
    app = make(clock=broken_clock, listener_executor=listeners)
    with caplog.at_level(logging.ERROR):
        assert send(app, slash_command_body("/churn", "last-month", response_url=slack.response_url("r7"))).status == 200
        listeners.shutdown(wait=True)
    [failure] = [r for r in caplog.records if r.exc_info]
    assert failure.exc_info[0] is RuntimeError and "the clock broke" in failure.getMessage()
    assert "Traceback" in caplog.text and "broken_clock" in caplog.text
    assert slack.bot_token not in caplog.text


def test_a_listener_that_raises_reaches_the_error_handler_with_its_traceback(make, slack, caplog):
    app = make()

    @app.action("csbot-test-boom")
    def boom(ack):
        raise ValueError("boom in a listener")

    with caplog.at_level(logging.ERROR):
        response = send(app, block_actions_body("csbot-test-boom", "x", response_url=slack.response_url("r8")))
    assert response.status == 500
    [failure] = [r for r in caplog.records if r.exc_info]
    assert failure.exc_info[0] is ValueError and "boom in a listener" in failure.getMessage()
    assert "Traceback" in caplog.text
