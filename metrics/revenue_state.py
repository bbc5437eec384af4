"""Revenue state derived at sync time, so that a revenue answer reads little (issue 16).

Every revenue number (MRR, movements, churn, NRR, their breakdowns and trends) needs each
account's total MRR at 00:00 of a few days. Counted from ``subscriptions`` that means
grouping every row of every account for every answer. This module keeps, built in the sync's
transaction (``metrics.derived``), what does not change between syncs:

- ``account_mrr_intervals``: each account's total MRR as intervals ``[start_date, end_date)`` of
  constant value, cut at every day a row starts or ends (``end_date`` 9999-12-31: still running).
  ``paid`` is 1 when some row with ``mrr > 0`` runs in the interval, ``first_paid`` the account's
  first paid day. Every stretch of days on which some row runs is covered (a free plan: total 0), so
  the accounts a window touches are the same as in ``subscriptions``. An account's MRR on day ``d``
  is the one interval holding ``d``, or 0 when none does.
- ``account_product_intervals``: the same per (account, product), the intervals of MRR 0 left out:
  upsell and cross-sell read the products whose MRR changed in a period (``product_moves``).
- ``account_first_paid``: each account's first paid day (cohorts).
- ``revenue_daily``: the whole company's paying customers and MRR (in cents, summed exactly) from
  each day they changed: an answer without filters reads one row for "at 00:00 of day d".
- ``revenue_daily_groups`` and ``revenue_group_keys``: the same per account dimension
  (``metrics.grouping``) and group, with the intervals running, and each group's label: a breakdown
  without filters reads a few rows per group instead of joining every account to its intervals.
- ``revenue_monthly``: the whole company's movements of every calendar month up to the one after the
  last change, as ``movements`` counts them off the intervals, with the month's upsell and cross-sell
  counts (``product_moves``): a month and the month before, LTV's six months and a 12-month trend
  without filters read one row a month.

An answer reads only what moved: the customers and MRR at a day are running sums of the intervals
starting and ending (or one row of ``revenue_daily``), and the movements of a period group only the
accounts with an interval starting or ending inside it (``movements``): two statements for any
number of periods, groups included, however long the history.

docs/metrics.md's definitions are unchanged and read the same off the intervals: "paid before
``start``" (a row with mrr > 0 that ran a day before ``start``) is ``first_paid < start``; "paid on
some day inside the period" (early churn) is a ``paid`` interval overlapping ``[start, end)``.

Freshness: tests and tools may write subscriptions without a sync, so the state is read only
while it matches the data. The build writes a stamp in ``csbot_meta`` (the subscriptions' row
count, their latest start day and the latest sync that did not fail); ``usable(calc)`` compares it
with the data once per ``Calc`` and otherwise the metrics count from ``subscriptions`` as before.
Every sync (an accounts-only one too) rebuilds the state with the accounts' groups. A tool that
rewrites subscriptions in place, or writes accounts, outside a sync calls ``forget(conn)`` (or ``build``).
"""

from __future__ import annotations

import json
import logging
import math
from datetime import date

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    MetaData,
    Table,
    Text,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql import Subquery

from metrics import schema
from metrics.filters import Filters
from metrics.grouping import DIMENSIONS, group_key, keyed
from metrics.periods import Period, add_months, as_date, month_start
from metrics.stamps import DerivedStamp, writes_of

logger = logging.getLogger(__name__)

s = schema.subscriptions
iv = schema.account_mrr_intervals
fd = schema.account_first_paid
rd = schema.revenue_daily
rg = schema.revenue_daily_groups
gk = schema.revenue_group_keys
rm = schema.revenue_monthly
pi = schema.account_product_intervals
TABLES = (iv, fd, rd, rg, gk, rm, pi)  # what ``build`` fills

OPEN_END = date(9999, 12, 31)  # the end of an interval still running


# ---- build (inside the sync's transaction) ------------------------------------------------------

