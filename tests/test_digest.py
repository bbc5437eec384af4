"""The daily KPI digest and alerts, end to end against the local Slack double:
exactly once per subscription and local day (restarts, downtime, two processes,
daylight saving), retries and failures, the delivery log, the digest's content
and the alerts. Time is a fake clock; nothing sleeps."""

from __future__ import annotations

import argparse
import threading
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from slack_double import SlackDouble
from slack_sdk import WebClient
from sqlalchemy import insert, select, update

from bot.cli import digest as digest_cli
from bot.jobs.scheduler import Scheduler
from bot.poster import ChannelInfo, PostError
from bot.slack.poster import SlackPoster
from commands.context import Context
from commands.digest import build_digest
from commands.format import slack_ref
from commands.router import dispatch
from metrics import digest_store as store
from metrics import schema
from metrics.db import Database, make_engine

TOKYO = ZoneInfo("Asia/Tokyo")
NY = ZoneInfo("America/New_York")


def at(y, mo, d, h, mi=0, tz=TOKYO) -> datetime:
    """A local wall time as an aware UTC instant."""
    return datetime(y, mo, d, h, mi, tzinfo=tz).astimezone(timezone.utc)


NOW = at(2026, 11, 22, 9, 30)  # a Sunday, 09:30 in Tokyo


class NoCharts(SlackPoster):
    """Drawing a chart takes a while: only the chart test draws and uploads one."""

    def upload_chart(self, channel, chart, *, thread_ts=None, lang="en"):
        return None


def scheduler(client, cfg, database, *, slept=None, charts=False, pace=0.0, **kw):
    """A scheduler posting to the Slack double without sleeping (``slept`` records the waits, on a fake
    clock; ``pace``: seconds between posts to one channel, off unless a test is about pacing). The daily
    health snapshot is left out: the real one rewrites the snapshots these tests seed."""
    fake = FakeTime(slept)
    poster = (SlackPoster if charts else NoCharts)(client, cfg, sleep=fake.sleep, clock=fake.now, pace=pace)
    kw.setdefault("snapshot", None)
    return Scheduler(poster, cfg, database, **kw)


@pytest.fixture
def slack():
    with SlackDouble() as double:
        double.channels["C0ADMIN"] = {"id": "C0ADMIN", "name": "csbot-admin", "is_member": True, "is_im": False}
        yield double


@pytest.fixture
def client(slack):
    return WebClient(token=slack.bot_token, base_url=slack.api_url)


@pytest.fixture
def cfg(settings):
    return replace(settings, revenue_channels=("cs-revenue",), admin_channel="C0ADMIN")


def seed(engine):
    """Four accounts with hand-countable changes taking effect on Nov 22, 2026:
    Globex churns (50,000), Initech contracts 40,000 -> 25,000, NewCo starts at 10,000,
    Acme stays at 30,000. Initech drops from yellow to red; Initech gives NPS 3."""
    with engine.begin() as conn:
        conn.execute(schema.accounts.insert(), [
            {"account_id": "A", "name": "Acme Corp", "segment": "smb", "owner": "alice@example.com",
             "renewal_date": date(2026, 12, 1)},
            {"account_id": "B", "name": "Globex", "segment": "enterprise", "owner": "U0BOB",
             "renewal_date": date(2027, 3, 1)},
            {"account_id": "C", "name": "Initech", "segment": "enterprise", "owner": "U0BOB", "renewal_date": None},
            {"account_id": "D", "name": "NewCo", "segment": "smb", "owner": "alice@example.com", "renewal_date": None},
        ])
        jan1, nov22 = date(2026, 1, 1), date(2026, 11, 22)
        conn.execute(schema.subscriptions.insert(), [
            {"subscription_id": "a1", "account_id": "A", "product": "core", "start_date": jan1, "end_date": None,
             "mrr": 30_000},
            {"subscription_id": "b1", "account_id": "B", "product": "core", "start_date": jan1, "end_date": nov22,
             "mrr": 50_000},
            {"subscription_id": "c1", "account_id": "C", "product": "core", "start_date": jan1, "end_date": nov22,
             "mrr": 40_000},
            {"subscription_id": "c2", "account_id": "C", "product": "core", "start_date": nov22, "end_date": None,
             "mrr": 25_000},
            {"subscription_id": "d1", "account_id": "D", "product": "core", "start_date": nov22, "end_date": None,
             "mrr": 10_000},
        ])
        conn.execute(schema.nps_responses.insert(), [
            {"response_id": "n1", "account_id": "A", "score": 9, "responded_at": datetime(2026, 11, 21, 10, 0),
             "comment": None},
            {"response_id": "n2", "account_id": "C", "score": 3, "responded_at": datetime(2026, 11, 21, 15, 0),
             "comment": "Too slow since the update"},
            {"response_id": "n3", "account_id": "A", "score": 5, "responded_at": datetime(2026, 11, 20, 12, 0),
             "comment": None},
        ])
        conn.execute(schema.health_snapshots.insert(), [
            {"account_id": "A", "day": date(2026, 11, 21), "score": 80, "band": "green"},
            {"account_id": "C", "day": date(2026, 11, 21), "score": 60, "band": "yellow"},
            {"account_id": "A", "day": date(2026, 11, 22), "score": 82, "band": "green"},
            {"account_id": "C", "day": date(2026, 11, 22), "score": 40, "band": "red"},
        ])


