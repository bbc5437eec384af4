"""kpi: the board of headline numbers, each with its previous period and change."""

from __future__ import annotations

import logging

from commands import format as fmt
from commands import metric_text
from commands.context import Request
from commands.messages import t, t_list
from commands.metric_answer import family_reply, headline
from commands.reply import Reply, Table
from commands.spec import command
from metrics import catalog
from metrics.calc import Calc
from metrics.compute import MetricResult
from metrics.periods import Period

logger = logging.getLogger(__name__)

BOARD = ("mrr", "arr", "customer_churn_rate", "grr", "nrr", "nps", "csat", "mau", "onboarding_completion_rate")


def _board(calc: Calc, results: dict[str, MetricResult], period: Period, lang: str, currency: str):
    rows = []
    for res in results.values():
        m = res.metric
        change = fmt.change(m.unit, res.value, res.previous.value, currency, lang=lang)
        rows.append((metric_text.label(m, lang), headline(res, currency, lang),
                     metric_text.headline(m, res.previous.value, currency, lang), change or "—"))
    table = Table(columns=t_list("kpi.columns", lang), rows=tuple(rows), title=t("kpi.board", lang))
    return [], table, None


@command(
    "kpi",
    example="kpi last-month",
    aliases=("kpis", "board", "ダッシュボード", "KPIボード"),
    keywords=catalog.command_keywords("kpi"),
)
def kpi(req: Request) -> Reply:
    """kpi [period] [filters]"""
    return family_reply(req, "kpi", BOARD, _board, title_fn=lambda where, lang: t("kpi.title", lang, where=where))
