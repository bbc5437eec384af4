"""The background scheduler: daily digests, alerts, the scheduled sync and the daily health snapshot.

``Scheduler(client, settings, db, clock=None)``: ``start()`` runs a daemon thread
that ticks every ~30 s; ``tick(now=None)`` is one pass (tests call it with a
fake clock); ``stop()`` ends the thread. Any number of csbot processes may run
one against the same database: every digest, alert and job is claimed by
inserting a row first (``metrics/digest.py``), and only the process whose
insert succeeded posts.

Slack calls are retried: ``ratelimited`` waits for ``Retry-After``; transient
errors (network, 5xx, ``internal_error``) get 3 tries with backoff; anything
else (``not_in_channel``, ``channel_not_found`` ...) fails at once. A digest
that finally fails is recorded with the reason and reported to
``CSBOT_ADMIN_CHANNEL``; one channel's failure never stops the others.

``digest_cli(argv, settings)`` is ``csbot digest [--channel C] [--dry-run] [--log]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from slack_sdk.errors import SlackApiError

from bot.blocks import message_payload
from bot.listeners import NETWORK_ERRORS, slack_error
from commands.digest import Target, alert_reply, build_digest, log_lines, parse_channel
from commands.reply import Reply, render_text
from metrics import digest as store
from metrics.db import Database, DatabaseUnavailable, is_empty
from metrics.filters import NO_FILTERS
from metrics.settings import Settings

logger = logging.getLogger(__name__)

TICK_SECONDS = 30.0
TRIES = 3  # transient errors: this many tries in all
MAX_RATE_LIMIT_WAITS = 5
BACKOFF_SECONDS = 1.0  # 1 s, then 2 s
MAX_RETRY_AFTER = 120.0
TRANSIENT_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "timeout"}
SYNC_GRACE = timedelta(hours=1)  # a scheduled sync missed by more than this waits for its next time
HEALTH_SNAPSHOT_TIME = "05:00"  # local time of the daily health snapshot (before the morning digests)
ERROR_HINTS = {
    "not_in_channel": "invite me with /invite @csbot",
    "channel_not_found": "the channel is gone, private without me, or the ID is wrong",
    "is_archived": "the channel is archived",
    "invalid_auth": "check SLACK_BOT_TOKEN",
    "not_authed": "check SLACK_BOT_TOKEN",
    "account_inactive": "the bot token was revoked",
    "ratelimited": "Slack kept rate limiting",
}


class SlackFailure(RuntimeError):
    """A Slack call that failed for good. ``reason`` is the error code, safe to store and show."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _retry_after(exc: SlackApiError) -> float:
    headers = getattr(exc.response, "headers", None) or {}
    for key in ("Retry-After", "retry-after"):
        if key in headers:
            value = headers[key]
            value = value[0] if isinstance(value, list) else value
            try:
                return min(max(float(value), 0.0), MAX_RETRY_AFTER)
            except (TypeError, ValueError):
                break
    return 1.0


def call_slack(fn: Callable[[], Any], *, sleep: Callable[[float], None] = time.sleep, tries: int = TRIES,
               what: str = "slack call") -> Any:
    """Call ``fn`` (one Web API call) with retries. Raises ``SlackFailure`` when it finally fails."""
    transient = 0
    waits = 0
    while True:
        try:
            return fn()
        except SlackApiError as exc:
            error = slack_error(exc)
            status = getattr(exc.response, "status_code", 200) or 200
            if status == 429 or error == "ratelimited":
                waits += 1
                if waits > MAX_RATE_LIMIT_WAITS:
                    raise SlackFailure("ratelimited") from None
                delay = _retry_after(exc)
                logger.warning("%s rate limited; retrying in %.0f s", what, delay)
                sleep(delay)
                continue
            if error in TRANSIENT_ERRORS or status >= 500:
                transient += 1
                if transient >= tries:
                    raise SlackFailure(error) from None
                sleep(BACKOFF_SECONDS * 2 ** (transient - 1))
                continue
            raise SlackFailure(error) from None
        except NETWORK_ERRORS as exc:
            transient += 1
            if transient >= tries:
                raise SlackFailure(f"network error ({type(exc).__name__})") from None
            logger.warning("%s failed (%s); retrying", what, type(exc).__name__)
            sleep(BACKOFF_SECONDS * 2 ** (transient - 1))


