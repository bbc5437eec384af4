"""Entry points that talk to Slack: Socket Mode (``csbot run``) and HTTP (``csbot serve``).

HTTP mode runs on waitress (a production WSGI server, pure Python) and Bolt's WSGI
adapter (``slack_bolt.adapter.wsgi``). In front of Bolt, ``SlackGate`` refuses what
Slack did not send before anything is parsed: a body over ``ServeOptions.max_body``
gets 413 from its Content-Length alone (waitress does not even read it), a request
without a valid ``X-Slack-Signature`` (HMAC of the raw body) or with an
``X-Slack-Request-Timestamp`` more than 5 minutes off gets 401, with no traceback.
Half-sent requests are dropped after ``read_timeout`` seconds; the listen backlog
is large, and waitress buffers each request before a worker thread sees it, so a
slow client never holds a thread.

Acks never wait behind answers: Bolt runs each listener's ack in the request's own
thread (``process_before_response``; in Socket Mode, the socket client's thread) and
every answer (the lazy listeners) in a separate pool of ``answer_workers`` threads.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.database import open_for_answers
from bot.slack.app import create_app
from metrics.settings import ConfigError, Settings

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
SIGNATURE_WINDOW = 5 * 60  # seconds: Slack's replay window for X-Slack-Request-Timestamp


@dataclass(frozen=True)
class ServeOptions:
    """How ``csbot serve`` serves. The defaults suit one replica answering a busy workspace."""

    threads: int = 16  # request threads: verify, ack, answer HTTP (answers run elsewhere)
    answer_workers: int = 8  # the lazy listeners (the answers), apart from the acks; within the DB pool (5+10)
    backlog: int = 2048  # listen(2) backlog: a burst of connections waits instead of being reset
    connection_limit: int = 1000  # open connections at once (more wait in the backlog)
    max_body: int = 1_000_000  # bytes; Slack's payloads are far smaller. Larger: 413 unread
    read_timeout: int = 10  # seconds a connection may sit idle or half-sent before it is dropped
    cleanup_interval: int = 2  # seconds between checks for such connections
    scheduler: bool = True  # run digests/alerts/jobs in this process (--no-scheduler: not)


# ---------------------------------------------------------------------------------------------- Socket Mode


def run_socket_mode(settings: Settings) -> int:
    if not settings.slack_bot_token:
        raise ConfigError("SLACK_BOT_TOKEN", "missing; Socket Mode needs the bot token (xoxb-...) and SLACK_APP_TOKEN")
    if not settings.slack_app_token:
        raise ConfigError("SLACK_APP_TOKEN", "missing; Socket Mode needs an app-level token (xapp-...) "
                          "with connections:write, or run csbot serve with SLACK_SIGNING_SECRET")
    db = open_for_answers(settings)
    check_startup(settings)
    answers = ThreadPoolExecutor(max_workers=ServeOptions.answer_workers, thread_name_prefix="csbot-answer")
    app = create_app(settings, db, socket_mode=True, listener_executor=answers, process_before_response=True)
    scheduler = start_scheduler(settings, db)
    handler = SocketModeHandler(app, settings.slack_app_token)
    if settings.slack_api_url:
        handler.client.api_url = settings.slack_api_url
    print("csbot is connected in Socket Mode. Ctrl-C to stop.", file=sys.stderr)
    try:
        handler.start()
    finally:
        scheduler.stop()
        answers.shutdown(wait=False, cancel_futures=True)
    return 0


def check_startup(settings: Settings) -> None:
    """Refuse to start on a broken configuration file, with one line (HealthModelError)."""
    from metrics.health import HealthModelError, model_for

    try:
        model_for(settings)
    except HealthModelError as exc:
        raise ConfigError("CSBOT_HEALTH_MODEL", str(exc)) from None


def start_scheduler(settings: Settings, db):
    """Digests, alerts, scheduled syncs and the daily health snapshot, in a daemon thread.
    Every job is claimed in the database first, so a second scheduler never posts twice; the
    jobs post through a client of their own with no SDK retries (``bot.slack.poster``)."""
    from bot.jobs.scheduler import Scheduler
    from bot.slack.poster import SlackPoster, jobs_client

    scheduler = Scheduler(SlackPoster(jobs_client(settings), settings), settings, db)
    scheduler.start()
    return scheduler


# ---------------------------------------------------------------------------------------------- the gate


def _plain(start_response, status: str, text: str, extra: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                            *extra])
    return [body]


def signature_ok(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Slack's v0 signature: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{raw body}``."""
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={digest}", signature)


