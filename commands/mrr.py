"""mrr: MRR, ARR, ARPA and how MRR moved over the period (new, reactivation,
expansion, contraction, churn, net new MRR)."""

from __future__ import annotations

import logging

from commands import format as fmt
from commands.context import Request
from commands.messages import t
from commands.metric_answer import family_reply
from commands.movements import KINDS, movements_chart
from commands.reply import Reply
from commands.spec import command
from metrics import catalog
from metrics.revenue import movements

logger = logging.getLogger(__name__)


def _movements(calc, results, period, lang, currency):
    filters = results["mrr"].filters
    m = movements(calc, period, filters)
    a, n = m.amounts, m.counts
    money = {k: fmt.money(a[k], currency) for k in KINDS}
    lines = [
        t("mrr.moved", lang, start=fmt.money(m.mrr_start, currency), end=fmt.money(m.mrr_end, currency),
          net=fmt.money(m.net_new, currency)),
        t("mrr.movements", lang, **{f"n_{k}": n[k] for k in KINDS}, **money),
    ]
    chart = movements_chart(m, period, lang, currency, filters)
    return lines, None, chart


@command(
    "mrr",
    example="mrr last-month",
    aliases=("arr", "arpa", "月次経常収益"),
    keywords=catalog.command_keywords("mrr"),
)
def mrr(req: Request) -> Reply:
    """mrr [period] [filters]"""
    return family_reply(req, "mrr", ("mrr", "arr", "arpa", "net_new_mrr", "quick_ratio"), _movements,
                        movements=KINDS, shows=("mrr_movements",))
