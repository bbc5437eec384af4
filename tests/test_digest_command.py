"""`/cs digest ...`: subscribing channels and DMs, listing, unsubscribing, previewing,
the delivery log and alerts, in English and Japanese, with clear messages for bad input."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from commands.context import Context
from commands.digest import parse_time
from commands.router import dispatch, precheck
from metrics import digest_store as store

NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)  # Sun 09:30 in Tokyo


@pytest.fixture
def cfg(settings):
    return replace(settings, revenue_channels=("cs-revenue",))


@pytest.fixture
def ask(database, cfg):
    def _ask(text: str, user_id: str | None = "U0ALICE", **kw):
        ctx = Context.create(database, cfg, now=NOW, user_id=user_id, user_email=kw.pop("email", "alice@example.com"),
                             channel_id=kw.pop("channel_id", "C0GENERAL"), surface="slash", **kw)
        return dispatch(text, ctx)
    return _ask


@pytest.mark.parametrize("text", [
    "digest subscribe <#C0GENERAL|general> 09:00",
    "digest subscribe <#C0GENERAL|general> 9:00 America/New_York weekdays segment:enterprise",
    "digest subscribe me 08:30 weekly",
    "digest 購読 自分 7時半",
    "digest preview owner:@alice",
    "digest alert <#C0GENERAL|general> churn 100,000",
    "digest unsubscribe <#C0GENERAL|general>",
])
def test_slash_command_ack_lets_digest_words_through(cfg, text):
    # The fast check in Slack's 3-second ack must not mistake times, zones or channels for a bad period.
    assert precheck(text, None, cfg, user_id="U0ALICE") is None


def test_subscribe_channel_as_slack_escapes_it_with_default_zone(ask, engine):
    reply = ask("digest subscribe <#C0GENERAL|general> 09:00")
    assert reply.kind == "info", reply.title
    [sub] = store.list_subscriptions(engine)
    assert (sub.target, sub.channel, sub.channel_name, sub.local_time, sub.tz, sub.schedule, sub.lang) == \
        ("channel", "C0GENERAL", "general", "09:00", "Asia/Tokyo", "daily", "en")
    text = "\n".join(reply.lines)
    assert "Next digest: Mon Nov 23 09:00 JST" in text  # 09:00 today has passed
    assert "not a revenue channel" in text


def test_subscribe_with_zone_schedule_and_filters(ask, engine):
    reply = ask("digest subscribe C0REVENUE 18:15 America/New_York weekdays segment:enterprise owner:@bob")
    assert reply.kind == "info", reply.title
    [sub] = store.list_subscriptions(engine)
    assert (sub.channel, sub.local_time, sub.tz, sub.schedule) == ("C0REVENUE", "18:15", "America/New_York", "weekdays")
    assert sub.filters.segment == "enterprise" and sub.filters.owner == ("bob",)
    assert "next" in "\n".join(ask("digest list").lines)


def test_subscribe_me_is_a_dm_digest_of_my_book_in_my_language(ask, engine):
    reply = ask("digest 購読 自分 8:30 平日", user_id="U0BOB", email="bob@example.com")
    assert reply.kind == "info" and reply.language == "ja", reply.title
    [sub] = store.list_subscriptions(engine)
    assert (sub.target, sub.channel, sub.schedule, sub.lang) == ("dm", "U0BOB", "weekdays", "ja")
    assert sub.filters.owner == ("U0BOB", "bob@example.com")


def test_subscribe_me_outside_slack_says_where_it_works(ask):
    reply = ask("digest subscribe me 08:30", user_id=None, email=None)
    assert reply.kind == "error" and "Slack" in reply.title


@pytest.mark.parametrize("text, expected", [
    ("digest subscribe <#C0GENERAL|general> 25:00", "“25:00” is not a time of day: use HH:MM"),
    ("digest subscribe <#C0GENERAL|general> 09:00 Mars/Olympus", "Unknown time zone “Mars/Olympus”"),
    ("digest subscribe 09:00", "Which channel?"),
    ("digest subscribe <#C0GENERAL|general> 09:00 sometimes", "I don't understand “sometimes”"),
    ("digest subscribe <#C0GENERAL|general> 09:00 colour:blue", "Unknown filter “colour:”"),
    ("digest frobnicate", "I don't know “digest frobnicate”"),
])
def test_bad_subscribe_input_gets_a_clear_usage_message(ask, engine, text, expected):
    reply = ask(text)
    assert reply.kind == "error"
    assert expected in reply.title
    assert store.list_subscriptions(engine) == []


def test_subscribing_twice_is_a_no_op(ask, engine):
    ask("digest subscribe <#C0GENERAL|general> 09:00")
    reply = ask("digest subscribe C0GENERAL 9:00")
    assert "already" in reply.summary
    assert len(store.list_subscriptions(engine)) == 1


def test_unsubscribe_by_id_and_by_channel(ask, engine):
    first = ask("digest subscribe <#C0GENERAL|general> 09:00").data["id"]
    ask("digest subscribe <#C0GENERAL|general> 17:00")
    third = ask("digest subscribe <#C0REVENUE|cs-revenue> 09:00").data["id"]
    assert ask(f"digest unsubscribe {first}").data["ids"] == [first]
    assert ask("digest unsubscribe <#C0GENERAL|general>").data["ids"] == [first + 1]
    assert [s.id for s in store.list_subscriptions(engine)] == [third]
    assert ask("digest 解除 999").kind == "error"
    assert ask("digest list").data["ids"] == [third]


def test_subscription_survives_in_the_database_not_the_process(ask, engine, database, cfg):
    ask("digest subscribe <#C0GENERAL|general> 09:00")
    # A fresh context (as after a restart) reads the same subscription back.
    ctx = Context.create(database, cfg, now=NOW, user_id="U0BOB", channel_id="C0REVENUE", surface="slash")
    assert len(dispatch("digest list", ctx).data["ids"]) == 1


def test_preview_answers_now_with_the_digest(ask, engine):
    from test_digest import seed

    seed(engine)
    reply = ask("digest preview")
    assert reply.kind == "answer", reply.title
    assert reply.title == "KPI digest · Sun Nov 22"
    assert any("Globex (¥50,000)" in line for line in reply.lines)
    assert reply.revenue is True  # the listeners keep it private outside revenue channels
    mine = ask("digest preview me", user_id="U0BOB", email="bob@example.com")
    assert not any("NewCo" in line for line in mine.lines)  # Bob's book only
    assert any("Initech" in line for line in mine.lines)


def test_preview_on_an_empty_database_says_how_to_load_data(ask):
    reply = ask("digest preview")
    assert reply.kind == "error" and "no data" in reply.title.lower()


def test_alert_commands_set_list_update_and_turn_off(ask, engine):
    assert ask("digest alert <#C0GENERAL|general> red").kind == "info"
    assert ask("digest alert <#C0GENERAL|general> churn 100k").kind == "info"
    assert ask("digest alert <#C0GENERAL|general> churn ¥250,000").title == "Alert updated"
    assert ask("digest アラート <#C0REVENUE|cs-revenue> detractor").kind == "info"
    assert ask("digest alerts").data["alerts"] == [("C0GENERAL", "churn", 250_000.0), ("C0GENERAL", "red", None),
                                                   ("C0REVENUE", "detractor", None)]
    assert ask("digest alert off <#C0GENERAL|general> red").kind == "info"
    assert ask("digest alert off <#C0GENERAL|general> red").kind == "error"
    assert [(a.channel, a.kind) for a in store.list_alerts(engine)] == [("C0GENERAL", "churn"), ("C0REVENUE", "detractor")]


@pytest.mark.parametrize("text", [
    "digest alert <#C0GENERAL|general>",
    "digest alert red",
    "digest alert <#C0GENERAL|general> red 5000",
    "digest alert <#C0GENERAL|general> purple",
])
def test_bad_alert_input_gets_a_usage_message(ask, engine, text):
    reply = ask(text)
    assert reply.kind == "error"
    assert store.list_alerts(engine) == []


def test_empty_digest_command_shows_its_usage(ask):
    reply = ask("digest")
    assert reply.kind == "help" and any("subscribe" in line for line in reply.lines)


def test_log_is_empty_before_the_first_digest(ask):
    assert ask("digest log").title == "No digest has been sent yet."


@pytest.mark.parametrize("word, expected", [
    ("9:00", "09:00"), ("09:30", "09:30"), ("6pm", "18:00"), ("6:15pm", "18:15"), ("9時", "09:00"),
    ("9時30分", "09:30"), ("午後6時半", "18:30"), ("24:00", None), ("9", None), ("13pm", None),
])
def test_times_of_day_are_read_in_common_spellings(word, expected):
    assert parse_time(word) == expected
