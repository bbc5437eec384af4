"""nps and csat: the voice of the customer."""

from __future__ import annotations

import logging
from dataclasses import replace

from commands import format as fmt
from commands import metric_text
from commands.context import Request
from commands.messages import t, t_list
from commands.metric_answer import family_reply
from commands.reply import Chart, Figure, Reply, Series
from commands.spec import command
from metrics import catalog
from metrics.calc import Calc, Measurement
from metrics.compute import MetricResult
from metrics.periods import Period
from metrics.voice import latest_nps_period, nps_measure

logger = logging.getLogger(__name__)


def nps_fallback(calc: Calc, res: MetricResult) -> tuple[Period, Measurement] | None:
    """When the asked period has no NPS answers: the latest period before it that has, and its NPS."""
    if res.current.parts["responses"]:
        return None
    found = latest_nps_period(calc, res.period, res.filters)
    return None if found is None else (found, nps_measure(calc, found, res.filters))


def fallback_figure(res: MetricResult, found: tuple[Period, Measurement], lang: str, currency: str) -> Figure:
    """The headline figure of the latest survey, labelled with its dates (no change: nothing to compare)."""
    period, m = found
    return Figure(label=t("voice.nps_latest_label", lang, label=metric_text.label(res.metric, lang),
                          dates=fmt.period(period, lang)),
                  value=metric_text.headline(res.metric, m.value, currency))


def fallback_line(res: MetricResult, found: tuple[Period, Measurement], lang: str, currency: str) -> str:
    period, m = found
    return t("voice.nps_fallback", lang, value=metric_text.headline(res.metric, m.value, currency),
             dates=fmt.period(period, lang), responses=f"{m.parts['responses']:,}", asked=fmt.period(res.period, lang))


def _nps(calc, results, period, lang, currency, found_out: dict | None = None):
    res = results["nps"]
    found = nps_fallback(calc, res)
    lines = []
    if found is not None:
        lines.append(fallback_line(res, found, lang, currency))
        if found_out is not None:
            found_out.update(found=found, res=res)
        period, m = found
    else:
        m = res.current
    p = m.parts
    lines.append(t("voice.nps_respondents", lang, responses=f"{p['responses']:,}", promoters=f"{p['promoters']:,}",
                   passives=f"{p['passives']:,}", detractors=f"{p['detractors']:,}"))
    nps = m.value
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
    holder: dict = {}
    reply = family_reply(req, "nps", ("nps",), lambda *a: _nps(*a, found_out=holder))
    if "found" not in holder:
        return reply
    lang, currency = req.lang, req.ctx.settings.currency
    res, found = holder["res"], holder["found"]
    title = t("voice.nps_title_fallback", lang, label=metric_text.label(res.metric, lang),
              value=metric_text.headline(res.metric, found[1].value, currency), dates=fmt.period(found[0], lang),
              where=fmt.period_line(res.period, res.filters, lang))
    empty = t("metric_answer.not_defined", lang)
    return replace(reply, title=title, summary=title, figures=(fallback_figure(res, found, lang, currency),),
                   lines=tuple(x for x in reply.lines if x != empty),
                   data={**reply.data, "nps_latest": found[1].value, "nps_latest_period": found[0].iso()})


@command(
    "csat",
    example="csat last-month",
    aliases=("顧客満足度",),
    keywords=catalog.command_keywords("csat"),
)
def csat(req: Request) -> Reply:
    """csat [period] [filters]"""
    return family_reply(req, "csat", ("csat",), _csat)
