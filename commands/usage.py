"""usage: active users, stickiness, usage time and seat utilisation."""

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

NAMES = ("mau", "wau", "dau", "stickiness", "avg_usage_minutes", "seat_utilization")


def _lines(calc, results, period, lang, currency):
    st = results["stickiness"].current.parts
    day = results["mau"].current.parts["day"]
    return [t("usage.as_of", lang, day=day, dau_wau=fmt.percent(st["dau_wau"]), wau_mau=fmt.percent(st["wau_mau"]))], \
        None, None


@command(
    "usage",
    example="usage this-month",
    aliases=("利用状況", "アクティブユーザー"),
    keywords=catalog.command_keywords("usage"),
)
def usage(req: Request) -> Reply:
    """usage [period] [filters]"""
    return family_reply(req, "usage", NAMES, _lines)
