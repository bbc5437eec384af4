"""The health components: per-component SQL for all the accounts asked at once, and
each component's 0-100 score from those rows (docs/metrics.md, "Health score").

"As of day d" means the state at 00:00 of d, i.e. everything up to the end of
d-1: MRR of the subscriptions active on d, usage in the 30 days d-30..d-1,
tickets open at 00:00 of d, NPS answers given before d. Every component is
counted in SQL for all the accounts asked at once (one statement per data
source, grouped by account); when one account is asked, the statements are
filtered by its id. A component without data for an account scores ``None``
(left out of the weighted mean), never 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterator, Sequence

from sqlalchemy import Connection, and_, case, exists, func, or_, select

from metrics import schema
from metrics.active import active_on
from metrics.filters import Filters
from metrics.health.model import HealthModel
from metrics.health.sql import IN_CHUNK, by_account, dict_rows
from metrics.periods import as_date, as_datetime, midnight

a = schema.accounts
s = schema.subscriptions
u = schema.usage_daily
n = schema.nps_responses
t = schema.tickets
o = schema.onboarding

_ACTIVE_WINDOW = 60  # days the usage statement looks back for the last active day


@dataclass(frozen=True)
class ComponentScore:
    """One component of one account's health: its 0-100 score and the numbers behind it."""

    score: float | None  # 0..100; None = no data (left out)
    raw: float | None  # the main number: stickiness, utilisation, days, NPS, open tickets, MRR change ...
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"score": None if self.score is None else round(self.score, 2), "raw": _json_num(self.raw),
                "detail": {k: _json_value(v) for k, v in self.detail.items()}}


def _json_num(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 4)
    return v


def _json_value(v: Any) -> Any:
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return _json_num(v)


# --------------------------------------------------------------------------- SQL


def population(conn: Connection, day: date, filters: Filters, model: HealthModel,
               account_ids: Sequence[str] | None, paying_only: bool) -> list:
    """Accounts with their MRR on ``day`` and ``revenue_days`` before, first paid day and seats."""
    then = day - timedelta(days=model.revenue_days)
    agg = select(
        s.c.account_id,
        func.sum(case((active_on(day), s.c.mrr), else_=0)).label("mrr"),
        func.sum(case((active_on(then), s.c.mrr), else_=0)).label("mrr_then"),
        func.min(case((s.c.mrr > 0, s.c.start_date), else_=None)).label("first_paid"),
    ).where(s.c.start_date <= day).group_by(s.c.account_id)
    if account_ids is not None:
        agg = agg.where(s.c.account_id.in_(list(account_ids)))
    if paying_only:
        agg = agg.having(func.sum(case((active_on(day), s.c.mrr), else_=0)) > 0)
    sub = agg.subquery("mrr_now")
    stmt = select(a.c.account_id, a.c.seats, sub.c.mrr, sub.c.mrr_then, sub.c.first_paid).select_from(
        a.join(sub, sub.c.account_id == a.c.account_id) if paying_only
        else a.outerjoin(sub, sub.c.account_id == a.c.account_id))
    if account_ids is not None:
        stmt = stmt.where(a.c.account_id.in_(list(account_ids)))
    cond = filters.account_condition()
    if cond is not None:
        stmt = stmt.where(cond)
    return dict_rows(conn.execute(stmt))


def _usage_rows(conn: Connection, day: date, trend_days: int, ids: Sequence[str] | None) -> dict[str, dict]:
    """Per account: user-days and users (MAU) in the 30 days before ``day``, user-days in the
    last ``trend_days`` and in the ``trend_days`` before those, and the last active day."""
    d30 = day - timedelta(days=30)
    recent, prev = day - timedelta(days=trend_days), day - timedelta(days=2 * trend_days)
    stmt = select(
        u.c.account_id,
        func.sum(case((u.c.day >= d30, 1), else_=0)).label("user_days"),
        func.sum(case((u.c.day >= recent, 1), else_=0)).label("recent"),
        func.sum(case((and_(u.c.day >= prev, u.c.day < recent), 1), else_=0)).label("previous"),
        func.count(func.distinct(case((u.c.day >= d30, u.c.user_id), else_=None))).label("mau"),
        func.max(u.c.day).label("last_day"),
    ).where(u.c.day >= min(prev, day - timedelta(days=_ACTIVE_WINDOW)), u.c.day < day).group_by(u.c.account_id)
    return {r["account_id"]: r for r in by_account(conn, stmt, u.c.account_id, ids)}



