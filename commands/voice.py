"""nps and csat: the voice of the customer."""

from __future__ import annotations

import logging

from commands import format as fmt
from commands.context import Request
from commands.messages import t, t_list
from commands.metric_answer import family_reply
from commands.reply import Chart, Figure, Reply, Series
from commands.spec import command
from metrics import catalog

logger = logging.getLogger(__name__)


def _nps(calc, results, period, lang, currency):
    p = results["nps"].current.parts
    lines = [t("voice.nps_respondents", lang, responses=f"{p['responses']:,}", promoters=f"{p['promoters']:,}",
               passives=f"{p['passives']:,}", detractors=f"{p['detractors']:,}")]
    nps = results["nps"].current.value
    chart = Chart(kind="donut", title=t("voice.nps_chart_title", lang), subtitle=fmt.period(period, lang),
                  labels=t_list("voice.nps_chart_labels", lang), roles=("promoter", "passive", "detractor"),
                  series=(Series("responses", (p["promoters"], p["passives"], p["detractors"])),),
                  center=None if nps is None else Figure("NPS", fmt.score(nps, signed=True)),
                  unit="count", alt=f"NPS breakdown {fmt.period(period, 'en')}")
    return lines, None, chart


def _csat(calc, results, period, lang, currency):
    p = results["csat"].current.parts
    mean = "—" if p["mean"] is None else f"{p['mean']:.2f}"
    lines = [t("voice.csat_answers", lang, satisfied=f"{p['satisfied']:,}", responses=f"{p['responses']:,}",
               mean=mean)]
    dist = p["distribution"]
    chart = Chart(kind="bars", title=t("voice.csat_chart_title", lang), subtitle=fmt.period(period, lang),
                  labels=("1", "2", "3", "4", "5"), series=(Series("answers", tuple(dist[str(k)] for k in range(1, 6))),),
                  unit="count", alt=f"CSAT score distribution {fmt.period(period, 'en')}")
    return lines, None, chart


@command(
    "nps",
    example="nps this-quarter",
    aliases=("顧客推奨度",),
    keywords=catalog.command_keywords("nps"),
)
def nps(req: Request) -> Reply:
    """nps [period] [filters]"""
    return family_reply(req, "nps", ("nps",), _nps)


@command(
    "csat",
    example="csat last-month",
    aliases=("顧客満足度",),
    keywords=catalog.command_keywords("csat"),
)
def csat(req: Request) -> Reply:
    """csat [period] [filters]"""
    return family_reply(req, "csat", ("csat",), _csat)
