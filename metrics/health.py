"""The health score (metrics.md, "Health score"): model, component SQL, scores,
daily snapshots and the backtest.

The model lives in one readable TOML file (``metrics/health_model.toml``, or the
file named by ``CSBOT_HEALTH_MODEL``): components, weights, thresholds, bands,
and a separate weight set for accounts still onboarding. ``load_model`` refuses
a malformed file with a one-line ``HealthModelError`` naming the line.

"As of day d" means the state at 00:00 of d, i.e. everything up to the end of
d-1: MRR of the subscriptions active on d, usage in the 30 days d-30..d-1,
tickets open at 00:00 of d, NPS answers given before d. Today's snapshot is
therefore stable within the day, and the model works as of any past day (which
is what the trend against 30 days before and the backtest need on a fresh
database).

Every component is counted in SQL for all the accounts asked at once (one
statement per data source, grouped by account); when one account is asked, the
statements are filtered by its id.

Public API:
- ``load_model(path=None) -> HealthModel``
- ``score_accounts(conn, day, filters, settings, *, account_ids=None) -> dict[str, AccountHealth]``
- ``scores_as_of(conn, day, filters, settings, *, account_ids=None) -> dict[str, SnapshotScore]``
  (stored snapshots when that day has them, else computed)
- ``write_snapshots(conn, day, settings) -> int``, ``ensure_snapshots(engine, day, settings=None) -> int``,
  ``daily_snapshot_job(engine, settings) -> int``
- ``account_facts(conn, account_id, day, settings) -> AccountFacts``
- ``portfolio(conn, day, filters, settings) -> Portfolio``
- ``dropped_to_red(conn, start, end, filters, settings) -> DropReport``
- ``backtest(engine, months=6, settings=None, *, today=None) -> BacktestResult``, ``roc_auc(...)``
- ``cli(argv, settings) -> int`` for ``csbot health --backtest 6`` / ``--snapshot``
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Iterable, Sequence

from sqlalchemy import Connection, Engine, and_, case, delete, exists, func, insert, or_, select

from metrics import schema
from metrics.filters import NO_FILTERS, Filters
from metrics.periods import Period, add_months
from metrics.registry import Calc, Measurement, MetricDef, declare
from metrics.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_MODEL_PATH = Path(__file__).with_name("health_model.toml")
MODEL_ENV = "CSBOT_HEALTH_MODEL"

COMPONENTS = ("usage", "seats", "last_activity", "nps", "support", "revenue", "onboarding")
BANDS = ("red", "yellow", "green")
RISKY_BANDS = ("red", "yellow")

a = schema.accounts
s = schema.subscriptions
u = schema.usage_daily
n = schema.nps_responses
c = schema.csat_responses
t = schema.tickets
o = schema.onboarding
h = schema.health_snapshots

_IN_CHUNK = 500  # account ids per IN (...) list


# =========================================================================== model


class HealthModelError(ValueError):
    """The health model file is malformed. ``str(err)`` is one line: file, line, reason."""


@dataclass(frozen=True)
class Curve:
    """A piecewise linear score function: ``points`` = ((x, score), ...), x increasing."""

    points: tuple[tuple[float, float], ...]

    def __call__(self, x: float) -> float:
        pts = self.points
        if x <= pts[0][0]:
            return float(pts[0][1])
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            if x <= x1:
                return float(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
        return float(pts[-1][1])


@dataclass(frozen=True)
class HealthModel:
    path: str
    weights: dict[str, float]
    weights_onboarding: dict[str, float]
    onboarding_phase_days: int
    bands: tuple[tuple[str, int, int], ...]  # (name, low, high), inclusive, sorted
    stickiness: Curve
    usage_trend: Curve
    trend_share: float
    trend_days: int
    seats: Curve
    last_activity: Curve
    nps: Curve
    nps_lookback_days: int
    penalties: dict[str, float]  # open, high, urgent
    revenue: Curve
    revenue_days: int
    onboarding: Curve
    onboarding_expected_days: int

    def band(self, score: float | None) -> str | None:
        """The band of a score: rounded half up to a whole number first, then looked up."""
        if score is None:
            return None
        whole = rounded(score)
        for name, lo, hi in self.bands:
            if lo <= whole <= hi:
                return name
        return self.bands[-1][0] if whole > self.bands[-1][2] else self.bands[0][0]

    def weights_for(self, onboarding_phase: bool) -> dict[str, float]:
        return self.weights_onboarding if onboarding_phase else self.weights


def rounded(score: float) -> int:
    """Round half up (50.5 -> 51), the rounding bands use."""
    return int(math.floor(score + 0.5))


_MODEL_CACHE: dict[tuple[str, int], HealthModel] = {}


def model_path(path: str | os.PathLike | None = None) -> Path:
    if path:
        return Path(path)
    env = os.environ.get(MODEL_ENV, "").strip()
    return Path(env).expanduser() if env else DEFAULT_MODEL_PATH


def load_model(path: str | os.PathLike | None = None) -> HealthModel:
    """Read and check the health model (``CSBOT_HEALTH_MODEL`` or the shipped file).

    Raises ``HealthModelError`` (one line: file, line where known, reason)."""
    p = model_path(path)
    try:
        stat = p.stat()
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        where = f" (set by {MODEL_ENV})" if not path and os.environ.get(MODEL_ENV) else ""
        raise HealthModelError(f"health model {p}{where}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HealthModelError(f"health model {p}: cannot read it ({exc.__class__.__name__})") from None
    key = (str(p.resolve()), stat.st_mtime_ns)
    if key in _MODEL_CACHE:
        return _MODEL_CACHE[key]
    model = parse_model(text, str(p))
    _MODEL_CACHE.clear()
    _MODEL_CACHE[key] = model
    return model


def parse_model(text: str, name: str = "<health model>") -> HealthModel:
    """Check a model's TOML text and build the model. Raises ``HealthModelError``."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc).splitlines()[0]
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg).strip()
        line = f" line {m.group(1)}:" if m else ""
        raise HealthModelError(f"{name}:{line} not valid TOML: {reason}") from None
    return _Checker(text, name).build(doc)