def _older_activity(conn: Connection, day: date, ids: Sequence[str], lookback: int = 730) -> dict[str, date]:
    """The last active day before the 60-day window, for accounts not active within it."""
    if not ids:
        return {}
    d60 = day - timedelta(days=_ACTIVE_WINDOW)
    stmt = select(u.c.account_id, func.max(u.c.day).label("last_day")).where(
        u.c.day < d60, u.c.day >= day - timedelta(days=lookback)).group_by(u.c.account_id)
    return {r["account_id"]: as_date(r["last_day"]) for r in by_account(conn, stmt, u.c.account_id, ids)}


def _nps_rows(conn: Connection, day: date, lookback: int, ids: Sequence[str] | None) -> dict[str, dict]:
    """Per account, over each respondent's latest answer in the look-back window:
    respondents, promoters, detractors; and the last answer's and last detractor's times."""
    since = midnight(day - timedelta(days=lookback))
    who = func.coalesce(n.c.respondent, n.c.response_id)
    ranked = select(
        n.c.account_id, n.c.score, n.c.responded_at,
        func.row_number().over(partition_by=(n.c.account_id, who),
                               order_by=(n.c.responded_at.desc(), n.c.response_id.desc())).label("rn"),
    ).where(n.c.responded_at >= since, n.c.responded_at < midnight(day))
    if ids is not None and len(ids) <= IN_CHUNK:
        ranked = ranked.where(n.c.account_id.in_(list(ids)))
    r = ranked.subquery("latest_answers")
    stmt = select(
        r.c.account_id,
        func.count().label("respondents"),
        func.sum(case((r.c.score >= 9, 1), else_=0)).label("promoters"),
        func.sum(case((r.c.score <= 6, 1), else_=0)).label("detractors"),
        func.max(r.c.responded_at).label("last_at"),
        func.max(case((r.c.score <= 6, r.c.responded_at), else_=None)).label("last_detractor_at"),
    ).where(r.c.rn == 1).group_by(r.c.account_id)
    rows = dict_rows(conn.execute(stmt))
    wanted = None if ids is None else set(ids)
    return {x["account_id"]: x for x in rows if wanted is None or x["account_id"] in wanted}


def _ticket_rows(conn: Connection, day: date, ids: Sequence[str] | None) -> dict[str, dict]:
    """Per account: tickets open at 00:00 of ``day``, by priority."""
    at = midnight(day)
    closed_status = func.lower(func.coalesce(t.c.status, "")).in_(("closed", "solved", "resolved"))
    still_open = and_(t.c.opened_at < at,
                      or_(t.c.closed_at >= at, and_(t.c.closed_at.is_(None), ~closed_status)))
    prio = func.lower(func.coalesce(t.c.priority, "normal"))
    stmt = select(
        t.c.account_id,
        func.count().label("open"),
        func.sum(case((prio == "urgent", 1), else_=0)).label("urgent"),
        func.sum(case((prio == "high", 1), else_=0)).label("high"),
        func.min(t.c.opened_at).label("oldest_opened_at"),
    ).where(still_open).group_by(t.c.account_id)
    return {r["account_id"]: r for r in by_account(conn, stmt, t.c.account_id, ids)}


def _onboarding_rows(conn: Connection, day: date, milestones: Sequence[str], ids: Sequence[str] | None) -> dict[str, dict]:
    stmt = select(
        o.c.account_id,
        func.count(func.distinct(o.c.milestone)).label("done"),
        func.max(o.c.completed_at).label("last_at"),
    ).where(o.c.completed_at < midnight(day), o.c.milestone.in_(list(milestones))).group_by(o.c.account_id)
    return {r["account_id"]: r for r in by_account(conn, stmt, o.c.account_id, ids)}


