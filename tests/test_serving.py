"""csbot serve under load and abuse, on the real server (waitress) on a local port: a burst of
signed commands is acked, unsigned/malformed/huge/half-sent requests are refused before any
work, and the gate in front of Bolt never reads what Slack did not sign. Timing figures are
in benchmarks/bench_serve.py; here only "acked at all" (with a generous bound)."""

from __future__ import annotations

import io
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from conftest import seed_two_plans
from slack_double import SlackDouble, sign, slash_command_body

from bot.slack.server import ServeOptions, SlackGate, make_http_server, stop_http_server, wsgi_app

SECRET = "serving-secret"


def running(app, options: ServeOptions):
    """Run ``app`` on waitress on a free local port; returns (server, thread)."""
    httpd = make_http_server(app, "127.0.0.1", 0, options)
    thread = threading.Thread(target=httpd.run, daemon=True)
    thread.start()
    return httpd, thread


@pytest.fixture
def serve(settings, engine, database):
    """Start ``csbot serve``'s app (Bolt behind the gate, no scheduler) with given options."""
    seed_two_plans(engine)
    started = []
    with SlackDouble() as slack:
        st = replace(settings, database_url=str(engine.url.render_as_string(hide_password=False)),
                     slack_api_url=slack.api_url, slack_bot_token=slack.bot_token, slack_signing_secret=SECRET)

        def start(**kw):
            options = ServeOptions(scheduler=False, **kw)
            app = wsgi_app(st, options)
            httpd, thread = running(app, options)
            started.append((app, httpd, thread))
            return httpd.effective_port, slack

        yield start
        for app, httpd, thread in started:
            stop_http_server(httpd)
            thread.join(5)
            app.answers.shutdown(wait=True, cancel_futures=True)


