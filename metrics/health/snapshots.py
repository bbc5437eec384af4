"""Daily health snapshots: write, check and read the stored score of every paying
account per day, and "the scores on day d" from them (computed when a day has none).

Nothing here runs by itself: the sync's caller and the daily job call
``write_snapshots`` / ``ensure_snapshots`` with the day they mean.

Retention: a day's snapshots of 100k accounts are ~80 MB, ~29 GB a year. ``write_snapshots``
prunes in the same transaction (``prune_snapshots``): every day of the last
``CSBOT_HEALTH_SNAPSHOT_DAYS`` days (default 120) stays; older, only the first stored day of each
month. What reads snapshots looks back less than that: the portfolio 30 days (plus 7 of
tolerance), the health-drop list 30 days, who dropped to red 60 days before the period; the
backtest scores its days from the data and reads no snapshot. A day without snapshots is
computed by whoever asks for it (``scores_as_of``, ``book_scores``): slower, never wrong. The
first day of each month kept also lets the health score of a past month (taken at its end) be
read rather than computed when the sync ran that day.

Day totals: ``write_snapshots`` also stores the day's unfiltered totals per band (``health_day_totals``:
accounts, exact score sum, MRR), and pruning drops them with their day. The health score without
filters reads those few rows instead of adding up the day's snapshots, while the day still holds as
many snapshot rows as when they were summed (a row inserted or deleted since, by a test, a tool or
a full refresh dropping an account, makes the day read its snapshots again). A tool that rewrites
snapshot rows in place, which no count sees, calls ``forget_day_totals``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Sequence

from sqlalchemy import Connection, Engine, Text, cast, delete, exists, func, insert, inspect, select

from metrics import revenue_state, schema
from metrics.filters import NO_FILTERS, Filters
from metrics.grouping import group_key, keyed
from metrics.health.model import HealthModel
from metrics.health.score import AccountHealth, iter_scores, score_accounts
from metrics.health.sql import account_mrr_on
from metrics.periods import add_months, as_date
from metrics.settings import Settings

logger = logging.getLogger(__name__)

a = schema.accounts
h = schema.health_snapshots
ht = schema.health_day_totals
SNAPSHOT_BATCH = 1000  # snapshot rows inserted at a time


@dataclass(frozen=True)
class SnapshotScore:
    """A score as of a day: from a stored snapshot or computed on the fly."""

    account_id: str
    day: date
    score: float | None
    band: str | None
    components: Mapping[str, float | None]  # component -> score (stored: parsed on first use)
    stored: bool


class StoredComponents(Mapping):
    """A stored snapshot's component scores (component -> score), read from its JSON text on
    first use."""

    __slots__ = ("_text", "_scores")

    def __init__(self, text: str | dict | None):
        self._text = text
        self._scores: dict[str, float | None] | None = None

    def _parsed(self) -> dict[str, float | None]:
        if self._scores is None:
            raw = self._text
            comps = (json.loads(raw) if isinstance(raw, str) else raw) or {}
            self._scores = {k: (v or {}).get("score") for k, v in comps.items()
                            if not k.startswith("_") and isinstance(v, dict)}
        return self._scores

    def __getitem__(self, key: str) -> float | None:
        return self._parsed()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._parsed())

    def __len__(self) -> int:
        return len(self._parsed())

    def __repr__(self) -> str:
        return repr(self._parsed())


def _snapshot_row(hl: AccountHealth) -> dict[str, Any]:
    return {"account_id": hl.account_id, "day": hl.day, "score": None if hl.score is None else round(hl.score, 4),
            "band": hl.band, "components": hl.components_json(), "mrr": round(hl.mrr, 2)}


def write_snapshots(conn: Connection, day: date, settings: Settings | None = None,
                    *, model: HealthModel | None = None) -> int:
    """Store the health of every paying account on ``day``; replaces that day's rows (idempotent).
    Then prunes the days older than ``settings.health_snapshot_days`` before ``day`` but the first
    of each month (``prune_snapshots``), in the caller's transaction."""
    settings = settings or Settings()
    conn.execute(delete(h).where(h.c.day == day))
    conn.execute(delete(ht).where(ht.c.day == day))
    written = 0
    batch: list[dict[str, Any]] = []
    # Scored, stored and forgotten 1,000 accounts at a time: a book of 100,000 held its scores and
    # their rows at once (660 MB at the peak of a sync).
    for health in iter_scores(conn, day, NO_FILTERS, settings, model=model):
        batch.append(_snapshot_row(health))
        if len(batch) == SNAPSHOT_BATCH:
            conn.execute(insert(h), batch)
            written += len(batch)
            batch = []
    if batch:
        conn.execute(insert(h), batch)
        written += len(batch)
    write_day_totals(conn, day)
    pruned = prune_snapshots(conn, day, settings.health_snapshot_days)
    if conn.dialect.name == "postgresql":
        # The new day is past the planner's statistics, which then guess a few thousand rows for it: the
        # /health portfolio of 75k accounts looked its 30-days-before scores up one by one (770 -> 690 ms
        # measured once analysed). Autovacuum analyses a growing table only after a tenth of it changed.
        conn.exec_driver_sql(f"ANALYZE {h.name}")
    logger.info("health snapshots for %s: %d accounts; %d older rows pruned", day, written, pruned)
    return written