def subscribe(engine, channel="C0GENERAL", local_time="09:00", tz="Asia/Tokyo", schedule="daily",
              created=at(2026, 11, 21, 12), **kw):
    return store.create_subscription(engine, target=kw.pop("target", "channel"), channel=channel,
                                     local_time=local_time, tz=tz, schedule=schedule, now=created, **kw)


def heads(slack, channel=None):
    """Digest headline posts (not thread replies, not admin reports)."""
    return [c for c in slack.calls_to("chat.postMessage")
            if not c.params.get("thread_ts") and c.params.get("channel") != "C0ADMIN"
            and (channel is None or c.params.get("channel") == channel)]


def admin_reports(slack):
    return [c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == "C0ADMIN"]


def no_sleep(record=None):
    return (lambda s: record.append(s)) if record is not None else (lambda s: None)


class FakeTime:
    """A clock that moves only when something sleeps; the sleeps are recorded in ``slept``."""

    def __init__(self, slept=None):
        self.slept = slept if slept is not None else []
        self.t = 1000.0
        self.lock = threading.Lock()

    def now(self) -> float:
        with self.lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.slept.append(round(seconds, 6))
            self.t += seconds


def deliveries(engine):
    with engine.connect() as conn:
        return conn.execute(select(schema.digest_deliveries).order_by(schema.digest_deliveries.c.id)).all()


def second_engine(engine):
    return make_engine(engine.url.render_as_string(hide_password=False))


# ---------------------------------------------------------------------------- exactly once per day

