"""Customer value (docs/metrics.md, "Value"): LTV, upsell rate, cross-sell rate and
the SaaS quick ratio, counted in SQL."""

from __future__ import annotations

import logging
from datetime import date
from typing import Callable

from sqlalchemy import and_, case, func, or_, select

from metrics import revenue_state, schema
from metrics.active import active_on
from metrics.calc import Calc, Measurement, ratio
from metrics.filters import Filters
from metrics.grouping import keyed
from metrics.periods import Period, add_months, month_start
from metrics.revenue import movements, movements_grouped, mrr_on

logger = logging.getLogger(__name__)

s = schema.subscriptions

LTV_MONTHS = 6


def monthly_churn(calc: Calc, last_month: date, months: int, filters: Filters) -> list[tuple[date, int, int]]:
    """Customer churn of each calendar month ``last_month - months + 1 .. last_month``:
    (month, churned, paying at the start), counted in one statement (the same counts
    as ``customer_churn_rate`` for each month). Each month is memoised, and one month
    more than asked is counted, so the previous period's LTV needs no second statement."""
    wanted = [add_months(last_month, i - months + 1) for i in range(months)]
    if any(not calc.has(("month_churn", m, filters)) for m in wanted):
        for month, churned, start in _monthly_churn(calc, last_month, months + 1, filters):
            calc.memo(("month_churn", month, filters), lambda c=churned, s=start: (c, s))
    return [(m, *calc.memo(("month_churn", m, filters), lambda: (0, 0))) for m in wanted]


def _monthly_churn(calc: Calc, last_month: date, months: int, filters: Filters) -> list[tuple[date, int, int]]:
    bounds = [add_months(last_month, i - months + 1) for i in range(months + 1)]
    cols = [func.round(func.sum(case((active_on(b), s.c.mrr), else_=0)), 2).label(f"m{i}")
            for i, b in enumerate(bounds)]
    if revenue_state.usable(calc):  # the movements of each month, read off the intervals built at sync time
        units = [Period(bounds[i], bounds[i + 1], "month") for i in range(months)]
        cells = revenue_state.movements(calc.conn, units, filters, None).get(None, {})
        return [(m.start, int(cells[i]["n_churn"]), int(cells[i]["customers_start"])) if i in cells else (m.start, 0, 0)
                for i, m in enumerate(units)]
    per_account = filters.restrict(
        # rows that ended by the first boundary add nothing to any boundary: skip them
        select(s.c.account_id, *cols)
        .where(s.c.start_date <= bounds[-1], or_(s.c.end_date.is_(None), s.c.end_date > bounds[0]))
        .group_by(s.c.account_id),
        s.c.account_id,
    ).subquery("per_account")
    c = per_account.c
    out_cols = []
    for i in range(months):
        out_cols.append(func.coalesce(func.sum(case((c[f"m{i}"] > 0, 1), else_=0)), 0).label(f"start{i}"))
        out_cols.append(func.coalesce(func.sum(case((and_(c[f"m{i}"] > 0, c[f"m{i + 1}"] <= 0), 1), else_=0)), 0)
                        .label(f"churn{i}"))
    row = calc.conn.execute(select(*out_cols)).mappings().one()
    return [(bounds[i], int(row[f"churn{i}"]), int(row[f"start{i}"])) for i in range(months)]


def ltv_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    mrr, customers = mrr_on(calc, period.end, filters)
    arpa = ratio(mrr, customers)
    months = monthly_churn(calc, month_start(period.last_day), LTV_MONTHS, filters)
    rates = [ratio(churned, start) for _, churned, start in months]
    defined = [r for r in rates if r is not None]
    mean_churn = sum(defined) / len(defined) if defined else None
    margin = calc.settings.gross_margin
    value = None
    if arpa is not None and mean_churn:  # zero churn: LTV is not defined, never infinite
        value = round(arpa / mean_churn * margin, 2)
    parts = {
        "numerator": None if arpa is None else round(arpa, 2), "denominator": mean_churn,
        "arpa": None if arpa is None else round(arpa, 2), "mrr": mrr, "paying_customers": customers,
        "mean_monthly_churn": mean_churn, "gross_margin": margin,
        "monthly_churn": [{"month": m.strftime("%Y-%m"), "churned": ch, "customers_start": st, "rate": r}
                          for (m, ch, st), r in zip(months, rates)],
        "as_of": period.end,
    }
    return Measurement(value, parts)


def _product_moves(calc: Calc, period: Period, filters: Filters) -> dict[str, int]:
    return calc.memo(("product_moves", period, filters), lambda: _product_moves_sql(calc, period, filters))


