"""The scheduled sync: at each time of ``CSBOT_SYNC_SCHEDULE`` (a cron expression in the workspace
time zone), one process runs ``metrics.sync.scheduled_sync``, records the run, tells the admin
channel when it failed, and checks the alerts on the fresh data. What it records and posts is
scrubbed of credentials (``metrics.db.scrub``): a failure message may quote a database URL."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from croniter import croniter

from bot.jobs.alerts import check_alerts
from bot.jobs.context import JobContext
from commands.digest import admin_sync_crashed, admin_sync_failed
from metrics import digest_store as store
from metrics.db import scrub
from metrics.settings import Settings

logger = logging.getLogger(__name__)

SYNC_GRACE = timedelta(hours=1)  # a scheduled sync missed by more than this waits for its next time

SyncRun = Callable[[Settings], Any]  # metrics.sync.scheduled_sync: a summary with .status/.message, or None


def run_sync_job(ctx: JobContext, now: datetime, sync: SyncRun) -> str | None:
    """The sync due at ``now`` when this process wins its claim. Returns the run key when it ran."""
    schedule = ctx.settings.sync_schedule
    if not schedule:
        return None
    if not croniter.is_valid(schedule):
        ctx.warn_once("cron", f"CSBOT_SYNC_SCHEDULE {schedule!r} is not a cron expression; no scheduled sync")
        return None
    local = now.astimezone(ctx.settings.tz)
    due = croniter(schedule, local + timedelta(seconds=1)).get_prev(datetime)
    if now - due > SYNC_GRACE:
        return None
    key = f"sync|{due.astimezone(timezone.utc):%Y-%m-%dT%H:%M}"
    if not store.claim_run(ctx.engine, key, now, ctx.worker):
        return None
    try:
        summary = sync(ctx.settings)
    except Exception as exc:
        logger.exception("scheduled sync failed")
        store.finish_run(ctx.engine, key, "failed", type(exc).__name__)
        ctx.report_admin(admin_sync_crashed(type(exc).__name__))
        return key
    status = getattr(summary, "status", None) or "skipped"
    message = getattr(summary, "message", None)
    message = scrub(message, ctx.settings.database_url, ctx.settings.sync_sql_url) if message else message
    store.finish_run(ctx.engine, key, status, message)
    if status == "failed":
        ctx.report_admin(admin_sync_failed(message))
    check_alerts(ctx, now)  # after each sync
    return key