class _Checker:
    def __init__(self, text: str, name: str):
        self.lines = text.splitlines()
        self.name = name

    def fail(self, reason: str, section: str | None = None, key: str | None = None) -> None:
        line = self.line_of(section, key)
        where = f" line {line}:" if line else ""
        raise HealthModelError(f"{self.name}:{where} {reason}")

    def line_of(self, section: str | None, key: str | None) -> int | None:
        """The line that sets ``key`` in ``[section]`` (or the section header)."""
        current = ""
        header_line = None
        for i, raw in enumerate(self.lines, 1):
            line = raw.strip()
            m = re.match(r"^\[\s*([^\]]+?)\s*\]", line)
            if m:
                current = m.group(1).replace('"', "").replace(" ", "")
                if section is not None and current == section:
                    header_line = i
                continue
            if section is not None and current != section:
                continue
            if section is None and current:
                continue
            if key is not None and re.match(rf'^"?{re.escape(key)}"?\s*=', line):
                return i
        return header_line

    def number(self, value: Any, section: str | None, key: str, *, lo: float | None = None,
               hi: float | None = None) -> float:
        label = f"[{section}] {key}" if section else key
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            self.fail(f"{label} must be a number, got {value!r}", section, key)
        if lo is not None and value < lo:
            self.fail(f"{label} must be at least {lo:g}, got {value!r}", section, key)
        if hi is not None and value > hi:
            self.fail(f"{label} must be at most {hi:g}, got {value!r}", section, key)
        return float(value)

    def curve(self, value: Any, section: str, key: str) -> Curve:
        label = f"[{section}] {key}"
        if not isinstance(value, list) or len(value) < 2:
            self.fail(f"{label} must be a list of at least two [x, score] points", section, key)
        pts = []
        for p in value:
            if (not isinstance(p, list) or len(p) != 2
                    or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in p)):
                self.fail(f"{label}: each point must be [number, number], got {p!r}", section, key)
            if not 0 <= p[1] <= 100:
                self.fail(f"{label}: scores must be between 0 and 100, got {p[1]!r}", section, key)
            pts.append((float(p[0]), float(p[1])))
        for (x0, _), (x1, _) in zip(pts, pts[1:]):
            if x1 <= x0:
                self.fail(f"{label}: x values must increase, {x1:g} comes after {x0:g}", section, key)
        return Curve(tuple(pts))

    def table(self, doc: dict, key: str) -> dict:
        value = doc.get(key)
        if value is None:
            self.fail(f"missing section [{key}]")
        if not isinstance(value, dict):
            self.fail(f"{key} must be a section [{key}]", None, key)
        return value

    def weights(self, doc: dict, key: str) -> dict[str, float]:
        table = self.table(doc, key)
        out = {}
        for name, value in table.items():
            if name not in COMPONENTS:
                self.fail(f"[{key}] unknown component {name!r}; known: {', '.join(COMPONENTS)}", key, name)
            out[name] = self.number(value, key, name, lo=0)
        for name in COMPONENTS:
            out.setdefault(name, 0.0)
        if not any(out.values()):
            self.fail(f"[{key}] every weight is 0; give at least one component a weight", key)
        return out

    def bands(self, doc: dict) -> tuple[tuple[str, int, int], ...]:
        table = self.table(doc, "bands")
        ranges = []
        for name, value in table.items():
            if name not in BANDS:
                self.fail(f"[bands] unknown band {name!r}; the bands are red, yellow, green", "bands", name)
            if (not isinstance(value, list) or len(value) != 2
                    or any(isinstance(v, bool) or not isinstance(v, int) for v in value) or value[0] > value[1]):
                self.fail(f"[bands] {name} must be [low, high], whole numbers with low <= high, got {value!r}",
                          "bands", name)
            ranges.append((name, value[0], value[1]))
        missing = [b for b in BANDS if b not in table]
        if missing:
            self.fail(f"[bands] missing band(s): {', '.join(missing)}", "bands")
        ranges.sort(key=lambda r: r[1])
        if [r[0] for r in ranges] != list(BANDS):
            self.fail("[bands] must go red, yellow, green from low scores to high", "bands")
        expected = 0
        for name, lo, hi in ranges:
            if lo < expected:
                self.fail(f"[bands] {name} starts at {lo}, overlapping the band below (which ends at {expected - 1})",
                          "bands", name)
            if lo > expected:
                self.fail(f"[bands] {name} starts at {lo}: scores {expected}..{lo - 1} have no band", "bands", name)
            expected = hi + 1
        if ranges[0][1] != 0 or expected != 101:
            self.fail(f"[bands] must cover 0..100; green ends at {expected - 1}", "bands", "green")
        return tuple(ranges)

    def build(self, doc: dict) -> HealthModel:
        known_top = {"version", "onboarding_phase_days", "bands", "weights", "weights_onboarding", "components"}
        for key in doc:
            if key not in known_top:
                self.fail(f"unknown setting {key!r}; expected one of {', '.join(sorted(known_top))}", None, key)
        phase = int(self.number(doc.get("onboarding_phase_days", 90), None, "onboarding_phase_days", lo=0, hi=3650))
        bands = self.bands(doc)
        weights = self.weights(doc, "weights")
        weights_onb = self.weights(doc, "weights_onboarding") if "weights_onboarding" in doc else dict(weights)
        comps = self.table(doc, "components")
        for name in comps:
            if name not in COMPONENTS:
                self.fail(f"unknown component [components.{name}]; known: {', '.join(COMPONENTS)}",
                          f"components.{name}")

        def comp(name: str, allowed: tuple[str, ...]) -> dict:
            section = f"components.{name}"
            value = comps.get(name)
            if not isinstance(value, dict):
                self.fail(f"missing section [{section}]")
            for key in value:
                if key not in allowed:
                    self.fail(f"[{section}] unknown setting {key!r}; expected {', '.join(allowed)}", section, key)
            for key in allowed:
                if key not in value:
                    self.fail(f"[{section}] missing {key}", section)
            return value

        us = comp("usage", ("stickiness", "trend_days", "trend", "trend_share"))
        se = comp("seats", ("points",))
        la = comp("last_activity", ("points",))
        ns = comp("nps", ("lookback_days", "points"))
        su = comp("support", ("penalty_per_open", "penalty_per_high", "penalty_per_urgent"))
        rv = comp("revenue", ("days", "points"))
        ob = comp("onboarding", ("expected_days", "points"))
        return HealthModel(
            path=self.name,
            weights=weights,
            weights_onboarding=weights_onb,
            onboarding_phase_days=phase,
            bands=bands,
            stickiness=self.curve(us["stickiness"], "components.usage", "stickiness"),
            usage_trend=self.curve(us["trend"], "components.usage", "trend"),
            trend_share=self.number(us["trend_share"], "components.usage", "trend_share", lo=0, hi=1),
            trend_days=int(self.number(us["trend_days"], "components.usage", "trend_days", lo=1, hi=180)),
            seats=self.curve(se["points"], "components.seats", "points"),
            last_activity=self.curve(la["points"], "components.last_activity", "points"),
            nps=self.curve(ns["points"], "components.nps", "points"),
            nps_lookback_days=int(self.number(ns["lookback_days"], "components.nps", "lookback_days", lo=1)),
            penalties={k: self.number(su[f"penalty_per_{k}"], "components.support", f"penalty_per_{k}", lo=0)
                       for k in ("open", "high", "urgent")},
            revenue=self.curve(rv["points"], "components.revenue", "points"),
            revenue_days=int(self.number(rv["days"], "components.revenue", "days", lo=1)),
            onboarding=self.curve(ob["points"], "components.onboarding", "points"),
            onboarding_expected_days=int(self.number(ob["expected_days"], "components.onboarding", "expected_days",
                                                     lo=1, hi=3650)),
        )


# =========================================================================== results


@dataclass(frozen=True)
class ComponentScore:
    score: float | None  # 0..100; None = no data (left out)
    raw: float | None  # the main number: stickiness, utilisation, days, NPS, open tickets, MRR change ...
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"score": None if self.score is None else round(self.score, 2), "raw": _json_num(self.raw),
                "detail": {k: _json_value(v) for k, v in self.detail.items()}}


@dataclass(frozen=True)
class AccountHealth:
    account_id: str
    day: date
    score: float | None
    band: str | None
    components: dict[str, ComponentScore]
    left_out: tuple[str, ...]  # components with no data (weights renormalised without them)
    weights: dict[str, float]  # the normalised weights used (sum 1 over the components scored)
    onboarding_phase: bool
    mrr: float
    paying: bool

    @property
    def rounded_score(self) -> int | None:
        return None if self.score is None else rounded(self.score)

    def components_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: comp.to_json() for name, comp in self.components.items()}
        out["_left_out"] = list(self.left_out)
        out["_onboarding_phase"] = self.onboarding_phase
        return out


@dataclass(frozen=True)
class SnapshotScore:
    """A score as of a day: from a stored snapshot or computed on the fly."""

    account_id: str
    day: date
    score: float | None
    band: str | None
    components: dict[str, float | None]  # component -> score
    stored: bool


def _json_num(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 4)
    return v


def _json_value(v: Any) -> Any:
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return _json_num(v)


# =========================================================================== SQL helpers


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time.min)


def _as_date(v: Any) -> date | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


def _as_datetime(v: Any) -> datetime | None:
    if v is None or isinstance(v, datetime):
        return v
    if isinstance(v, date):
        return _midnight(v)
    return datetime.fromisoformat(str(v))


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), _IN_CHUNK):
        yield ids[i:i + _IN_CHUNK]


