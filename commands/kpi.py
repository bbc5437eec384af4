"""kpi: the board of headline numbers, each with its previous period and change.

Two rows fall back, clearly labelled, when the asked period cannot give a sensible number
(docs/metrics.md, "People and machines"): NPS shows the latest survey when the period has no
answers, and the onboarding rate shows the latest cohort whose window has closed while the
period's customers are still inside theirs (or "pending")."""

from __future__ import annotations

import logging
from dataclasses import replace

from commands import format as fmt
from commands import metric_text
from commands.context import Request
from commands.messages import t, t_list
from commands.metric_answer import family_reply, figure, headline
from commands.reply import Figure, Reply, Table
from commands.spec import command
from commands.voice import fallback_figure, fallback_line, nps_fallback
from metrics import catalog
from metrics.calc import Calc
from metrics.compute import MetricResult
from metrics.onboarding import latest_mature_cohort, onboarding_completion_rate_measure
from metrics.periods import Period

logger = logging.getLogger(__name__)

BOARD = ("mrr", "arr", "customer_churn_rate", "grr", "nrr", "nps", "csat", "mau", "onboarding_completion_rate")
COHORT_LOOKBACK = 12  # months searched back for a closed cohort with customers in scope


def onboarding_fallback(calc: Calc, res: MetricResult, lang: str, currency: str) -> tuple[Figure, str] | None:
    """While some of the period's customers are still inside their window, the rate can still rise:
    the latest monthly cohort whose window has closed (with its previous month), or "pending"."""
    parts = res.current.parts
    if not parts["still_in_window"]:
        return None
    days = parts["within_days"]
    cohort = latest_mature_cohort(calc.today, days, before=res.period.last_day)
    for _ in range(COHORT_LOOKBACK):
        m = onboarding_completion_rate_measure(calc, cohort, res.filters)
        if m.parts["accounts"]:
            before = cohort.previous()
            mature = replace(res, period=cohort, current=m, previous_period=before,
                             previous=onboarding_completion_rate_measure(calc, before, res.filters))
            label = t("kpi.onboarding_cohort_label", lang, label=metric_text.label(res.metric, lang),
                      dates=fmt.period(cohort, lang))
            line = t("kpi.onboarding_fallback", lang, still=parts["still_in_window"], accounts=parts["accounts"],
                     asked=fmt.period(res.period, lang), days=days, dates=fmt.period(cohort, lang))
            return figure(mature, lang, currency, label=label), line
        cohort = cohort.previous()
    pending = t("kpi.onboarding_pending", lang, still=parts["still_in_window"], accounts=parts["accounts"])
    return Figure(label=metric_text.label(res.metric, lang), value=pending), \
        t("kpi.onboarding_pending_line", lang, days=days, asked=fmt.period(res.period, lang))


def _board(calc: Calc, results: dict[str, MetricResult], period: Period, lang: str, currency: str,
           replaced: dict | None = None):
    rows, lines = [], []
    for name, res in results.items():
        m = res.metric
        fig, line = None, None
        if name == "nps":
            found = nps_fallback(calc, res)
            if found is not None:
                fig, line = fallback_figure(res, found, lang, currency), fallback_line(res, found, lang, currency)
        elif name == "onboarding_completion_rate":
            fig, line = onboarding_fallback(calc, res, lang, currency) or (None, None)
        if fig is not None:
            rows.append((fig.label, fig.value, fig.previous or "—", fig.change or "—"))
            lines.append(line)
            if replaced is not None:
                replaced[name] = fig
            continue
        change = fmt.change(m.unit, res.value, res.previous.value, currency, lang=lang)
        rows.append((metric_text.label(m, lang), headline(res, currency, lang),
                     metric_text.headline(m, res.previous.value, currency, lang), change or "—"))
    table = Table(columns=t_list("kpi.columns", lang), rows=tuple(rows), title=t("kpi.board", lang))
    return lines, table, None


@command(
    "kpi",
    example="kpi last-month",
    aliases=("kpis", "board", "ダッシュボード", "KPIボード"),
    keywords=catalog.command_keywords("kpi"),
)
def kpi(req: Request) -> Reply:
    """kpi [period] [filters]"""
    replaced: dict[str, Figure] = {}
    reply = family_reply(req, "kpi", BOARD, lambda *a: _board(*a, replaced=replaced),
                         title_fn=lambda where, lang: t("kpi.title", lang, where=where))
    if not replaced:
        return reply
    figures = tuple(replaced.get(name, fig) for name, fig in zip(BOARD, reply.figures))
    return replace(reply, figures=figures)
