"""``csbot demo``: fill the configured database with the demo company."""

from __future__ import annotations

import argparse
import sys

from metrics.settings import Settings

NAME = "demo"


def add_parser(sub) -> None:
    demo = sub.add_parser("demo", help="fill the database with the demo company (e.g. csbot demo)")
    demo.add_argument("--force", action="store_true", help="replace data that is already there")
    demo.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return _demo(settings, force=args.force)


def _demo(settings: Settings, *, force: bool) -> int:
    from metrics.db import get_meta, init_schema, is_empty, make_engine, safe_url
    from metrics.demo import clear_data, load_demo

    engine = make_engine(settings.effective_database_url)
    init_schema(engine)
    if not is_empty(engine):
        source = get_meta(engine, "data_source")
        if not force:
            what = "the demo company already" if source == "demo" else "synced data"
            print(f"csbot demo: {safe_url(settings.effective_database_url)} holds {what}; "
                  "run csbot demo --force to replace it with the demo company", file=sys.stderr)
            return 1
        clear_data(engine)
    summary = load_demo(engine, tz=settings.tz)
    print(f"Loaded the demo company into {safe_url(settings.effective_database_url)} ({sum(summary.counts.values()):,} rows). "
          "Try: csbot ask \"churn last-month\"")
    return 0
