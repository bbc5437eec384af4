"""onboarding: completion rate and time to value of the customers who started paying in the period."""

from __future__ import annotations

import logging

from commands import format as fmt
from commands.context import Request
from commands.messages import t
from commands.metric_answer import family_reply
from commands.reply import Reply
from commands.spec import command
from metrics import catalog

logger = logging.getLogger(__name__)


def _lines(calc, results, period, lang, currency):
    p = results["onboarding_completion_rate"].current.parts
    tv = results["ttv"].current.parts
    lines = [t("onboarding.completed", lang, completed=f"{p['completed']:,}", accounts=f"{p['accounts']:,}",
               days=p["within_days"], steps=t("onboarding.list_separator", lang).join(
                   fmt.milestone(m, lang) for m in p["milestones"])),
             t("onboarding.ttv", lang, reached=f"{tv['accounts']:,}", first_value=fmt.milestone("first_value", lang))]
    open_ = p.get("still_in_window", 0)
    if open_:
        lines.insert(1, t("onboarding.still_open", lang, open=f"{open_:,}", days=p["within_days"]))
    return lines, None, None


@command(
    "onboarding",
    example="onboarding last-quarter",
    aliases=("オンボーディング", "導入"),
    keywords=catalog.command_keywords("onboarding"),
)
def onboarding(req: Request) -> Reply:
    """onboarding [period] [filters]"""
    return family_reply(req, "onboarding", ("onboarding_completion_rate", "ttv"), _lines)
