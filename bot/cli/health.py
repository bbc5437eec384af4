"""``csbot health``: write the daily health snapshots, or backtest the model against real churn."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from metrics.settings import Settings

NAME = "health"

EPILOG = """examples:
  csbot health --backtest 6
  csbot health --snapshot
  csbot health --snapshot --day 2026-11-22
The model is metrics/health_model.toml, or the file named by CSBOT_HEALTH_MODEL."""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "health", help="health snapshots and the model's backtest (e.g. csbot health --backtest 6)",
        description="Health score: backtest the model against real churn, or write the daily snapshots.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backtest", type=int, metavar="MONTHS", nargs="?", const=6,
                   help="score accounts 60 days before each of the last MONTHS months and compare with churn")
    p.add_argument("--lead-days", type=int, default=60, metavar="DAYS",
                   help="with --backtest: score this many days before each month starts (default 60)")
    p.add_argument("--snapshot", action="store_true", help="write today's health snapshots (every paying account)")
    p.add_argument("--day", metavar="YYYY-MM-DD", help="with --snapshot: the day to write instead of today")
    p.add_argument("--json", action="store_true", help="print the backtest as JSON")
    p.set_defaults(run=run, usage=p.format_usage())


def _fail(message: str) -> int:
    print(f"csbot health: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.database import open_for_answers
    from commands.health import backtest_report
    from metrics import health as hm
    from metrics.clock import local_today
    from metrics.db import DatabaseUnavailable, is_empty

    if args.backtest is None and not args.snapshot:
        print(args.usage, end="", file=sys.stderr)
        return _fail("choose --backtest N or --snapshot")
    if not 0 <= args.lead_days <= 365:
        return _fail("--lead-days takes a number of days from 0 to 365, e.g. --lead-days 60")
    if args.backtest is not None and not 1 <= args.backtest <= 36:
        return _fail("--backtest takes a number of months from 1 to 36, e.g. --backtest 6")
    try:
        model = hm.model_for(settings)
    except hm.HealthModelError as exc:
        return _fail(str(exc))
    today = local_today(settings.tz)
    try:
        db = open_for_answers(settings)
        if is_empty(db.engine):
            print("csbot health: this database holds no data yet; load it with csbot sync --csv <folder> (or csbot demo)",
                  file=sys.stderr)
            return 1
        if args.snapshot:
            day = today
            if args.day:
                try:
                    day = date.fromisoformat(args.day)
                except ValueError:
                    return _fail(f"--day expects a date like 2026-11-22, got {args.day!r}")
            with db.engine.begin() as conn:
                written = hm.write_snapshots(conn, day, settings, model=model)
            print(f"Health snapshots for {day.isoformat()}: {written:,} paying accounts.")
        if args.backtest is not None:
            result = hm.backtest(db.engine, args.backtest, settings, today=today, model=model,
                                 lead_days=args.lead_days)
            if args.json:
                print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
            else:
                print("\n".join(backtest_report(result, "en")))
    except DatabaseUnavailable as exc:
        print(f"csbot health: {exc}", file=sys.stderr)
        return 1
    return 0
