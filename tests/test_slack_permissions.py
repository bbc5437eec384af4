"""Who may do what: only the person who set a digest or an alert up, or a CSBOT_ADMINS user, may end
it; anyone may end their own. (Guests and revenue: tests/test_slack_revenue_channels.py.)"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from conftest import seed_two_plans
from slack_double import SlackDouble, bolt_request, sign, slash_command_body

from bot.slack.app import create_app
from metrics import digest_store as store

SECRET = "permissions-secret"
NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)
REFUSED = "Only the person who set this up or a csbot admin"


@pytest.fixture
def slack():
    with SlackDouble() as double:
        double.users["U0BOSS"] = {"id": "U0BOSS", "name": "boss", "real_name": "Boss", "email": "boss@example.com",
                                  "tz": "Asia/Tokyo"}
        yield double


@pytest.fixture
def ask(slack, database, settings, engine):
    seed_two_plans(engine)
    st = replace(settings, slack_api_url=slack.api_url, slack_bot_token=slack.bot_token, slack_signing_secret=SECRET,
                 admins=("U0BOSS",))
    count = iter(range(1000))

    def _ask(user: str, text: str) -> str:
        """Ask ``/cs text`` as ``user`` and wait for the answer (one at a time, in order)."""
        pool = ThreadPoolExecutor(max_workers=1)
        app = create_app(st, database, clock=lambda: NOW, listener_executor=pool)
        name = f"r{next(count)}"
        body = slash_command_body("/cs", text, user_id=user, response_url=slack.response_url(name, user=user))
        ack = app.dispatch(bolt_request(body, sign(SECRET, body)))
        pool.shutdown(wait=True)
        answers = [c for c in slack.calls_to("response_url") if c.path.endswith(f"/{name}")]
        return ack.body + "".join(str(c.json) for c in answers)

    return _ask


def test_only_the_subscriber_or_an_admin_ends_a_channel_digest(ask, engine):
    assert "subscribed" in ask("U0ALICE", "digest subscribe <#C0GENERAL|general> 09:00").lower()
    assert REFUSED in ask("U0BOB", "digest unsubscribe <#C0GENERAL|general>")
    assert len(store.list_subscriptions(engine)) == 1
    assert REFUSED not in ask("U0BOSS", "digest unsubscribe <#C0GENERAL|general>")
    assert store.list_subscriptions(engine) == []


def test_the_subscriber_ends_their_own_digest_by_its_number(ask, engine):
    ask("U0ALICE", "digest subscribe <#C0GENERAL|general> 09:00")
    [sub] = store.list_subscriptions(engine)
    assert REFUSED in ask("U0BOB", f"digest unsubscribe {sub.id}")
    assert REFUSED not in ask("U0ALICE", f"digest unsubscribe {sub.id}")
    assert store.list_subscriptions(engine) == []


def test_only_its_creator_or_an_admin_switches_a_channels_alerts_off(ask, engine):
    ask("U0ALICE", "digest alert churn <#C0GENERAL|general>")
    assert len(store.list_alerts(engine)) == 1
    assert REFUSED in ask("U0BOB", "digest alert off <#C0GENERAL|general>")
    assert len(store.list_alerts(engine)) == 1
    assert REFUSED not in ask("U0ALICE", "digest alert off <#C0GENERAL|general>")
    assert store.list_alerts(engine) == []


def test_the_refusal_speaks_japanese_to_a_japanese_question(ask):
    ask("U0ALICE", "digest subscribe <#C0GENERAL|general> 09:00")
    assert "設定した本人か csbot の管理者" in ask("U0BOB", "digest 解除 <#C0GENERAL|general>")
