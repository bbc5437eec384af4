"""What each file of the data contract must hold: table specs, load order, row rules.

One ``TableSpec`` per contract file: its columns (required or not), how each
value is parsed and checked (``metrics.sync.values``), the key a row is replaced
by, and the checks that look at two columns at once (an end before its start).
``LOAD_ORDER`` puts accounts first so every other file can reference the
accounts of the same run; ``header_problem`` says why a whole file is refused (a
missing required column, or a header close to a contract column: a typo such as
``end_dat`` would otherwise silently leave every end date empty) and
``unknown_columns`` lists the columns that are not in the contract (reported).
The reasons are stored in ``rejected_rows`` (data, in English).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from rapidfuzz.distance import OSA
from sqlalchemy import Table

from metrics import schema
from metrics.sync.values import (
    parse_choice,
    parse_date,
    parse_int,
    parse_money,
    parse_text,
)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    parse: Callable[[Any], Any] | None  # None: a timestamp (parser depends on the workspace zone)
    required: bool = False
    # An optional value that cannot be read is dropped (stored empty, reported) and its row kept,
    # unless empty has a meaning of its own (no end date = still running): then the row is rejected.
    droppable: bool = True


@dataclass(frozen=True)
class TableSpec:
    name: str  # contract file name without extension
    table: Table
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]  # columns of the stored primary key
    checks: tuple[tuple[str, str, str], ...] = ()  # (later, earlier, column reported): later must not precede earlier
    references_accounts: bool = True
    extra_to_attributes: bool = False
    optional_key_column: str | None = None  # subscription_id: when empty, key is built from other columns
    contract_only: frozenset[str] = field(default_factory=frozenset)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


_ID = parse_text(64)
_LONG_ID = parse_text(255)

ACCOUNTS = TableSpec(
    name="accounts",
    table=schema.accounts,
    columns=(
        ColumnSpec("account_id", _ID, True),
        ColumnSpec("name", parse_text(255), True),
        ColumnSpec("plan", parse_text(64)),
        ColumnSpec("segment", parse_text(64)),
        ColumnSpec("touch_model", parse_choice(("high", "low", "tech", "community"))),
        ColumnSpec("owner", parse_text(255)),
        ColumnSpec("region", parse_text(64)),
        ColumnSpec("industry", parse_text(128)),
        ColumnSpec("seats", parse_int(0, None, "seats")),
        ColumnSpec("renewal_date", parse_date),
        ColumnSpec("created_at", None),
    ),
    key=("account_id",),
    references_accounts=False,
    extra_to_attributes=True,
)

SUBSCRIPTIONS = TableSpec(
    name="subscriptions",
    table=schema.subscriptions,
    columns=(
        ColumnSpec("subscription_id", _LONG_ID, droppable=False),
        ColumnSpec("account_id", _ID, True),
        ColumnSpec("product", parse_text(128), True),
        ColumnSpec("start_date", parse_date, True),
        ColumnSpec("end_date", parse_date, droppable=False),
        ColumnSpec("mrr", parse_money(), True),
        ColumnSpec("quantity", parse_int(0, None, "quantity")),
        ColumnSpec("bill_period_months", parse_int(1, 120, "bill_period_months")),
        ColumnSpec("discount", parse_money(allow_negative=False)),
    ),
    key=("subscription_id",),
    checks=(("end_date", "start_date", "end_date"),),
    optional_key_column="subscription_id",
)

NPS = TableSpec(
    name="nps",
    table=schema.nps_responses,
    columns=(
        ColumnSpec("response_id", _LONG_ID, True),
        ColumnSpec("account_id", _ID, True),
        ColumnSpec("respondent", parse_text(255)),
        ColumnSpec("score", parse_int(0, 10, "NPS score"), True),
        ColumnSpec("responded_at", None, True),
        ColumnSpec("comment", parse_text(20000)),
    ),
    key=("response_id",),
)

CSAT = TableSpec(
    name="csat",
    table=schema.csat_responses,
    columns=(
        ColumnSpec("response_id", _LONG_ID, True),
        ColumnSpec("account_id", _ID, True),
        ColumnSpec("score", parse_int(1, 5, "CSAT score"), True),
        ColumnSpec("responded_at", None, True),
        ColumnSpec("ticket_id", _LONG_ID),
        ColumnSpec("comment", parse_text(20000)),
    ),
    key=("response_id",),
)

ONBOARDING = TableSpec(
    name="onboarding",
    table=schema.onboarding,
    columns=(
        ColumnSpec("account_id", _ID, True),
        ColumnSpec("milestone", parse_text(64), True),
        ColumnSpec("completed_at", None, True),
    ),
    key=("account_id", "milestone"),
)

TICKETS = TableSpec(
    name="tickets",
    table=schema.tickets,
    columns=(
        ColumnSpec("ticket_id", _LONG_ID, True),
        ColumnSpec("account_id", _ID, True),
        ColumnSpec("opened_at", None, True),
        ColumnSpec("closed_at", None, droppable=False),
        ColumnSpec("priority", parse_choice(("low", "normal", "high", "urgent"))),
        ColumnSpec("status", parse_text(32)),
        ColumnSpec("subject", parse_text(20000)),
    ),
    key=("ticket_id",),
    checks=(("closed_at", "opened_at", "closed_at"),),
)

EVENT_REQUIRED = ("account_id", "user_id", "occurred_at")
EVENT_COLUMNS = (*EVENT_REQUIRED, "event_type", "duration_seconds", "event_id")

# Accounts first, so every other file can reference accounts of the same run.
TABLE_SPECS = {spec.name: spec for spec in (ACCOUNTS, SUBSCRIPTIONS, NPS, CSAT, ONBOARDING, TICKETS)}
LOAD_ORDER = ("accounts", "subscriptions", "events", "nps", "csat", "onboarding", "tickets")
REQUIRED_COLUMNS = {**{name: spec.required for name, spec in TABLE_SPECS.items()}, "events": EVENT_REQUIRED}
CONTRACT_COLUMNS = {**{name: spec.column_names for name, spec in TABLE_SPECS.items()}, "events": EVENT_COLUMNS}

# A full refresh that drops an account drops its rows in these tables too.
ACCOUNT_CHILDREN = (
    schema.subscriptions,
    schema.usage_daily,
    schema.nps_responses,
    schema.csat_responses,
    schema.onboarding,
    schema.tickets,
    schema.health_snapshots,
)


def close_column(table: str, name: str, header: Sequence[str]) -> str | None:
    """The contract column ``name`` is most likely a typo of (one letter added, left out, changed or
    swapped: ``end_dat``, ``mrrr``, ``acount_id``, ``end date``), when that column is not in the header."""
    if not name or name in CONTRACT_COLUMNS[table]:
        return None
    for column in CONTRACT_COLUMNS[table]:
        if column not in header and OSA.distance(name, column, score_cutoff=1) <= 1:
            return column
    return None


def unknown_columns(table: str, header: Sequence[str]) -> tuple[str, ...]:
    """The named columns of ``header`` that are not in the contract of ``table``, in file order."""
    known = CONTRACT_COLUMNS[table]
    seen: list[str] = []
    for name in header:
        if name and name not in known and name not in seen:
            seen.append(name)
    return tuple(seen)


def header_problem(table: str, header: Sequence[str]) -> tuple[str | None, str] | None:
    """(column, reason) when the file cannot be loaded at all; None when its header will do."""
    if not header:
        return None, "empty file: expected a header row with the column names"
    if any("\x00" in name for name in header):
        return None, "the header row holds a NUL character (\\x00); save the file as plain CSV text"
    for name in header:
        meant = close_column(table, name, header)
        if meant is not None:
            return name, f"column {name!r} is not a contract column: did you mean {meant}? Rename it (file not loaded)"
    for column in REQUIRED_COLUMNS[table]:
        if column not in header:
            return column, f"missing required column '{column}'; add it to the header (file not loaded)"
    return None
