"""usage: active users, stickiness, usage time and seat utilisation.

The point-in-time figures (DAU, WAU, MAU, stickiness, seats) are taken on the last day with
usage data, not after the period: today, or a day the sync has not brought in yet, would read as
a day without users. The period's mean DAU stands beside the one day's DAU."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from commands import format as fmt
from commands.context import Request
from commands.messages import t
from commands.metric_answer import family_reply
from commands.reply import Figure, Reply
from commands.spec import command
from metrics import catalog
from metrics.calc import Calc
from metrics.periods import Period
from metrics.usage import last_usage_day, mean_dau

logger = logging.getLogger(__name__)

NAMES = ("mau", "wau", "dau", "stickiness", "avg_usage_minutes", "seat_utilization")


def synced_period(calc: Calc, period: Period) -> Period:
    """The period up to its last day with usage data (the whole period when that is its last day,
    or when it has no data at all)."""
    last = last_usage_day(calc, period)
    if last is None or last >= period.last_day or last < period.start:
        return period
    return replace(period, end=last + timedelta(days=1), to_date=period.to_date or period.grain != "range")


def _lines(calc, results, period, lang, currency, asked: Period, found: dict):
    st = results["stickiness"].current.parts
    day = results["mau"].current.parts["day"]
    res = results["dau"]
    mean, before = mean_dau(calc, period, res.filters), mean_dau(calc, res.previous_period, res.filters)
    found["mean"] = Figure(label=t("usage.mean_dau_label", lang, dates=fmt.period(period, lang)),
                           value=fmt.count(round(mean)), previous=fmt.count(round(before)),
                           change=fmt.change("count", round(mean), round(before)),
                           trend=(mean > before) - (mean < before), good=mean > before if mean != before else None)
    found.update(mean_value=mean, day=day)
    lines = []
    if period != asked:
        lines.append(t("usage.not_synced", lang, day=fmt.day(day, lang, year=True), asked=fmt.period(asked, lang),
                       dates=fmt.period(period, lang)))
    lines.append(t("usage.as_of", lang, day=fmt.day(day, lang, year=True), dau=fmt.count(res.value),
                   mean=fmt.count(round(mean)), dates=fmt.period(period, lang),
                   dau_wau=fmt.percent(st["dau_wau"]), wau_mau=fmt.percent(st["wau_mau"])))
    seats = results["seat_utilization"].current.parts
    if seats["mau"] != results["mau"].value:
        lines.append(t("usage.two_maus", lang, seat_mau=fmt.count(seats["mau"]), accounts=fmt.count(seats["accounts"]),
                       mau=fmt.count(results["mau"].value)))
    return lines, None, None


@command(
    "usage",
    example="usage this-month",
    aliases=("利用状況", "アクティブユーザー"),
    keywords=catalog.command_keywords("usage"),
)
def usage(req: Request) -> Reply:
    """usage [period] [filters]"""
    found: dict = {}

    def answered(calc: Calc, period: Period) -> Period:
        found["asked"] = period
        return synced_period(calc, period)

    reply = family_reply(req, "usage", NAMES, lambda *a: _lines(*a, asked=found["asked"], found=found),
                         period_fn=answered)
    if "mean" not in found:  # "how" only
        return reply
    figures = list(reply.figures)
    i = NAMES.index("dau")
    figures[i] = replace(figures[i], label=t("usage.dau_label", req.lang, label=figures[i].label,
                                             day=fmt.day(found["day"], req.lang)))
    figures.insert(i + 1, found["mean"])
    return replace(reply, figures=tuple(figures),
                   data={**reply.data, "mean_dau": found["mean_value"], "as_of": found["day"].isoformat()})