def build(conn: Connection) -> int:
    """Rebuild the derived tables from ``subscriptions`` and stamp them; returns the number of intervals."""
    conn.execute(delete(iv))
    conn.execute(delete(fd))
    # rows that run at least one day (a zero-length row never counts, docs/metrics.md)
    rows = select(s.c.account_id, s.c.start_date, s.c.end_date, s.c.mrr).where(
        or_(s.c.end_date.is_(None), s.c.end_date > s.c.start_date)).subquery("r")
    # each row adds its mrr (and one running row, one paying row) on its first day and takes them away
    # on its end day; per account and day the changes, then their running sums: the intervals
    paying = case((rows.c.mrr > 0, 1), else_=0)
    changes = union_all(
        select(rows.c.account_id, rows.c.start_date.label("day"), rows.c.mrr.label("d_mrr"), literal(1).label("d_run"),
               paying.label("d_paid")),
        select(rows.c.account_id, rows.c.end_date, -rows.c.mrr, literal(-1), -paying).where(rows.c.end_date.is_not(None)),
    ).subquery("changes")
    points = select(changes.c.account_id, changes.c.day, func.sum(changes.c.d_mrr).label("d_mrr"),
                    func.sum(changes.c.d_run).label("d_run"), func.sum(changes.c.d_paid).label("d_paid")) \
        .group_by(changes.c.account_id, changes.c.day).subquery("points")
    window = {"partition_by": points.c.account_id, "order_by": points.c.day}
    running = {"rows": (None, 0), **window}
    spans = select(
        points.c.account_id, points.c.day.label("start_date"), func.lead(points.c.day).over(**window).label("end_date"),
        func.round(func.sum(points.c.d_mrr).over(**running), 2).label("mrr"),
        func.sum(points.c.d_run).over(**running).label("runs"),
        func.sum(points.c.d_paid).over(**running).label("pays"),
    ).subquery("spans")
    valued = select(spans.c.account_id, spans.c.start_date, spans.c.end_date, spans.c.mrr,
                    case((spans.c.pays > 0, 1), else_=0).label("paid")).where(spans.c.runs > 0).subquery("valued")
    first = func.min(case((valued.c.paid == 1, valued.c.start_date), else_=None)).over(partition_by=valued.c.account_id)
    # SQLite: the indexes are made after the rows, sorted once, rather than kept up row by row (its
    # readers keep their snapshot; on PostgreSQL dropping them would block the readers until commit)
    rebuilt = [ix for ix in iv.indexes if conn.dialect.name == "sqlite"]
    for ix in rebuilt:
        ix.drop(conn, checkfirst=True)
    conn.execute(insert(iv).from_select(
        ["account_id", "start_date", "end_date", "mrr", "paid", "first_paid"],
        select(valued.c.account_id, valued.c.start_date, func.coalesce(valued.c.end_date, literal(OPEN_END)),
               # a sum back to zero in floating point (SQLite) can be -0.0: stored as 0
               case((valued.c.mrr == 0, literal(0)), else_=valued.c.mrr), valued.c.paid, first),
    ))
    for ix in rebuilt:
        ix.create(conn, checkfirst=True)
    _build_products(conn)
    conn.execute(insert(fd).from_select(
        ["account_id", "first_paid"],
        select(iv.c.account_id, func.min(iv.c.start_date)).where(iv.c.paid == 1).group_by(iv.c.account_id),
    ))
    conn.execute(delete(rd))
    cents = func.round(iv.c.mrr * 100)
    paying = case((iv.c.mrr > 0, 1), else_=0)
    changes = union_all(
        select(iv.c.start_date.label("day"), paying.label("d_paying"), cents.label("d_cents")),
        select(iv.c.end_date, -paying, -cents).where(iv.c.end_date < OPEN_END),
    ).subquery("changes")
    per_day = select(changes.c.day, func.sum(changes.c.d_paying).label("d_paying"),
                     cast(func.sum(changes.c.d_cents), BigInteger).label("d_cents")).group_by(changes.c.day).subquery("per_day")
    running = {"order_by": per_day.c.day, "rows": (None, 0)}
    conn.execute(insert(rd).from_select(["day", "paying", "mrr_cents"], select(
        per_day.c.day, func.sum(per_day.c.d_paying).over(**running), func.sum(per_day.c.d_cents).over(**running))))
    _build_groups(conn)
    if conn.dialect.name == "postgresql":  # every row is new: the planner's statistics of the old ones mislead it
        conn.exec_driver_sql(f"ANALYZE {iv.name}, {pi.name}")  # (before the months count off them)
    _build_months(conn)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE " + ", ".join(t.name for t in TABLES if t not in (iv, pi)))
    STAMP.write(conn)
    n = conn.execute(select(func.count()).select_from(iv)).scalar_one()
    logger.debug("revenue state: %s intervals", n)
    return int(n)


