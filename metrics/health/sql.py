"""The SQL plumbing the health rooms share: chunked ``IN`` lists and per-account MRR and names
for a set of ids."""

from __future__ import annotations

from datetime import date
from typing import Iterable, Sequence

from sqlalchemy import Connection, func, select

from metrics import schema
from metrics.active import active_on

IN_CHUNK = 500  # account ids per IN (...) list


def chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    """``ids`` in slices short enough for one ``IN (...)`` list."""
    for i in range(0, len(ids), IN_CHUNK):
        yield ids[i:i + IN_CHUNK]


def dict_rows(result) -> list[dict]:
    """A result's rows as plain dicts (the column names read once, not per row: a whole book
    is tens of thousands of rows)."""
    keys = tuple(result.keys())
    return [dict(zip(keys, row)) for row in result.all()]


def by_account(conn: Connection, stmt, column, ids: Sequence[str] | None) -> list[dict]:
    """Run ``stmt`` for every account (ids None) or for the given ids, chunked; rows as dicts."""
    if ids is None:
        return dict_rows(conn.execute(stmt))
    rows: list[dict] = []
    for chunk in chunks(list(ids)):
        rows.extend(dict_rows(conn.execute(stmt.where(column.in_(chunk)))))
    return rows


def mrr_on(conn: Connection, day: date, ids: Sequence[str]) -> dict[str, float]:
    """Per account of ``ids``: the MRR of its subscriptions active on ``day``."""
    s = schema.subscriptions
    out: dict[str, float] = {}
    for chunk in chunks(list(ids)):
        stmt = select(s.c.account_id, func.sum(s.c.mrr)).where(active_on(day), s.c.account_id.in_(chunk)).group_by(
            s.c.account_id)
        out.update({r[0]: float(r[1] or 0) for r in conn.execute(stmt)})
    return out


def account_mrr_on(day: date, derived: bool):
    """Each account's MRR at 00:00 of ``day`` as a subquery ``mrr_on_day`` (account_id, mrr), for a
    whole book's snapshots to join: the one revenue interval holding ``day`` when the revenue state is
    fresh (``derived``: the same MRR, read off an index), else its active subscriptions summed."""
    if derived:
        iv = schema.account_mrr_intervals
        return select(iv.c.account_id, iv.c.mrr).where(iv.c.start_date <= day, iv.c.end_date > day) \
            .subquery("mrr_on_day")
    s = schema.subscriptions
    return select(s.c.account_id, func.sum(s.c.mrr).label("mrr")).where(active_on(day)).group_by(
        s.c.account_id).subquery("mrr_on_day")


def account_names(conn: Connection, ids: Sequence[str]) -> dict[str, dict]:
    """Per account of ``ids``: its row's name, owner and renewal date."""
    a = schema.accounts
    out: dict[str, dict] = {}
    stmt = select(a.c.account_id, a.c.name, a.c.owner, a.c.renewal_date)
    if len(ids) > IN_CHUNK:
        wanted = set(ids)
        for r in conn.execute(stmt).mappings():
            if r["account_id"] in wanted:
                out[r["account_id"]] = dict(r)
        return out
    for r in conn.execute(stmt.where(a.c.account_id.in_(list(ids)))).mappings():
        out[r["account_id"]] = dict(r)
    return out
