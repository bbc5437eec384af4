"""usage: active users, stickiness, usage time and seat utilisation."""

from __future__ import annotations

from commands.context import Request
from commands.kpi import family_reply
from commands.reply import Reply
from commands.router import command

NAMES = ("mau", "wau", "dau", "stickiness", "avg_usage_minutes", "seat_utilization")


def _lines(calc, results, period, lang, currency):
    st = results["stickiness"].current.parts
    dau_wau = "—" if st["dau_wau"] is None else f"{st['dau_wau'] * 100:.1f}%"
    wau_mau = "—" if st["wau_mau"] is None else f"{st['wau_mau'] * 100:.1f}%"
    day = results["mau"].current.parts["day"]
    if lang == "ja":
        lines = [f"{day} 時点（DAUはその日、WAUは7日間、MAUは30日間）。DAU/WAU {dau_wau}、WAU/MAU {wau_mau}。"]
    else:
        lines = [f"As of {day} (DAU that day, WAU the 7 days, MAU the 30 days ending it). "
                 f"DAU/WAU {dau_wau}, WAU/MAU {wau_mau}."]
    return lines, None, None


@command(
    "usage",
    example="usage this-month",
    aliases=("利用状況", "アクティブユーザー"),
    keywords=("usage", "active users", "dau", "wau", "mau", "stickiness", "seat utilization", "seat utilisation",
              "usage time", "利用状況", "アクティブユーザー", "スティッキネス", "利用時間", "シート利用率",
              "ライセンス稼働率"),
)
def usage(req: Request) -> Reply:
    """usage [period] [filters]"""
    return family_reply(req, "usage", NAMES, _lines)
