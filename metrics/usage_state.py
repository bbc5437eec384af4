"""Usage state derived at sync time, so that a usage answer reads little (issue 16).

DAU, WAU, MAU, stickiness and average usage time (docs/metrics.md, "Usage") count ``usage_daily``
rows over a window of days; WAU and MAU de-duplicate users over 7 and 30 days. Counted directly that
reads every row of the window (2M rows when 10M events fall inside one month). A user is an
(account, user id) pair, so every one of these numbers is a sum over accounts, and so a sum over any
set of accounts that share the attributes a filter or a breakdown reads. This module keeps, built in
the sync's transaction (``metrics.derived``):

- ``usage_groups``: each combination of (segment, touch model, owner, plan, region) some account has,
  plus one group (``known`` = 0) for usage rows whose account is not in ``accounts``;
- ``usage_group_daily``: per day and group, the user-days (DAU), events, seconds, and the distinct
  users of the 7 and the 30 days ending that day (``u7``, ``u30``).

How ``u7``/``u30`` are counted exactly: a row of user ``x`` on day ``d`` keeps ``x`` in the
``W``-day window for the days ``d .. d+W-1``. Walking each user's active days in order (``prev`` and
``next`` active day), ``x`` enters the window count on ``d`` when ``prev`` is none or ``prev <= d-W``,
and leaves it on ``d+W`` when ``next`` is none or ``next >= d+W``. Per group and day the sum of those
+1/-1, summed over the days so far, is the number of distinct users active in the window ending that day.

An answer then sums at most one row per group for a day (WAU, MAU) or per group and day of a window
(user-days, seconds), whatever the number of events; filters and breakdowns apply to the group's
attributes with the same conditions as to ``accounts`` (``Filters.account_condition``, ``group_key``).
The direct SQL in ``metrics.usage`` stays: it answers while the state is stale and is the oracle of
the tests (tests/test_usage_state.py).

Freshness: the build writes a stamp in ``csbot_meta`` (the latest sync that did not fail and the
first and last usage day); ``usable(calc)`` compares it once per ``Calc``. A tool that writes
``usage_daily`` or the accounts' attributes outside a sync calls ``forget(conn)`` (or ``build``).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import Connection, Date, and_, case, delete, func, insert, literal, or_, select, union_all

from metrics import schema
from metrics.filters import Filters
from metrics.grouping import group_key
from metrics.onboarding import days_after
from metrics.stamps import DerivedStamp

logger = logging.getLogger(__name__)

u = schema.usage_daily
a = schema.accounts
s = schema.subscriptions
g = schema.usage_groups
ag = schema.usage_account_groups
gd = schema.usage_group_daily
TABLES = (g, ag, gd)
ATTRS = ("segment", "touch_model", "owner", "plan", "region")
WINDOWS = (7, 30)  # the windows whose distinct users are kept (WAU, MAU)



# ---- build (inside the sync's transaction) ------------------------------------------------------

def refresh(conn: Connection, summary=None) -> int:
    """The after-sync step: bring the state up to date, rebuilding only the days from the first day whose
    usage changed (``changed_since``) when the accounts and subscriptions did not change and the state is there; returns
    the day rows written."""
    moved = False
    for name in ("accounts", "subscriptions"):  # the groups, the seats and the paying accounts: all rebuilt
        counts = summary.table(name) if summary is not None and hasattr(summary, "table") else None
        moved = moved or bool(counts and (counts.inserted or counts.updated or counts.deleted or counts.cascaded))
    stored = STAMP.stored(conn)
    if moved or not stored or getattr(summary, "full_refresh", False):
        return build(conn)
    since = changed_since(conn)
    if since is None:  # no usage changed: only the stamp
        STAMP.write(conn)
        return 0
    return build(conn, since)


def changed_since(conn: Connection) -> date | None:
    """The first day whose rows or events in usage_daily differ from the state's (a sync only adds events
    or rows, or removes rows: either moves a day's row count or its events), None when none does."""
    direct = select(u.c.day, func.count().label("n"), func.sum(u.c.events).label("ev")).group_by(u.c.day) \
        .subquery("direct")
    kept = select(gd.c.day, func.sum(gd.c.user_days).label("n"), func.sum(gd.c.events).label("ev")) \
        .where(gd.c.user_days > 0).group_by(gd.c.day).subquery("kept")
    day = func.coalesce(direct.c.day, kept.c.day)
    differs = or_(direct.c.day.is_(None), kept.c.day.is_(None), direct.c.n != kept.c.n, direct.c.ev != kept.c.ev)
    first = conn.execute(select(func.min(day)).select_from(direct.join(kept, direct.c.day == kept.c.day, full=True))
                         .where(differs)).scalar()
    return _as_date(first)


