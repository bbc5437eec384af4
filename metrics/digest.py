"""Daily digests and alerts: what is stored, when a digest is due, and who posts it.

No Slack here. ``bot/scheduler.py`` asks this module what is due, claims it,
posts it and records the outcome; ``commands/digest.py`` creates and lists
subscriptions and alerts and builds the digest's content from the queries at
the end of this module.

Exactly once per subscription and local day
-------------------------------------------
``digest_deliveries`` has a UNIQUE (subscription_id, local_date). A process
claims a day by inserting that row (status ``claimed``) BEFORE posting; the
process whose insert fails lost the race and does nothing. The row then
becomes ``sent`` or ``failed`` (with the reason). A digest more than
``CSBOT_DIGEST_MAX_LATE_HOURS`` (default 3) late - the bot was down over its
time - is claimed as ``skipped`` instead, so it is logged and never posted late.

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
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from metrics import schema
from metrics.filters import NO_FILTERS, Filters
from metrics.periods import Period

logger = logging.getLogger(__name__)

MAX_LATE_ENV = "CSBOT_DIGEST_MAX_LATE_HOURS"
DEFAULT_MAX_LATE_HOURS = 3.0
TAKEOVER_AFTER = timedelta(minutes=10)
SCHEDULES = ("daily", "weekdays", "weekly")
ALERT_KINDS = ("red", "churn", "contraction", "detractor")
ALERT_LOOKBACK_DAYS = 7  # events older than this never fire (e.g. after a long downtime)
DETRACTOR_MAX = 6  # NPS 0-6

sub_t = schema.digest_subscriptions
dlv_t = schema.digest_deliveries
alert_t = schema.digest_alerts
fired_t = schema.alerts_fired
runs_t = schema.scheduler_runs


# ---------------------------------------------------------------------------- time helpers

def max_late() -> timedelta:
    """How late a digest may still be posted (``CSBOT_DIGEST_MAX_LATE_HOURS``, default 3)."""
    raw = (os.environ.get(MAX_LATE_ENV) or "").strip()
    if not raw:
        return timedelta(hours=DEFAULT_MAX_LATE_HOURS)
    try:
        hours = float(raw)
        if not 0 <= hours <= 24 * 7:
            raise ValueError(raw)
    except ValueError:
        logger.warning("%s=%r is not a number of hours between 0 and 168; using %g",
                       MAX_LATE_ENV, raw, DEFAULT_MAX_LATE_HOURS)
        hours = DEFAULT_MAX_LATE_HOURS
    return timedelta(hours=hours)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def to_db(dt: datetime) -> datetime:
    """An aware instant as the naive UTC value stored in these tables."""
    if dt.tzinfo is None:
        return dt
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


def from_db(value: Any) -> datetime | None:
    """A stored naive-UTC value back to an aware instant."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$", re.I)
_TIME_JA = re.compile(r"^(?:(午前|午後))?(\d{1,2})時(?:(\d{1,2})分|半)?$")


def parse_time(text: str) -> str | None:
    """"9:00", "09:30", "9am", "6:15pm", "9時", "9時30分", "午後6時半" -> "HH:MM"; None if not a time."""
    text = text.strip()
    m = _TIME.match(text)
    if m and (m.group(2) is not None or m.group(3)):
        hour, minute, ampm = int(m.group(1)), int(m.group(2) or 0), (m.group(3) or "").lower()
        if ampm:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if ampm == "pm" else 0)
    else:
        m = _TIME_JA.match(text)
        if not m:
            return None
        hour = int(m.group(2))
        minute = 30 if text.endswith("半") else int(m.group(3) or 0)
        if m.group(1) == "午後" and hour < 12:
            hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return f"{hour:02d}:{minute:02d}"


def zone(name: str) -> ZoneInfo | None:
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