def test_digest_is_posted_once_at_its_time_and_not_again_after_a_restart(engine, database, client, slack, cfg):
    subscribe(engine)
    first = scheduler(client, cfg, database)
    assert first.tick(at(2026, 11, 22, 8, 59)).sent == []
    assert heads(slack) == []
    assert len(first.tick(at(2026, 11, 22, 9, 0)).sent) == 1
    assert first.tick(at(2026, 11, 22, 9, 1)).sent == []

    # A restart: a new process, a new engine, the same database.
    other = second_engine(engine)
    try:
        again = scheduler(client, cfg, Database(other, "x", False))
        assert again.tick(at(2026, 11, 22, 9, 5)).sent == []
        assert again.tick(at(2026, 11, 22, 23, 59)).sent == []
        assert len(again.tick(at(2026, 11, 23, 9, 0)).sent) == 1  # the next day
    finally:
        other.dispose()
    posts = heads(slack, "C0GENERAL")
    assert len(posts) == 2
    rows = deliveries(engine)
    assert [(r.local_date, r.status) for r in rows] == [(date(2026, 11, 22), "sent"), (date(2026, 11, 23), "sent")]
    # Each headline has its thread (what changed) under it.
    threads = [c for c in slack.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert sorted(c.params["thread_ts"] for c in threads) == sorted(r.message_ts for r in rows)


def test_digest_late_by_less_than_the_limit_is_posted_once_on_start(engine, database, client, slack, cfg):
    subscribe(engine)
    sched = scheduler(client, cfg, database)
    result = sched.tick(at(2026, 11, 22, 11, 50))  # down from 08:00 to 11:50: 2 h 50 min late
    assert len(result.sent) == 1 and result.skipped == []
    assert sched.tick(at(2026, 11, 22, 11, 51)).sent == []
    assert len(heads(slack)) == 1


def test_digest_late_by_more_than_the_limit_is_skipped_and_logged(engine, database, client, slack, cfg, caplog):
    subscribe(engine)
    sched = scheduler(client, cfg, database)
    result = sched.tick(at(2026, 11, 22, 12, 30))  # 3.5 h late, limit 3 h
    assert result.sent == [] and len(result.skipped) == 1
    assert heads(slack) == []
    [row] = deliveries(engine)
    assert row.status == "skipped" and "3.5 h late" in row.reason
    assert "skipped" in caplog.text
    assert sched.tick(at(2026, 11, 22, 12, 31)).skipped == []  # recorded once


def test_max_late_hours_comes_from_the_settings(engine, database, client, slack, cfg):
    subscribe(engine)
    settings = replace(cfg, digest_max_late_hours=5)
    result = scheduler(client, settings, database).tick(at(2026, 11, 22, 12, 30))
    assert len(result.sent) == 1


def test_a_digest_just_before_midnight_survives_a_short_outage_past_midnight(engine, database, client, slack, cfg):
    subscribe(engine, local_time="23:30")
    sched = scheduler(client, cfg, database)
    result = sched.tick(at(2026, 11, 23, 0, 20))  # down 23:00-00:20: 50 min late, but a new local day
    assert len(result.sent) == 1
    [row] = deliveries(engine)
    assert row.local_date == date(2026, 11, 22)


def test_subscription_created_after_todays_time_starts_tomorrow(engine, database, client, slack, cfg):
    subscribe(engine, created=at(2026, 11, 22, 10, 0))
    sched = scheduler(client, cfg, database)
    assert sched.tick(at(2026, 11, 22, 10, 1)).sent == []
    assert sched.tick(at(2026, 11, 22, 23, 0)).sent == []
    assert len(sched.tick(at(2026, 11, 23, 9, 0)).sent) == 1


def test_weekdays_and_weekly_schedules_post_on_their_days_only(engine, database, client, slack, cfg):
    weekdays = subscribe(engine, schedule="weekdays")
    weekly = subscribe(engine, channel="C0REVENUE", schedule="weekly")
    sched = scheduler(client, cfg, database)
    for day in range(21, 29):  # Sat Nov 21 .. Sat Nov 28
        sched.tick(at(2026, 11, day, 9, 1))
    rows = deliveries(engine)
    assert [r.local_date.day for r in rows if r.subscription_id == weekdays.id] == [23, 24, 25, 26, 27]
    assert [r.local_date.day for r in rows if r.subscription_id == weekly.id] == [23]  # Monday


def test_two_processes_on_one_database_post_each_digest_once(engine, database, client, slack, cfg):
    subs = [subscribe(engine, channel=ch) for ch in ("C0GENERAL", "C0REVENUE", "D0DM")]
    subs.append(subscribe(engine, channel="C0GENERAL", local_time="09:10"))
    engines = [second_engine(engine), second_engine(engine)]
    try:
        workers = [scheduler(client, cfg, Database(e, "x", False), worker=f"w{i}")
                   for i, e in enumerate(engines)]
        errors: list[BaseException] = []
        for minute in (0, 5, 10, 15):
            barrier = threading.Barrier(2)

            def run(w, minute=minute):
                try:
                    barrier.wait(5)
                    w.tick(at(2026, 11, 22, 9, minute))
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=run, args=(w,)) for w in workers]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        assert errors == []
    finally:
        for e in engines:
            e.dispose()
    rows = deliveries(engine)
    assert sorted(r.subscription_id for r in rows) == sorted(s.id for s in subs)
    assert all(r.status == "sent" for r in rows)
    digest_heads = [c for c in heads(slack) if c.params.get("channel") in ("C0GENERAL", "C0REVENUE", "D0DM")]
    assert len(digest_heads) == 4


