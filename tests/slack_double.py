"""An honest local stand-in for the Slack Web API, plus helpers to sign requests to a Bolt app.

No real Slack workspace is reachable from csbot's tests, so the Slack side is tested the way
slack_bolt tests itself: a small real HTTP server on 127.0.0.1 plays the Slack Web API, and
requests *to* the app are signed with the signing secret exactly as Slack signs them.

How a test uses it::

    from slack_double import SlackDouble, sign, slash_command_body, bolt_request

    def test_churn_command_answers_in_channel():
        with SlackDouble() as slack:
            # 1. Point the code under test at the double: either a client ...
            client = WebClient(token=slack.bot_token, base_url=slack.api_url)
            #    ... or the setting csbot reads:  SLACK_API_URL=slack.api_url
            app = build_app(..., client=client)

            # 2. Build the request Slack would send, with a response_url on the double.
            body = slash_command_body("/churn", "last-month", response_url=slack.response_url("r1"))

            # 3. Sign it and dispatch it to the Bolt app.
            response = app.dispatch(bolt_request(body, sign(SECRET, body)))
            assert response.status == 200

            # 4. Wait for what the app sends back (listeners run in a thread after ack()).
            [posted] = slack.wait_for("response_url")
            assert "churn" in posted.json["text"]

The double keeps to the real API's contract: the same paths (``/api/chat.postMessage``), the request
encodings slack_sdk sends (form, JSON or multipart; token in ``Authorization: Bearer``), the same
response shapes, and the same errors (``not_authed``, ``invalid_auth``, ``channel_not_found``,
``not_in_channel``, ``no_text``, ``invalid_blocks``, ``msg_too_long``, HTTP 429 with ``Retry-After``
and ``{"ok": false, "error": "ratelimited"}``, ``unknown_method`` ...). Failures are injected with
``fail_next``, ``rate_limit_next`` and ``delay_next``.

It is as strict as Slack where csbot's tests lean on it, so that a call that works here works there:

- every ``blocks`` payload (messages, response_url, views) is parsed with slack_sdk's Block Kit models
  and checked against the documented limits (``block_errors``) -> ``invalid_blocks``;
- an ephemeral message with ``thread_ts`` of a message that has no replies is taken (ok) but never
  shown; ``visible_to(user)`` lists what a person actually sees (``user_posted(event)`` records a
  person's message, so a reply makes its thread exist);
- a ``response_url`` is issued for a user and channel, takes 5 messages within 30 minutes (the
  double's clock moves with ``advance``), then answers HTTP 404 ``used_url`` / ``expired_url``;
- a method whose scope the app lacks answers ``missing_scope`` with ``needed`` (the scopes default
  to csbot's manifest); users.info gives an e-mail only with ``users:read.email``;
- ``not_in_channel`` where the bot has not joined (``join``, ``add_channel`` change membership);
- chat.postMessage is paced per channel (about one a second with a small burst, then HTTP 429).

Every request is recorded as a :class:`Call` (also failed and rate-limited ones), in arrival order.
``Call.headers`` is case-insensitive (``call.headers["authorization"]`` and
``call.headers["Authorization"]`` both work).

A pytest fixture is provided: ``from slack_double import slack_double`` in a test module, then take
``slack_double`` as an argument.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import hmac
import itertools
import json
import logging
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0APP"
TEAM_ID = "T0TEAM"
TEAM_DOMAIN = "csbot-test"
TEAM_NAME = "csbot test workspace"

MAX_BLOCKS_MESSAGE = 50
MAX_BLOCKS_VIEW = 100
MAX_TEXT = 40_000
MAX_ATTACHMENTS = 100
RESPONSE_URL_MAX_USES = 5
RESPONSE_URL_TTL = 30 * 60  # seconds: Slack accepts a response_url for 30 minutes ...
# ... and up to 5 times. Block Kit limits (Block Kit reference) that slack_sdk's models do not check:
MAX_SECTION_FIELD = 2000
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
POST_RATE_PER_CHANNEL = 1.0  # chat.postMessage: about one message per second per channel ...
POST_BURST_PER_CHANNEL = 4  # ... with a short burst allowed
_TS_BASE_MICROS = 1_732_240_000 * 1_000_000


# --------------------------------------------------------------------------------------------
# Recorded traffic
# --------------------------------------------------------------------------------------------


class Headers(dict):
    """A dict of request headers whose keys are stored lower-case and looked up case-insensitively."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()):
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)


@dataclass(frozen=True)
class Call:
    """One request the double received.

    ``method`` is the Web API method ("chat.postMessage"), or "response_url" / "upload" for posts
    to a response_url or to a file upload URL. ``params`` merges the query string with the form,
    multipart or JSON body (JSON values keep their types; form values are strings). ``json`` is the
    parsed JSON body, or None when the body was not JSON.
    """

    method: str
    path: str
    params: dict
    headers: dict
    json: Any
    time: float


# --------------------------------------------------------------------------------------------
# The double
# --------------------------------------------------------------------------------------------


