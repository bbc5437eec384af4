"""Alerts: every configured alert's new events (an account dropped to red, churned, contracted,
a detractor answered NPS), each posted once per channel across processes."""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from bot.jobs.context import JobContext
from bot.poster import PostError
from commands.digest import admin_alert_failed, alert_reply
from metrics import digest_queries as queries
from metrics import digest_store as store

logger = logging.getLogger(__name__)


def check_alerts(ctx: JobContext, now: datetime, *, wait: bool = True) -> list[int]:
    """Fire every configured alert's new events, each once per channel. Each alert's posts run in its
    channel's lane (``ctx.lanes``; inline when None). ``wait``: until they are done, and return the
    alerts_fired IDs posted (else [] at once: the lanes post on their own)."""
    engine = ctx.engine
    alerts = store.list_alerts(engine)
    if not alerts:
        return []
    events: dict[str, list[queries.AlertEvent]] = {}
    with engine.connect() as conn:
        for kind in sorted({a.kind for a in alerts}):
            events[kind] = queries.alert_events(conn, kind, ctx.settings, now)
    fired: list[int] = []
    futures = []
    tz = ctx.settings.tz
    for alert in alerts:
        wanted = [e for e in events.get(alert.kind, []) if queries.alert_matches(alert, e, tz)]
        if not wanted:
            continue
        if ctx.lanes is None:
            fired.extend(post_events(ctx, alert, wanted, now))
        else:  # in the channel's lane: paced, and a held channel never delays another
            futures.append(ctx.lanes.submit(alert.channel, partial(post_events, ctx, alert, wanted, now),
                                            key=f"alert:{alert.id}"))
    if wait:
        for future in futures:
            fired.extend(future.result())
    return fired


def post_events(ctx: JobContext, alert: store.Alert, wanted: list[queries.AlertEvent], now: datetime) -> list[int]:
    """Post one alert's new events to its channel, each claimed first (once per channel across
    processes) and carrying its run_id (a timed-out post is looked for, not posted twice)."""
    engine = ctx.engine
    fired: list[int] = []
    revenue = ctx.revenue_allowed("channel", alert.channel, alert.channel_name)
    failed_here = False
    for event in wanted:
        fid = store.claim_alert(engine, alert, event_key=event.key, kind=event.kind, account_id=event.account_id,
                                now=now)
        if fid is None:
            continue  # fired already (here or by another process)
        if failed_here:  # the channel is broken this tick: record, don't hammer the service
            store.finish_alert(engine, fid, "failed", "skipped after an earlier failure in this channel")
            continue
        try:
            ctx.poster.post(alert.channel, alert_reply(alert, event, ctx.settings, revenue=revenue),
                            run_id=f"alert:{fid}")
            store.finish_alert(engine, fid, "sent")
            fired.append(fid)
        except PostError as exc:
            failed_here = True
            reason = str(exc)
            store.finish_alert(engine, fid, "failed", reason)
            logger.error("alert %s to %s failed: %s", event.key, alert.channel, reason)
            ctx.report_admin(admin_alert_failed(alert, reason))
    return fired
