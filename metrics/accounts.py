"""Reading the accounts table: the account references a name lookup works on
(``AccountRef``), and how many accounts pass a filter (a CSM's book)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, func, or_, select, text

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


# The accounts table's columns a question may filter or break down by (``commands.query.DIMENSIONS``).
DIMENSION_COLUMNS = ("segment", "plan", "region", "touch_model", "owner")


def dimension_values(conn: Connection) -> dict[str, list[str]]:
    """The distinct values of each dimension column in the data, in one statement:
    ``{"segment": ["enterprise", "smb"], "owner": ["alice@example.com", ...], ...}`` (sorted, no NULL or blank).

    Every question reads this (the words it may use), so it walks each column's index from one value
    to the next (``WITH RECURSIVE``: one look-up per distinct value) instead of grouping the whole
    book."""
    parts = []
    for name in DIMENSION_COLUMNS:  # constant column names, never user input
        walk = f"walk_{name}"
        parts.append(
            f"{walk}(v) AS (SELECT min({name}) FROM accounts UNION ALL "
            f"SELECT (SELECT min({name}) FROM accounts WHERE {name} > {walk}.v) FROM {walk} WHERE {walk}.v IS NOT NULL)")
    sql = ("WITH RECURSIVE " + ", ".join(parts) + " "
           + " UNION ALL ".join(f"SELECT '{name}' AS dim, v FROM walk_{name} WHERE v IS NOT NULL" for name in DIMENSION_COLUMNS))
    out: dict[str, list[str]] = {name: [] for name in DIMENSION_COLUMNS}
    for dim, value in conn.execute(text(sql)):
        if value is not None and str(value).strip():
            out[dim].append(str(value))
    return {name: sorted(values) for name, values in out.items()}