class _ApiError(Exception):
    def __init__(self, error: str, status: int = 200, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers
        self.extra = extra


# --------------------------------------------------------------------------------------------
# What Slack checks before it takes a message: Block Kit, scopes
# --------------------------------------------------------------------------------------------


def block_errors(blocks: Any, limit: int = MAX_BLOCKS_MESSAGE) -> list[str]:
    """Why Slack would answer ``invalid_blocks`` for ``blocks`` (empty: it would take them).

    Each block is parsed with slack_sdk's models (``Block.parse``) and checked with ``validate_json()``
    (section text 3000, 10 fields, header 150, block_id 255 ...); then the documented limits those models
    leave out: each section field 2000, a header's text plain_text, button text 75 and value 2000, action_id
    255 and unique in the message, no empty text object; at most ``limit`` blocks (50 in a message, 100 in
    a modal or the App Home)."""
    from slack_sdk.models.blocks import Block

    if not isinstance(blocks, list):
        return ["blocks must be an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"no more than {limit} items allowed [json-pointer:/blocks]")
    action_ids: set[str] = set()
    for i, raw in enumerate(blocks):
        where = f"[json-pointer:/blocks/{i}]"
        if not isinstance(raw, dict):
            errors.append(f"must be an object {where}")
            continue
        try:
            block = Block.parse(raw)
            if block is None:
                errors.append(f"unknown block type {raw.get('type')!r} {where}")
                continue
            block.validate_json()
        except Exception as exc:  # SlackObjectFormationError, or a missing required field (TypeError)
            errors.append(f"{exc} {where}")
            continue
        errors.extend(_limits_slack_sdk_leaves_out(raw, where, action_ids))
    return errors


def _text_errors(obj: Any, where: str, max_len: int | None = None) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return [f"must be a text object {where}"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"must be more than 0 characters {where}"]
    if max_len is not None and len(text) > max_len:
        return [f"must be less than {max_len + 1} characters {where}"]
    return []


def _limits_slack_sdk_leaves_out(raw: dict, where: str, action_ids: set[str]) -> list[str]:
    errors: list[str] = []
    kind = raw.get("type")
    if kind == "section":
        if "text" in raw:
            errors += _text_errors(raw["text"], where[:-1] + "/text]")
        for j, field in enumerate(raw.get("fields") or []):
            errors += _text_errors(field, where[:-1] + f"/fields/{j}]", MAX_SECTION_FIELD)
    if kind == "header":
        text = raw.get("text") or {}
        if text.get("type") != "plain_text":
            errors.append(f"must be plain_text {where[:-1]}/text/type]")
        errors += _text_errors(text, where[:-1] + "/text]")
    if kind == "context":
        for j, element in enumerate(raw.get("elements") or []):
            if isinstance(element, dict) and element.get("type") in ("plain_text", "mrkdwn"):
                errors += _text_errors(element, where[:-1] + f"/elements/{j}]")
    elements = list(raw.get("elements") or []) if kind == "actions" else []
    if kind == "section" and isinstance(raw.get("accessory"), dict):
        elements.append(raw["accessory"])
    for j, element in enumerate(elements):
        at = where[:-1] + f"/elements/{j}]"
        if not isinstance(element, dict):
            errors.append(f"must be an object {at}")
            continue
        action_id = element.get("action_id")
        if action_id is not None:
            if not isinstance(action_id, str) or not action_id or len(action_id) > MAX_ACTION_ID:
                errors.append(f"action_id must be 1 to {MAX_ACTION_ID} characters {at}")
            elif action_id in action_ids:
                errors.append(f"action_id {action_id!r} already exists {at}")
            else:
                action_ids.add(action_id)
        if element.get("type") == "button":
            text = element.get("text") or {}
            if text.get("type") != "plain_text":
                errors.append(f"must be plain_text {at[:-1]}/text/type]")
            errors += _text_errors(text, at[:-1] + "/text]", MAX_BUTTON_TEXT)
            value = element.get("value")
            if value is not None and (not isinstance(value, str) or len(value) > MAX_BUTTON_VALUE):
                errors.append(f"must be less than {MAX_BUTTON_VALUE + 1} characters {at[:-1]}/value]")
    return errors


# The bot scope each Web API method needs (Slack's method reference); the double answers
# ``missing_scope`` with ``needed`` and ``provided`` when the app (its manifest) lacks it.
METHOD_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "conversations.join": "channels:join",
    "users.info": "users:read",
    "users.lookupByEmail": "users:read.email",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
}
# Methods whose scope depends on the kind of conversation (public, private, DM, group DM).
CONVERSATION_SCOPES = {
    "conversations.info": "read",
    "conversations.history": "history",
    "conversations.replies": "history",
}


def manifest_scopes() -> frozenset[str]:
    """The bot scopes csbot's manifest asks for (``bot/slack/manifest.py``): what the double grants by default."""
    from bot.slack.manifest import BOT_SCOPES

    return frozenset(BOT_SCOPES)


def _conversation_scope(info: dict, action: str) -> str:
    if info.get("is_im"):
        return f"im:{action}"
    if info.get("is_mpim"):
        return f"mpim:{action}"
    return f"groups:{action}" if info.get("is_private") else f"channels:{action}"


@dataclass(frozen=True)
class Shown:
    """A message as a person sees it in Slack (``SlackDouble.visible_to``): a bot post in a channel or
    thread, an ephemeral message shown to them, or a message posted on a response_url."""

    channel: str
    kind: str  # message | ephemeral
    text: str
    blocks: tuple
    thread_ts: str | None = None
    via: str = "api"  # api | response_url

    @property
    def all_text(self) -> str:
        return self.text + json.dumps(list(self.blocks), ensure_ascii=False)


def _default_channels() -> dict[str, dict]:
    return {
        "C0GENERAL": {"id": "C0GENERAL", "name": "general", "is_member": True, "is_im": False},
        "C0REVENUE": {"id": "C0REVENUE", "name": "cs-revenue", "is_member": True, "is_im": False},
        "C0NOTMEMBER": {"id": "C0NOTMEMBER", "name": "random", "is_member": False, "is_im": False},
        "D0DM": {"id": "D0DM", "name": "", "is_member": True, "is_im": True, "user": "U0ALICE"},
    }


def _default_users() -> dict[str, dict]:
    return {
        "U0ALICE": {"id": "U0ALICE", "name": "alice", "real_name": "Alice Sato",
                    "email": "alice@example.com", "tz": "Asia/Tokyo"},
        "U0BOB": {"id": "U0BOB", "name": "bob", "real_name": "Bob Smith",
                  "email": "bob@example.com", "tz": "America/New_York"},
        BOT_USER_ID: {"id": BOT_USER_ID, "name": "csbot", "real_name": "csbot", "email": None,
                      "tz": "America/Los_Angeles", "is_bot": True},
    }


@dataclass
class _Upload:
    file_id: str
    filename: str
    length: int
    alt_txt: str | None = None
    data: bytes | None = None
    completed: bool = False


class SlackDouble:
    """A real HTTP server on 127.0.0.1 that answers like the Slack Web API.

    Use as a context manager (``with SlackDouble() as slack:``) or call ``start()`` / ``stop()``.
    State (``channels``, ``users``, ``messages``) can be edited freely before or during a test.
    """

    bot_token = BOT_TOKEN
    app_token = APP_TOKEN
    bot_user_id = BOT_USER_ID
    bot_id = BOT_ID
    app_id = APP_ID
    team_id = TEAM_ID
    team_domain = TEAM_DOMAIN

    def __init__(self, valid_tokens: Iterable[str] | None = None, chat_write_public: bool = False,
                 scopes: Iterable[str] | None = None, post_rate: float = POST_RATE_PER_CHANNEL,
                 post_burst: int = POST_BURST_PER_CHANNEL):
        """``valid_tokens``: if given, only these tokens are accepted (others -> ``invalid_auth``);
        by default any ``xoxb-``/``xoxp-`` token is accepted for Web API methods and any ``xapp-``
        token for ``apps.connections.open``. ``chat_write_public``: act as if the app had the
        chat:write.public scope (posting to public channels it is not in is then allowed).
        ``scopes``: the bot scopes granted (default: those csbot's manifest asks for); a method
        needing another one answers ``missing_scope``. ``post_rate``/``post_burst``: chat.postMessage
        per channel (messages per second sustained, and the burst) before HTTP 429."""
        self.valid_tokens: set[str] | None = set(valid_tokens) if valid_tokens is not None else None
        self.chat_write_public = chat_write_public
        self.scopes: frozenset[str] = frozenset(scopes) if scopes is not None else manifest_scopes()
        self.post_rate = post_rate
        self.post_burst = post_burst
        self.clock_offset = 0.0  # seconds added to the wall clock (``advance``)
        self.threads: set[tuple[str, str]] = set()  # (channel, parent ts) of threads that have replies
        self.ephemerals: list[dict] = []  # every ephemeral message taken, with "shown": False when invisible
        self.responses: list[dict] = []  # every message taken on a response_url
        self._response_urls: dict[str, dict] = {}  # name -> {"issued", "user", "channel"}
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, at)
        self.channels: dict[str, dict] = _default_channels()
        self.users: dict[str, dict] = _default_users()
        self.messages: dict[tuple[str, str], dict] = {}
        self.home_views: dict[str, dict] = {}
        self.opened_views: list[dict] = []
        self.uploads: dict[str, _Upload] = {}
        self.calls: list[Call] = []
        self._lock = threading.RLock()
        self._arrived = threading.Condition(self._lock)
        self._failures: dict[str, deque] = defaultdict(deque)
        self._rate_limits: dict[str, deque] = defaultdict(deque)
        self._delays: dict[str, deque] = defaultdict(deque)
        self._ts_counter = itertools.count(1)
        self._id_counter = itertools.count(1)
        self._response_url_uses: dict[str, int] = defaultdict(int)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> "SlackDouble":
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.double = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="slack-double", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # ends any delay_next sleep at once
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> "SlackDouble":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("SlackDouble is not running: use it as `with SlackDouble() as slack:`")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """Give this to ``WebClient(base_url=...)`` or the SLACK_API_URL setting."""
        return f"{self.base_url}/api/"

    def response_url(self, name: str = "r1", user: str = "U0ALICE", channel: str = "C0GENERAL") -> str:
        """A Slack-style response_url on this server, issued now for ``user`` in ``channel`` (as Slack
        issues one with each slash command and click); posts to it are recorded as method "response_url".
        It takes 5 messages within 30 minutes (``advance`` moves the double's clock), then answers
        HTTP 404 ``used_url`` / ``expired_url``."""
        with self._lock:
            self._response_urls.setdefault(name, {"issued": self.now(), "user": user, "channel": channel})
        return f"{self.base_url}/commands/{self.team_id}/{name}"

    # ---------------------------------------------------------------- the double's clock, and the workspace

    def now(self) -> float:
        """The double's clock (epoch seconds): the wall clock moved on by ``advance``."""
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the double's clock on (response_url expiry, the per-channel post rate)."""
        with self._lock:
            self.clock_offset += seconds

    def add_channel(self, channel_id: str, name: str, *, member: bool = True, private: bool = False,
                    mpim: bool = False, members: Iterable[str] | None = None) -> dict:
        """A channel (``private``: a private channel; ``mpim``: a group DM). ``member``: the bot is in it.
        ``members``: the people who see it (default: everyone)."""
        with self._lock:
            info = {"id": channel_id, "name": name, "is_member": member, "is_im": False,
                    "is_private": private or mpim, "is_mpim": mpim}
            if members is not None:
                info["members"] = set(members)
            self.channels[channel_id] = info
            return info

    def join(self, channel_id: str) -> None:
        """The bot is invited to ``channel_id``."""
        with self._lock:
            self.channels[channel_id]["is_member"] = True

    def rename_channel(self, channel_id: str, new_name: str) -> None:
        with self._lock:
            self.channels[channel_id]["name"] = new_name

    def user_posted(self, event: dict) -> dict:
        """Record a person's message (e.g. an ``app_mention_event``) as Slack would have it: a reply
        (``thread_ts`` set) makes its parent a thread that has replies. Returns ``event``."""
        with self._lock:
            if event.get("thread_ts") and event.get("channel"):
                self.threads.add((str(event["channel"]), str(event["thread_ts"])))
        return event

    def _sees_channel(self, user: str, channel: str) -> bool:
        info = self.channels.get(channel) or {}
        if info.get("is_im"):
            return info.get("user") == user
        members = info.get("members")
        return members is None or user in members

    def visible_to(self, user: str) -> list[Shown]:
        """Every message ``user`` sees, in the order they were taken: bot posts in the channels they see,
        ephemeral messages to them that Slack showed (not one in a thread that had no replies), and
        response_url messages (ephemeral: only the person the URL was issued to; in_channel: everyone)."""
        with self._lock:
            seen: list[tuple[float, Shown]] = []
            for (channel, ts), msg in self.messages.items():
                if self._sees_channel(user, channel):
                    seen.append((float(ts), Shown(channel, "message", msg.get("text") or "",
                                                   tuple(msg.get("blocks") or ()), msg.get("thread_ts"))))
            for e in self.ephemerals:
                if e["user"] == user and e["shown"]:
                    seen.append((float(e["ts"]), Shown(e["channel"], "ephemeral", e["text"], tuple(e["blocks"]),
                                                e["thread_ts"])))
            for r in self.responses:
                public = r["response_type"] == "in_channel"
                if (public and self._sees_channel(user, r["channel"])) or (not public and r["user"] == user):
                    seen.append((float(r["ts"]), Shown(r["channel"], "message" if public else "ephemeral", r["text"],
                                                tuple(r["blocks"]), None, via="response_url")))
            return [s for _, s in sorted(seen, key=lambda pair: pair[0])]

    def visible_in(self, channel: str, user: str) -> list[Shown]:
        return [s for s in self.visible_to(user) if s.channel == channel]

    # ---------------------------------------------------------------- recorded traffic

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait until at least ``count`` calls to ``method`` arrived; return them all.

        Raises AssertionError listing what was received when the time runs out."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = [c for c in self.calls if c.method == method]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [c.method for c in self.calls]
                    raise AssertionError(
                        f"expected {count} call(s) to {method} within {timeout}s, got {len(found)}; "
                        f"received: {seen or 'nothing'}"
                    )
                self._arrived.wait(left)

    def reset(self) -> None:
        """Forget recorded calls, posted messages, views, uploads and pending injected failures.
        Channels and users are put back to the defaults."""
        with self._lock:
            self.calls.clear()
            self.messages.clear()
            self.home_views.clear()
            self.opened_views.clear()
            self.uploads.clear()
            self._failures.clear()
            self._rate_limits.clear()
            self._delays.clear()
            self._response_url_uses.clear()
            self._response_urls.clear()
            self._buckets.clear()
            self.threads.clear()
            self.ephemerals.clear()
            self.responses.clear()
            self.clock_offset = 0.0
            self.channels = _default_channels()
            self.users = _default_users()

    # ---------------------------------------------------------------- failure injection

    def fail_next(self, method: str, error: str, times: int = 1) -> None:
        """The next ``times`` calls to ``method`` answer ``{"ok": false, "error": error}``."""
        with self._lock:
            self._failures[method].extend([error] * times)

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next ``times`` calls to ``method`` get HTTP 429 with ``Retry-After: retry_after``."""
        with self._lock:
            self._rate_limits[method].extend([int(retry_after)] * times)

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` calls to ``method`` answer only after ``seconds`` (to provoke timeouts)."""
        with self._lock:
            self._delays[method].extend([float(seconds)] * times)

    # ---------------------------------------------------------------- internals used by the handler

    def _record(self, call: Call) -> None:
        with self._arrived:
            self.calls.append(call)
            self._arrived.notify_all()

    def _take(self, queues: dict[str, deque], method: str) -> Any:
        with self._lock:
            q = queues.get(method)
            if q:
                return q.popleft()
            return None

    def _next_ts(self) -> str:
        with self._lock:
            micros = _TS_BASE_MICROS + 100 * next(self._ts_counter)
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}0{next(self._id_counter):08d}"

    # ---------------------------------------------------------------- Web API

    def _check_token(self, method: str, params: dict, headers: Headers) -> str:
        auth = headers.get("authorization") or ""
        token = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else ""
        token = token or str(params.get("token") or "").strip()
        if not token:
            raise _ApiError("not_authed")
        if self.valid_tokens is not None:
            if token not in self.valid_tokens:
                raise _ApiError("invalid_auth")
        elif not token.startswith(("xoxb-", "xoxp-", "xapp-")):
            raise _ApiError("invalid_auth")
        is_app_token = token.startswith("xapp-")
        if method == "apps.connections.open" and not is_app_token:
            raise _ApiError("not_allowed_token_type")
        if method != "apps.connections.open" and is_app_token:
            raise _ApiError("not_allowed_token_type")
        return token

    def _api(self, method: str, params: dict, headers: Headers) -> dict:
        self._check_token(method, params, headers)
        injected = self._take(self._failures, method)
        if injected is not None:
            raise _ApiError(injected)
        handler = _METHODS.get(method)
        if handler is None:
            raise _ApiError("unknown_method", req_method=method)
        with self._lock:
            self._need_scope(METHOD_SCOPES.get(method))
            return handler(self, params)

    def _need_scope(self, scope: str | None) -> None:
        if scope and scope not in self.scopes:
            raise _ApiError("missing_scope", needed=scope, provided=",".join(sorted(self.scopes)))

    def _post_allowed(self, channel: str) -> None:
        """chat.postMessage's per-channel pace: a token bucket (``post_burst`` tokens, ``post_rate`` a second)."""
        now = self.now()
        tokens, at = self._buckets.get(channel, (float(self.post_burst), now))
        tokens = min(float(self.post_burst), tokens + (now - at) * self.post_rate)
        if tokens < 1.0:
            self._buckets[channel] = (tokens, now)
            wait = max(1, int((1.0 - tokens) / self.post_rate + 0.999))
            raise _ApiError("ratelimited", status=429, headers={"Retry-After": str(wait)})
        self._buckets[channel] = (tokens - 1.0, now)

    # ---- helpers

    def _find_channel(self, ref: Any) -> dict | None:
        if not ref:
            return None
        ref = str(ref)
        if ref in self.channels:
            return self.channels[ref]
        if ref in self.users:  # posting to a user id goes to the app's DM with that user
            return self._im_with(ref)
        name = ref[1:] if ref.startswith("#") else ref
        for info in self.channels.values():
            if not info.get("is_im") and info.get("name") and info["name"] == name:
                return info
        return None

    def _im_with(self, user_id: str, create: bool = True) -> dict | None:
        for info in self.channels.values():
            if info.get("is_im") and info.get("user") == user_id:
                return info
        if not create:
            return None
        cid = self._next_id("D")
        info = {"id": cid, "name": "", "is_member": True, "is_im": True, "user": user_id}
        self.channels[cid] = info
        return info

    def _channel_for_write(self, ref: Any) -> dict:
        info = self._find_channel(ref)
        if info is None:
            raise _ApiError("channel_not_found")
        if info.get("is_archived"):
            raise _ApiError("is_archived")
        if info.get("is_im") or info.get("is_member"):
            return info
        if info.get("is_private"):
            raise _ApiError("channel_not_found")  # private channels the bot is not in are invisible
        if not self.chat_write_public:
            raise _ApiError("not_in_channel")
        return info

    def _channel_object(self, info: dict) -> dict:
        created = 1_700_000_000
        if info.get("is_im"):
            return {
                "id": info["id"], "created": created, "is_im": True, "is_org_shared": False,
                "user": info.get("user"), "is_user_deleted": False, "priority": 0,
                "context_team_id": self.team_id,
            }
        private = bool(info.get("is_private"))
        return {
            "id": info["id"], "name": info.get("name", ""), "name_normalized": info.get("name", ""),
            "is_channel": not private, "is_group": private, "is_im": False, "is_mpim": False,
            "is_private": private, "created": created, "is_archived": bool(info.get("is_archived")),
            "is_general": info.get("name") == "general", "unlinked": 0, "is_shared": False,
            "is_org_shared": False, "is_ext_shared": False, "is_pending_ext_shared": False,
            "is_member": bool(info.get("is_member")), "creator": "U0ALICE", "context_team_id": self.team_id,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
        }

    def _user_object(self, info: dict) -> dict:
        tz_name = info.get("tz") or "UTC"
        now = datetime.now(timezone.utc).astimezone(ZoneInfo(tz_name))
        offset = int(now.utcoffset().total_seconds()) if now.utcoffset() is not None else 0
        profile = {
            "real_name": info.get("real_name", info.get("name", "")),
            "display_name": info.get("name", ""),
            "real_name_normalized": info.get("real_name", info.get("name", "")),
            "display_name_normalized": info.get("name", ""),
            "team": self.team_id,
        }
        if info.get("email") and "users:read.email" in self.scopes:  # as Slack: e-mail only with that scope
            profile["email"] = info["email"]
        if info.get("is_bot"):
            profile["bot_id"] = self.bot_id
        return {
            "id": info["id"], "team_id": self.team_id, "name": info.get("name", ""),
            "deleted": bool(info.get("deleted", False)), "real_name": profile["real_name"],
            "tz": tz_name, "tz_label": now.tzname() or tz_name, "tz_offset": offset, "profile": profile,
            "is_admin": False, "is_owner": False, "is_primary_owner": False,
            "is_restricted": bool(info.get("is_restricted", False)),
            "is_ultra_restricted": bool(info.get("is_ultra_restricted", False)), "is_bot": bool(info.get("is_bot", False)),
            "is_app_user": False, "updated": 1_700_000_000,
        }

    def _bot_message(self, ts: str, params: dict, blocks: list | None, attachments: list | None) -> dict:
        msg: dict[str, Any] = {
            "user": self.bot_user_id, "type": "message", "ts": ts, "bot_id": self.bot_id,
            "app_id": self.app_id, "text": params.get("text") or "", "team": self.team_id,
            "bot_profile": {"id": self.bot_id, "app_id": self.app_id, "name": "csbot", "deleted": False,
                            "team_id": self.team_id, "updated": 1_700_000_000},
        }
        if blocks:
            msg["blocks"] = blocks
        if attachments:
            msg["attachments"] = attachments
        if params.get("thread_ts"):
            msg["thread_ts"] = str(params["thread_ts"])
            msg["parent_user_id"] = self.bot_user_id
        if params.get("metadata"):
            msg["metadata"] = _maybe_json(params["metadata"])
        return msg

    def _validate_content(self, params: dict, require_content: bool = True) -> tuple[list | None, list | None]:
        blocks = _json_param(params, "blocks", "invalid_blocks_format")
        attachments = _json_param(params, "attachments", "invalid_attachments")
        if blocks is not None and not isinstance(blocks, list):
            raise _ApiError("invalid_blocks_format")
        if attachments is not None and not isinstance(attachments, list):
            raise _ApiError("invalid_attachments")
        text = params.get("text")
        if require_content and not text and not blocks and not attachments:
            raise _ApiError("no_text")
        if blocks is not None:
            errors = block_errors(blocks, MAX_BLOCKS_MESSAGE)
            if errors:
                raise _ApiError("invalid_blocks", response_metadata={"messages": [f"[ERROR] {e}" for e in errors]})
        if attachments is not None and len(attachments) > MAX_ATTACHMENTS:
            raise _ApiError("too_many_attachments")
        if text and len(str(text)) > MAX_TEXT:
            raise _ApiError("msg_too_long")
        return blocks, attachments

    def _view_object(self, view: dict, kind: str) -> dict:
        vid = self._next_id("V")
        return {
            "id": vid, "team_id": self.team_id, "type": view.get("type", kind),
            "title": view.get("title"), "close": view.get("close"), "submit": view.get("submit"),
            "blocks": view.get("blocks", []), "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""), "external_id": view.get("external_id", ""),
            "state": {"values": {}}, "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": vid, "previous_view_id": None, "app_id": self.app_id,
            "app_installed_team_id": self.team_id, "bot_id": self.bot_id,
        }

    def _parse_view(self, params: dict, kind: str) -> dict:
        view = _json_param(params, "view", "invalid_arguments")
        if not isinstance(view, dict):
            raise _ApiError("invalid_arguments", response_metadata={
                "messages": ["[ERROR] must provide an object [json-pointer:/view]"]})
        if view.get("type") != kind:
            raise _ApiError("invalid_arguments", response_metadata={
                "messages": [f"[ERROR] must be '{kind}' [json-pointer:/view/type]"]})
        errors = block_errors(view.get("blocks") or [], MAX_BLOCKS_VIEW)
        if errors:
            raise _ApiError("invalid_arguments", response_metadata={
                "messages": [f"[ERROR] {e}".replace("json-pointer:/blocks", "json-pointer:/view/blocks") for e in errors]})
        return view

    # ---- methods (called with the lock held)

    def _auth_test(self, params: dict) -> dict:
        return {
            "url": f"https://{self.team_domain}.slack.com/", "team": TEAM_NAME, "user": "csbot",
            "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: dict) -> dict:
        info = self._channel_for_write(params.get("channel"))
        blocks, attachments = self._validate_content(params)
        self._post_allowed(info["id"])
        ts = self._next_ts()
        msg = self._bot_message(ts, params, blocks, attachments)
        self.messages[(info["id"], ts)] = msg
        if params.get("thread_ts"):
            self.threads.add((info["id"], str(params["thread_ts"])))
        return {"channel": info["id"], "ts": ts, "message": msg}

    def _chat_post_ephemeral(self, params: dict) -> dict:
        info = self._channel_for_write(params.get("channel"))
        user = params.get("user")
        if not user or user not in self.users:
            raise _ApiError("user_not_found")
        if not self._sees_channel(str(user), info["id"]):
            raise _ApiError("user_not_in_channel")
        blocks, _ = self._validate_content(params)
        ts = self._next_ts()
        thread_ts = str(params["thread_ts"]) if params.get("thread_ts") else None
        # Slack takes it (ok: true) but shows an ephemeral message in a thread only when that thread
        # already has replies: one with thread_ts of a top-level message nobody answered is never seen.
        shown = thread_ts is None or (info["id"], thread_ts) in self.threads
        self.ephemerals.append({"channel": info["id"], "user": str(user), "text": params.get("text") or "",
                                "blocks": blocks or [], "thread_ts": thread_ts, "shown": shown, "ts": ts})
        return {"message_ts": ts}

    def _existing_message(self, params: dict, ts_key: str) -> tuple[dict, str]:
        info = self._find_channel(params.get("channel"))
        if info is None:
            raise _ApiError("channel_not_found")
        ts = str(params.get(ts_key) or "")
        if (info["id"], ts) not in self.messages:
            raise _ApiError("message_not_found")
        return info, ts

    def _chat_update(self, params: dict) -> dict:
        info, ts = self._existing_message(params, "ts")
        blocks, attachments = self._validate_content(params)
        old = self.messages[(info["id"], ts)]
        msg = self._bot_message(ts, {**params, "thread_ts": old.get("thread_ts")}, blocks, attachments)
        msg["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        self.messages[(info["id"], ts)] = msg
        return {"channel": info["id"], "ts": ts, "text": msg["text"], "message": msg}

    def _chat_delete(self, params: dict) -> dict:
        info, ts = self._existing_message(params, "ts")
        del self.messages[(info["id"], ts)]
        return {"channel": info["id"], "ts": ts}

    def _chat_get_permalink(self, params: dict) -> dict:
        info, ts = self._existing_message(params, "message_ts")
        return {
            "channel": info["id"],
            "permalink": f"https://{self.team_domain}.slack.com/archives/{info['id']}/p{ts.replace('.', '')}",
        }

    def _conversations_info(self, params: dict) -> dict:
        info = self._find_channel(params.get("channel"))
        if info is None or (info.get("is_private") and not info.get("is_member")):
            raise _ApiError("channel_not_found")
        self._need_scope(_conversation_scope(info, "read"))
        return {"channel": self._channel_object(info)}

    def _conversations_list(self, params: dict) -> dict:
        """Public channels, and the private channels and group DMs the bot is in, by ``types``;
        paginated by ``limit`` and ``cursor`` (the next one in ``response_metadata.next_cursor``)."""
        types = [t.strip() for t in str(params.get("types") or "public_channel").split(",") if t.strip()]
        scope_of = {"public_channel": "channels:read", "private_channel": "groups:read", "mpim": "mpim:read",
                    "im": "im:read"}
        for kind in types:
            if kind not in scope_of:
                raise _ApiError("invalid_types")
            self._need_scope(scope_of[kind])
        exclude_archived = str(params.get("exclude_archived", "")).lower() in ("1", "true")

        def kind_of(info: dict) -> str:
            if info.get("is_im"):
                return "im"
            if info.get("is_mpim"):
                return "mpim"
            return "private_channel" if info.get("is_private") else "public_channel"

        found = [info for info in self.channels.values()
                 if kind_of(info) in types and (kind_of(info) == "public_channel" or info.get("is_member"))
                 and not (exclude_archived and info.get("is_archived"))]
        limit = max(1, min(int(params.get("limit") or 100), 1000))
        start = int(params.get("cursor") or 0)
        page = found[start:start + limit]
        following = str(start + limit) if start + limit < len(found) else ""
        return {"channels": [self._channel_object(i) for i in page], "response_metadata": {"next_cursor": following}}

    def _conversations_history(self, params: dict) -> dict:
        """The bot's posts in a channel, newest first, between ``oldest`` and ``latest``."""
        info = self._find_channel(params.get("channel"))
        if info is None or (info.get("is_private") and not info.get("is_member")):
            raise _ApiError("channel_not_found")
        self._need_scope(_conversation_scope(info, "history"))
        if not (info.get("is_member") or info.get("is_im")):
            raise _ApiError("not_in_channel")
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or 9e12)
        inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
        limit = max(1, min(int(params.get("limit") or 100), 1000))

        def within(ts: str) -> bool:
            t = float(ts)
            return (oldest <= t <= latest) if inclusive else (oldest < t < latest)

        msgs = sorted(((ts, m) for (ch, ts), m in self.messages.items()
                       if ch == info["id"] and within(ts) and m.get("thread_ts") in (None, ts)),
                      key=lambda pair: float(pair[0]), reverse=True)
        return {"messages": [m for _, m in msgs[:limit]], "has_more": len(msgs) > limit,
                "response_metadata": {"next_cursor": ""}}

    def _conversations_join(self, params: dict) -> dict:
        info = self._find_channel(params.get("channel"))
        if info is None or (info.get("is_private") and not info.get("is_member")):
            raise _ApiError("channel_not_found")
        if info.get("is_im") or info.get("is_private"):
            raise _ApiError("method_not_supported_for_channel_type")
        if info.get("is_archived"):
            raise _ApiError("is_archived")
        out: dict[str, Any] = {}
        if info.get("is_member"):
            out = {"warning": "already_in_channel", "response_metadata": {"warnings": ["already_in_channel"]}}
        info["is_member"] = True
        return {"channel": self._channel_object(info), **out}

    def _conversations_open(self, params: dict) -> dict:
        return_im = str(params.get("return_im", "")).lower() in ("1", "true")
        if params.get("channel"):
            self._need_scope("im:write")
            info = self.channels.get(str(params["channel"]))
            if info is None or not info.get("is_im"):
                raise _ApiError("channel_not_found")
            return {"no_op": True, "already_open": True,
                    "channel": self._channel_object(info) if return_im else {"id": info["id"]}}
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise _ApiError("users_list_not_supplied")
        self._need_scope("mpim:write" if len(users) > 1 else "im:write")
        for u in users:
            if u not in self.users:
                raise _ApiError("user_not_found")
        if len(users) > 8:
            raise _ApiError("too_many_users")
        if len(users) > 1:
            gid = self._next_id("G")
            self.channels[gid] = {"id": gid, "name": "mpdm-" + "--".join(users) + "-1", "is_member": True,
                                  "is_im": False, "is_mpim": True, "is_private": True}
            return {"channel": {"id": gid}}
        existing = self._im_with(users[0], create=False)
        info = existing or self._im_with(users[0])
        body: dict[str, Any] = {"channel": self._channel_object(info) if return_im else {"id": info["id"]}}
        if existing is not None:
            body.update({"no_op": True, "already_open": True})
        return body

    def _views_publish(self, params: dict) -> dict:
        user_id = params.get("user_id")
        if not user_id:
            raise _ApiError("invalid_arguments", response_metadata={
                "messages": ["[ERROR] missing required field: user_id"]})
        view = self._parse_view(params, "home")
        obj = self._view_object(view, "home")
        self.home_views[str(user_id)] = obj
        return {"view": obj}

    def _views_open(self, params: dict) -> dict:
        if not params.get("trigger_id"):
            raise _ApiError("invalid_arguments", response_metadata={
                "messages": ["[ERROR] missing required field: trigger_id"]})
        view = self._parse_view(params, "modal")
        obj = self._view_object(view, "modal")
        self.opened_views.append(obj)
        return {"view": obj}

    def _users_info(self, params: dict) -> dict:
        info = self.users.get(str(params.get("user") or ""))
        if info is None:
            raise _ApiError("user_not_found")
        user = self._user_object(info)
        if str(params.get("include_locale", "")).lower() in ("true", "1"):  # as Slack: only when asked
            user["locale"] = info.get("locale") or "en-US"
        return {"user": user}

    def _users_lookup_by_email(self, params: dict) -> dict:
        email = str(params.get("email") or "").strip().lower()
        for info in self.users.values():
            if info.get("email") and info["email"].lower() == email:
                return {"user": self._user_object(info)}
        raise _ApiError("users_not_found")

    def _files_get_upload_url_external(self, params: dict) -> dict:
        filename = params.get("filename")
        length = params.get("length")
        try:
            length_int = int(length)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            length_int = -1
        if not filename or length_int < 0:
            raise _ApiError("invalid_arguments")
        file_id = self._next_id("F")
        self.uploads[file_id] = _Upload(file_id, str(filename), length_int, params.get("alt_txt"))
        return {"upload_url": f"{self.base_url}/upload/v1/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, params: dict) -> dict:
        files = _json_param(params, "files", "invalid_arguments")
        if not isinstance(files, list) or not files:
            raise _ApiError("invalid_arguments")
        channel = params.get("channel_id") or None
        channels = [c for c in str(params.get("channels") or "").split(",") if c]
        targets = ([channel] if channel else []) + channels
        for ch in targets:
            self._channel_for_write(ch)
        out = []
        for f in files:
            up = self.uploads.get(str(f.get("id") if isinstance(f, dict) else ""))
            if up is None or up.data is None or up.completed:
                raise _ApiError("file_not_found")
        for f in files:
            up = self.uploads[f["id"]]
            up.completed = True
            title = f.get("title") or up.filename
            out.append({"id": up.file_id, "title": title, "name": up.filename, "size": len(up.data or b""),
                        "created": 1_700_000_000, "user": self.bot_user_id, "is_external": False})
        if targets:
            ts = self._next_ts()
            for ch in targets:
                info = self._find_channel(ch)
                text = params.get("initial_comment") or ""
                msg = self._bot_message(ts, {"text": text, "thread_ts": params.get("thread_ts")}, None, None)
                if params.get("thread_ts"):
                    self.threads.add((info["id"], str(params["thread_ts"])))  # type: ignore[index]
                msg["files"] = [{"id": o["id"], "title": o["title"]} for o in out]
                self.messages[(info["id"], ts)] = msg  # type: ignore[index]
        return {"files": out}

    def _apps_connections_open(self, params: dict) -> dict:
        return {"url": f"ws://127.0.0.1:{self.port}/link/?ticket={uuid.uuid4()}&app_id={self.app_id}"}

    # ---- non-API endpoints

    def _receive_upload(self, file_id: str, data: bytes) -> tuple[int, str]:
        with self._lock:
            up = self.uploads.get(file_id)
            if up is None or up.completed:
                return 404, "file not found"
            up.data = data
            return 200, f"OK - {len(data)}"

    def _receive_response_url(self, name: str, body: Any) -> tuple[int, str]:
        with self._lock:
            issued = self._response_urls.get(name)
            if issued is None:
                return 404, "invalid_url"  # never issued (a response_url is made by Slack, not guessed)
            if self.now() - issued["issued"] > RESPONSE_URL_TTL:
                return 404, "expired_url"
            if self._response_url_uses[name] >= RESPONSE_URL_MAX_USES:
                return 404, "used_url"
            if not isinstance(body, dict):
                return 400, "invalid_payload"
            if not body.get("delete_original") and not body.get("text") and not body.get("blocks") \
                    and not body.get("attachments"):
                return 400, "no_text"
            if body.get("blocks") is not None and block_errors(body["blocks"], MAX_BLOCKS_MESSAGE):
                return 400, "invalid_blocks"
            if body.get("text") and len(str(body["text"])) > MAX_TEXT:
                return 400, "msg_too_long"
            self._response_url_uses[name] += 1
            if not body.get("delete_original"):
                self.responses.append({
                    "channel": issued["channel"], "user": issued["user"], "ts": self._next_ts(),
                    "response_type": body.get("response_type") or "ephemeral",
                    "replace_original": body.get("replace_original"),
                    "text": body.get("text") or "", "blocks": body.get("blocks") or []})
            return 200, "ok"


_METHODS = {
    "auth.test": SlackDouble._auth_test,
    "chat.postMessage": SlackDouble._chat_post_message,
    "chat.postEphemeral": SlackDouble._chat_post_ephemeral,
    "chat.update": SlackDouble._chat_update,
    "chat.delete": SlackDouble._chat_delete,
    "chat.getPermalink": SlackDouble._chat_get_permalink,
    "conversations.info": SlackDouble._conversations_info,
    "conversations.list": SlackDouble._conversations_list,
    "conversations.history": SlackDouble._conversations_history,
    "conversations.join": SlackDouble._conversations_join,
    "conversations.open": SlackDouble._conversations_open,
    "views.publish": SlackDouble._views_publish,
    "views.open": SlackDouble._views_open,
    "users.info": SlackDouble._users_info,
    "users.lookupByEmail": SlackDouble._users_lookup_by_email,
    "files.getUploadURLExternal": SlackDouble._files_get_upload_url_external,
    "files.completeUploadExternal": SlackDouble._files_complete_upload_external,
    "apps.connections.open": SlackDouble._apps_connections_open,
}


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _json_param(params: dict, key: str, error: str) -> Any:
    """A parameter that slack_sdk sends JSON-encoded in forms but as a real value in JSON bodies."""
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _ApiError(error) from None
    return value


def _parse_body(content_type: str, raw: bytes) -> tuple[dict, Any]:
    """Return (params, json) for a request body in any encoding slack_sdk uses."""
    ctype = content_type.split(";")[0].strip().lower()
    if not raw:
        return {}, None
    if ctype == "application/json":
        parsed = json.loads(raw.decode("utf-8"))
        return (dict(parsed) if isinstance(parsed, dict) else {}), parsed
    if ctype == "multipart/form-data":
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
        )
        params: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if part.get_filename():
                params[name] = payload
            else:
                params[name] = payload.decode("utf-8")
        return params, None
    if ctype == "application/x-www-form-urlencoded":
        return {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}, None
    return {}, None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout test) closes its socket before the delayed answer is
        # written; that is expected, so log it quietly instead of printing a traceback.
        logger.debug("slack double: client %s went away", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server_version = "SlackDouble/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        logger.debug("slack double: " + format, *args)

    @property
    def double(self) -> SlackDouble:
        return self.server.double  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: dict, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json; charset=utf-8", extra)

    def _send_text(self, status: int, text: str) -> None:
        self._send(status, text.encode("utf-8"), "text/plain; charset=utf-8")

    def _handle(self) -> None:
        double = self.double
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = Headers(self.headers.items())
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        parts = [p for p in url.path.split("/") if p]

        if parts[:1] == ["api"] and len(parts) == 2:
            kind, name = "api", parts[1]
        elif parts[:2] == ["upload", "v1"] and len(parts) == 3:
            kind, name = "upload", parts[2]
        elif parts[:1] == ["commands"] and len(parts) == 3:
            kind, name = "response_url", parts[2]
        else:
            self._send_text(404, "not found")
            return

        body_json: Any = None
        bad_body = False
        if kind == "upload":
            params.update({"file_id": name, "size": len(raw)})
            method = "upload"
        else:
            content_type = headers.get("content-type") or ""
            if kind == "response_url" and raw:
                content_type = "application/json"  # response_url bodies are JSON whatever the header says
            try:
                body_params, body_json = _parse_body(content_type, raw)
            except (ValueError, UnicodeDecodeError):
                body_params, bad_body = {}, True
            params.update(body_params)
            method = name if kind == "api" else "response_url"

        double._record(Call(method, url.path, params, headers, body_json, time.time()))

        delay = double._take(double._delays, method)
        if delay:
            double._stopping.wait(delay)
        retry_after = double._take(double._rate_limits, method)
        if retry_after is not None:
            self._send_json(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
            return

        if kind == "upload":
            injected = double._take(double._failures, method)
            status, text = (500, injected) if injected else double._receive_upload(name, raw)
            self._send_text(status, text)
            return
        if kind == "response_url":
            injected = double._take(double._failures, method)
            if injected:
                self._send_text(404 if injected in ("used_url", "expired_url") else 400, injected)
            else:
                self._send_text(*double._receive_response_url(name, None if bad_body else body_json))
            return

        if bad_body:
            self._send_json(200, {"ok": False, "error": "invalid_json" if "json" in (
                headers.get("content-type") or "") else "invalid_form_data"})
            return

        try:
            payload = {"ok": True, **double._api(method, params, headers)}
            status = 200
        except _ApiError as err:
            payload = {"ok": False, "error": err.error, **err.extra}
            status, extra = err.status, err.headers
        except Exception:  # a bug in the double must show up as a failed call, not a hung client
            logger.exception("slack double failed on %s", method)
            payload, status, extra = {"ok": False, "error": "fatal_error"}, 500, None
        else:
            extra = None
        self._send_json(status, payload, extra)


# --------------------------------------------------------------------------------------------
# Requests TO the Bolt app, signed the way Slack signs them
# --------------------------------------------------------------------------------------------

_event_counter = itertools.count(1)


def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers for ``body`` signed with Slack's v0 scheme (HMAC-SHA256 of "v0:{ts}:{body}")."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode("utf-8"), f"v0:{ts}:{body}".encode("utf-8"), hashlib.sha256).hexdigest()
    content_type = "application/json" if body.lstrip().startswith("{") else "application/x-www-form-urlencoded"
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
    }


def _new_ts() -> str:
    n = next(_event_counter)
    return f"{int(time.time())}.{n:06d}"


def _trigger_id() -> str:
    return f"{int(time.time())}.{next(_event_counter)}.{uuid.uuid4().hex}"


_UNSET_RESPONSE_URL = "http://127.0.0.1:9/commands/unset"  # discard port: nothing outside this machine


def slash_command_body(
    command: str = "/churn",
    text: str = "last-month",
    user_id: str = "U0ALICE",
    channel_id: str = "C0GENERAL",
    response_url: str | None = None,
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
    channel_name: str | None = None,
    user_name: str | None = None,
    api_app_id: str = APP_ID,
) -> str:
    """The form-encoded body Slack POSTs for a slash command. Pass ``response_url=slack.response_url()``."""
    default_names = {"C0GENERAL": "general", "C0REVENUE": "cs-revenue", "C0NOTMEMBER": "random"}
    if channel_name is None:
        channel_name = "directmessage" if channel_id.startswith("D") else default_names.get(channel_id, "channel")
    if user_name is None:
        user_name = {"U0ALICE": "alice", "U0BOB": "bob"}.get(user_id, user_id.lower())
    fields = {
        "token": "verification-token-unused",
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url or _UNSET_RESPONSE_URL,
        "trigger_id": trigger_id or _trigger_id(),
    }
    return urlencode(fields)


def event_body(
    event: dict,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    event_id: str | None = None,
    event_time: int | None = None,
) -> str:
    """The JSON event_callback envelope of the Events API around ``event``."""
    envelope = {
        "token": "verification-token-unused",
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev0{next(_event_counter):08d}",
        "event_time": int(time.time()) if event_time is None else int(event_time),
        "authorizations": [{
            "enterprise_id": None, "team_id": team_id, "user_id": BOT_USER_ID,
            "is_bot": True, "is_enterprise_install": False,
        }],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex}",
    }
    return json.dumps(envelope)


