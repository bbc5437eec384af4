"""``csbot sync``: load the team's data, show the progress, the per-table summary and ``--status``.

Exit codes: 0 done, 1 the run failed (or another sync is running), 2 a usage error.
The sync itself (``metrics.sync``) prints nothing; this module is its words.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

from metrics.settings import Settings

if TYPE_CHECKING:
    from metrics.sync import SyncStatus, SyncSummary

NAME = "sync"

EPILOG = """examples:
  csbot sync --csv ./exports              load accounts.csv, subscriptions.csv, events.csv ... from a folder
  csbot sync --csv ./exports --dry-run    check and count everything, save nothing
  csbot sync --csv ./exports --full-refresh
                                          also delete what the export no longer holds (refused, changing
                                          nothing, beyond CSBOT_SYNC_MAX_DELETE_SHARE of a table: add --force)
  csbot sync --sql postgresql://warehouse/prod --mapping mapping.toml
  csbot sync --status                     the last runs, how fresh the data is, the rejected rows

Without --csv/--sql, the source comes from CSBOT_SYNC_CSV_DIR or CSBOT_SYNC_SQL_URL + CSBOT_SYNC_MAPPING.

exit status: 0 loaded; 3 loaded, but a file was refused whole (fix it and sync again);
1 failed, nothing changed; 2 a usage error.
"""
REFUSED_FILE = 3  # the run loaded, but at least one file was refused whole: a script must notice


def add_parser(sub) -> None:
    p = sub.add_parser("sync", help="load your data (e.g. csbot sync --csv ./exports); see csbot sync --help",
                       description="Copy your data into csbot's database (see the data contract).",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--csv", metavar="DIR", help="folder with accounts.csv, subscriptions.csv, events.csv ... (.csv, .csv.gz or .xlsx)")
    src.add_argument("--sql", metavar="URL", help="SQLAlchemy URL of the source database (needs --mapping)")
    src.add_argument("--status", action="store_true", help="show the last runs, freshness and rejected rows")
    p.add_argument("--mapping", metavar="FILE.toml", help="one query per table for --sql")
    p.add_argument("--full-refresh", action="store_true", help="delete rows that are missing from this export")
    p.add_argument("--force", action="store_true",
                   help="with --full-refresh: delete even more than CSBOT_SYNC_MAX_DELETE_SHARE of a table")
    p.add_argument("--dry-run", action="store_true", help="check and count everything, save nothing")
    p.set_defaults(run=run)


class TtyProgress:
    """Rows and rows/s on one carriage-return-updated line of a terminal."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.last = 0.0
        self.table: str | None = None

    def __call__(self, table: str, rows: int, seconds: float) -> None:
        now = time.monotonic()
        if table == self.table and now - self.last < 0.2:
            return
        self.last, self.table = now, table
        rate = rows / seconds if seconds > 0 else 0.0
        self.stream.write(f"\r  {table:<13} {rows:>12,} rows  {rate:>10,.0f} rows/s ")
        self.stream.flush()

    def done(self) -> None:
        if self.table is not None:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def format_summary(summary: SyncSummary) -> str:
    """The per-table counts of one run (with a full refresh, what it deleted and what went with it)."""
    full = summary.full_refresh
    head = f"{'table':<14}{'read':>11}{'inserted':>11}{'updated':>10}{'unchanged':>11}{'rejected':>10}"
    lines = [head + (f"{'deleted':>9}" if full else "")]
    notes = []
    for t in summary.tables:
        if t.refused:
            lines.append(f"{t.table:<14}  refused: {t.refused}")
            continue
        lines.append(f"{t.table:<14}{t.read:>11,}{t.inserted:>11,}{t.updated:>10,}{t.unchanged:>11,}{t.rejected:>10,}"
                     + (f"{t.deleted:>9,}" if full else ""))
        if t.deleted:
            what = " usage rows" if t.table == "events" else ""
            went = f"; with them {_and([f'{n:,} {name}' for name, n in t.cascaded])} rows" if t.cascaded else ""
            lines.append(f"{'':<14}  {t.deleted:,}{what} deleted (not in this full export){went}")
        if t.dropped:
            lines.append(f"{'':<14}  {t.dropped:,} unreadable optional value(s) left empty, their rows kept")
        if t.unknown_columns:
            names = _and(list(t.unknown_columns))
            are = "column {} is" if len(t.unknown_columns) == 1 else "columns {} are"
            kept = "kept as a custom attribute" if t.kept_unknown else "ignored"
            notes.append(f"{t.file}: {are.format(names)} not in the contract; {kept}")
    events = summary.table("events")
    if events is not None and not events.refused:
        lines.append("(events: inserted = newly counted into usage_daily, unchanged = already synced before)")
        if events.late:
            lines.append(f"{events.late:,} events timed before what earlier syncs covered were not counted "
                         "(re-sent ones were counted then; late ones are not: see docs/data-contract.md, events)")
    done = "dry run, nothing saved" if summary.status == "dry-run" else f"sync #{summary.sync_id}"
    lines.append(f"{summary.rows_in:,} rows read in {summary.seconds:.1f} s ({done})")
    if summary.rejected:
        lines.append(f"{summary.rejected:,} rows rejected: see `csbot sync --status` for file, line and reason")
    return "\n".join(lines + notes)


