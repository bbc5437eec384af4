"""Every reply csbot sends is one Slack would show, to the right people: a top-level mention, a
threaded mention, a DM, a slash command and a button, in a revenue and a non-revenue channel, on
the strict Slack double (tests/slack_double.py: ephemeral messages in a thread without replies are
never shown, response_urls expire, blocks are validated, scopes come from the manifest).

Alice (U0ALICE) asks; Bob (U0BOB) is another member of every channel. The revenue channel is
#cs-revenue (C0REVENUE), named in CSBOT_REVENUE_CHANNELS by name and resolved to its ID through Slack.
Churn last month has a revenue figure (62.5% revenue churn) and a customer one (50.0%)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest
from conftest import seed_two_plans
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

SECRET = "visibility-secret"
NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)
REVENUE = "62.5%"  # revenue churn, October 2026: a revenue figure
CUSTOMERS = "50.0%"  # customer churn: not revenue




@pytest.fixture
def app(slack, database, settings, engine, pool):
    seed_two_plans(engine)
    st = replace(settings, slack_api_url=slack.api_url, slack_bot_token=slack.bot_token, slack_signing_secret=SECRET,
                 revenue_channels=("cs-revenue",))
    return create_app(st, database, clock=lambda: NOW, listener_executor=pool)


def send(app, body: str) -> int:
    return app.dispatch(bolt_request(body, sign(SECRET, body))).status


def top_level_mention(slack, channel):
    return event_body(slack.user_posted(app_mention_event("churn last month", channel=channel)))


def threaded_mention(slack, channel):
    # Bob started a thread, Alice asks in it: the thread exists and has replies.
    return event_body(slack.user_posted(app_mention_event("churn last month", channel=channel,
                                                          thread_ts="1732239000.000100")))


def dm(slack, channel):
    return event_body(im_message_event("churn last month"))


def slash(slack, channel):
    return slash_command_body("/churn", "last-month", channel_id=channel,
                              response_url=slack.response_url("slash", channel=channel))


def how_button(slack, channel):
    return block_actions_body("csbot_how_0", "churn 2026-10-01..2026-10-31 how", channel_id=channel,
                              response_url=slack.response_url("how", channel=channel))


def share_button(slack, channel):
    return block_actions_body("csbot_share_1", "churn last-month", channel_id=channel,
                              response_url=slack.response_url("share", channel=channel))


# surface, channel, what Alice sees (kind of message), whether Bob sees the revenue figure
CASES = [
    ("top-level mention", top_level_mention, "C0GENERAL", "ephemeral", False),
    ("top-level mention", top_level_mention, "C0REVENUE", "message", True),
    ("threaded mention", threaded_mention, "C0GENERAL", "ephemeral", False),
    ("threaded mention", threaded_mention, "C0REVENUE", "message", True),
    ("DM", dm, "D0DM", "message", False),
    ("slash command", slash, "C0GENERAL", "ephemeral", False),
    ("slash command", slash, "C0REVENUE", "ephemeral", False),
    ("how button", how_button, "C0GENERAL", "ephemeral", False),
    ("how button", how_button, "C0REVENUE", "ephemeral", False),
    ("share button", share_button, "C0REVENUE", "message", True),
]


@pytest.mark.parametrize("surface, body, channel, alice_sees, bob_sees_revenue", CASES,
                         ids=[f"{c[0]} in {c[2]}" for c in CASES])
def test_every_reply_is_shown_to_the_right_people(app, slack, pool, surface, body, channel, alice_sees,
                                                  bob_sees_revenue):
    assert send(app, body(slack, channel)) == 200
    pool.shutdown(wait=True)
    alice = [s for s in slack.visible_to("U0ALICE") if s.channel == channel and REVENUE in s.all_text]
    assert len(alice) == 1, f"{surface}: Alice sees {len(alice)} answers"
    assert alice[0].kind == alice_sees
    bob = [s for s in slack.visible_to("U0BOB") if REVENUE in s.all_text]
    assert bool(bob) == bob_sees_revenue, surface
    assert not [e for e in slack.ephemerals if not e["shown"]], f"{surface}: an ephemeral message nobody sees"


def test_a_threaded_private_answer_stays_in_its_thread(app, slack, pool):
    send(app, threaded_mention(slack, "C0GENERAL"))
    pool.shutdown(wait=True)
    [post] = slack.calls_to("chat.postEphemeral")
    assert post.params["thread_ts"] == "1732239000.000100"
    [seen] = [s for s in slack.visible_to("U0ALICE") if REVENUE in s.all_text]
    assert seen.thread_ts == "1732239000.000100"


def test_sharing_revenue_outside_the_revenue_channels_is_refused_and_nobody_else_sees_it(app, slack, pool):
    send(app, share_button(slack, "C0GENERAL"))
    pool.shutdown(wait=True)
    [refusal] = slack.visible_to("U0ALICE")
    assert refusal.kind == "ephemeral" and "#cs-revenue" in refusal.all_text and REVENUE not in refusal.all_text
    assert slack.visible_to("U0BOB") == []


def test_a_failure_notice_after_a_top_level_mention_is_shown(app, slack, pool):
    # The public answer in the revenue channel fails: the notice to the asker must be visible.
    slack.fail_next("chat.postMessage", "fatal_error")
    send(app, top_level_mention(slack, "C0REVENUE"))
    pool.shutdown(wait=True)
    [note] = slack.visible_to("U0ALICE")
    assert note.kind == "ephemeral" and "try again" in note.text


def test_a_question_without_revenue_is_answered_publicly_anywhere(app, slack, pool):
    send(app, event_body(slack.user_posted(app_mention_event("term churn", channel="C0GENERAL"))))
    pool.shutdown(wait=True)
    [seen] = slack.visible_to("U0BOB")
    assert seen.kind == "message" and seen.channel == "C0GENERAL"


def test_a_group_dm_is_not_the_askers_private_dm(app, slack, pool):
    # A group DM with Alice, Bob and the bot: revenue stays private to Alice.
    slack.add_channel("G0GROUP", "mpdm-alice--bob--csbot-1", mpim=True, members={"U0ALICE", "U0BOB"})
    send(app, top_level_mention(slack, "G0GROUP"))
    pool.shutdown(wait=True)
    assert [s.kind for s in slack.visible_to("U0ALICE") if REVENUE in s.all_text] == ["ephemeral"]
    assert [s for s in slack.visible_to("U0BOB") if REVENUE in s.all_text] == []


def test_share_in_the_askers_own_dm_with_csbot_posts_there(app, slack, pool):
    send(app, block_actions_body("csbot_share_1", "churn last-month", channel_id="D0DM",
                                 response_url=slack.response_url("share-dm", channel="D0DM")))
    pool.shutdown(wait=True)
    [shared] = slack.calls_to("response_url")
    assert shared.json["response_type"] == "in_channel" and REVENUE in str(shared.json)


QUESTIONS = ["mrr last month", "arr", "nrr last month", "grr last month", "kpi", "ltv", "health",
             "先月の解約率は？", "term NRR", "nps last month"]


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_answer_follows_the_revenue_rule_by_channel_id(app, slack, pool, database, settings, question):
    from commands.context import Context
    from commands.privacy import carries_revenue
    from commands.router import dispatch

    reply = dispatch(question, Context.create(database, settings, now=NOW, user_id="U0ALICE", channel_id="C0GENERAL",
                                              surface="mention"))
    send(app, top_level_mention(slack, "C0GENERAL").replace("churn last month", question))
    send(app, top_level_mention(slack, "C0REVENUE").replace("churn last month", question))
    pool.shutdown(wait=True)
    alice = slack.visible_to("U0ALICE")
    assert not [e for e in slack.ephemerals if not e["shown"]], question
    in_general = [s for s in alice if s.channel == "C0GENERAL" and s.text]  # (a chart upload has no text)
    if carries_revenue(reply):
        assert [s.kind for s in in_general] == ["ephemeral"], question
        assert not [s for s in slack.visible_to("U0BOB") if s.channel == "C0GENERAL"], question
    else:
        assert [s.kind for s in in_general] == ["message"], question
    assert {s.kind for s in alice if s.channel == "C0REVENUE" and s.text} == {"message"}, question
