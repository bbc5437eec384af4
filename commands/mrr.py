"""mrr: MRR, ARR, ARPA and how MRR moved over the period (new, reactivation,
expansion, contraction, churn, net new MRR)."""

from __future__ import annotations

from commands.answers import movements_chart
from commands.context import Request
from commands.kpi import family_reply
from commands.reply import Reply
from commands.router import command
from metrics import format as fmt
from metrics.revenue import movements


def _movements(calc, results, period, lang, currency):
    filters = results["mrr"].filters
    m = movements(calc, period, filters)
    a, n = m.amounts, m.counts
    money = lambda v: fmt.money(v, currency)  # noqa: E731
    if lang == "ja":
        lines = [
            f"期首MRR {money(m.mrr_start)} → 期末MRR {money(m.mrr_end)}（純増 *{money(m.net_new)}*）。",
            f"新規 {n['new']}社 {money(a['new'])}、再開 {n['reactivation']}社 {money(a['reactivation'])}、"
            f"拡大 {n['expansion']}社 {money(a['expansion'])}、縮小 {n['contraction']}社 −{money(a['contraction'])}、"
            f"解約 {n['churn']}社 −{money(a['churn'])}。",
        ]
    else:
        lines = [
            f"MRR went from {money(m.mrr_start)} to {money(m.mrr_end)}: net new *{money(m.net_new)}*.",
            f"New {n['new']} ({money(a['new'])}), reactivation {n['reactivation']} ({money(a['reactivation'])}), "
            f"expansion {n['expansion']} ({money(a['expansion'])}), contraction {n['contraction']} "
            f"(−{money(a['contraction'])}), churn {n['churn']} (−{money(a['churn'])}).",
        ]
    chart = movements_chart(m, period, lang, currency)
    return lines, None, chart


@command(
    "mrr",
    example="mrr last-month",
    aliases=("arr", "arpa", "月次経常収益"),
    keywords=("mrr", "arr", "arpa", "recurring revenue", "net new mrr", "mrr movements", "quick ratio",
              "月次経常収益", "年次経常収益", "経常収益", "純増mrr", "クイックレシオ"),
)
def mrr(req: Request) -> Reply:
    """mrr [period] [filters]"""
    return family_reply(req, "mrr", ("mrr", "arr", "arpa", "net_new_mrr", "quick_ratio"), _movements,
                        movements=("new", "reactivation", "expansion", "contraction", "churn"))
