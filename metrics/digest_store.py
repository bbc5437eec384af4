"""Digest and alert state: subscriptions, deliveries and their claims, alert rules, alerts fired,
scheduler job runs. Plain storage: no text for people, no clock (every writer takes ``now``).

Exactly once per subscription and local day
-------------------------------------------
``digest_deliveries`` has a UNIQUE (subscription_id, local_date). A process
claims a day by inserting that row (status ``claimed``) BEFORE posting; the
process whose insert fails lost the race and does nothing. The row then
becomes ``sent`` or ``failed`` (with the reason). A digest later than the late
limit (``Settings.digest_max_late_hours``) - the bot was down over its time -
is claimed as ``skipped`` instead, so it is logged and never posted late.

Scheduled times are local wall-clock times: on the spring-forward day a 02:30
that does not exist fires at 03:30 (the same instant as 02:30 in the old
offset), on the fall-back day a 01:30 that happens twice fires at the first
01:30; the one row per local day keeps it from firing again at the second.

Crashes: a row still ``claimed`` ``TAKEOVER_AFTER`` (10 minutes) after its
claim belonged to a process that died between claim and post (or while
posting). One later tick takes it over (attempts 1 -> 2) and posts. If the
dead process had in fact posted the headline before dying, the channel sees
the digest twice: that is the at-most-twice window, the price of never
silently losing a digest. A row still ``claimed`` after the takeover is
marked failed, never posted a third time.

Alerts fire once per (channel, event): ``claim_alert`` inserts the fired row
before posting. Scheduler jobs (sync, health snapshot) are claimed once per run
key in ``scheduler_runs``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from metrics import schema
from metrics.clock import naive_utc
from metrics.filters import NO_FILTERS, Filters

logger = logging.getLogger(__name__)

TAKEOVER_AFTER = timedelta(minutes=10)
SCHEDULES = ("daily", "weekdays", "weekly")
TARGETS = ("channel", "dm")
ALERT_KINDS = ("red", "churn", "contraction", "detractor")
LOCAL_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")  # "HH:MM", as stored

sub_t = schema.digest_subscriptions
dlv_t = schema.digest_deliveries
alert_t = schema.digest_alerts
fired_t = schema.alerts_fired
runs_t = schema.scheduler_runs


# ---------------------------------------------------------------------------- time

def from_db(value: Any) -> datetime | None:
    """A stored naive-UTC value back to an aware instant."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def zone(name: str) -> ZoneInfo | None:
    """The time zone called ``name``, or None when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def runs_on(schedule: str, day: date) -> bool:
    if schedule == "weekdays":
        return day.weekday() < 5
    if schedule == "weekly":
        return day.weekday() == 0  # Mondays
    return True


def scheduled_instant(day: date, local_time: str, tz: ZoneInfo) -> datetime:
    """When ``local_time`` on ``day`` happens, as an aware UTC instant.

    A wall time that does not exist (02:30 on a spring-forward day) is read in
    the offset before the change, so it lands one hour later on the clock
    (03:30); a wall time that happens twice (01:30 on a fall-back day) is the
    first of the two (``fold=0``)."""
    hour, minute = (int(x) for x in local_time.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(timezone.utc)


# ---------------------------------------------------------------------------- subscriptions

@dataclass(frozen=True)
class Subscription:
    id: int
    target: str  # channel | dm
    channel: str  # channel ID, or the user's ID for a DM
    channel_name: str | None
    local_time: str
    tz: str
    schedule: str
    filters: Filters
    lang: str
    created_by: str | None
    created_at: datetime  # aware UTC
    active: bool = True

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


def filters_to_json(filters: Filters) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for key in ("segment", "touch_model", "plan", "region"):
        value = getattr(filters, key)
        if value:
            out[key] = value
    if filters.owner:
        out["owner"] = list(filters.owner)
    return out or None


def filters_from_json(data: Any) -> Filters:
    if not data:
        return NO_FILTERS
    kwargs = {k: data[k] for k in ("segment", "touch_model", "plan", "region") if data.get(k)}
    if data.get("owner"):
        kwargs["owner"] = tuple(data["owner"])
    return Filters(**kwargs)


def _subscription(row) -> Subscription:
    return Subscription(
        id=int(row.id), target=row.target, channel=row.channel, channel_name=row.channel_name,
        local_time=row.local_time, tz=row.tz, schedule=row.schedule, filters=filters_from_json(row.filters),
        lang=row.lang, created_by=row.created_by, created_at=from_db(row.created_at), active=bool(row.active),
    )


def create_subscription(engine: Engine, *, target: str, channel: str, local_time: str, tz: str, now: datetime,
                        schedule: str = "daily", filters: Filters = NO_FILTERS, lang: str = "en",
                        channel_name: str | None = None, created_by: str | None = None) -> Subscription:
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}")
    if target not in TARGETS:
        raise ValueError("target must be channel or dm")
    if not LOCAL_TIME.match(local_time) or zone(tz) is None:
        raise ValueError(f"bad time or zone: {local_time} {tz}")
    with engine.begin() as conn:
        new_id = conn.execute(insert(sub_t).values(
            target=target, channel=channel, channel_name=channel_name, local_time=local_time, tz=tz,
            schedule=schedule, filters=filters_to_json(filters), lang=lang, created_by=created_by,
            created_at=naive_utc(now), active=True,
        )).inserted_primary_key[0]
    return get_subscription(engine, int(new_id))  # type: ignore[return-value]


def get_subscription(engine: Engine | Connection, sub_id: int) -> Subscription | None:
    stmt = select(sub_t).where(sub_t.c.id == sub_id)
    if isinstance(engine, Connection):
        row = engine.execute(stmt).first()
    else:
        with engine.connect() as conn:
            row = conn.execute(stmt).first()
    return _subscription(row) if row is not None else None


def list_subscriptions(engine: Engine, *, channel: str | None = None, active_only: bool = True) -> list[Subscription]:
    stmt = select(sub_t).order_by(sub_t.c.id)
    if active_only:
        stmt = stmt.where(sub_t.c.active.is_(True))
    if channel:
        stmt = stmt.where(sub_t.c.channel == channel)
    with engine.connect() as conn:
        return [_subscription(r) for r in conn.execute(stmt)]


def find_same(engine: Engine, *, target: str, channel: str, local_time: str, tz: str, schedule: str,
              filters: Filters) -> Subscription | None:
    """An active subscription identical to this one (subscribing twice is a no-op)."""
    wanted = filters_to_json(filters)
    for sub in list_subscriptions(engine, channel=channel):
        if (sub.target, sub.local_time, sub.tz, sub.schedule) == (target, local_time, tz, schedule) \
                and filters_to_json(sub.filters) == wanted:
            return sub
    return None


def unsubscribe(engine: Engine, *, now: datetime, sub_id: int | None = None, channel: str | None = None) -> list[int]:
    """End subscriptions by ID or by channel; returns the IDs ended. Deliveries stay in the log."""
    cond = [sub_t.c.active.is_(True)]
    if sub_id is not None:
        cond.append(sub_t.c.id == sub_id)
    elif channel is not None:
        cond.append(sub_t.c.channel == channel)
    else:
        return []
    with engine.begin() as conn:
        ids = [int(r[0]) for r in conn.execute(select(sub_t.c.id).where(and_(*cond)))]
        if ids:
            conn.execute(update(sub_t).where(sub_t.c.id.in_(ids)).values(active=False, ended_at=naive_utc(now)))
    return ids


def next_run(sub: Subscription, now: datetime) -> datetime | None:
    """The next time this subscription will post (aware UTC)."""
    tz = sub.zone
    day = now.astimezone(tz).date()
    for i in range(9):
        d = day + timedelta(days=i)
        if not runs_on(sub.schedule, d):
            continue
        at = scheduled_instant(d, sub.local_time, tz)
        if at >= now and at >= sub.created_at:
            return at
    return None


# ---------------------------------------------------------------------------- what is due

@dataclass(frozen=True)
class Due:
    subscription: Subscription
    local_date: date
    scheduled_at: datetime  # aware UTC
    late: timedelta


def due_digests(engine: Engine, now: datetime, *, late_limit: timedelta) -> list[Due]:
    """Digests whose time has come and that no process has claimed yet.

    For each active subscription: the local days from (now - late limit - 1 day)
    to today on which it runs, whose scheduled instant is at or before ``now``
    and not before the subscription was created (one created after today's time
    starts tomorrow), and that have no delivery row. Late ones are included
    (``Due.late`` over the limit) so the scheduler records them as skipped."""
    subs = list_subscriptions(engine)
    if not subs:
        return []
    candidates: list[Due] = []
    for sub in subs:
        tz = sub.zone
        today = now.astimezone(tz).date()
        back = int(late_limit / timedelta(days=1)) + 1
        for i in range(back, -1, -1):
            d = today - timedelta(days=i)
            if not runs_on(sub.schedule, d):
                continue
            at = scheduled_instant(d, sub.local_time, tz)
            if at > now or at < sub.created_at:
                continue
            candidates.append(Due(sub, d, at, now - at))
    if not candidates:
        return []
    days = sorted({c.local_date for c in candidates})
    with engine.connect() as conn:
        taken = {(int(r.subscription_id), r.local_date) for r in conn.execute(
            select(dlv_t.c.subscription_id, dlv_t.c.local_date).where(
                and_(dlv_t.c.subscription_id.in_([s.id for s in subs]), dlv_t.c.local_date.in_(days))))}
    # An older open day is later than a newer one: with the default limit it is skipped.
    return [c for c in candidates if (c.subscription.id, c.local_date) not in taken]


# ---------------------------------------------------------------------------- deliveries

def claim(engine: Engine, *, subscription_id: int | None, local_date: date, channel: str | None,
          now: datetime, worker: str, scheduled_at: datetime | None = None, status: str = "claimed",
          reason: str | None = None) -> int | None:
    """Insert the delivery row for this subscription and day. Its ID when this process won, None when
    another process had claimed the day already (then do nothing)."""
    values = dict(subscription_id=subscription_id, local_date=local_date, channel=channel, status=status,
                  scheduled_at=naive_utc(scheduled_at) if scheduled_at else None, claimed_at=naive_utc(now),
                  claimed_by=worker, attempts=1, reason=reason)
    if status != "claimed":
        values["finished_at"] = naive_utc(now)
    try:
        with engine.begin() as conn:
            return int(conn.execute(insert(dlv_t).values(**values)).inserted_primary_key[0])
    except IntegrityError:
        return None


@dataclass(frozen=True)
class Takeover:
    delivery_id: int
    subscription: Subscription
    local_date: date
    scheduled_at: datetime | None


def take_over_stale(engine: Engine, now: datetime, worker: str) -> list[Takeover]:
    """Claims left by a process that died between claim and post (older than ``TAKEOVER_AFTER``).

    The first takeover of a row wins it (attempts 1 -> 2, compare-and-set), and the
    winner posts; see the module docstring for the at-most-twice window. A row
    still claimed after a takeover is marked failed."""
    cutoff = naive_utc(now - TAKEOVER_AFTER)
    with engine.connect() as conn:
        rows = conn.execute(select(dlv_t).where(and_(dlv_t.c.status == "claimed", dlv_t.c.claimed_at < cutoff,
                                                     dlv_t.c.subscription_id.is_not(None)))).all()
    won: list[Takeover] = []
    for row in rows:
        with engine.begin() as conn:
            if row.attempts >= 2:
                conn.execute(update(dlv_t).where(and_(dlv_t.c.id == row.id, dlv_t.c.status == "claimed"))
                             .values(status="failed", finished_at=naive_utc(now),
                                     reason="never finished, even after a takeover (process crashed twice?)"))
                continue
            taken = conn.execute(
                update(dlv_t)
                .where(and_(dlv_t.c.id == row.id, dlv_t.c.status == "claimed", dlv_t.c.attempts == row.attempts))
                .values(attempts=row.attempts + 1, claimed_by=worker, claimed_at=naive_utc(now))
            ).rowcount
        if taken != 1:
            continue  # another process took it over first
        sub = get_subscription(engine, int(row.subscription_id))
        if sub is None or not sub.active:
            finish(engine, int(row.id), "failed", now=now, reason="unsubscribed before it was posted")
            continue
        logger.warning("digest delivery %s (subscription %s, %s) was claimed by %s and never finished; taking it over",
                       row.id, row.subscription_id, row.local_date, row.claimed_by)
        won.append(Takeover(int(row.id), sub, row.local_date, from_db(row.scheduled_at)))
    return won


def finish(engine: Engine, delivery_id: int, status: str, *, now: datetime, channel: str | None = None,
           message_ts: str | None = None, reason: str | None = None) -> None:
    values: dict[str, Any] = dict(status=status, finished_at=naive_utc(now), reason=reason)
    if channel:
        values["channel"] = channel
    if message_ts:
        values["message_ts"] = message_ts
    with engine.begin() as conn:
        conn.execute(update(dlv_t).where(dlv_t.c.id == delivery_id).values(**values))


def delivery_reason(engine: Engine, delivery_id: int) -> str | None:
    """The reason recorded on one delivery (why it failed, or what was left out)."""
    with engine.connect() as conn:
        return conn.execute(select(dlv_t.c.reason).where(dlv_t.c.id == delivery_id)).scalar()


def last_sent(engine: Engine, subscription_id: int, before: date) -> tuple[date, datetime] | None:
    """The local day and time (aware UTC) of this subscription's last sent digest before ``before``."""
    with engine.connect() as conn:
        row = conn.execute(
            select(dlv_t.c.local_date, dlv_t.c.finished_at)
            .where(and_(dlv_t.c.subscription_id == subscription_id, dlv_t.c.status == "sent",
                        dlv_t.c.local_date < before))
            .order_by(dlv_t.c.local_date.desc()).limit(1)
        ).first()
    if row is None:
        return None
    return row.local_date, from_db(row.finished_at)