def prune_snapshots(conn: Connection, day: date, keep_days: int) -> int:
    """Delete the snapshots of the days before ``day - keep_days``, except the first stored day of
    each month (year and month), in one DELETE; ``keep_days`` 0 keeps everything. The days from
    ``day - keep_days`` to ``day`` all stay (a comparison ``keep_days`` back still finds its day),
    and so do the days after ``day``. Returns how many rows were deleted."""
    if keep_days <= 0:
        return 0
    cutoff = day - timedelta(days=keep_days)
    oldest = as_date(conn.execute(select(func.min(h.c.day)).where(h.c.day < cutoff)).scalar())
    if oldest is None:
        return 0
    # The first stored day of each month before the cutoff: one indexed look-up per month
    # (a few dozen), with no date function that SQLite and PostgreSQL spell differently.
    keep: list[date] = []
    month = oldest.replace(day=1)
    while month < cutoff:
        first = as_date(conn.execute(select(func.min(h.c.day)).where(
            h.c.day >= month, h.c.day < min(add_months(month, 1), cutoff))).scalar())
        if first is not None:
            keep.append(first)
        month = add_months(month, 1)
    stmt, totals = delete(h).where(h.c.day < cutoff), delete(ht).where(ht.c.day < cutoff)
    if keep:
        stmt, totals = stmt.where(h.c.day.not_in(keep)), totals.where(ht.c.day.not_in(keep))
    conn.execute(totals)
    return conn.execute(stmt).rowcount or 0


def has_snapshots(conn: Connection, day: date) -> bool:
    """Whether ``day`` has stored snapshots."""
    return bool(conn.execute(select(exists().where(h.c.day == day))).scalar())


def snapshot_day_near(conn: Connection, day: date, tolerance_days: int) -> date | None:
    """``day`` when it has stored snapshots, else the latest earlier day with snapshots no more than
    ``tolerance_days`` before it; None when there is none (one indexed statement)."""
    found = conn.execute(select(func.max(h.c.day)).where(
        h.c.day <= day, h.c.day >= day - timedelta(days=max(0, tolerance_days)))).scalar()
    return as_date(found)


def stored_bands(conn: Connection, day: date, filters: Filters = NO_FILTERS) -> dict[str, tuple[float | None, str | None]]:
    """Per account passing ``filters``: (score, band) stored for ``day`` (no components: a lean read)."""
    stmt = select(h.c.account_id, h.c.score, h.c.band).where(h.c.day == day)
    cond = filters.account_condition()
    if cond is not None:
        stmt = stmt.where(h.c.account_id.in_(select(a.c.account_id).where(cond)))
    return {r[0]: (r[1], r[2]) for r in conn.execute(stmt)}


