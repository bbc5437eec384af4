"""Voice of the customer (docs/metrics.md): NPS and CSAT, counted in SQL.

NPS keeps each respondent's latest answer within the period (a window
function, available on SQLite 3.25+, PostgreSQL and DuckDB). A response
without a respondent is its own respondent.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime, time
from typing import Callable

from sqlalchemy import and_, case, func, select

from metrics import schema
from metrics.calc import Calc, Measurement, ratio
from metrics.filters import Filters
from metrics.grouping import keyed
from metrics.periods import Period, add_months, month_start, quarter_start

logger = logging.getLogger(__name__)

n = schema.nps_responses
c = schema.csat_responses


def _bounds(period: Period) -> tuple[datetime, datetime]:
    return datetime.combine(period.start, time()), datetime.combine(period.end, time())


def nps_counts(calc: Calc, period: Period, filters: Filters) -> dict[str, int]:
    return calc.memo(("nps_counts", period, filters), lambda: _nps_counts(calc, period, filters))


def _nps_counts(calc: Calc, period: Period, filters: Filters) -> dict[str, int]:
    start, end = _bounds(period)
    who = func.coalesce(n.c.respondent, n.c.response_id)
    ranked = select(
        n.c.score,
        func.row_number().over(partition_by=(n.c.account_id, who),
                               order_by=(n.c.responded_at.desc(), n.c.response_id.desc())).label("rn"),
    ).where(n.c.responded_at >= start, n.c.responded_at < end, n.c.score >= 0, n.c.score <= 10)
    ranked = filters.restrict(ranked, n.c.account_id).subquery("ranked")
    latest = ranked.c
    row = calc.conn.execute(
        select(
            func.count().label("responses"),
            func.coalesce(func.sum(case((latest.score >= 9, 1), else_=0)), 0).label("promoters"),
            func.coalesce(func.sum(case((and_(latest.score >= 7, latest.score <= 8), 1), else_=0)), 0)
            .label("passives"),
            func.coalesce(func.sum(case((latest.score <= 6, 1), else_=0)), 0).label("detractors"),
        ).where(latest.rn == 1)
    ).mappings().one()
    return {k: int(v) for k, v in row.items()}


def nps_value(promoters: int, detractors: int, responses: int) -> int | None:
    if not responses:
        return None
    return round(100 * (promoters - detractors) / responses)


def nps_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    k = nps_counts(calc, period, filters)
    value = nps_value(k["promoters"], k["detractors"], k["responses"])
    return Measurement(value, {**k, "numerator": k["promoters"] - k["detractors"], "denominator": k["responses"],
                               "promoter_share": ratio(k["promoters"], k["responses"]),
                               "detractor_share": ratio(k["detractors"], k["responses"])})


def _csat_columns():
    return [
        func.count().label("responses"),
        func.coalesce(func.sum(case((c.c.score >= 4, 1), else_=0)), 0).label("satisfied"),
        func.coalesce(func.sum(c.c.score), 0).label("total"),
        *[func.coalesce(func.sum(case((c.c.score == k, 1), else_=0)), 0).label(f"s{k}") for k in range(1, 6)],
    ]


def _csat_in(period: Period):
    start, end = _bounds(period)
    return and_(c.c.responded_at >= start, c.c.responded_at < end, c.c.score >= 1, c.c.score <= 5)


def _csat_counts(row) -> dict[str, int]:
    return {k: int(row[k]) for k in ("responses", "satisfied", "total", "s1", "s2", "s3", "s4", "s5")}


def csat_counts(calc: Calc, period: Period, filters: Filters) -> dict[str, int]:
    def compute() -> dict[str, int]:
        stmt = select(*_csat_columns()).where(_csat_in(period))
        return _csat_counts(calc.conn.execute(filters.restrict(stmt, c.c.account_id)).mappings().one())

    return calc.memo(("csat_counts", period, filters), compute)


def csat_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    row = csat_counts(calc, period, filters)
    responses, satisfied = int(row["responses"]), int(row["satisfied"])
    mean = ratio(int(row["total"]), responses)
    share = ratio(satisfied, responses)
    return Measurement(None if share is None else share * 100,
                       {"numerator": satisfied, "denominator": responses, "satisfied": satisfied,
                        "responses": responses, "mean": None if mean is None else round(mean, 4),
                        "distribution": {str(k): int(row[f"s{k}"]) for k in range(1, 6)}})


def latest_nps_period(calc: Calc, period: Period, filters: Filters) -> Period | None:
    """The latest period of the same kind as ``period``, before it, that holds NPS answers in scope
    (for an answer that falls back when ``period`` has none); None when there are none before it.
    A month, quarter or year is the whole calendar unit holding the latest answer."""
    start, _ = _bounds(period)
    stmt = select(func.max(n.c.responded_at)).where(n.c.responded_at < start, n.c.score >= 0, n.c.score <= 10)
    latest = calc.conn.execute(filters.restrict(stmt, n.c.account_id)).scalar_one()
    if latest is None:
        return None
    day = latest.date() if isinstance(latest, datetime) else date.fromisoformat(str(latest)[:10])
    step = {"month": 1, "quarter": 3, "year": 12}.get(period.grain)
    if step:
        first = {1: month_start(day), 3: quarter_start(day), 12: date(day.year, 1, 1)}[step]
        return Period(first, add_months(first, step), period.grain)
    found = replace(period, to_date=False).previous()
    while found.start > day:
        found = found.previous()
    return found


# ---- per group (breakdowns) ------------------------------------------------------------

def nps_grouped(calc: Calc, period: Period, filters: Filters, by: str,
                scope: Callable[[str | None], Filters]) -> set[str | None]:
    """The NPS counts of every group of ``by`` in one statement, memoised as ``nps_counts(calc,
    period, scope(key))``; returns the groups seen. A respondent belongs to one account, so the
    groups' latest answers add up to the whole's."""
    start, end = _bounds(period)
    who = func.coalesce(n.c.respondent, n.c.response_id)
    ranked = select(
        n.c.account_id, n.c.score,
        func.row_number().over(partition_by=(n.c.account_id, who),
                               order_by=(n.c.responded_at.desc(), n.c.response_id.desc())).label("rn"),
    ).where(n.c.responded_at >= start, n.c.responded_at < end, n.c.score >= 0, n.c.score <= 10)
    ranked = filters.restrict(ranked, n.c.account_id).subquery("ranked")
    latest = ranked.c
    source, key = keyed(ranked, by)
    rows = calc.conn.execute(
        select(
            key.label("key"),
            func.count().label("responses"),
            func.coalesce(func.sum(case((latest.score >= 9, 1), else_=0)), 0).label("promoters"),
            func.coalesce(func.sum(case((and_(latest.score >= 7, latest.score <= 8), 1), else_=0)), 0)
            .label("passives"),
            func.coalesce(func.sum(case((latest.score <= 6, 1), else_=0)), 0).label("detractors"),
        ).select_from(source).where(latest.rn == 1).group_by(key)
    ).mappings().all()
    for row in rows:
        counts = {k: int(row[k]) for k in ("responses", "promoters", "passives", "detractors")}
        calc.memo(("nps_counts", period, scope(row["key"])), lambda v=counts: v)
    return {row["key"] for row in rows}


def csat_grouped(calc: Calc, period: Period, filters: Filters, by: str,
                 scope: Callable[[str | None], Filters]) -> set[str | None]:
    """The CSAT counts of every group of ``by`` in one statement, memoised as ``csat_counts``."""
    answers = filters.restrict(select(c.c.account_id, c.c.score).where(_csat_in(period)), c.c.account_id) \
        .subquery("answers")
    source, key = keyed(answers, by)
    a = answers.c
    rows = calc.conn.execute(select(
        key.label("key"),
        func.count().label("responses"),
        func.coalesce(func.sum(case((a.score >= 4, 1), else_=0)), 0).label("satisfied"),
        func.coalesce(func.sum(a.score), 0).label("total"),
        *[func.coalesce(func.sum(case((a.score == k, 1), else_=0)), 0).label(f"s{k}") for k in range(1, 6)],
    ).select_from(source).group_by(key)).mappings().all()
    for row in rows:
        calc.memo(("csat_counts", period, scope(row["key"])), lambda v=_csat_counts(row): v)
    return {row["key"] for row in rows}