def _tracked(conn: Connection, day: date) -> tuple[bool, bool, bool]:
    """Whether usage, tickets and onboarding hold any row before ``day`` (one statement):
    a source nobody syncs is "no data" for every account, not a zero."""
    at = midnight(day)
    row = conn.execute(select(exists().where(u.c.day < day), exists().where(t.c.opened_at < at),
                              exists().where(o.c.completed_at < at))).one()
    return bool(row[0]), bool(row[1]), bool(row[2])


# --------------------------------------------------------------------------- scores


def account_age(row: dict, day: date) -> int | None:
    """Days from the account's first paid day (a ``population`` row) to ``day``; None if it never paid."""
    first_paid = as_date(row["first_paid"])
    return (day - first_paid).days if first_paid else None


def iter_components(conn: Connection, day: date, pop: Sequence[dict], model: HealthModel,
                    milestones: Sequence[str], query_ids: Sequence[str] | None) -> Iterator[tuple[dict, dict[str, ComponentScore]]]:
    """Every component of every account of ``pop`` (``population`` rows) as of ``day``, one account at
    a time in ``pop``'s order. The statements run once, grouped, before the first account; each
    account's components are made as it is taken, so a caller that stores and forgets them (the
    daily snapshots of a whole book) never holds every account's at once.

    ``query_ids`` filters the statements (None: one grouped statement over every account)."""
    ids = [r["account_id"] for r in pop]
    usage_tracked, tickets_tracked, onboarding_tracked = _tracked(conn, day)
    usage = _usage_rows(conn, day, model.trend_days, query_ids) if usage_tracked else {}
    missing = [i for i in ids if i not in usage]
    older = _older_activity(conn, day, missing) if usage_tracked else {}
    nps = _nps_rows(conn, day, model.nps_lookback_days, query_ids)
    tickets = _ticket_rows(conn, day, query_ids) if tickets_tracked else {}
    onboarding = _onboarding_rows(conn, day, milestones, query_ids) if onboarding_tracked else {}

    for row in pop:
        acc_id = row["account_id"]
        age = account_age(row, day)
        yield row, {
            "usage": _score_usage(model, usage.get(acc_id), usage_tracked, age),
            "seats": _score_seats(model, usage.get(acc_id), row["seats"], usage_tracked, age),
            "last_activity": _score_last_activity(model, day, usage.get(acc_id), older.get(acc_id),
                                                  as_date(row["first_paid"]), usage_tracked, age),
            "nps": _score_nps(model, nps.get(acc_id)),
            "support": _score_support(model, tickets.get(acc_id), tickets_tracked),
            "revenue": _score_revenue(model, float(row["mrr"] or 0), float(row["mrr_then"] or 0)),
            "onboarding": _score_onboarding(model, onboarding.get(acc_id), len(milestones), onboarding_tracked, age),
        }


_NEW_ACCOUNT_DAYS = 30  # no usage yet in an account's first month is "no data", not "no use"


def _no_usage_data(row: dict | None, tracked: bool, age: int | None) -> bool:
    if row is not None:
        return False
    return not tracked or age is None or age < _NEW_ACCOUNT_DAYS


def _score_usage(model: HealthModel, row: dict | None, tracked: bool, age: int | None) -> ComponentScore:
    if _no_usage_data(row, tracked, age):
        return ComponentScore(None, None, {"reason": "no usage data"})
    user_days = int(row["user_days"] or 0) if row else 0
    recent = int(row["recent"] or 0) if row else 0
    prev = int(row["previous"] or 0) if row else 0
    mau = int(row["mau"] or 0) if row else 0
    stickiness = (user_days / 30) / mau if mau else 0.0
    sticky_score = model.stickiness(stickiness)
    change = (recent - prev) / prev if prev else None
    if change is None:
        score = sticky_score
    else:
        share = model.trend_share
        score = (1 - share) * sticky_score + share * model.usage_trend(change)
    return ComponentScore(score, stickiness, {"stickiness": stickiness, "user_days_30": user_days, "mau": mau,
                                              "trend_days": model.trend_days, "user_days_recent": recent,
                                              "user_days_before": prev, "change": change})