@pytest.mark.parametrize("days, label", [
    ((date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)), "spring forward"),
    ((date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)), "fall back"),
])
def test_daylight_saving_neither_skips_nor_doubles_a_digest(engine, database, client, slack, cfg, days, label):
    created = at(days[0].year, days[0].month, days[0].day - 1, 12, tz=NY)
    early = subscribe(engine, local_time="01:30", tz="America/New_York", created=created)
    late = subscribe(engine, channel="C0REVENUE", local_time="02:30", tz="America/New_York", created=created)
    sched = scheduler(client, cfg, database)
    start = datetime(days[0].year, days[0].month, days[0].day, tzinfo=NY).astimezone(timezone.utc)
    t = start
    while t < start + timedelta(days=3):
        sched.tick(t)
        slack.advance(60)  # the double's clock follows the simulated one (per-channel post pace)
        # Every 10 minutes of real (UTC) time through the small hours, where the clock jumps; 3-hourly after.
        t += timedelta(minutes=10) if t.astimezone(NY).hour < 5 else timedelta(hours=3)
    rows = deliveries(engine)
    for sub in (early, late):
        mine = [r for r in rows if r.subscription_id == sub.id]
        assert [r.local_date for r in mine] == list(days), label
        assert all(r.status == "sent" for r in mine)
    assert len(heads(slack)) == 6
    # Where the clock jumps, 02:30 fires at 03:30 EDT (07:30 UTC); where it repeats, 01:30 fires at the first one.
    sent_at = {(r.subscription_id, r.local_date): r.scheduled_at for r in rows}
    if label == "spring forward":
        assert sent_at[(late.id, date(2026, 3, 8))] == datetime(2026, 3, 8, 7, 30)
    else:
        assert sent_at[(early.id, date(2026, 11, 1))] == datetime(2026, 11, 1, 5, 30)


# ---------------------------------------------------------------------------- any poster

class RecordingPoster:
    """A Poster that is not Slack: the jobs need nothing more than this."""

    def __init__(self, names=None, broken=()):
        self.names, self.broken = names or {}, set(broken)
        self.posts: list[tuple[str, object, str | None]] = []
        self.charts: list[tuple[str, str | None]] = []

    def post(self, channel, reply, *, thread_ts=None, run_id=None):
        if channel in self.broken:
            raise PostError("not_in_channel", permanent=True)
        self.posts.append((channel, reply, thread_ts))
        return "1.000" if thread_ts is None else "2.000"

    def post_text(self, channel, text, *, thread_ts=None, run_id=None):
        return self.post(channel, text, thread_ts=thread_ts)

    def upload_chart(self, channel, chart, *, thread_ts=None, lang="en"):
        self.charts.append((channel, thread_ts))

    def open_dm(self, user):
        return "D" + user

    def channel_info(self, channel):
        return ChannelInfo(channel, name=self.names.get(channel))


def test_jobs_post_through_any_poster(engine, database, cfg):
    seed(engine)
    subscribe(engine, channel="C0REVENUE")  # no name stored: the poster is asked for it
    subscribe(engine, channel="C0BROKEN")
    poster = RecordingPoster(names={"C0REVENUE": "cs-revenue"}, broken={"C0BROKEN"})
    result = Scheduler(poster, cfg, database, snapshot=None).tick(NOW)
    assert len(result.sent) == 1 and len(result.failed) == 1
    (channel, head, _), (_, thread, thread_ts) = [p for p in poster.posts if p[0] == "C0REVENUE"]
    [(admin, report, _)] = [p for p in poster.posts if p[0] != "C0REVENUE"]  # the channels post in parallel
    assert channel == "C0REVENUE" and "MRR" in [f.label for f in head.figures]  # a revenue channel by name
    assert thread_ts == "1.000" and poster.charts == [("C0REVENUE", "1.000")]
    assert admin == "C0ADMIN" and "C0BROKEN" in report and "not_in_channel" in report
    status = {r.channel: (r.status, r.reason) for r in deliveries(engine)}
    assert status["C0BROKEN"] == ("failed", "not_in_channel")


# ---------------------------------------------------------------------------- Slack errors

def test_rate_limited_post_waits_for_retry_after_then_posts(engine, database, client, slack, cfg):
    subscribe(engine)
    slack.rate_limit_next("chat.postMessage", retry_after=7)
    slept: list[float] = []
    result = scheduler(client, cfg, database, slept=slept).tick(NOW)
    assert len(result.sent) == 1
    assert slept == [7.0]
    assert len(heads(slack)) == 2  # the 429 and the retry


def test_transient_errors_are_retried_with_backoff(engine, database, client, slack, cfg):
    subscribe(engine)
    slack.fail_next("chat.postMessage", "internal_error", times=2)
    slept: list[float] = []
    result = scheduler(client, cfg, database, slept=slept).tick(NOW)
    assert len(result.sent) == 1
    assert slept == [1.0, 2.0]


def test_a_digest_that_finally_fails_is_recorded_and_reported_to_the_admin_channel(engine, database, client, slack,
                                                                                   cfg):
    subscribe(engine)
    slack.fail_next("chat.postMessage", "internal_error", times=3)
    result = scheduler(client, cfg, database).tick(NOW)
    assert result.sent == [] and len(result.failed) == 1
    [row] = deliveries(engine)
    assert row.status == "failed" and row.reason == "internal_error"
    [report] = admin_reports(slack)
    assert "internal_error" in report.params["text"] and "C0GENERAL" in report.params["text"]


