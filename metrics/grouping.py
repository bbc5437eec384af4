"""The group an account falls in when a metric is split by an account dimension
(``metrics/breakdown.py``): the SQL key every grouped statement uses, and the one
filter that selects the accounts with no value.

The key is the dimension's value in lower case, NULL when the account has none (NULL
or empty): the same accounts ``Filters(segment="Enterprise")`` selects (filters
compare lower-cased values). A grouped statement joins ``accounts`` with an OUTER
join, so every row of the whole lands in exactly one group and the groups add up.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, literal, literal_column, or_, select

from metrics import schema
from metrics.filters import Filters

DIMENSIONS = ("segment", "plan", "region", "owner", "touch_model")

a = schema.accounts


def group_key(by: str | None, accounts=schema.accounts) -> ColumnElement:
    """The SQL group key of ``by`` (NULL for no value); a constant NULL when ``by`` is None (the whole).
    No bound parameter in it, so PostgreSQL accepts the same expression in SELECT and GROUP BY."""
    if by is None:
        return literal(None)
    return func.nullif(func.lower(accounts.c[by]), literal_column("''"))


def keyed(subquery, by: str | None):
    """(FROM clause, key): ``subquery`` (with an ``account_id`` column) outer-joined to the accounts
    when grouping, and the group key to select and GROUP BY."""
    if by is None:
        return subquery, group_key(None)
    return subquery.outerjoin(a, a.c.account_id == subquery.c.account_id), group_key(by)


def labels(conn, by: str) -> dict[str, str]:
    """Each group key's value as stored (the first in sort order when it is stored in several cases)."""
    key = group_key(by)
    rows = conn.execute(select(key, func.min(a.c[by])).where(key.is_not(None)).group_by(key)).all()
    return {r[0]: r[1] for r in rows}


@dataclass(frozen=True)
class MissingValue(Filters):
    """``Filters`` plus: the account has no ``missing`` (NULL or empty). The filter of the breakdown's
    "(none)" group, so that the group's measurement is memoised under a key of its own."""

    missing: str = ""

    def describe(self) -> str:
        base = Filters.describe(self)
        return f"{base} {self.missing}:(none)".strip()

    def account_condition(self, accounts=schema.accounts) -> ColumnElement[bool] | None:
        col = accounts.c[self.missing]
        none = or_(col.is_(None), col == "")
        base = Filters.account_condition(self, accounts)
        return none if base is None else and_(base, none)


def filters_for(filters: Filters, by: str, value: str | None) -> Filters:
    """The filters of one group: ``filters`` with ``by`` set to ``value`` (None: the accounts with no value)."""
    from dataclasses import fields, replace

    plain = {f.name: getattr(filters, f.name) for f in fields(Filters)}
    if value is None:
        return MissingValue(**plain, missing=by)
    return replace(Filters(**plain), **{by: (value,) if by == "owner" else value})
