"""When a subscription counts: the one definition of "active on day d".

docs/metrics.md, "Revenue state": a subscription row is active on day ``d`` when
``start_date <= d`` and (``end_date`` is empty or ``d < end_date``); ``end_date``
is exclusive. Every query that asks what an account paid on a day uses this.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Table, and_, or_
from sqlalchemy.sql.elements import ColumnElement

from metrics import schema


def active_on(day: date | ColumnElement, table: Table = schema.subscriptions) -> ColumnElement[bool]:
    """SQL condition: the row of ``table`` (start_date, end_date) is active on ``day``."""
    return and_(table.c.start_date <= day, or_(table.c.end_date.is_(None), table.c.end_date > day))