def build(conn: Connection, since: date | None = None) -> int:
    """Rebuild the usage state from ``usage_daily`` and ``accounts`` (``since``: only the days from
    ``since`` on, from the rows of the 30 days before it on, keeping the groups) and stamp it; returns
    the day rows written."""
    if since is None:
        conn.execute(delete(gd))
        conn.execute(delete(g))
        combos = select(*[a.c[k] for k in ATTRS]).distinct().subquery("combos")
        order = [combos.c[k] for k in ATTRS]
        conn.execute(insert(g).from_select(
            ["group_id", "known", *ATTRS],
            select(func.row_number().over(order_by=order), literal(1), *order)))
        conn.execute(insert(g).values(group_id=0, known=0))  # usage of accounts not in ``accounts``
        conn.execute(delete(ag))
        conn.execute(insert(ag).from_select(["account_id", "group_id", "seats"], select(
            a.c.account_id, g.c.group_id, a.c.seats).select_from(a.join(g, and_(
                g.c.known == 1, *[g.c[k].is_not_distinct_from(a.c[k]) for k in ATTRS])))))
    else:
        # the days after the state's last day held its last day's seated accounts: written now
        last = _as_date(conn.execute(select(func.max(gd.c.day))).scalar())
        if last is not None and since > last + timedelta(days=1):
            since = last + timedelta(days=1)
        conn.execute(delete(gd).where(gd.c.day >= since))
    groups = ag
    # each usage row with its group and its user's previous and next active day; from ``since``, the
    # rows of the 30 days before it on: the users of any window ending on ``since`` or later, counted
    # over that window alone
    window = {"partition_by": (u.c.account_id, u.c.user_id), "order_by": u.c.day}
    rows = select(func.coalesce(groups.c.group_id, 0).label("group_id"), u.c.account_id, u.c.day, u.c.events,
                  u.c.seconds,
                  func.lag(u.c.day).over(**window).label("prev"),
                  func.lead(u.c.day).over(**window).label("next")) \
        .select_from(u.outerjoin(groups, groups.c.account_id == u.c.account_id))
    if since is not None:
        rows = rows.where(u.c.day >= since - timedelta(days=max(WINDOWS)))
    rows = rows.cte("r")  # read three times

    def enters(w):
        return case((or_(rows.c.prev.is_(None), days_after(rows.c.prev, w) <= rows.c.day), 1), else_=0)

    def leaves(w):
        return or_(rows.c.next.is_(None), rows.c.next >= days_after(rows.c.day, w))

    zero = literal(0)
    changes = union_all(
        select(rows.c.group_id, rows.c.day, literal(1).label("ud"), rows.c.events.label("ev"),
               rows.c.seconds.label("sec"), enters(7).label("d7"), enters(30).label("d30"), zero.label("dn"),
               zero.label("dseats"), zero.label("dsu")),
        select(rows.c.group_id, days_after(rows.c.day, 7), zero, zero, zero, literal(-1), zero, zero, zero, zero)
        .where(leaves(7)),
        select(rows.c.group_id, days_after(rows.c.day, 30), zero, zero, zero, zero, literal(-1), zero, zero, zero)
        .where(leaves(30)),
        _seated_changes(rows, groups, enters(30), leaves(30)),
    ).subquery("changes")
    per_day = select(changes.c.group_id, changes.c.day, func.sum(changes.c.ud).label("ud"),
                     func.sum(changes.c.ev).label("ev"), func.sum(changes.c.sec).label("sec"),
                     func.sum(changes.c.d7).label("d7"), func.sum(changes.c.d30).label("d30"),
                     func.sum(changes.c.dn).label("dn"), func.sum(changes.c.dseats).label("dseats"),
                     func.sum(changes.c.dsu).label("dsu")) \
        .group_by(changes.c.group_id, changes.c.day).cte("per_day")
    # every day from a group's first change to its last (the levels hold between changes)
    # (to the last change of all: the seated accounts stay after their group's last change); the calendar's
    # ends are constants (a bound read inside the recursion would be counted again at every step)
    lo, hi = _calendar_bounds(conn, since)
    if lo is None:
        STAMP.write(conn)
        return 0
    span = select(per_day.c.group_id, func.min(per_day.c.day).label("first")).group_by(per_day.c.group_id) \
        .subquery("span")
    cal = select(literal(lo, Date).label("day")).cte("cal", recursive=True)
    cal = cal.union_all(select(days_after(cal.c.day, 1)).where(cal.c.day < literal(hi, Date)))
    dense = select(span.c.group_id, cal.c.day).select_from(span.join(cal, cal.c.day >= span.c.first)).subquery("dense")
    joined = select(dense.c.group_id, dense.c.day, func.coalesce(per_day.c.ud, 0).label("ud"),
                    func.coalesce(per_day.c.ev, 0).label("ev"), func.coalesce(per_day.c.sec, 0).label("sec"),
                    func.coalesce(per_day.c.d7, 0).label("d7"), func.coalesce(per_day.c.d30, 0).label("d30"),
                    *[func.coalesce(per_day.c[k], 0).label(k) for k in ("dn", "dseats", "dsu")]) \
        .select_from(dense.outerjoin(per_day, and_(per_day.c.group_id == dense.c.group_id,
                                                    per_day.c.day == dense.c.day))).subquery("joined")
    running = {"partition_by": joined.c.group_id, "order_by": joined.c.day, "rows": (None, 0)}
    levels = select(joined.c.day, joined.c.group_id, joined.c.ud, joined.c.ev, joined.c.sec,
                    func.sum(joined.c.d7).over(**running).label("u7"),
                    func.sum(joined.c.d30).over(**running).label("u30"),
                    func.sum(joined.c.dn).over(**running).label("seated"),
                    func.sum(joined.c.dseats).over(**running).label("seats"),
                    func.sum(joined.c.dsu).over(**running).label("seated_users")).subquery("levels")
    keep = or_(levels.c.ud != 0, levels.c.u7 != 0, levels.c.u30 != 0, levels.c.seated != 0)
    if since is not None:
        keep = and_(keep, levels.c.day >= since)
    n = conn.execute(insert(gd).from_select(
        ["day", "group_id", "user_days", "events", "seconds", "u7", "u30", "seated", "seats", "seated_users"],
        select(levels).where(keep))).rowcount
    STAMP.write(conn)
    logger.debug("usage state: %s day rows from %s", n, since or "the first day")
    return int(n)