def _build_products(conn: Connection) -> None:
    """``account_product_intervals``: the intervals of ``build`` per (account, product), MRR only (those
    of MRR 0 add nothing to a product's MRR at any day: left out)."""
    conn.execute(delete(pi))
    rows = select(s.c.account_id, s.c.product, s.c.start_date, s.c.end_date, s.c.mrr).where(
        or_(s.c.end_date.is_(None), s.c.end_date > s.c.start_date)).subquery("r")
    changes = union_all(
        select(rows.c.account_id, rows.c.product, rows.c.start_date.label("day"), rows.c.mrr.label("d_mrr"),
               literal(1).label("d_run")),
        select(rows.c.account_id, rows.c.product, rows.c.end_date, -rows.c.mrr, literal(-1))
        .where(rows.c.end_date.is_not(None)),
    ).subquery("changes")
    c = changes.c
    points = select(c.account_id, c.product, c.day, func.sum(c.d_mrr).label("d_mrr"), func.sum(c.d_run).label("d_run")) \
        .group_by(c.account_id, c.product, c.day).subquery("points")
    window = {"partition_by": [points.c.account_id, points.c.product], "order_by": points.c.day}
    running = {"rows": (None, 0), **window}
    spans = select(
        points.c.account_id, points.c.product, points.c.day.label("start_date"),
        func.lead(points.c.day).over(**window).label("end_date"),
        func.round(func.sum(points.c.d_mrr).over(**running), 2).label("mrr"),
        func.sum(points.c.d_run).over(**running).label("runs"),
    ).subquery("spans")
    rebuilt = [ix for ix in pi.indexes if conn.dialect.name == "sqlite"]
    for ix in rebuilt:
        ix.drop(conn, checkfirst=True)
    conn.execute(insert(pi).from_select(
        ["account_id", "product", "start_date", "end_date", "mrr"],
        select(spans.c.account_id, spans.c.product, spans.c.start_date,
               func.coalesce(spans.c.end_date, literal(OPEN_END)), spans.c.mrr)
        .where(spans.c.runs > 0, spans.c.mrr != 0)))
    for ix in rebuilt:
        ix.create(conn, checkfirst=True)


def _build_groups(conn: Connection) -> None:
    """``revenue_daily_groups`` and ``revenue_group_keys``: the daily totals of ``revenue_daily`` per
    dimension and group key (the accounts outer-joined as ``grouping.keyed`` joins them; '' for no
    value), with the running intervals (a group is in a window when one runs in it). The intervals'
    changes are joined to the accounts once, summed per day and combination of the groups' keys (a
    temporary table), and each dimension's totals summed from those."""
    a = schema.accounts
    conn.execute(delete(rg))
    conn.execute(delete(gk))
    cents = func.round(iv.c.mrr * 100)
    paying = case((iv.c.mrr > 0, 1), else_=0)
    changes = union_all(
        select(iv.c.account_id, iv.c.start_date.label("day"), paying.label("d_paying"), cents.label("d_cents"),
               literal_column("1").label("d_runs")),
        select(iv.c.account_id, iv.c.end_date, -paying, -cents, literal_column("-1")).where(iv.c.end_date < OPEN_END),
    ).subquery("changes")
    keys = {by: func.coalesce(group_key(by), literal_column("''")).label(f"k_{by}") for by in DIMENSIONS}
    combos = Table("csbot_revenue_combos", MetaData(), Column("day", Date), Column("d_paying", BigInteger),
                   Column("d_cents", BigInteger), Column("d_runs", BigInteger),
                   *[Column(f"k_{by}", Text) for by in DIMENSIONS], prefixes=["TEMPORARY"])
    combos.drop(conn, checkfirst=True)
    combos.create(conn)
    conn.execute(insert(combos).from_select(
        ["day", "d_paying", "d_cents", "d_runs", *[f"k_{by}" for by in DIMENSIONS]],
        select(changes.c.day, func.sum(changes.c.d_paying), cast(func.sum(changes.c.d_cents), BigInteger),
               func.sum(changes.c.d_runs), *keys.values())
        .select_from(changes.outerjoin(a, a.c.account_id == changes.c.account_id))
        .group_by(changes.c.day, *keys.values())))
    for by in DIMENSIONS:
        dim = literal_column(f"'{by}'")  # a constant of DIMENSIONS (no bound parameter: PostgreSQL infers no type)
        key = combos.c[f"k_{by}"]
        per_day = select(key.label("key"), combos.c.day, func.sum(combos.c.d_paying).label("d_paying"),
                         cast(func.sum(combos.c.d_cents), BigInteger).label("d_cents"),
                         func.sum(combos.c.d_runs).label("d_runs")) \
            .group_by(key, combos.c.day).subquery("per_day")
        running = {"partition_by": per_day.c.key, "order_by": per_day.c.day, "rows": (None, 0)}
        conn.execute(insert(rg).from_select(["dim", "key", "day", "paying", "mrr_cents", "runs"], select(
            dim, per_day.c.key, per_day.c.day, func.sum(per_day.c.d_paying).over(**running),
            func.sum(per_day.c.d_cents).over(**running), func.sum(per_day.c.d_runs).over(**running))))
        named = group_key(by)
        conn.execute(insert(gk).from_select(["dim", "key", "label"], union_all(
            select(dim, named, func.min(a.c[by])).where(named.is_not(None)).group_by(named),
            select(dim, literal_column("''"), literal_column("NULL")))))
    combos.drop(conn)  # (on an error the transaction takes it back with everything else)


