"""Retention (docs/metrics.md, "Churn and retention"): net MRR churn, annualised
churn, GRR, NRR, expansion rate, retention rate and the cohort retention table.

The period metrics reuse the movements of ``metrics.revenue`` (one statement
per period, memoised on the ``Calc``). The cohort table is one more statement:
every cohort member's MRR at each month end, grouped per cohort and month end.
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import Date, Integer, and_, case, func, literal, or_, select, true, union_all

from metrics import revenue_state, schema
from metrics.calc import Calc, Measurement, ratio
from metrics.filters import Filters
from metrics.periods import Period, add_months, month_start
from metrics.revenue import movements

logger = logging.getLogger(__name__)

s = schema.subscriptions

COHORT_MAX_MONTHS = 12  # months after the cohort month shown in ``parts["cohorts"]``


def as_of(calc: Calc) -> date:
    """The last day data can describe: "today" of the answer. Month ends after it are not known yet."""
    return calc.today


def _money_parts(calc: Calc, period: Period, filters: Filters) -> dict[str, object]:
    m = movements(calc, period, filters)
    return {
        "mrr_start": m.mrr_start,
        "mrr_end": m.mrr_end,
        "churn": m.amounts["churn"],
        "contraction": m.amounts["contraction"],
        "expansion": m.amounts["expansion"],
        "churn_accounts": m.counts["churn"],
        "contraction_accounts": m.counts["contraction"],
        "expansion_accounts": m.counts["expansion"],
        "customers_start": m.customers_start,
    }


def net_mrr_churn_rate_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    p = _money_parts(calc, period, filters)
    num = round(p["churn"] + p["contraction"] - p["expansion"], 2)  # type: ignore[operator]
    p.update(numerator=num, denominator=p["mrr_start"])
    return Measurement(ratio(num, p["mrr_start"]), p)  # type: ignore[arg-type]


def grr_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    p = _money_parts(calc, period, filters)
    kept = round(p["mrr_start"] - p["churn"] - p["contraction"], 2)  # type: ignore[operator]
    p.update(numerator=kept, denominator=p["mrr_start"])
    return Measurement(ratio(kept, p["mrr_start"]), p)  # type: ignore[arg-type]


def nrr_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    # sum of m1 over S = m0(S) - churn - contraction + expansion (new and reactivation excluded)
    p = _money_parts(calc, period, filters)
    kept = round(p["mrr_start"] - p["churn"] - p["contraction"] + p["expansion"], 2)  # type: ignore[operator]
    p.update(numerator=kept, denominator=p["mrr_start"])
    value = ratio(kept, p["mrr_start"])  # type: ignore[arg-type]
    if value is not None:
        grr = ratio(round(p["mrr_start"] - p["churn"] - p["contraction"], 2), p["mrr_start"])  # type: ignore
        p.update(grr=grr, expansion_rate=ratio(p["expansion"], p["mrr_start"]))  # type: ignore[arg-type]
    return Measurement(value, p)


def expansion_rate_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    p = _money_parts(calc, period, filters)
    p.update(numerator=p["expansion"], denominator=p["mrr_start"])
    return Measurement(ratio(p["expansion"], p["mrr_start"]), p)  # type: ignore[arg-type]


def _customer_churn(calc: Calc, period: Period, filters: Filters) -> tuple[float | None, int, int]:
    m = movements(calc, period, filters)
    return ratio(m.counts["churn"], m.customers_start), m.counts["churn"], m.customers_start


def retention_rate_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    churn, churned, start = _customer_churn(calc, period, filters)
    retained = start - churned
    return Measurement(ratio(retained, start),
                       {"numerator": retained, "denominator": start, "churned_accounts": churned,
                        "customers_start": start})


def annualize(churn: float | None, months: float) -> float | None:
    """1 - (1 - c)^(12 / m): the churn a year would see at this rate (never c x 12/m)."""
    if churn is None or months <= 0:
        return None
    return 1 - (1 - churn) ** (12 / months)


def annualized_churn_rate_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    churn, churned, start = _customer_churn(calc, period, filters)
    months = period.months
    return Measurement(annualize(churn, months),
                       {"customer_churn_rate": churn, "months": round(months, 4), "churned_accounts": churned,
                        "customers_start": start, "numerator": churned, "denominator": start})


# ---- cohorts ---------------------------------------------------------------------

def _valid_paid_row():
    return and_(s.c.mrr > 0, or_(s.c.end_date.is_(None), s.c.end_date > s.c.start_date))


def first_paid_days(filters: Filters, derived: bool = False):
    """Per account: the first day it paid (a subscription row with MRR > 0 that lasted a day);
    ``derived``: read from the revenue state built at sync time (which must be fresh)."""
    if derived:
        fd = schema.account_first_paid
        return filters.restrict(select(fd.c.account_id, fd.c.first_paid), fd.c.account_id)
    stmt = select(s.c.account_id, func.min(s.c.start_date).label("first_paid")).where(_valid_paid_row()) \
        .group_by(s.c.account_id)
    return filters.restrict(stmt, s.c.account_id)


def _active_at(day_col, rows=s):
    return and_(rows.c.start_date <= day_col, or_(rows.c.end_date.is_(None), rows.c.end_date > day_col))


def _mrr_rows(calc: Calc):
    """Where an account's MRR on a day is summed from: its intervals built at sync time while they
    are fresh (one holds each day), else its subscriptions."""
    return schema.account_mrr_intervals if revenue_state.usable(calc) else s


def cohort_table(calc: Calc, first_month: date, last_month: date, filters: Filters,
                 max_k: int = COHORT_MAX_MONTHS) -> list[dict]:
    """One row per cohort month from ``first_month`` to ``last_month`` (month starts):
    size, MRR on the members' first paid day, and for k = 1, 2, ... the share of
    the cohort paying at the end of month k after the cohort month (00:00 of the
    first day of cohort month + k + 1), and the MRR kept, while that day is known."""
    key = ("cohort_table", first_month, last_month, filters, max_k, as_of(calc))
    return calc.memo(key, lambda: _cohort_table(calc, first_month, last_month, filters, max_k))


def _cohort_table(calc: Calc, first_month: date, last_month: date, filters: Filters, max_k: int) -> list[dict]:
    horizon = as_of(calc)
    n = (last_month.year - first_month.year) * 12 + last_month.month - first_month.month + 1
    months = [add_months(first_month, i) for i in range(n + max_k + 1)]
    rows_t = _mrr_rows(calc)
    fp = first_paid_days(filters, rows_t is not s).subquery("fp")
    cohort_idx = case(*[(fp.c.first_paid < months[i + 1], literal(i)) for i in range(n)], else_=literal(-1))
    members = (
        select(fp.c.account_id, fp.c.first_paid, cohort_idx.label("cohort"))
        .where(fp.c.first_paid >= months[0], fp.c.first_paid < months[n])
        .subquery("members")
    )
    # size and MRR on the first paid day
    base_rows = calc.conn.execute(
        select(members.c.cohort, func.count().label("size"), func.coalesce(func.sum(func.coalesce(
            select(func.sum(rows_t.c.mrr)).where(rows_t.c.account_id == members.c.account_id,
                                                  _active_at(members.c.first_paid, rows_t)).scalar_subquery(), 0)), 0)
               .label("mrr"))
        .group_by(members.c.cohort)
    ).all()
    base = {int(r.cohort): (int(r.size), round(float(r.mrr), 2)) for r in base_rows}
    # month ends known by ``horizon``: index j is 00:00 of months[j]
    known = [j for j in range(2, n + max_k + 1) if months[j] <= horizon]
    cells: dict[tuple[int, int], tuple[int, float]] = {}
    if known and base:
        bounds = union_all(*[select(literal(j, Integer).label("j"), literal(months[j], Date).label("b"))
                             for j in known]).subquery("bounds")
        per_account = (
            select(members.c.account_id, members.c.cohort, bounds.c.j, func.sum(rows_t.c.mrr).label("m"))
            .select_from(members.join(rows_t, rows_t.c.account_id == members.c.account_id).join(bounds, true()))
            .where(bounds.c.j >= members.c.cohort + 2, bounds.c.j <= members.c.cohort + 1 + max_k,
                   _active_at(bounds.c.b, rows_t))
            .group_by(members.c.account_id, members.c.cohort, bounds.c.j)
            .subquery("per_account")
        )
        rows = calc.conn.execute(
            select(per_account.c.cohort, per_account.c.j,
                   func.sum(case((per_account.c.m > 0, 1), else_=0)).label("paying"),
                   func.sum(per_account.c.m).label("mrr"))
            .group_by(per_account.c.cohort, per_account.c.j)
        ).all()
        for r in rows:
            cells[(int(r.cohort), int(r.j))] = (int(r.paying), round(float(r.mrr or 0), 2))
    out = []
    for i in range(n):
        size, mrr0 = base.get(i, (0, 0.0))
        retention, mrr_retention, paying = [], [], []
        for k in range(1, max_k + 1):
            j = i + k + 1
            if months[j] > horizon:
                break
            count, mrr = cells.get((i, j), (0, 0.0))
            paying.append(count)
            retention.append(ratio(count, size))
            mrr_retention.append(ratio(mrr, mrr0))
        out.append({"cohort": months[i].strftime("%Y-%m"), "size": size, "mrr": mrr0, "paying": paying,
                    "retention": retention, "mrr_retention": mrr_retention})
    return out


def _cohort_value(calc: Calc, period: Period, filters: Filters) -> tuple[int, int, bool]:
    """Customers whose first paid day lies in the period, and how many of them pay
    at the end of the month after their cohort month; False when some of those
    month ends are not known yet."""
    first, last = month_start(period.start), month_start(period.last_day)
    table = cohort_table(calc, first, last, filters)
    horizon = as_of(calc)
    if first == period.start and period.end == add_months(last, 1):  # whole months: the table has it all
        size = sum(r["size"] for r in table)
        paying = sum(r["paying"][0] for r in table if r["paying"])
        known = all(r["paying"] or r["size"] == 0 for r in table)
        return paying, size, known and add_months(last, 2) <= horizon
    # a period of days: members whose first paid day is inside it, each at its own month end
    rows_t = _mrr_rows(calc)
    fp = first_paid_days(filters, rows_t is not s).subquery("fp")
    ends = [add_months(first, i + 2) for i in range((last.year - first.year) * 12 + last.month - first.month + 1)]
    check_day = case(*[(fp.c.first_paid < add_months(first, i + 1), literal(e, Date)) for i, e in enumerate(ends)])
    members = select(fp.c.account_id, check_day.label("check_day")) \
        .where(fp.c.first_paid >= period.start, fp.c.first_paid < period.end).subquery("members")
    size = calc.conn.execute(select(func.count()).select_from(members)).scalar_one()
    paying_accounts = (
        select(members.c.account_id)
        .select_from(members.join(rows_t, rows_t.c.account_id == members.c.account_id))
        .where(_active_at(members.c.check_day, rows_t))
        .group_by(members.c.account_id)
        .having(func.sum(rows_t.c.mrr) > 0)
        .subquery()
    )
    paying = calc.conn.execute(select(func.count()).select_from(paying_accounts)).scalar_one()
    return int(paying), int(size), ends[-1] <= horizon


def cohort_retention_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    paying, size, known = _cohort_value(calc, period, filters)
    table = cohort_table(calc, month_start(period.start), month_start(period.last_day), filters)
    value = ratio(paying, size) if known else None
    return Measurement(value, {"numerator": paying, "denominator": size, "known": known, "cohorts": table})
