"""Follow-ups in Slack: under an answer, in its thread, "and by segment?", "Q2は？" and
"enterpriseだけ" refine the thread's question; the same words in another thread, or at the top
of the channel, start from nothing (and say what is missing) instead of borrowing a question."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from slack_double import app_mention_event, bolt_request, event_body, im_message_event, sign

from bot.slack.app import create_app
from metrics.db import Database

SECRET = "followup-secret"
NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)


@pytest.fixture
def app(slack, demo_copy, settings):
    st = replace(settings, slack_api_url=slack.api_url, slack_bot_token=slack.bot_token, slack_signing_secret=SECRET,
                 revenue_channels=("C0REVENUE",))
    pool = ThreadPoolExecutor(max_workers=1)  # one at a time: each question is answered before the next
    app = create_app(st, Database(demo_copy, str(demo_copy.url), False), clock=lambda: NOW, listener_executor=pool)
    yield app, pool
    pool.shutdown(wait=True)


def ask(app, slack, text, *, thread_ts=None, channel="C0REVENUE"):
    """Alice mentions csbot; returns the answer csbot posted (waiting for it)."""
    the_app, pool = app
    before = len(slack.calls_to("chat.postMessage"))
    event = slack.user_posted(app_mention_event(text, channel=channel, thread_ts=thread_ts))
    body = event_body(event)
    assert the_app.dispatch(bolt_request(body, sign(SECRET, body))).status == 200
    pool.submit(lambda: None).result(timeout=60)  # the listener queued before it has finished
    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == before + 1, "csbot did not answer"
    return event, posts[-1]


def text_of(call) -> str:
    return call.params["text"] + str(call.params.get("blocks"))


def test_a_follow_up_in_the_thread_refines_the_question(app, slack):
    first, answer = ask(app, slack, "churn last month")
    thread = answer.params["thread_ts"]
    assert thread == first["ts"]  # the answer starts the mention's thread
    _, by_segment = ask(app, slack, "and by segment?", thread_ts=thread)
    assert "by segment" in by_segment.params["text"] and "Oct 1 – Oct 31, 2026" in by_segment.params["text"]
    _, q2 = ask(app, slack, "Q2は？", thread_ts=thread)
    assert "2026年4月1日〜6月30日" in q2.params["text"] and "セグメント別" in q2.params["text"]
    _, enterprise = ask(app, slack, "enterpriseだけ", thread_ts=thread)
    assert "エンタープライズ" in text_of(enterprise) and "2026年4月1日〜6月30日" in enterprise.params["text"]


def test_the_same_words_elsewhere_do_not_borrow_another_threads_question(app, slack):
    _, answer = ask(app, slack, "churn last month")
    _, top = ask(app, slack, "and by segment?")  # top level: no thread, nothing to refine
    assert top.params["text"].startswith("I didn't understand")  # which metric? said, not guessed
    other_first, _ = ask(app, slack, "help")
    _, other = ask(app, slack, "Q2は？", thread_ts=other_first["ts"])  # a thread whose question was help
    assert other.params["text"].endswith("が分かりませんでした。")  # which metric? said, not borrowed


def test_a_dm_refines_the_last_question_asked_in_it(app, slack):
    the_app, pool = app
    for text in ("nrr last month", "by segment"):
        body = event_body(im_message_event(text))
        assert the_app.dispatch(bolt_request(body, sign(SECRET, body))).status == 200
        pool.submit(lambda: None).result(timeout=60)
    first, second = slack.calls_to("chat.postMessage")[-2:]
    assert "NRR" in first.params["text"] and "by segment" in second.params["text"] and "NRR" in second.params["text"]
