"""What a command is: its ``CommandSpec`` (name, usage, help, example, routing words)
and the ``@command`` decorator that attaches it to the function. Nothing is registered
at import: ``commands.registry`` lists the command modules and collects their specs.

A command's usage is its docstring's first line ("churn [period] [filters]"), its
one-line help in English and Japanese is ``commands.<name>`` in the message table, and
its example is ``@command(example=...)``: help, the README test and the Slack manifest
all read them from here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from commands.context import Request
from commands.messages import t
from commands.reply import Reply

logger = logging.getLogger(__name__)

SPEC_ATTRIBUTE = "command_spec"


@dataclass(frozen=True)
class CommandSpec:
    name: str
    fn: Callable[[Request], Reply]
    usage: str  # "churn [period] [filters]"
    example: str  # "churn last-month segment:enterprise"
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()  # words that point a free-form question here (EN and JA)
    needs_data: bool = True

    def help(self, lang: str) -> str:
        """What the command answers, in ``lang`` (the message ``commands.<name>``)."""
        return t(f"commands.{self.name}", lang)


def command(name: str, *, example: str, aliases: tuple[str, ...] = (), keywords: tuple[str, ...] = (),
            needs_data: bool = True):
    """Declare a command: the function gets its ``CommandSpec`` (nothing is registered
    at import; ``load_commands`` collects the specs). The docstring's first line is the usage."""

    def declare(fn: Callable[[Request], Reply]) -> Callable[[Request], Reply]:
        usage = (fn.__doc__ or "").strip().splitlines()[0].strip() if fn.__doc__ else name
        spec = CommandSpec(name=name, fn=fn, usage=usage, example=example, aliases=aliases,
                           keywords=keywords, needs_data=needs_data)
        setattr(fn, SPEC_ATTRIBUTE, spec)
        return fn

    return declare
