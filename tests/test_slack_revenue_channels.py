"""Revenue channels by channel ID, never by a label: CSBOT_REVENUE_CHANNELS may hold IDs or names;
names are resolved through Slack (conversations.list, cached, again after a rename), and the
decision in commands.privacy looks at the channel ID only. Glossary answers about revenue terms
follow the same rule, Share included. Guests never see revenue."""

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
from slack_sdk import WebClient

from bot.slack.app import create_app
from bot.slack.client import ChannelDirectory
from commands.privacy import is_revenue_channel, may_be_public, may_manage, may_see
from commands.reply import Reply

SECRET = "revenue-secret"
NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)
MRR_REPLY = Reply(title="MRR", summary="MRR ¥30,000", metrics=("mrr",))
PLAIN_REPLY = Reply(title="Churn", summary="customer churn 50%", metrics=("customer_churn_rate",))




@pytest.fixture
def make(slack, database, settings, engine, pool):
    seed_two_plans(engine)

    def _make(**overrides):
        st = replace(settings, slack_api_url=slack.api_url, slack_bot_token=slack.bot_token,
                     slack_signing_secret=SECRET, **overrides)
        return create_app(st, database, clock=lambda: NOW, listener_executor=pool)

    return _make


def send(app, body: str) -> int:
    return app.dispatch(bolt_request(body, sign(SECRET, body))).status


# ------------------------------------------------------------------ the rule, in commands.privacy

def test_a_typed_label_never_makes_a_channel_a_revenue_channel(settings):
    by_name = replace(settings, revenue_channels=("cs-revenue",))
    assert not is_revenue_channel(by_name, "C0GENERAL", "cs-revenue")  # <#C0GENERAL|cs-revenue>
    assert not may_be_public(MRR_REPLY, by_name, "C0GENERAL", channel_name="cs-revenue")
    assert not is_revenue_channel(by_name, "#cs-revenue")  # a name typed as such is not an ID
    assert is_revenue_channel(by_name, "C0REVENUE", revenue_ids={"C0REVENUE"})
    assert not is_revenue_channel(by_name, "C0GENERAL", revenue_ids={"C0REVENUE"})
    # the name Slack itself gives this ID resolves it
    assert is_revenue_channel(by_name, "C0REVENUE", slack_name="cs-revenue")
    by_id = replace(settings, revenue_channels=("C0REVENUE",))
    assert is_revenue_channel(by_id, "C0REVENUE") and not is_revenue_channel(by_id, "C0GENERAL", "C0REVENUE")


def test_non_revenue_replies_are_public_anywhere_and_revenue_in_a_dm(settings):
    assert may_be_public(PLAIN_REPLY, settings, "C0GENERAL")
    assert may_be_public(MRR_REPLY, settings, "D0DM", is_dm=True)
    assert not may_be_public(MRR_REPLY, settings, "C0GENERAL")


def test_guests_never_see_revenue_and_only_the_owner_or_an_admin_may_manage(settings):
    assert not may_see(MRR_REPLY, guest=True) and may_see(MRR_REPLY, guest=False) and may_see(PLAIN_REPLY, guest=True)
    admins = replace(settings, admins=("U0BOSS",))
    assert may_manage(admins, "U0ALICE", "U0ALICE") and may_manage(admins, "U0BOSS", "U0ALICE")
    assert not may_manage(admins, "U0BOB", "U0ALICE") and not may_manage(admins, "U0BOB", None)


# ------------------------------------------------------------------ names resolved through Slack

def test_names_are_resolved_to_ids_once_and_again_after_a_rename(slack, settings):
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    directory = ChannelDirectory(client, replace(settings, revenue_channels=("cs-revenue", "C0OTHER")))
    assert directory.revenue_ids() == {"C0REVENUE", "C0OTHER"}
    assert directory.revenue_ids() == {"C0REVENUE", "C0OTHER"}
    assert len(slack.calls_to("conversations.list")) == 1  # cached
    slack.rename_channel("C0REVENUE", "cs-revenue-old")
    slack.rename_channel("C0GENERAL", "cs-revenue")
    directory.forget()
    assert directory.revenue_ids() == {"C0GENERAL", "C0OTHER"}


