"""The accounts behind a question, as rows: who churned / was new / expanded ... in a period
(the MRR movements of ``metrics.revenue``), who is in a health band, whose health dropped,
who renews soon, who passes the filters; and how many paying customers there are.

Every list is counted and filtered in SQL and holds the rows of that list only (never a
whole table); health scores come from the stored snapshots of the day, or are computed for
the accounts listed (``metrics.health.scores_as_of``). When the day's snapshots are stored, a
health list (at risk, a band, dropped, every account) is one statement that returns its rows
sorted, each with the score, name, segment, owner and MRR it shows, as the /health portfolio
does (``metrics.health.views``): at 100k accounts, reading the scores, then the names and the
MRR of tens of thousands of ids in chunks, cost seconds. Words and formatting are
``commands/lists.py``'s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date
from itertools import starmap
from typing import Sequence

from sqlalchemy import Connection, Float, and_, case, cast, func, null, select

from metrics import schema
from metrics.accounts import count_accounts
from metrics.active import active_on
from metrics.calc import Calc
from metrics.filters import Filters
from metrics.health.model import BANDS, HealthModel, rounded
from metrics.health.snapshots import has_snapshots, scores_as_of
from metrics.health.sql import chunks
from metrics.periods import Period, as_date
from metrics.renewals import renewals
from metrics.revenue import movement_accounts, mrr_on
from metrics.settings import Settings

logger = logging.getLogger(__name__)

a = schema.accounts
s = schema.subscriptions
h = schema.health_snapshots

MOVEMENTS = ("churn", "early_churn", "new", "reactivation", "expansion", "contraction")
# The movements whose accounts pay at the end of the period: their health today means something.
PAYING_AT_END = ("new", "reactivation", "expansion", "contraction")


@dataclass(frozen=True)
class ListRow:
    """One account of a list. ``amount`` is the list's money figure: the movement's MRR, the
    account's MRR, or its ARR (renewals); ``score``/``band`` its health on the list's day."""

    account_id: str
    name: str
    segment: str | None
    owner: str | None
    amount: float | None = None
    score: float | None = None
    band: str | None = None
    previous: float | None = None  # health score at the start (health_drop)
    renewal_date: date | None = None

    @property
    def drop(self) -> int | None:
        """Whole points lost between ``previous`` and ``score`` (the scores as shown, rounded)."""
        if self.score is None or self.previous is None:
            return None
        return rounded(self.previous) - rounded(self.score)


# --------------------------------------------------------------------------- helpers


def segments(conn: Connection, ids: Sequence[str]) -> dict[str, str | None]:
    """Per account of ``ids``: its segment."""
    out: dict[str, str | None] = {}
    for chunk in chunks(list(ids)):
        out.update({r[0]: r[1] for r in conn.execute(select(a.c.account_id, a.c.segment).where(a.c.account_id.in_(chunk)))})
    return out


def mrr_of(conn: Connection, day: date, ids: Sequence[str]) -> dict[str, float]:
    """Per account of ``ids``: its MRR on ``day`` (0 when nothing is active)."""
    out = {i: 0.0 for i in ids}
    for chunk in chunks(list(ids)):
        stmt = select(s.c.account_id, func.sum(s.c.mrr)).where(active_on(day), s.c.account_id.in_(chunk)).group_by(
            s.c.account_id)
        out.update({r[0]: round(float(r[1] or 0), 2) for r in conn.execute(stmt)})
    return out


def with_health(conn: Connection, rows: list[ListRow], day: date, settings: Settings | None,
                model: HealthModel | None = None) -> list[ListRow]:
    """``rows`` with each account's health score and band on ``day`` (None when it is not paying)."""
    if not rows:
        return rows
    ids = [r.account_id for r in rows]
    if has_snapshots(conn, day):  # the stored score and band alone (no components), by chunks of ids
        found: dict[str, tuple] = {}
        for chunk in chunks(ids):
            found.update({r[0]: (r[1], r[2]) for r in conn.execute(
                select(h.c.account_id, h.c.score, h.c.band).where(h.c.day == day, h.c.account_id.in_(chunk)))})
    else:
        found = {k: (v.score, v.band) for k, v in scores_as_of(conn, day, Filters(), settings, account_ids=ids,
                                                               model=model).items()}
    out = []
    for r in rows:
        sc = found.get(r.account_id)
        out.append(replace(r, score=sc[0], band=sc[1]) if sc is not None else r)
    return out


