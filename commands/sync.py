"""sync: the last syncs, how fresh the data is, and the rows that were rejected (and why).

The words are in ``commands/messages/sync.toml``; the rejected rows' reasons are
data (stored in English by the sync) and shown as they are. They quote the raw values
(``MRR '¥980,000' is not a number``), so a reply listing them is marked ``raw_data`` and
stays private outside the revenue channels (``commands.privacy``); without them it may be public.
"""

from __future__ import annotations

from datetime import datetime

from commands.context import Request
from commands.messages import t, t_list
from commands.reply import Reply, Table
from commands.spec import command
from metrics.sync import sync_status

STATUS_KEYS = {"ok": "sync.status_ok", "failed": "sync.status_failed", "running": "sync.status_running",
               "busy": "sync.status_busy"}


@command("sync", example="sync",
         aliases=("同期",), keywords=("sync", "同期", "freshness", "鮮度"), needs_data=False)
def sync(req: Request) -> Reply:
    """sync"""
    lang, ctx = req.lang, req.ctx
    settings = ctx.settings
    status = sync_status(ctx.db.engine, settings, now=ctx.now, limit=5, rejected_limit=10)
    tz = settings.tz

    def stamp(moment: datetime | None) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "—"

    def status_word(word: str) -> str:
        return t(STATUS_KEYS[word], lang) if word in STATUS_KEYS else word

    lines: list[str] = []
    if status.last_success is None:
        title = t("sync.never_title", lang)
        lines.append(t("sync.never_hint", lang))
    else:
        title = t("sync.title", lang, when=stamp(status.last_success), hours=status.hours_since_success(ctx.now))
        if status.is_stale(settings, ctx.now):
            lines.append(t("sync.stale", lang, limit=settings.stale_sync_hours))
    if status.running is not None:
        lines.append(t("sync.running", lang, host=status.running.host, since=stamp(status.running.acquired_at)))
    runs = Table(
        columns=t_list("sync.columns", lang),
        rows=tuple((stamp(r.started_at), status_word(r.status), f"{r.rows_in:,}", f"{r.rows_changed:,}",
                    f"{r.rows_rejected:,}", r.source[:40]) for r in status.runs),
        title=t("sync.runs_title", lang),
    )
    if status.rejected:
        lines.append(t("sync.rejected_title", lang, n=status.rejected_total))
        for r in status.rejected:
            where = ":".join(str(x) for x in (r.file or r.table, r.line) if x is not None)
            column = f" [{r.column}]" if r.column else ""
            lines.append(f"• {where}{column}: {r.reason}")
        if status.rejected_total > len(status.rejected):
            lines.append(t("sync.rejected_more", lang, more=status.rejected_total - len(status.rejected)))
    return Reply(title=title, summary=title, language=lang, lines=tuple(lines), table=runs if status.runs else None,
                 data={"last_success": status.last_success.isoformat() if status.last_success else None,
                       "rejected_total": status.rejected_total},
                 raw_data=bool(status.rejected))  # the reasons quote raw values: not public outside revenue channels
