"""ltv: customer lifetime value, with ARPA, the churn it rests on, upsell and cross-sell."""

from __future__ import annotations

from commands.context import Request
from commands.kpi import family_reply
from commands.reply import Chart, Reply
from commands.router import command
from metrics import format as fmt


def _lines(calc, results, period, lang, currency):
    p = results["ltv"].current.parts
    months = p["monthly_churn"]
    mean = fmt.percent(p["mean_monthly_churn"])
    if lang == "ja":
        lines = [f"ARPA {fmt.money(p['arpa'], currency)} ÷ 直近6か月の平均月次解約率 {mean}"
                 + (f" × 粗利率 {fmt.percent(p['gross_margin'])}" if p["gross_margin"] != 1 else "") + "。"]
        if p["mean_monthly_churn"] == 0:
            lines.append("直近6か月に解約がないため、LTVは定義できません（無限大にはしません）。")
    else:
        lines = [f"ARPA {fmt.money(p['arpa'], currency)} / mean monthly churn {mean} over the last six months"
                 + (f" × gross margin {fmt.percent(p['gross_margin'])}" if p["gross_margin"] != 1 else "") + "."]
        if p["mean_monthly_churn"] == 0:
            lines.append("No churn in the last six months, so LTV is not defined (never infinite).")
    chart = Chart(kind="bars", title="月次解約率" if lang == "ja" else "Monthly customer churn",
                  subtitle=period.describe(lang), labels=tuple(m["month"] for m in months),
                  series=(("churn", tuple(m["rate"] for m in months)),), unit="ratio",
                  alt="Monthly customer churn of the six months behind LTV")
    return lines, None, chart


@command(
    "ltv",
    example="ltv last-month",
    aliases=("顧客生涯価値", "ライフタイムバリュー"),
    keywords=("ltv", "clv", "lifetime value", "customer lifetime value", "upsell", "cross-sell", "cross sell",
              "顧客生涯価値", "ライフタイムバリュー", "アップセル", "クロスセル"),
)
def ltv(req: Request) -> Reply:
    """ltv [period] [filters]"""
    return family_reply(req, "ltv", ("ltv", "arpa", "upsell_rate", "cross_sell_rate"), _lines)