def _seated_changes(rows, groups, enters30, leaves30):
    """Per group and day, the changes of the seated accounts (paying at 00:00 of the day, seats > 0), their
    seats and their users of the 30 days ending the day. Per seated account and day on which its MRR or its
    30-day users change: the running MRR (paying: more than 0, rounded to the cent as the revenue state
    reads it) and users, and what the account adds to the three sums then minus what it added before."""
    live = or_(s.c.end_date.is_(None), s.c.end_date > s.c.start_date)  # a row that runs at least one day
    zero = literal(0)
    stream = union_all(
        select(s.c.account_id, s.c.start_date.label("day"), s.c.mrr.label("dm"), zero.label("du")).where(live),
        select(s.c.account_id, s.c.end_date, -s.c.mrr, zero).where(live, s.c.end_date.is_not(None)),
        select(rows.c.account_id, rows.c.day, zero, enters30).where(enters30 == 1),
        select(rows.c.account_id, days_after(rows.c.day, 30), zero, literal(-1)).where(leaves30),
    ).subquery("stream")
    per_day = select(stream.c.account_id, stream.c.day, func.sum(stream.c.dm).label("dm"),
                     func.sum(stream.c.du).label("du")) \
        .where(stream.c.account_id.in_(select(groups.c.account_id).where(groups.c.seats > 0))) \
        .group_by(stream.c.account_id, stream.c.day).subquery("acc_day")
    running = {"partition_by": per_day.c.account_id, "order_by": per_day.c.day, "rows": (None, 0)}
    level = select(per_day.c.account_id, per_day.c.day,
                   case((func.round(func.sum(per_day.c.dm).over(**running), 2) > 0, 1), else_=0).label("paying"),
                   func.sum(per_day.c.du).over(**running).label("users")).subquery("level")
    before = {"partition_by": level.c.account_id, "order_by": level.c.day}
    was_paying = func.coalesce(func.lag(level.c.paying).over(**before), 0)
    was_users = func.coalesce(func.lag(level.c.users).over(**before), 0)
    moves = select(level.c.account_id, level.c.day, (level.c.paying - was_paying).label("dn"),
                   (level.c.paying * level.c.users - was_paying * was_users).label("dsu")).subquery("moves")
    return select(groups.c.group_id, moves.c.day, zero, zero, zero, zero, zero, moves.c.dn,
                  moves.c.dn * groups.c.seats, moves.c.dsu) \
        .select_from(moves.join(groups, groups.c.account_id == moves.c.account_id)) \
        .where(or_(moves.c.dn != 0, moves.c.dsu != 0))  # (the map searched by its key per move)


