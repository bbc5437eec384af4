"""csbot serve: Slack posts to /slack/events over real HTTP (waitress, as in production); load
balancers check /healthz. Limits, refusals and load: tests/test_serving.py."""

import threading
import urllib.request
from dataclasses import replace

import pytest
from conftest import seed_two_plans
from slack_double import SlackDouble, sign, slash_command_body

from bot.slack.server import ServeOptions, make_http_server, stop_http_server, wsgi_app

SECRET = "http-mode-secret"


@pytest.fixture
def server(settings, engine, database, monkeypatch, tmp_path):
    seed_two_plans(engine)
    with SlackDouble() as slack:
        st = replace(settings, database_url=str(engine.url.render_as_string(hide_password=False)),
                     slack_api_url=slack.api_url, slack_bot_token=slack.bot_token, slack_signing_secret=SECRET)
        app = wsgi_app(st, ServeOptions(scheduler=False))
        httpd = make_http_server(app, "127.0.0.1", 0)
        thread = threading.Thread(target=httpd.run, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.effective_port}", slack
        stop_http_server(httpd)
        thread.join(5)
        app.answers.shutdown(wait=True, cancel_futures=True)


def post(url, body, headers):
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_a_signed_slash_command_over_http_is_answered(server):
    base, slack = server
    body = slash_command_body("/churn", "2026-10", response_url=slack.response_url("h1"))
    status, _ = post(f"{base}/slack/events", body, sign(SECRET, body))
    assert status == 200
    [reply] = slack.wait_for("response_url")
    assert "50.0%" in reply.json["text"] or "50.0%" in str(reply.json["blocks"])


def test_an_unsigned_request_over_http_is_refused(server):
    base, slack = server
    body = slash_command_body("/churn", "2026-10", response_url=slack.response_url("h2"))
    status, _ = post(f"{base}/slack/events", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 401


def test_healthz_answers_for_load_balancers(server):
    base, _ = server
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
        assert response.status == 200 and response.read() == b"ok"