MONTHS_CHUNK = 12  # months counted in one statement at build time


def _build_months(conn: Connection) -> None:
    """``revenue_monthly``: ``movements`` of every calendar month from the first interval's to the one
    after the last change (later months change nothing; they are counted when asked), the whole."""
    conn.execute(delete(rm))
    first, last = conn.execute(select(func.min(iv.c.start_date), func.max(
        case((iv.c.end_date < OPEN_END, iv.c.end_date), else_=iv.c.start_date)))).one()
    if first is None:
        return
    month, stop = month_start(as_date(first)), add_months(month_start(as_date(last)), 1)
    months = []
    while month <= stop:
        months.append(Period(month, add_months(month, 1), "month"))
        month = months[-1].end
    for i in range(0, len(months), MONTHS_CHUNK):
        chunk = months[i:i + MONTHS_CHUNK]
        cells = _movements(conn, chunk, Filters(), None).get(None, {})
        products = _product_moves(conn, chunk, Filters())
        rows = [{"month": p.start, "cell": json.dumps({**cells[j], "products": products.get(j, (0, 0))})}
                for j, p in enumerate(chunk) if j in cells]
        if rows:
            conn.execute(insert(rm), rows)


def _stored_months(conn: Connection, periods, part: str | None = None) -> dict:
    """{j: cell} of the periods that are whole calendar months stored in ``revenue_monthly`` (``part``:
    that part of each cell, e.g. "products"; None: the movements alone)."""
    whole = {p.start: j for j, p in enumerate(periods) if p.start.day == 1 and p.end == add_months(p.start, 1)}
    if not whole:
        return {}
    rows = conn.execute(select(rm.c.month, rm.c.cell).where(rm.c.month.in_(list(whole)))).all()
    out = {}
    for m, text in rows:
        cell = json.loads(text)
        products = cell.pop("products", None)
        if part is None:
            out[whole[as_date(m)]] = cell
        elif products is not None:
            out[whole[as_date(m)]] = tuple(products)
    return out


# ---- freshness -----------------------------------------------------------------------------------

def _stamp_parts():
    log = schema.sync_log
    return [writes_of(s),
            select(func.max(s.c.start_date)).scalar_subquery(),
            select(func.max(log.c.sync_id)).where(log.c.status != "failed").scalar_subquery()]


# What the state was built from: cheap to read (the subscriptions' writes or count, and two index
# lookups), and changed by any insert or delete of a subscription (on PostgreSQL by any write, an update
# in place too), a new latest start day, and any later sync that did not fail (a sync without the
# after-sync steps leaves the state stale). The groups by account dimension are built from the
# accounts: every sync rebuilds them (an accounts-only sync too); a tool that writes accounts outside a
# sync calls ``forget``, as for subscriptions rewritten in place where the table is counted.
STAMP = DerivedStamp("revenue_state", "v6", iv.name, _stamp_parts)
stamp, is_fresh, usable, use, forget = STAMP.current, STAMP.is_fresh, STAMP.usable, STAMP.use, STAMP.forget


# ---- read helpers ----------------------------------------------------------------------------------

def _steady(lo, hi, filters, moving_only: bool = False):
    """The intervals that hold every day of ``[lo, hi]``: one per account whose MRR did not change
    (``moving_only``: only those that still make a movement, early churn with a paying row netted to 0)."""
    stmt = select(iv.c.account_id, iv.c.mrr, iv.c.paid, iv.c.first_paid).where(iv.c.start_date <= lo, iv.c.end_date > hi)
    if moving_only:
        stmt = stmt.where(iv.c.paid == 1, iv.c.mrr <= 0)
    return filters.restrict(stmt, iv.c.account_id)


