"""Render a ``Reply`` to a Slack message (Block Kit): the one place csbot's text becomes Slack's.

Every text a ``Reply`` holds is plain (csbot's own ``*bold*`` and ``code`` included): here it
is escaped once (``bot.slack.mrkdwn.escape``) so that a name or a comment holding
``<!channel>`` or ``<https://evil|slack.com>`` is shown, never obeyed; csbot's own channel and
user references (``commands.format.slack_ref``) become links.

Within Slack's published limits: 50 blocks, a section's text 3,000 characters, 10 fields of
2,000 characters each, a header 150 characters of plain text, 10 context elements, 25 elements
per actions block, button text 75 and value 2,000 characters. Long text is split into sections
at line boundaries, never inside a ``` code block (a block split across sections is closed and
reopened, so each part stays fenced). Limits count the escaped text.
"""

from __future__ import annotations

from typing import Any

from bot.slack.mrkdwn import clip, escape, plain
from commands.messages import t
from commands.reply import Reply, Table, render_text

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELDS = 10
MAX_FIELD = 2000
MAX_HEADER = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_FALLBACK = 3900  # Slack truncates ``text`` at 40,000; a notification needs one line
FENCE = "```"

ARROWS = {1: "▲", -1: "▼", 0: "→"}


def _mrkdwn(text: str, limit: int = MAX_SECTION) -> dict[str, Any]:
    """A mrkdwn text object from plain ``text``: escaped, then cut to ``limit``."""
    return {"type": "mrkdwn", "text": clip(escape(text), limit)}


def _plain_text(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object (header, button): mrkdwn marks dropped, escaped, cut to ``limit``."""
    return {"type": "plain_text", "text": clip(plain(text), limit) or "…", "emoji": True}


def _context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(x) for x in texts[:MAX_CONTEXT_ELEMENTS]]}


def _cut_line(line: str, size: int) -> list[str]:
    """An escaped line longer than ``size`` in pieces, never cutting an entity or a reference."""
    pieces: list[str] = []
    while len(line) > size:
        cut = len(clip(line, size + 1)) - 1  # clip keeps entities whole and adds "…"
        cut = cut if cut > 0 else size
        pieces.append(line[:cut])
        line = line[cut:]
    pieces.append(line)
    return pieces


def split_sections(text: str, limit: int = MAX_SECTION) -> list[str]:
    """Plain ``text`` escaped and split into parts of at most ``limit`` characters, at line
    boundaries; a ``` block that must be split is closed and reopened, so each part stays fenced."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    fenced = False
    reserve = len(FENCE) + 1  # room to close an open fence
    for line in text.split("\n"):
        toggles = line.count(FENCE) % 2 == 1
        closes = fenced and toggles
        for piece in _cut_line(escape(line), limit - 2 * reserve):
            need = len(piece) + (1 if current else 0)
            room = reserve if fenced and not closes else 0
            if current and size + need + room > limit:
                if fenced:
                    current.append(FENCE)
                chunks.append("\n".join(current))
                current, size = ([FENCE], len(FENCE)) if fenced else ([], 0)
                need = len(piece) + (1 if current else 0)
            current.append(piece)
            size += need
        if toggles:
            fenced = not fenced
    if current:
        chunks.append("\n".join(current))
    return [c for c in chunks if c.strip()]


def figure_text(fig, lang: str) -> str:
    text = f"*{fig.label}*\n{fig.value}"
    if fig.change is not None and fig.previous is not None:
        mark = "" if fig.good is None else (" ✅" if fig.good else " ⚠️")
        text += f"  {ARROWS[fig.trend]} {fig.change} ({t('slack.previous', lang)} {fig.previous}){mark}"
    return text


def table_text(table: Table, lang: str, max_chars: int = MAX_SECTION - 200) -> str:
    """A table as a monospaced block (plain text), cut so that its escaped text fits ``max_chars``,
    with "and N more"."""
    lines = render_text(Reply(title="", summary="", table=Table(table.columns, table.rows))).splitlines()
    body = [line for line in lines if line.strip()]
    kept: list[str] = []
    used = 0
    shown_rows = 0
    for i, line in enumerate(body):
        size = len(escape(line)) + 1
        if used + size > max_chars:
            break
        kept.append(line)
        used += size
        if i >= 2:
            shown_rows += 1
    total = table.total_rows or len(table.rows)
    text = f"{FENCE}\n" + "\n".join(kept) + f"\n{FENCE}"
    if total > shown_rows:
        text += "\n" + t("reply.more_rows", lang, count=total - shown_rows)
    if table.title:
        text = f"*{table.title}*\n" + text
    return text


def render_blocks(reply: Reply, *, show_how: bool = False) -> list[dict[str, Any]]:
    lang = reply.language
    blocks: list[dict[str, Any]] = []
    if reply.kind == "error":
        blocks.extend(_sections(f":warning: {reply.title}"))
        for line in reply.lines:
            blocks.extend(_sections(line))
        return _capped(blocks)

    if plain(reply.title).strip():
        blocks.append({"type": "header", "text": _plain_text(reply.title, MAX_HEADER)})
    if reply.period:
        blocks.append(_context(f":calendar: {reply.period}"))
    figures = list(reply.figures)
    for i in range(0, len(figures), MAX_FIELDS):
        chunk = figures[i : i + MAX_FIELDS]
        blocks.append({"type": "section", "fields": [_mrkdwn(figure_text(f, lang), MAX_FIELD) for f in chunk]})
    if reply.lines:
        blocks.extend(_sections("\n".join(reply.lines)))
    if reply.table is not None and reply.table.rows:
        blocks.extend(_sections(table_text(reply.table, lang)))
    if reply.how and (show_how or not reply.figures or reply.kind != "answer" or not reply.lines):
        blocks.extend(_sections("\n".join(reply.how)))
    buttons = [
        {
            "type": "button",
            "action_id": f"{b.action_id}_{i}",
            "text": _plain_text(b.text, MAX_BUTTON_TEXT),
            "value": b.value[:MAX_BUTTON_VALUE],  # data for csbot, never shown: not escaped
        }
        for i, b in enumerate(reply.buttons[:MAX_ACTIONS])
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    if reply.footer:
        blocks.append(_context(f":arrows_counterclockwise: {reply.footer}"))
    return _capped(blocks)


def _sections(text: str) -> list[dict[str, Any]]:
    """Sections of already escaped parts."""
    return [{"type": "section", "text": {"type": "mrkdwn", "text": part}} for part in split_sections(text)]


def _capped(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[: MAX_BLOCKS - 1] + [{"type": "section", "text": {"type": "mrkdwn", "text": "…"}}]
    return blocks


def fallback_text(reply: Reply) -> str:
    """The message's ``text``: what a notification shows, escaped and short."""
    text = reply.summary or reply.title
    if reply.period and reply.period not in text:
        text = f"{text} ({reply.period})"
    return clip(escape(text), MAX_FALLBACK) or "…"


def message_payload(reply: Reply, *, show_how: bool = False) -> dict[str, Any]:
    """``text`` (notification and fallback) plus ``blocks``."""
    return {"text": fallback_text(reply), "blocks": render_blocks(reply, show_how=show_how)}
