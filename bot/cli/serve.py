"""``csbot run`` and ``csbot serve``: Slack (Socket Mode or HTTP), or the local console."""

from __future__ import annotations

import argparse

from metrics.settings import Settings

NAME = "run"


def add_parser(sub) -> None:
    run = sub.add_parser("run", help="Socket Mode with Slack tokens; a local console without them (e.g. csbot run)",
                         epilog="example:\n  csbot run      Socket Mode when SLACK_BOT_TOKEN and SLACK_APP_TOKEN are set",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.set_defaults(run=run_default)
    serve = sub.add_parser("serve", help="HTTP mode for Slack on /slack/events (e.g. csbot serve --port 3000)",
                           epilog="examples:\n"
                                  "  csbot serve --port 3000                  needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET\n"
                                  "  csbot serve --port 3000 --no-scheduler   a replica that answers but posts no digests",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    serve.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    serve.add_argument("--threads", type=_positive, default=16, help="request threads (verify and ack; default 16)")
    serve.add_argument("--answer-workers", type=_positive, default=8,
                       help="threads computing answers, apart from the acks (default 8)")
    serve.add_argument("--read-timeout", type=_positive, default=10,
                       help="seconds before an idle or half-sent request is dropped (default 10)")
    serve.add_argument("--no-scheduler", dest="scheduler", action="store_false",
                       help="do not post digests and alerts from this process (run the scheduler on one replica)")
    serve.set_defaults(run=run_serve)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be 1 or more")
    return number


def run_default(args: argparse.Namespace, settings: Settings) -> int:
    """``csbot`` and ``csbot run``: Socket Mode when Slack tokens are set, else the console."""
    if settings.slack_bot_token or settings.slack_app_token:
        from bot.slack.server import run_socket_mode

        return run_socket_mode(settings)
    from bot.console import run_console

    return run_console(settings)


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.slack.server import ServeOptions, serve_http

    options = ServeOptions(threads=args.threads, answer_workers=args.answer_workers, read_timeout=args.read_timeout,
                           scheduler=args.scheduler)
    return serve_http(settings, host=args.host, port=args.port, options=options)