SCORE_UNITS = 10_000  # a stored score has 4 decimals: sums of scores are counted exactly in 1/10,000ths


@dataclass(frozen=True)
class BandTotals:
    """The paying accounts of one band on a day: how many have a score, their scores' exact sum in
    ``SCORE_UNITS`` and their MRR that day (what the ``health_score`` metric adds up)."""

    accounts: int
    score_units: int
    mrr: float


def score_units(score: float) -> int:
    """A score as the snapshot stores it (4 decimals), in ``SCORE_UNITS``."""
    return int(round(round(score, 4) * SCORE_UNITS))


def book_totals(conn: Connection, day: date, filters: Filters = NO_FILTERS, settings: Settings | None = None,
                *, by: str | None = None, model: HealthModel | None = None) -> dict[str | None, dict[str, BandTotals]]:
    """Per group of ``by`` (None: the whole, key None) and band: the paying accounts with a score on
    ``day``, the exact sum of their scores and their MRR. From the day's stored snapshots when the
    sync or the daily job wrote them, in one grouped statement (no account's row leaves the
    database; without filters, the day totals written with them); else every paying account scored now
    and added up the same way (equal sums)."""
    if by is None and type(filters) is Filters and filters.empty:
        stored = stored_day_totals(conn, day)
        if stored is not None:
            return {None: stored} if stored else {}
    if has_snapshots(conn, day):
        return _stored_totals(conn, day, filters, by)
    scores = score_accounts(conn, day, filters, settings, model=model)
    key_of: dict[str, str | None] = {}
    if by is not None:
        stmt = select(a.c.account_id, group_key(by)).where(a.c.account_id.in_(list(scores)))
        key_of = {r[0]: r[1] for r in conn.execute(stmt)}
    sums: dict[str | None, dict[str, list]] = {}
    for x in scores.values():
        if x.score is None:
            continue
        cell = sums.setdefault(key_of.get(x.account_id), {}).setdefault(x.band, [0, 0, 0.0])
        cell[0] += 1
        cell[1] += score_units(x.score)
        cell[2] += x.mrr
    return {k: {band: BandTotals(n, units, mrr) for band, (n, units, mrr) in bands.items()} for k, bands in sums.items()}


def _stored_totals(conn: Connection, day: date, filters: Filters, by: str | None) -> dict[str | None, dict[str, BandTotals]]:
    without_mrr = conn.execute(select(exists().where(h.c.day == day, h.c.mrr.is_(None)))).scalar()
    if without_mrr:  # written before snapshots kept the MRR: each account's MRR that day from the revenue
        mrr = account_mrr_on(day, revenue_state.is_fresh(conn))
        rows = select(h.c.account_id, h.c.score, h.c.band, mrr.c.mrr).select_from(
            h.outerjoin(mrr, mrr.c.account_id == h.c.account_id))
    else:
        rows = select(h.c.account_id, h.c.score, h.c.band, h.c.mrr)
    rows = rows.where(h.c.day == day, h.c.score.is_not(None))
    cond = filters.account_condition()
    if cond is not None:
        rows = rows.where(h.c.account_id.in_(select(a.c.account_id).where(cond)))
    per_account = rows.subquery("scored")
    source, key = keyed(per_account, by)
    q = per_account.c
    stmt = select(key.label("key"), q.band, func.count(), func.sum(func.round(q.score * SCORE_UNITS)),
                  func.coalesce(func.sum(q.mrr), 0)).select_from(source)
    # (the whole: no GROUP BY of the key, a constant that DuckDB refuses there)
    stmt = stmt.group_by(key, q.band) if by is not None else stmt.group_by(q.band)
    out: dict[str | None, dict[str, BandTotals]] = {}
    for k, band, n, units, total in conn.execute(stmt):
        out.setdefault(k, {})[band] = BandTotals(int(n), int(units or 0), float(total or 0))
    return out