def app_mention_event(
    text: str,
    user: str = "U0ALICE",
    channel: str = "C0GENERAL",
    ts: str | None = None,
    thread_ts: str | None = None,
) -> dict:
    """An ``app_mention`` event. The bot mention ``<@U0BOT>`` is put in front of ``text`` unless present."""
    ts = ts or _new_ts()
    mention = f"<@{BOT_USER_ID}>"
    full_text = text if mention in text else f"{mention} {text}"
    event = {
        "type": "app_mention", "user": user, "text": full_text, "ts": ts, "channel": channel,
        "event_ts": ts, "team": TEAM_ID, "client_msg_id": str(uuid.uuid4()),
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def im_message_event(text: str, user: str = "U0ALICE", channel: str = "D0DM", ts: str | None = None) -> dict:
    """A ``message`` event in a DM with the bot (channel_type "im")."""
    ts = ts or _new_ts()
    return {
        "type": "message", "user": user, "text": text, "ts": ts, "channel": channel,
        "event_ts": ts, "channel_type": "im", "team": TEAM_ID, "client_msg_id": str(uuid.uuid4()),
    }


def app_home_opened_event(user: str = "U0ALICE", tab: str = "home", channel: str = "D0DM") -> dict:
    """An ``app_home_opened`` event (the user opened the app's Home tab)."""
    return {"type": "app_home_opened", "user": user, "channel": channel, "tab": tab, "event_ts": _new_ts()}


def block_actions_body(
    action_id: str,
    value: str,
    user_id: str = "U0ALICE",
    channel_id: str = "C0GENERAL",
    response_url: str | None = None,
    message_ts: str | None = None,
    container: dict | None = None,
    block_id: str = "actions",
    trigger_id: str | None = None,
    button_text: str = "Button",
) -> str:
    """The form-encoded ``payload=<json>`` body Slack POSTs when a user clicks a button."""
    message_ts = message_ts or _new_ts()
    if container is None:
        container = {"type": "message", "message_ts": message_ts, "channel_id": channel_id, "is_ephemeral": False}
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "verification-token-unused",
        "container": container,
        "trigger_id": trigger_id or _trigger_id(),
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "directmessage" if channel_id.startswith("D") else channel_id.lower()},
        "message": {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": message_ts, "text": "",
                    "team": TEAM_ID},
        "state": {"values": {}},
        "response_url": response_url or _UNSET_RESPONSE_URL,
        "actions": [{
            "action_id": action_id, "block_id": block_id,
            "text": {"type": "plain_text", "text": button_text, "emoji": True},
            "value": value, "type": "button", "action_ts": f"{time.time():.6f}",
        }],
    }
    return urlencode({"payload": json.dumps(payload)})


