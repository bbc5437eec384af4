"""nrr, grr and retention: revenue retention (net and gross) and customer
retention with the cohort table."""

from __future__ import annotations

from commands.context import Request
from commands.kpi import family_reply
from commands.reply import Chart, Reply, Table
from commands.router import command
from metrics import format as fmt
from metrics.periods import add_months, month_start
from metrics.retention import cohort_table
from metrics.revenue import movements

COHORT_MONTHS = 12  # cohort rows shown: the 12 months ending with the period's last month
COHORT_COLUMNS = 6  # months after the cohort month shown as columns


def _revenue_lines(calc, results, period, lang, currency):
    any_result = next(iter(results.values()))
    m = movements(calc, period, any_result.filters)
    a = m.amounts
    money = lambda v: fmt.money(v, currency)  # noqa: E731
    if lang == "ja":
        lines = [f"期首MRR {money(m.mrr_start)}（{m.customers_start}社）から、解約 −{money(a['churn'])}、"
                 f"縮小 −{money(a['contraction'])}、拡大 +{money(a['expansion'])}。新規と再開は含みません。"]
        labels = ("期首MRR", "解約", "縮小", "拡大", "維持MRR")
    else:
        lines = [f"From {money(m.mrr_start)} of MRR at the start ({m.customers_start} customers): churn "
                 f"−{money(a['churn'])}, contraction −{money(a['contraction'])}, expansion +{money(a['expansion'])}. "
                 "New and reactivated customers are not counted."]
        labels = ("MRR at start", "Churn", "Contraction", "Expansion", "Kept")
    kept = round(m.mrr_start - a["churn"] - a["contraction"] + a["expansion"], 2)
    chart = Chart(kind="waterfall", title="売上維持の内訳" if lang == "ja" else "Revenue retention",
                  subtitle=period.describe(lang), labels=labels,
                  series=(("MRR", (m.mrr_start, -a["churn"], -a["contraction"], a["expansion"], kept)),),
                  unit="money", alt=f"Revenue retention {period.describe('en')}")
    return lines, None, chart


def _cohorts(calc, results, period, lang, currency):
    filters = results["retention_rate"].filters
    last = month_start(period.last_day)
    rows = cohort_table(calc, add_months(last, -(COHORT_MONTHS - 1)), last, filters, max_k=COHORT_COLUMNS)
    cols = (("コホート", "顧客数") if lang == "ja" else ("Cohort", "Customers")) + tuple(
        f"{k}か月後" if lang == "ja" else f"M{k}" for k in range(1, COHORT_COLUMNS + 1))
    body = []
    for r in rows:
        cells = [fmt.percent(v) for v in r["retention"]]
        cells += [""] * (COHORT_COLUMNS - len(cells))
        body.append((r["cohort"], f"{r['size']:,}", *cells))
    title = "継続率（初回課金月ごとのコホート、各月末に有料の割合）" if lang == "ja" else \
        "Cohort retention (by month of first payment; share still paying at each month end)"
    table = Table(columns=cols, rows=tuple(body), title=title)
    chart = Chart(kind="heatmap", title="継続率" if lang == "ja" else "Cohort retention",
                  subtitle=period.describe(lang), labels=tuple(r["cohort"] for r in rows),
                  series=tuple((f"M{k}", tuple(r["retention"][k - 1] if len(r["retention"]) >= k else None
                                               for r in rows)) for k in range(1, COHORT_COLUMNS + 1)),
                  unit="ratio", alt="Cohort retention table")
    churn = results["customer_churn_rate"]
    ch = churn.current.parts
    if lang == "ja":
        lines = [f"期首の有料顧客 {ch['denominator']:,}社のうち {ch['denominator'] - ch['numerator']:,}社が期末も有料です。"]
    else:
        lines = [f"{ch['denominator'] - ch['numerator']:,} of the {ch['denominator']:,} customers paying at the start "
                 "still pay at the end."]
    cohort = results["cohort_retention"].current
    if cohort.value is None and not cohort.parts.get("known", True):
        lines.append("この期間のコホートは翌月末をまだ迎えていないため、継続率はまだ出せません。" if lang == "ja" else
                     "The cohort retention of this period is not known yet: the month after it has not ended.")
    return lines, table, chart


@command(
    "nrr",
    example="nrr last-12-months",
    aliases=("売上維持率", "ネットレベニューリテンション"),
    keywords=("nrr", "net revenue retention", "net retention", "net dollar retention", "ndr", "expansion rate",
              "売上維持率", "ネット売上維持率", "ネットレベニューリテンション", "拡大率"),
)
def nrr(req: Request) -> Reply:
    """nrr [period] [filters]"""
    return family_reply(req, "nrr", ("nrr", "grr", "expansion_rate", "net_mrr_churn_rate"), _revenue_lines,
                        movements=("expansion", "contraction", "churn"))


@command(
    "grr",
    example="grr 2026-Q3",
    aliases=("グロス売上維持率",),
    keywords=("grr", "gross revenue retention", "gross retention", "gross dollar retention",
              "グロス売上維持率", "グロスレベニューリテンション"),
)
def grr(req: Request) -> Reply:
    """grr [period] [filters]"""
    return family_reply(req, "grr", ("grr", "revenue_churn_rate", "nrr"), _revenue_lines,
                        movements=("contraction", "churn"))


@command(
    "retention",
    example="retention last-quarter",
    aliases=("継続率", "リテンション", "コホート"),
    keywords=("retention", "retention rate", "customer retention", "cohort", "cohorts", "継続率", "リテンション",
              "コホート", "顧客維持率"),
)
def retention(req: Request) -> Reply:
    """retention [period] [filters]"""
    return family_reply(req, "retention", ("retention_rate", "customer_churn_rate", "annualized_churn_rate",
                                           "cohort_retention"), _cohorts, movements=("churn",))