class SlackGate:
    """WSGI app: ``/healthz`` for load balancers, and ``/slack/events`` passed to ``inner`` only
    when Slack signed it. Checks in order, each before any parsing: method (405), size from
    Content-Length (413, the body unread), the signature headers and the timestamp window (401,
    the body unread), then the body read (at most ``max_body`` bytes) and its HMAC (401).
    ``inner`` gets the verified bytes as ``wsgi.input``; an exception in it is a 500 with one
    log line and no traceback to the caller."""

    def __init__(self, inner: Callable, secret: str, *, max_body: int = ServeOptions.max_body,
                 clock: Callable[[], float] = time.time):
        self.inner = inner
        self.secret = secret
        self.max_body = max_body
        self.clock = clock

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _plain(start_response, "200 OK", "ok")
        if path != EVENTS_PATH:
            return _plain(start_response, "404 Not Found", "not found")
        if environ.get("REQUEST_METHOD") != "POST":
            return _plain(start_response, "405 Method Not Allowed", "POST only", [("Allow", "POST")])
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _plain(start_response, "400 Bad Request", "bad Content-Length")
        if length > self.max_body:
            return _plain(start_response, "413 Payload Too Large", "too large")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE") or ""
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
        if not signature.startswith("v0=") or not timestamp.isdigit():
            return self._refuse(start_response, environ, "unsigned")
        if abs(self.clock() - int(timestamp)) > SIGNATURE_WINDOW:
            return self._refuse(start_response, environ, "stale timestamp")
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        if not signature_ok(self.secret, timestamp, body, signature):
            return self._refuse(start_response, environ, "bad signature")
        verified = dict(environ)
        verified["wsgi.input"] = io.BytesIO(body)
        verified["CONTENT_LENGTH"] = str(len(body))
        try:
            return self.inner(verified, start_response)
        except Exception as exc:  # a signed request Bolt could not handle: logged, never a traceback
            logger.error("a signed request to %s failed: %s", EVENTS_PATH, type(exc).__name__)
            return _plain(start_response, "500 Internal Server Error", "error")

    def _refuse(self, start_response, environ, why: str) -> list[bytes]:
        logger.info("refused a request from %s: %s", environ.get("REMOTE_ADDR", "?"), why)
        return _plain(start_response, "401 Unauthorized", "invalid request")


# ---------------------------------------------------------------------------------------------- HTTP mode


def wsgi_app(settings: Settings, options: ServeOptions = ServeOptions()):
    """The WSGI app ``csbot serve`` runs: ``SlackGate`` in front of Bolt's WSGI adapter. Its
    ``scheduler`` (None with ``options.scheduler`` off) and ``answers`` (the answer pool)
    attributes let a caller stop them."""
    if not settings.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET", "missing; csbot serve needs the signing secret to verify Slack's requests")
    db = open_for_answers(settings)
    check_startup(settings)
    answers = ThreadPoolExecutor(max_workers=options.answer_workers, thread_name_prefix="csbot-answer")
    app = create_app(settings, db, listener_executor=answers, process_before_response=True)
    scheduler = start_scheduler(settings, db) if options.scheduler else None
    gate = SlackGate(SlackRequestHandler(app), settings.slack_signing_secret, max_body=options.max_body)
    gate.scheduler = scheduler  # type: ignore[attr-defined]
    gate.answers = answers  # type: ignore[attr-defined]
    return gate


def make_http_server(application, host: str, port: int, options: ServeOptions = ServeOptions()):
    """A waitress server for ``application`` (not yet running: call ``.run()``; port 0 picks one,
    ``.effective_port`` says which)."""
    from waitress.server import create_server

    return create_server(
        application, host=host, port=port, threads=options.threads, backlog=options.backlog,
        connection_limit=options.connection_limit, max_request_body_size=options.max_body,
        channel_timeout=options.read_timeout, cleanup_interval=options.cleanup_interval,
        ident="csbot", expose_tracebacks=False, clear_untrusted_proxy_headers=True,
    )


def stop_http_server(server) -> None:
    """Stop a server ``make_http_server`` built (its ``run()`` returns)."""
    from waitress import wasyncore

    server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
    # Closed in the server's own loop thread (an empty map ends its loop), not under its feet.
    server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map, ignore_all=True))


def serve_http(settings: Settings, host: str = "0.0.0.0", port: int = 3000,
               options: ServeOptions = ServeOptions()) -> int:
    if not settings.slack_bot_token:
        raise ConfigError("SLACK_BOT_TOKEN", "missing; csbot serve needs the bot token (xoxb-...)")
    if not settings.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET", "missing; csbot serve needs the signing secret to verify Slack's requests")
    app = wsgi_app(settings, options)
    server = make_http_server(app, host, port, options)
    jobs = "with the scheduler" if options.scheduler else "without the scheduler (--no-scheduler)"
    print(f"csbot is listening on http://{host}:{server.effective_port}{EVENTS_PATH} {jobs}. Ctrl-C to stop.",
          file=sys.stderr)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if app.scheduler is not None:
            app.scheduler.stop()
        app.answers.shutdown(wait=False, cancel_futures=True)
    return 0