def channel_ref(channel: str) -> str:
    """A channel for a Slack message: <#C123> for an ID, "#name" as it is."""
    return f"<#{channel}>" if re.fullmatch(r"[CGD][A-Z0-9]+", channel) else channel


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

    def where(self) -> str:
        """The target as Slack shows it: <#C123> or <@U123> (a DM)."""
        return f"<@{self.channel}>" if self.target == "dm" else channel_ref(self.channel)

    def where_text(self) -> str:
        """The target for a terminal."""
        if self.target == "dm":
            return f"DM {self.channel}"
        return f"#{self.channel_name}" if self.channel_name else self.channel

    def when(self, lang: str = "en") -> str:
        if lang == "ja":
            sched = {"daily": "毎日", "weekdays": "平日", "weekly": "毎週月曜"}[self.schedule]
        else:
            sched = {"daily": "daily", "weekdays": "weekdays", "weekly": "Mondays"}[self.schedule]
        return f"{sched} {self.local_time} {self.tz}"


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


def create_subscription(engine: Engine, *, target: str, channel: str, local_time: str, tz: str,
                        schedule: str = "daily", filters: Filters = NO_FILTERS, lang: str = "en",
                        channel_name: str | None = None, created_by: str | None = None,
                        now: datetime | None = None) -> Subscription:
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}")
    if target not in ("channel", "dm"):
        raise ValueError("target must be channel or dm")
    if parse_time(local_time) != local_time or zone(tz) is None:
        raise ValueError(f"bad time or zone: {local_time} {tz}")
    now = now or utcnow()
    with engine.begin() as conn:
        new_id = conn.execute(insert(sub_t).values(
            target=target, channel=channel, channel_name=channel_name, local_time=local_time, tz=tz,
            schedule=schedule, filters=filters_to_json(filters), lang=lang, created_by=created_by,
            created_at=to_db(now), active=True,
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


def unsubscribe(engine: Engine, *, sub_id: int | None = None, channel: str | None = None,
                now: datetime | None = None) -> list[int]:
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
            conn.execute(update(sub_t).where(sub_t.c.id.in_(ids))
                         .values(active=False, ended_at=to_db(now or utcnow())))
    return ids


def next_run(sub: Subscription, now: datetime) -> datetime | None:
    """The next time this subscription will post (aware UTC), for display."""
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

    @property
    def too_late(self) -> bool:
        return self.late > max_late()


def due_digests(engine: Engine, now: datetime, *, late_limit: timedelta | None = None) -> list[Due]:
    """Digests whose time has come and that no process has claimed yet.

    For each active subscription: the local days from (now - late limit - 1 day)
    to today on which it runs, whose scheduled instant is at or before ``now``
    and not before the subscription was created (one created after today's time
    starts tomorrow), and that have no delivery row. Late ones are included
    (``Due.too_late``) so the scheduler records them as skipped."""
    late_limit = max_late() if late_limit is None else late_limit
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


def claim(engine: Engine, *, subscription_id: int | None, local_date: date, channel: str | None,
          now: datetime, worker: str, scheduled_at: datetime | None = None, status: str = "claimed",
          reason: str | None = None) -> int | None:
    """Insert the delivery row for this subscription and day. Its ID when this process won, None when
    another process had claimed the day already (then do nothing)."""
    values = dict(subscription_id=subscription_id, local_date=local_date, channel=channel, status=status,
                  scheduled_at=to_db(scheduled_at) if scheduled_at else None, claimed_at=to_db(now),
                  claimed_by=worker, attempts=1, reason=reason)
    if status != "claimed":
        values["finished_at"] = to_db(now)
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
    cutoff = to_db(now - TAKEOVER_AFTER)
    with engine.connect() as conn:
        rows = conn.execute(select(dlv_t).where(and_(dlv_t.c.status == "claimed", dlv_t.c.claimed_at < cutoff,
                                                     dlv_t.c.subscription_id.is_not(None)))).all()
    won: list[Takeover] = []
    for row in rows:
        with engine.begin() as conn:
            if row.attempts >= 2:
                conn.execute(update(dlv_t).where(and_(dlv_t.c.id == row.id, dlv_t.c.status == "claimed"))
                             .values(status="failed", finished_at=to_db(now),
                                     reason="never finished, even after a takeover (process crashed twice?)"))
                continue
            taken = conn.execute(
                update(dlv_t)
                .where(and_(dlv_t.c.id == row.id, dlv_t.c.status == "claimed", dlv_t.c.attempts == row.attempts))
                .values(attempts=row.attempts + 1, claimed_by=worker, claimed_at=to_db(now))
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
    values: dict[str, Any] = dict(status=status, finished_at=to_db(now), reason=reason)
    if channel:
        values["channel"] = channel
    if message_ts:
        values["message_ts"] = message_ts
    with engine.begin() as conn:
        conn.execute(update(dlv_t).where(dlv_t.c.id == delivery_id).values(**values))


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
    where: str  # <#C123>, <@U123> or the raw channel
    where_text: str
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
            if r.target == "dm":
                where, text = f"<@{r.sub_channel}>", f"DM {r.sub_channel}"
            else:
                ch = r.channel or r.sub_channel or "?"
                where = channel_ref(ch)
                text = f"#{r.channel_name}" if r.channel_name else ch
            out.append(LogEntry(int(r.id), r.subscription_id, where, text, r.local_date, r.status,
                                from_db(r.finished_at or r.claimed_at), from_db(r.scheduled_at), r.reason,
                                int(r.attempts or 1)))
    return out


# ---------------------------------------------------------------------------- scheduler jobs

def claim_run(engine: Engine, run_key: str, now: datetime, worker: str) -> bool:
    """Claim one run of a scheduler job (sync, health snapshot) across processes."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(runs_t).values(run_key=run_key, claimed_at=to_db(now), claimed_by=worker,
                                               status="running"))
        return True
    except IntegrityError:
        return False


def finish_run(engine: Engine, run_key: str, status: str, message: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(update(runs_t).where(runs_t.c.run_key == run_key).values(status=status, message=message))


# ---------------------------------------------------------------------------- alerts

@dataclass(frozen=True)
class Alert:
    id: int
    channel: str
    channel_name: str | None
    kind: str
    threshold: float | None
    lang: str
    created_at: datetime  # aware UTC


def _alert(row) -> Alert:
    return Alert(int(row.id), row.channel, row.channel_name, row.kind,
                 float(row.threshold) if row.threshold is not None else None, row.lang, from_db(row.created_at))


def set_alert(engine: Engine, *, channel: str, kind: str, threshold: float | None = None, lang: str = "en",
              channel_name: str | None = None, created_by: str | None = None,
              now: datetime | None = None) -> tuple[Alert, bool]:
    """Turn an alert on for a channel (or change its threshold). Returns (alert, newly created)."""
    if kind not in ALERT_KINDS:
        raise ValueError(kind)
    now = now or utcnow()
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
                                                        created_at=to_db(now)))
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


@dataclass(frozen=True)
class AlertEvent:
    kind: str
    key: str  # stable across ticks: "churn|A42|2026-11-20"
    account_id: str | None
    account_name: str | None
    day: date  # the day it happened (local)
    amount: float | None = None  # MRR lost (churn / contraction)
    score: float | None = None  # health score (red) or NPS score (detractor)
    comment: str | None = None
    owner: str | None = None


def alert_events(conn: Connection, kind: str, settings, now: datetime) -> list[AlertEvent]:
    """Every event of one kind in the last ``ALERT_LOOKBACK_DAYS`` days (up to today)."""
    tz = settings.tz
    today = now.astimezone(tz).date()
    first = today - timedelta(days=ALERT_LOOKBACK_DAYS)
    a = schema.accounts
    if kind == "red":
        return _red_events(conn, first, today)
    if kind in ("churn", "contraction"):
        from metrics.calc import Calc
        from metrics.revenue import movement_accounts

        calc = Calc(conn, settings)
        out = []
        for i in range(ALERT_LOOKBACK_DAYS + 1):
            day = first + timedelta(days=i)  # the change takes effect at 00:00 of ``day``
            rows, _ = movement_accounts(calc, Period(day - timedelta(days=1), day), NO_FILTERS, kind, limit=500)
            for r in rows:
                out.append(AlertEvent(kind, f"{kind}|{r['account_id']}|{day.isoformat()}", r["account_id"], r["name"],
                                      day, amount=float(r["amount"]), owner=r["owner"]))
        return out
    if kind == "detractor":
        n = schema.nps_responses
        since = datetime.combine(first, time())
        until = now.astimezone(tz).replace(tzinfo=None)
        rows = conn.execute(
            select(n.c.response_id, n.c.account_id, n.c.score, n.c.comment, n.c.responded_at, a.c.name, a.c.owner)
            .select_from(n.join(a, a.c.account_id == n.c.account_id))
            .where(and_(n.c.score <= DETRACTOR_MAX, n.c.responded_at >= since, n.c.responded_at <= until))
            .order_by(n.c.responded_at)
        ).all()
        return [AlertEvent("detractor", f"detractor|{r.response_id}", r.account_id, r.name, r.responded_at.date(),
                           score=float(r.score), comment=r.comment, owner=r.owner) for r in rows]
    raise ValueError(kind)


def _red_events(conn: Connection, first: date, today: date) -> list[AlertEvent]:
    """Accounts whose snapshot on a day is red while the snapshot of the day before it was not."""
    h = schema.health_snapshots
    days = [r[0] for r in conn.execute(
        select(h.c.day).where(and_(h.c.day <= today, h.c.day >= first - timedelta(days=ALERT_LOOKBACK_DAYS)))
        .group_by(h.c.day).order_by(h.c.day))]
    out: list[AlertEvent] = []
    for prev, day in zip(days, days[1:]):
        if day < first:
            continue
        for r in _moved_to_red(conn, prev, day, NO_FILTERS):
            out.append(AlertEvent("red", f"red|{r['account_id']}|{day.isoformat()}", r["account_id"], r["name"], day,
                                  score=r["score"], owner=r["owner"]))
    return out


def alert_matches(alert: Alert, event: AlertEvent, tz: ZoneInfo) -> bool:
    """Does this channel's alert want this event? Only events from the day the alert was
    set on, and above its threshold (churn / contraction)."""
    if event.kind != alert.kind:
        return False
    if event.day < alert.created_at.astimezone(tz).date():
        return False
    if alert.threshold is not None and event.amount is not None and event.amount < alert.threshold:
        return False
    return True


def claim_alert(engine: Engine, alert: Alert, event: AlertEvent, now: datetime) -> int | None:
    """Insert the fired row for (channel, event) before posting; None when it had fired already."""
    try:
        with engine.begin() as conn:
            return int(conn.execute(insert(fired_t).values(
                event_key=f"{alert.channel}|{event.key}"[:255], alert_id=alert.id, channel=alert.channel,
                kind=event.kind, account_id=event.account_id, fired_at=to_db(now), status="claimed",
            )).inserted_primary_key[0])
    except IntegrityError:
        return None


def finish_alert(engine: Engine, fired_id: int, status: str, reason: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(update(fired_t).where(fired_t.c.id == fired_id).values(status=status, reason=reason))


# ---------------------------------------------------------------------------- digest content queries

def latest_snapshot_day(conn: Connection, on_or_before: date) -> date | None:
    h = schema.health_snapshots
    return conn.execute(select(func.max(h.c.day)).where(h.c.day <= on_or_before)).scalar()


def red_accounts(conn: Connection, today: date, filters: Filters) -> int | None:
    """Accounts in red on the newest health snapshot (None when there is no snapshot)."""
    h = schema.health_snapshots
    day = latest_snapshot_day(conn, today)
    if day is None:
        return None
    stmt = select(func.count()).select_from(h).where(and_(h.c.day == day, h.c.band == "red"))
    stmt = filters.restrict(stmt, h.c.account_id)
    return int(conn.execute(stmt).scalar_one())


def _moved_to_red(conn: Connection, before: date, after: date, filters: Filters) -> list[dict]:
    h = schema.health_snapshots
    prev = h.alias("prev")
    a = schema.accounts
    stmt = (
        select(h.c.account_id, h.c.score, a.c.name, a.c.owner, prev.c.band.label("was"))
        .select_from(h.join(prev, and_(prev.c.account_id == h.c.account_id, prev.c.day == before))
                     .join(a, a.c.account_id == h.c.account_id))
        .where(and_(h.c.day == after, h.c.band == "red", or_(prev.c.band.is_(None), prev.c.band != "red")))
        .order_by(h.c.score, a.c.name)
    )
    stmt = filters.restrict(stmt, h.c.account_id)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def moved_to_red(conn: Connection, since: date, today: date, filters: Filters) -> list[dict]:
    """Accounts red on the newest snapshot that were not red on the snapshot of ``since``
    (or the newest one before it): account_id, name, owner, score, was."""
    h = schema.health_snapshots
    latest = latest_snapshot_day(conn, today)
    if latest is None:
        return []
    base = conn.execute(select(func.max(h.c.day)).where(and_(h.c.day <= since, h.c.day < latest))).scalar()
    if base is None:
        base = conn.execute(select(func.max(h.c.day)).where(h.c.day < latest)).scalar()
    if base is None:
        return []
    return _moved_to_red(conn, base, latest, filters)


def renewals(conn: Connection, today: date, days: int, filters: Filters, limit: int = 10) -> tuple[list[dict], int]:
    """Accounts renewing in [today, today + days): name, renewal_date, owner, plan; and how many in all."""
    a = schema.accounts
    cond = and_(a.c.renewal_date >= today, a.c.renewal_date < today + timedelta(days=days))
    extra = filters.account_condition()
    if extra is not None:
        cond = and_(cond, extra)
    rows = conn.execute(select(a.c.account_id, a.c.name, a.c.renewal_date, a.c.owner, a.c.plan).where(cond)
                        .order_by(a.c.renewal_date, a.c.name).limit(limit)).mappings().all()
    total = conn.execute(select(func.count()).select_from(a).where(cond)).scalar_one()
    return [dict(r) for r in rows], int(total)


def detractors(conn: Connection, since: datetime, until: datetime, filters: Filters,
               limit: int = 10) -> tuple[list[dict], int]:
    """NPS answers of 0-6 given in [since, until) (naive, workspace time): newest first, with comments."""
    n, a = schema.nps_responses, schema.accounts
    cond = and_(n.c.score <= DETRACTOR_MAX, n.c.responded_at >= since, n.c.responded_at < until)
    base = select(n.c.response_id).where(cond)
    base = filters.restrict(base, n.c.account_id)
    total = conn.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    stmt = (select(n.c.response_id, n.c.account_id, n.c.score, n.c.comment, n.c.responded_at, a.c.name)
            .select_from(n.join(a, a.c.account_id == n.c.account_id)).where(cond)
            .order_by(n.c.responded_at.desc()).limit(limit))
    stmt = filters.restrict(stmt, n.c.account_id)
    return [dict(r) for r in conn.execute(stmt).mappings()], int(total)


def is_revenue_channel(settings, channel: str | None, channel_name: str | None = None) -> bool:
    """May revenue figures be posted in this channel? (an ID or name in CSBOT_REVENUE_CHANNELS)"""
    allowed = {c.lower().lstrip("#") for c in settings.revenue_channels}
    if not allowed:
        return False
    return any(x and x.lower().lstrip("#") in allowed for x in (channel, channel_name))