def write_day_totals(conn: Connection, day: date) -> None:
    """Store ``day``'s unfiltered totals per band as its stored snapshots add up now (the statement
    ``book_totals`` runs on them), with the day's snapshot row count; replaces the day's totals."""
    conn.execute(delete(ht).where(ht.c.day == day))
    rows = conn.execute(select(func.count()).where(h.c.day == day)).scalar_one()
    if not rows:
        return
    bands = _stored_totals(conn, day, NO_FILTERS, None).get(None, {})
    conn.execute(insert(ht), [
        {"day": day, "band": band, "accounts": t.accounts, "score_units": t.score_units, "mrr": t.mrr, "day_rows": rows}
        for band, t in bands.items()] or [
        {"day": day, "band": "", "accounts": 0, "score_units": 0, "mrr": 0.0, "day_rows": rows}])


def forget_day_totals(conn: Connection, day: date | None = None) -> None:
    """Drop the stored day totals of ``day`` (None: every day): the health score adds up the snapshots."""
    conn.execute(delete(ht) if day is None else delete(ht).where(ht.c.day == day))


def stored_day_totals(conn: Connection, day: date) -> dict[str, BandTotals] | None:
    """``day``'s unfiltered totals per band as ``write_day_totals`` stored them, while the day still
    has as many snapshot rows as then (one statement); None when there are none or they are stale."""
    if conn.dialect.name not in ("sqlite", "postgresql") and not inspect(conn).has_table(ht.name):
        return None
    now = select(func.count()).where(h.c.day == day).scalar_subquery()
    rows = conn.execute(select(ht.c.band, ht.c.accounts, ht.c.score_units, ht.c.mrr, ht.c.day_rows, now)
                        .where(ht.c.day == day)).all()
    if not rows or any(r[4] != r[5] for r in rows):
        return None
    return {band: BandTotals(int(n), int(units), float(mrr)) for band, n, units, mrr, _, _ in rows if band != ""}


def ensure_snapshots(engine: Engine, day: date, settings: Settings | None = None) -> int:
    """Write ``day``'s snapshots unless they exist. Returns how many rows were written (0: already there)."""
    with engine.begin() as conn:
        if has_snapshots(conn, day):
            return 0
        return write_snapshots(conn, day, settings)


def scores_as_of(conn: Connection, day: date, filters: Filters = NO_FILTERS, settings: Settings | None = None,
                 *, account_ids: Sequence[str] | None = None, model: HealthModel | None = None) -> dict[str, SnapshotScore]:
    """Scores on ``day``: the stored snapshots when that day has them, else computed on the fly (backfill)."""
    if has_snapshots(conn, day):
        # The components as text, parsed only when read: a list or a portfolio of the whole book
        # reads the scores and bands alone, and parsing every account's JSON cost more than the rest.
        stmt = select(h.c.account_id, h.c.score, h.c.band, cast(h.c.components, Text)).where(h.c.day == day)
        if account_ids is not None:
            stmt = stmt.where(h.c.account_id.in_(list(account_ids)))
        cond = filters.account_condition()
        if cond is not None:
            stmt = stmt.where(h.c.account_id.in_(select(a.c.account_id).where(cond)))
        return {r[0]: SnapshotScore(r[0], day, r[1], r[2], StoredComponents(r[3]), stored=True)
                for r in conn.execute(stmt)}
    computed = score_accounts(conn, day, filters, settings, account_ids=account_ids, model=model,
                              paying_only=True)
    return {k: _as_snapshot(v) for k, v in computed.items()}


def _as_snapshot(hl: AccountHealth) -> SnapshotScore:
    return SnapshotScore(hl.account_id, hl.day, hl.score, hl.band,
                         {k: v.score for k, v in hl.components.items()}, stored=False)
