"""What the table loaders of one sync run share (``RunState``): the connection, the run's id and zone,
the accounts known so far, the rejected rows waiting to be stored, and the progress callback."""

from __future__ import annotations

from typing import Any, Callable
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select

from metrics import schema

Progress = Callable[[str, int, float], None]  # (table, rows read so far, seconds since the table started)

REJECT_BATCH = 1000


def storable(text: str) -> str:
    """``text`` as a column may hold it: a NUL (refused by PostgreSQL) written out as ``\\x00``."""
    return text.replace("\x00", "\\x00")


class RunState:
    """What the table loaders share during one run."""

    def __init__(self, conn: Connection, sync_id: int, tz: ZoneInfo, full_refresh: bool, progress: Progress | None,
                 force: bool = False, max_delete_share: float = 0.2):
        self.conn = conn
        self.sync_id = sync_id
        self.tz = tz
        self.full_refresh = full_refresh
        self.force = force
        self.max_delete_share = max_delete_share
        self.progress = progress
        self.known_accounts: set[str] = set()
        self._rejected: list[dict] = []

    def reload_accounts(self) -> None:
        self.known_accounts = set(self.conn.execute(select(schema.accounts.c.account_id)).scalars())

    def reject(self, table: str, file: str | None, line: int | None, column: str | None, reason: str, raw: Any) -> None:
        if raw is not None and not isinstance(raw, str):
            raw = ",".join("" if v is None else str(v)[:1001] for v in raw)
        self._rejected.append(
            {
                "sync_id": self.sync_id,
                "table_name": table,
                "file": file,
                "line": line,
                "column_name": storable(column[:128]) if column else column,
                "reason": storable(reason[:2000]),
                "raw": storable(raw[:1000]) if raw else None,
            }
        )
        if len(self._rejected) >= REJECT_BATCH:
            self.flush_rejected()

    def flush_rejected(self) -> None:
        if self._rejected:
            self.conn.execute(insert(schema.rejected_rows), self._rejected)
            self._rejected = []

    def report(self, table: str, rows: int, seconds: float) -> None:
        if self.progress is not None:
            self.progress(table, rows, seconds)
