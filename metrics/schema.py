"""The tables of csbot's own database.

One table per file of the data contract (``docs/data-contract.md``),
plus what csbot keeps for itself: the sync log, rejected rows, daily health
snapshots and a small key/value table.

Conventions:
- Autoincrement keys name their sequence: PostgreSQL and DuckDB use it, SQLite ignores it.
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
    Sequence,
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
    # One per dimension a question can name (metrics.accounts.DIMENSION_COLUMNS): the values the
    # data holds are read off them for every question (a few index look-ups, not a scan of the book).
    Index("ix_accounts_segment", "segment"),
    Index("ix_accounts_plan", "plan"),
    Index("ix_accounts_region", "region"),
    Index("ix_accounts_touch_model", "touch_model"),
    Index("ix_accounts_owner", "owner"),
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
    # covers the per-account grouping of the revenue metrics (no table lookups)
    Index("ix_subscriptions_cover", "account_id", "start_date", "end_date", "mrr", "product"),
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
    # covers DAU/WAU/MAU and usage time over a window of days (no table lookups); a sync into an empty
    # table builds it after the load on SQLite (metrics/sync/events.py, ``DAY_INDEX``)
    Index("ix_usage_daily_day_cover", "day", "account_id", "user_id", "seconds"),
    # SQLite: the rows are stored in the key's order, with no rowid B-tree beside the key's (a database
    # made before keeps its table as it was; both answer the same)
    sqlite_with_rowid=False,
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
    Column("sync_id", Integer, Sequence("sync_log_sync_id_seq"), primary_key=True, autoincrement=True),
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
    Column("id", Integer, Sequence("rejected_rows_id_seq"), primary_key=True, autoincrement=True),
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
    # The account's MRR on the day (its subscriptions active at 00:00), stored with its score so that
    # the health score's totals per band need no other table. NULL in rows written before it was kept.
    Column("mrr", Money),
    Index("ix_health_day", "day"),
    # A day's scores, bands and MRR without reading the rows (their components are large): the
    # health score and its breakdown add them up off this index alone.
    Index("ix_health_day_totals", "day", "account_id", "score", "band", "mrr"),
)

meta = Table(
    "csbot_meta",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", Text),
)

# Sync bookkeeping (metrics/sync.py).
from sqlalchemy import BigInteger  # noqa: E402  (kept next to the sync tables)

# PostgreSQL: how many statements ever wrote each table a derived state is built from, counted by a
# statement trigger (metrics/db.py ``count_writes``) in the writer's own transaction. A stamp reads
# one row here instead of counting the table (metrics/stamps.py ``writes_of``), and sees an update
# in place too, which a count does not. Other engines count the table.
writes = Table(
    "csbot_writes",
    metadata,
    Column("tbl", String(64), primary_key=True),
    Column("n", BigInteger, nullable=False),
)
WRITE_COUNTED = ("subscriptions",)


def write_trigger(table: str) -> str:
    """The name of the statement trigger that counts ``table``'s writes (made by ``count_writes``, looked
    up by ``stamps.writes_of``)."""
    return f"csbot_writes_{table}"

# Event ids already counted into usage_daily, as a 64-bit hash of the id, so that
# re-sending old events never counts them twice (raw events are not kept). Only the
# ids of the last few weeks behind the events watermark are kept (``day``: the event's
# local day; metrics/sync/events.py prunes the older ones, which count as late).
sync_seen_events = Table(
    "sync_seen_events",
    metadata,
    Column("event_key", BigInteger, primary_key=True, autoincrement=False),
    Column("sync_id", Integer, nullable=False),
    Column("line", Integer),
    Column("day", Date),
)

# At most one sync at a time, across processes. A row left by a killed process is
# stale once its process is gone (same host) or it is older than the lock TTL.
sync_lock = Table(
    "sync_lock",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("source", String(1024)),
    Column("acquired_at", DateTime, nullable=False),  # UTC
)

# The tables that hold the team's data (what "is the database empty?" looks at).
DATA_TABLES = (accounts, subscriptions, usage_daily, nps_responses, csat_responses, onboarding, tickets)

# Digests and alerts (metrics/digest_store.py). Timestamps here are UTC (naive), like sync_log.
from sqlalchemy import Boolean, UniqueConstraint  # noqa: E402  (kept next to the digest tables)

digest_subscriptions = Table(
    "digest_subscriptions",
    metadata,
    Column("id", Integer, Sequence("digest_subscriptions_id_seq"), primary_key=True, autoincrement=True),
    Column("target", String(16), nullable=False),  # channel | dm
    Column("channel", String(64), nullable=False),  # channel ID; for a DM the user's ID
    Column("channel_name", String(255)),  # as Slack named it when subscribing (revenue rule)
    Column("local_time", String(5), nullable=False),  # "09:00"
    Column("tz", String(64), nullable=False),
    Column("schedule", String(16), nullable=False),  # daily | weekdays | weekly (Mondays)
    Column("filters", JSON),  # {"segment": "enterprise", "owner": ["U0ALICE", "alice@example.com"]}
    Column("lang", String(8), nullable=False),
    Column("created_by", String(64)),
    Column("created_at", DateTime, nullable=False),  # UTC
    Column("active", Boolean, nullable=False, default=True),
    Column("ended_at", DateTime),  # UTC, when unsubscribed
)

# One row per subscription and local day, inserted BEFORE posting: whoever inserts it owns the post.
digest_deliveries = Table(
    "digest_deliveries",
    metadata,
    Column("id", Integer, Sequence("digest_deliveries_id_seq"), primary_key=True, autoincrement=True),
    Column("subscription_id", Integer),  # NULL for `csbot digest --channel` (posted by hand)
    Column("local_date", Date, nullable=False),
    Column("channel", String(64)),
    Column("status", String(16), nullable=False),  # claimed | sent | failed | skipped
    Column("scheduled_at", DateTime),  # UTC
    Column("claimed_at", DateTime, nullable=False),  # UTC
    Column("claimed_by", String(128)),
    Column("attempts", Integer, nullable=False, default=1),
    Column("finished_at", DateTime),  # UTC
    Column("message_ts", String(32)),
    Column("reason", Text),
    UniqueConstraint("subscription_id", "local_date", name="uq_digest_delivery_day"),
    Index("ix_digest_deliveries_claimed", "claimed_at"),
)

digest_alerts = Table(
    "digest_alerts",
    metadata,
    Column("id", Integer, Sequence("digest_alerts_id_seq"), primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("channel_name", String(255)),
    Column("kind", String(16), nullable=False),  # red | churn | contraction | detractor
    Column("threshold", Float),  # MRR amount for churn / contraction
    Column("lang", String(8), nullable=False),
    Column("created_by", String(64)),
    Column("created_at", DateTime, nullable=False),  # UTC
    UniqueConstraint("channel", "kind", name="uq_digest_alert_channel_kind"),
)

# One row per event and channel, inserted BEFORE posting: an alert fires once.
alerts_fired = Table(
    "alerts_fired",
    metadata,
    Column("id", Integer, Sequence("alerts_fired_id_seq"), primary_key=True, autoincrement=True),
    Column("event_key", String(255), nullable=False, unique=True),  # "<channel>|churn|A42|2026-11-20"
    Column("alert_id", Integer),
    Column("channel", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("account_id", String(64)),
    Column("fired_at", DateTime, nullable=False),  # UTC
    Column("status", String(16), nullable=False),  # claimed | sent | failed
    Column("reason", Text),
)

# Scheduler jobs run once across processes (scheduled sync, daily health snapshot).
scheduler_runs = Table(
    "scheduler_runs",
    metadata,
    Column("run_key", String(128), primary_key=True),  # "sync|2026-11-22T06:00" / "health|2026-11-22"
    Column("claimed_at", DateTime, nullable=False),  # UTC
    Column("claimed_by", String(128)),
    Column("status", String(16), nullable=False),  # running | ok | failed
    Column("message", Text),
)

# The last question asked in each Slack thread (and each DM), so that a follow-up under an
# answer ("and by segment?", "Q2は？", "enterpriseだけ") refines it (commands/followup.py).
# ``query`` is the question as plain JSON; rows older than a day are pruned on write.
thread_queries = Table(
    "thread_queries",
    metadata,
    Column("channel_id", String(64), primary_key=True),
    Column("thread_ts", String(64), primary_key=True),  # the thread's parent ts ("dm" for a DM without thread)
    Column("query", JSON, nullable=False),
    Column("updated_at", DateTime, nullable=False),  # UTC
    Index("ix_thread_queries_updated", "updated_at"),
)

# Slack events csbot has answered (bot/slack/app.py): Slack redelivers an event it thinks was not
# acknowledged (X-Slack-Retry-Num) and several replicas may receive it; the first to insert the
# event_id answers, the others skip it. Rows older than a day are pruned. UTC.
slack_handled_events = Table(
    "slack_handled_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("handled_at", DateTime, nullable=False),
    Index("ix_slack_handled_events_at", "handled_at"),
)

# Revenue state derived at sync time (metrics/revenue_state.py builds it in the sync's transaction).
# Each account's total MRR as intervals of constant value [start_date, end_date): end_date is
# 9999-12-31 for the interval still running (not NULL, so one range on the index finds the intervals
# alive after a day). Every stretch of days some row runs has its intervals (a free plan's total is 0).
# ``paid``: some row with mrr > 0 runs in the interval; ``first_paid``: the account's first paid day.
account_mrr_intervals = Table(
    "account_mrr_intervals",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("start_date", Date, primary_key=True),
    Column("end_date", Date, nullable=False),
    Column("mrr", Money, nullable=False),
    Column("paid", Integer, nullable=False),
    Column("first_paid", Date),
    # the intervals alive at or after a day, with everything a movement reads (no table lookups)
    Index("ix_account_mrr_intervals_end", "end_date", "start_date", "account_id", "mrr", "paid", "first_paid"),
    Index("ix_account_mrr_intervals_start", "start_date", "end_date", "account_id", "mrr", "paid", "first_paid"),
    # the rare intervals with a paying row and a total of 0 or less (early churn without a change)
    Index("ix_account_mrr_intervals_paid", "paid", "mrr"),
)

# Each account's MRR per product as intervals of constant value [start_date, end_date), cut as
# ``account_mrr_intervals`` is but per (account, product): upsell and cross-sell read the products
# whose MRR changed in a period (an interval starting or ending inside it) instead of grouping every
# subscription row of the accounts that moved. No primary key: nothing looks one interval up, and its
# index cost a third of the build on PostgreSQL (the build makes each (account, product, start) once).
account_product_intervals = Table(
    "account_product_intervals",
    metadata,
    Column("account_id", String(64), nullable=False),
    Column("product", String(128), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("mrr", Money, nullable=False),
    Index("ix_account_product_intervals_end", "end_date", "start_date", "account_id", "product", "mrr"),
    Index("ix_account_product_intervals_start", "start_date", "end_date", "account_id", "product", "mrr"),
)

# Each account's first paid day (a row with mrr > 0 that ran a day; accounts that never paid have
# no row): cohorts and onboarding.
account_first_paid = Table(
    "account_first_paid",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("first_paid", Date, nullable=False),
    Index("ix_account_first_paid_day", "first_paid", "account_id"),
)

# The whole company's paying customers and MRR from each day on which they changed until the next
# such day (the running sums of the intervals' changes): what an answer without filters reads for
# "at 00:00 of day d" (the row of the latest day on or before d). MRR in cents, summed exactly.
revenue_daily = Table(
    "revenue_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("paying", Integer, nullable=False),
    Column("mrr_cents", BigInteger, nullable=False),
)


# ---- revenue state by account group (metrics/revenue_state.py, built with the tables above) ----
# Per dimension of metrics/grouping.py and group key (the lower-cased value; '' for the accounts
# with none, and for intervals of an account not in ``accounts``): the paying customers, MRR in
# cents and running intervals from each day on which one of the group's intervals started or ended.
# A breakdown without filters reads a few rows per group instead of joining every account.
revenue_daily_groups = Table(
    "revenue_daily_groups",
    metadata,
    Column("dim", String(16), primary_key=True),
    Column("key", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("paying", Integer, nullable=False),
    Column("mrr_cents", BigInteger, nullable=False),
    Column("runs", Integer, nullable=False),
)

# Per dimension: every group key the accounts have ('' always, label NULL) and its label (the first
# stored spelling in sort order, as metrics.grouping.labels reads it from the accounts).
revenue_group_keys = Table(
    "revenue_group_keys",
    metadata,
    Column("dim", String(16), primary_key=True),
    Column("key", Text, primary_key=True),
    Column("label", Text),
)

# The whole company's movements of every calendar month the intervals change in (metrics/revenue_state.py
# ``movements`` of that month, stored as it returns it, JSON, with its upsell and cross-sell counts
# under "products"): a trend or a month and the month before without filters read one row a month
# instead of grouping every account that moved.
revenue_monthly = Table(
    "revenue_monthly",
    metadata,
    Column("month", Date, primary_key=True),
    Column("cell", Text, nullable=False),
)


# The unfiltered totals per band of one day's health snapshots (metrics/health/snapshots.py writes them
# with the day's snapshots and prunes them with them): the paying accounts with a score, their scores'
# exact sum in 1/10,000ths, their MRR as the snapshots' sum gives it, and ``day_rows`` (every snapshot
# row of the day, scored or not: read only while the day still has that many). Band '' is the marker of
# a day without a scored account (zeros).
health_day_totals = Table(
    "health_day_totals",
    metadata,
    Column("day", Date, primary_key=True),
    Column("band", String(16), primary_key=True),
    Column("accounts", Integer, nullable=False),
    Column("score_units", BigInteger, nullable=False),
    Column("mrr", Float, nullable=False),
    Column("day_rows", Integer, nullable=False),
)


# ---- Usage state derived at sync time (metrics/usage_state.py builds it in the sync's transaction) ----
# Usage is summable across accounts (a user is an (account, user id) pair), so it is kept per day for
# each combination of the account attributes a filter or a breakdown reads ("usage group"), not per
# account. ``known`` is 0 for the one group of usage rows whose account is not in ``accounts`` (counted
# by an unfiltered answer, never by a filtered one, as the direct SQL does).
usage_groups = Table(
    "usage_groups",
    metadata,
    Column("group_id", Integer, primary_key=True, autoincrement=False),
    Column("known", Integer, nullable=False),
    Column("segment", String(64)),
    Column("touch_model", String(32)),
    Column("owner", String(255)),
    Column("plan", String(64)),
    Column("region", String(64)),
)

# Each account's usage group and seats (the map the build joins the usage rows and subscriptions to).
usage_account_groups = Table(
    "usage_account_groups",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("group_id", Integer, nullable=False),
    Column("seats", Integer),
)

# Per day and usage group: ``user_days`` (active users that day: DAU), ``events``, ``seconds``; ``u7`` and
# ``u30`` the distinct users active in the 7 and the 30 days ending that day (WAU, MAU); ``seated``,
# ``seats`` and ``seated_users``: the accounts paying at 00:00 of that day (their subscriptions' MRR adds up
# to more than 0) with seats > 0, their seats and their users of the 30 days ending that day (seat
# utilisation). A row exists for every day on which one of them is not zero.
usage_group_daily = Table(
    "usage_group_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("group_id", Integer, primary_key=True, autoincrement=False),
    Column("user_days", Integer, nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("u7", Integer, nullable=False),
    Column("u30", Integer, nullable=False),
    Column("seated", Integer, nullable=False),
    Column("seats", BigInteger, nullable=False),
    Column("seated_users", Integer, nullable=False),
    sqlite_with_rowid=False,
)


# Indexes added to tables that older databases already hold: ``create_all`` skips an existing
# table with its indexes, so ``metrics.db.init_schema`` creates these when they are missing.
ADDED_INDEXES = (*(ix for ix in accounts.indexes if ix.name.startswith("ix_accounts_")),
                 *(ix for ix in health_snapshots.indexes if ix.name == "ix_health_day_totals"))
# Columns added the same way (nullable: the rows already there hold NULL), created before the indexes.
ADDED_COLUMNS = ((health_snapshots, "mrr"),)