def _mrr_on_day(day: date):
    """Per account with a subscription active on ``day``: its MRR that day (the subscriptions grouped once)."""
    return select(s.c.account_id, func.sum(s.c.mrr).label("mrr")).where(active_on(day)).group_by(
        s.c.account_id).subquery("mrr_on_day")


def _by_name(conn: Connection):
    """The account name as Python orders strings (by code point): PostgreSQL's database collation
    may order otherwise ("C" is byte order, which in UTF-8 is code-point order, as SQLite's)."""
    return a.c.name.collate("C") if conn.dialect.name == "postgresql" else a.c.name


def _cents(column):
    """An account's MRR in a statement: 0 without active subscriptions, rounded to cents (as
    ``mrr_of``), as a float (PostgreSQL's numeric would come back as Decimal, slower to read)."""
    return cast(func.round(func.coalesce(column, 0), 2), Float)


# --------------------------------------------------------------------------- the lists


def movement_list(calc: Calc, period: Period, filters: Filters, movement: str, *, health_day: date | None = None,
                  model: HealthModel | None = None) -> list[ListRow]:
    """The accounts that made ``movement`` in ``period`` (docs/metrics.md, "How MRR moved"), largest
    amount first: the same accounts ``metrics.revenue.movements`` counts. With ``health_day``, the
    accounts' health on that day."""
    if movement not in MOVEMENTS:
        raise ValueError(f"not a movement: {movement!r}")
    found, _ = movement_accounts(calc, period, filters, movement, limit=None)
    rows = [ListRow(r["account_id"], r["name"], r["segment"], r["owner"],
                    None if movement == "early_churn" else round(float(r["amount"]), 2)) for r in found]
    if health_day is not None:
        rows = with_health(calc.conn, rows, health_day, calc.settings, model)
    return rows


def band_list(conn: Connection, day: date, filters: Filters, bands: Sequence[str], settings: Settings | None = None,
              *, model: HealthModel | None = None) -> list[ListRow]:
    """Paying accounts in ``bands`` on ``day``, in the order of the bands asked, lowest score first
    (then the larger MRR): "at risk" is red, then yellow, as ``metrics.health.portfolio`` lists them
    (its scores: the day's snapshots, or computed; without its 30-days-before side, which a list
    does not show). ``amount`` is MRR on ``day``. With the day's snapshots stored, one statement."""
    if has_snapshots(conn, day):
        return _stored_band_list(conn, day, filters, bands)
    order = {b: i for i, b in enumerate(bands)}
    scores = {i: sc for i, sc in scores_as_of(conn, day, filters, settings, model=model).items() if sc.band in order}
    info = _accounts(conn, list(scores))
    mrrs = mrr_of(conn, day, list(scores))
    rows = [ListRow(i, info[i]["name"], info[i]["segment"], info[i]["owner"], mrrs.get(i, 0.0), sc.score, sc.band,
                    renewal_date=as_date(info[i]["renewal_date"])) for i, sc in scores.items() if i in info]
    rows.sort(key=lambda r: (order[r.band], r.score if r.score is not None else 0.0, -(r.amount or 0.0), r.name,
                             r.account_id))
    return rows


