"""Reading the accounts table: the account references a name lookup works on
(``AccountRef``), and how many accounts pass a filter (a CSM's book)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, func, or_, select

from metrics import schema
from metrics.filters import Filters

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccountRef:
    account_id: str
    name: str


def accounts_by_id_or_name(conn: Connection, query: str) -> list[AccountRef]:
    """Accounts whose id is ``query`` or whose name is ``query`` ignoring case."""
    a = schema.accounts
    rows = conn.execute(select(a.c.account_id, a.c.name).where(
        or_(a.c.account_id == query, func.lower(a.c.name) == query.lower()))).all()
    return [AccountRef(r[0], r[1]) for r in rows]


def all_accounts(conn: Connection) -> list[AccountRef]:
    """Every account's id and name."""
    a = schema.accounts
    return [AccountRef(r[0], r[1]) for r in conn.execute(select(a.c.account_id, a.c.name))]


def count_accounts(conn: Connection, filters: Filters) -> int:
    """How many accounts pass ``filters`` (every account when there are none)."""
    stmt = select(func.count()).select_from(schema.accounts)
    cond = filters.account_condition()
    if cond is not None:
        stmt = stmt.where(cond)
    return int(conn.execute(stmt).scalar_one())


def dimension_values(conn: Connection) -> dict[str, list[str]]:
    """For each of segment, plan, region, touch_model and owner: the sorted distinct non-empty values."""
    a = schema.accounts
    out: dict[str, list[str]] = {}
    for name in ("segment", "plan", "region", "touch_model", "owner"):
        col = a.c[name]
        rows = conn.execute(select(col).where(col.is_not(None), col != "").distinct())
        out[name] = sorted(r[0] for r in rows)
    return out