def test_a_private_revenue_channel_is_found_through_groups_read(slack, settings):
    slack.add_channel("G0LEADS", "cs-leads", private=True)
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    assert ChannelDirectory(client, replace(settings, revenue_channels=("cs-leads",))).revenue_ids() == {"G0LEADS"}
    [listed] = slack.calls_to("conversations.list")
    assert "private_channel" in listed.params["types"]


def test_a_mention_in_a_channel_renamed_to_the_revenue_name_follows_the_rename(make, slack, pool):
    app = make(revenue_channels=("cs-revenue",))
    send(app, event_body(app_mention_event("churn last month", channel="C0GENERAL")))
    slack.wait_for("chat.postEphemeral")
    slack.rename_channel("C0REVENUE", "cs-revenue-archive")
    slack.rename_channel("C0GENERAL", "cs-revenue")
    send(app, event_body({"type": "channel_rename", "channel": {"id": "C0GENERAL", "name": "cs-revenue",
                                                                 "created": 1_700_000_000}}))
    send(app, event_body(app_mention_event("churn last month", channel="C0GENERAL")))
    pool.shutdown(wait=True)
    assert len(slack.calls_to("chat.postEphemeral")) == 1  # before the rename: private
    [public] = slack.calls_to("chat.postMessage")  # after: public
    assert public.params["channel"] == "C0GENERAL" and "62.5%" in public.params["text"] + str(public.params["blocks"])
    assert len(slack.calls_to("conversations.list")) == 2


def test_digest_subscribe_with_a_revenue_label_on_general_says_it_is_not_a_revenue_channel(make, slack, pool):
    app = make(revenue_channels=("cs-revenue",))
    send(app, event_body(app_mention_event("digest subscribe <#C0GENERAL|cs-revenue> 09:00", channel="C0GENERAL")))
    send(app, event_body(app_mention_event("digest subscribe <#C0REVENUE|cs-revenue> 09:00", channel="C0GENERAL")))
    pool.shutdown(wait=True)
    posts = [c.params["text"] + str(c.params["blocks"]) for c in slack.calls_to("chat.postMessage")]
    [general] = [p for p in posts if "C0GENERAL" in p]
    [revenue] = [p for p in posts if "C0REVENUE" in p]
    note = "This is not a revenue channel"
    assert note in general and note not in revenue


# ------------------------------------------------------------------ the glossary follows the rule

REVENUE_TERMS = ["term MRR", "term ARR", "term ARPA", "term LTV", "term NRR", "term GRR", "what is MRR?",
                 "MRRって何？"]


@pytest.mark.parametrize("question", REVENUE_TERMS)
def test_a_revenue_term_is_private_outside_the_revenue_channels(make, slack, pool, question):
    app = make(revenue_channels=("cs-revenue",))
    send(app, event_body(app_mention_event(question, channel="C0GENERAL")))
    pool.shutdown(wait=True)
    assert slack.calls_to("chat.postMessage") == []
    [private] = slack.calls_to("chat.postEphemeral")
    assert private.params["user"] == "U0ALICE"
    assert slack.visible_to("U0BOB") == []


@pytest.mark.parametrize("question", REVENUE_TERMS)
def test_sharing_a_revenue_term_outside_the_revenue_channels_is_refused(make, slack, pool, question):
    app = make(revenue_channels=("cs-revenue",))
    send(app, block_actions_body("csbot_share_1", question, channel_id="C0GENERAL",
                                 response_url=slack.response_url("share", channel="C0GENERAL")))
    send(app, block_actions_body("csbot_share_1", question, channel_id="C0REVENUE",
                                 response_url=slack.response_url("share2", channel="C0REVENUE")))
    pool.shutdown(wait=True)
    [refused] = [c for c in slack.calls_to("response_url") if c.path.endswith("/share")]
    [shared] = [c for c in slack.calls_to("response_url") if c.path.endswith("/share2")]
    assert refused.json["response_type"] == "ephemeral" and "#cs-revenue" in refused.json["text"]
    assert shared.json["response_type"] == "in_channel"
    assert [s.channel for s in slack.visible_to("U0BOB")] == ["C0REVENUE"]