def describe_failure(reason: str) -> str:
    hint = ERROR_HINTS.get(reason)
    return f"{reason} ({hint})" if hint else reason


@dataclass
class TickResult:
    """What one tick did (for tests and logs)."""

    sent: list[int] = field(default_factory=list)  # delivery IDs
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)  # alerts_fired IDs posted
    jobs: list[str] = field(default_factory=list)  # run keys run


class Scheduler:
    """Digests, alerts and jobs for one csbot process. See the module docstring."""

    def __init__(self, client, settings: Settings, db: Database, clock: Callable[[], datetime] | None = None, *,
                 sleep: Callable[[float], None] = time.sleep, worker: str | None = None,
                 interval: float = TICK_SECONDS, wake_delay: float = 2.0):
        self.client = client
        self.settings = settings
        self.db = db
        self.clock = clock
        self.sleep = sleep
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.interval = interval
        self.wake_delay = wake_delay  # after an after-sync wake-up: let the sync commit before reading
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._jobs_thread: threading.Thread | None = None
        self._channel_names: dict[str, str | None] = {}
        self._warned: set[str] = set()

    # ------------------------------------------------------------------ lifecycle

    def now(self) -> datetime:
        return self.clock() if self.clock else datetime.now(timezone.utc)

    def start(self) -> "Scheduler":
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        try:
            from metrics.sync import register_after_sync

            register_after_sync(self._after_sync)
        except ImportError:
            logger.info("metrics.sync has no after-sync hook; alerts are checked on each tick only")
        self._thread = threading.Thread(target=self._loop, name="csbot-scheduler", daemon=True)
        self._thread.start()
        logger.info("scheduler started (%s)", self.worker)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        try:
            from metrics.sync import AFTER_SYNC_HOOKS

            if self._after_sync in AFTER_SYNC_HOOKS:
                AFTER_SYNC_HOOKS.remove(self._after_sync)
        except ImportError:
            pass
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _after_sync(self, conn, summary) -> None:
        """After-sync hook (runs inside the sync's transaction): wake the thread to check alerts.
        The thread waits a moment so the sync has committed before it reads."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick(jobs=False)
                self._start_jobs()
            except Exception:  # never let the thread die: log and tick again
                logger.exception("scheduler tick failed")
            woken = self._wake.wait(self.interval)
            self._wake.clear()
            if woken and not self._stop.is_set():
                self._stop.wait(self.wake_delay)  # let the sync that woke us commit first

    def _start_jobs(self) -> None:
        """The sync and the health snapshot run in a thread of their own, so a long sync never delays a digest."""
        if self._jobs_thread is not None and self._jobs_thread.is_alive():
            return
        if not self._jobs_wanted():
            return
        self._jobs_thread = threading.Thread(target=self._run_jobs_safely, name="csbot-jobs", daemon=True)
        self._jobs_thread.start()

    def _run_jobs_safely(self) -> None:
        try:
            self.run_jobs(self.now())
        except Exception:
            logger.exception("scheduler job failed")

    # ------------------------------------------------------------------ one pass

    def tick(self, now: datetime | None = None, *, jobs: bool = True) -> TickResult:
        """One pass: stale claims taken over, due digests posted (or skipped when too late),
        alerts fired, and (``jobs``) the scheduled sync and health snapshot when due."""
        now = now or self.now()
        result = TickResult()
        engine = self.db.engine
        try:
            for t in store.take_over_stale(engine, now, self.worker):
                self._deliver(t.delivery_id, t.subscription, t.local_date, now, result)
            limit = store.max_late()
            for due in store.due_digests(engine, now, late_limit=limit):
                sub = due.subscription
                if due.late > limit:
                    local = due.scheduled_at.astimezone(sub.zone)
                    reason = (f"{due.late.total_seconds() / 3600:.1f} h late (limit {limit.total_seconds() / 3600:g} h, "
                              f"{store.MAX_LATE_ENV}): csbot was not running at {local:%Y-%m-%d %H:%M %Z}")
                    did = store.claim(engine, subscription_id=sub.id, local_date=due.local_date, channel=sub.channel,
                                      now=now, worker=self.worker, scheduled_at=due.scheduled_at, status="skipped",
                                      reason=reason)
                    if did is not None:
                        logger.warning("digest %s for %s skipped: %s", sub.id, due.local_date, reason)
                        result.skipped.append(did)
                    continue
                did = store.claim(engine, subscription_id=sub.id, local_date=due.local_date, channel=sub.channel,
                                  now=now, worker=self.worker, scheduled_at=due.scheduled_at)
                if did is None:
                    continue  # another process claimed this day: it posts, we don't
                self._deliver(did, sub, due.local_date, now, result)
        except (DatabaseUnavailable, OSError) as exc:
            logger.error("digests not checked: %s", exc)
        except Exception as exc:
            if _is_db_error(exc):
                logger.error("digests not checked: database error (%s)", type(exc).__name__)
            else:
                raise
        try:
            self.check_alerts(now, result)
        except Exception as exc:
            if not _is_db_error(exc):
                raise
            logger.error("alerts not checked: database error (%s)", type(exc).__name__)
        if jobs:
            result.jobs.extend(self.run_jobs(now))
        return result

    # ------------------------------------------------------------------ digests

    def _target_channel(self, sub: store.Subscription) -> str:
        if sub.target != "dm":
            return sub.channel
        resp = call_slack(lambda: self.client.conversations_open(users=sub.channel), sleep=self.sleep,
                          what="conversations.open")
        return resp["channel"]["id"]

    def _channel_name(self, channel: str) -> str | None:
        if channel not in self._channel_names:
            try:
                resp = call_slack(lambda: self.client.conversations_info(channel=channel), sleep=self.sleep,
                                  what="conversations.info")
                self._channel_names[channel] = resp["channel"].get("name")
            except SlackFailure as exc:
                logger.warning("conversations.info for %s failed: %s", channel, exc.reason)
                return None
        return self._channel_names[channel]

    def revenue_allowed(self, target: str, channel: str, channel_name: str | None) -> bool:
        """Revenue figures go to DMs and to CSBOT_REVENUE_CHANNELS (by ID or name) only."""
        if target == "dm":
            return True
        if not self.settings.revenue_channels:
            return False
        if store.is_revenue_channel(self.settings, channel, channel_name):
            return True
        if channel_name is None and not channel.startswith("#"):
            return store.is_revenue_channel(self.settings, channel, self._channel_name(channel))
        return False

    def _deliver(self, delivery_id: int, sub: store.Subscription, local_date: date, now: datetime,
                 result: TickResult) -> bool:
        """Post one claimed digest: headline, then the thread and the chart under it. Records the outcome."""
        engine = self.db.engine
        channel = sub.channel
        try:
            channel = self._target_channel(sub)
            revenue = self.revenue_allowed(sub.target, channel, sub.channel_name)
            prev = store.last_sent(engine, sub.id, local_date) if sub.id else None
            digest = build_digest(self.db, self.settings, now=now, filters=sub.filters, lang=sub.lang,
                                  revenue=revenue, since=prev[0] if prev else None,
                                  since_at=prev[1] if prev else None, schedule=sub.schedule)
            head = call_slack(lambda: self.client.chat_postMessage(channel=channel, **message_payload(digest.headline)),
                              sleep=self.sleep, what=f"digest to {channel}")
            ts, posted_in = head["ts"], head.get("channel") or channel
        except SlackFailure as exc:
            return self._failed(delivery_id, sub, local_date, now, channel, describe_failure(exc.reason), result)
        except Exception as exc:  # a bug or the database: record it, never stop the other channels
            logger.exception("digest %s for %s failed", sub.id, local_date)
            return self._failed(delivery_id, sub, local_date, now, channel, f"internal error ({type(exc).__name__})",
                                result)
        notes = []
        try:
            call_slack(lambda: self.client.chat_postMessage(channel=posted_in, thread_ts=ts,
                                                            **message_payload(digest.thread)),
                       sleep=self.sleep, what=f"digest thread in {posted_in}")
        except SlackFailure as exc:
            notes.append(f"thread not posted: {exc.reason}")
        note = self._upload_chart(posted_in, ts, digest.chart, sub.lang)
        if note:
            notes.append(note)
        try:
            store.finish(engine, delivery_id, "sent", now=now, channel=posted_in, message_ts=ts,
                         reason="; ".join(notes) or None)
        except Exception:
            # The row stays "claimed": a later tick takes it over and posts again (the at-most-twice window).
            logger.exception("digest %s posted but not recorded", sub.id)
        result.sent.append(delivery_id)
        logger.info("digest %s for %s sent to %s", sub.id, local_date, posted_in)
        return True

    def _upload_chart(self, channel: str, thread_ts: str, chart, lang: str) -> str | None:
        if chart is None:
            return None
        try:
            from bot.charts import alt_text, render_chart
        except ImportError:
            return None  # charts not installed: the digest goes without one
        try:
            png = render_chart(chart, lang, self.settings.currency)
            alt = alt_text(chart, lang)
        except Exception:
            logger.exception("drawing the digest chart failed")
            return "chart not drawn"
        try:
            call_slack(lambda: self.client.files_upload_v2(channel=channel, thread_ts=thread_ts, file=png,
                                                           filename="csbot-digest.png", title=chart.title,
                                                           alt_txt=alt),
                       sleep=self.sleep, what=f"chart upload to {channel}")
        except SlackFailure as exc:
            return f"chart not uploaded: {exc.reason}"
        except Exception as exc:  # the upload's second step (a plain HTTP PUT) fails differently
            return f"chart not uploaded: {type(exc).__name__}"
        return None

    def _failed(self, delivery_id: int, sub: store.Subscription, local_date: date, now: datetime, channel: str,
                reason: str, result: TickResult) -> bool:
        logger.error("digest %s for %s to %s failed: %s", sub.id, local_date, channel, reason)
        try:
            store.finish(self.db.engine, delivery_id, "failed", now=now, reason=reason)
        except Exception:
            logger.exception("could not record the failed digest %s", sub.id)
        result.failed.append(delivery_id)
        where = sub.where() if sub.id else store.channel_ref(channel)
        self.report_admin(f":warning: The KPI digest {sub.id or ''} to {where} for {local_date.isoformat()} "
                          f"failed: {reason}. See `/cs digest log`.".replace("digest  to", "digest to"))
        return False

    def report_admin(self, text: str) -> None:
        admin = self.settings.admin_channel
        if not admin:
            return
        try:
            call_slack(lambda: self.client.chat_postMessage(channel=admin, text=text), sleep=self.sleep,
                       what="admin report")
        except SlackFailure as exc:
            logger.error("could not report to the admin channel %s: %s", admin, exc.reason)

    def post_now(self, target: Target, *, now: datetime | None = None, lang: str = "en") -> tuple[bool, str]:
        """Post the digest to a channel now (``csbot digest --channel``); logged with no subscription."""
        now = now or self.now()
        sub = store.Subscription(id=0, target=target.kind, channel=target.channel, channel_name=target.name,
                                 local_time="00:00", tz=self.settings.timezone, schedule="daily",
                                 filters=NO_FILTERS, lang=lang, created_by=None, created_at=now)
        today = now.astimezone(self.settings.tz).date()
        did = store.claim(self.db.engine, subscription_id=None, local_date=today, channel=target.channel, now=now,
                          worker=self.worker)
        result = TickResult()
        self._deliver(did, sub, today, now, result)  # type: ignore[arg-type]
        with self.db.engine.connect() as conn:
            row = conn.execute(store.dlv_t.select().where(store.dlv_t.c.id == did)).first()
        return bool(result.sent), (row.reason or "") if row is not None else ""

    # ------------------------------------------------------------------ alerts

    def check_alerts(self, now: datetime | None = None, result: TickResult | None = None) -> list[int]:
        """Fire every configured alert's new events, each once per channel."""
        now = now or self.now()
        engine = self.db.engine
        alerts = store.list_alerts(engine)
        if not alerts:
            return []
        events: dict[str, list[store.AlertEvent]] = {}
        with engine.connect() as conn:
            for kind in sorted({a.kind for a in alerts}):
                events[kind] = store.alert_events(conn, kind, self.settings, now)
        fired: list[int] = []
        tz = self.settings.tz
        for alert in alerts:
            wanted = [e for e in events.get(alert.kind, []) if store.alert_matches(alert, e, tz)]
            if not wanted:
                continue
            revenue = self.revenue_allowed("channel", alert.channel, alert.channel_name)
            failed_here = False
            for event in wanted:
                fid = store.claim_alert(engine, alert, event, now)
                if fid is None:
                    continue  # fired already (here or by another process)
                if failed_here:  # the channel is broken this tick: record, don't hammer Slack
                    store.finish_alert(engine, fid, "failed", "skipped after an earlier failure in this channel")
                    continue
                reply = alert_reply(alert, event, self.settings, revenue=revenue)
                try:
                    call_slack(lambda: self.client.chat_postMessage(channel=alert.channel, **message_payload(reply)),
                               sleep=self.sleep, what=f"alert to {alert.channel}")
                    store.finish_alert(engine, fid, "sent")
                    fired.append(fid)
                except SlackFailure as exc:
                    failed_here = True
                    reason = describe_failure(exc.reason)
                    store.finish_alert(engine, fid, "failed", reason)
                    logger.error("alert %s to %s failed: %s", event.key, alert.channel, reason)
                    self.report_admin(f":warning: A {alert.kind} alert to {store.channel_ref(alert.channel)} "
                                      f"failed: {reason}.")
        if result is not None:
            result.alerts.extend(fired)
        return fired

    # ------------------------------------------------------------------ jobs

    def _jobs_wanted(self) -> bool:
        return bool(self.settings.sync_schedule) or _health_job() is not None

    def run_jobs(self, now: datetime | None = None) -> list[str]:
        """The scheduled sync (CSBOT_SYNC_SCHEDULE) and the daily health snapshot, each claimed once."""
        now = now or self.now()
        ran = []
        for job in (self._sync_job, self._health_snapshot_job):
            try:
                key = job(now)
                if key:
                    ran.append(key)
            except Exception as exc:
                if not _is_db_error(exc):
                    raise
                logger.error("job not run: database error (%s)", type(exc).__name__)
        return ran

    def _sync_job(self, now: datetime) -> str | None:
        schedule = self.settings.sync_schedule
        if not schedule:
            return None
        from croniter import croniter

        if not croniter.is_valid(schedule):
            self._warn_once("cron", f"CSBOT_SYNC_SCHEDULE {schedule!r} is not a cron expression; no scheduled sync")
            return None
        local = now.astimezone(self.settings.tz)
        due = croniter(schedule, local + timedelta(seconds=1)).get_prev(datetime)
        if now - due > SYNC_GRACE:
            return None
        key = f"sync|{due.astimezone(timezone.utc):%Y-%m-%dT%H:%M}"
        try:
            from metrics.sync import scheduled_sync
        except ImportError:
            self._warn_once("sync", "metrics.sync is not available; no scheduled sync")
            return None
        if not store.claim_run(self.db.engine, key, now, self.worker):
            return None
        try:
            summary = scheduled_sync(self.settings)
        except Exception as exc:
            logger.exception("scheduled sync failed")
            store.finish_run(self.db.engine, key, "failed", type(exc).__name__)
            self.report_admin(f":warning: The scheduled sync failed ({type(exc).__name__}). See the bot's log.")
            return key
        status = getattr(summary, "status", None) or "skipped"
        message = getattr(summary, "message", None)
        store.finish_run(self.db.engine, key, "ok" if status == "ok" else "failed" if status == "failed" else status,
                         message)
        if status == "failed":
            self.report_admin(f":warning: The scheduled sync failed: {message or 'see csbot sync --status'}.")
        self.check_alerts(now)  # after each sync
        return key

    def _health_snapshot_job(self, now: datetime) -> str | None:
        job = _health_job()
        if job is None:
            return None
        tz = self.settings.tz
        local = now.astimezone(tz)
        if local.strftime("%H:%M") < HEALTH_SNAPSHOT_TIME:
            return None
        key = f"health|{local.date().isoformat()}"
        if not store.claim_run(self.db.engine, key, now, self.worker):
            return None
        try:
            job(self.db.engine, self.settings)
            store.finish_run(self.db.engine, key, "ok")
        except Exception as exc:
            logger.exception("daily health snapshot failed")
            store.finish_run(self.db.engine, key, "failed", type(exc).__name__)
            self.report_admin(f":warning: The daily health snapshot failed ({type(exc).__name__}). See the bot's log.")
            return key
        self.check_alerts(now)  # an account may have just dropped to red
        return key

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)


