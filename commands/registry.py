"""Every command of csbot, in routing order: the command modules are imported here,
explicitly, and their ``@command`` specs collected (``load_commands``, ``command_specs``).
The router, help, the README test and the Slack manifest read the commands from here.
"""

from __future__ import annotations

import logging
from functools import cache
from types import ModuleType

from commands import churn, digest, health, kpi, ltv, mrr, onboarding, retention, sync, term, usage, voice
from commands import help as help_command
from commands.messages import table
from commands.spec import SPEC_ATTRIBUTE, CommandSpec

logger = logging.getLogger(__name__)

# Routing order: on a tie between two commands' words, the earlier wins.
COMMAND_MODULES: tuple[ModuleType, ...] = (churn, help_command, term, kpi, mrr, retention, voice, usage, onboarding,
                                           ltv, health, digest, sync)


def _declared_in(module: ModuleType) -> list[CommandSpec]:
    return [spec for value in vars(module).values()
            if isinstance(spec := getattr(value, SPEC_ATTRIBUTE, None), CommandSpec)
            and getattr(value, "__module__", None) == module.__name__]


@cache
def load_commands() -> dict[str, CommandSpec]:
    """Every command by name. A name declared twice, or without its help in the
    message table (``commands.<name>``), stops csbot with the name."""
    commands: dict[str, CommandSpec] = {}
    messages = table()
    for module in COMMAND_MODULES:
        for spec in _declared_in(module):
            if spec.name in commands:
                raise ValueError(f"command {spec.name!r} declared twice")
            if f"commands.{spec.name}" not in messages:
                raise ValueError(f"command {spec.name!r} has no help: add [{spec.name}] to commands/messages/commands.toml")
            commands[spec.name] = spec
    return commands


def command_specs() -> tuple[CommandSpec, ...]:
    """Every command: ``name``, ``usage``, ``help(lang)``, ``example`` (for help and the Slack manifest)."""
    return tuple(load_commands().values())