def changed_per_account(days, periods, filters, first_paid: bool = True) -> Subquery:
    """Per account whose MRR changed between ``min(days)`` and ``max(days)`` (an interval of it starts
    or ends in between): ``m{i}`` its MRR at 00:00 of ``days[i]``, ``first_paid`` and ``w{j}`` (1 when
    it paid on some day of ``periods[j]``, each inside the window)."""
    days = list(days)
    lo, hi = min(days), max(days)
    cols = [iv.c.account_id, iv.c.start_date, iv.c.end_date, iv.c.mrr, iv.c.paid, iv.c.first_paid]
    moving = union_all(  # (the second part skips what the first has)
        select(*cols).where(iv.c.start_date > lo, iv.c.start_date <= hi),
        select(*cols).where(iv.c.end_date > lo, iv.c.end_date <= hi, iv.c.start_date <= lo),
    ).subquery("moving")
    m = moving.c
    out = [func.sum(case((and_(m.start_date <= d, m.end_date > d), m.mrr), else_=0)).label(f"m{i}")
           for i, d in enumerate(days)]
    if first_paid:
        out.append(func.max(m.first_paid).label("first_paid"))
    out += [func.max(case((and_(m.paid == 1, m.start_date < p.end, m.end_date > p.start), 1), else_=0))
            .label(f"w{j}") for j, p in enumerate(periods)]
    return filters.restrict(select(m.account_id, *out).group_by(m.account_id), m.account_id).subquery("changed")


def per_account(days, periods, filters, first_paid: bool = True, moving_only: bool = False) -> Subquery:
    """Per account the window ``[min(days), max(days)]`` touches: ``m{i}``, ``first_paid`` and ``w{j}``
    as ``changed_per_account`` gives them, the steady accounts included (read as they are: the same
    MRR on every day, paid within each period when their interval holds a paying row); with
    ``moving_only`` only the accounts that make a movement in some period can be in it."""
    days = list(days)
    st = _steady(min(days), max(days), filters, moving_only).subquery("steady")
    cols = [st.c.mrr.label(f"m{i}") for i in range(len(days))]
    if first_paid:
        cols.append(st.c.first_paid)
    cols += [st.c.paid.label(f"w{j}") for j in range(len(periods))]
    changed = changed_per_account(days, periods, filters, first_paid)
    return union_all(select(st.c.account_id, *cols), select(changed)).subquery("account_mrr")


# ---- movements of many periods, per group ---------------------------------------------------------

MOVES = ("new", "reactivation", "expansion", "contraction", "churn", "early_churn")


def movements(conn: Connection, periods, filters, by: str | None) -> dict:
    """The movements of every period of ``periods`` for every group of ``by`` (None: the whole), as
    ``{key: {j: {"customers_start", "customers_end", "mrr_start", "mrr_end", "n_<move>", "a_<move>"}}}``
    with ``j`` the period's index: the sums ``revenue.movements_grouped`` counts from subscriptions.

    Read off the intervals in two statements, neither grouping every account:
    - the paying customers and MRR at 00:00 of the first day (the intervals holding it), and every
      change after it up to the last day (an interval starting adds, one ending takes away), per day:
      the customers and MRR at the start and the end of each period are running sums of these;
    - per period, the accounts with an interval starting or ending inside it (the only ones whose
      MRR moved), grouped into m0, m1, paid before and paid within: new, reactivation, expansion,
      contraction, churn and early churn, as docs/metrics.md counts them (with the accounts whose one
      interval runs through the period holding a paying row but a total of 0 or less: early churn
      without a change)."""
    periods = list(periods)
    if by is None and type(filters) is Filters and filters.empty:  # whole months: as the build stored them
        stored = _stored_months(conn, periods)
        if stored:
            rest = [j for j in range(len(periods)) if j not in stored]
            counted = _movements(conn, [periods[j] for j in rest], filters, None).get(None, {}) if rest else {}
            return {None: {**stored, **{rest[i]: cell for i, cell in counted.items()}}}
    return _movements(conn, periods, filters, by)


def _movements(conn: Connection, periods, filters, by: str | None) -> dict:
    days = sorted({p.start for p in periods} | {p.end for p in periods})
    totals = running_totals(conn, days, filters, by)
    out: dict = {}
    for key, per_day in totals.items():
        out[key] = {j: _empty(per_day[p.start], per_day[p.end]) for j, p in enumerate(periods)}
    for row in conn.execute(_changed_stmt(periods, filters, by)).mappings():
        key, j = row["key"], int(row["j"])
        per_day = totals.get(key) or {d: (0, 0.0) for d in days}
        cell = out.setdefault(key, {}).setdefault(j, _empty(per_day[periods[j].start], per_day[periods[j].end]))
        for name in MOVES:
            cell[f"n_{name}"] += int(row[f"n_{name}"] or 0)
            if name != "early_churn":
                cell[f"a_{name}"] += float(row[f"a_{name}"] or 0)
    return out