def bolt_request(body: str, headers: dict[str, str]):
    """A ``slack_bolt.BoltRequest`` for ``app.dispatch(...)``."""
    from slack_bolt import BoltRequest

    return BoltRequest(body=body, headers=dict(headers))


# --------------------------------------------------------------------------------------------
# Reading a channel back (added for the scheduler's "did my timed-out post land?" check):
# conversations.history and conversations.replies over the messages the double stored.
# --------------------------------------------------------------------------------------------


def _readable(double: SlackDouble, params: dict) -> dict:
    info = double._find_channel(params.get("channel"))
    if info is None:
        raise _ApiError("channel_not_found")
    if not info.get("is_member"):
        raise _ApiError("not_in_channel")
    return info


def _as_read(msg: dict, params: dict) -> dict:
    """A stored message as the history methods return it: metadata only with include_all_metadata."""
    shown = dict(msg)
    if str(params.get("include_all_metadata", "")).lower() not in ("1", "true"):
        shown.pop("metadata", None)
    return shown


def _in_window(ts: str, params: dict) -> bool:
    oldest, latest = params.get("oldest"), params.get("latest")
    inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
    if oldest and (float(ts) < float(oldest) or (float(ts) == float(oldest) and not inclusive)):
        return False
    if latest and (float(ts) > float(latest) or (float(ts) == float(latest) and not inclusive)):
        return False
    return True


