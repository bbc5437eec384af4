"""``metrics.sync``: copy the team's data into csbot's database (docs/data-contract.md).

The package, one room per concern:
- ``run``: ``run_sync`` (one transaction: log row, tables, rejected rows, after-sync steps), the loaders
- ``state``: ``RunState``, what the loaders of one run share (rejected rows, known accounts, progress)
- ``tables``: what each contract file must hold (table specs, load order, row rules)
- ``values``: reading one raw value (text, choice, date, timestamp, number)
- ``sources``: ``CsvSource``, ``SqlSource`` (+ its TOML mapping), the source from ``Settings``
- ``events`` / ``eventparse``: events rolled up into ``usage_daily``, by reader processes for big files
- ``lock``: at most one sync at a time, across processes
- ``status``: ``sync_status`` (last runs, freshness, rejected rows)
- ``schedule``: ``scheduled_sync`` for the bot's scheduler, ``next_run_after`` (cron)
- ``errors``: ``SourceError``, ``SyncFailed`` and their one line

Nothing here speaks to a person: ``bot/cli/sync.py`` prints, ``commands/sync.py`` answers
``/cs sync``. The after-sync steps are passed by the caller (``metrics.derived``).
"""

from metrics.sync.errors import SourceError, SyncFailed
from metrics.sync.lock import LockInfo
from metrics.sync.run import AfterSync, SyncSummary, TableCounts, run_sync
from metrics.sync.schedule import next_run_after, scheduled_sync
from metrics.sync.sources import (
    CsvSource,
    SqlSource,
    TableQuery,
    load_mapping,
    source_from_settings,
)
from metrics.sync.state import Progress
from metrics.sync.status import RejectedRow, SyncRun, SyncStatus, sync_status

__all__ = [
    "AfterSync",
    "CsvSource",
    "LockInfo",
    "Progress",
    "RejectedRow",
    "SourceError",
    "SqlSource",
    "SyncFailed",
    "SyncRun",
    "SyncStatus",
    "SyncSummary",
    "TableCounts",
    "TableQuery",
    "load_mapping",
    "next_run_after",
    "run_sync",
    "scheduled_sync",
    "source_from_settings",
    "sync_status",
]
