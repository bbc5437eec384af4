"""Revenue state and its movements (docs/metrics.md, "Revenue state", "Movements",
"Churn and retention"), counted in SQL.

One statement per period does the work: subscriptions are grouped per account
into the MRR at the start (``m0``, state at 00:00 of ``start``), the MRR at the
end (``m1``, state at 00:00 of ``end``) and whether the account ever paid
before ``start``; an outer query sums those into the movements. A row is
active on day ``d`` when ``start_date <= d`` and (``end_date`` is empty or
``d < end_date``).

When the revenue state built at sync time is fresh (``metrics.revenue_state``), the statements
here read each account's MRR from its intervals of constant value instead of grouping all its
subscriptions: the customers and MRR at a day as running sums of the intervals' changes, the
movements from the accounts whose MRR moved. The same numbers (tests/test_revenue_state.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from sqlalchemy import Integer, and_, case, cast, func, literal, or_, select
from sqlalchemy.sql import Subquery

from metrics import revenue_state, schema
from metrics.active import active_on
from metrics.calc import Calc, Measurement, ratio
from metrics.filters import Filters
from metrics.grouping import keyed
from metrics.periods import Period

s = schema.subscriptions
a = schema.accounts


def account_mrr(period: Period, filters: Filters, derived: bool = False, moving_only: bool = False) -> Subquery:
    """Per account: m0 (MRR at start), m1 (MRR at end), paid_before (0/1), paid_within (0/1)
    (``derived``: read from the revenue state built at sync time, which must be fresh; with
    ``moving_only`` it may leave out accounts that make no movement)."""
    start, end = period.start, period.end
    if derived:
        q = revenue_state.per_account([start, end], [period], filters, moving_only=moving_only).c
        return select(
            q.account_id, func.round(q.m0, 2).label("m0"), func.round(q.m1, 2).label("m1"),
            case((q.first_paid < start, 1), else_=0).label("paid_before"), q.w0.label("paid_within"),
        ).subquery("account_mrr")
    m0 = func.round(func.sum(case((active_on(start), s.c.mrr), else_=0)), 2)
    m1 = func.round(func.sum(case((active_on(end), s.c.mrr), else_=0)), 2)
    paid_before = func.max(
        case(
            (and_(s.c.mrr > 0, s.c.start_date < start,
                  or_(s.c.end_date.is_(None), s.c.end_date > s.c.start_date)), 1),
            else_=0,
        )
    )
    # Paid on some day inside [start, end): the "early churn" of a customer who came and went.
    paid_within = func.max(
        case(
            (and_(s.c.mrr > 0, s.c.start_date < end,
                  or_(s.c.end_date.is_(None), and_(s.c.end_date > start, s.c.end_date > s.c.start_date))), 1),
            else_=0,
        )
    )
    stmt = (
        select(
            s.c.account_id,
            m0.label("m0"),
            m1.label("m1"),
            paid_before.label("paid_before"),
            paid_within.label("paid_within"),
        )
        .where(s.c.start_date <= end)
        .group_by(s.c.account_id)
    )
    stmt = filters.restrict(stmt, s.c.account_id)
    return stmt.subquery("account_mrr")


def _movement_cases(q: Subquery) -> dict[str, object]:
    """The movement each account made, as SQL conditions on the account_mrr subquery."""
    in_s, in_e = q.c.m0 > 0, q.c.m1 > 0
    return {
        "new": and_(~in_s, in_e, q.c.paid_before == 0),
        "reactivation": and_(~in_s, in_e, q.c.paid_before == 1),
        "expansion": and_(in_s, in_e, q.c.m1 > q.c.m0),
        "contraction": and_(in_s, in_e, q.c.m1 < q.c.m0),
        "churn": and_(in_s, ~in_e),
        "early_churn": and_(~in_s, ~in_e, q.c.paid_within == 1),
    }


MOVEMENT_AMOUNT = {
    "new": lambda q: q.c.m1,
    "reactivation": lambda q: q.c.m1,
    "expansion": lambda q: q.c.m1 - q.c.m0,
    "contraction": lambda q: q.c.m0 - q.c.m1,
    "churn": lambda q: q.c.m0,
    "early_churn": lambda q: literal(0),
}


@dataclass(frozen=True)
class Movements:
    customers_start: int
    customers_end: int
    mrr_start: float
    mrr_end: float
    counts: dict[str, int]
    amounts: dict[str, float]

    @property
    def net_new(self) -> float:
        a = self.amounts
        return round(a["new"] + a["reactivation"] + a["expansion"] - a["contraction"] - a["churn"], 2)

    def parts(self) -> dict[str, object]:
        out: dict[str, object] = {
            "mrr_start": self.mrr_start,
            "mrr_end": self.mrr_end,
            "customers_start": self.customers_start,
            "customers_end": self.customers_end,
        }
        for name in ("new", "reactivation", "expansion", "contraction", "churn"):
            out[name] = self.amounts[name]
            out[f"{name}_accounts"] = self.counts[name]
        out["early_churn_accounts"] = self.counts["early_churn"]
        out["net_new_mrr"] = self.net_new
        return out


def movements(calc: Calc, period: Period, filters: Filters) -> Movements:
    key = ("movements", period, filters)
    if not calc.has(key) and revenue_state.usable(calc):
        # reading the intervals is cheap: the previous period (every answer shows it) in the same statement
        movements_grouped(calc, [period, period.previous()], filters)
    return calc.memo(key, lambda: _movements(calc, period, filters))


def _movements(calc: Calc, period: Period, filters: Filters) -> Movements:
    q = account_mrr(period, filters, revenue_state.usable(calc))
    cols = [
        func.coalesce(func.sum(cast(q.c.m0 > 0, Integer)), 0).label("customers_start"),
        func.coalesce(func.sum(cast(q.c.m1 > 0, Integer)), 0).label("customers_end"),
        func.coalesce(func.sum(q.c.m0), 0).label("mrr_start"),
        func.coalesce(func.sum(q.c.m1), 0).label("mrr_end"),
    ]
    for name, cond in _movement_cases(q).items():
        cols.append(func.coalesce(func.sum(case((cond, 1), else_=0)), 0).label(f"n_{name}"))
        cols.append(func.coalesce(func.sum(case((cond, MOVEMENT_AMOUNT[name](q)), else_=0)), 0).label(f"a_{name}"))
    row = calc.conn.execute(select(*cols)).mappings().one()
    names = list(MOVEMENT_AMOUNT)
    return Movements(
        customers_start=int(row["customers_start"]),
        customers_end=int(row["customers_end"]),
        mrr_start=round(float(row["mrr_start"]), 2),
        mrr_end=round(float(row["mrr_end"]), 2),
        counts={n: int(row[f"n_{n}"]) for n in names},
        amounts={n: round(float(row[f"a_{n}"]), 2) for n in names},
    )


def movement_accounts(calc: Calc, period: Period, filters: Filters, movement: str, limit: int | None = 20,
                      offset: int = 0) -> tuple[list[dict], int]:
    """The accounts behind one movement, largest amount first, and how many there are in all
    (``limit=None``: every one)."""
    q = account_mrr(period, filters, revenue_state.usable(calc), moving_only=True)
    cond = _movement_cases(q)[movement]
    amount = MOVEMENT_AMOUNT[movement](q).label("amount")
    stmt = (
        select(a.c.account_id, a.c.name, a.c.segment, a.c.owner, q.c.m0, q.c.m1, amount)
        .join(a, a.c.account_id == q.c.account_id)
        .where(cond)
        .order_by(amount.desc(), a.c.name)
        .limit(limit)
        .offset(offset)
    )
    total = calc.conn.execute(select(func.count()).select_from(q).where(cond)).scalar_one()
    rows = [dict(r) for r in calc.conn.execute(stmt).mappings()]
    return rows, int(total)


def mrr_on(calc: Calc, day, filters: Filters) -> tuple[float, int]:
    """MRR and paying customers at 00:00 of ``day`` (counted once per answer: mrr, arr,
    arpa and ltv all start from it)."""
    return calc.memo(("mrr_on", day, filters), lambda: _mrr_on(calc, day, filters))


def _mrr_on(calc: Calc, day, filters: Filters) -> tuple[float, int]:
    if revenue_state.usable(calc):
        return revenue_state.mrr_on(calc.conn, day, filters)
    per_account = (
        select(s.c.account_id, func.sum(s.c.mrr).label("m"))
        .where(active_on(day))
        .group_by(s.c.account_id)
    )
    per_account = filters.restrict(per_account, s.c.account_id).subquery()
    row = calc.conn.execute(
        select(
            func.coalesce(func.sum(per_account.c.m), 0),
            func.coalesce(func.sum(case((per_account.c.m > 0, 1), else_=0)), 0),
        )
    ).one()
    return round(float(row[0]), 2), int(row[1])


# ---- the metrics -----------------------------------------------------------------

def mrr_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    mrr, customers = mrr_on(calc, period.end, filters)
    return Measurement(mrr, {"mrr": mrr, "paying_customers": customers, "as_of": period.end})


def arr_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    mrr, customers = mrr_on(calc, period.end, filters)
    return Measurement(round(mrr * 12, 2), {"mrr": mrr, "arr": round(mrr * 12, 2), "paying_customers": customers,
                                            "as_of": period.end})


def paying_customers_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    mrr, customers = mrr_on(calc, period.end, filters)
    return Measurement(customers, {"paying_customers": customers, "mrr": mrr, "as_of": period.end})


def arpa_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    mrr, customers = mrr_on(calc, period.end, filters)
    value = ratio(mrr, customers)
    return Measurement(None if value is None else round(value, 2),
                       {"numerator": mrr, "denominator": customers, "mrr": mrr, "paying_customers": customers,
                        "as_of": period.end})


def mrr_movements_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    m = movements(calc, period, filters)
    return Measurement(m.net_new, m.parts())


def net_new_mrr_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    m = movements(calc, period, filters)
    return Measurement(m.net_new, m.parts())


def customer_churn_rate_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    m = movements(calc, period, filters)
    churned = m.counts["churn"]
    parts = {"numerator": churned, "denominator": m.customers_start, "churned_accounts": churned,
             "customers_start": m.customers_start, "customers_end": m.customers_end,
             "early_churn_accounts": m.counts["early_churn"]}
    return Measurement(ratio(churned, m.customers_start), parts)


def revenue_churn_rate_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    m = movements(calc, period, filters)
    lost = round(m.amounts["churn"] + m.amounts["contraction"], 2)
    parts = {"numerator": lost, "denominator": m.mrr_start, "churn": m.amounts["churn"],
             "contraction": m.amounts["contraction"], "mrr_start": m.mrr_start}
    return Measurement(ratio(lost, m.mrr_start), parts)


# ---- many periods and groups in one statement (breakdowns and trends) -------------------

def movements_grouped(calc: Calc, periods: Sequence[Period], filters: Filters, by: str | None = None,
                      scope: Callable[[str | None], Filters] | None = None) -> set[str | None]:
    """The movements of every period of ``periods`` for every group of ``by`` (the whole when None), in
    one statement: each account's MRR at every boundary, whether it paid before each start and within
    each period, summed per group. Each result is memoised as ``movements(calc, period, scope(key))``
    would count it (``scope``: the group's filters; ``filters`` for the whole); returns the groups seen:
    those of the accounts with a row running on some day from the first start to the last end."""
    periods = list(dict.fromkeys(periods))
    days = sorted({p.start for p in periods} | {p.end for p in periods})
    scope = scope or (lambda k: filters)
    if revenue_state.usable(calc):  # read off the intervals built at sync time: the same sums
        if by is None and all(calc.has(("movements", p, filters)) for p in periods):
            return {None}  # a breakdown counted the whole with its groups
        cells = revenue_state.movements(calc.conn, periods, filters, by)
        if by is None and not cells:
            cells = {None: {}}
        for k, per_period in cells.items():
            for i, p in enumerate(periods):
                calc.memo(("movements", p, scope(k)), lambda c=per_period.get(i, {}): _movements_of(c))
        if by is not None:  # every account is in exactly one group: the groups add up to the whole
            for i, p in enumerate(periods):
                whole = revenue_state.add_up(per_period[i] for per_period in cells.values() if i in per_period)
                calc.memo(("movements", p, filters), lambda c=whole: _movements_of(c))
        return set(cells)
    day_col = {d: f"m{i}" for i, d in enumerate(days)}
    cols = [func.round(func.sum(case((active_on(d), s.c.mrr), else_=0)), 2).label(day_col[d]) for d in days]
    # "paid before start" of every start at once: the first day of a paid row that lasted a day
    valid = or_(s.c.end_date.is_(None), s.c.end_date > s.c.start_date)
    cols.append(func.min(case((and_(s.c.mrr > 0, valid), s.c.start_date), else_=None)).label("first_paid"))
    cols += [func.max(case((and_(s.c.mrr > 0, s.c.start_date < p.end,
                                 or_(s.c.end_date.is_(None), and_(s.c.end_date > p.start, s.c.end_date > s.c.start_date))),
                                1), else_=0)).label(f"w{i}")
             for i, p in enumerate(periods)]
    names = list(MOVEMENT_AMOUNT)
    # the accounts with a row running on some day of the window: the groups listed
    touched = func.max(case((or_(s.c.end_date.is_(None), and_(s.c.end_date > days[0], s.c.end_date > s.c.start_date)), 1),
                            else_=0))
    per_account = filters.restrict(
        select(s.c.account_id, *cols).where(s.c.start_date <= days[-1]).group_by(s.c.account_id)
        .having(touched == 1), s.c.account_id,
    ).subquery("account_mrr")
    q = per_account.c
    source, key = keyed(per_account, by)
    out_cols = [key.label("key")]
    for i, p in enumerate(periods):
        m0, m1, within = q[day_col[p.start]], q[day_col[p.end]], q[f"w{i}"]
        before = case((q.first_paid < p.start, 1), else_=0)
        in_s, in_e = m0 > 0, m1 > 0
        conds = {
            "new": and_(~in_s, in_e, before == 0),
            "reactivation": and_(~in_s, in_e, before == 1),
            "expansion": and_(in_s, in_e, m1 > m0),
            "contraction": and_(in_s, in_e, m1 < m0),
            "churn": and_(in_s, ~in_e),
            "early_churn": and_(~in_s, ~in_e, within == 1),
        }
        amounts = {"new": m1, "reactivation": m1, "expansion": m1 - m0, "contraction": m0 - m1, "churn": m0}
        out_cols += [
            func.coalesce(func.sum(case((in_s, 1), else_=0)), 0).label(f"p{i}_customers_start"),
            func.coalesce(func.sum(case((in_e, 1), else_=0)), 0).label(f"p{i}_customers_end"),
            func.coalesce(func.sum(m0), 0).label(f"p{i}_mrr_start"),
            func.coalesce(func.sum(m1), 0).label(f"p{i}_mrr_end"),
        ]
        for name, cond in conds.items():
            out_cols.append(func.coalesce(func.sum(case((cond, 1), else_=0)), 0).label(f"p{i}_n_{name}"))
            if name != "early_churn":  # no amount: always 0
                out_cols.append(func.coalesce(func.sum(case((cond, amounts[name]), else_=0)), 0)
                                .label(f"p{i}_a_{name}"))
    stmt = select(*out_cols).select_from(source)
    if by is not None:
        stmt = stmt.group_by(key)
    rows = calc.conn.execute(stmt).mappings().all()
    seen: set[str | None] = set()
    for row in rows:
        seen.add(row["key"])
        for i, p in enumerate(periods):
            cell = {n: row.get(f"p{i}_{n}", 0) for n in ("customers_start", "customers_end", "mrr_start", "mrr_end")}
            cell.update({f"{x}_{n}": row.get(f"p{i}_{x}_{n}", 0) for n in names for x in ("n", "a")})
            calc.memo(("movements", p, scope(row["key"])), lambda c=cell: _movements_of(c))
    return seen


def _movements_of(cell: dict) -> Movements:
    """A period's movements from its sums (a missing sum is 0)."""
    names = list(MOVEMENT_AMOUNT)
    return Movements(
        customers_start=int(cell.get("customers_start", 0)),
        customers_end=int(cell.get("customers_end", 0)),
        mrr_start=round(float(cell.get("mrr_start", 0)), 2),
        mrr_end=round(float(cell.get("mrr_end", 0)), 2),
        counts={n: int(cell.get(f"n_{n}", 0)) for n in names},
        amounts={n: round(float(cell.get(f"a_{n}", 0)), 2) for n in names},
    )


def mrr_on_grouped(calc: Calc, days: Sequence, filters: Filters, by: str | None = None,
                   scope: Callable[[str | None], Filters] | None = None) -> set[str | None]:
    """MRR and paying customers at 00:00 of each of ``days`` for every group of ``by``, in one
    statement, memoised as ``mrr_on(calc, day, scope(key))``; returns the groups seen."""
    days = sorted(set(days))
    cols = [func.sum(case((active_on(d), s.c.mrr), else_=0)).label(f"m{i}") for i, d in enumerate(days)]
    if revenue_state.usable(calc):  # the running totals of the intervals built at sync time
        if by is None and all(calc.has(("mrr_on", d, filters)) for d in days):
            return {None}  # a breakdown counted the whole with its groups
        scope = scope or (lambda k: filters)
        totals = revenue_state.running_totals(calc.conn, days, filters, by)
        if by is None and not totals:
            totals = {None: {d: (0, 0.0) for d in days}}
        for k, per_day in totals.items():
            for d in days:
                paying, mrr = per_day[d]
                calc.memo(("mrr_on", d, scope(k)), lambda v=(round(mrr, 2), paying): v)
        if by is not None:  # every account is in exactly one group: the groups add up to the whole
            for d in days:
                value = (round(math.fsum(t[d][1] for t in totals.values()), 2), sum(t[d][0] for t in totals.values()))
                calc.memo(("mrr_on", d, filters), lambda v=value: v)
        return set(totals)
    per_account = filters.restrict(
        select(s.c.account_id, *cols)
        # the rows that run on some day of the window (a row that never runs is in no group)
        .where(s.c.start_date <= days[-1], or_(s.c.end_date.is_(None), and_(s.c.end_date > days[0],
                                                                             s.c.end_date > s.c.start_date)))
        .group_by(s.c.account_id), s.c.account_id,
    ).subquery("per_account")
    source, key = keyed(per_account, by)
    out_cols = [key.label("key")]
    for i in range(len(days)):
        m = per_account.c[f"m{i}"]
        out_cols += [func.coalesce(func.sum(case((m > 0, 1), else_=0)), 0).label(f"n{i}"),
                     func.coalesce(func.sum(m), 0).label(f"all{i}")]
    stmt = select(*out_cols).select_from(source)
    if by is not None:
        stmt = stmt.group_by(key)
    scope = scope or (lambda k: filters)
    seen: set[str | None] = set()
    for row in calc.conn.execute(stmt).mappings():
        seen.add(row["key"])
        for i, d in enumerate(days):
            value = (round(float(row[f"all{i}"]), 2), int(row[f"n{i}"]))
            calc.memo(("mrr_on", d, scope(row["key"])), lambda v=value: v)
    return seen