def post(port, body: bytes, headers, timeout=30.0):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def raw(port, data: bytes, timeout=10.0) -> bytes:
    """Send ``data`` as is and read what comes back until the server closes or answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


# ---------------------------------------------------------------------------------------------- load


def test_a_burst_of_200_signed_commands_is_all_acked(serve):
    """Acks run in the request threads and answers in their own pool: none waits behind an answer.
    (With wsgiref's backlog of 5 and Bolt's 5 shared threads, a burst like this got resets and 404s.)"""
    port, slack = serve()

    def one(i):
        body = slash_command_body("/churn", "2026-10", response_url=slack.response_url(f"burst{i}"))
        started = time.monotonic()
        status, _ = post(port, body.encode(), sign(SECRET, body))
        return status, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=200) as pool:
        results = list(pool.map(one, range(200)))
    assert [status for status, _ in results] == [200] * 200
    assert max(seconds for _, seconds in results) < 30  # acked at all (the figures: benchmarks/bench_serve.py)
    [answer, *_] = slack.wait_for("response_url", timeout=30)  # and the answers follow, apart from the acks
    assert "50.0%" in str(answer.json)


def test_acks_never_wait_behind_slow_answers(serve, monkeypatch):
    """Every answer takes 3 s and only 2 threads compute answers: 30 commands are still all acked,
    as the acks run in the request threads (with Bolt's shared pool they queued behind the answers)."""
    from bot.slack.listeners import commands as slash

    real = slash.dispatch

    def slow(*args, **kwargs):
        time.sleep(3)
        return real(*args, **kwargs)

    monkeypatch.setattr(slash, "dispatch", slow)
    port, slack = serve(answer_workers=2)

    def one(i):
        body = slash_command_body("/churn", "2026-10", response_url=slack.response_url(f"slow{i}"))
        return post(port, body.encode(), sign(SECRET, body))[0]

    with ThreadPoolExecutor(max_workers=30) as pool:
        assert list(pool.map(one, range(30))) == [200] * 30
    assert len(slack.calls_to("response_url")) <= 2  # the answers were still being computed


# ---------------------------------------------------------------------------------------------- refusals


def test_unsigned_and_malformed_bodies_get_401_without_a_traceback(serve):
    port, _ = serve()
    for body in (b"%%%{{{not a form", b"payload=%7B%22type%22%3A", b"{\"type\": \"event_callback\"", b""):
        status, text = post(port, body, {"Content-Type": "application/x-www-form-urlencoded"})
        assert (status, text) == (401, "invalid request")
    bad = slash_command_body("/churn", "2026-10")
    headers = sign("another-secret", bad)
    assert post(port, bad.encode(), headers) == (401, "invalid request")
    stale = sign(SECRET, bad, timestamp=int(time.time()) - 6 * 60)  # Slack's replay window is 5 minutes
    assert post(port, bad.encode(), stale) == (401, "invalid request")


def test_a_10_mb_body_gets_413_before_it_is_sent(serve):
    port, _ = serve()
    head = (b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 10000000\r\n\r\n")
    answer = raw(port, head + b"a" * 1000)  # 1 kB of the 10 MB: the answer comes anyway
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_half_sent_request_is_dropped_after_the_read_timeout(serve):
    port, _ = serve(read_timeout=1, cleanup_interval=1)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\ntoken=")
        assert sock.recv(65536) in (b"", )  # closed by the server, never answered
    assert time.monotonic() - started < 15
    # The server still answers others.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        assert response.status == 200


# ---------------------------------------------------------------------------------------------- the gate itself


class Unreadable(io.RawIOBase):
    """A request body that must not be read."""

    def read(self, *args):
        raise AssertionError("the gate read a body it should have refused unread")

    readline = read


def call(gate, body, headers, *, method="POST", length=None, stream=None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": "/slack/events",
               "CONTENT_LENGTH": str(len(body) if length is None else length),
               "wsgi.input": stream or io.BytesIO(body)}
    for key, value in headers.items():
        environ["HTTP_" + key.upper().replace("-", "_")] = value
    got = {}

    def start_response(status, headers_out):
        got["status"] = status

    text = b"".join(gate(environ, start_response)).decode()
    return got["status"].split()[0], text


def recording_gate():
    seen: list[bytes] = []

    def inner(environ, start_response):
        seen.append(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))
        start_response("200 OK", [])
        return [b""]

    return SlackGate(inner, SECRET, max_body=1000), seen


def test_the_gate_refuses_unsigned_stale_and_oversized_requests_without_reading_or_parsing_them():
    gate, seen = recording_gate()
    body = "token=x&command=%2Fchurn&text=2026-10"
    assert call(gate, body.encode(), {}, stream=Unreadable()) == ("401", "invalid request")
    old = sign(SECRET, body, timestamp=int(time.time()) - 301)
    assert call(gate, body.encode(), old, stream=Unreadable()) == ("401", "invalid request")
    assert call(gate, b"", sign(SECRET, body), length=10_000_000, stream=Unreadable())[0] == "413"
    assert call(gate, body.encode(), sign(SECRET, "something else"))[0] == "401"  # read, not parsed
    assert call(gate, body.encode(), {}, method="GET", stream=Unreadable())[0] == "405"
    assert seen == []  # Bolt was never handed any of them


def test_the_gate_hands_bolt_exactly_the_signed_bytes():
    gate, seen = recording_gate()
    body = "token=x&command=%2Fchurn&text=%E5%85%88%E6%9C%88"
    assert call(gate, body.encode(), sign(SECRET, body))[0] == "200"
    assert seen == [body.encode()]


def test_a_signed_request_bolt_cannot_handle_is_a_500_without_a_traceback(caplog):
    def broken(environ, start_response):
        raise ValueError("secret internals")

    gate = SlackGate(broken, SECRET)
    body = "payload=%7Bnot-json"
    assert call(gate, body.encode(), sign(SECRET, body)) == ("500", "error")
    assert "secret internals" not in caplog.text and "Traceback" not in caplog.text