def _calendar_bounds(conn: Connection, since: date | None) -> tuple[date | None, date | None]:
    """The first and the last day a change can fall on: the first usage row read (from 30 days before
    ``since``) or subscription start, the last usage row + 30 days or subscription start or end."""
    used = select(func.min(u.c.day), func.max(u.c.day))
    if since is not None:
        used = used.where(u.c.day >= since - timedelta(days=max(WINDOWS)))
    first_u, last_u = conn.execute(used).one()
    first_s, start_s, end_s = conn.execute(select(func.min(s.c.start_date), func.max(s.c.start_date),
                                                  func.max(s.c.end_date))).one()
    days = [_as_date(v) for v in (first_u, first_s) if v is not None]
    ends = [_as_date(v) for v in (start_s, end_s) if v is not None]
    if last_u is not None:
        ends.append(_as_date(last_u) + timedelta(days=max(WINDOWS)))
    if not days or not ends:
        return None, None
    return min(days), max(ends)


# ---- freshness -----------------------------------------------------------------------------------

def _stamp_parts():
    log = schema.sync_log
    return [select(func.max(log.c.sync_id)).where(log.c.status != "failed").scalar_subquery(),
            select(func.min(u.c.day)).scalar_subquery(), select(func.max(u.c.day)).scalar_subquery(),
            select(func.count()).select_from(s).scalar_subquery(), select(func.max(s.c.start_date)).scalar_subquery()]


# What the state was built from: the latest sync that did not fail (a sync without the after-sync
# steps leaves the state stale), the first and last usage day (index lookups; usage_daily is too big to
# count for every answer), the subscriptions' count and latest start (seat utilisation).
STAMP = DerivedStamp("usage_state", "v2", gd.name, _stamp_parts)
stamp, is_fresh, usable, use, forget = STAMP.current, STAMP.is_fresh, STAMP.usable, STAMP.use, STAMP.forget


def _as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# ---- reads ---------------------------------------------------------------------------------------

def _restrict(stmt, filters: Filters):
    """Only the groups whose accounts pass ``filters`` (a filtered answer never counts unknown accounts)."""
    cond = filters.account_condition(g)
    if cond is None:
        return stmt
    return stmt.where(gd.c.group_id.in_(select(g.c.group_id).where(g.c.known == 1, cond)))


def _between(first: date, last: date):
    return and_(gd.c.day >= first, gd.c.day <= last)


def distinct_users(conn: Connection, day: date, days: int, filters: Filters) -> int:
    """Distinct (account, user) pairs active in the ``days`` (7 or 30) days ending ``day``."""
    col = gd.c[f"u{days}"]
    stmt = _restrict(select(func.coalesce(func.sum(col), 0)).where(gd.c.day == day), filters)
    return int(conn.execute(stmt).scalar_one())


