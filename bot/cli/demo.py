"""``csbot demo``: fill the configured database with the demo company (through the real sync)."""

from __future__ import annotations

import argparse
import logging
import sys

from metrics.settings import Settings

logger = logging.getLogger(__name__)

NAME = "demo"


def add_parser(sub) -> None:
    demo = sub.add_parser("demo", help="fill the database with the demo company (e.g. csbot demo)",
                          description="Fill the database with the demo company.",
                          epilog="example:\n  csbot demo --force   replace what the database holds with the demo company",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--force", action="store_true", help="replace data that is already there")
    demo.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return _demo(settings, force=args.force)


def _demo(settings: Settings, *, force: bool) -> int:
    from metrics.clock import local_today
    from metrics.db import get_meta, is_empty, open_database
    from metrics.demo.load import DemoLoadError, clear_data, load_demo

    db = open_database(settings)
    if not is_empty(db.engine):
        source = get_meta(db.engine, "data_source")
        if not force:
            what = "the demo company already" if source == "demo" else "synced data"
            print(f"csbot demo: {db.url} holds {what}; "
                  "run csbot demo --force to replace it with the demo company", file=sys.stderr)
            return 1
        clear_data(db.engine)
    try:
        summary = load_demo(db.engine, settings, today=local_today(settings.tz))
    except DemoLoadError as exc:
        print(f"csbot demo: {exc}", file=sys.stderr)
        return 1
    print(f"Loaded the demo company into {db.url} ({summary.total_rows:,} rows). "
          "Try: csbot ask \"churn last-month\"")
    return 0
