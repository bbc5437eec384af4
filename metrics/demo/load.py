"""Loading the demo company: its contract files go through the real sync, then the after-sync steps.

``load_demo(engine, settings, today=...)`` writes the demo's CSV files to a
temporary folder, loads them with ``metrics.sync.run_sync`` (so the demo checks
the data contract and the sync on every load: a rejected demo row is a bug),
writes the health snapshots of ``today`` and records ``data_source = demo``.
``clear_data`` empties what a sync or the demo filled (``csbot demo --force``).
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, func, select

from metrics import schema
from metrics.db import set_meta
from metrics.demo.emit import write_files
from metrics.demo.rows import DEFAULT_SEED, build_rows
from metrics.derived import after_sync_steps
from metrics.settings import Settings
from metrics.sync import CsvSource, run_sync
from metrics.sync.events import forget_events

logger = logging.getLogger(__name__)

DEMO_SOURCE = "demo"  # the sync log's source and the data_source meta value


class DemoLoadError(RuntimeError):
    """The demo company could not be loaded. ``str(err)`` is one line."""


@dataclass(frozen=True)
class DemoFiles(CsvSource):
    """The demo's contract files: a CSV folder that the sync log names "demo"."""

    def describe(self) -> str:
        return DEMO_SOURCE


@dataclass(frozen=True)
class DemoSummary:
    """What ``load_demo`` left in the database."""

    accounts: int
    subscriptions: int
    usage_daily: int
    nps_responses: int
    csat_responses: int
    onboarding: int
    tickets: int
    first_day: date  # the first day with data (first subscription start)
    last_day: date  # the last day with data (yesterday)
    seconds: float

    @property
    def counts(self) -> dict[str, int]:
        return {
            "accounts": self.accounts,
            "subscriptions": self.subscriptions,
            "usage_daily": self.usage_daily,
            "nps_responses": self.nps_responses,
            "csat_responses": self.csat_responses,
            "onboarding": self.onboarding,
            "tickets": self.tickets,
        }

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in schema.DATA_TABLES}


def load_demo(engine: Engine, settings: Settings, *, today: date, seed: int = DEFAULT_SEED) -> DemoSummary:
    """Fill the empty data tables with the demo company of ``(today, seed)`` through the sync, then
    write ``today``'s health snapshots. Raises ``ValueError`` when any data table already holds rows
    (use ``clear_data`` first) and ``DemoLoadError`` when the sync fails or rejects a demo row."""
    started = time.perf_counter()
    if any(_counts(engine).values()):
        raise ValueError("the database already holds data; run `csbot demo --force` to replace it with the demo company")
    rows = build_rows(today, seed)
    built = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="csbot-demo-") as folder:
        write_files(rows, Path(folder))
        written = time.perf_counter()
        summary = run_sync(engine, DemoFiles(Path(folder)), settings=settings,
                           after=(*after_sync_steps(settings, today), _mark_demo))
    synced = time.perf_counter()
    if summary.status != "ok":
        raise DemoLoadError(f"the demo company did not load: {summary.message}")
    if summary.rejected or summary.message:
        raise DemoLoadError(f"the sync rejected {summary.rejected} demo rows ({summary.message or 'see csbot sync --status'});"
                            " the demo must follow the data contract")
    counts = _counts(engine)
    seconds = time.perf_counter() - started
    logger.info("demo company loaded: %s rows in %.1f s (built %.1f s, files %.1f s, sync %.1f s, snapshots %.1f s)",
                sum(counts.values()), seconds, built - started, written - built, synced - written,
                time.perf_counter() - synced)
    subscriptions = rows.file("subscriptions")
    start = subscriptions.columns.index("start_date")
    first_day = min(r[start] for r in subscriptions.rows)
    return DemoSummary(first_day=first_day, last_day=today - timedelta(days=1), seconds=round(seconds, 3), **counts)


def _mark_demo(conn: Connection, summary: object) -> None:
    """The demo's own after-sync step, in the sync's transaction: the data source is the demo."""
    set_meta(conn, "data_source", DEMO_SOURCE)


def clear_data(engine: Engine) -> None:
    """Delete every row of the data tables, the sync log, rejected rows, health snapshots, the
    data-source key, and what the sync remembers about events (seen ids, the watermark): with
    the usage gone, a later sync must count those events again."""
    children = [t for t in schema.DATA_TABLES if t is not schema.accounts]
    with engine.begin() as conn:
        for table in children:
            conn.execute(delete(table))
        conn.execute(delete(schema.accounts))
        for table in (schema.sync_log, schema.rejected_rows, schema.health_snapshots):
            conn.execute(delete(table))
        forget_events(conn)
        conn.execute(delete(schema.meta).where(schema.meta.c.key == "data_source"))
