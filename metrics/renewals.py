"""Renewals coming up: the accounts whose renewal date falls in the next days,
for the App Home and the daily digest. The owner rule is ``Filters``' (the one
``owner:`` filter of every metric)."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import Connection, and_, func, select

from metrics import schema
from metrics.filters import Filters

logger = logging.getLogger(__name__)


def renewals(conn: Connection, today: date, days: int, filters: Filters, limit: int | None = 10) -> tuple[list[dict], int]:
    """Accounts renewing in [today, today + days) that pass ``filters``, soonest first
    (then by name), at most ``limit`` (None: all): dicts of account_id, name, renewal_date, owner,
    plan; and how many there are in all."""
    a = schema.accounts
    cond = and_(a.c.renewal_date >= today, a.c.renewal_date < today + timedelta(days=days))
    extra = filters.account_condition()
    if extra is not None:
        cond = and_(cond, extra)
    rows = conn.execute(select(a.c.account_id, a.c.name, a.c.renewal_date, a.c.owner, a.c.plan).where(cond)
                        .order_by(a.c.renewal_date, a.c.name).limit(limit)).mappings().all()
    total = conn.execute(select(func.count()).select_from(a).where(cond)).scalar_one()
    return [dict(r) for r in rows], int(total)