@dataclass(frozen=True)
class LogEntry:
    id: int
    subscription_id: int | None
    target: str  # channel | dm
    channel: str  # the channel posted to (a user's ID for a DM; "?" when unknown)
    channel_name: str | None
    local_date: date
    status: str
    at: datetime  # aware UTC: finished (or claimed, while still running)
    scheduled_at: datetime | None
    reason: str | None
    attempts: int


def delivery_log(engine: Engine, limit: int = 20) -> list[LogEntry]:
    """The newest deliveries first: what was sent where and when, what failed or was skipped and why."""
    stmt = (
        select(dlv_t, sub_t.c.target, sub_t.c.channel.label("sub_channel"), sub_t.c.channel_name)
        .select_from(dlv_t.outerjoin(sub_t, sub_t.c.id == dlv_t.c.subscription_id))
        .order_by(func.coalesce(dlv_t.c.finished_at, dlv_t.c.claimed_at).desc(), dlv_t.c.id.desc())
        .limit(limit)
    )
    out = []
    with engine.connect() as conn:
        for r in conn.execute(stmt):
            dm = r.target == "dm"
            channel = r.sub_channel if dm else (r.channel or r.sub_channel or "?")
            out.append(LogEntry(int(r.id), r.subscription_id, "dm" if dm else "channel", channel,
                                None if dm else r.channel_name, r.local_date, r.status,
                                from_db(r.finished_at or r.claimed_at), from_db(r.scheduled_at), r.reason,
                                int(r.attempts or 1)))
    return out


