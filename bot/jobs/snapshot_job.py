"""The daily health snapshot: from ``SNAPSHOT_TIME`` (local) on, one process a day writes the
day's health snapshots unless they exist (``metrics.health.ensure_snapshots``), then checks the
alerts (an account may have just dropped to red)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Callable

from sqlalchemy import Engine

from bot.jobs.alerts import check_alerts
from bot.jobs.context import JobContext
from commands.digest import admin_snapshot_failed
from metrics import digest_store as store
from metrics.settings import Settings

logger = logging.getLogger(__name__)

SNAPSHOT_TIME = "05:00"  # local time of the daily health snapshot (before the morning digests)

Snapshot = Callable[[Engine, date, Settings], int]  # metrics.health.ensure_snapshots


def run_snapshot_job(ctx: JobContext, now: datetime, snapshot: Snapshot) -> str | None:
    """Today's snapshot when it is time and this process wins the day's claim. Returns the run key when it ran."""
    local = now.astimezone(ctx.settings.tz)
    if local.strftime("%H:%M") < SNAPSHOT_TIME:
        return None
    key = f"health|{local.date().isoformat()}"
    if not store.claim_run(ctx.engine, key, now, ctx.worker):
        return None
    try:
        snapshot(ctx.engine, local.date(), ctx.settings)
        store.finish_run(ctx.engine, key, "ok")
    except Exception as exc:
        logger.exception("daily health snapshot failed")
        store.finish_run(ctx.engine, key, "failed", type(exc).__name__)
        ctx.report_admin(admin_snapshot_failed(type(exc).__name__))
        return key
    check_alerts(ctx, now)
    return key
