"""usage: active users, stickiness, usage time and seat utilisation."""

from __future__ import annotations

import logging

from commands import format as fmt
from commands.core import Request, command
from commands.messages import t
from commands.metric_answer import family_reply
from commands.reply import Reply
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
    help_ja="アクティブユーザー（DAU/WAU/MAU）、スティッキネス、利用時間、シート利用率",
    example="usage this-month",
    aliases=("利用状況", "アクティブユーザー"),
    keywords=catalog.command_keywords("usage"),
)
def usage(req: Request) -> Reply:
    """usage [period] [filters]: DAU, WAU, MAU, stickiness, usage time and seat utilisation"""
    return family_reply(req, "usage", NAMES, _lines)