def _active_on(day: date):
    return and_(s.c.start_date <= day, or_(s.c.end_date.is_(None), s.c.end_date > day))


def _by_account(conn: Connection, stmt, column, ids: Sequence[str] | None) -> list:
    """Run ``stmt`` for every account (ids None) or for the given ids, chunked."""
    if ids is None:
        return list(conn.execute(stmt).mappings())
    rows: list = []
    for chunk in _chunks(list(ids)):
        rows.extend(conn.execute(stmt.where(column.in_(chunk))).mappings())
    return rows


def _population(conn: Connection, day: date, filters: Filters, model: HealthModel,
                account_ids: Sequence[str] | None, paying_only: bool) -> list:
    """Accounts with their MRR on ``day`` and ``revenue_days`` before, first paid day and seats."""
    then = day - timedelta(days=model.revenue_days)
    agg = select(
        s.c.account_id,
        func.sum(case((_active_on(day), s.c.mrr), else_=0)).label("mrr"),
        func.sum(case((_active_on(then), s.c.mrr), else_=0)).label("mrr_then"),
        func.min(case((s.c.mrr > 0, s.c.start_date), else_=None)).label("first_paid"),
    ).where(s.c.start_date <= day).group_by(s.c.account_id)
    if account_ids is not None:
        agg = agg.where(s.c.account_id.in_(list(account_ids)))
    if paying_only:
        agg = agg.having(func.sum(case((_active_on(day), s.c.mrr), else_=0)) > 0)
    sub = agg.subquery("mrr_now")
    stmt = select(a.c.account_id, a.c.seats, sub.c.mrr, sub.c.mrr_then, sub.c.first_paid).select_from(
        a.join(sub, sub.c.account_id == a.c.account_id) if paying_only
        else a.outerjoin(sub, sub.c.account_id == a.c.account_id))
    if account_ids is not None:
        stmt = stmt.where(a.c.account_id.in_(list(account_ids)))
    cond = filters.account_condition()
    if cond is not None:
        stmt = stmt.where(cond)
    return list(conn.execute(stmt).mappings())


def _usage_rows(conn: Connection, day: date, trend_days: int, ids: Sequence[str] | None) -> dict[str, dict]:
    """Per account: user-days and users (MAU) in the 30 days before ``day``, user-days in the
    last ``trend_days`` and in the ``trend_days`` before those, and the last active day."""
    d30 = day - timedelta(days=30)
    recent, prev = day - timedelta(days=trend_days), day - timedelta(days=2 * trend_days)
    stmt = select(
        u.c.account_id,
        func.sum(case((u.c.day >= d30, 1), else_=0)).label("user_days"),
        func.sum(case((u.c.day >= recent, 1), else_=0)).label("recent"),
        func.sum(case((and_(u.c.day >= prev, u.c.day < recent), 1), else_=0)).label("previous"),
        func.count(func.distinct(case((u.c.day >= d30, u.c.user_id), else_=None))).label("mau"),
        func.max(u.c.day).label("last_day"),
    ).where(u.c.day >= min(prev, day - timedelta(days=_ACTIVE_WINDOW)), u.c.day < day).group_by(u.c.account_id)
    return {r["account_id"]: dict(r) for r in _by_account(conn, stmt, u.c.account_id, ids)}


_ACTIVE_WINDOW = 60  # days the usage statement looks back for the last active day


def _older_activity(conn: Connection, day: date, ids: Sequence[str], lookback: int = 730) -> dict[str, date]:
    """The last active day before the 60-day window, for accounts not active within it."""
    if not ids:
        return {}
    d60 = day - timedelta(days=_ACTIVE_WINDOW)
    stmt = select(u.c.account_id, func.max(u.c.day).label("last_day")).where(
        u.c.day < d60, u.c.day >= day - timedelta(days=lookback)).group_by(u.c.account_id)
    return {r["account_id"]: _as_date(r["last_day"]) for r in _by_account(conn, stmt, u.c.account_id, ids)}


def _nps_rows(conn: Connection, day: date, lookback: int, ids: Sequence[str] | None) -> dict[str, dict]:
    """Per account, over each respondent's latest answer in the look-back window:
    respondents, promoters, detractors; and the last answer's and last detractor's times."""
    since = _midnight(day - timedelta(days=lookback))
    who = func.coalesce(n.c.respondent, n.c.response_id)
    ranked = select(
        n.c.account_id, n.c.score, n.c.responded_at,
        func.row_number().over(partition_by=(n.c.account_id, who),
                               order_by=(n.c.responded_at.desc(), n.c.response_id.desc())).label("rn"),
    ).where(n.c.responded_at >= since, n.c.responded_at < _midnight(day))
    if ids is not None and len(ids) <= _IN_CHUNK:
        ranked = ranked.where(n.c.account_id.in_(list(ids)))
    r = ranked.subquery("latest_answers")
    stmt = select(
        r.c.account_id,
        func.count().label("respondents"),
        func.sum(case((r.c.score >= 9, 1), else_=0)).label("promoters"),
        func.sum(case((r.c.score <= 6, 1), else_=0)).label("detractors"),
        func.max(r.c.responded_at).label("last_at"),
        func.max(case((r.c.score <= 6, r.c.responded_at), else_=None)).label("last_detractor_at"),
    ).where(r.c.rn == 1).group_by(r.c.account_id)
    rows = conn.execute(stmt).mappings()
    wanted = None if ids is None else set(ids)
    return {x["account_id"]: dict(x) for x in rows if wanted is None or x["account_id"] in wanted}


def _ticket_rows(conn: Connection, day: date, ids: Sequence[str] | None) -> dict[str, dict]:
    """Per account: tickets open at 00:00 of ``day``, by priority."""
    at = _midnight(day)
    closed_status = func.lower(func.coalesce(t.c.status, "")).in_(("closed", "solved", "resolved"))
    still_open = and_(t.c.opened_at < at,
                      or_(t.c.closed_at >= at, and_(t.c.closed_at.is_(None), ~closed_status)))
    prio = func.lower(func.coalesce(t.c.priority, "normal"))
    stmt = select(
        t.c.account_id,
        func.count().label("open"),
        func.sum(case((prio == "urgent", 1), else_=0)).label("urgent"),
        func.sum(case((prio == "high", 1), else_=0)).label("high"),
        func.min(t.c.opened_at).label("oldest_opened_at"),
    ).where(still_open).group_by(t.c.account_id)
    return {r["account_id"]: dict(r) for r in _by_account(conn, stmt, t.c.account_id, ids)}


def _onboarding_rows(conn: Connection, day: date, milestones: Sequence[str], ids: Sequence[str] | None) -> dict[str, dict]:
    stmt = select(
        o.c.account_id,
        func.count(func.distinct(o.c.milestone)).label("done"),
        func.max(o.c.completed_at).label("last_at"),
    ).where(o.c.completed_at < _midnight(day), o.c.milestone.in_(list(milestones))).group_by(o.c.account_id)
    return {r["account_id"]: dict(r) for r in _by_account(conn, stmt, o.c.account_id, ids)}


def _tracked(conn: Connection, day: date) -> tuple[bool, bool, bool]:
    """Whether usage, tickets and onboarding hold any row before ``day`` (one statement):
    a source nobody syncs is "no data" for every account, not a zero."""
    at = _midnight(day)
    row = conn.execute(select(exists().where(u.c.day < day), exists().where(t.c.opened_at < at),
                              exists().where(o.c.completed_at < at))).one()
    return bool(row[0]), bool(row[1]), bool(row[2])


# =========================================================================== scoring


