"""``csbot health``: health snapshots and the model's backtest."""

from __future__ import annotations

import argparse

from metrics.settings import Settings

NAME = "health"
DELEGATED = True  # everything after "health" is this subcommand's own command line


def add_parser(sub) -> None:
    p = sub.add_parser("health", help="health snapshots and the model's backtest (e.g. csbot health --backtest 6)", add_help=False)
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from metrics.health import cli

    return cli(args.args, settings)