def _score_seats(model: HealthModel, row: dict | None, seats: int | None, tracked: bool,
                 age: int | None) -> ComponentScore:
    if not seats or seats <= 0:
        return ComponentScore(None, None, {"reason": "no seat count"})
    if _no_usage_data(row, tracked, age):
        return ComponentScore(None, None, {"reason": "no usage data"})
    mau = int(row["mau"] or 0) if row else 0
    util = mau / seats
    return ComponentScore(model.seats(util), util, {"active_users": mau, "seats": seats, "utilisation": util})


def _score_last_activity(model: HealthModel, day: date, row: dict | None, older: date | None,
                         first_paid: date | None, tracked: bool, age: int | None) -> ComponentScore:
    last = as_date(row["last_day"]) if row else older
    if last is None and _no_usage_data(row, tracked, age):
        return ComponentScore(None, None, {"reason": "no usage data"})
    since = last or first_paid
    if since is None:
        return ComponentScore(None, None, {"reason": "no usage data"})
    # Active yesterday (day - 1) is 1 day since the last activity.
    days = max(0, (day - since).days)
    return ComponentScore(model.last_activity(days), float(days), {"days": days, "last_active": last})


def nps_value(promoters: int, detractors: int, respondents: int) -> int | None:
    if not respondents:
        return None
    return int(math.floor(100 * (promoters - detractors) / respondents + 0.5))


def _score_nps(model: HealthModel, row: dict | None) -> ComponentScore:
    if row is None or not row["respondents"]:
        return ComponentScore(None, None, {"reason": "no NPS answer"})
    value = nps_value(int(row["promoters"]), int(row["detractors"]), int(row["respondents"]))
    return ComponentScore(model.nps(value), float(value), {
        "nps": value, "respondents": int(row["respondents"]), "promoters": int(row["promoters"]),
        "detractors": int(row["detractors"]), "last_at": as_datetime(row["last_at"]),
        "last_detractor_at": as_datetime(row["last_detractor_at"])})


def _score_support(model: HealthModel, row: dict | None, tracked: bool) -> ComponentScore:
    if not tracked:
        return ComponentScore(None, None, {"reason": "no ticket data"})
    total = int(row["open"]) if row else 0
    urgent = int(row["urgent"] or 0) if row else 0
    high = int(row["high"] or 0) if row else 0
    other = total - urgent - high
    p = model.penalties
    score = max(0.0, 100.0 - p["open"] * other - p["high"] * high - p["urgent"] * urgent)
    return ComponentScore(score, float(total), {"open": total, "urgent": urgent, "high": high,
                                                "oldest_opened_at": as_datetime(row["oldest_opened_at"]) if row else None})


def _score_revenue(model: HealthModel, mrr: float, mrr_then: float) -> ComponentScore:
    if mrr_then <= 0:
        return ComponentScore(None, None, {"reason": f"not paying {model.revenue_days} days before", "mrr": mrr})
    change = (mrr - mrr_then) / mrr_then
    return ComponentScore(model.revenue(change), change, {"mrr": mrr, "mrr_then": mrr_then, "change": change,
                                                          "days": model.revenue_days})


def _score_onboarding(model: HealthModel, row: dict | None, required: int, tracked: bool,
                      age: int | None) -> ComponentScore:
    """Progress against the schedule: share of milestones done minus the share expected by the
    account's age (all of them ``expected_days`` after the first paid day)."""
    if not tracked or not required:
        return ComponentScore(None, None, {"reason": "no onboarding data"})
    done = min(required, int(row["done"])) if row else 0
    share = done / required
    expected = 1.0 if age is None else min(1.0, max(0, age) / model.onboarding_expected_days)
    gap = share - expected
    return ComponentScore(model.onboarding(min(0.0, gap)), gap,
                          {"done": done, "required": required, "expected": expected})