def score_accounts(conn: Connection, day: date, filters: Filters = NO_FILTERS, settings: Settings | None = None,
                   *, account_ids: Sequence[str] | None = None, model: HealthModel | None = None,
                   paying_only: bool | None = None) -> dict[str, AccountHealth]:
    """The health of every paying account on ``day`` (state at 00:00 of ``day``) passing ``filters``.

    With ``account_ids``, only those accounts are scored (paying or not, unless
    ``paying_only``), and every statement is filtered by them."""
    settings = settings or Settings()
    model = model or load_model()
    if paying_only is None:
        paying_only = account_ids is None
    pop = _population(conn, day, filters, model, account_ids, paying_only)
    if not pop:
        return {}
    ids: list[str] | None = [r["account_id"] for r in pop]
    # For the whole book, one grouped statement over every account beats long IN lists.
    query_ids = ids if account_ids is not None or len(ids) <= _IN_CHUNK else None
    milestones = tuple(settings.onboarding_milestones)

    usage_tracked, tickets_tracked, onboarding_tracked = _tracked(conn, day)
    usage = _usage_rows(conn, day, model.trend_days, query_ids) if usage_tracked else {}
    missing = [i for i in ids if i not in usage]
    older = _older_activity(conn, day, missing) if usage_tracked else {}
    nps = _nps_rows(conn, day, model.nps_lookback_days, query_ids)
    tickets = _ticket_rows(conn, day, query_ids) if tickets_tracked else {}
    onboarding = _onboarding_rows(conn, day, milestones, query_ids) if onboarding_tracked else {}

    out: dict[str, AccountHealth] = {}
    for row in pop:
        acc_id = row["account_id"]
        first_paid = _as_date(row["first_paid"])
        age = (day - first_paid).days if first_paid else None
        phase = age is not None and age < model.onboarding_phase_days
        comps = {
            "usage": _score_usage(model, usage.get(acc_id), usage_tracked, age),
            "seats": _score_seats(model, usage.get(acc_id), row["seats"], usage_tracked, age),
            "last_activity": _score_last_activity(model, day, usage.get(acc_id), older.get(acc_id), first_paid,
                                                  usage_tracked, age),
            "nps": _score_nps(model, nps.get(acc_id)),
            "support": _score_support(model, tickets.get(acc_id), tickets_tracked),
            "revenue": _score_revenue(model, float(row["mrr"] or 0), float(row["mrr_then"] or 0)),
            "onboarding": _score_onboarding(model, onboarding.get(acc_id), len(milestones), onboarding_tracked, age),
        }
        out[acc_id] = combine(acc_id, day, comps, model, phase, float(row["mrr"] or 0))
    return out


def combine(account_id: str, day: date, comps: dict[str, ComponentScore], model: HealthModel,
            onboarding_phase: bool = False, mrr: float = 0.0) -> AccountHealth:
    """The weighted mean of the component scores; components without data are left out
    and the remaining weights renormalised."""
    weights = model.weights_for(onboarding_phase)
    used = {k: w for k, w in weights.items() if w > 0 and comps.get(k) is not None and comps[k].score is not None}
    left_out = tuple(k for k in COMPONENTS if weights.get(k, 0) > 0 and (comps.get(k) is None or comps[k].score is None))
    total = sum(used.values())
    if total > 0:
        score = sum(comps[k].score * w for k, w in used.items()) / total  # type: ignore[operator]
        norm = {k: w / total for k, w in used.items()}
    else:
        score, norm = None, {}
    return AccountHealth(account_id=account_id, day=day, score=score, band=model.band(score), components=comps,
                         left_out=left_out, weights=norm, onboarding_phase=onboarding_phase, mrr=mrr,
                         paying=mrr > 0)


_NEW_ACCOUNT_DAYS = 30  # no usage yet in an account's first month is "no data", not "no use"


def _no_usage_data(row: dict | None, tracked: bool, age: int | None) -> bool:
    if row is not None:
        return False
    return not tracked or age is None or age < _NEW_ACCOUNT_DAYS


def _score_usage(model: HealthModel, row: dict | None, tracked: bool, age: int | None) -> ComponentScore:
    if _no_usage_data(row, tracked, age):
        return ComponentScore(None, None, {"reason": "no usage data"})
    user_days = int(row["user_days"] or 0) if row else 0
    recent = int(row["recent"] or 0) if row else 0
    prev = int(row["previous"] or 0) if row else 0
    mau = int(row["mau"] or 0) if row else 0
    stickiness = (user_days / 30) / mau if mau else 0.0
    sticky_score = model.stickiness(stickiness)
    change = (recent - prev) / prev if prev else None
    if change is None:
        score = sticky_score
    else:
        share = model.trend_share
        score = (1 - share) * sticky_score + share * model.usage_trend(change)
    return ComponentScore(score, stickiness, {"stickiness": stickiness, "user_days_30": user_days, "mau": mau,
                                              "trend_days": model.trend_days, "user_days_recent": recent,
                                              "user_days_before": prev, "change": change})


def _score_seats(model: HealthModel, row: dict | None, seats: int | None, tracked: bool,
                 age: int | None) -> ComponentScore:
    if not seats or seats <= 0:
        return ComponentScore(None, None, {"reason": "no seat count"})
    if _no_usage_data(row, tracked, age):
        return ComponentScore(None, None, {"reason": "no usage data"})
    mau = int(row["mau"] or 0) if row else 0
    util = mau / seats
    return ComponentScore(model.seats(util), util, {"active_users": mau, "seats": seats, "utilisation": util})


def _score_last_activity(model: HealthModel, day: date, row: dict | None, older: date | None,
                         first_paid: date | None, tracked: bool, age: int | None) -> ComponentScore:
    last = _as_date(row["last_day"]) if row else older
    if last is None and _no_usage_data(row, tracked, age):
        return ComponentScore(None, None, {"reason": "no usage data"})
    since = last or first_paid
    if since is None:
        return ComponentScore(None, None, {"reason": "no usage data"})
    # Active yesterday (day - 1) is 1 day since the last activity.
    days = max(0, (day - since).days)
    return ComponentScore(model.last_activity(days), float(days), {"days": days, "last_active": last})


def nps_value(promoters: int, detractors: int, respondents: int) -> int | None:
    if not respondents:
        return None
    return int(math.floor(100 * (promoters - detractors) / respondents + 0.5))


def _score_nps(model: HealthModel, row: dict | None) -> ComponentScore:
    if row is None or not row["respondents"]:
        return ComponentScore(None, None, {"reason": "no NPS answer"})
    value = nps_value(int(row["promoters"]), int(row["detractors"]), int(row["respondents"]))
    return ComponentScore(model.nps(value), float(value), {
        "nps": value, "respondents": int(row["respondents"]), "promoters": int(row["promoters"]),
        "detractors": int(row["detractors"]), "last_at": _as_datetime(row["last_at"]),
        "last_detractor_at": _as_datetime(row["last_detractor_at"])})


def _score_support(model: HealthModel, row: dict | None, tracked: bool) -> ComponentScore:
    if not tracked:
        return ComponentScore(None, None, {"reason": "no ticket data"})
    total = int(row["open"]) if row else 0
    urgent = int(row["urgent"] or 0) if row else 0
    high = int(row["high"] or 0) if row else 0
    other = total - urgent - high
    p = model.penalties
    score = max(0.0, 100.0 - p["open"] * other - p["high"] * high - p["urgent"] * urgent)
    return ComponentScore(score, float(total), {"open": total, "urgent": urgent, "high": high,
                                                "oldest_opened_at": _as_datetime(row["oldest_opened_at"]) if row else None})


def _score_revenue(model: HealthModel, mrr: float, mrr_then: float) -> ComponentScore:
    if mrr_then <= 0:
        return ComponentScore(None, None, {"reason": f"not paying {model.revenue_days} days before", "mrr": mrr})
    change = (mrr - mrr_then) / mrr_then
    return ComponentScore(model.revenue(change), change, {"mrr": mrr, "mrr_then": mrr_then, "change": change,
                                                          "days": model.revenue_days})