def user_days(conn: Connection, day: date, days: int, filters: Filters) -> int:
    """Active user-days in the ``days`` days ending ``day``."""
    stmt = _restrict(select(func.coalesce(func.sum(gd.c.user_days), 0))
                     .where(_between(day - timedelta(days=days - 1), day)), filters)
    return int(conn.execute(stmt).scalar_one())


def usage_minutes(conn: Connection, first: date, last: date, filters: Filters) -> tuple[int, float]:
    """(active user-days, seconds) from ``first`` to ``last``."""
    stmt = _restrict(select(func.coalesce(func.sum(gd.c.user_days), 0), func.coalesce(func.sum(gd.c.seconds), 0))
                     .where(_between(first, last)), filters)
    n, seconds = conn.execute(stmt).one()
    return int(n), float(seconds)


def _grouped(columns, where, filters: Filters, by: str):
    """``columns`` summed per group key of ``by`` over the day rows ``where`` (the groups of unknown
    accounts fall in the key NULL, as the direct SQL's outer join to the accounts puts them)."""
    key = group_key(by, g)
    stmt = select(key.label("key"), *columns).select_from(gd.join(g, g.c.group_id == gd.c.group_id)).where(where)
    cond = filters.account_condition(g)
    if cond is not None:
        stmt = stmt.where(g.c.known == 1, cond)
    return stmt.group_by(key)


def activity_grouped(conn: Connection, day: date, filters: Filters, by: str) -> list:
    """Per group key of ``by``: user-days on ``day`` (d1) and over the 30 days ending it (d30),
    distinct users over the 7 (u7) and 30 (u30) days ending it."""
    on_day = gd.c.day == day
    cols = [func.coalesce(func.sum(case((on_day, gd.c.user_days), else_=0)), 0).label("d1"),
            func.coalesce(func.sum(gd.c.user_days), 0).label("d30"),
            func.coalesce(func.sum(case((on_day, gd.c.u7), else_=0)), 0).label("u7"),
            func.coalesce(func.sum(case((on_day, gd.c.u30), else_=0)), 0).label("u30")]
    stmt = _grouped(cols, _between(day - timedelta(days=29), day), filters, by) \
        .having(func.sum(gd.c.user_days) > 0)  # the groups with a user-day in the window, as counted directly
    return conn.execute(stmt).mappings().all()


def usage_minutes_grouped(conn: Connection, first: date, last: date, filters: Filters, by: str) -> list:
    """Per group key of ``by``: user-days and seconds from ``first`` to ``last`` (groups with some user-day)."""
    cols = [func.sum(gd.c.user_days).label("user_days"), func.sum(gd.c.seconds).label("seconds")]
    stmt = _grouped(cols, and_(_between(first, last), gd.c.user_days > 0), filters, by)
    return conn.execute(stmt).mappings().all()


def seat_counts(conn: Connection, day: date, filters: Filters) -> tuple[int, int, int]:
    """(paying accounts with seats, their seats, their users over the 30 days ending ``day``)."""
    stmt = _restrict(select(*[func.coalesce(func.sum(gd.c[k]), 0) for k in ("seated", "seats", "seated_users")])
                     .where(gd.c.day == _held(day)), filters)
    n, seats, users = conn.execute(stmt).one()
    return int(n), int(seats), int(users)


def seat_counts_grouped(conn: Connection, day: date, filters: Filters, by: str) -> list:
    """Per group key of ``by`` with a seated paying account on ``day``: accounts, seats, users."""
    cols = [func.sum(gd.c.seated).label("accounts"), func.sum(gd.c.seats).label("seats"),
            func.sum(gd.c.seated_users).label("users")]
    return conn.execute(_grouped(cols, and_(gd.c.day == _held(day), gd.c.seated > 0), filters, by)).mappings().all()


def _held(day: date):
    """``day``, or the state's last day when ``day`` is after it: nothing changes after the last day kept
    (the last change of all), so the seated accounts then are those of that day."""
    last = select(func.max(gd.c.day)).scalar_subquery()
    return case((last < day, last), else_=literal(day, gd.c.day.type))
