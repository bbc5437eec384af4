"""What the sync tests share: writing an export file, reading tables back sorted, the
rejected rows and the usage roll-up as plain tuples."""

from __future__ import annotations

import textwrap
from pathlib import Path

from sqlalchemy import select

from metrics import schema


def write(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` (dedented) as the file ``name`` of an export folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def rows(engine, table, *columns) -> list[tuple]:
    """The rows of ``table`` (only ``columns`` when given), sorted."""
    cols = [table.c[c] for c in columns] if columns else list(table.c)
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(select(*cols)))


def rejected(engine) -> list[tuple]:
    """Every rejected row as (file, line, column, reason), sorted."""
    return rows(engine, schema.rejected_rows, "file", "line", "column_name", "reason")


def usage(engine) -> list[tuple]:
    """The usage roll-up as (account, user, day, events, seconds), sorted."""
    return rows(engine, schema.usage_daily, "account_id", "user_id", "day", "events", "seconds")