def _score_onboarding(model: HealthModel, row: dict | None, required: int, tracked: bool,
                      age: int | None) -> ComponentScore:
    """Progress against the schedule: share of milestones done minus the share expected by the
    account's age (all of them ``expected_days`` after the first paid day)."""
    if not tracked or not required:
        return ComponentScore(None, None, {"reason": "no onboarding data"})
    done = min(required, int(row["done"])) if row else 0
    share = done / required
    expected = 1.0 if age is None else min(1.0, max(0, age) / model.onboarding_expected_days)
    gap = share - expected
    return ComponentScore(model.onboarding(min(0.0, gap)), gap,
                          {"done": done, "required": required, "expected": expected})


# =========================================================================== snapshots


def _snapshot_row(hl: AccountHealth) -> dict[str, Any]:
    return {"account_id": hl.account_id, "day": hl.day, "score": None if hl.score is None else round(hl.score, 4),
            "band": hl.band, "components": hl.components_json()}


def write_snapshots(conn: Connection, day: date, settings: Settings | None = None,
                    *, model: HealthModel | None = None) -> int:
    """Store the health of every paying account on ``day``; replaces that day's rows (idempotent)."""
    scores = score_accounts(conn, day, NO_FILTERS, settings, model=model)
    conn.execute(delete(h).where(h.c.day == day))
    rows = [_snapshot_row(x) for x in scores.values()]
    for i in range(0, len(rows), 1000):
        conn.execute(insert(h), rows[i:i + 1000])
    logger.info("health snapshots for %s: %d accounts", day, len(rows))
    return len(rows)


def has_snapshots(conn: Connection, day: date) -> bool:
    return bool(conn.execute(select(exists().where(h.c.day == day))).scalar())


def ensure_snapshots(engine: Engine, day: date, settings: Settings | None = None) -> int:
    """Write ``day``'s snapshots unless they exist. Returns how many rows were written (0: already there)."""
    with engine.begin() as conn:
        if has_snapshots(conn, day):
            return 0
        return write_snapshots(conn, day, settings)


def daily_snapshot_job(engine: Engine, settings: Settings) -> int:
    """For the bot's scheduler: today's snapshots (state at 00:00 today), rewritten with the latest data."""
    today = datetime.now(settings.tz).date()
    with engine.begin() as conn:
        return write_snapshots(conn, today, settings)


def _after_sync(conn: Connection, summary: Any) -> None:
    """After every sync: today's snapshots from the fresh data, in the sync's transaction."""
    if getattr(summary, "status", "ok") not in ("ok", "dry-run"):
        return
    try:
        from metrics.settings import load_settings

        settings = load_settings()
    except Exception:  # a bad unrelated setting must not fail the sync's snapshot
        settings = Settings()
    write_snapshots(conn, datetime.now(settings.tz).date(), settings)


try:  # the sync engine offers hooks; snapshot after every sync when it is there
    from metrics.sync import register_after_sync as _register_after_sync
except Exception:  # pragma: no cover - sync not available
    _register_after_sync = None
if _register_after_sync is not None:
    _register_after_sync(_after_sync)


def scores_as_of(conn: Connection, day: date, filters: Filters = NO_FILTERS, settings: Settings | None = None,
                 *, account_ids: Sequence[str] | None = None, model: HealthModel | None = None) -> dict[str, SnapshotScore]:
    """Scores on ``day``: the stored snapshots when that day has them, else computed on the fly (backfill)."""
    if has_snapshots(conn, day):
        stmt = select(h.c.account_id, h.c.score, h.c.band, h.c.components).where(h.c.day == day)
        if account_ids is not None:
            stmt = stmt.where(h.c.account_id.in_(list(account_ids)))
        cond = filters.account_condition()
        if cond is not None:
            stmt = stmt.where(h.c.account_id.in_(select(a.c.account_id).where(cond)))
        out = {}
        for r in conn.execute(stmt).mappings():
            comps = r["components"] or {}
            out[r["account_id"]] = SnapshotScore(
                r["account_id"], day, r["score"], r["band"],
                {k: (v or {}).get("score") for k, v in comps.items() if not k.startswith("_") and isinstance(v, dict)},
                stored=True)
        return out
    computed = score_accounts(conn, day, filters, settings, account_ids=account_ids, model=model,
                              paying_only=True)
    return {k: _as_snapshot(v) for k, v in computed.items()}


def _as_snapshot(hl: AccountHealth) -> SnapshotScore:
    return SnapshotScore(hl.account_id, hl.day, hl.score, hl.band,
                         {k: v.score for k, v in hl.components.items()}, stored=False)


# =========================================================================== one account's facts


@dataclass(frozen=True)
class AccountFacts:
    account_id: str
    name: str
    plan: str | None
    segment: str | None
    owner: str | None
    seats: int | None
    renewal_date: date | None
    mrr: float
    active_users_30: int
    last_active: date | None
    nps_score: int | None  # latest single answer (0-10)
    nps_at: datetime | None
    csat_score: int | None  # latest answer (1-5)
    csat_at: datetime | None
    csat_mean_90: float | None
    csat_answers_90: int
    milestones_done: tuple[str, ...]
    milestones_required: tuple[str, ...]
    onboarding_done_at: datetime | None
    first_paid: date | None
    churned_on: date | None  # last end date when the account is not paying on the day


def account_facts(conn: Connection, account_id: str, day: date, settings: Settings | None = None) -> AccountFacts:
    """The key facts of one account as of ``day``: two statements, every part filtered by its id."""
    settings = settings or Settings()
    at = _midnight(day)
    since90 = _midnight(day - timedelta(days=90))
    mine_s, mine_u = s.c.account_id == account_id, u.c.account_id == account_id
    mine_n, mine_c = n.c.account_id == account_id, c.c.account_id == account_id

    def scalar(stmt):
        return stmt.scalar_subquery()

    latest_nps = select(n.c.score, n.c.responded_at).where(mine_n, n.c.responded_at < at).order_by(
        n.c.responded_at.desc(), n.c.response_id.desc()).limit(1)
    latest_csat = select(c.c.score, c.c.responded_at).where(mine_c, c.c.responded_at < at).order_by(
        c.c.responded_at.desc(), c.c.response_id.desc()).limit(1)
    stmt = select(
        a.c.name, a.c.plan, a.c.segment, a.c.owner, a.c.seats, a.c.renewal_date,
        scalar(select(func.coalesce(func.sum(s.c.mrr), 0)).where(mine_s, _active_on(day))).label("mrr"),
        scalar(select(func.min(s.c.start_date)).where(mine_s, s.c.mrr > 0, s.c.start_date <= day)).label("first_paid"),
        scalar(select(func.max(s.c.end_date)).where(mine_s, s.c.start_date <= day)).label("last_end"),
        scalar(select(s.c.product).where(mine_s, _active_on(day)).order_by(s.c.mrr.desc()).limit(1)).label("product"),
        scalar(select(func.count(func.distinct(u.c.user_id))).where(
            mine_u, u.c.day >= day - timedelta(days=30), u.c.day < day)).label("users"),
        scalar(select(func.max(u.c.day)).where(mine_u, u.c.day < day)).label("last_active"),
        scalar(latest_nps.with_only_columns(n.c.score)).label("nps_score"),
        scalar(latest_nps.with_only_columns(n.c.responded_at)).label("nps_at"),
        scalar(latest_csat.with_only_columns(c.c.score)).label("csat_score"),
        scalar(latest_csat.with_only_columns(c.c.responded_at)).label("csat_at"),
        scalar(select(func.avg(c.c.score)).where(mine_c, c.c.responded_at < at, c.c.responded_at >= since90)).label("csat_mean"),
        scalar(select(func.count()).where(mine_c, c.c.responded_at < at, c.c.responded_at >= since90)).label("csat_n"),
    ).where(a.c.account_id == account_id)
    r = conn.execute(stmt).mappings().one()
    required = tuple(settings.onboarding_milestones)
    done_rows = conn.execute(select(o.c.milestone, o.c.completed_at).where(
        o.c.account_id == account_id, o.c.completed_at < at)).all()
    done = tuple(m for m in required if m in {x[0] for x in done_rows})
    done_at = max((_as_datetime(x[1]) for x in done_rows if x[0] in required), default=None) \
        if len(done) == len(required) else None
    mrr = float(r["mrr"] or 0)
    last_end = _as_date(r["last_end"])
    churned_on = last_end if mrr <= 0 and last_end is not None and last_end <= day else None
    return AccountFacts(
        account_id=account_id, name=r["name"], plan=r["plan"] or r["product"], segment=r["segment"], owner=r["owner"],
        seats=r["seats"], renewal_date=_as_date(r["renewal_date"]), mrr=mrr, active_users_30=int(r["users"] or 0),
        last_active=_as_date(r["last_active"]),
        nps_score=None if r["nps_score"] is None else int(r["nps_score"]), nps_at=_as_datetime(r["nps_at"]),
        csat_score=None if r["csat_score"] is None else int(r["csat_score"]), csat_at=_as_datetime(r["csat_at"]),
        csat_mean_90=None if not r["csat_n"] else float(r["csat_mean"]), csat_answers_90=int(r["csat_n"] or 0),
        milestones_done=done, milestones_required=required, onboarding_done_at=done_at,
        first_paid=_as_date(r["first_paid"]), churned_on=churned_on,
    )


