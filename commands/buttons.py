"""The buttons of a metric answer and the command text each one runs ("churn
2026-10-01..2026-10-31 segment:smb how"): a period and filters written back as words
the parser reads."""

from __future__ import annotations

import logging
import re

from commands.messages import t
from commands.reply import Button
from metrics.filters import Filters
from metrics.periods import Period

logger = logging.getLogger(__name__)


def period_token(period: Period) -> str:
    """A period as a word the parser reads back (for buttons)."""
    return f"{period.start.isoformat()}..{period.last_day.isoformat()}"


def filter_tokens(filters: Filters) -> str:
    tokens = []
    for key, value in (("segment", filters.segment), ("touch", filters.touch_model), ("plan", filters.plan),
                       ("region", filters.region)):
        if value:
            tokens.append(f"{key}:{value}")
    if filters.owner:
        tokens.append(f"owner:{owner_token(filters.owner)}")
    return " ".join(tokens)


_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")


def owner_token(owner: tuple[str, ...]) -> str:
    """The owner as the parser reads it back with every identifier it was resolved to: the asker of
    ``owner:me`` (``U123`` and ``alice@example.com``) as ``<@U123|alice@example.com>``, which
    ``commands.arguments.owner_ids`` reads as both, so the button finds the same accounts; a single
    identifier as itself. (Never "me": a button may be pressed by someone else.)"""
    ids = [i for i in owner if i and not any(c.isspace() for c in i) and ">" not in i and "|" not in i]
    if not ids:
        return owner[0]
    user = next((i for i in ids if _USER_ID.match(i)), None)
    other = next((i for i in ids if i != user), None)
    if user and other:
        return f"<@{user}|{other}>"
    return ids[0]


def standard_buttons(command: str, period: Period, filters: Filters, lang: str,
                     accounts: bool = True) -> tuple[Button, ...]:
    """"How is this computed?" and, for a revenue number, "Show accounts"."""
    base = f"{command} {period_token(period)} {filter_tokens(filters)}".strip()
    buttons = [Button("csbot_how", t("buttons.how", lang), f"{base} how")]
    if accounts:
        buttons.append(Button("csbot_accounts", t("buttons.accounts", lang), f"{base} accounts"))
    return tuple(buttons)