def add_up(cells) -> dict:
    """The sums of several groups' cells (of one period): the whole they make together."""
    out: dict = {}
    for cell in cells:
        for name, value in cell.items():
            out.setdefault(name, []).append(value)
    return {name: (math.fsum(v) if name.startswith(("a_", "mrr_")) else sum(v)) for name, v in out.items()}


def _empty(start: tuple[int, float], end: tuple[int, float]) -> dict:
    cell: dict = {"customers_start": start[0], "mrr_start": start[1], "customers_end": end[0], "mrr_end": end[1]}
    for name in MOVES:
        cell[f"n_{name}"] = 0
        cell[f"a_{name}"] = 0.0
    return cell


def running_totals(conn: Connection, days, filters, by) -> dict:
    """{key: {day: (paying customers, MRR)}} at 00:00 of each of ``days`` (sorted), in one statement:
    the intervals holding the first day, and every interval starting (adding) or ending (taking away)
    after it up to the last day, summed per group and day; then running sums. The whole company
    without filters reads the daily totals the build summed instead."""
    lo, hi = days[0], days[-1]
    if type(filters) is Filters and filters.empty:
        return _whole_totals(conn, days) if by is None else _group_totals(conn, days, by)
    paying = case((iv.c.mrr > 0, 1), else_=0)
    parts = [select(iv.c.account_id, literal(lo, Date).label("day"), iv.c.mrr.label("d_mrr"), paying.label("d_paying"))
             .where(iv.c.start_date <= lo, iv.c.end_date > lo)]
    if hi > lo:
        parts += [select(iv.c.account_id, iv.c.start_date, iv.c.mrr, paying).where(iv.c.start_date > lo, iv.c.start_date <= hi),
                  select(iv.c.account_id, iv.c.end_date, -iv.c.mrr, -paying).where(iv.c.end_date > lo, iv.c.end_date <= hi)]
    moves = union_all(*parts).subquery("moves")
    changes = filters.restrict(select(moves), moves.c.account_id).subquery("changes")
    source, key = keyed(changes, by)
    c = changes.c
    stmt = select(key.label("key"), c.day, func.sum(c.d_paying), func.sum(c.d_mrr)).select_from(source) \
        .group_by(*([key] if by is not None else []), c.day)
    steps: dict = {}
    for k, day, d_paying, d_mrr in conn.execute(stmt):
        steps.setdefault(k, []).append((as_date(day), int(d_paying or 0), float(d_mrr or 0)))
    out: dict = {}
    for k, rows in steps.items():
        rows.sort()
        paying_now, mrr_parts, per_day, i = 0, [], {}, 0
        for d in days:
            while i < len(rows) and rows[i][0] <= d:
                paying_now += rows[i][1]
                mrr_parts.append(rows[i][2])
                i += 1
            per_day[d] = (paying_now, math.fsum(mrr_parts))
        out[k] = per_day
    return out


def _whole_totals(conn: Connection, days) -> dict:
    lo, hi = days[0], days[-1]
    first = select(func.max(rd.c.day)).where(rd.c.day <= lo).scalar_subquery()
    rows = conn.execute(select(rd.c.day, rd.c.paying, rd.c.mrr_cents)
                        .where(rd.c.day <= hi, or_(rd.c.day >= first, first.is_(None))).order_by(rd.c.day)).all()
    if not rows:
        return {}
    per_day, i, now = {}, 0, (0, 0.0)
    for d in days:
        while i < len(rows) and as_date(rows[i][0]) <= d:
            now = (int(rows[i][1]), int(rows[i][2]) / 100)
            i += 1
        per_day[d] = now
    return {None: per_day}