def test_one_channels_failure_never_stops_another(engine, database, client, slack, cfg):
    not_in = subscribe(engine, channel="C0NOTMEMBER")
    gone = subscribe(engine, channel="C0DELETED")
    ok = subscribe(engine, channel="C0GENERAL")
    slept: list[float] = []
    result = scheduler(client, cfg, database, slept=slept).tick(NOW)
    assert len(result.sent) == 1 and len(result.failed) == 2
    status = {r.subscription_id: (r.status, r.reason) for r in deliveries(engine)}
    assert status[ok.id] == ("sent", None)
    assert status[not_in.id][0] == "failed" and status[not_in.id][1].startswith("not_in_channel")
    assert status[gone.id][0] == "failed" and status[gone.id][1].startswith("channel_not_found")
    assert slept == []  # permanent errors are not retried
    assert len(admin_reports(slack)) == 2


def test_a_claim_left_by_a_crashed_process_is_taken_over_once(engine, database, client, slack, cfg):
    sub = subscribe(engine)
    crashed_at = at(2026, 11, 22, 9, 0)
    store.claim(engine, subscription_id=sub.id, local_date=date(2026, 11, 22), channel="C0GENERAL", now=crashed_at,
                worker="dead-process", scheduled_at=crashed_at)
    sched = scheduler(client, cfg, database)
    assert sched.tick(at(2026, 11, 22, 9, 5)).sent == []  # 5 minutes: maybe still posting
    assert len(sched.tick(at(2026, 11, 22, 9, 11)).sent) == 1  # 11 minutes: taken over
    assert sched.tick(at(2026, 11, 22, 9, 30)).sent == []
    [row] = deliveries(engine)
    assert (row.status, row.attempts, row.claimed_by) == ("sent", 2, sched.worker)
    assert len(heads(slack)) == 1


def test_a_claim_still_unfinished_after_its_takeover_is_failed_not_posted_a_third_time(engine, database, client,
                                                                                       slack, cfg):
    sub = subscribe(engine)
    did = store.claim(engine, subscription_id=sub.id, local_date=date(2026, 11, 22), channel="C0GENERAL",
                      now=at(2026, 11, 22, 9, 0), worker="dead")
    with engine.begin() as conn:
        conn.execute(update(schema.digest_deliveries).where(schema.digest_deliveries.c.id == did).values(attempts=2))
    scheduler(client, cfg, database).tick(at(2026, 11, 22, 9, 30))
    [row] = deliveries(engine)
    assert row.status == "failed" and "takeover" in row.reason
    assert heads(slack) == []


def test_the_slack_poster_gives_up_on_rate_limits_after_a_bounded_number_of_waits(slack, client, cfg):
    slack.rate_limit_next("chat.postMessage", retry_after=1, times=10)
    slept: list[float] = []
    fake = FakeTime(slept)
    with pytest.raises(PostError) as info:
        SlackPoster(client, cfg, sleep=fake.sleep, clock=fake.now).post_text("C0GENERAL", "x")
    assert info.value.reason == "ratelimited"
    assert slept == [1.0] * 5


# ---------------------------------------------------------------------------- the log and the CLI

def cli_args(*argv: str) -> argparse.Namespace:
    """``csbot digest ARGV`` parsed by the real command line."""
    from bot.cli import build_parser

    return build_parser().parse_args(["digest", *argv])


def test_delivery_log_shows_sent_failed_and_skipped_with_reasons(engine, database, client, slack, cfg, capsys):
    subscribe(engine, channel="C0GENERAL")
    subscribe(engine, channel="C0NOTMEMBER")
    subscribe(engine, channel="C0REVENUE", local_time="05:00")  # 4.5 h late at 09:30
    scheduler(client, cfg, database).tick(NOW)

    ctx = Context.create(database, cfg, now=NOW, user_id="U0ALICE", channel_id="C0GENERAL", surface="slash")
    reply = dispatch("digest log", ctx)
    assert sorted(reply.data["statuses"]) == ["failed", "sent", "skipped"]
    text = "\n".join(reply.lines)
    assert slack_ref("channel", "C0GENERAL") in text and "not_in_channel" in text and "4.5 h late" in text
    assert "Sun Nov 22 09:30 JST" in text

    capsys.readouterr()
    assert digest_cli.run(cli_args("--log"), replace(cfg, database_url=str(engine.url.render_as_string(False)))) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert any("sent" in line and "C0GENERAL" in line for line in lines)
    assert any("failed" in line and "not_in_channel" in line for line in lines)
    assert any("skipped" in line and "4.5 h late" in line for line in lines)


