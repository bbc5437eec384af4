"""Entry points that talk to Slack: Socket Mode (``csbot run``) and HTTP (``csbot serve``)."""

from __future__ import annotations

import logging
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.database import open_for_answers
from bot.slack.app import create_app
from metrics.settings import ConfigError, Settings

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


def run_socket_mode(settings: Settings) -> int:
    if not settings.slack_bot_token:
        raise ConfigError("SLACK_BOT_TOKEN", "missing; Socket Mode needs the bot token (xoxb-...) and SLACK_APP_TOKEN")
    if not settings.slack_app_token:
        raise ConfigError("SLACK_APP_TOKEN", "missing; Socket Mode needs an app-level token (xapp-...) "
                          "with connections:write, or run csbot serve with SLACK_SIGNING_SECRET")
    db = open_for_answers(settings)
    check_startup(settings)
    app = create_app(settings, db, socket_mode=True)
    scheduler = start_scheduler(app, settings, db)
    handler = SocketModeHandler(app, settings.slack_app_token)
    if settings.slack_api_url:
        handler.client.api_url = settings.slack_api_url
    print("csbot is connected in Socket Mode. Ctrl-C to stop.", file=sys.stderr)
    try:
        handler.start()
    finally:
        scheduler.stop()
    return 0


def check_startup(settings: Settings) -> None:
    """Refuse to start on a broken configuration file, with one line (HealthModelError)."""
    from metrics.health import HealthModelError, model_for

    try:
        model_for(settings)
    except HealthModelError as exc:
        raise ConfigError("CSBOT_HEALTH_MODEL", str(exc)) from None


def start_scheduler(app, settings: Settings, db):
    """Digests, alerts, scheduled syncs and the daily health snapshot, in a daemon thread.
    Every replica may run one: each job is claimed in the database first."""
    from bot.jobs.scheduler import Scheduler
    from bot.slack.poster import SlackPoster

    scheduler = Scheduler(SlackPoster(app.client, settings), settings, db)
    scheduler.start()
    return scheduler


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        logger.info("%s %s", self.address_string(), format % args)


def wsgi_app(settings: Settings):
    """A WSGI app: POST /slack/events to Bolt, GET /healthz for load balancers."""
    db = open_for_answers(settings)
    check_startup(settings)
    app = create_app(settings, db)
    scheduler = start_scheduler(app, settings, db)
    handler = SlackRequestHandler(app)

    def application(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        if path != EVENTS_PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        return handler(environ, start_response)

    application.scheduler = scheduler  # type: ignore[attr-defined]  # so a caller can stop it
    return application


def serve_http(settings: Settings, host: str = "0.0.0.0", port: int = 3000) -> int:
    if not settings.slack_bot_token:
        raise ConfigError("SLACK_BOT_TOKEN", "missing; csbot serve needs the bot token (xoxb-...)")
    if not settings.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET", "missing; csbot serve needs the signing secret to verify Slack's requests")
    app = wsgi_app(settings)
    with make_server(host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler) as server:
        print(f"csbot is listening on http://{host}:{port}{EVENTS_PATH}. Ctrl-C to stop.", file=sys.stderr)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0
