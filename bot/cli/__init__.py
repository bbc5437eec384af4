"""The ``csbot`` command line (README, "The command line").

csbot / csbot run      Socket Mode with Slack tokens; a local console without
csbot serve --port N   HTTP mode: /slack/events (and /healthz) for replicas behind a load balancer
csbot ask "<text>"     one question through the same pipeline (--json: the Slack payloads)
csbot metric <name>    one metric as JSON (--list --json: every name)
csbot demo [--force]   fill the database with the demo company
csbot sync ...         load the team's data (see csbot sync --help)
csbot digest ...       the daily KPI digest (--dry-run, --channel C, --log)
csbot health ...       health snapshots and the backtest (see csbot health --help)
csbot glossary [term]  the CS glossary

Each subcommand lives in a module of this package with ``add_parser(sub)`` (its
arguments and ``--help`` with an example) and ``run(args, settings)``; a
subcommand with a command line of its own sets ``DELEGATED = True`` and gets
everything after its name in ``args.args``.

Settings come from the environment and from ``.env`` in the working folder only (never
a parent folder's), or from the file ``CSBOT_ENV_FILE`` names. Nothing csbot writes to
stderr (errors, logs) carries a credential: every line passes ``metrics.db.scrub``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence, TextIO

from bot.cli import ask, demo, digest, health, metric, serve, sync
from metrics.db import SecretFilter, remember_url, scrub
from metrics.settings import ConfigError, dotenv_path, load_settings

logger = logging.getLogger("csbot")

SUBCOMMANDS = (serve, ask, metric, demo, sync, health, digest)

EPILOG = """examples:
  csbot                                   console on the demo database (no Slack tokens set)
  csbot ask "churn last-month"            one answer, as text
  csbot ask "先月の解約率は？" --json      the Slack message it would post
  csbot metric customer_churn_rate --period last-month --json
  csbot metric --list --json
  csbot sync --csv ./exports              load your CSV exports
  csbot serve --port 3000                 HTTP mode for Slack (needs SLACK_SIGNING_SECRET)
"""


class CliParser(argparse.ArgumentParser):
    """argparse with a one-line usage error (exit code 2) naming the (sub)command's --help; a
    subcommand refuses the arguments it does not know itself, so the error line names it."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")

    def parse_known_args(self, args=None, namespace=None):
        parsed, extra = super().parse_known_args(args, namespace)
        if extra:
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed, extra


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="csbot", description="csbot: Customer Success numbers in Slack.",
                  epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="log more (to stderr), with tracebacks")
    sub = p.add_subparsers(dest="cmd", metavar="command")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return p


DELEGATED = {m.NAME: m for m in SUBCOMMANDS if getattr(m, "DELEGATED", False)}


class ScrubbedStream:
    """A text stream (stderr) whose every write goes through ``metrics.db.scrub``."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(scrub(text))
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    stderr = sys.stderr
    sys.stderr = ScrubbedStream(stderr)  # type: ignore[assignment]
    try:
        return _main(argv)
    finally:
        sys.stderr = stderr


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    verbose = "-v" in argv[:1] or "--verbose" in argv[:1]
    rest = argv[1:] if verbose else argv
    if rest and rest[0] in DELEGATED:
        args = argparse.Namespace(cmd=rest[0], args=rest[1:], verbose=verbose, run=DELEGATED[rest[0]].run)
    else:
        args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())
    try:
        _load_dotenv()
        settings = load_settings()
    except ConfigError as exc:
        print(f"csbot: configuration error: {scrub(str(exc))}", file=sys.stderr)
        return 2
    remember_url(settings.database_url)
    remember_url(settings.sync_sql_url)
    try:
        run = getattr(args, "run", None) or serve.run_default
        return run(args, settings)
    except ConfigError as exc:
        print(f"csbot: configuration error: {scrub(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # csbot ask ... | head
        sys.stderr.close()
        return 0
    except Exception as exc:  # never a traceback for the user; -v shows it
        from metrics.db import DatabaseUnavailable

        if isinstance(exc, DatabaseUnavailable):
            print(f"csbot: {scrub(str(exc))}", file=sys.stderr)
            return 1
        if args.verbose:
            logger.exception("unexpected error")
        print(f"csbot: unexpected error ({type(exc).__name__}); run with -v for details", file=sys.stderr)
        return 1


def _load_dotenv() -> None:
    """Load ``.env`` of the working folder (or ``CSBOT_ENV_FILE``) without overriding the environment.
    Never a parent folder's ``.env``: a file planted above the working folder must not configure csbot."""
    from dotenv import load_dotenv

    path = dotenv_path()
    if path is not None:
        load_dotenv(path, override=False)
