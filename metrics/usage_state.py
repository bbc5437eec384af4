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

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from metrics import schema
from metrics.filters import Filters
from metrics.grouping import group_key
from metrics.periods import as_date
from metrics.stamps import DerivedStamp, writes_of

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
    return as_date(first)


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
        last = as_date(conn.execute(select(func.max(gd.c.day))).scalar())
        if last is not None and since > last + timedelta(days=1):
            since = last + timedelta(days=1)
        conn.execute(delete(gd).where(gd.c.day >= since))
    lo, hi = _calendar_bounds(conn, since)
    if lo is None:
        STAMP.write(conn)
        return 0
    acc_day = _account_days(conn, since)
    per_day = _group_changes(acc_day)
    # every day from a group's first change to its last (the levels hold between changes)
    # (to the last change of all: the seated accounts stay after their group's last change); the calendar's
    # ends are constants (a bound read inside the recursion would be counted again at every step)
    span = select(per_day.c.group_id, func.min(per_day.c.n).label("first")).group_by(per_day.c.group_id) \
        .subquery("span")
    cal = select(cast(literal(_number(lo)), Integer).label("n")).cte("cal", recursive=True)
    cal = cal.union_all(select(cal.c.n + 1).where(cal.c.n < _number(hi)))
    dense = select(span.c.group_id, cal.c.n).select_from(span.join(cal, cal.c.n >= span.c.first)).subquery("dense")
    joined = select(dense.c.group_id, dense.c.n,
                    *[func.coalesce(per_day.c[k], 0).label(k) for k in CHANGES]) \
        .select_from(dense.outerjoin(per_day, and_(per_day.c.group_id == dense.c.group_id,
                                                    per_day.c.n == dense.c.n))).subquery("joined")
    running = {"partition_by": joined.c.group_id, "order_by": joined.c.n, "rows": (None, 0)}
    levels = select(number_day(joined.c.n).label("day"), joined.c.n, joined.c.group_id, joined.c.ud, joined.c.ev,
                    joined.c.sec, func.sum(joined.c.d7).over(**running).label("u7"),
                    func.sum(joined.c.d30).over(**running).label("u30"),
                    func.sum(joined.c.dn).over(**running).label("seated"),
                    func.sum(joined.c.dseats).over(**running).label("seats"),
                    func.sum(joined.c.dsu).over(**running).label("seated_users")).subquery("levels")
    keep = or_(levels.c.ud != 0, levels.c.u7 != 0, levels.c.u30 != 0, levels.c.seated != 0)
    if since is not None:
        keep = and_(keep, levels.c.n >= _number(since))
    out = ["day", "group_id", "ud", "ev", "sec", "u7", "u30", "seated", "seats", "seated_users"]
    n = conn.execute(insert(gd).from_select(
        ["day", "group_id", "user_days", "events", "seconds", "u7", "u30", "seated", "seats", "seated_users"],
        select(*[levels.c[k] for k in out]).where(keep))).rowcount
    if conn.dialect.name == "sqlite":
        rows_in_order.drop(conn)
    STAMP.write(conn)
    logger.debug("usage state: %s day rows from %s", n, since or "the first day")
    return int(n)


# the per-(group, day) changes summed into the state's levels: user-days, events, seconds as they are;
# the 7- and 30-day users, the seated accounts, their seats and their users as running sums
CHANGES = ("ud", "ev", "sec", "d7", "d30", "dn", "dseats", "dsu")


def _account_days(conn: Connection, since: date | None):
    """Per account and day (a day number): the usage rows (user-days), their events and seconds, the users
    who enter the 7- and 30-day windows that day (``e7``, ``e30``) and the users whose 7- and 30-day windows
    end with that day's activity (``l7``, ``l30``: they leave them ``W`` days later), from the usage rows
    with each user's previous and next active day (``_user_rows``), grouped once."""
    rows = _user_rows(conn, since)

    def count(cond):
        return func.sum(case((cond, 1), else_=0))

    enters = [count(or_(rows.c.prev.is_(None), rows.c.prev <= rows.c.n - w)).label(f"e{w}") for w in WINDOWS]
    leaves = [count(or_(rows.c.next.is_(None), rows.c.next >= rows.c.n + w)).label(f"l{w}") for w in WINDOWS]
    return select(rows.c.account_id, rows.c.n, func.count().label("ud"), func.sum(rows.c.events).label("ev"),
                  func.sum(rows.c.seconds).label("sec"), *enters, *leaves) \
        .group_by(rows.c.account_id, rows.c.n).cte("acc_day")  # read twice: the groups' sums and the seated


