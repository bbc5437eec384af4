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
from commands.reply import Chart, Reply, render_text
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
    return exit_code(reply)


def exit_code(reply: Reply) -> int:
    """``csbot ask``'s exit status: 0 answered, 2 not understood (or a usage error: the question is
    to be changed), 1 any other error."""
    if reply.data.get("not_understood") or reply.data.get("usage_error") or reply.data.get("not_available"):
        return 2
    return 1 if reply.kind == "error" else 0


def chart_path(settings: Settings, reply: Reply) -> Path:
    return _path_for(settings, reply.chart.title if reply.chart else "chart")


def _path_for(settings: Settings, title: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "chart"
    stamp = utcnow().astimezone(settings.tz).strftime("%Y%m%d-%H%M%S-%f")
    return settings.data_dir / "charts" / f"{stamp}-{slug}.png"


def _print_chart(reply: Reply, settings: Settings, stdout) -> None:
    """The console saves a reply's chart as a PNG file and its file (a long list as CSV) beside it,
    and prints their paths."""
    print_chart(reply.chart, reply.language, settings, stdout)
    save_attachment(reply, settings, stdout)


def save_attachment(reply: Reply, settings: Settings, stdout) -> Path | None:
    """Save the file a reply offers under the data folder and print its path."""
    if reply.attachment is None:
        return None
    stamp = utcnow().astimezone(settings.tz).strftime("%Y%m%d-%H%M%S-%f")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", reply.attachment.filename).strip("-.") or "csbot.csv"
    path = settings.data_dir / "files" / f"{stamp}-{name}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(reply.attachment.content)
    except OSError as exc:
        logger.warning("could not save the file: %s", exc)
        return None
    print(t("console.file_saved", reply.language, path=path), file=stdout)
    return path


def print_chart(chart: Chart | None, lang: str, settings: Settings, stdout) -> Path | None:
    """Save ``chart`` as a PNG under the data folder and print its path (the console and
    ``csbot digest --dry-run``); nothing when there is no chart or nothing to draw."""
    if chart is None:
        return None
    try:
        from bot.charts import has_data, save_chart

        if not has_data(chart):
            return None
        path = save_chart(chart, _path_for(settings, chart.title), lang, settings.currency)
    except (OSError, ValueError) as exc:
        logger.warning("could not save the chart: %s", exc)
        return None
    print(t("console.chart_saved", lang, path=path), file=stdout)
    return path


def run_console(settings: Settings, stdin=None, stdout=None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    db = open_for_answers(settings)
    interactive = stdin.isatty()
    if interactive:
        print(BANNER, file=stdout)
        print(f"(database: {db.url})", file=stdout)
    editing = interactive and stdin is sys.stdin and stdout is sys.stdout and _line_editing(settings)
    while True:
        if editing:  # input() edits the line and keeps the history (Up arrow) through readline
            try:
                line = input("csbot> ") + "\n"
            except EOFError:
                print(file=stdout)
                break
        else:
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


def _line_editing(settings: Settings) -> bool:
    """Turn on line editing and history for ``input()`` (Python's optional readline module;
    absent on some platforms, e.g. Windows, where the console reads plain lines). The history
    is kept in the data folder between sessions."""
    try:
        import readline
    except ImportError:
        return False
    import atexit

    history = settings.data_dir / "console_history"
    try:
        readline.read_history_file(history)
    except OSError:
        pass
    readline.set_history_length(1000)

    def save() -> None:
        try:
            history.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(history)
        except OSError as exc:
            logger.warning("could not save the console history: %s", exc)

    atexit.register(save)
    return True
