"""The tables of csbot's own database.

One table per file of the data contract (``shared/design/data-contract.md``),
plus what csbot keeps for itself: the sync log, rejected rows, daily health
snapshots and a small key/value table.

Conventions:
- Dates are ``Date``; timestamps are naive ``DateTime`` in the workspace time
  zone (``CSBOT_TIMEZONE``), so a period ``[start, end)`` compares directly.
  The sync converts zoned timestamps before they are stored.
- Money is ``Numeric(18, 2)`` in the reporting currency, read back as float.
- Raw product events are not kept: they are rolled up into ``usage_daily``
  (one row per account, user and day).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

metadata = MetaData()

Money = Numeric(18, 2, asdecimal=False)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("plan", String(64)),
    Column("segment", String(64)),
    Column("touch_model", String(32)),
    Column("owner", String(255)),
    Column("region", String(64)),
    Column("industry", String(128)),
    Column("seats", Integer),
    Column("renewal_date", Date),
    Column("created_at", DateTime),
    # Columns of accounts.csv that the contract does not name: kept, never dropped.
    Column("attributes", JSON),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    # When the source has no subscription_id the key is account_id|product|start_date.
    Column("subscription_id", String(255), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.account_id"), nullable=False),
    Column("product", String(128), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),  # exclusive; NULL = still running
    Column("mrr", Money, nullable=False),
    Column("quantity", Integer),
    Column("bill_period_months", Integer),
    Column("discount", Money),
    Index("ix_subscriptions_account", "account_id", "start_date"),
    Index("ix_subscriptions_dates", "start_date", "end_date"),
)

usage_daily = Table(
    "usage_daily",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("user_id", String(255), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("events", Integer, nullable=False, default=0),
    Column("seconds", Float, nullable=False, default=0),
    Index("ix_usage_daily_day", "day", "account_id"),
)

nps_responses = Table(
    "nps_responses",
    metadata,
    Column("response_id", String(255), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.account_id"), nullable=False),
    Column("respondent", String(255)),
    Column("score", Integer, nullable=False),
    Column("responded_at", DateTime, nullable=False),
    Column("comment", Text),
    Index("ix_nps_responded", "responded_at"),
    Index("ix_nps_account", "account_id", "responded_at"),
)

csat_responses = Table(
    "csat_responses",
    metadata,
    Column("response_id", String(255), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.account_id"), nullable=False),
    Column("score", Integer, nullable=False),
    Column("responded_at", DateTime, nullable=False),
    Column("ticket_id", String(255)),
    Column("comment", Text),
    Index("ix_csat_responded", "responded_at"),
    Index("ix_csat_account", "account_id", "responded_at"),
)

onboarding = Table(
    "onboarding",
    metadata,
    Column("account_id", String(64), ForeignKey("accounts.account_id"), primary_key=True),
    Column("milestone", String(64), primary_key=True),
    Column("completed_at", DateTime, nullable=False),
)

tickets = Table(
    "tickets",
    metadata,
    Column("ticket_id", String(255), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.account_id"), nullable=False),
    Column("opened_at", DateTime, nullable=False),
    Column("closed_at", DateTime),
    Column("priority", String(16)),
    Column("status", String(32)),
    Column("subject", Text),
    Index("ix_tickets_account", "account_id", "opened_at"),
)

sync_log = Table(
    "sync_log",
    metadata,
    Column("sync_id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(1024), nullable=False),  # never holds a password
    Column("started_at", DateTime, nullable=False),  # UTC
    Column("finished_at", DateTime),  # UTC
    Column("status", String(16), nullable=False),  # running | ok | failed
    Column("rows_in", Integer, nullable=False, default=0),
    Column("rows_changed", Integer, nullable=False, default=0),
    Column("rows_rejected", Integer, nullable=False, default=0),
    Column("message", Text),
    Column("details", JSON),  # per-table counts
)

rejected_rows = Table(
    "rejected_rows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sync_id", Integer, nullable=False, index=True),
    Column("table_name", String(64), nullable=False),
    Column("file", String(1024)),
    Column("line", Integer),
    Column("column_name", String(128)),
    Column("reason", Text, nullable=False),
    Column("raw", Text),
)

health_snapshots = Table(
    "health_snapshots",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("score", Float),
    Column("band", String(16)),
    Column("components", JSON),
    Index("ix_health_day", "day"),
)

meta = Table(
    "csbot_meta",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", Text),
)

# The tables that hold the team's data (what "is the database empty?" looks at).
DATA_TABLES = (accounts, subscriptions, usage_daily, nps_responses, csat_responses, onboarding, tickets)
