"""State derived at sync time is read only while it matches the data: its stamp.

A piece of derived state (the revenue state, the usage state) is written by an after-sync step in
the sync's transaction, with a stamp of what the data looked like: a few values that any sync,
insert or delete of the rows it was built from changes (the latest sync that did not fail, counts,
first and last days), read with index lookups in one statement. An answer checks the stored stamp
against the data's once per ``Calc`` and reads the state only when they match; otherwise it counts
from the raw tables, the same numbers, only slower. ``forget`` marks the state stale (a tool that
rewrites rows in place, which no stamp sees, calls it).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Callable

from sqlalchemy import Connection, Table, func, inspect, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import String

from metrics import schema
from metrics.db import set_meta


class writes_of(ColumnElement):  # noqa: N801 - reads as the SQL function it stands for
    """A stamp part that changes whenever ``table`` is written: on PostgreSQL with the write counter
    (metrics/db.py ``count_writes``), the count of statements that wrote it (one row read; an update
    in place counts too); elsewhere, or where the trigger is missing, its row count."""

    type = String()
    inherit_cache = True

    def __init__(self, table: Table):
        self.table = table

    @property
    def counted(self):
        return select(func.count()).select_from(self.table).scalar_subquery()


@compiles(writes_of)
def _rows(element: writes_of, compiler, **kw) -> str:
    return compiler.process(element.counted, **kw)


@compiles(writes_of, "postgresql")
def _writes(element: writes_of, compiler, **kw) -> str:
    name = element.table.name  # a schema table's name: constant, never user input
    w = schema.writes
    written = select(func.coalesce(func.max(w.c.n), 0)).where(w.c.tbl == name).scalar_subquery()
    # the trigger is looked up in the catalog (one index probe); without it the table is counted
    return (f"CASE WHEN EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{schema.write_trigger(name)}' "
            f"AND tgrelid = to_regclass('{name}')) THEN 'w' || CAST({compiler.process(written, **kw)} AS TEXT) "
            f"ELSE 'c' || CAST({compiler.process(element.counted, **kw)} AS TEXT) END")


def _text(value) -> str:
    """One stamp value as text, the same on every engine (a day is its ISO date, however it is read)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and len(value) >= 10 and value[4] == "-" and value[7] == "-":
        return value[:10]
    return str(value)


class DerivedStamp:
    """The stamp of one piece of derived state, kept in ``csbot_meta`` under ``key``.

    ``parts`` gives the scalar subqueries whose values make the stamp; ``version`` changes when what
    the state holds changes (an older build is then stale); ``table`` is one of its tables (a
    database made without them, as some tests make on DuckDB, is never fresh)."""

    def __init__(self, key: str, version: str, table: str, parts: Callable[[], list]):
        self.key = key
        self.version = version
        self.table = table
        self.parts = parts
        self._use_key = (f"{key}_usable",)

    def _of(self, values) -> str:
        return "|".join([self.version, *(_text(v) for v in values)])

    def current(self, conn: Connection) -> str:
        """The stamp of the data as it is now."""
        return self._of(conn.execute(select(*self.parts())).one())

    def write(self, conn: Connection) -> None:
        """Record that the state was just built from the data as it is now (in the build's transaction)."""
        set_meta(conn, self.key, self.current(conn))

    def stored(self, conn: Connection) -> str | None:
        return conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == self.key)).scalar()

    def forget(self, conn: Connection) -> None:
        """Mark the state stale: answers count from the raw tables until the next build."""
        set_meta(conn, self.key, "")

    def is_fresh(self, conn: Connection) -> bool:
        """Whether the state was built from the data as it is now (one statement)."""
        if conn.dialect.name not in ("sqlite", "postgresql") and not inspect(conn).has_table(self.table):
            return False
        stored = select(schema.meta.c.value).where(schema.meta.c.key == self.key).scalar_subquery()
        value, *parts = conn.execute(select(stored, *self.parts())).one()
        return bool(value) and value == self._of(parts)

    def usable(self, calc) -> bool:
        """Whether this answer reads the state (checked once per ``Calc``)."""
        return calc.memo(self._use_key, lambda: self.is_fresh(calc.conn))

    def use(self, calc, derived: bool) -> None:
        """Make ``calc`` read (True: only if fresh) or not read the state: for tests and benchmarks."""
        calc._memo[self._use_key] = derived and self.is_fresh(calc.conn)
