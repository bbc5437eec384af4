"""sync: the last syncs, how fresh the data is, and the rows that were rejected (and why)."""

from __future__ import annotations

from commands.context import Request
from commands.reply import Reply, Table
from commands.router import command
from metrics.sync import sync_status

STATUS_JA = {"ok": "成功", "failed": "失敗", "running": "実行中", "busy": "実行中"}


@command("sync", example="sync",
         aliases=("同期",), keywords=("sync", "同期", "freshness", "鮮度"), needs_data=False)
def sync(req: Request) -> Reply:
    """sync"""
    lang, ctx = req.lang, req.ctx
    status = sync_status(ctx.db.engine, limit=5, rejected_limit=10)
    tz = ctx.settings.tz
    stamp = lambda t: t.astimezone(tz).strftime("%Y-%m-%d %H:%M") if t else "—"  # noqa: E731
    ja = lang == "ja"
    hours = status.hours_since_success(ctx.now)
    if status.last_success is None:
        title = "まだ同期されていません" if ja else "No successful sync yet"
        lines = ["`csbot sync --csv <フォルダ>` でデータを取り込んでください。" if ja
                 else "Load your data with `csbot sync --csv <folder>`."]
    else:
        age = f"{hours:.0f}時間前" if ja else f"{hours:.0f} h ago"
        title = f"最終同期 {stamp(status.last_success)}（{age}）" if ja else \
            f"Last good sync {stamp(status.last_success)} ({age})"
        lines = []
        if status.is_stale(ctx.settings, ctx.now):
            lines.append(f":warning: データが古くなっています（{ctx.settings.stale_sync_hours:.0f}時間以上前）。" if ja else
                         f":warning: The data is stale (older than {ctx.settings.stale_sync_hours:.0f} h).")
    if status.running is not None:
        lines.append(f"同期を実行中です（{status.running.host} で {stamp(status.running.acquired_at)} から）。" if ja else
                     f"A sync is running (on {status.running.host} since {stamp(status.running.acquired_at)}).")
    runs = Table(
        columns=("開始", "状態", "読込", "変更", "除外", "ソース") if ja else ("Started", "Status", "In", "Changed", "Rejected", "Source"),
        rows=tuple((stamp(r.started_at), STATUS_JA.get(r.status, r.status) if ja else r.status, f"{r.rows_in:,}",
                    f"{r.rows_changed:,}", f"{r.rows_rejected:,}", r.source[:40]) for r in status.runs),
        title="直近の同期" if ja else "Last syncs",
    )
    if status.rejected:
        lines.append(("*取り込めなかった行*（直近の成功した同期、全{n}件）" if ja else
                      "*Rejected rows* (last good sync, {n} in all)").format(n=status.rejected_total))
        for r in status.rejected:
            where = ":".join(str(x) for x in (r.file or r.table, r.line) if x is not None)
            column = f" [{r.column}]" if r.column else ""
            lines.append(f"• {where}{column}: {r.reason}")
        if status.rejected_total > len(status.rejected):
            more = status.rejected_total - len(status.rejected)
            lines.append(f"…ほか {more} 件（`csbot sync --status`）" if ja else f"… and {more} more (`csbot sync --status`)")
    return Reply(title=title, summary=title, language=lang, lines=tuple(lines), table=runs if status.runs else None,
                 data={"last_success": status.last_success.isoformat() if status.last_success else None,
                       "rejected_total": status.rejected_total})