def _health_job():
    """metrics.health.daily_snapshot_job when it exists (looked up at call time)."""
    try:
        from metrics.health import daily_snapshot_job
    except ImportError:
        return None
    return daily_snapshot_job


def _is_db_error(exc: BaseException) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, (SQLAlchemyError, DatabaseUnavailable))


# ---------------------------------------------------------------------------- csbot digest

class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and exit code 2, without argparse's usage dump
        raise _CliError(f"csbot digest: {message}. Try: csbot digest --dry-run | --channel C | --log")


class _CliError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="csbot digest", description="The daily KPI digest: print it, post it now, or show the delivery log.")
    p.add_argument("--channel", metavar="C", help="post the digest to this channel now (ID, #name or <#C123|name>)")
    p.add_argument("--dry-run", action="store_true", help="print the digest instead of posting it")
    p.add_argument("--log", action="store_true", help="print the delivery log: sent, failed and skipped digests")
    p.add_argument("--limit", type=int, default=30, help="rows of the log (default 30)")
    return p


def digest_cli(argv: list[str], settings: Settings, *, out=None, err=None, clock=None) -> int:
    """``csbot digest [--channel C] [--dry-run] [--log]``. Returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = _parser().parse_args(argv)
    except _CliError as exc:
        print(str(exc), file=err)
        return 2
    lang = settings.language if settings.language in ("en", "ja") else "en"
    target = None
    if args.channel:
        target = parse_channel(args.channel.strip())
        if target is None:
            if not args.channel.strip() or " " in args.channel.strip():
                print("csbot digest: --channel takes a channel ID (C0123ABC) or #name.", file=err)
                return 2
            target = Target("channel", "#" + args.channel.strip(), args.channel.strip())
    if args.channel and not args.dry_run and not args.log and not settings.slack_bot_token:
        print("csbot digest: posting needs SLACK_BOT_TOKEN (xoxb-...) in .env; use --dry-run to print the digest instead.",
              file=err)
        return 2
    from bot.database import open_for_answers

    try:
        db = open_for_answers(settings)
    except DatabaseUnavailable as exc:
        print(f"csbot digest: {exc}", file=err)
        return 1
    now = clock() if clock else datetime.now(timezone.utc)
    if args.log:
        entries = store.delivery_log(db.engine, limit=max(1, args.limit))
        if not entries:
            print("No digest has been sent yet.", file=out)
            return 0
        for line in log_lines(entries, settings.tz, lang, slack=False):
            print(line, file=out)
        return 0
    if is_empty(db.engine):
        print("csbot digest: there is no data in this database yet; load it with `csbot sync --csv <folder>` "
              "or try `csbot demo`.", file=err)
        return 1
    if target is not None and not args.dry_run:
        from bot.app import make_client

        scheduler = Scheduler(make_client(settings), settings, db)
        ok, reason = scheduler.post_now(target, now=now, lang=lang)
        if ok:
            print(f"Posted the KPI digest to {target.name and '#' + target.name.lstrip('#') or target.channel}."
                  + (f" ({reason})" if reason else ""), file=out)
            return 0
        print(f"csbot digest: could not post to {target.channel}: {reason}", file=err)
        return 1
    revenue = True
    if target is not None:
        revenue = store.is_revenue_channel(settings, target.channel, target.name)
    digest = build_digest(db, settings, now=now, lang=lang, revenue=revenue)
    text = render_text(digest.headline) + "\n\n" + _thread_text(digest.thread)
    if digest.chart is not None:
        text += f"\n\n[chart: {digest.chart.title} · {digest.chart.subtitle}]"
    print(text, file=out)
    return 0


def _thread_text(reply: Reply) -> str:
    return render_text(reply)