def _group_totals(conn: Connection, days, by: str) -> dict:
    """``running_totals`` of the groups of ``by`` without filters, off ``revenue_daily_groups``: per
    group its row of the latest day on or before the first day (one index lookup per group), then
    its rows up to the last day. The groups listed are ``running_totals``'s: those with an interval
    holding the first day (running intervals > 0) or starting or ending after it up to the last."""
    lo, hi = days[0], days[-1]
    first = select(func.max(rg.c.day)).where(rg.c.dim == by, rg.c.key == gk.c.key, rg.c.day <= lo).scalar_subquery()
    firsts = select(gk.c.key, first.label("first")).where(gk.c.dim == by).subquery("firsts")
    stmt = select(rg.c.key, rg.c.day, rg.c.paying, rg.c.mrr_cents, rg.c.runs) \
        .join(firsts, rg.c.key == firsts.c.key) \
        .where(rg.c.dim == by, rg.c.day <= hi, rg.c.day >= func.coalesce(firsts.c.first, literal(lo, Date)))
    rows: dict = {}
    for key, day, paying, cents, runs in conn.execute(stmt):
        rows.setdefault(key, []).append((as_date(day), int(paying), int(cents), int(runs)))
    out: dict = {}
    for key, steps in rows.items():
        steps.sort()
        if not (steps[0][0] <= lo and steps[0][3] > 0) and not any(d > lo for d, *_ in steps):
            continue  # no interval of the group runs in the window
        per_day, i, now = {}, 0, (0, 0.0)
        for d in days:
            while i < len(steps) and steps[i][0] <= d:
                now = (steps[i][1], steps[i][2] / 100)
                i += 1
            per_day[d] = now
        out[None if key == "" else key] = per_day
    return out


def group_labels(conn: Connection, by: str) -> dict[str, str]:
    """``metrics.grouping.labels`` as the build stored it (read only while the state is fresh)."""
    rows = conn.execute(select(gk.c.key, gk.c.label).where(gk.c.dim == by, gk.c.key != "")).all()
    return {k: label for k, label in rows}


def _tagged(periods):
    """Per period ``j`` [s, e), the intervals that make its movements, each read to what it adds to
    the account's MRR at s (``m0``) and at e (``m1``), whether a paying row of it ran inside the
    period (``w``) and whether the account paid before s (``b``): one SELECT per part (each reads its
    own index range):
    - an interval starting in (s, e]: nothing at s, its MRR at e if it runs past e;
    - an interval holding s and ending in (s, e]: its MRR at s, nothing at e;
    - an interval running through the period with a paying row and a total of 0 or less: the same
      at both ends, paid within (rare: it takes a negative row; early churn without a change)."""
    zero = literal_column("0")
    selects = []
    for j, p in enumerate(periods):
        s0, e0 = p.start, p.end
        before = case((iv.c.first_paid < s0, 1), else_=0).label("b")
        tag = literal(j).label("j")
        selects += [
            select(tag, iv.c.account_id, zero.label("m0"), case((iv.c.end_date > e0, iv.c.mrr), else_=0).label("m1"),
                   case((and_(iv.c.paid == 1, iv.c.start_date < e0), 1), else_=0).label("w"), before)
            .where(iv.c.start_date > s0, iv.c.start_date <= e0),
            select(tag, iv.c.account_id, iv.c.mrr, zero, iv.c.paid, before)
            .where(iv.c.end_date > s0, iv.c.end_date <= e0, iv.c.start_date <= s0),
            select(tag, iv.c.account_id, iv.c.mrr, iv.c.mrr, iv.c.paid, before)
            .where(iv.c.paid == 1, iv.c.mrr <= 0, iv.c.start_date <= s0, iv.c.end_date > e0),
        ]
    return union_all(*selects).subquery("tagged")


def _changed_stmt(periods, filters, by):
    """Per period and group: the movements of the accounts whose MRR moved in it (and the rare early
    churn without a change), from ``_tagged`` grouped per period and account."""
    t = _tagged(periods).c
    pairs = filters.restrict(select(
        t.j, t.account_id, func.sum(t.m0).label("m0"), func.sum(t.m1).label("m1"), func.max(t.b).label("before"),
        func.max(t.w).label("within"),
    ).group_by(t.j, t.account_id), t.account_id).subquery("pairs")
    q = pairs.c
    in_s, in_e = q.m0 > 0, q.m1 > 0
    conds = {
        "new": and_(~in_s, in_e, q.before == 0),
        "reactivation": and_(~in_s, in_e, q.before == 1),
        "expansion": and_(in_s, in_e, q.m1 > q.m0),
        "contraction": and_(in_s, in_e, q.m1 < q.m0),
        "churn": and_(in_s, ~in_e),
        "early_churn": and_(~in_s, ~in_e, q.within == 1),
    }
    amounts = {"new": q.m1, "reactivation": q.m1, "expansion": q.m1 - q.m0, "contraction": q.m0 - q.m1, "churn": q.m0}
    source, key = keyed(pairs, by)
    cols = [key.label("key"), q.j.label("j")]
    for name, cond in conds.items():
        cols.append(func.sum(case((cond, 1), else_=0)).label(f"n_{name}"))
        if name in amounts:
            cols.append(func.sum(case((cond, amounts[name]), else_=0)).label(f"a_{name}"))
    return select(*cols).select_from(source).group_by(*([key] if by is not None else []), q.j)


