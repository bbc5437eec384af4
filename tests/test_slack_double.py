"""The Slack double must behave like Slack for the real slack_sdk / slack_bolt clients.

Every test talks to the double through the real ``slack_sdk.WebClient`` (or a real Bolt ``App``),
so a double that drifts from what the SDK expects fails here, not in csbot's own tests.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.error import URLError
from urllib.parse import parse_qs

import pytest
from slack_bolt import App
from slack_double import (
    SlackDouble,
    app_home_opened_event,
    app_mention_event,
    block_actions_body,
    bolt_request,
    event_body,
    im_message_event,
    sign,
    slash_command_body,
)
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier

SECRET = "test-signing-secret"


def client_for(double: SlackDouble, **kwargs) -> WebClient:
    kwargs.setdefault("retry_handlers", [])
    return WebClient(token=double.bot_token, base_url=double.api_url, **kwargs)


# ------------------------------------------------------------------------------------ Web API


def test_post_message_returns_the_channel_and_increasing_ts(slack_double):
    client = client_for(slack_double)
    first = client.chat_postMessage(channel="C0GENERAL", text="hello")
    second = client.chat_postMessage(channel="#cs-revenue", text="again", thread_ts=first["ts"])

    assert first["ok"] is True
    assert first["channel"] == "C0GENERAL"
    assert first["ts"] == "1732240000.000100"
    assert first["message"]["text"] == "hello"
    assert first["message"]["bot_id"] == "B0BOT"
    assert second["channel"] == "C0REVENUE"  # posting by #name answers with the id, like Slack
    assert float(second["ts"]) > float(first["ts"])
    assert second["message"]["thread_ts"] == first["ts"]


def test_calls_are_recorded_with_path_params_and_bearer_token(slack_double):
    client_for(slack_double).chat_postMessage(channel="C0GENERAL", text="hi", blocks=[{"type": "divider"}])

    [call] = slack_double.calls_to("chat.postMessage")
    assert call.path == "/api/chat.postMessage"
    assert call.headers["Authorization"] == "Bearer xoxb-test-token"
    assert call.params["channel"] == "C0GENERAL"
    assert call.json == {"channel": "C0GENERAL", "text": "hi", "blocks": [{"type": "divider"}]}


def test_form_encoded_calls_are_understood_too(slack_double):
    client = client_for(slack_double)
    response = client.api_call("chat.postMessage", data={"channel": "C0GENERAL", "text": "form"})

    assert response["message"]["text"] == "form"
    [call] = slack_double.calls_to("chat.postMessage")
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.json is None and call.params["text"] == "form"


def test_posting_where_the_bot_is_not_a_member_raises_not_in_channel(slack_double):
    with pytest.raises(SlackApiError) as err:
        client_for(slack_double).chat_postMessage(channel="C0NOTMEMBER", text="hi")
    assert err.value.response["error"] == "not_in_channel"
    assert err.value.response.status_code == 200


def test_posting_to_an_unknown_channel_raises_channel_not_found(slack_double):
    with pytest.raises(SlackApiError) as err:
        client_for(slack_double).chat_postMessage(channel="C0NOSUCH", text="hi")
    assert err.value.response["error"] == "channel_not_found"


def test_joining_a_channel_then_posting_works(slack_double):
    slack_double.scopes = slack_double.scopes | {"channels:join"}  # csbot's manifest does not ask for it
    client = client_for(slack_double)
    joined = client.conversations_join(channel="C0NOTMEMBER")
    again = client.conversations_join(channel="C0NOTMEMBER")
    posted = client.chat_postMessage(channel="C0NOTMEMBER", text="now I'm in")

    assert joined["channel"]["is_member"] is True and "warning" not in joined
    assert again["warning"] == "already_in_channel"
    assert posted["channel"] == "C0NOTMEMBER"


def test_missing_token_is_not_authed_and_a_wrong_one_is_invalid_auth():
    with SlackDouble(valid_tokens={"xoxb-the-right-one"}) as double:
        anonymous = WebClient(base_url=double.api_url, retry_handlers=[])
        wrong = WebClient(token="xoxb-test-token", base_url=double.api_url, retry_handlers=[])
        right = WebClient(token="xoxb-the-right-one", base_url=double.api_url, retry_handlers=[])

        with pytest.raises(SlackApiError) as no_token:
            anonymous.auth_test()
        with pytest.raises(SlackApiError) as bad_token:
            wrong.auth_test()
        assert no_token.value.response["error"] == "not_authed"
        assert bad_token.value.response["error"] == "invalid_auth"
        assert right.auth_test()["user_id"] == "U0BOT"


def test_a_non_slack_token_is_invalid_auth(slack_double):
    with pytest.raises(SlackApiError) as err:
        WebClient(token="not-a-token", base_url=slack_double.api_url, retry_handlers=[]).auth_test()
    assert err.value.response["error"] == "invalid_auth"


def test_auth_test_answers_with_the_bot_identity(slack_double):
    result = client_for(slack_double).auth_test()
    assert (result["team_id"], result["user_id"], result["bot_id"]) == ("T0TEAM", "U0BOT", "B0BOT")


def test_message_without_text_or_blocks_is_no_text(slack_double):
    with pytest.raises(SlackApiError) as err:
        client_for(slack_double).api_call("chat.postMessage", json={"channel": "C0GENERAL"})
    assert err.value.response["error"] == "no_text"


def test_fifty_blocks_pass_and_fifty_one_are_invalid_blocks(slack_double):
    client = client_for(slack_double)
    divider = {"type": "divider"}
    assert client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[divider] * 50)["ok"]
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[divider] * 51)
    assert err.value.response["error"] == "invalid_blocks"


def test_text_over_forty_thousand_characters_is_msg_too_long(slack_double):
    client = client_for(slack_double)
    assert client.chat_postMessage(channel="C0GENERAL", text="a" * 40_000)["ok"]
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C0GENERAL", text="a" * 40_001)
    assert err.value.response["error"] == "msg_too_long"


def test_unknown_method_is_unknown_method(slack_double):
    with pytest.raises(SlackApiError) as err:
        client_for(slack_double).api_call("chat.postMesage")
    assert err.value.response["error"] == "unknown_method"


def test_fail_next_fails_only_the_given_number_of_calls(slack_double):
    client = client_for(slack_double)
    slack_double.fail_next("chat.postMessage", "invalid_blocks", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(channel="C0GENERAL", text="x")
        assert err.value.response["error"] == "invalid_blocks"
    assert client.chat_postMessage(channel="C0GENERAL", text="x")["ok"]
    assert len(slack_double.calls_to("chat.postMessage")) == 3


def test_rate_limited_call_is_http_429_with_retry_after(slack_double):
    slack_double.rate_limit_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as err:
        client_for(slack_double).chat_postMessage(channel="C0GENERAL", text="x")
    response = err.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.data == {"ok": False, "error": "ratelimited"}


def test_rate_limit_retry_handler_waits_and_succeeds(slack_double):
    slack_double.rate_limit_next("chat.postMessage", retry_after=0)
    client = client_for(slack_double, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])

    result = client.chat_postMessage(channel="C0GENERAL", text="eventually")

    assert result["ok"] is True
    assert len(slack_double.calls_to("chat.postMessage")) == 2  # one 429, one retry


def test_delay_next_makes_a_short_timeout_client_give_up(slack_double):
    slack_double.delay_next("auth.test", 2.0)
    client = client_for(slack_double, timeout=0.3)
    started = time.monotonic()
    with pytest.raises((TimeoutError, URLError)):
        client.auth_test()
    assert time.monotonic() - started < 1.5
    assert client.auth_test()["ok"]  # only the next call was slow


def test_update_delete_and_permalink_follow_the_posted_message(slack_double):
    client = client_for(slack_double)
    ts = client.chat_postMessage(channel="C0GENERAL", text="v1")["ts"]

    updated = client.chat_update(channel="C0GENERAL", ts=ts, text="v2")
    link = client.chat_getPermalink(channel="C0GENERAL", message_ts=ts)
    deleted = client.chat_delete(channel="C0GENERAL", ts=ts)

    assert updated["text"] == "v2" and updated["ts"] == ts
    assert slack_double.messages == {}
    assert link["permalink"].endswith(f"/archives/C0GENERAL/p{ts.replace('.', '')}")
    assert deleted["ts"] == ts
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel="C0GENERAL", ts=ts, text="v3")
    assert err.value.response["error"] == "message_not_found"


def test_ephemeral_message_returns_message_ts(slack_double):
    result = client_for(slack_double).chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="psst")
    assert result["message_ts"] == "1732240000.000100"
    assert slack_double.messages == {}  # ephemeral messages are not stored in the channel


def test_conversations_open_reuses_the_existing_dm_and_creates_new_ones(slack_double):
    client = client_for(slack_double)
    alice = client.conversations_open(users="U0ALICE")
    bob = client.conversations_open(users="U0BOB")

    assert alice["channel"]["id"] == "D0DM" and alice["already_open"] is True
    assert bob["channel"]["id"].startswith("D") and bob["channel"]["id"] != "D0DM"
    assert client.chat_postMessage(channel=bob["channel"]["id"], text="hi bob")["ok"]


def test_conversations_info_describes_the_channel(slack_double):
    info = client_for(slack_double).conversations_info(channel="C0REVENUE")["channel"]
    assert (info["id"], info["name"], info["is_member"], info["is_im"]) == ("C0REVENUE", "cs-revenue", True, False)


def test_users_info_and_lookup_by_email(slack_double):
    client = client_for(slack_double)
    alice = client.users_lookupByEmail(email="alice@example.com")["user"]
    bob = client.users_info(user="U0BOB")["user"]

    assert alice["id"] == "U0ALICE" and alice["tz"] == "Asia/Tokyo" and alice["tz_offset"] == 9 * 3600
    assert bob["profile"]["email"] == "bob@example.com" and bob["tz"] == "America/New_York"
    with pytest.raises(SlackApiError) as err:
        client.users_lookupByEmail(email="nobody@example.com")
    assert err.value.response["error"] == "users_not_found"


def test_views_publish_returns_the_home_view(slack_double):
    view = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}]}
    result = client_for(slack_double).views_publish(user_id="U0ALICE", view=view)

    assert result["view"]["type"] == "home"
    assert result["view"]["blocks"] == view["blocks"]
    assert slack_double.home_views["U0ALICE"]["id"] == result["view"]["id"]


def test_views_open_needs_a_modal(slack_double):
    client = client_for(slack_double)
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": []}
    assert client.views_open(trigger_id="123.456.abc", view=modal)["view"]["type"] == "modal"
    with pytest.raises(SlackApiError) as err:
        client.views_open(trigger_id="123.456.abc", view={"type": "home", "blocks": []})
    assert err.value.response["error"] == "invalid_arguments"


def test_files_upload_v2_goes_through_all_three_steps(slack_double):
    content = "account,churn\nacme,1\n"
    result = client_for(slack_double).files_upload_v2(
        channel="C0REVENUE", content=content, filename="churn.csv", title="Churn", initial_comment="here"
    )

    methods = [c.method for c in slack_double.calls]
    assert methods == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    upload = slack_double.calls_to("upload")[0]
    assert upload.params["size"] == len(content.encode("utf-8"))
    assert result["files"][0]["id"] == upload.params["file_id"]
    assert result["files"][0]["size"] == 21  # bytes of "account,churn\nacme,1\n"
    assert slack_double.uploads[upload.params["file_id"]].data == content.encode("utf-8")
    assert result["file"]["title"] == "Churn"
    [shared] = slack_double.messages.values()
    assert shared["text"] == "here" and shared["files"][0]["id"] == upload.params["file_id"]


def test_multipart_calls_are_parsed_into_params(slack_double):
    client = client_for(slack_double)
    result = client.api_call(
        "files.getUploadURLExternal", data={"filename": "a.txt", "length": "3"}, files={"file": b"abc"}
    )
    [call] = slack_double.calls_to("files.getUploadURLExternal")
    assert call.headers["content-type"].startswith("multipart/form-data")
    assert (call.params["filename"], call.params["length"], call.params["file"]) == ("a.txt", "3", b"abc")
    assert result["upload_url"] == f"{slack_double.base_url}/upload/v1/{result['file_id']}"


def test_completing_an_upload_that_was_never_sent_fails(slack_double):
    client = client_for(slack_double)
    file_id = client.files_getUploadURLExternal(filename="a.txt", length=3)["file_id"]
    with pytest.raises(SlackApiError) as err:
        client.files_completeUploadExternal(files=[{"id": file_id, "title": "a"}], channel_id="C0GENERAL")
    assert err.value.response["error"] == "file_not_found"


def test_apps_connections_open_needs_an_app_token(slack_double):
    ok = WebClient(token=slack_double.app_token, base_url=slack_double.api_url).apps_connections_open(
        app_token=slack_double.app_token)
    assert ok["url"].startswith("ws://127.0.0.1:")
    with pytest.raises(SlackApiError) as err:
        client_for(slack_double).api_call("apps.connections.open")
    assert err.value.response["error"] == "not_allowed_token_type"


def test_wait_for_says_what_was_received_when_it_times_out(slack_double):
    client_for(slack_double).auth_test()
    with pytest.raises(AssertionError, match=r"chat\.postMessage.*auth\.test"):
        slack_double.wait_for("chat.postMessage", timeout=0.1)


def test_reset_forgets_calls_and_pending_failures(slack_double):
    client = client_for(slack_double)
    slack_double.fail_next("auth.test", "invalid_auth")
    client.chat_postMessage(channel="C0GENERAL", text="x")
    slack_double.reset()
    assert slack_double.calls == [] and slack_double.messages == {}
    assert client.auth_test()["ok"]


def test_stop_releases_the_port():
    double = SlackDouble().start()
    url = double.api_url
    double.stop()
    with pytest.raises(URLError):
        WebClient(token="xoxb-x", base_url=url, retry_handlers=[], timeout=1).auth_test()


# ------------------------------------------------------------------------------------ signing


def test_signature_is_accepted_by_slack_sdk_and_a_tampered_body_is_not():
    body = slash_command_body(text="last-month")
    headers = sign(SECRET, body)
    verifier = SignatureVerifier(SECRET)

    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body.replace("last-month", "this-month"), headers)
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)


def test_sign_uses_slacks_v0_basestring_for_a_fixed_timestamp():
    # Known answer worked out with: printf 'v0:1700000000:a=b' | openssl dgst -sha256 -hmac s
    headers = sign("s", "a=b", timestamp=1700000000)
    assert headers["X-Slack-Request-Timestamp"] == "1700000000"
    assert headers["X-Slack-Signature"] == "v0=41d473c3d4121958292bef305f9ad62c7dffad28d51019e07b6500699b32bb0a"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sign("s", "{}")["Content-Type"] == "application/json"


def test_slash_command_body_carries_every_field_slack_sends():
    fields = {k: v[0] for k, v in parse_qs(slash_command_body(response_url="http://127.0.0.1:1/r")).items()}
    for key in ("token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name",
                "command", "text", "api_app_id", "response_url", "trigger_id"):
        assert fields.get(key), key
    assert (fields["command"], fields["text"], fields["user_id"]) == ("/churn", "last-month", "U0ALICE")


# ------------------------------------------------------------------------------------ Bolt app


def echo_app(double: SlackDouble, listener_executor: ThreadPoolExecutor | None = None) -> App:
    app = App(signing_secret=SECRET, client=WebClient(token=double.bot_token, base_url=double.api_url),
              listener_executor=listener_executor)

    @app.command("/echo")
    def echo(ack, respond, command):
        ack()
        respond(text=f"echo: {command['text']}", response_type="in_channel")

    @app.event("app_mention")
    def mention(event, say):
        say(text=f"heard: {event['text']}", thread_ts=event["ts"])

    @app.event("message")
    def dm(event, say):
        say(text=f"dm: {event['text']}")

    @app.event("app_home_opened")
    def home(event, client):
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": []})

    @app.action("pick")
    def pick(ack, body, respond):
        ack()
        respond(text=f"picked {body['actions'][0]['value']}", replace_original=True)

    return app


def test_signed_slash_command_is_acked_and_answered_on_the_response_url(slack_double):
    app = echo_app(slack_double)
    body = slash_command_body("/echo", "hello there", response_url=slack_double.response_url("r1"))

    response = app.dispatch(bolt_request(body, sign(SECRET, body)))

    assert response.status == 200
    [posted] = slack_double.wait_for("response_url")
    assert posted.path == "/commands/T0TEAM/r1"
    assert posted.json["text"] == "echo: hello there"
    assert posted.json["response_type"] == "in_channel"


def test_badly_signed_slash_command_gets_401_and_no_answer(slack_double):
    listeners = ThreadPoolExecutor(max_workers=2)
    app = echo_app(slack_double, listeners)
    body = slash_command_body("/echo", "hello", response_url=slack_double.response_url())

    wrong_secret = app.dispatch(bolt_request(body, sign("not-the-secret", body)))
    stale = app.dispatch(bolt_request(body, sign(SECRET, body, timestamp=int(time.time()) - 3600)))

    assert wrong_secret.status == 401 and stale.status == 401
    listeners.shutdown(wait=True)  # every listener that was started has finished
    assert slack_double.calls_to("response_url") == []


def test_signed_app_mention_event_is_answered_in_thread(slack_double):
    app = echo_app(slack_double)
    event = app_mention_event("churn last-month", ts="1732230000.000001")
    body = event_body(event)

    assert app.dispatch(bolt_request(body, sign(SECRET, body))).status == 200
    [posted] = slack_double.wait_for("chat.postMessage")
    assert posted.params["channel"] == "C0GENERAL"
    assert posted.params["thread_ts"] == "1732230000.000001"
    assert posted.params["text"] == "heard: <@U0BOT> churn last-month"


def test_signed_dm_and_home_opened_events_reach_their_listeners(slack_double):
    app = echo_app(slack_double)
    for event in (im_message_event("help"), app_home_opened_event("U0BOB")):
        body = event_body(event)
        assert app.dispatch(bolt_request(body, sign(SECRET, body))).status == 200

    [dm] = slack_double.wait_for("chat.postMessage")
    [home] = slack_double.wait_for("views.publish")
    assert (dm.params["channel"], dm.params["text"]) == ("D0DM", "dm: help")
    assert home.params["user_id"] == "U0BOB"


def test_signed_button_click_is_answered_on_the_response_url(slack_double):
    app = echo_app(slack_double)
    body = block_actions_body("pick", "acme", response_url=slack_double.response_url("r2"))
    payload = json.loads(parse_qs(body)["payload"][0])
    assert payload["type"] == "block_actions" and payload["actions"][0]["action_id"] == "pick"

    assert app.dispatch(bolt_request(body, sign(SECRET, body))).status == 200
    [posted] = slack_double.wait_for("response_url")
    assert posted.json["text"] == "picked acme" and posted.json["replace_original"] is True


def test_response_url_refuses_an_empty_message_and_a_sixth_use(slack_double):
    from slack_sdk.webhook import WebhookClient

    hook = WebhookClient(slack_double.response_url("r3"))
    assert hook.send(text="").status_code == 400
    statuses = [hook.send(text=f"try {i}").status_code for i in range(6)]
    assert statuses == [200, 200, 200, 200, 200, 404]  # a response_url takes five messages


# ------------------------------------------------------------------------------------ as strict as Slack

def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text: str = "Go", value: str = "v", action_id: str = "a") -> dict:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id, "value": value}


@pytest.mark.parametrize("blocks, allowed", [
    ([section("x" * 3000)], True),
    ([section("x" * 3001)], False),  # section text: 3000
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2000}]}], True),
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}], False),  # each field: 2000
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "x"}] * 11}], False),  # at most 10 fields
    ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 150}}], True),
    ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], False),  # header: 150
    ([{"type": "header", "text": {"type": "mrkdwn", "text": "*x*"}}], False),  # header: plain_text only
    ([{"type": "actions", "elements": [button("x" * 75)]}], True),
    ([{"type": "actions", "elements": [button("x" * 76)]}], False),  # button text: 75
    ([{"type": "actions", "elements": [button(value="v" * 2001)]}], False),  # button value: 2000
    ([{"type": "actions", "elements": [button(action_id="a"), button(action_id="a")]}], False),  # unique action_id
    ([section("")], False),  # no empty text
    ([{"type": "no_such_block"}], False),
    ([section("x")] * 50, True),
    ([section("x")] * 51, False),  # 50 blocks in a message
])
def test_blocks_are_checked_as_slack_checks_them(slack_double, blocks, allowed):
    client = client_for(slack_double)
    if allowed:
        assert client.chat_postMessage(channel="C0GENERAL", text="t", blocks=blocks)["ok"]
        return
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C0GENERAL", text="t", blocks=blocks)
    assert err.value.response["error"] == "invalid_blocks"
    assert err.value.response["response_metadata"]["messages"]


def test_a_home_view_takes_100_blocks_and_checks_each(slack_double):
    client = client_for(slack_double)
    assert client.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": [section("x")] * 100})["ok"]
    for blocks in ([section("x")] * 101, [section("x" * 3001)]):
        with pytest.raises(SlackApiError) as err:
            client.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": blocks})
        assert err.value.response["error"] == "invalid_arguments"


def test_an_ephemeral_message_in_a_thread_without_replies_is_not_shown(slack_double):
    client = client_for(slack_double)
    top = "1732240000.000100"  # a top-level message nobody answered
    assert client.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="in no thread", thread_ts=top)["ok"]
    assert slack_double.visible_to("U0ALICE") == []  # Slack said ok, and showed nothing
    client.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="in the channel")
    slack_double.user_posted(app_mention_event("a reply", channel="C0GENERAL", thread_ts=top))
    client.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="in the thread", thread_ts=top)
    assert [(s.text, s.thread_ts) for s in slack_double.visible_to("U0ALICE")] == [
        ("in the channel", None), ("in the thread", top)]
    assert slack_double.visible_to("U0BOB") == []


def test_a_bot_reply_makes_a_thread_that_then_shows_ephemeral_messages(slack_double):
    client = client_for(slack_double)
    parent = client.chat_postMessage(channel="C0GENERAL", text="parent")["ts"]
    client.chat_postMessage(channel="C0GENERAL", text="reply", thread_ts=parent)
    client.chat_postEphemeral(channel="C0GENERAL", user="U0BOB", text="psst", thread_ts=parent)
    assert [s.text for s in slack_double.visible_to("U0BOB")] == ["parent", "reply", "psst"]
    assert [s.text for s in slack_double.visible_to("U0ALICE")] == ["parent", "reply"]


def test_a_response_url_expires_after_thirty_minutes(slack_double):
    from slack_sdk.webhook import WebhookClient

    hook = WebhookClient(slack_double.response_url("late"))
    slack_double.advance(29 * 60)
    assert hook.send(text="in time").status_code == 200
    slack_double.advance(2 * 60)
    late = hook.send(text="too late")
    assert (late.status_code, late.body) == (404, "expired_url")


def test_a_response_url_shows_ephemeral_to_its_user_and_in_channel_to_everyone(slack_double):
    from slack_sdk.webhook import WebhookClient

    hook = WebhookClient(slack_double.response_url("r", user="U0ALICE", channel="C0NOTMEMBER"))
    hook.send(text="only alice", response_type="ephemeral")
    hook.send(text="everyone", response_type="in_channel", replace_original=False)
    assert [s.text for s in slack_double.visible_to("U0ALICE")] == ["only alice", "everyone"]
    assert [s.text for s in slack_double.visible_to("U0BOB")] == ["everyone"]


def test_a_response_url_never_issued_is_refused(slack_double):
    from slack_sdk.webhook import WebhookClient

    assert WebhookClient(f"{slack_double.base_url}/commands/T0TEAM/guessed").send(text="x").status_code == 404


def test_a_method_whose_scope_the_manifest_lacks_is_missing_scope(slack_double):
    client = client_for(slack_double)
    with pytest.raises(SlackApiError) as err:
        client.conversations_join(channel="C0NOTMEMBER")  # channels:join is not in the manifest
    assert err.value.response["error"] == "missing_scope" and err.value.response["needed"] == "channels:join"
    with SlackDouble(scopes={"chat:write"}) as narrow:
        with pytest.raises(SlackApiError) as err:
            client_for(narrow).users_info(user="U0ALICE")
        assert err.value.response["needed"] == "users:read"


def test_a_users_email_needs_users_read_email(slack_double):
    assert client_for(slack_double).users_info(user="U0ALICE")["user"]["profile"]["email"] == "alice@example.com"
    with SlackDouble(scopes={"users:read"}) as narrow:
        assert "email" not in client_for(narrow).users_info(user="U0ALICE")["user"]["profile"]


def test_chat_post_message_is_paced_per_channel(slack_double):
    client = client_for(slack_double)
    burst = [client.chat_postMessage(channel="C0GENERAL", text=f"{i}")["ok"] for i in range(slack_double.post_burst)]
    assert all(burst)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C0GENERAL", text="one too many")
    assert err.value.response.status_code == 429 and int(err.value.response.headers["Retry-After"]) >= 1
    assert client.chat_postMessage(channel="C0REVENUE", text="another channel")["ok"]  # per channel
    slack_double.advance(1.0)  # about one a second, sustained
    assert client.chat_postMessage(channel="C0GENERAL", text="a second later")["ok"]


def test_conversations_list_pages_and_history_reads_back_posts(slack_double):
    client = client_for(slack_double)
    slack_double.add_channel("G0SECRET", "secret", private=True)
    first = client.conversations_list(types="public_channel,private_channel", limit=2)
    rest = client.conversations_list(types="public_channel,private_channel", limit=2,
                                     cursor=first["response_metadata"]["next_cursor"])
    names = [c["name"] for c in first["channels"] + rest["channels"]]
    assert sorted(names) == ["cs-revenue", "general", "random", "secret"]
    ts = client.chat_postMessage(channel="C0GENERAL", text="digest")["ts"]
    history = client.conversations_history(channel="C0GENERAL", oldest="0")
    assert [m["ts"] for m in history["messages"]] == [ts]
    assert client.conversations_history(channel="G0SECRET")["messages"] == []  # groups:history
    with SlackDouble(scopes={"chat:write", "channels:history"}) as narrow:
        narrow.add_channel("G0SECRET", "secret", private=True)
        with pytest.raises(SlackApiError) as err:
            client_for(narrow).conversations_history(channel="G0SECRET")
        assert (err.value.response["error"], err.value.response["needed"]) == ("missing_scope", "groups:history")