# SQLite: the usage rows read in the order of usage_daily's key (account, user, day), numbered as they come
# (INSERT ... SELECT ... ORDER BY gives the rowids in that order), so that a row's previous and next rows are
# found by their number; SQLite's window functions cost about three times as much for the same lag and lead
rows_in_order = Table(
    "usage_build_rows", MetaData(),
    Column("id", Integer, primary_key=True),
    Column("account_id", String),
    Column("user_id", String),
    Column("n", Integer),
    Column("events", Integer),
    Column("seconds", Float),
    prefixes=["TEMPORARY"],
)


def _user_rows(conn: Connection, since: date | None):
    """The usage rows (from 30 days before ``since``) with their day number ``n`` and their user's previous
    and next active day numbers (``prev``, ``next``; NULL at the user's first and last row)."""
    n = day_number(u.c.day)
    read = select(u.c.account_id, u.c.user_id, n.label("n"), u.c.events, u.c.seconds)
    if since is not None:
        read = read.where(u.c.day >= since - timedelta(days=max(WINDOWS)))
    if conn.dialect.name != "sqlite":
        window = {"partition_by": (u.c.account_id, u.c.user_id), "order_by": u.c.day}
        return read.add_columns(func.lag(n).over(**window).label("prev"), func.lead(n).over(**window).label("next")) \
            .subquery("r")
    t = rows_in_order
    t.drop(conn, checkfirst=True)
    t.create(conn)
    conn.execute(insert(t).from_select(["account_id", "user_id", "n", "events", "seconds"],
                                       read.order_by(u.c.account_id, u.c.user_id, u.c.day)))
    p, x = t.alias("p"), t.alias("x")

    def same_user(o, step):
        return and_(o.c.id == t.c.id + step, o.c.account_id == t.c.account_id, o.c.user_id == t.c.user_id)

    return select(t.c.account_id, t.c.n, t.c.events, t.c.seconds, p.c.n.label("prev"), x.c.n.label("next")) \
        .select_from(t.outerjoin(p, same_user(p, -1)).outerjoin(x, same_user(x, 1))).subquery("r")


def _group_changes(acc_day):
    """Per group and day number, the sums of ``CHANGES`` (the rows of accounts not in ``accounts``: group 0)."""
    gid = func.coalesce(ag.c.group_id, 0)
    sums = [func.sum(acc_day.c[k]).label(k) for k in ("ud", "ev", "sec", "e7", "e30", "l7", "l30")]
    grp_day = select(gid.label("group_id"), acc_day.c.n, *sums) \
        .select_from(acc_day.outerjoin(ag, ag.c.account_id == acc_day.c.account_id)) \
        .group_by(gid, acc_day.c.n).cte("grp_day")  # read three times, a row per group and day
    zero = literal(0)
    c = grp_day.c
    changes = union_all(
        select(c.group_id, c.n, c.ud, c.ev, c.sec, c.e7.label("d7"), c.e30.label("d30"), zero.label("dn"),
               zero.label("dseats"), zero.label("dsu")),
        select(c.group_id, c.n + 7, zero, zero, zero, -c.l7, zero, zero, zero, zero).where(c.l7 != 0),
        select(c.group_id, c.n + 30, zero, zero, zero, zero, -c.l30, zero, zero, zero).where(c.l30 != 0),
        _seated_changes(acc_day),
    ).subquery("changes")
    return select(changes.c.group_id, changes.c.n, *[func.sum(changes.c[k]).label(k) for k in CHANGES]) \
        .group_by(changes.c.group_id, changes.c.n).cte("per_day")


def _seated_changes(acc_day):
    """Per group and day, the changes of the seated accounts (paying at 00:00 of the day, seats > 0), their
    seats and their users of the 30 days ending the day. Per seated account and day on which its MRR or its
    30-day users change: the running MRR (paying: more than 0, rounded to the cent as the revenue state
    reads it) and users, and what the account adds to the three sums then minus what it added the day before."""
    live = or_(s.c.end_date.is_(None), s.c.end_date > s.c.start_date)  # a row that runs at least one day
    zero = literal(0)
    stream = union_all(
        select(s.c.account_id.label("account_id"), day_number(s.c.start_date).label("n"), s.c.mrr.label("dm"),
               zero.label("du")).where(live),
        select(s.c.account_id, day_number(s.c.end_date), -s.c.mrr, zero).where(live, s.c.end_date.is_not(None)),
        select(acc_day.c.account_id, acc_day.c.n, zero, acc_day.c.e30).where(acc_day.c.e30 != 0),
        select(acc_day.c.account_id, acc_day.c.n + 30, zero, -acc_day.c.l30).where(acc_day.c.l30 != 0),
    ).subquery("stream")
    per_day = select(stream.c.account_id, stream.c.n, func.sum(stream.c.dm).label("dm"),
                     func.sum(stream.c.du).label("du")) \
        .where(stream.c.account_id.in_(select(ag.c.account_id).where(ag.c.seats > 0))) \
        .group_by(stream.c.account_id, stream.c.n).subquery("acc_n")
    running = {"partition_by": per_day.c.account_id, "order_by": per_day.c.n, "rows": (None, 0)}
    level = select(per_day.c.account_id, per_day.c.n, per_day.c.dm, per_day.c.du,
                   func.sum(per_day.c.dm).over(**running).label("mrr"),
                   func.sum(per_day.c.du).over(**running).label("users")).subquery("level")
    # the levels of the day before, from this day's (one window pass): the MRR and users without this day's
    # changes (MRR sums of cents: the float residue of the subtraction never moves the rounded cent)
    paying = case((func.round(level.c.mrr, 2) > 0, 1), else_=0)
    was_paying = case((func.round(level.c.mrr - level.c.dm, 2) > 0, 1), else_=0)
    moves = select(level.c.account_id, level.c.n, (paying - was_paying).label("dn"),
                   (paying * level.c.users - was_paying * (level.c.users - level.c.du)).label("dsu")).subquery("moves")
    return select(ag.c.group_id, moves.c.n, zero, zero, zero, zero, zero, moves.c.dn,
                  moves.c.dn * ag.c.seats, moves.c.dsu) \
        .select_from(moves.join(ag, ag.c.account_id == moves.c.account_id)) \
        .where(or_(moves.c.dn != 0, moves.c.dsu != 0))  # (the map searched by its key per move)


