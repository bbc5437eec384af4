"""Render a ``Reply`` to a Slack message (Block Kit), inside Slack's limits:
50 blocks, 3,000 characters per section text, 10 fields per section, 150
characters of header, 25 elements per actions block, 75 characters of button text."""

from __future__ import annotations

from typing import Any

from commands.messages import t
from commands.reply import Reply, Table, render_text

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_FALLBACK = 3900

ARROWS = {1: "▲", -1: "▼", 0: "→"}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _clip(text, MAX_SECTION)}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def figure_text(fig, lang: str) -> str:
    text = f"*{fig.label}*\n{fig.value}"
    if fig.change is not None and fig.previous is not None:
        mark = "" if fig.good is None else (" ✅" if fig.good else " ⚠️")
        text += f"  {ARROWS[fig.trend]} {fig.change} ({t('slack.previous', lang)} {fig.previous}){mark}"
    return text


def table_text(table: Table, lang: str, max_chars: int = MAX_SECTION - 200) -> str:
    """A table as a monospaced block, cut to fit with "and N more"."""
    lines = render_text(Reply(title="", summary="", table=Table(table.columns, table.rows))).splitlines()
    body = [line for line in lines if line.strip()]
    kept: list[str] = []
    shown_rows = 0
    for i, line in enumerate(body):
        if sum(len(x) + 1 for x in kept) + len(line) + 1 > max_chars:
            break
        kept.append(line)
        if i >= 2:
            shown_rows += 1
    total = table.total_rows or len(table.rows)
    text = "```\n" + "\n".join(kept) + "\n```"
    if total > shown_rows:
        text += "\n" + t("reply.more_rows", lang, count=total - shown_rows)
    if table.title:
        text = f"*{table.title}*\n" + text
    return text


def render_blocks(reply: Reply, *, show_how: bool = False) -> list[dict[str, Any]]:
    lang = reply.language
    blocks: list[dict[str, Any]] = []
    if reply.kind == "error":
        blocks.append(_section(f":warning: {reply.title}"))
        for line in reply.lines:
            blocks.append(_section(line))
        return blocks

    blocks.append({"type": "header", "text": {"type": "plain_text", "text": _clip(reply.title, MAX_HEADER), "emoji": True}})
    if reply.period:
        blocks.append({"type": "context", "elements": [_mrkdwn(f":calendar: {reply.period}")]})
    figures = list(reply.figures)
    for i in range(0, len(figures), MAX_FIELDS):
        chunk = figures[i : i + MAX_FIELDS]
        blocks.append({"type": "section", "fields": [_mrkdwn(figure_text(f, lang)) for f in chunk]})
    if reply.lines:
        text = "\n".join(reply.lines)
        for start in range(0, len(text), MAX_SECTION):
            blocks.append(_section(text[start : start + MAX_SECTION]))
    if reply.table is not None and reply.table.rows:
        blocks.append(_section(table_text(reply.table, lang)))
    if reply.how and (show_how or not reply.figures or reply.kind != "answer" or not reply.lines):
        blocks.append(_section("\n".join(reply.how)))
    buttons = [
        {
            "type": "button",
            "action_id": f"{b.action_id}_{i}",
            "text": {"type": "plain_text", "text": _clip(b.text, MAX_BUTTON_TEXT), "emoji": True},
            "value": b.value[:MAX_BUTTON_VALUE],
        }
        for i, b in enumerate(reply.buttons[:25])
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    if reply.footer:
        blocks.append({"type": "context", "elements": [_mrkdwn(f":arrows_counterclockwise: {reply.footer}")]})
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[: MAX_BLOCKS - 1] + [_section("…")]
    return blocks


def message_payload(reply: Reply, *, show_how: bool = False) -> dict[str, Any]:
    """``text`` (notification and fallback) plus ``blocks``."""
    fallback = reply.summary
    if reply.period and reply.period not in fallback:
        fallback = f"{fallback} ({reply.period})"
    return {"text": _clip(fallback, MAX_FALLBACK), "blocks": render_blocks(reply, show_how=show_how)}
