"""onboarding: completion rate and time to value of the customers who started paying in the period."""

from __future__ import annotations

from commands.context import Request
from commands.kpi import family_reply
from commands.reply import Reply
from commands.router import command


def _lines(calc, results, period, lang, currency):
    p = results["onboarding_completion_rate"].current.parts
    t = results["ttv"].current.parts
    steps = ", ".join(p["milestones"])
    if lang == "ja":
        lines = [f"期間中に課金を開始した {p['accounts']:,}社のうち {p['completed']:,}社が、{p['within_days']}日以内に"
                 f"必須項目（{steps}）をすべて完了しました。",
                 f"first_value に到達した {t['accounts']:,}社の日数の中央値が TTV です。"]
    else:
        lines = [f"{p['completed']:,} of the {p['accounts']:,} customers who started paying in the period completed "
                 f"every required milestone ({steps}) within {p['within_days']} days.",
                 f"TTV is the median over the {t['accounts']:,} that reached first_value."]
    open_ = p.get("still_in_window", 0)
    if open_:
        lines.insert(1, f"うち {open_:,}社はまだ{p['within_days']}日の期限内のため、この率はこれから上がる可能性があります。"
                     if lang == "ja" else
                     f"{open_:,} of them are still inside their {p['within_days']}-day window, so this rate can still rise.")
    return lines, None, None


@command(
    "onboarding",
    example="onboarding last-quarter",
    aliases=("オンボーディング", "導入"),
    keywords=("onboarding", "ttv", "time to value", "time-to-value", "オンボーディング", "導入支援", "立ち上がり"),
)
def onboarding(req: Request) -> Reply:
    """onboarding [period] [filters]"""
    return family_reply(req, "onboarding", ("onboarding_completion_rate", "ttv"), _lines)
