"""help: every command with its usage, what it answers and an example, from the request's ``commands`` (given by dispatch)."""

from __future__ import annotations

import logging

from commands.context import Request
from commands.messages import t
from commands.periods import DEFAULT_PERIOD, period_word
from commands.reply import Reply
from commands.spec import command

logger = logging.getLogger(__name__)


@command("help", example="help", aliases=("ヘルプ", "使い方", "?"),
         keywords=("help", "ヘルプ", "使い方", "what can you do", "何ができる"), needs_data=False)
def help_command(req: Request) -> Reply:
    """help"""
    lang = req.lang
    lines = [t("help.command_line", lang, usage=spec.usage, help=spec.help(lang), example=spec.example)
             for spec in sorted(req.commands, key=lambda s: (s.name == "help", s.name))]
    lines.append(t("help.periods", lang, default=period_word(DEFAULT_PERIOD, lang)))
    lines.append(t("help.filters", lang))
    lines.append(t("help.where_to_ask", lang))
    title = t("help.title", lang)
    return Reply(title=title, summary=title, kind="help", language=lang, lines=tuple(lines))
