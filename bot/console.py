"""The local console and one-shot answers: the same dispatch as Slack, printed as text."""

from __future__ import annotations

import json
import sys

from bot.blocks import message_payload
from commands.core import Context, dispatch
from commands.reply import render_text
from metrics.db import open_database
from metrics.settings import Settings

BANNER = """csbot console: ask as you would in Slack, e.g.
  churn last-month · churn 2026-Q3 segment:enterprise · 先月の解約率 · help
Type quit (or Ctrl-D) to leave."""


def answer_once(settings: Settings, text: str, *, as_json: bool = False) -> int:
    db = open_database(settings)
    ctx = Context.create(db, settings, surface="cli")
    reply = dispatch(text, ctx)
    if as_json:
        print(json.dumps([message_payload(reply)], ensure_ascii=False, indent=2))
    else:
        print(render_text(reply))
    return 1 if reply.kind == "error" else 0


def run_console(settings: Settings, stdin=None, stdout=None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    db = open_database(settings)
    interactive = stdin.isatty()
    if interactive:
        print(BANNER, file=stdout)
        print(f"(database: {db.url})", file=stdout)
    while True:
        if interactive:
            stdout.write("csbot> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text.lower() in ("quit", "exit", "q", ":q"):
            break
        ctx = Context.create(db, settings, surface="console")
        print(render_text(dispatch(text, ctx)), file=stdout)
        print(file=stdout)
    return 0
