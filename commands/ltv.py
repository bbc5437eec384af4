"""ltv: customer lifetime value, with ARPA, the churn it rests on, upsell and cross-sell."""

from __future__ import annotations

import logging

from commands import format as fmt
from commands.context import Request
from commands.messages import t
from commands.metric_answer import family_reply
from commands.reply import Chart, Reply, Series
from commands.spec import command
from metrics import catalog

logger = logging.getLogger(__name__)


def _lines(calc, results, period, lang, currency):
    p = results["ltv"].current.parts
    months = p["monthly_churn"]
    margin = t("ltv.margin", lang, margin=fmt.percent(p["gross_margin"])) if p["gross_margin"] != 1 else ""
    lines = [t("ltv.formula", lang, arpa=fmt.money(p["arpa"], currency), mean=fmt.percent(p["mean_monthly_churn"]),
               margin=margin)]
    if p["mean_monthly_churn"] == 0:
        lines.append(t("ltv.no_churn", lang))
    chart = Chart(kind="bars", title=t("ltv.chart_title", lang),
                  subtitle=fmt.period(period, lang), labels=tuple(m["month"] for m in months),
                  series=(Series("churn", tuple(m["rate"] for m in months)),), unit="ratio",
                  alt="Monthly customer churn of the six months behind LTV")
    return lines, None, chart


@command(
    "ltv",
    example="ltv last-month",
    aliases=("顧客生涯価値", "ライフタイムバリュー"),
    keywords=catalog.command_keywords("ltv"),
)
def ltv(req: Request) -> Reply:
    """ltv [period] [filters]"""
    return family_reply(req, "ltv", ("ltv", "arpa", "upsell_rate", "cross_sell_rate"), _lines)