def _stored_band_list(conn: Connection, day: date, filters: Filters, bands: Sequence[str]) -> list[ListRow]:
    """``band_list`` from ``day``'s snapshots: the accounts in ``bands`` with their name, segment,
    owner, renewal date and MRR on ``day``, sorted by the database in ``band_list``'s order."""
    if not bands:
        return []
    mrr = _mrr_on_day(day)
    money = _cents(mrr.c.mrr)
    rank = case(*((h.c.band == b, i) for i, b in enumerate(bands)), else_=len(bands))
    # ListRow's fields in their order (the rows are made with ListRow(*row))
    stmt = select(h.c.account_id, a.c.name, a.c.segment, a.c.owner, money, h.c.score, h.c.band, null(),
                  a.c.renewal_date).select_from(
        h.join(a, a.c.account_id == h.c.account_id).outerjoin(mrr, mrr.c.account_id == h.c.account_id)).where(
        h.c.day == day, h.c.band.in_(list(bands))).order_by(
        rank, func.coalesce(h.c.score, 0.0), money.desc(), _by_name(conn), h.c.account_id)
    cond = filters.account_condition()
    if cond is not None:
        stmt = stmt.where(cond)
    return list(starmap(ListRow, conn.execute(stmt).all()))


def health_drop_list(conn: Connection, start: date, end: date, points: int, filters: Filters,
                     settings: Settings | None = None, *, model: HealthModel | None = None) -> list[ListRow]:
    """Accounts whose health score on ``end`` is ``points`` or more below their score on ``start``
    (whole points, as shown), largest drop first. Both sides are the stored snapshots of the day, or
    computed for it; an account needs a score on both days. ``amount`` is MRR on ``end``. With both
    days' snapshots stored, one statement."""
    if has_snapshots(conn, start) and has_snapshots(conn, end):
        return _stored_drop_list(conn, start, end, points, filters)
    before = scores_as_of(conn, start, filters, settings, model=model)
    after = scores_as_of(conn, end, filters, settings, model=model)
    found = []
    for acc_id, now in after.items():
        then = before.get(acc_id)
        if now.score is None or then is None or then.score is None:
            continue
        if rounded(then.score) - rounded(now.score) >= points:
            found.append((acc_id, now, then))
    ids = [x[0] for x in found]
    info = _accounts(conn, ids)
    mrrs = mrr_of(conn, end, ids)
    rows = [ListRow(i, info[i]["name"], info[i]["segment"], info[i]["owner"], mrrs.get(i, 0.0), now.score, now.band,
                    then.score, as_date(info[i]["renewal_date"])) for i, now, then in found if i in info]
    rows.sort(key=_drop_key)
    return rows


def _drop_key(r: ListRow) -> tuple:
    return (-(r.drop or 0), r.score if r.score is not None else 0.0, r.name, r.account_id)


def _stored_drop_list(conn: Connection, start: date, end: date, points: int, filters: Filters) -> list[ListRow]:
    """``health_drop_list`` from the snapshots of ``start`` and ``end``: one statement returns the
    accounts whose stored score fell by ``points - 1`` or more (a drop of ``points`` whole points as
    shown needs more than ``points - 1`` unrounded), with what the list shows; the exact test on
    the rounded scores and the order are ``health_drop_list``'s."""
    mrr = _mrr_on_day(end)
    before = h.alias("before")
    stmt = select(h.c.account_id, a.c.name, a.c.segment, a.c.owner, _cents(mrr.c.mrr),
                  h.c.score, h.c.band, before.c.score, a.c.renewal_date).select_from(
        h.join(before, and_(before.c.account_id == h.c.account_id, before.c.day == start)).join(
            a, a.c.account_id == h.c.account_id).outerjoin(mrr, mrr.c.account_id == h.c.account_id)).where(
        h.c.day == end, h.c.score.is_not(None), before.c.score.is_not(None), before.c.score - h.c.score >= points - 1)
    cond = filters.account_condition()
    if cond is not None:
        stmt = stmt.where(cond)
    rows = [ListRow(*r) for r in conn.execute(stmt).all() if rounded(r[7]) - rounded(r[5]) >= points]
    rows.sort(key=_drop_key)
    return rows