# ------------------------------------------------------------------ guests

def test_a_guest_never_sees_revenue_not_even_privately(make, slack, pool):
    slack.users["U0GUEST"] = {"id": "U0GUEST", "name": "guest", "real_name": "Guest", "email": "g@partner.example",
                              "tz": "Asia/Tokyo", "is_restricted": True}
    slack.channels["D0GUEST"] = {"id": "D0GUEST", "name": "", "is_member": True, "is_im": True, "user": "U0GUEST"}
    app = make(revenue_channels=("cs-revenue",))
    send(app, event_body(app_mention_event("churn last month", user="U0GUEST", channel="C0REVENUE")))
    send(app, slash_command_body("/churn", "last-month", user_id="U0GUEST",
                                 response_url=slack.response_url("g", user="U0GUEST")))
    send(app, event_body(im_message_event("先月の解約率は？", user="U0GUEST", channel="D0GUEST")))
    pool.shutdown(wait=True)
    seen = slack.visible_to("U0GUEST")
    assert seen and all("62.5%" not in s.all_text for s in seen)
    assert any("guests" in s.all_text for s in seen)
    assert all("62.5%" not in s.all_text for s in slack.visible_to("U0BOB"))


def test_a_guest_still_gets_answers_without_revenue(make, slack, pool):
    slack.users["U0GUEST"] = {"id": "U0GUEST", "name": "guest", "real_name": "Guest", "tz": "UTC",
                              "is_ultra_restricted": True}
    app = make()
    send(app, slash_command_body("/cs", "term churn", user_id="U0GUEST",
                                 response_url=slack.response_url("g", user="U0GUEST")))
    pool.shutdown(wait=True)
    [answer] = slack.visible_to("U0GUEST")
    assert "guests" not in answer.all_text and "churn" in answer.all_text.lower()


# ------------------------------------------------------------------ the scheduled digest and alerts

class NamedChannels:
    """A poster that only answers channel_info, as Slack would for these IDs."""

    def __init__(self, names):
        self.names = names
        self.asked = []

    def channel_info(self, channel):
        from bot.poster import ChannelInfo

        self.asked.append(channel)
        return ChannelInfo(channel, self.names.get(channel))


def test_a_scheduled_digest_decides_by_the_channel_id_not_the_label_it_was_subscribed_with(settings, engine):
    from bot.jobs.context import JobContext

    poster = NamedChannels({"C0GENERAL": "general", "C0REVENUE": "cs-revenue"})
    jobs = JobContext(poster, replace(settings, revenue_channels=("cs-revenue",)), engine, "w1")
    assert not jobs.revenue_allowed("channel", "C0GENERAL", "cs-revenue")  # subscribed as <#C0GENERAL|cs-revenue>
    assert jobs.revenue_allowed("channel", "C0REVENUE", None)  # Slack names C0REVENUE cs-revenue
    assert jobs.revenue_allowed("dm", "U0ALICE", None)
    by_id = JobContext(poster, replace(settings, revenue_channels=("C0REVENUE",)), engine, "w1")
    assert by_id.revenue_allowed("channel", "C0REVENUE", "anything") and not by_id.revenue_allowed(
        "channel", "C0GENERAL", "C0REVENUE")


def test_when_slack_will_not_say_who_asks_revenue_is_held_back_and_the_asker_told(make, slack, pool):
    slack.fail_next("users.info", "fatal_error", times=10)
    app = make(revenue_channels=("cs-revenue",))
    send(app, event_body(app_mention_event("churn last month", channel="C0REVENUE")))
    pool.shutdown(wait=True)
    [note] = slack.visible_to("U0ALICE")
    assert note.kind == "ephemeral" and "try again" in note.all_text and "62.5%" not in note.all_text
    assert "guest" not in note.all_text
    assert slack.visible_to("U0BOB") == []