def _product_moves_sql(calc: Calc, period: Period, filters: Filters) -> dict[str, int]:
    """From the revenue state while it is fresh (a month without filters: the counts the sync stored;
    else the products whose MRR changed, ``revenue_state.product_moves``), else from subscriptions."""
    if revenue_state.usable(calc):
        upsell, cross_sell = revenue_state.product_moves(calc.conn, [period], filters)[0]
        row = {"upsell": upsell, "cross_sell": cross_sell}
    else:
        row = calc.conn.execute(_product_moves_stmt(period, filters, None)).mappings().one()
    return _product_moves_of(movements(calc, period, filters).customers_start, row)


def _product_moves_of(customers_start: int, row) -> dict[str, int]:
    """S is the movements' S (customer churn's), so the rates share churn's denominator by construction."""
    return {"customers_start": customers_start, "upsell": int(row["upsell"]) if row else 0,
            "cross_sell": int(row["cross_sell"]) if row else 0}


def _changed_accounts(period: Period):
    """The accounts with a subscription row starting or ending inside (start, end]: only there can a
    product's MRR at 00:00 of ``end`` differ from its MRR at 00:00 of ``start`` (``active_on``), so
    only they can upsell or cross-sell, and the statement reads their rows instead of every account's."""
    inside = lambda col: and_(col > period.start, col <= period.end)  # noqa: E731
    return select(s.c.account_id).where(or_(inside(s.c.start_date), inside(s.c.end_date)))


def _product_moves_stmt(period: Period, filters: Filters, by: str | None):
    """Per group (the whole when ``by`` is None): the accounts of S that upsold, and that cross-sold."""
    per_product = filters.restrict(
        select(
            s.c.account_id, s.c.product,
            func.round(func.sum(case((active_on(period.start), s.c.mrr), else_=0)), 2).label("m0"),
            func.round(func.sum(case((active_on(period.end), s.c.mrr), else_=0)), 2).label("m1"),
        ).where(s.c.account_id.in_(_changed_accounts(period)),
                s.c.start_date <= period.end, or_(s.c.end_date.is_(None), s.c.end_date > period.start))
        .group_by(s.c.account_id, s.c.product),
        s.c.account_id,
    ).subquery("per_product")
    p = per_product.c
    per_account = select(
        p.account_id,
        func.sum(p.m0).label("m0"),
        func.max(case((and_(p.m0 > 0, p.m1 > p.m0), 1), else_=0)).label("upsell"),
        func.max(case((and_(p.m0 <= 0, p.m1 > 0), 1), else_=0)).label("cross_sell"),
    ).group_by(p.account_id).subquery("per_account")
    a = per_account.c
    in_s = a.m0 > 0
    source, key = keyed(per_account, by)
    stmt = select(
        key.label("key"),
        func.coalesce(func.sum(case((in_s, a.upsell), else_=0)), 0).label("upsell"),
        func.coalesce(func.sum(case((in_s, a.cross_sell), else_=0)), 0).label("cross_sell"),
    ).select_from(source)
    return stmt.group_by(key) if by is not None else stmt


def product_moves_grouped(calc: Calc, period: Period, filters: Filters, by: str,
                          scope: Callable[[str | None], Filters]) -> set[str | None]:
    """Upsell and cross-sell counts of every group of ``by`` in one statement (S per group from the
    movements, counted for every group at once), memoised as ``_product_moves(calc, period,
    scope(key))``; returns the groups seen."""
    groups = movements_grouped(calc, [period], filters, by, scope)
    rows = {row["key"]: row for row in calc.conn.execute(_product_moves_stmt(period, filters, by)).mappings()}
    for key in groups | set(rows):
        value = _product_moves_of(movements(calc, period, scope(key)).customers_start, rows.get(key))
        calc.memo(("product_moves", period, scope(key)), lambda v=value: v)
    return groups | set(rows)


def upsell_rate_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    m = _product_moves(calc, period, filters)
    return Measurement(ratio(m["upsell"], m["customers_start"]),
                       {"numerator": m["upsell"], "denominator": m["customers_start"],
                        "upsell_accounts": m["upsell"], "customers_start": m["customers_start"]})


def cross_sell_rate_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    m = _product_moves(calc, period, filters)
    return Measurement(ratio(m["cross_sell"], m["customers_start"]),
                       {"numerator": m["cross_sell"], "denominator": m["customers_start"],
                        "cross_sell_accounts": m["cross_sell"], "customers_start": m["customers_start"]})


def quick_ratio_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    m = movements(calc, period, filters)
    a = m.amounts
    gained = round(a["new"] + a["expansion"], 2)
    lost = round(a["churn"] + a["contraction"], 2)
    return Measurement(ratio(gained, lost),
                       {"numerator": gained, "denominator": lost, "new": a["new"], "expansion": a["expansion"],
                        "churn": a["churn"], "contraction": a["contraction"], "reactivation": a["reactivation"]})
