"""nrr, grr and retention: revenue retention (net and gross) and customer
retention with the cohort table."""

from __future__ import annotations

import logging

from commands import format as fmt
from commands.context import Request
from commands.messages import t, t_list
from commands.metric_answer import family_reply
from commands.reply import Chart, Figure, Reply, Series, Table
from commands.spec import command
from metrics import catalog
from metrics.periods import add_months, month_start
from metrics.retention import cohort_table
from metrics.revenue import movements

logger = logging.getLogger(__name__)

COHORT_MONTHS = 12  # cohort rows shown: the 12 months ending with the period's last month
COHORT_COLUMNS = 6  # months after the cohort month shown as columns


def _revenue_lines(calc, results, period, lang, currency):
    any_result = next(iter(results.values()))
    m = movements(calc, period, any_result.filters)
    a = m.amounts
    money = lambda v: fmt.money(v, currency)  # noqa: E731
    lines = [t("retention.revenue_kept", lang, start=money(m.mrr_start), customers=m.customers_start,
               churn=money(a["churn"]), contraction=money(a["contraction"]), expansion=money(a["expansion"]))]
    kept = round(m.mrr_start - a["churn"] - a["contraction"] + a["expansion"], 2)
    # The chart's last bar is what was kept of the starting MRR, so its share of the start is the NRR:
    # the chart says it (title and centre), computed from the very bars it draws.
    nrr = kept / m.mrr_start if m.mrr_start else None
    center = Figure(label=t("retention.revenue_chart_nrr", lang), value=fmt.percent(nrr))
    chart = Chart(kind="waterfall", title=t("retention.revenue_chart_title", lang, nrr=center.value),
                  subtitle=fmt.period(period, lang), labels=t_list("retention.revenue_chart_labels", lang),
                  roles=("start", "churn", "contraction", "expansion", "end"),
                  series=(Series("MRR", (m.mrr_start, -a["churn"], -a["contraction"], a["expansion"], kept)),),
                  unit="money", center=center,
                  alt=f"Revenue retention {fmt.period(period, 'en')}: NRR {center.value}")
    return lines, None, chart


def _cohorts(calc, results, period, lang, currency):
    filters = results["retention_rate"].filters
    last = month_start(period.last_day)
    rows = cohort_table(calc, add_months(last, -(COHORT_MONTHS - 1)), last, filters, max_k=COHORT_COLUMNS)
    cols = t_list("retention.cohort_columns", lang) + tuple(
        t("retention.months_after", lang, k=k) for k in range(1, COHORT_COLUMNS + 1))
    body = []
    for r in rows:
        cells = [fmt.percent(v) for v in r["retention"]]
        cells += [""] * (COHORT_COLUMNS - len(cells))
        body.append((r["cohort"], f"{r['size']:,}", *cells))
    table = Table(columns=cols, rows=tuple(body), title=t("retention.cohort_table_title", lang))
    chart = Chart(kind="heatmap", title=t("retention.cohort_chart_title", lang),
                  subtitle=fmt.period(period, lang), labels=cols[2:],  # a row per cohort, as in the table
                  series=tuple(Series(r["cohort"], tuple(r["retention"][k - 1] if len(r["retention"]) >= k else None
                                                         for k in range(1, COHORT_COLUMNS + 1))) for r in rows),
                  unit="ratio", alt="Cohort retention table")
    ch = results["customer_churn_rate"].current.parts
    lines = [t("retention.still_paying", lang, kept=f"{ch['denominator'] - ch['numerator']:,}",
               start=f"{ch['denominator']:,}")]
    cohort = results["cohort_retention"].current
    if cohort.value is None and not cohort.parts.get("known", True):
        lines.append(t("retention.cohort_not_known", lang))
    return lines, table, chart


@command(
    "nrr",
    example="nrr last-12-months",
    aliases=("売上維持率", "ネットレベニューリテンション"),
    keywords=catalog.command_keywords("nrr"),
)
def nrr(req: Request) -> Reply:
    """nrr [period] [filters]"""
    return family_reply(req, "nrr", ("nrr", "grr", "expansion_rate", "net_mrr_churn_rate"), _revenue_lines,
                        movements=("expansion", "contraction", "churn"), shows=("mrr_movements",))


@command(
    "grr",
    example="grr 2026-Q3",
    aliases=("グロス売上維持率",),
    keywords=catalog.command_keywords("grr"),
)
def grr(req: Request) -> Reply:
    """grr [period] [filters]"""
    return family_reply(req, "grr", ("grr", "revenue_churn_rate", "nrr"), _revenue_lines,
                        movements=("contraction", "churn"), shows=("mrr_movements",))


@command(
    "retention",
    example="retention last-quarter",
    aliases=("継続率", "リテンション", "コホート"),
    keywords=catalog.command_keywords("retention"),
)
def retention(req: Request) -> Reply:
    """retention [period] [filters]"""
    return family_reply(req, "retention", ("retention_rate", "customer_churn_rate", "annualized_churn_rate",
                                           "cohort_retention"), _cohorts, movements=("churn",))