def format_status(status: SyncStatus, tz: ZoneInfo, now: datetime) -> str:
    """The last runs, the data's age at ``now`` and the rejected rows."""
    lines = []
    if status.last_success is None:
        lines.append("No successful sync yet.")
    else:
        hours = status.hours_since_success(now)
        local = status.last_success.astimezone(tz)
        lines.append(f"Last successful sync: {local:%Y-%m-%d %H:%M} {local.tzname()} ({hours:.1f} h ago)")
    if status.running is not None:
        r = status.running
        lines.append(f"A sync is running now (pid {r.pid} on {r.host}, since {r.acquired_at.astimezone(tz):%H:%M}).")
    if status.runs:
        lines.append("")
        lines.append(f"{'#':>5}  {'started':<17} {'status':<8}{'rows in':>10}{'changed':>10}{'rejected':>10}  source")
        for run in status.runs:
            started = run.started_at.astimezone(tz)
            lines.append(
                f"{run.sync_id:>5}  {started:%Y-%m-%d %H:%M} {run.status:<8}{run.rows_in:>10,}{run.rows_changed:>10,}"
                f"{run.rows_rejected:>10,}  {run.source}"
            )
            if run.status == "failed" and run.message:
                lines.append(f"{'':>7}{run.message}")
    if status.rejected_total:
        lines.append("")
        lines.append(f"Rejected rows of the last successful sync ({status.rejected_total:,}):")
        for r in status.rejected:
            where = f"{r.file or r.table}" + (f":{r.line}" if r.line is not None else "")
            col = f" [{r.column}]" if r.column else ""
            lines.append(f"  {where}{col}: {r.reason}")
        if status.rejected_total > len(status.rejected):
            lines.append(f"  ... and {status.rejected_total - len(status.rejected):,} more (table rejected_rows)")
    return "\n".join(lines)


def _usage_problem(args: argparse.Namespace) -> str | None:
    if args.status and (args.full_refresh or args.dry_run or args.mapping or args.force):
        return "--status takes no other option"
    if args.force and not args.full_refresh:
        return "--force goes with --full-refresh"
    if args.mapping and not args.sql:
        return "--mapping goes with --sql URL"
    if args.sql and not args.mapping:
        return "--sql needs --mapping FILE.toml (one query per table)"
    return None


def run(args: argparse.Namespace, settings: Settings) -> int:
    """0 ok, 1 the run failed (or another sync is running), 2 usage error."""
    from sqlalchemy.exc import SQLAlchemyError

    from metrics.clock import local_today, utcnow
    from metrics.db import DatabaseUnavailable, init_schema, make_engine, safe_url
    from metrics.derived import after_sync_steps
    from metrics.sync import (
        CsvSource,
        SourceError,
        SqlSource,
        run_sync,
        source_from_settings,
        sync_status,
    )
    from metrics.sync.errors import first_line

    out, err = sys.stdout, sys.stderr
    problem = _usage_problem(args)
    if problem:
        print(f"csbot sync: {problem}", file=err)
        return 2
    now = utcnow()
    try:
        engine = make_engine(settings.effective_database_url)
        init_schema(engine)
    except DatabaseUnavailable as exc:
        print(f"csbot sync: {exc}", file=err)
        return 1
    try:
        if args.status:
            try:
                print(format_status(sync_status(engine, settings, now=now), settings.tz, now), file=out)
            except SQLAlchemyError as exc:
                print(f"csbot sync: cannot read the sync log: {first_line(exc)}", file=err)
                return 1
            return 0
        try:
            if args.csv:
                source: CsvSource | SqlSource | None = CsvSource(Path(args.csv).expanduser())
            elif args.sql:
                source = SqlSource.from_mapping(args.sql, args.mapping)
            else:
                source = source_from_settings(settings)
        except SourceError as exc:
            print(f"csbot sync: {exc}", file=err)
            return 1
        if source is None:
            print("csbot sync: give --csv DIR or --sql URL --mapping FILE.toml (or set CSBOT_SYNC_CSV_DIR)", file=err)
            return 2
        progress = TtyProgress(err) if err.isatty() else None
        print(f"Syncing {source.describe()} into {safe_url(settings.effective_database_url)}", file=err)
        summary = run_sync(engine, source, settings=settings, full_refresh=args.full_refresh, force=args.force,
                           progress=progress, dry_run=args.dry_run,
                           after=after_sync_steps(settings, local_today(settings.tz, now)), now=now)
        if progress is not None:
            progress.done()
        if summary.status in ("failed", "busy"):
            print(f"csbot sync: {summary.message}", file=err)
            return 1
        print(format_summary(summary), file=out)
        if summary.message:
            print(f"warning: {summary.message}", file=err)
        return REFUSED_FILE if any(t.refused for t in summary.tables) else 0
    finally:
        engine.dispose()