def test_cli_dry_run_prints_the_digest_without_posting(engine, database, slack, cfg, capsys):
    seed(engine)
    url = engine.url.render_as_string(hide_password=False)
    code = digest_cli.run(cli_args("--dry-run"), replace(cfg, database_url=url), now=NOW)
    out, err = capsys.readouterr()
    assert code == 0, err
    text = out
    assert "KPI digest · Sun Nov 22" in text and "MRR: ¥65,000" in text
    assert "Globex (¥50,000)" in text
    assert "[chart:" not in text  # the chart is saved as a PNG, as the console does, and its path printed
    saved = [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Chart: ")]
    assert len(saved) == 1 and saved[0].endswith(".png")
    assert Path(saved[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert slack.calls == []


def test_cli_channel_without_a_token_is_a_one_line_error(engine, cfg, capsys):
    code = digest_cli.run(cli_args("--channel", "C0GENERAL"), replace(cfg, slack_bot_token=None))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "SLACK_BOT_TOKEN" in err


def test_cli_channel_posts_now_and_logs_it(engine, slack, cfg, capsys):
    seed(engine)
    url = engine.url.render_as_string(hide_password=False)
    settings = replace(cfg, database_url=url, slack_bot_token=slack.bot_token, slack_api_url=slack.api_url)
    assert digest_cli.run(cli_args("--channel", "<#C0REVENUE|cs-revenue>"), settings, now=NOW) == 0, \
        capsys.readouterr().err
    assert "Posted the KPI digest to #cs-revenue." in capsys.readouterr().out
    [head] = heads(slack)
    assert head.params["channel"] == "C0REVENUE" and "MRR" in head.params["text"]
    [row] = deliveries(engine)
    assert row.subscription_id is None and row.status == "sent"


# ---------------------------------------------------------------------------- content

def test_digest_headline_and_thread_carry_hand_counted_changes(engine, database, cfg):
    seed(engine)
    d = build_digest(database, cfg, now=NOW, lang="en", revenue=True)
    figs = {f.label: f for f in d.headline.figures}
    assert figs["MRR"].value == "¥65,000"  # 30,000 + 25,000 + 10,000
    assert figs["MRR"].change == "-¥55,000"  # a month before: 30,000 + 50,000 + 40,000
    assert figs["Customer churn (month to date)"].value == "33.3%"  # Globex, 1 of 3
    assert figs["NRR (Oct)"].value == "100.0%"
    assert figs["NPS (last 30 days)"].value == "-33"  # 1 promoter, 2 detractors of 3
    assert figs["Accounts in red"].value == "1"
    lines = "\n".join(d.thread.lines)
    assert "*Churned* 1 (¥50,000): Globex (¥50,000)" in lines
    assert "*New* 1 (¥10,000): NewCo (¥10,000)" in lines
    assert "*Contracted* 1 (¥15,000): Initech (¥15,000)" in lines
    assert "Expanded" not in lines
    assert "*Moved to red* 1: Initech (40)" in lines
    assert "*Renewals in the next 30 days* 1: Acme Corp (Dec 1)" in lines
    assert "Initech 3/10 “Too slow since the update”" in lines
    assert "n3" not in d.thread.data["detractors"]  # older than the last digest
    assert d.chart is not None and d.chart.kind == "waterfall"
    assert d.headline.data["stale"] is False


def test_digest_outside_revenue_channels_leaves_revenue_out_and_says_so(engine, database, cfg):
    seed(engine)
    d = build_digest(database, cfg, now=NOW, lang="en", revenue=False)
    labels = [f.label for f in d.headline.figures]
    assert "MRR" not in labels and not any(label.startswith("NRR") for label in labels)
    assert any("Revenue figures" in line for line in d.headline.lines)
    text = "\n".join(d.thread.lines)
    assert "¥" not in text and "*Churned* 1: Globex" in text
    assert d.chart.kind == "bars"


def test_stale_sync_is_flagged_at_the_top(engine, database, cfg):
    seed(engine)
    with engine.begin() as conn:
        conn.execute(insert(schema.sync_log).values(source="csv", started_at=datetime(2026, 11, 20, 0, 0),
                                                    finished_at=datetime(2026, 11, 20, 0, 5), status="ok"))
    d = build_digest(database, cfg, now=NOW)
    assert d.stale and d.headline.lines[0].startswith(":warning: *Stale data*")
    fresh = build_digest(database, replace(cfg, stale_sync_hours=72), now=NOW)
    assert not fresh.stale and not any("Stale" in line for line in fresh.headline.lines)


def test_digest_in_a_subscriptions_language(engine, database, cfg):
    seed(engine)
    d = build_digest(database, cfg, now=NOW, lang="ja")
    assert d.headline.title == "KPIダイジェスト（11月22日）"
    assert any(line.startswith("*解約* 1") for line in d.thread.lines)


def test_posted_digest_respects_the_revenue_channels(engine, database, client, slack, cfg):
    seed(engine)
    subscribe(engine, channel="C0GENERAL")
    subscribe(engine, channel="C0REVENUE")
    scheduler(client, cfg, database).tick(NOW)
    general, = heads(slack, "C0GENERAL")
    revenue, = heads(slack, "C0REVENUE")
    assert "¥65,000" not in str(general.params) and "left out" in str(general.params)
    assert "¥65,000" in str(revenue.params)


def test_personal_digest_goes_to_the_callers_dm_with_their_book(engine, database, client, slack, cfg):
    seed(engine)
    ctx = Context.create(database, cfg, now=at(2026, 11, 21, 12), user_id="U0BOB", user_email="bob@example.com",
                         channel_id="C0GENERAL", surface="slash")
    reply = dispatch("digest subscribe me 08:30", ctx)
    assert reply.kind == "info", reply.title
    scheduler(client, cfg, database).tick(NOW)
    assert slack.calls_to("conversations.open")[0].params["users"] == "U0BOB"
    [head] = heads(slack)
    dm = head.params["channel"]
    assert slack.channels[dm]["is_im"] and slack.channels[dm]["user"] == "U0BOB"
    thread = [c for c in slack.calls_to("chat.postMessage") if c.params.get("thread_ts")][0]
    body = str(thread.params)
    # Bob owns Globex and Initech: his book only, with amounts (a DM may carry revenue).
    assert "Globex (¥50,000)" in body and "Initech" in body and "NewCo" not in body


def test_chart_is_uploaded_in_the_thread(engine, database, client, slack, cfg):
    seed(engine)
    subscribe(engine, channel="C0REVENUE")
    scheduler(client, cfg, database, charts=True).tick(NOW)
    [row] = deliveries(engine)
    assert row.status == "sent" and row.reason is None
    [done] = slack.wait_for("files.completeUploadExternal")
    assert done.params.get("thread_ts") == row.message_ts


# ---------------------------------------------------------------------------- alerts

def _alerts(engine, cfg):
    created = at(2026, 11, 21, 12)
    store.set_alert(engine, channel="C0GENERAL", kind="red", now=created)
    store.set_alert(engine, channel="C0GENERAL", kind="churn", threshold=40_000, now=created)
    store.set_alert(engine, channel="C0GENERAL", kind="contraction", threshold=20_000, now=created)
    store.set_alert(engine, channel="C0REVENUE", channel_name="cs-revenue", kind="churn", now=created)
    store.set_alert(engine, channel="C0REVENUE", kind="detractor", now=created)


def test_alerts_fire_once_per_event_and_channel(engine, database, client, slack, cfg):
    seed(engine)
    _alerts(engine, cfg)
    sched = scheduler(client, cfg, database)
    first = sched.tick(NOW)
    texts = {c.params["channel"]: [] for c in slack.calls_to("chat.postMessage")}
    for c in slack.calls_to("chat.postMessage"):
        texts[c.params["channel"]].append(c.params["text"])
    general = "\n".join(texts["C0GENERAL"])
    revenue = "\n".join(texts["C0REVENUE"])
    assert "Initech dropped to red (40)" in general
    assert "Globex churned" in general and "¥50,000" not in general  # not a revenue channel
    assert "contracted" not in general  # 15,000 is under the 20,000 threshold
    assert "Globex churned, losing ¥50,000 of MRR" in revenue
    assert "New detractor at Initech: NPS 3/10 “Too slow since the update”" in revenue
    assert "Acme" not in general + revenue  # Acme's 5 came before the alert was set
    assert len(first.alerts) == 4
    # Every later check, in this process or another, fires nothing new.
    assert sched.tick(NOW + timedelta(minutes=1)).alerts == []
    other = second_engine(engine)
    try:
        assert scheduler(client, cfg, Database(other, "x", False)).check_alerts(NOW) == []
    finally:
        other.dispose()
    assert len(slack.calls_to("chat.postMessage")) == 4


def test_alert_racing_processes_post_once(engine, database, client, slack, cfg):
    seed(engine)
    store.set_alert(engine, channel="C0GENERAL", kind="red", now=at(2026, 11, 21, 12))
    engines = [second_engine(engine), second_engine(engine)]
    try:
        workers = [scheduler(client, cfg, Database(e, "x", False)) for e in engines]
        barrier = threading.Barrier(2)
        fired: list[list[int]] = []

        def run(w):
            barrier.wait(5)
            fired.append(w.check_alerts(NOW))

        threads = [threading.Thread(target=run, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        for e in engines:
            e.dispose()
    assert sorted(len(f) for f in fired) == [0, 1]
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_alert_to_a_broken_channel_is_recorded_and_reported(engine, database, client, slack, cfg):
    seed(engine)
    store.set_alert(engine, channel="C0NOTMEMBER", kind="detractor", now=at(2026, 11, 21, 12))
    store.set_alert(engine, channel="C0GENERAL", kind="red", now=at(2026, 11, 21, 12))
    scheduler(client, cfg, database).tick(NOW)
    with engine.connect() as conn:
        rows = {r.channel: (r.status, r.reason) for r in conn.execute(select(schema.alerts_fired))}
    assert rows["C0NOTMEMBER"][0] == "failed" and rows["C0NOTMEMBER"][1].startswith("not_in_channel")
    assert rows["C0GENERAL"] == ("sent", None)
    assert len(admin_reports(slack)) == 1


def test_health_and_sync_jobs_run_once_a_day_across_processes(engine, database, client, slack, cfg):
    runs: list[str] = []

    def snapshot(eng, day, settings):
        runs.append(f"health {day}")
        return 0

    a = scheduler(client, cfg, database, snapshot=snapshot)
    b = scheduler(client, cfg, database, snapshot=snapshot)
    assert a.run_jobs(at(2026, 11, 22, 4, 59)) == []  # before 05:00
    assert a.run_jobs(at(2026, 11, 22, 5, 0)) == ["health|2026-11-22"]
    assert b.run_jobs(at(2026, 11, 22, 5, 1)) == []
    assert b.run_jobs(at(2026, 11, 23, 6, 0)) == ["health|2026-11-23"]
    assert runs == ["health 2026-11-22", "health 2026-11-23"]


def test_scheduled_sync_runs_once_per_scheduled_time_across_processes(engine, database, client, slack, cfg):
    runs: list[str] = []

    class Summary:
        status, message = "ok", None

    def sync(settings):
        runs.append("sync")
        return Summary()

    settings = replace(cfg, sync_schedule="0 6 * * *")
    a = scheduler(client, settings, database, sync=sync)
    b = scheduler(client, settings, database, sync=sync)
    assert a.run_jobs(at(2026, 11, 22, 5, 59)) == []
    assert a.run_jobs(at(2026, 11, 22, 6, 0)) == ["sync|2026-11-21T21:00"]
    assert b.run_jobs(at(2026, 11, 22, 6, 20)) == []
    assert b.run_jobs(at(2026, 11, 23, 8, 0)) == []  # missed by 2 h: wait for the next 06:00
    assert b.run_jobs(at(2026, 11, 24, 6, 1)) == ["sync|2026-11-23T21:00"]
    assert runs == ["sync", "sync"]


def test_started_scheduler_posts_in_its_thread_and_checks_alerts_when_woken_after_a_sync(engine, database, client, slack,
                                                                                         cfg):
    subscribe(engine)
    sched = scheduler(client, cfg, database, clock=lambda: NOW, interval=60, wake_delay=0.01)
    sched.start()
    try:
        slack.wait_for("chat.postMessage", count=2)  # headline and thread, at once on start
        seed(engine)
        store.set_alert(engine, channel="C0REVENUE", kind="red", now=at(2026, 11, 21, 12))
        sched.wake()  # what the caller of a sync does once the new data is committed
        calls = slack.wait_for("chat.postMessage", count=3)
        assert any("Initech dropped to red" in c.params.get("text", "") for c in calls)
    finally:
        sched.stop()
    assert len(heads(slack, "C0GENERAL")) == 1
