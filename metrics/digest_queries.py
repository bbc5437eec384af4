"""The numbers a digest and an alert read: accounts in red and newly red,
new NPS detractors, and the events each alert kind fires on (churn, contraction, red, detractor).

Rows and counts only; ``commands/digest.py`` turns them into words. Alert rules and what
has fired live in ``metrics/digest_store.py``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, func, or_, select

from metrics import schema
from metrics.calc import Calc
from metrics.digest_store import Alert
from metrics.filters import NO_FILTERS, Filters
from metrics.periods import Period
from metrics.revenue import movement_accounts
from metrics.settings import Settings

logger = logging.getLogger(__name__)

ALERT_LOOKBACK_DAYS = 7  # events older than this never fire (e.g. after a long downtime)
DETRACTOR_MAX = 6  # NPS 0-6


# ---------------------------------------------------------------------------- digest content

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


# ---------------------------------------------------------------------------- alert events

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


def alert_events(conn: Connection, kind: str, settings: Settings, now: datetime) -> list[AlertEvent]:
    """Every event of one kind in the last ``ALERT_LOOKBACK_DAYS`` days (up to today)."""
    tz = settings.tz
    today = now.astimezone(tz).date()
    first = today - timedelta(days=ALERT_LOOKBACK_DAYS)
    a = schema.accounts
    if kind == "red":
        return _red_events(conn, first, today)
    if kind in ("churn", "contraction"):
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