def renewal_list(conn: Connection, start: date, end: date, filters: Filters, day: date,
                 settings: Settings | None = None, *, model: HealthModel | None = None) -> list[ListRow]:
    """Accounts whose renewal date falls in ``[start, end)`` (``metrics.renewals``: soonest first,
    then by name), with their ARR (MRR x 12 on ``day``) as ``amount`` and their health on ``day``."""
    found, _ = renewals(conn, start, (end - start).days, filters, limit=None)
    ids = [r["account_id"] for r in found]
    segs = segments(conn, ids)
    mrrs = mrr_of(conn, day, ids)
    rows = [ListRow(r["account_id"], r["name"], segs.get(r["account_id"]), r["owner"],
                    round(mrrs.get(r["account_id"], 0.0) * 12, 2), renewal_date=as_date(r["renewal_date"]))
            for r in found]
    return with_health(conn, rows, day, settings, model)


def account_list(conn: Connection, day: date, filters: Filters, settings: Settings | None = None,
                 *, model: HealthModel | None = None) -> list[ListRow]:
    """Every account passing ``filters`` (paying or not), largest MRR on ``day`` first, then by name,
    with its health on ``day`` (with the day's snapshots stored, read in the same statement)."""
    per_account = _mrr_on_day(day)
    money = _cents(per_account.c.mrr)
    stored = has_snapshots(conn, day)
    joined = a.outerjoin(per_account, per_account.c.account_id == a.c.account_id)
    health = (h.c.score, h.c.band) if stored else (null(), null())
    if stored:
        joined = joined.outerjoin(h, and_(h.c.account_id == a.c.account_id, h.c.day == day))
    stmt = select(a.c.account_id, a.c.name, a.c.segment, a.c.owner, money, *health, null(),
                  a.c.renewal_date).select_from(joined)  # ListRow's fields in their order
    cond = filters.account_condition()
    if cond is not None:
        stmt = stmt.where(cond)
    stmt = stmt.order_by(money.desc(), _by_name(conn), a.c.account_id)
    rows = list(starmap(ListRow, conn.execute(stmt).all()))
    if stored or not rows:
        return rows
    scores = scores_as_of(conn, day, filters, settings, model=model)  # paying accounts passing the filters
    return [replace(r, score=scores[r.account_id].score, band=scores[r.account_id].band)
            if r.account_id in scores else r for r in rows]


def _accounts(conn: Connection, ids: Sequence[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for chunk in chunks(list(ids)):
        stmt = select(a.c.account_id, a.c.name, a.c.segment, a.c.owner, a.c.renewal_date).where(a.c.account_id.in_(chunk))
        out.update({r["account_id"]: dict(r) for r in conn.execute(stmt).mappings()})
    return out


# --------------------------------------------------------------------------- counts


@dataclass(frozen=True)
class CustomerCount:
    day: date  # paying on this day (state at 00:00)
    paying: int  # paying customers (MRR above zero)
    accounts: int  # every account passing the filters, paying or not


def customer_count(calc: Calc, day: date, filters: Filters) -> CustomerCount:
    """Paying customers on ``day`` (the ``mrr`` metric's ``paying_customers``), and every account
    passing ``filters``."""
    _, paying = mrr_on(calc, day, filters)
    return CustomerCount(day, paying, count_accounts(calc.conn, filters))


def paying_day(period: Period | None, today: date) -> date:
    """The day a count or a band list is taken on: today without a period; else the period's end
    (00:00 after its last day), never after today."""
    return today if period is None else min(period.end, today)


__all__ = [
    "BANDS", "MOVEMENTS", "PAYING_AT_END", "CustomerCount", "ListRow", "account_list", "band_list",
    "customer_count", "health_drop_list", "movement_list", "mrr_of", "paying_day", "renewal_list", "segments",
    "with_health",
]
