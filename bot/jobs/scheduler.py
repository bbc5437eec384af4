"""The scheduler: one daemon thread per csbot process that ticks every ~30 s and runs what is due.

``Scheduler(poster, settings, db, clock=None)``: ``start()`` runs the thread;
``tick(now=None)`` is one pass (tests call it with a fake clock); ``stop()`` ends
the thread; ``wake()`` makes it tick now (after a sync). Any number of csbot
processes may run one against the same database: every digest, alert and job
is claimed by inserting a row first (``metrics/digest_store.py``), and only the
process whose insert succeeded posts. A claim left by a dead process is taken
over once (``bot/jobs/digests.py``).

The scheduled sync and the health snapshot run in a second thread of their
own, so a long sync never delays a digest. Posts run in one lane (thread) per
channel (``bot/jobs/lanes.py``), paced by the poster: a channel that Slack rate
limits waits alone, and the next tick is never late because of it. One
channel's failure never stops the others; a database that is down is logged
and tried again next tick.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import datetime
from typing import Callable

from bot.jobs import alerts, digests
from bot.jobs.context import JobContext, TickResult, is_db_error
from bot.jobs.lanes import Lanes
from bot.jobs.snapshot_job import Snapshot, run_snapshot_job
from bot.jobs.sync_job import SyncRun, run_sync_job
from bot.poster import Poster
from commands.digest import Target
from metrics.clock import utcnow
from metrics.db import Database, DatabaseUnavailable
from metrics.health import ensure_snapshots
from metrics.settings import Settings
from metrics.sync import scheduled_sync

logger = logging.getLogger(__name__)

TICK_SECONDS = 30.0


class Scheduler:
    """Digests, alerts and jobs for one csbot process. See the module docstring.

    ``sync`` runs the scheduled sync and ``snapshot`` writes a day's health snapshots
    (None: no daily snapshot); tests pass their own."""

    def __init__(self, poster: Poster, settings: Settings, db: Database, clock: Callable[[], datetime] | None = None,
                 *, worker: str | None = None, interval: float = TICK_SECONDS, wake_delay: float = 2.0,
                 sync: SyncRun = scheduled_sync, snapshot: Snapshot | None = ensure_snapshots):
        self.settings = settings
        self.db = db
        self.clock = clock or utcnow
        self.sync = sync
        self.snapshot = snapshot
        self.interval = interval
        self.wake_delay = wake_delay  # after an after-sync wake-up: let the sync commit before reading
        self.lanes = Lanes()
        self.ctx = JobContext(poster=poster, settings=settings, engine=db.engine,
                              worker=worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}",
                              lanes=self.lanes)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._jobs_thread: threading.Thread | None = None

    @property
    def worker(self) -> str:
        return self.ctx.worker

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "Scheduler":
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="csbot-scheduler", daemon=True)
        self._thread.start()
        logger.info("scheduler started (%s)", self.worker)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread, and give the lanes ``timeout`` seconds to finish what they post."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.lanes.wait(timeout)

    def wake(self) -> None:
        """Tick now (after ``wake_delay``), e.g. because a sync brought new data for the alerts:
        whoever ran the sync calls this after it committed."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick(jobs=False, wait=False)  # the lanes post on; the next tick is never late
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
        if not (self.settings.sync_schedule or self.snapshot is not None):
            return
        self._jobs_thread = threading.Thread(target=self._run_jobs_safely, name="csbot-jobs", daemon=True)
        self._jobs_thread.start()

    def _run_jobs_safely(self) -> None:
        try:
            self.run_jobs(self.clock())
        except Exception:
            logger.exception("scheduler job failed")

    # ------------------------------------------------------------------ one pass

    def tick(self, now: datetime | None = None, *, jobs: bool = True, wait: bool = True) -> TickResult:
        """One pass: stale claims taken over, due digests posted (or skipped when too late),
        alerts fired, and (``jobs``) the scheduled sync and health snapshot when due. The posts run
        in one lane per channel; ``wait``: until they are done (the result then lists them)."""
        now = now or self.clock()
        result = TickResult()
        futures = []
        try:
            futures = digests.run_due(self.ctx, self.db, now, result)
        except (DatabaseUnavailable, OSError) as exc:
            logger.error("digests not checked: %s", exc)
        except Exception as exc:
            if not is_db_error(exc):
                raise
            logger.error("digests not checked: database error (%s)", type(exc).__name__)
        try:
            result.alerts.extend(alerts.check_alerts(self.ctx, now, wait=wait))
        except Exception as exc:
            if not is_db_error(exc):
                raise
            logger.error("alerts not checked: database error (%s)", type(exc).__name__)
        if wait:
            for future in futures:
                future.exception()  # deliver() records its own failures; wait for it to finish
        if jobs:
            result.jobs.extend(self.run_jobs(now))
        return result

    def check_alerts(self, now: datetime | None = None) -> list[int]:
        """Fire every configured alert's new events, each once per channel."""
        return alerts.check_alerts(self.ctx, now or self.clock())

    def run_jobs(self, now: datetime | None = None) -> list[str]:
        """The scheduled sync (CSBOT_SYNC_SCHEDULE) and the daily health snapshot, each claimed once."""
        now = now or self.clock()
        steps: list[Callable[[], str | None]] = [lambda: run_sync_job(self.ctx, now, self.sync)]
        if self.snapshot is not None:
            snapshot = self.snapshot
            steps.append(lambda: run_snapshot_job(self.ctx, now, snapshot))
        ran = []
        for step in steps:
            try:
                key = step()
                if key:
                    ran.append(key)
            except Exception as exc:
                if not is_db_error(exc):
                    raise
                logger.error("job not run: database error (%s)", type(exc).__name__)
        return ran

    def post_now(self, target: Target, *, now: datetime | None = None, lang: str = "en") -> tuple[bool, str]:
        """Post the digest to a channel now (``csbot digest --channel``); logged with no subscription."""
        return digests.post_now(self.ctx, self.db, target, now or self.clock(), lang)
