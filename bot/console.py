"""The local console and one-shot answers: the same dispatch as Slack, printed as text."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

from bot.database import open_for_answers
from bot.slack.blocks import message_payload
from commands.context import Context
from commands.messages import t
from commands.reply import Reply, render_text
from commands.router import dispatch
from metrics.clock import utcnow
from metrics.settings import Settings

logger = logging.getLogger(__name__)

BANNER = """csbot console: ask as you would in Slack, e.g.
  churn last-month · churn 2026-Q3 segment:enterprise · 先月の解約率 · help
Type quit (or Ctrl-D) to leave."""


def answer_once(settings: Settings, text: str, *, as_json: bool = False) -> int:
    db = open_for_answers(settings)
    ctx = Context.create(db, settings, surface="cli")
    reply = dispatch(text, ctx)
    if as_json:
        print(json.dumps([message_payload(reply)], ensure_ascii=False, indent=2))
    else:
        print(render_text(reply))
        _print_chart(reply, settings, sys.stdout)
    return 1 if reply.kind == "error" else 0


def chart_path(settings: Settings, reply: Reply) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", (reply.chart.title if reply.chart else "chart").lower()).strip("-") or "chart"
    stamp = utcnow().astimezone(settings.tz).strftime("%Y%m%d-%H%M%S-%f")
    return settings.data_dir / "charts" / f"{stamp}-{slug}.png"


def _print_chart(reply: Reply, settings: Settings, stdout) -> None:
    """The console saves a reply's chart as a PNG file and prints its path."""
    if reply.chart is None:
        return
    try:
        from bot.charts import has_data, save_chart

        if not has_data(reply.chart):
            return
        path = save_chart(reply.chart, chart_path(settings, reply), reply.language, settings.currency)
    except (OSError, ValueError) as exc:
        logger.warning("could not save the chart: %s", exc)
        return
    print(t("console.chart_saved", reply.language, path=path), file=stdout)


def run_console(settings: Settings, stdin=None, stdout=None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    db = open_for_answers(settings)
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
        reply = dispatch(text, ctx)
        print(render_text(reply), file=stdout)
        _print_chart(reply, settings, stdout)
        print(file=stdout)
    return 0
