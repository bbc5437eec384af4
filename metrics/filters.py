"""Account filters shared by every metric: segment, touch model, owner, plan, region.

``FILTER_KEYS`` is the one list of the keys a person types (``segment:enterprise``,
``--filter touch=high``); ``TYPED_KEYS`` and ``Filters.describe`` derive from it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select

from metrics import schema

# What a person types -> the ``Filters`` field it sets. The first key of a field is how it is written back.
FILTER_KEYS = {
    "segment": "segment",
    "touch": "touch_model",
    "touch_model": "touch_model",
    "owner": "owner",
    "plan": "plan",
    "region": "region",
}


@dataclass(frozen=True)
class Filters:
    segment: str | None = None
    touch_model: str | None = None
    # The owner as every identifier we know for them (Slack user ID, e-mail, name):
    # an account matches when its owner equals any of them.
    owner: tuple[str, ...] = ()
    plan: str | None = None
    region: str | None = None

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    def describe(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value:
                key = KEY_FOR_FIELD[f.name]
                parts.append(f"{key}:{value[0] if isinstance(value, tuple) else value}")
        return " ".join(parts)

    def account_condition(self, accounts=schema.accounts) -> ColumnElement[bool] | None:
        """A WHERE condition on the accounts table, or None when nothing is filtered."""
        conds: list[ColumnElement[bool]] = []
        for name in ("segment", "touch_model", "plan", "region"):
            value = getattr(self, name)
            if value:
                conds.append(func.lower(accounts.c[name]) == value.lower())
        if self.owner:
            owner_conds = []
            for ident in self.owner:
                ident = ident.lower().lstrip("@")
                owner_conds.append(func.lower(accounts.c.owner) == ident)
                if "@" not in ident:  # "alice" also matches alice@example.com
                    owner_conds.append(func.lower(accounts.c.owner).like(f"{ident}@%"))
            conds.append(or_(*owner_conds) if owner_conds else false())
        return and_(*conds) if conds else None

    def restrict(self, stmt: Select, account_id_column) -> Select:
        """Keep only rows whose account passes the filters."""
        cond = self.account_condition()
        if cond is None:
            return stmt
        return stmt.where(account_id_column.in_(select(schema.accounts.c.account_id).where(cond)))


# Each field's first key in FILTER_KEYS ("touch", not "touch_model").
KEY_FOR_FIELD: dict[str, str] = {field: key for key, field in reversed(FILTER_KEYS.items())}
# The keys as a person types them, in the order of the fields: segment, touch, owner, plan, region.
TYPED_KEYS: tuple[str, ...] = tuple(KEY_FOR_FIELD[f.name] for f in fields(Filters))

NO_FILTERS = Filters()
