"""The daily digests: which are due, claiming each day once, building and posting one digest
(headline, thread, chart), recording the outcome and reporting failures to the admin channel.

A digest later than ``Settings.digest_max_late_hours`` is recorded as skipped, never
posted late; a claim left by a crashed process is taken over once
(``metrics/digest_store.py`` explains the exactly-once rule).
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from datetime import date, datetime, timedelta
from functools import partial
from typing import Callable

from bot.jobs.context import JobContext, TickResult
from bot.poster import PostError
from commands.digest import Target, admin_digest_failed, build_digest
from metrics import digest_store as store
from metrics.db import Database
from metrics.filters import NO_FILTERS

logger = logging.getLogger(__name__)


def late_limit(ctx: JobContext) -> timedelta:
    """How late a digest may still be posted."""
    return timedelta(hours=ctx.settings.digest_max_late_hours)


def run_due(ctx: JobContext, db: Database, now: datetime, result: TickResult) -> list[Future]:
    """Stale claims taken over, then every due digest claimed (or skipped when too late) and handed to
    its channel's lane to post (``ctx.lanes``; inline when None). Returns the lanes' futures."""
    engine = ctx.engine
    futures: list[Future] = []

    def post(sub: store.Subscription, fn: Callable[[], bool]) -> None:
        if ctx.lanes is None:
            fn()
        else:
            futures.append(ctx.lanes.submit(sub.channel, fn))

    for taken in store.take_over_stale(engine, now, ctx.worker):
        post(taken.subscription, partial(deliver, ctx, db, taken.delivery_id, taken.subscription, taken.local_date,
                                         now, result, taken_over=True))
    limit = late_limit(ctx)
    for due in store.due_digests(engine, now, late_limit=limit):
        sub = due.subscription
        if due.late > limit:
            local = due.scheduled_at.astimezone(sub.zone)
            reason = (f"{due.late.total_seconds() / 3600:.1f} h late (limit {limit.total_seconds() / 3600:g} h, "
                      f"CSBOT_DIGEST_MAX_LATE_HOURS): csbot was not running at {local:%Y-%m-%d %H:%M %Z}")
            did = store.claim(engine, subscription_id=sub.id, local_date=due.local_date, channel=sub.channel,
                              now=now, worker=ctx.worker, scheduled_at=due.scheduled_at, status="skipped",
                              reason=reason)
            if did is not None:
                logger.warning("digest %s for %s skipped: %s", sub.id, due.local_date, reason)
                result.skipped.append(did)
            continue
        did = store.claim(engine, subscription_id=sub.id, local_date=due.local_date, channel=sub.channel,
                          now=now, worker=ctx.worker, scheduled_at=due.scheduled_at)
        if did is None:
            continue  # another process claimed this day: it posts, we don't
        post(sub, partial(deliver, ctx, db, did, sub, due.local_date, now, result))
    return futures


def deliver(ctx: JobContext, db: Database, delivery_id: int, sub: store.Subscription, local_date: date,
            now: datetime, result: TickResult, *, taken_over: bool = False) -> bool:
    """Post one claimed digest: headline, then the thread and the chart under it. Records the outcome.
    The headline carries the run_id ``digest:<delivery id>``: a post that timed out is looked for
    before it is posted again, and a takeover first looks whether the crashed process had posted it."""
    engine = ctx.engine
    poster = ctx.poster
    channel = sub.channel
    run_id = f"digest:{delivery_id}"
    try:
        channel = poster.open_dm(sub.channel) if sub.target == "dm" else sub.channel
        found = _posted_before(ctx, channel, run_id) if taken_over else None
        if found:
            store.finish(engine, delivery_id, "sent", now=now, channel=channel, message_ts=found,
                         reason="posted before the takeover (found in the channel)")
            result.sent.append(delivery_id)
            logger.warning("digest %s for %s had been posted before the takeover", sub.id, local_date)
            return True
        revenue = ctx.revenue_allowed(sub.target, channel, sub.channel_name)
        prev = store.last_sent(engine, sub.id, local_date) if sub.id else None
        digest = build_digest(db, ctx.settings, now=now, filters=sub.filters, lang=sub.lang, revenue=revenue,
                              since=prev[0] if prev else None, since_at=prev[1] if prev else None,
                              schedule=sub.schedule)
        ts = poster.post(channel, digest.headline, run_id=run_id)
    except PostError as exc:
        return _failed(ctx, delivery_id, sub, local_date, now, channel, str(exc), result)
    except Exception as exc:  # a bug or the database: record it, never stop the other channels
        logger.exception("digest %s for %s failed", sub.id, local_date)
        return _failed(ctx, delivery_id, sub, local_date, now, channel, f"internal error ({type(exc).__name__})",
                       result)
    notes = []
    try:
        poster.post(channel, digest.thread, thread_ts=ts, run_id=f"{run_id}:thread")
    except PostError as exc:
        notes.append(f"thread not posted: {exc.reason}")
    if digest.chart is not None:
        try:
            poster.upload_chart(channel, digest.chart, thread_ts=ts, lang=sub.lang)
        except PostError as exc:
            notes.append(f"chart not uploaded: {exc.reason}")
    try:
        store.finish(engine, delivery_id, "sent", now=now, channel=channel, message_ts=ts,
                     reason="; ".join(notes) or None)
    except Exception:
        # The row stays "claimed": a later tick takes it over, finds the headline by its run_id and records it.
        logger.exception("digest %s posted but not recorded", sub.id)
    result.sent.append(delivery_id)
    logger.info("digest %s for %s sent to %s", sub.id, local_date, channel)
    return True


def _posted_before(ctx: JobContext, channel: str, run_id: str) -> str | None:
    """The ts of a message carrying ``run_id`` already in ``channel`` (a crashed process posted it), or
    None, also when the poster cannot look (then it is posted: the old at-most-twice window)."""
    find_posted = getattr(ctx.poster, "find_posted", None)
    if find_posted is None:
        return None
    try:
        return find_posted(channel, run_id)
    except PostError as exc:
        logger.warning("could not look for %s in %s before the takeover: %s", run_id, channel, exc.reason)
        return None


def _failed(ctx: JobContext, delivery_id: int, sub: store.Subscription, local_date: date, now: datetime,
            channel: str, reason: str, result: TickResult) -> bool:
    logger.error("digest %s for %s to %s failed: %s", sub.id, local_date, channel, reason)
    try:
        store.finish(ctx.engine, delivery_id, "failed", now=now, reason=reason)
    except Exception:
        logger.exception("could not record the failed digest %s", sub.id)
    result.failed.append(delivery_id)
    ctx.report_admin(admin_digest_failed(sub, channel, local_date, reason))
    return False


def post_now(ctx: JobContext, db: Database, target: Target, now: datetime, lang: str = "en") -> tuple[bool, str]:
    """Post the digest to a channel now (``csbot digest --channel``), logged with no subscription.
    Returns (posted, the reason recorded: why it failed, or what was left out)."""
    sub = store.Subscription(id=0, target=target.kind, channel=target.channel, channel_name=target.name,
                             local_time="00:00", tz=ctx.settings.timezone, schedule="daily",
                             filters=NO_FILTERS, lang=lang, created_by=None, created_at=now)
    today = now.astimezone(ctx.settings.tz).date()
    did = store.claim(ctx.engine, subscription_id=None, local_date=today, channel=target.channel, now=now,
                      worker=ctx.worker)
    result = TickResult()
    deliver(ctx, db, did, sub, today, now, result)  # type: ignore[arg-type]  # no UNIQUE clash: subscription NULL
    return bool(result.sent), store.delivery_reason(ctx.engine, did) or ""  # type: ignore[arg-type]
