"""Data is inert in Slack: a synced name, an NPS comment, a ticket subject, an owner or a
question holding ``<!channel>``, ``<!here>``, ``<@U…>``, ``<https://evil|slack.com>`` or ``&``
reaches Slack escaped (``&lt;!channel&gt;``) in every payload csbot sends: answers, the
digest, alerts, the App Home, help, a mention's reply and its fallback text. csbot's own
channel and user references still render as links, and data cannot forge them.

Also: ``decode`` of what Slack sends, and the Block Kit limits of ``bot/slack/blocks.py``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone

import pytest
from slack_double import app_mention_event, event_body, im_message_event, slash_command_body
from slack_sdk.models.blocks import Block
from sqlalchemy import select, update

from bot.charts import alt_text
from bot.jobs.alerts import check_alerts
from bot.jobs.context import JobContext
from bot.poster import ChannelInfo
from bot.slack.app import create_app
from bot.slack.blocks import (
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_FIELD,
    MAX_HEADER,
    MAX_SECTION,
    message_payload,
    render_blocks,
    split_sections,
)
from bot.slack.listeners.home import home_view
from bot.slack.mrkdwn import clip, decode, escape, plain
from commands.context import Context
from commands.digest import build_digest
from commands.format import slack_ref
from commands.reply import Button, Figure, Reply, Table, render_text
from commands.router import dispatch
from metrics import digest_store as store
from metrics import schema
from metrics.db import Database
from metrics.settings import Settings

NOW = datetime(2026, 11, 22, 0, 30, tzinfo=timezone.utc)
TODAY = date(2026, 11, 22)
SECRET = "test-secret"

HOSTILE = ("<!channel>", "<!here>", "<@U123ABC>", "<https://x.example|slack.com>", "R&D")
ESCAPED = ("&lt;!channel&gt;", "&lt;!here&gt;", "&lt;@U123ABC&gt;", "&lt;https://x.example|slack.com&gt;", "R&amp;D")
COMMENT = "<!channel> fix this & see <https://x.example|slack.com/signin>"
COMMENT_ESCAPED = "&lt;!channel&gt; fix this &amp; see &lt;https://x.example|slack.com/signin&gt;"
SUBJECT = "<!here> urgent & <@U123ABC>"
OWNER = "<@U123ABC> & <!here>"
FORGED = "\ue000deadbeef@U0FORGED\ue001"  # a guess at csbot's marker, in data

# A Slack link csbot may write: a channel or a user, nothing else (<!channel>, URLs never).
LINK = re.compile(r"<(?:#[CGD]|@[UW])[A-Z0-9]+>")
NOT_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")
NOT_SHOWN = {"value", "action_id", "type", "block_id", "url", "channel", "user_id", "ts", "thread_ts"}


def shown_strings(obj, key: str | None = None):
    """Every string of a payload that Slack shows (button values and IDs are csbot's own data)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in NOT_SHOWN:
                yield from shown_strings(v, k)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from shown_strings(v, key)
    elif isinstance(obj, str):
        yield obj


def assert_inert(payload, own_links: frozenset[str] = frozenset()) -> str:
    """No unescaped ``<`` ``>`` ``&`` anywhere Slack reads text, no link but csbot's own, no
    double escaping, no marker characters. Returns the payload as JSON text."""
    for s in shown_strings(payload):
        for link in LINK.findall(s):
            assert link in own_links, f"a link csbot did not make: {link} in {s!r}"
        rest = LINK.sub("", s)
        assert "<" not in rest and ">" not in rest, f"unescaped < or > in {s!r}"
        assert not NOT_ENTITY.search(s), f"unescaped & in {s!r}"
        assert not re.search(r"&amp;(?:amp|lt|gt);", s), f"escaped twice: {s!r}"
        assert "\ue000" not in s and "\ue001" not in s, f"a marker character in {s!r}"
    return json.dumps(payload, ensure_ascii=False)


# ---------------------------------------------------------------------------- the hostile demo company

@pytest.fixture
def hostile(demo_copy) -> Database:
    """The demo company whose names, owners, NPS comments and ticket subjects carry Slack's control text."""
    a = schema.accounts
    with demo_copy.begin() as conn:
        rows = conn.execute(select(a.c.account_id, a.c.name).order_by(a.c.account_id)).all()
        for i, (account_id, name) in enumerate(rows):
            extra = FORGED if i == 5 else HOSTILE[i % len(HOSTILE)]
            conn.execute(update(a).where(a.c.account_id == account_id).values(name=f"{name} {extra}"))
        conn.execute(update(a).where(a.c.owner.is_(None)).values(owner=OWNER))
        conn.execute(update(schema.nps_responses).values(comment=COMMENT))
        conn.execute(update(schema.tickets).values(subject=SUBJECT))
    return Database(engine=demo_copy, url="hostile-demo", embedded=False)


def context(db: Database, tmp_path, **kw) -> Context:
    settings = Settings(data_dir=tmp_path, database_url="sqlite:///unused-in-tests.db")
    return Context.create(db, settings, now=NOW, **({"user_email": "alice@example.com"} | kw))


ANSWERS = [
    "health", "health A0001", "health dropped last-30-days", "churn last-month accounts",
    "churn 2026-Q3 accounts", "kpi", "nps", "usage", "onboarding", "mrr", "ltv", "health me",
    "acmeの状態", "先月の解約", "sync",
]


def test_every_answer_shows_synced_names_and_owners_as_text(hostile, tmp_path):
    ctx = context(hostile, tmp_path)
    seen = ""
    for question in ANSWERS:
        reply = dispatch(question, ctx)
        for payload in (message_payload(reply), message_payload(reply, show_how=True)):
            for raw in payload["blocks"]:
                Block.parse(raw).validate_json()
            seen += assert_inert(payload)
        if reply.chart is not None:  # what the upload sends as title and alt text (bot/slack/poster.py)
            assert_inert({"title": escape(reply.chart.title), "alt": escape(alt_text(reply.chart, reply.language))})
    for escaped in ESCAPED:
        assert escaped in seen, f"{escaped} never shown: the test's data did not reach an answer"
    assert "&lt;@U123ABC&gt; &amp; &lt;!here&gt;" in seen  # an owner
    for hostile_text in HOSTILE:
        assert hostile_text not in seen


def test_the_account_answer_names_the_account_escaped(hostile, tmp_path):
    reply = dispatch("health A0001", context(hostile, tmp_path))  # A0001 is the first account: "<!channel>"
    payload = message_payload(reply)
    assert_inert(payload)
    assert payload["text"].startswith("Acme Corp &lt;!channel&gt;")  # the notification
    assert payload["blocks"][0]["text"]["text"].startswith("Acme Corp &lt;!channel&gt;")  # the header


def test_a_name_holding_a_forged_reference_marker_is_not_a_link(hostile, tmp_path):
    with hostile.engine.connect() as conn:
        name = conn.execute(select(schema.accounts.c.name).where(schema.accounts.c.name.contains("\ue000"))).scalar()
    reply = dispatch(f"health {name.split()[0]}", context(hostile, tmp_path))
    text = assert_inert(message_payload(reply))
    assert "<@U0FORGED>" not in text and "\ue000" not in text


def test_the_digest_headline_thread_and_preview_are_inert(hostile, tmp_path):
    ctx = context(hostile, tmp_path)
    d = build_digest(hostile, ctx.settings, now=NOW, since=date(2026, 10, 1), since_at=datetime(2026, 9, 1))
    thread = assert_inert(message_payload(d.thread))
    assert_inert(message_payload(d.headline))
    assert COMMENT_ESCAPED in thread  # a new detractor's comment, quoted
    assert any(e in thread for e in ESCAPED)
    assert "<!channel>" not in thread
    preview = assert_inert(message_payload(dispatch("digest preview", ctx)))
    assert "&lt;" in preview


@dataclass
class RecordingPoster:
    posts: list[tuple[str, Reply]] = field(default_factory=list)

    def post(self, channel, reply, *, thread_ts=None, run_id=None):
        self.posts.append((channel, reply))
        return "1.0"

    def post_text(self, channel, text, *, thread_ts=None, run_id=None):
        return "1.0"

    def upload_chart(self, channel, chart, *, thread_ts=None, lang="en"):
        pass

    def open_dm(self, user):
        return "D0DM"

    def channel_info(self, channel):
        return ChannelInfo(id=channel, name="cs-alerts")


def test_alerts_name_the_account_its_owner_and_the_comment_escaped(hostile, tmp_path):
    settings = Settings(data_dir=tmp_path, database_url="sqlite:///unused-in-tests.db", revenue_channels=("C0ALERTS",))
    for kind in ("red", "churn", "contraction", "detractor"):
        store.set_alert(hostile.engine, channel="C0ALERTS", kind=kind, now=NOW - timedelta(days=7))
    poster = RecordingPoster()
    fired = check_alerts(JobContext(poster=poster, settings=settings, engine=hostile.engine, worker="test"), NOW)
    assert fired and len(poster.posts) == len(fired)
    text = ""
    for _, reply in poster.posts:
        payload = message_payload(reply)
        for raw in payload["blocks"]:
            Block.parse(raw).validate_json()
        header = payload["blocks"][0]
        assert header["type"] == "header" and "*" not in header["text"]["text"]  # no mrkdwn in plain_text
        text += assert_inert(payload)
    kinds = {reply.data["kind"] for _, reply in poster.posts}
    assert "detractor" in kinds and COMMENT_ESCAPED in text
    assert any(e in text for e in ESCAPED)


def test_the_app_home_is_inert(hostile, tmp_path):
    view = home_view(context(hostile, tmp_path))
    text = assert_inert(view)
    assert any(e in text for e in ESCAPED)  # alice's book names her accounts


def test_help_placeholders_show_as_typed(hostile, tmp_path):
    ctx = context(hostile, tmp_path)
    term = assert_inert(message_payload(dispatch("term", ctx)))
    assert "term &lt;word&gt;" in term
    assert_inert(message_payload(dispatch("help", ctx)))
    assert_inert(message_payload(dispatch("digest alert", ctx)))  # usage: "#channel <kind>"


def test_a_users_own_control_text_comes_back_escaped(hostile, tmp_path):
    ctx = context(hostile, tmp_path)
    payload = message_payload(dispatch(decode("term &lt;!channel&gt;"), ctx))
    text = assert_inert(payload)
    assert "&lt;!channel&gt;" in text
    payload = message_payload(dispatch("term <!channel> & <https://x.example|slack.com>", ctx))
    assert "&lt;!channel&gt;" in assert_inert(payload)


def test_csbots_own_channel_and_user_references_still_render(hostile, tmp_path):
    ctx = context(hostile, tmp_path, user_id="U0ALICE", channel_id="C0GENERAL", surface="slash")
    sub = message_payload(dispatch("digest subscribe <#C0GENERAL|general> 09:00", ctx))
    assert "<#C0GENERAL>" in assert_inert(sub, frozenset({"<#C0GENERAL>"}))
    listed = message_payload(dispatch("digest list", ctx))
    assert "<#C0GENERAL>" in assert_inert(listed, frozenset({"<#C0GENERAL>"}))
    mine = message_payload(dispatch("digest subscribe me 08:00", ctx))
    assert "<@U0ALICE>" in assert_inert(mine, frozenset({"<@U0ALICE>"}))
    # a channel "name" holding control text is a word, not a link
    odd = message_payload(dispatch("digest subscribe #<!channel> 09:00", ctx))
    assert "#&lt;!channel&gt;" in assert_inert(odd)
    # the console reads the reference as a word
    assert "#C0GENERAL" in render_text(dispatch("digest list", ctx)) and "\ue000" not in render_text(
        dispatch("digest list", ctx))


# ---------------------------------------------------------------------------- through the Slack app

@pytest.fixture
def app(hostile, slack_double, tmp_path):
    settings = Settings(data_dir=tmp_path, database_url="sqlite:///unused-in-tests.db",
                        slack_api_url=slack_double.api_url, slack_bot_token=slack_double.bot_token,
                        slack_signing_secret=SECRET, revenue_channels=("C0REVENUE",))
    return create_app(settings, hostile, clock=lambda: NOW)


def send(app, body):
    from slack_double import bolt_request, sign

    return app.dispatch(bolt_request(body, sign(SECRET, body)))


def test_a_mention_reply_and_its_fallback_text_are_inert(app, slack_double):
    send(app, event_body(app_mention_event("<@U0BOT> health A0001", channel="C0REVENUE")))
    [post] = slack_double.wait_for("chat.postMessage")
    text = assert_inert({"text": post.params["text"], "blocks": post.params["blocks"]})
    assert "Acme Corp &lt;!channel&gt;" in text
    assert "&" not in post.params["text"] or "&lt;" in post.params["text"] or "&amp;" in post.params["text"]


def test_a_mention_typed_with_control_text_is_answered_escaped(app, slack_double):
    # Slack escapes what the user typed: "term <!channel>" arrives as "term &lt;!channel&gt;"
    send(app, event_body(im_message_event("term &lt;!channel&gt; &amp; co")))
    [post] = slack_double.wait_for("chat.postMessage")
    text = assert_inert({"text": post.params["text"], "blocks": post.params["blocks"]})
    assert "&lt;!channel&gt; &amp; co" in text and "&amp;amp;" not in text


def test_a_slash_command_with_control_text_is_answered_escaped(app, slack_double):
    send(app, slash_command_body("/cs", "term &lt;!here&gt;", response_url=slack_double.response_url("r1")))
    [answer] = slack_double.wait_for("response_url")
    text = assert_inert(answer.json)
    assert "&lt;!here&gt;" in text


# ---------------------------------------------------------------------------- escape and decode

def test_escape_turns_the_three_control_characters_into_entities_once():
    assert escape("R&D <b> &amp;") == "R&amp;D &lt;b&gt; &amp;amp;"  # "&amp;" typed as text stays text
    assert escape("*bold* _it_ :tada: 日本語") == "*bold* _it_ :tada: 日本語"  # nothing else changes


def test_only_csbots_reference_markers_become_links():
    assert escape(f"in {slack_ref('channel', 'C0GENERAL')} by {slack_ref('user', 'U0ALICE')}") == \
        "in <#C0GENERAL> by <@U0ALICE>"
    assert slack_ref("channel", "#cs-team") == "#cs-team"  # a name, not an ID: plain text
    assert escape(slack_ref("user", "<!channel>")) == "&lt;!channel&gt;"
    assert escape(FORGED) == "deadbeef@U0FORGED"  # a forged marker: its characters dropped, no link
    assert plain(f"*Alert* {slack_ref('channel', 'C0GENERAL')} & co") == "Alert #C0GENERAL &amp; co"


def test_decode_reads_what_the_user_typed():
    assert decode("term &lt;!channel&gt; &amp; R&amp;D") == "term <!channel> & R&D"
    assert decode("&amp;lt;") == "&lt;"  # the user typed "&lt;": decoded once
    assert decode("<@U0BOT> owner:<@U0BOB|bob> in <#C0GENERAL|general>") == \
        "<@U0BOT> owner:<@U0BOB|bob> in <#C0GENERAL|general>"  # Slack's tokens stay for the commands
    assert decode("health <http://acme.com|acme.com>") == "health acme.com"
    assert decode("owner:<mailto:alice@example.com|alice@example.com>") == "owner:alice@example.com"
    assert decode("see <https://x.example/a?b=1&amp;c=2>") == "see https://x.example/a?b=1&c=2"
    assert decode("<!here> hi") == "<!here> hi"
    assert decode("a\ue000b\ue001") == "ab"
    assert decode(None) == "" and decode("") == ""


# ---------------------------------------------------------------------------- Block Kit limits

def test_clip_never_cuts_an_entity_or_a_reference():
    text = escape("x" * 8 + "&" + "y" * 10)  # "xxxxxxxx&amp;yyy…"
    for limit in range(2, len(text)):
        cut = clip(text, limit)
        assert len(cut) <= limit and cut.endswith("…")
        assert not re.search(r"&(?:a|am|amp|l|lt|g|gt)?…$", cut), cut
    assert clip("ab <#C0GENERAL> cd", 10) == "ab …"


def test_long_lines_split_at_line_boundaries_within_the_section_limit():
    lines = [f"line {i} " + "&" * 40 for i in range(200)]  # each line escapes to 5x its & count
    parts = split_sections("\n".join(lines))
    assert len(parts) > 1 and all(len(p) <= MAX_SECTION for p in parts)
    assert "\n".join(parts).split("\n") == [escape(x) for x in lines]  # nothing lost, no line cut


def test_a_code_block_split_across_sections_stays_fenced():
    rows = [f"row {i:03d} " + "<x>" * 30 for i in range(100)]
    text = "*Accounts*\n```\n" + "\n".join(rows) + "\n```\nafter"
    parts = split_sections(text)
    assert len(parts) > 1 and all(len(p) <= MAX_SECTION for p in parts)
    for part in parts:
        assert part.count("```") % 2 == 0, part  # every part opens and closes its fence
    body = [line for part in parts for line in part.split("\n") if line.startswith("row")]
    assert body == [escape(r) for r in rows]
    assert parts[-1].endswith("after")


def test_a_line_longer_than_a_section_is_cut_into_pieces():
    parts = split_sections("&" * 4000)  # 20,000 escaped characters
    assert all(len(p) <= MAX_SECTION for p in parts)
    assert "".join(parts) == "&amp;" * 4000


def test_fields_header_buttons_and_block_count_stay_within_slack_limits():
    reply = Reply(
        title="*" + "<!channel> " * 30 + "*",
        summary="s & <!here>",
        figures=tuple(Figure(label=f"L{i}", value="&" * 1000) for i in range(12)),
        lines=tuple(f"paragraph {i} " + "x" * 2900 for i in range(60)),
        buttons=(Button("csbot_term", "<b>" * 40, "term <!channel>"),),
    )
    blocks = render_blocks(reply)
    assert len(blocks) <= MAX_BLOCKS
    header = blocks[0]["text"]["text"]
    assert blocks[0]["type"] == "header" and len(header) <= MAX_HEADER and "*" not in header
    assert header.startswith("&lt;!channel&gt;")
    field_sections = [b for b in blocks if "fields" in b]
    assert [len(b["fields"]) for b in field_sections] == [10, 2]
    assert all(len(f["text"]) <= MAX_FIELD for b in field_sections for f in b["fields"])
    payload = message_payload(replace(reply, lines=()))
    button = [b for b in payload["blocks"] if b["type"] == "actions"][0]["elements"][0]
    assert len(button["text"]["text"]) <= MAX_BUTTON_TEXT and button["text"]["text"].startswith("&lt;b&gt;")
    assert button["value"] == "term <!channel>"  # csbot's own data, never shown: as asked
    assert payload["text"] == "s &amp; &lt;!here&gt;"
    for raw in payload["blocks"]:
        Block.parse(raw).validate_json()


def test_a_table_cut_to_fit_counts_its_escaped_text():
    rows = tuple((f"Acct {i} " + "&" * 50, "¥1,000") for i in range(200))
    blocks = render_blocks(Reply(title="T", summary="T", table=Table(("Account", "MRR"), rows)))
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(s) <= MAX_SECTION for s in sections)
    table = sections[0]
    assert table.startswith("```") and "```\n" in table[3:]
    assert "more" in table  # "… and N more"
