"""``csbot sync``: load the team's data (its command line is the sync's own)."""

from __future__ import annotations

import argparse

from metrics.settings import Settings

NAME = "sync"
DELEGATED = True  # everything after "sync" is this subcommand's own command line


def add_parser(sub) -> None:
    p = sub.add_parser("sync", help="load your data (e.g. csbot sync --csv ./exports); see csbot sync --help", add_help=False)
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from metrics.sync import cli

    return cli(args.args, settings)
