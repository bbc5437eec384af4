"""The sync the bot's scheduler runs: its source from ``Settings``, its time from cron.

``scheduled_sync(settings)`` runs one sync from ``sync_csv_dir`` (or
``sync_sql_url`` + ``sync_mapping``) with the after-sync steps of
``metrics.derived``, so a scheduled sync keeps derived state up to date like
``csbot sync`` does. ``next_run_after`` reads ``CSBOT_SYNC_SCHEDULE``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Sequence

from metrics.clock import local_today, utcnow
from metrics.db import DatabaseUnavailable, init_schema, make_engine
from metrics.derived import after_sync_steps
from metrics.settings import Settings
from metrics.sync.errors import SourceError
from metrics.sync.run import AfterSync, SyncSummary, run_sync
from metrics.sync.sources import source_from_settings

logger = logging.getLogger(__name__)


def next_run_after(schedule: str, after: datetime) -> datetime:
    """The next time the cron expression ``schedule`` fires after ``after`` (same tz as ``after``)."""
    # imported here, not at the top: importing croniter runs `file` on the interpreter
    from croniter import croniter

    if not croniter.is_valid(schedule):
        raise ValueError(f"CSBOT_SYNC_SCHEDULE: {schedule!r} is not a cron expression (e.g. '0 6 * * *' for 06:00 daily)")
    return croniter(schedule, after).get_next(datetime)


def scheduled_sync(settings: Settings, *, now: datetime | None = None, after: Sequence[AfterSync] = ()) -> SyncSummary | None:
    """One sync for the bot's scheduler, with the derived-state steps for the day of ``now``
    (default the wall clock) and then the caller's own ``after`` steps. None when no source is
    configured or another sync is running (never two at once, across processes)."""
    try:
        source = source_from_settings(settings)
    except SourceError as exc:
        logger.error("scheduled sync not run: %s", exc)
        return None
    if source is None:
        logger.warning("CSBOT_SYNC_SCHEDULE is set but no source: set CSBOT_SYNC_CSV_DIR or CSBOT_SYNC_SQL_URL")
        return None
    try:
        engine = make_engine(settings.effective_database_url)
        init_schema(engine)
    except DatabaseUnavailable as exc:
        logger.error("scheduled sync not run: %s", exc)
        return SyncSummary(None, "failed", message=str(exc), source=source.describe())
    today = local_today(settings.tz, now or utcnow())
    try:
        summary = run_sync(engine, source, settings=settings, full_refresh=settings.sync_full_refresh,
                           after=(*after_sync_steps(settings, today), *after), now=now)
    finally:
        engine.dispose()
    if summary.status == "busy":
        logger.info("scheduled sync skipped: %s", summary.message)
        return None
    log = logger.warning if summary.status == "failed" else logger.info
    log("scheduled sync %s: %s rows in, %s changed, %s rejected%s", summary.status, summary.rows_in,
        summary.rows_changed, summary.rejected, f" ({summary.message})" if summary.message else "")
    return summary
