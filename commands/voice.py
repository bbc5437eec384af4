"""nps and csat: the voice of the customer."""

from __future__ import annotations

from commands.context import Request
from commands.kpi import family_reply
from commands.reply import Chart, Reply
from commands.router import command


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
    chart = Chart(kind="donut", title="NPSの内訳" if lang == "ja" else "NPS breakdown", subtitle=period.describe(lang),
                  labels=labels, series=(("responses", (p["promoters"], p["passives"], p["detractors"])),),
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
    chart = Chart(kind="bars", title="CSATの分布" if lang == "ja" else "CSAT scores", subtitle=period.describe(lang),
                  labels=("1", "2", "3", "4", "5"), series=(("answers", tuple(dist[str(k)] for k in range(1, 6))),),
                  unit="count", alt=f"CSAT score distribution {period.describe('en')}")
    return lines, None, chart


@command(
    "nps",
    example="nps this-quarter",
    aliases=("顧客推奨度",),
    keywords=("nps", "net promoter", "net promoter score", "promoters", "detractors", "顧客推奨度",
              "ネットプロモータースコア", "推奨者", "批判者"),
)
def nps(req: Request) -> Reply:
    """nps [period] [filters]"""
    return family_reply(req, "nps", ("nps",), _nps)


@command(
    "csat",
    example="csat last-month",
    aliases=("顧客満足度",),
    keywords=("csat", "customer satisfaction", "satisfaction", "顧客満足度", "満足度"),
)
def csat(req: Request) -> Reply:
    """csat [period] [filters]"""
    return family_reply(req, "csat", ("csat",), _csat)
