"""``csbot digest``: the daily KPI digest from the command line."""

from __future__ import annotations

import argparse

from metrics.settings import Settings

NAME = "digest"
DELEGATED = True  # everything after "digest" is this subcommand's own command line


def add_parser(sub) -> None:
    p = sub.add_parser("digest", help="the daily KPI digest: --dry-run, --channel C, --log (see csbot digest --help)", add_help=False)
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.scheduler import digest_cli

    return digest_cli(args.args, settings)