def _conversations_history(double: SlackDouble, params: dict) -> dict:
    info = _readable(double, params)
    limit = int(params.get("limit") or 100)
    found = sorted((m for (cid, ts), m in double.messages.items()
                    if cid == info["id"] and not m.get("thread_ts") and _in_window(ts, params)),
                   key=lambda m: float(m["ts"]), reverse=True)  # newest first, top-level messages only
    return {"messages": [_as_read(m, params) for m in found[:limit]], "has_more": len(found) > limit,
            "pin_count": 0, "response_metadata": {"next_cursor": ""}}


def _conversations_replies(double: SlackDouble, params: dict) -> dict:
    info = _readable(double, params)
    parent_ts = str(params.get("ts") or "")
    parent = double.messages.get((info["id"], parent_ts))
    if parent is None:
        raise _ApiError("thread_not_found")
    limit = int(params.get("limit") or 100)
    replies = sorted((m for (cid, ts), m in double.messages.items()
                      if cid == info["id"] and m.get("thread_ts") == parent_ts and _in_window(ts, params)),
                     key=lambda m: float(m["ts"]))  # oldest first, the parent before its replies
    found = [parent, *replies]
    return {"messages": [_as_read(m, params) for m in found[:limit]], "has_more": len(found) > limit,
            "response_metadata": {"next_cursor": ""}}


_METHODS.setdefault("conversations.history", _conversations_history)
_METHODS.setdefault("conversations.replies", _conversations_replies)
