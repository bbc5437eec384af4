"""help: every command with an example, generated from the commands themselves."""

from __future__ import annotations

from commands.core import Request, command, load_commands
from commands.reply import Reply

FILTERS_EN = "Filters: segment:enterprise, touch:high, owner:@alice or owner:me, plan:pro, region:apac."
FILTERS_JA = "フィルター: segment:enterprise, touch:high, owner:@alice または owner:me, plan:pro, region:apac"
PERIODS_EN = "Periods: last-month (default), this-month, 2026-10, 2026-Q3, last-30-days, ytd, 先月, 今四半期 …"
PERIODS_JA = "期間: 先月（既定）, 今月, 今四半期, 前四半期, 過去30日, 2026-10, 2026-Q3 …"


@command("help", help_ja="コマンドの一覧と例", example="help", aliases=("ヘルプ", "使い方", "?"),
         keywords=("help", "ヘルプ", "使い方", "what can you do", "何ができる"), needs_data=False)
def help_command(req: Request) -> Reply:
    """help: every command with an example"""
    lang = req.lang
    lines = []
    for spec in sorted(load_commands().values(), key=lambda s: (s.name == "help", s.name)):
        text = spec.help_ja if lang == "ja" else spec.help_en
        lines.append(f"*{spec.usage}*: {text} (e.g. `{spec.example}`)" if lang != "ja"
                     else f"*{spec.usage}*: {text}（例: `{spec.example}`）")
    lines.append(PERIODS_JA if lang == "ja" else PERIODS_EN)
    lines.append(FILTERS_JA if lang == "ja" else FILTERS_EN)
    if lang == "ja":
        lines.append("スラッシュコマンド（/churn）、/cs churn、@csbot へのメンション、DMのどれでも使えます。")
        title = "csbot でできること"
    else:
        lines.append("Ask with a slash command (/churn), /cs churn, a mention of @csbot or a DM.")
        title = "What csbot can answer"
    return Reply(title=title, summary=title, kind="help", language=lang, lines=tuple(lines))