def mrr_on(conn: Connection, day, filters) -> tuple[float, int]:
    """MRR and paying customers at 00:00 of ``day``: one interval per account holds it, no grouping
    (the whole company without filters: one row of the daily totals)."""
    if type(filters) is Filters and filters.empty:
        paying, mrr = _whole_totals(conn, [day]).get(None, {day: (0, 0.0)})[day]
        return round(mrr, 2), paying
    stmt = filters.restrict(
        select(func.coalesce(func.sum(iv.c.mrr), 0), func.coalesce(func.sum(case((iv.c.mrr > 0, 1), else_=0)), 0))
        .where(iv.c.end_date > day, iv.c.start_date <= day), iv.c.account_id)
    row = conn.execute(stmt).one()
    return round(float(row[0]), 2), int(row[1])


# ---- upsell and cross-sell ------------------------------------------------------------------------

def product_moves(conn: Connection, periods, filters) -> dict[int, tuple[int, int]]:
    """{j: (upsell, cross_sell)} of every period of ``periods``: the accounts of S (paying at 00:00 of
    the start) with a product whose MRR at the end is higher than at the start, where it was more
    than 0 (upsell), and with a product of MRR 0 or less at the start and more than 0 at the end
    (cross-sell), as ``metrics.value`` counts them from subscriptions. A whole calendar month
    without filters reads the counts the build stored; any other period or filter groups the
    products whose MRR changed in it (``_product_moves``)."""
    periods = list(periods)
    stored: dict = {}
    if type(filters) is Filters and filters.empty:
        stored = _stored_months(conn, periods, "products")
    rest = [j for j in range(len(periods)) if j not in stored]
    counted = _product_moves(conn, [periods[j] for j in rest], filters) if rest else {}
    return {j: stored[j] if j in stored else counted.get(rest.index(j), (0, 0)) for j in range(len(periods))}


def _product_moves(conn: Connection, periods, filters) -> dict[int, tuple[int, int]]:
    """``product_moves`` counted off ``account_product_intervals`` in one statement: per period [s, e)
    the product intervals starting in (s, e] (nothing at s, their MRR at e if they run past it) and
    those holding s and ending in (s, e] (their MRR at s, nothing at e), summed per product: its MRR
    at s and at e (a product whose MRR did not change has none and moves nothing); per account
    whether one upsold and one cross-sold, and the account in S when its interval of
    ``account_mrr_intervals`` holding s has an MRR above 0."""
    zero = literal_column("0")
    selects = []
    for j, p in enumerate(periods):
        tag, start = literal(j).label("j"), literal(p.start, Date).label("s")
        selects += [
            select(tag, start, pi.c.account_id, pi.c.product, zero.label("m0"),
                   case((pi.c.end_date > p.end, pi.c.mrr), else_=0).label("m1"))
            .where(pi.c.start_date > p.start, pi.c.start_date <= p.end),
            select(tag, start, pi.c.account_id, pi.c.product, pi.c.mrr, zero)
            .where(pi.c.end_date > p.start, pi.c.end_date <= p.end, pi.c.start_date <= p.start),
        ]
    t = union_all(*selects).subquery("tagged")
    per_product = select(t.c.j, t.c.s, t.c.account_id, func.sum(t.c.m0).label("m0"), func.sum(t.c.m1).label("m1")) \
        .group_by(t.c.j, t.c.s, t.c.account_id, t.c.product).subquery("per_product")
    q = per_product.c
    up = func.max(case((and_(q.m0 > 0, q.m1 > q.m0), 1), else_=0))
    cross = func.max(case((and_(q.m0 <= 0, q.m1 > 0), 1), else_=0))
    per_account = filters.restrict(
        select(q.j, q.s, q.account_id, up.label("upsell"), cross.label("cross_sell"))
        .group_by(q.j, q.s, q.account_id).having(or_(up == 1, cross == 1)), q.account_id).subquery("per_account")
    a = per_account.c
    in_s = select(iv.c.account_id).where(iv.c.account_id == a.account_id, iv.c.start_date <= a.s,
                                         iv.c.end_date > a.s, iv.c.mrr > 0).exists()
    stmt = select(a.j, func.sum(a.upsell), func.sum(a.cross_sell)).where(in_s).group_by(a.j)
    return {int(j): (int(n_up or 0), int(n_cross or 0)) for j, n_up, n_cross in conn.execute(stmt)}