def _calendar_bounds(conn: Connection, since: date | None) -> tuple[date | None, date | None]:
    """The first and the last day a change can fall on: the first usage row read (from 30 days before
    ``since``) or subscription start, the last usage row + 30 days or subscription start or end."""
    read = u.c.day >= since - timedelta(days=max(WINDOWS)) if since is not None else None

    def end(agg):  # one index lookup each (together, min and max would read the whole index on SQLite)
        q = select(agg(u.c.day))
        return (q if read is None else q.where(read)).scalar_subquery()

    first_u, last_u = conn.execute(select(end(func.min), end(func.max))).one()
    first_s, start_s, end_s = conn.execute(select(func.min(s.c.start_date), func.max(s.c.start_date),
                                                  func.max(s.c.end_date))).one()
    days = [as_date(v) for v in (first_u, first_s) if v is not None]
    ends = [as_date(v) for v in (start_s, end_s) if v is not None]
    if last_u is not None:
        ends.append(as_date(last_u) + timedelta(days=max(WINDOWS)))
    if not days or not ends:
        return None, None
    return min(days), max(ends)


# ---- day numbers (the build counts in whole days since 1970-01-01: integer arithmetic, no date function
# per row; SQLite's date() parses and prints a string at each call) -------------------------------------

EPOCH = date(1970, 1, 1)
JULIAN_EPOCH = 2440587.5  # SQLite's julianday('1970-01-01')


def _number(day: date) -> int:
    return (day - EPOCH).days


class day_number(FunctionElement):
    """A date column as the whole days since 1970-01-01 (an integer)."""

    type = Integer()
    inherit_cache = True


@compiles(day_number)
def _day_number_default(element, compiler, **kw):  # PostgreSQL, DuckDB: date - date = integer
    return f"({compiler.process(element.clauses, **kw)} - DATE '{EPOCH}')"


@compiles(day_number, "sqlite")
def _day_number_sqlite(element, compiler, **kw):
    return f"CAST(julianday({compiler.process(element.clauses, **kw)}) - {JULIAN_EPOCH} AS INTEGER)"


class number_day(FunctionElement):
    """A day number (``day_number``) as a date."""

    type = Date()
    inherit_cache = True


@compiles(number_day)
def _number_day_default(element, compiler, **kw):  # PostgreSQL, DuckDB: date + integer = date
    return f"(DATE '{EPOCH}' + CAST({compiler.process(element.clauses, **kw)} AS INTEGER))"


@compiles(number_day, "sqlite")
def _number_day_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)} + {JULIAN_EPOCH})"


# ---- freshness -----------------------------------------------------------------------------------

def _stamp_parts():
    log = schema.sync_log
    return [select(func.max(log.c.sync_id)).where(log.c.status != "failed").scalar_subquery(),
            select(func.min(u.c.day)).scalar_subquery(), select(func.max(u.c.day)).scalar_subquery(),
            writes_of(s), select(func.max(s.c.start_date)).scalar_subquery()]


# What the state was built from: the latest sync that did not fail (a sync without the after-sync
# steps leaves the state stale), the first and last usage day (index lookups; usage_daily is too big to
# count for every answer), the subscriptions' writes (PostgreSQL) or count and latest start (seat
# utilisation).
STAMP = DerivedStamp("usage_state", "v2", gd.name, _stamp_parts)
stamp, is_fresh, usable, use, forget = STAMP.current, STAMP.is_fresh, STAMP.usable, STAMP.use, STAMP.forget


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
