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
                           epilog="example:\n  csbot serve --port 3000   needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    serve.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    serve.set_defaults(run=run_serve)


def run_default(args: argparse.Namespace, settings: Settings) -> int:
    """``csbot`` and ``csbot run``: Socket Mode when Slack tokens are set, else the console."""
    if settings.slack_bot_token or settings.slack_app_token:
        from bot.slack.server import run_socket_mode

        return run_socket_mode(settings)
    from bot.console import run_console

    return run_console(settings)


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.slack.server import serve_http

    return serve_http(settings, host=args.host, port=args.port)