# ---------------------------------------------------------------------------- scheduler jobs

def claim_run(engine: Engine, run_key: str, now: datetime, worker: str) -> bool:
    """Claim one run of a scheduler job (sync, health snapshot) across processes."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(runs_t).values(run_key=run_key, claimed_at=naive_utc(now), claimed_by=worker,
                                               status="running"))
        return True
    except IntegrityError:
        return False


def finish_run(engine: Engine, run_key: str, status: str, message: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(update(runs_t).where(runs_t.c.run_key == run_key).values(status=status, message=message))


# ---------------------------------------------------------------------------- alert rules and alerts fired

@dataclass(frozen=True)
class Alert:
    id: int
    channel: str
    channel_name: str | None
    kind: str
    threshold: float | None
    lang: str
    created_at: datetime  # aware UTC
    created_by: str | None = None  # the Slack user who set it up (who may switch it off, with CSBOT_ADMINS)


def _alert(row) -> Alert:
    return Alert(int(row.id), row.channel, row.channel_name, row.kind,
                 float(row.threshold) if row.threshold is not None else None, row.lang, from_db(row.created_at),
                 row.created_by)


def set_alert(engine: Engine, *, channel: str, kind: str, now: datetime, threshold: float | None = None,
              lang: str = "en", channel_name: str | None = None,
              created_by: str | None = None) -> tuple[Alert, bool]:
    """Turn an alert on for a channel (or change its threshold). Returns (alert, newly created)."""
    if kind not in ALERT_KINDS:
        raise ValueError(kind)
    with engine.begin() as conn:
        existing = conn.execute(select(alert_t).where(and_(alert_t.c.channel == channel, alert_t.c.kind == kind))).first()
        if existing is not None:
            conn.execute(update(alert_t).where(alert_t.c.id == existing.id)
                         .values(threshold=threshold, lang=lang, channel_name=channel_name or existing.channel_name))
            created = False
        else:
            try:
                with conn.begin_nested():
                    conn.execute(insert(alert_t).values(channel=channel, channel_name=channel_name, kind=kind,
                                                        threshold=threshold, lang=lang, created_by=created_by,
                                                        created_at=naive_utc(now)))
                created = True
            except IntegrityError:  # set at the same moment elsewhere
                created = False
        row = conn.execute(select(alert_t).where(and_(alert_t.c.channel == channel, alert_t.c.kind == kind))).one()
    return _alert(row), created


def remove_alert(engine: Engine, *, channel: str, kind: str | None = None) -> int:
    cond = [alert_t.c.channel == channel]
    if kind:
        cond.append(alert_t.c.kind == kind)
    with engine.begin() as conn:
        return conn.execute(delete(alert_t).where(and_(*cond))).rowcount


def list_alerts(engine: Engine) -> list[Alert]:
    with engine.connect() as conn:
        return [_alert(r) for r in conn.execute(select(alert_t).order_by(alert_t.c.channel, alert_t.c.kind))]


def claim_alert(engine: Engine, alert: Alert, *, event_key: str, kind: str, account_id: str | None,
                now: datetime) -> int | None:
    """Insert the fired row for (channel, event) before posting; None when it had fired already."""
    try:
        with engine.begin() as conn:
            return int(conn.execute(insert(fired_t).values(
                event_key=f"{alert.channel}|{event_key}"[:255], alert_id=alert.id, channel=alert.channel,
                kind=kind, account_id=account_id, fired_at=naive_utc(now), status="claimed",
            )).inserted_primary_key[0])
    except IntegrityError:
        return None


def finish_alert(engine: Engine, fired_id: int, status: str, reason: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(update(fired_t).where(fired_t.c.id == fired_id).values(status=status, reason=reason))