@dataclass(frozen=True)
class AccountView:
    """One account: health now, 30 days before, and the facts."""

    now: AccountHealth
    before: SnapshotScore | None
    before_day: date
    facts: AccountFacts

    @property
    def change(self) -> float | None:
        if self.before is None or self.before.score is None or self.now.score is None:
            return None
        return self.now.score - self.before.score

    def movers(self) -> list[tuple[str, float]]:
        """Components by how much they moved the score (points of the total), largest first.

        With no earlier score, by how far each holds the score below 100."""
        out = []
        for name, comp in self.now.components.items():
            w = self.now.weights.get(name)
            if not w or comp.score is None:
                continue
            if self.before is not None and self.before.components.get(name) is not None:
                out.append((name, w * (comp.score - self.before.components[name])))
            else:
                out.append((name, w * (comp.score - 100)))
        out.sort(key=lambda x: abs(x[1]), reverse=True)
        return out


def account_view(conn: Connection, account_id: str, day: date, settings: Settings | None = None,
                 *, model: HealthModel | None = None, compare_days: int = 30) -> AccountView:
    model = model or load_model()
    now = score_accounts(conn, day, NO_FILTERS, settings, account_ids=[account_id], model=model)[account_id]
    before_day = day - timedelta(days=compare_days)
    before = scores_as_of(conn, before_day, NO_FILTERS, settings, account_ids=[account_id], model=model).get(account_id)
    return AccountView(now=now, before=before, before_day=before_day, facts=account_facts(conn, account_id, day, settings))


# =========================================================================== portfolio


@dataclass(frozen=True)
class PortfolioRow:
    account_id: str
    name: str
    owner: str | None
    mrr: float
    score: float | None
    band: str | None
    previous: float | None  # score 30 days before
    renewal_date: date | None

    @property
    def change(self) -> float | None:
        if self.score is None or self.previous is None:
            return None
        return self.score - self.previous


@dataclass(frozen=True)
class Portfolio:
    day: date
    before_day: date
    rows: tuple[PortfolioRow, ...]  # at-risk first: red by score, then the rest by fall
    counts: dict[str, int]
    mrr: dict[str, float]
    mean_score: float | None

    @property
    def total(self) -> int:
        return len(self.rows)


def portfolio(conn: Connection, day: date, filters: Filters = NO_FILTERS, settings: Settings | None = None,
              *, model: HealthModel | None = None, compare_days: int = 30) -> Portfolio:
    model = model or load_model()
    # (mrr, score, band) per account: today's stored snapshot when the sync or the daily job
    # wrote it (one read instead of scoring every account again), else computed.
    if has_snapshots(conn, day):
        stored = scores_as_of(conn, day, filters, settings, model=model)
        mrrs = _mrr_on(conn, day, list(stored))
        now = {k: (mrrs.get(k, 0.0), v.score, v.band) for k, v in stored.items()}
    else:
        now = {k: (hl.mrr, hl.score, hl.band) for k, hl in score_accounts(conn, day, filters, settings,
                                                                           model=model).items()}
    before_day = day - timedelta(days=compare_days)
    before = scores_as_of(conn, before_day, filters, settings, model=model) if now else {}
    names = _names(conn, list(now))
    rows = []
    for acc_id, (acc_mrr, score, band) in now.items():
        prev = before.get(acc_id)
        info = names.get(acc_id, {})
        rows.append(PortfolioRow(acc_id, info.get("name", acc_id), info.get("owner"), acc_mrr, score, band,
                                 prev.score if prev else None, _as_date(info.get("renewal_date"))))

    def risk_key(r: PortfolioRow):
        red = r.band == "red"
        change = r.change if r.change is not None else 0.0
        return (0 if red else 1, r.score if red and r.score is not None else change, -r.mrr)

    rows.sort(key=risk_key)
    counts = {b: 0 for b in BANDS}
    mrr = {b: 0.0 for b in BANDS}
    for r in rows:
        if r.band:
            counts[r.band] += 1
            mrr[r.band] += r.mrr
    scored = [r.score for r in rows if r.score is not None]
    return Portfolio(day, before_day, tuple(rows), counts, mrr, sum(scored) / len(scored) if scored else None)


