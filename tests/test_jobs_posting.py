"""How the scheduler posts, against the Slack double: one retry layer, a pace per channel, no channel
holding up another, and a post that timed out neither posted twice nor recorded as failed."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta

import pytest
from slack_double import SlackDouble
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy import select
from test_digest import NOW, FakeTime, at, deliveries, heads, seed, subscribe

from bot.jobs.lanes import Lanes
from bot.jobs.scheduler import Scheduler
from bot.poster import PostError
from bot.slack.poster import SlackPoster, jobs_client
from metrics import digest_store as store
from metrics import schema


@pytest.fixture
def slack():
    with SlackDouble() as double:
        double.channels["C0ADMIN"] = {"id": "C0ADMIN", "name": "csbot-admin", "is_member": True, "is_im": False}
        yield double


@pytest.fixture
def cfg(settings):
    return replace(settings, revenue_channels=("cs-revenue",), admin_channel="C0ADMIN")


def client_for(slack, timeout=5.0):
    return WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=timeout)


class NoCharts(SlackPoster):
    def upload_chart(self, channel, chart, *, thread_ts=None, lang="en"):
        return None


def make_scheduler(poster, cfg, database):
    return Scheduler(poster, cfg, database, snapshot=None)


def eventually(check, timeout=5.0):
    """``check()`` once it is true, or its last value after ``timeout`` seconds (other threads post)."""
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return value


def posts_by_channel(slack):
    by: dict[str, list[float]] = defaultdict(list)
    for call in slack.calls_to("chat.postMessage"):
        by[call.params["channel"]].append(call.time)
    return by


# ---------------------------------------------------------------------------------------------- one retry layer


def test_the_jobs_client_and_the_poster_have_no_sdk_retries_of_their_own(slack, cfg):
    noisy = client_for(slack)
    noisy.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
    poster = SlackPoster(noisy, cfg)
    assert poster.client.retry_handlers == [] and len(noisy.retry_handlers) == 2  # the caller's client untouched
    assert jobs_client(replace(cfg, slack_bot_token="xoxb-1")).retry_handlers == []
    # Rate limited 3 times: 3 waits by the poster, 4 calls in all (the SDK would have retried each one 3 times).
    slack.rate_limit_next("chat.postMessage", retry_after=2, times=3)
    fake = FakeTime()
    SlackPoster(noisy, cfg, sleep=fake.sleep, clock=fake.now).post_text("C0GENERAL", "hello")
    assert len(slack.calls_to("chat.postMessage")) == 4
    assert fake.slept == [2.0, 2.0, 2.0]


def test_a_timed_out_post_without_a_run_id_is_tried_three_times_in_all(slack, cfg):
    slack.delay_next("chat.postMessage", 0.6, times=3)
    slack.fail_next("chat.postMessage", "internal_error", times=3)  # the delayed ones never land
    fake = FakeTime()
    poster = SlackPoster(client_for(slack, timeout=0.2), cfg, sleep=fake.sleep, clock=fake.now, pace=0.0)
    with pytest.raises(Exception) as info:
        poster.post_text("C0GENERAL", "hello")
    assert "network error" in str(info.value)
    assert len(slack.calls_to("chat.postMessage")) == 3 and fake.slept == [1.0, 2.0]


# ---------------------------------------------------------------------------------------------- pacing


def test_alerts_to_one_channel_are_paced(engine, database, slack, cfg):
    seed(engine)
    created = at(2026, 11, 21, 12)
    for kind in ("red", "churn", "detractor"):  # three events for #general, one post each
        store.set_alert(engine, channel="C0GENERAL", kind=kind, now=created)
    store.set_alert(engine, channel="C0REVENUE", channel_name="cs-revenue", kind="churn", now=created)
    pace = 0.3
    poster = NoCharts(client_for(slack), cfg, pace=pace)
    fired = make_scheduler(poster, cfg, database).tick(NOW).alerts
    assert len(fired) == 4
    by = posts_by_channel(slack)
    assert len(by["C0GENERAL"]) == 3 and len(by["C0REVENUE"]) == 1
    gaps = [b - a for a, b in zip(by["C0GENERAL"], by["C0GENERAL"][1:])]
    assert min(gaps) >= pace - 0.02  # never two posts to one channel closer than the pace
    assert min(by["C0REVENUE"]) - min(by["C0GENERAL"]) < pace  # the other channel did not wait for #general


def test_a_rate_limited_channel_does_not_delay_another_channels_digest(engine, database, slack, cfg):
    seed(engine)
    subscribe(engine, channel="C0GENERAL")
    subscribe(engine, channel="C0REVENUE", channel_name="cs-revenue")
    release = threading.Event()
    long_waits: list[float] = []

    def sleep(seconds):
        if seconds > 60:  # Retry-After 120: held until the test lets it go
            long_waits.append(seconds)
            release.wait(30)
        else:
            time.sleep(min(seconds, 0.05))

    slack.rate_limit_next("chat.postMessage", retry_after=120)  # whichever channel posts first is held
    sched = make_scheduler(NoCharts(client_for(slack), cfg, sleep=sleep, pace=0.0), cfg, database)
    started = time.monotonic()
    sched.tick(NOW, wait=False)
    assert time.monotonic() - started < 5  # the tick itself never waits for a held channel
    slack.wait_for("chat.postMessage", count=3, timeout=10)  # the 429, the other's headline and its thread
    held = slack.calls_to("chat.postMessage")[0].params["channel"]
    other = ({"C0GENERAL", "C0REVENUE"} - {held}).pop()
    assert len(heads(slack, other)) == 1 and len(heads(slack, held)) == 1  # held: only the 429 so far
    assert eventually(lambda: long_waits) and 119 <= long_waits[0] <= 120  # the held channel waits, alone
    status = lambda: {r.channel: r.status for r in deliveries(engine)}  # noqa: E731
    assert eventually(lambda: status() == {other: "sent", held: "claimed"})  # the held one still posts after
    release.set()
    assert sched.lanes.wait(10)
    assert len(heads(slack, held)) == 2 and len(heads(slack, other)) == 1
    assert {r.channel: r.status for r in deliveries(engine)} == {other: "sent", held: "sent"}


def test_lanes_run_one_channel_in_order_and_skip_work_already_queued():
    lanes = Lanes()
    gate = threading.Event()
    done: list[str] = []
    lanes.submit("A", lambda: gate.wait(5))
    first = lanes.submit("A", lambda: done.append("a1"), key="alert:1")
    again = lanes.submit("A", lambda: done.append("a1 again"), key="alert:1")
    lanes.submit("B", lambda: done.append("b"))
    lanes.submit("A", lambda: done.append("a2"))
    time.sleep(0.2)
    assert done == ["b"]  # B is not behind A
    gate.set()
    assert lanes.wait(5) and again is first
    assert done == ["b", "a1", "a2"]


# ---------------------------------------------------------------------------------------------- timeouts


def test_a_digest_that_timed_out_but_landed_is_not_posted_again_and_is_recorded_as_sent(engine, database, slack,
                                                                                       cfg):
    seed(engine)
    subscribe(engine)
    slack.delay_next("chat.postMessage", 0.6)  # Slack answers after the client gave up (0.2 s), and posts it
    poster = NoCharts(client_for(slack, timeout=0.2), cfg, pace=0.0, settle=1.5)
    result = make_scheduler(poster, cfg, database).tick(NOW)
    assert len(result.sent) == 1 and result.failed == []
    [head] = heads(slack)  # one call for the headline: the history said it had landed
    [row] = deliveries(engine)
    [(_, ts)] = [key for key, msg in slack.messages.items() if not msg.get("thread_ts")]
    assert row.status == "sent" and row.message_ts == ts
    assert head.json["metadata"] == {"event_type": "csbot_digest", "event_payload": {"run_id": f"digest:{row.id}"}}
    assert slack.calls_to("conversations.history")
    [thread] = [m for m in slack.messages.values() if m.get("thread_ts")]
    assert thread["thread_ts"] == ts  # the thread went under the one headline
    assert not [c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == "C0ADMIN"]


def test_a_digest_that_timed_out_and_did_not_land_is_posted_again_once_the_history_says_so(engine, database, slack,
                                                                                         cfg):
    seed(engine)
    subscribe(engine)
    slack.delay_next("chat.postMessage", 0.6)
    slack.fail_next("chat.postMessage", "internal_error")  # the slow one is then lost
    poster = NoCharts(client_for(slack, timeout=0.2), cfg, pace=0.0, settle=1.0)
    result = make_scheduler(poster, cfg, database).tick(NOW)
    assert len(result.sent) == 1
    assert len(heads(slack)) == 2  # the lost one and the one posted after the check
    history = slack.calls_to("conversations.history")
    assert len(history) == 2 and history[-1].time < heads(slack)[1].time  # looked (twice) before posting again
    headlines = [m for m in slack.messages.values() if not m.get("thread_ts")]
    assert len(headlines) == 1  # one digest in the channel
    [row] = deliveries(engine)
    assert row.status == "sent" and row.message_ts == headlines[0]["ts"]


def test_a_takeover_finds_the_digest_the_crashed_process_had_posted(engine, database, slack, cfg):
    seed(engine)
    sub = subscribe(engine)
    crashed_at = at(2026, 11, 22, 9, 0)
    did = store.claim(engine, subscription_id=sub.id, local_date=NOW.astimezone(sub.zone).date(),
                      channel="C0GENERAL", now=crashed_at, worker="dead", scheduled_at=crashed_at)
    client = client_for(slack)
    client.chat_postMessage(channel="C0GENERAL", text="digest",
                            metadata={"event_type": "csbot_digest", "event_payload": {"run_id": f"digest:{did}"}})
    sched = make_scheduler(NoCharts(client, cfg, pace=0.0), cfg, database)
    assert len(sched.tick(crashed_at + timedelta(minutes=11)).sent) == 1
    assert len(heads(slack)) == 1  # found, not posted again
    with engine.connect() as conn:
        row = conn.execute(select(schema.digest_deliveries)).one()
    assert row.status == "sent" and "before the takeover" in row.reason


def test_an_alert_that_timed_out_but_landed_is_sent_once(engine, database, slack, cfg):
    seed(engine)
    store.set_alert(engine, channel="C0GENERAL", kind="red", now=at(2026, 11, 21, 12))
    slack.delay_next("chat.postMessage", 0.6)
    poster = NoCharts(client_for(slack, timeout=0.2), cfg, pace=0.0, settle=1.5)
    assert len(make_scheduler(poster, cfg, database).tick(NOW).alerts) == 1
    assert len(slack.calls_to("chat.postMessage")) == 1
    with engine.connect() as conn:
        assert [r.status for r in conn.execute(select(schema.alerts_fired))] == ["sent"]


def test_a_timed_out_post_whose_landing_cannot_be_checked_fails_without_a_second_copy(slack, cfg):
    slack.delay_next("chat.postMessage", 0.6)
    slack.fail_next("conversations.history", "missing_scope")  # e.g. channels:history not granted
    poster = SlackPoster(client_for(slack, timeout=0.2), cfg, pace=0.0, settle=0.1)
    with pytest.raises(PostError) as info:
        poster.post_text("C0GENERAL", "digest", run_id="digest:9")
    assert info.value.reason == "timeout_unconfirmed" and "check the channel" in str(info.value)
    assert len(slack.calls_to("chat.postMessage")) == 1
