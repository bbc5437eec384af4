"""nps and csat: the voice of the customer."""

from __future__ import annotations

from commands.core import Request, command
from commands.kpi import family_reply
from commands.messages import t
from commands.reply import Chart, Figure, Reply, Series
from metrics import format as fmt


def _nps(calc, results, period, lang, currency):
    p = results["nps"].current.parts
    if lang == "ja":
        lines = [f"回答者 {p['responses']:,}人: 推奨者 {p['promoters']:,}、中立者 {p['passives']:,}、批判者 {p['detractors']:,}"
                 "（期間内の回答者ごとに最新の回答を数えます）。"]
        labels = ("推奨者 (9-10)", "中立者 (7-8)", "批判者 (0-6)")
    else:
        lines = [f"{p['responses']:,} respondents: {p['promoters']:,} promoters, {p['passives']:,} passives, "
                 f"{p['detractors']:,} detractors (each respondent's latest answer in the period)."]
        labels = ("Promoters (9-10)", "Passives (7-8)", "Detractors (0-6)")
    nps = results["nps"].current.value
    chart = Chart(kind="donut", title=t("charts.nps_breakdown", lang), subtitle=period.describe(lang),
                  labels=labels, roles=("promoter", "passive", "detractor"),
                  series=(Series("responses", (p["promoters"], p["passives"], p["detractors"])),),
                  center=None if nps is None else Figure("NPS", fmt.score(nps, signed=True)),
                  unit="count", alt=f"NPS breakdown {period.describe('en')}")
    return lines, None, chart


def _csat(calc, results, period, lang, currency):
    p = results["csat"].current.parts
    mean = "—" if p["mean"] is None else f"{p['mean']:.2f}"
    if lang == "ja":
        lines = [f"回答 {p['responses']:,}件のうち 4〜5点が {p['satisfied']:,}件。平均 {mean} 点（5点満点）。"]
    else:
        lines = [f"{p['satisfied']:,} of {p['responses']:,} answers scored 4 or 5; mean score {mean} out of 5."]
    dist = p["distribution"]
    chart = Chart(kind="bars", title=t("charts.csat_scores", lang), subtitle=period.describe(lang),
                  labels=("1", "2", "3", "4", "5"), series=(Series("answers", tuple(dist[str(k)] for k in range(1, 6))),),
                  unit="count", alt=f"CSAT score distribution {period.describe('en')}")
    return lines, None, chart


@command(
    "nps",
    help_ja="NPS（ネットプロモータースコア）と推奨者・中立者・批判者",
    example="nps this-quarter",
    aliases=("顧客推奨度",),
    keywords=("nps", "net promoter", "net promoter score", "promoters", "detractors", "顧客推奨度",
              "ネットプロモータースコア", "推奨者", "批判者"),
)
def nps(req: Request) -> Reply:
    """nps [period] [filters]: Net Promoter Score with promoters, passives and detractors"""
    return family_reply(req, "nps", ("nps",), _nps)


@command(
    "csat",
    help_ja="CSAT（顧客満足度）: 4〜5点の割合と平均点",
    example="csat last-month",
    aliases=("顧客満足度",),
    keywords=("csat", "customer satisfaction", "satisfaction", "顧客満足度", "満足度"),
)
def csat(req: Request) -> Reply:
    """csat [period] [filters]: customer satisfaction: top-2-box share and mean score"""
    return family_reply(req, "csat", ("csat",), _csat)