def _names(conn: Connection, ids: Sequence[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    stmt = select(a.c.account_id, a.c.name, a.c.owner, a.c.renewal_date)
    if len(ids) > _IN_CHUNK:
        wanted = set(ids)
        for r in conn.execute(stmt).mappings():
            if r["account_id"] in wanted:
                out[r["account_id"]] = dict(r)
        return out
    for r in conn.execute(stmt.where(a.c.account_id.in_(list(ids)))).mappings():
        out[r["account_id"]] = dict(r)
    return out


# =========================================================================== who dropped to red


@dataclass(frozen=True)
class Drop:
    account_id: str
    name: str
    owner: str | None
    day: date  # the first day it was red
    from_band: str | None
    score: float | None
    mrr: float


@dataclass(frozen=True)
class DropReport:
    start: date
    end: date  # exclusive
    drops: tuple[Drop, ...]
    from_snapshots: bool  # False: compared the scores computed on the two ends


def dropped_to_red(conn: Connection, start: date, end: date, filters: Filters = NO_FILTERS,
                   settings: Settings | None = None, *, today: date | None = None,
                   model: HealthModel | None = None) -> DropReport:
    """Accounts whose band fell into red on a day of ``[start, end)`` (days capped at today).

    From the daily snapshots (a red snapshot whose previous snapshot was not red, still red
    at the end); without snapshots in the period and before it, the scores at both ends are
    computed and compared."""
    model = model or load_model()
    last = min(end, (today or end - timedelta(days=1)) + timedelta(days=1))
    # Snapshots answer when they cover the period and the days just before it (the band it fell from).
    covered = select(exists().where(h.c.day >= start, h.c.day < last),
                     exists().where(h.c.day < start, h.c.day >= start - timedelta(days=60)))
    cond = filters.account_condition()
    if all(conn.execute(covered).one()):
        prev_band = func.lag(h.c.band).over(partition_by=h.c.account_id, order_by=h.c.day)
        seq = select(h.c.account_id, h.c.day, h.c.band, h.c.score, prev_band.label("prev_band")).where(
            h.c.day >= start - timedelta(days=60), h.c.day < last)
        if cond is not None:
            seq = seq.where(h.c.account_id.in_(select(a.c.account_id).where(cond)))
        q = seq.subquery("seq")
        stmt = select(q.c.account_id, q.c.day, q.c.prev_band, q.c.score).where(
            q.c.day >= start, q.c.band == "red", or_(q.c.prev_band.is_(None), q.c.prev_band != "red"),
            q.c.prev_band.is_not(None)).order_by(q.c.day)
        found: dict[str, dict] = {}
        for r in conn.execute(stmt).mappings():
            found.setdefault(r["account_id"], dict(r))
        # still red at the end of the period? keep only those whose latest snapshot is red
        latest = select(h.c.account_id, func.max(h.c.day).label("day")).where(
            h.c.day < last, h.c.account_id.in_(list(found) or [""])).group_by(h.c.account_id).subquery()
        still = {r[0] for r in conn.execute(select(h.c.account_id).join(
            latest, and_(latest.c.account_id == h.c.account_id, latest.c.day == h.c.day)).where(h.c.band == "red"))}
        ids = [i for i in found if i in still]
        info = _names(conn, ids)
        mrrs = _mrr_on(conn, last - timedelta(days=1), ids)
        drops = [Drop(i, info.get(i, {}).get("name", i), info.get(i, {}).get("owner"), _as_date(found[i]["day"]),
                      found[i]["prev_band"], found[i]["score"], mrrs.get(i, 0.0)) for i in ids]
        return DropReport(start, end, tuple(drops), True)
    before = scores_as_of(conn, start, filters, settings, model=model)
    after_day = last - timedelta(days=1) if last - timedelta(days=1) > start else last
    after = score_accounts(conn, after_day, filters, settings, model=model)
    ids = [i for i, x in after.items() if x.band == "red" and i in before and before[i].band not in ("red", None)]
    info = _names(conn, ids)
    drops = [Drop(i, info.get(i, {}).get("name", i), info.get(i, {}).get("owner"), after_day, before[i].band,
                  after[i].score, after[i].mrr) for i in ids]
    drops.sort(key=lambda d: (d.score if d.score is not None else 0))
    return DropReport(start, end, tuple(drops), False)


def _mrr_on(conn: Connection, day: date, ids: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for chunk in _chunks(list(ids)):
        stmt = select(s.c.account_id, func.sum(s.c.mrr)).where(_active_on(day), s.c.account_id.in_(chunk)).group_by(
            s.c.account_id)
        out.update({r[0]: float(r[1] or 0) for r in conn.execute(stmt)})
    return out


# =========================================================================== backtest


def roc_auc(scores_churned: Sequence[float], scores_stayed: Sequence[float]) -> float | None:
    """How well a low score points at churn: the probability that a random stayer
    scored higher than a random churner (ties count half). Mann-Whitney U / (n1 n2)."""
    n1, n0 = len(scores_churned), len(scores_stayed)
    if not n1 or not n0:
        return None
    values = sorted([(v, 0) for v in scores_churned] + [(v, 1) for v in scores_stayed])
    # average ranks over ties
    rank_sum_stayed = 0.0
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1][0] == values[i][0]:
            j += 1
        avg_rank = (i + j) / 2 + 1
        rank_sum_stayed += avg_rank * sum(1 for k in range(i, j + 1) if values[k][1] == 1)
        i = j + 1
    u_stat = rank_sum_stayed - n0 * (n0 + 1) / 2
    return u_stat / (n0 * n1)


@dataclass(frozen=True)
class BacktestMonth:
    month: date  # first day of the month
    as_of: date  # 60 days before
    accounts: int
    churned: int
    churned_flagged: int  # churned and red/yellow on as_of
    stayed_flagged: int
    auc: float | None


@dataclass(frozen=True)
class BacktestResult:
    months: tuple[BacktestMonth, ...]
    lead_days: int
    accounts: int  # account-months scored
    churned: int
    stayed: int
    churned_flagged: int
    stayed_flagged: int
    churned_red: int
    auc: float | None
    model_path: str

    @property
    def share_churned_flagged(self) -> float | None:
        return self.churned_flagged / self.churned if self.churned else None

    @property
    def share_stayed_flagged(self) -> float | None:
        return self.stayed_flagged / self.stayed if self.stayed else None

    def to_json(self) -> dict[str, Any]:
        return {
            "months": [{"month": m.month.isoformat(), "as_of": m.as_of.isoformat(), "accounts": m.accounts,
                        "churned": m.churned, "churned_flagged": m.churned_flagged,
                        "stayed_flagged": m.stayed_flagged, "auc": m.auc} for m in self.months],
            "lead_days": self.lead_days, "accounts": self.accounts, "churned": self.churned, "stayed": self.stayed,
            "churned_flagged": self.churned_flagged, "stayed_flagged": self.stayed_flagged,
            "churned_red": self.churned_red,
            "share_churned_flagged": self.share_churned_flagged, "share_stayed_flagged": self.share_stayed_flagged,
            "auc": self.auc, "model": self.model_path,
        }


def _paying_between(conn: Connection, start: date, end: date, ids: Sequence[str]) -> dict[str, tuple[bool, bool]]:
    """Per account: (paying at 00:00 of start, paying at 00:00 of end)."""
    out: dict[str, tuple[bool, bool]] = {}
    for chunk in _chunks(list(ids)):
        stmt = select(
            s.c.account_id,
            func.sum(case((_active_on(start), s.c.mrr), else_=0)).label("m0"),
            func.sum(case((_active_on(end), s.c.mrr), else_=0)).label("m1"),
        ).where(s.c.account_id.in_(chunk), s.c.start_date <= end).group_by(s.c.account_id)
        for r in conn.execute(stmt).mappings():
            out[r["account_id"]] = (float(r["m0"] or 0) > 0, float(r["m1"] or 0) > 0)
    return out


def backtest(engine: Engine | Connection, months: int = 6, settings: Settings | None = None, *,
             today: date | None = None, lead_days: int = 60, model: HealthModel | None = None,
             filters: Filters = NO_FILTERS) -> BacktestResult:
    """How well the score, taken ``lead_days`` before each of the last ``months``
    complete months, separated the accounts that churned in the month from those that stayed.

    Sample of a month M: accounts paying ``lead_days`` before M's first day and
    still paying on it; churned = not paying at the start of the next month."""
    settings = settings or Settings()
    model = model or load_model()
    today = today or datetime.now(settings.tz).date()
    if months < 1:
        raise ValueError("months must be at least 1")
    first = add_months(today.replace(day=1), -months)
    if isinstance(engine, Connection):
        return _backtest(engine, first, months, settings, lead_days, model, filters)
    with engine.connect() as conn:
        return _backtest(conn, first, months, settings, lead_days, model, filters)


def _backtest(conn: Connection, first: date, months: int, settings: Settings, lead_days: int, model: HealthModel,
              filters: Filters) -> BacktestResult:
    all_churned: list[float] = []
    all_stayed: list[float] = []
    rows = []
    churned_flagged = stayed_flagged = churned_red = 0
    for k in range(months):
        month = add_months(first, k)
        nxt = add_months(month, 1)
        as_of = month - timedelta(days=lead_days)
        scores = score_accounts(conn, as_of, filters, settings, model=model)
        paying = _paying_between(conn, month, nxt, list(scores))
        ch: list[float] = []
        st: list[float] = []
        cf = sf = 0
        for acc_id, hl in scores.items():
            at_start, at_end = paying.get(acc_id, (False, False))
            if not at_start or hl.score is None:
                continue
            flagged = hl.band in RISKY_BANDS
            if at_end:
                st.append(hl.score)
                sf += flagged
            else:
                ch.append(hl.score)
                cf += flagged
                churned_red += hl.band == "red"
        rows.append(BacktestMonth(month, as_of, len(ch) + len(st), len(ch), cf, sf, roc_auc(ch, st)))
        all_churned += ch
        all_stayed += st
        churned_flagged += cf
        stayed_flagged += sf
    return BacktestResult(tuple(rows), lead_days, len(all_churned) + len(all_stayed), len(all_churned),
                          len(all_stayed), churned_flagged, stayed_flagged, churned_red,
                          roc_auc(all_churned, all_stayed), model.path)


# =========================================================================== the metric


def _health_metric(calc: Calc, period: Period, filters: Filters) -> Measurement:
    today = calc.today or datetime.now(calc.settings.tz).date()
    day = min(period.end, today)
    scores = calc.memo(("health_scores", day, filters),
                       lambda: score_accounts(calc.conn, day, filters, calc.settings))
    counts = {b: 0 for b in BANDS}
    mrr = {b: 0.0 for b in BANDS}
    values = []
    for x in scores.values():
        if x.score is None:
            continue
        values.append(x.score)
        counts[x.band] += 1  # type: ignore[index]
        mrr[x.band] += x.mrr  # type: ignore[index]
    mean = sum(values) / len(values) if values else None
    parts: dict[str, Any] = {"accounts": len(values), "score_sum": round(sum(values), 2), "as_of": day}
    for b in BANDS:
        parts[f"{b}_accounts"] = counts[b]
        parts[f"{b}_mrr"] = round(mrr[b], 2)
    return Measurement(None if mean is None else round(mean, 2), parts)


HEALTH_SCORE = declare(MetricDef(
    name="health_score",
    unit="score",
    family="health",
    label_en="Health score",
    label_ja="ヘルススコア",
    description_en="Mean health score (0-100) of the paying accounts at the end of the period; "
                   "each account's score is the weighted mean of usage, seats, activity, NPS, support, "
                   "revenue trend and onboarding. Bands: 0-50 red, 51-75 yellow, 76-100 green.",
    description_ja="期末時点の有料顧客のヘルススコア（0〜100）の平均。各顧客のスコアは利用状況・シート利用率・"
                   "最終利用日・NPS・サポート・収益の推移・オンボーディングの加重平均。0〜50 赤、51〜75 黄、76〜100 緑。",
    formula_en="sum of account scores / paying accounts",
    formula_ja="各顧客のスコアの合計 ÷ 有料顧客数",
    compute=_health_metric,
    how_en="{score_sum} / {accounts} accounts = {value} (red {red_accounts}, yellow {yellow_accounts}, "
           "green {green_accounts})",
    how_ja="{score_sum} ÷ {accounts}社 = {value}（赤 {red_accounts}社、黄 {yellow_accounts}社、緑 {green_accounts}社）",
    part_units={"red_mrr": "money", "yellow_mrr": "money", "green_mrr": "money"},
    higher_is_better=True,
    point_in_time=True,
))


# =========================================================================== CLI


def cli(argv: Sequence[str] | None, settings: Settings) -> int:
    """``csbot health --backtest N`` / ``--snapshot`` (the integrator wires it into bot/cli.py)."""
    parser = argparse.ArgumentParser(
        prog="csbot health",
        description="Health score: backtest the model against real churn, or write the daily snapshots.",
        epilog="examples:\n  csbot health --backtest 6\n  csbot health --snapshot\n"
               f"The model is {DEFAULT_MODEL_PATH.name}, or the file named by {MODEL_ENV}.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backtest", type=int, metavar="MONTHS", nargs="?", const=6,
                        help="score accounts 60 days before each of the last MONTHS months and compare with churn")
    parser.add_argument("--lead-days", type=int, default=60, metavar="DAYS",
                        help="with --backtest: score this many days before each month starts (default 60)")
    parser.add_argument("--snapshot", action="store_true", help="write today's health snapshots (every paying account)")
    parser.add_argument("--day", metavar="YYYY-MM-DD", help="with --snapshot: the day to write instead of today")
    parser.add_argument("--json", action="store_true", help="print the backtest as JSON")
    args = parser.parse_args(list(argv or []))
    if args.backtest is None and not args.snapshot:
        parser.print_usage(sys.stderr)
        print("csbot health: choose --backtest N or --snapshot", file=sys.stderr)
        return 2
    if not 0 <= args.lead_days <= 365:
        print("csbot health: --lead-days takes a number of days from 0 to 365, e.g. --lead-days 60", file=sys.stderr)
        return 2
    if args.backtest is not None and not 1 <= args.backtest <= 36:
        print("csbot health: --backtest takes a number of months from 1 to 36, e.g. --backtest 6", file=sys.stderr)
        return 2
    try:
        model = load_model()
    except HealthModelError as exc:
        print(f"csbot health: {exc}", file=sys.stderr)
        return 2
    from metrics.db import DatabaseUnavailable, is_empty, open_database

    try:
        db = open_database(settings)
        if is_empty(db.engine):
            print("csbot health: this database holds no data yet; load it with csbot sync --csv <folder> (or csbot demo)",
                  file=sys.stderr)
            return 1
        if args.snapshot:
            day = datetime.now(settings.tz).date()
            if args.day:
                try:
                    day = date.fromisoformat(args.day)
                except ValueError:
                    print(f"csbot health: --day expects a date like 2026-11-22, got {args.day!r}", file=sys.stderr)
                    return 2
            with db.engine.begin() as conn:
                written = write_snapshots(conn, day, settings, model=model)
            print(f"Health snapshots for {day.isoformat()}: {written:,} paying accounts.")
        if args.backtest is not None:
            result = backtest(db.engine, args.backtest, settings, model=model, lead_days=args.lead_days)
            if args.json:
                import json

                print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
            else:
                print(format_backtest(result))
    except DatabaseUnavailable as exc:
        print(f"csbot health: {exc}", file=sys.stderr)
        return 1
    return 0


def format_backtest(r: BacktestResult, lang: str = "en") -> str:
    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v * 100:.1f}%"

    auc = "—" if r.auc is None else f"{r.auc:.2f}"
    if lang == "ja":
        lines = [
            f"ヘルススコアのバックテスト（直近{len(r.months)}か月、各月の{r.lead_days}日前のスコア）",
            f"解約した顧客 {r.churned}社のうち {pct(r.share_churned_flagged)} が赤または黄（{r.churned_flagged}社、うち赤 {r.churned_red}社）",
            f"継続した顧客 {r.stayed}社のうち {pct(r.share_stayed_flagged)} が赤または黄（{r.stayed_flagged}社）",
            f"ROC AUC {auc}（0.5 は偶然と同じ、1.0 は完全に分離）",
        ]
    else:
        lines = [
            f"Health score backtest: the last {len(r.months)} months, each scored {r.lead_days} days before it started",
            f"Churned accounts that were red or yellow: {pct(r.share_churned_flagged)} "
            f"({r.churned_flagged} of {r.churned}; {r.churned_red} red)",
            f"Accounts that stayed but were red or yellow: {pct(r.share_stayed_flagged)} ({r.stayed_flagged} of {r.stayed})",
            f"ROC AUC {auc} (0.5 = no better than chance, 1.0 = perfect separation)",
        ]
    lines.append("")
    head = "  month     as of       accounts  churned  flagged  AUC" if lang != "ja" else "  月         スコア日     顧客数  解約  赤黄  AUC"
    lines.append(head)
    for m in r.months:
        m_auc = "—" if m.auc is None else f"{m.auc:.2f}"
        lines.append(f"  {m.month.strftime('%Y-%m')}   {m.as_of.isoformat()}  {m.accounts:8d}  {m.churned:7d}  "
                     f"{m.churned_flagged:7d}  {m_auc}")
    return "\n".join(lines)
