"""What the answers look at: one account (its facts, its health now and
``compare_days`` before, what moved it), the portfolio by band with the accounts
at risk (red, then yellow) first, and who dropped to red in a period.

The portfolio reads today's stored snapshots when the day has them (one statement
with the names, the MRR and the scores of the day before, sorted by the database,
instead of scoring every account again). Its "before" side reads the snapshots of
``compare_days`` before, or of the nearest earlier stored day within
``SNAPSHOT_TOLERANCE_DAYS`` (``Portfolio.before_day`` names the day compared with),
and computes the scores of ``compare_days`` before only when no such day is stored.
The account view's "before" reads the snapshot of that day, or computes it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, and_, case, exists, func, null, or_, select, union_all

from metrics import revenue_state, schema
from metrics.active import active_on
from metrics.filters import NO_FILTERS, Filters
from metrics.health.model import BANDS, HealthModel, model_for
from metrics.health.score import AccountHealth, score_accounts
from metrics.health.snapshots import SnapshotScore, has_snapshots, scores_as_of, snapshot_day_near, stored_bands
from metrics.health.sql import account_mrr_on, account_names, mrr_on
from metrics.periods import as_date, as_datetime, midnight
from metrics.settings import Settings

a = schema.accounts
s = schema.subscriptions
u = schema.usage_daily
n = schema.nps_responses
c = schema.csat_responses
o = schema.onboarding
h = schema.health_snapshots


@dataclass(frozen=True)
class AccountFacts:
    """The key facts of one account as of a day (what the account view shows beside the score)."""

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
    at = midnight(day)
    since90 = midnight(day - timedelta(days=90))
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
        scalar(select(func.coalesce(func.sum(s.c.mrr), 0)).where(mine_s, active_on(day))).label("mrr"),
        scalar(select(func.min(s.c.start_date)).where(mine_s, s.c.mrr > 0, s.c.start_date <= day)).label("first_paid"),
        scalar(select(func.max(s.c.end_date)).where(mine_s, s.c.start_date <= day)).label("last_end"),
        scalar(select(s.c.product).where(mine_s, active_on(day)).order_by(s.c.mrr.desc()).limit(1)).label("product"),
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
    done_at = max((as_datetime(x[1]) for x in done_rows if x[0] in required), default=None) \
        if len(done) == len(required) else None
    mrr = float(r["mrr"] or 0)
    last_end = as_date(r["last_end"])
    churned_on = last_end if mrr <= 0 and last_end is not None and last_end <= day else None
    return AccountFacts(
        account_id=account_id, name=r["name"], plan=r["plan"] or r["product"], segment=r["segment"], owner=r["owner"],
        seats=r["seats"], renewal_date=as_date(r["renewal_date"]), mrr=mrr, active_users_30=int(r["users"] or 0),
        last_active=as_date(r["last_active"]),
        nps_score=None if r["nps_score"] is None else int(r["nps_score"]), nps_at=as_datetime(r["nps_at"]),
        csat_score=None if r["csat_score"] is None else int(r["csat_score"]), csat_at=as_datetime(r["csat_at"]),
        csat_mean_90=None if not r["csat_n"] else float(r["csat_mean"]), csat_answers_90=int(r["csat_n"] or 0),
        milestones_done=done, milestones_required=required, onboarding_done_at=done_at,
        first_paid=as_date(r["first_paid"]), churned_on=churned_on,
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
    """One account on ``day``: its health computed now, ``compare_days`` before (stored or computed), its facts."""
    model = model or model_for(settings)
    now = score_accounts(conn, day, NO_FILTERS, settings, account_ids=[account_id], model=model)[account_id]
    before_day = day - timedelta(days=compare_days)
    before = scores_as_of(conn, before_day, NO_FILTERS, settings, account_ids=[account_id], model=model).get(account_id)
    return AccountView(now=now, before=before, before_day=before_day, facts=account_facts(conn, account_id, day, settings))


# --------------------------------------------------------------------------- portfolio


@dataclass(frozen=True)
class PortfolioRow:
    """One paying account of a portfolio: its score now and ``compare_days`` before."""

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
    """Every paying account passing the filters, at-risk first, with counts and MRR per band.

    ``before_day`` is the day the change is measured from: ``compare_days`` before ``day``, or
    the nearest earlier day with stored snapshots within the tolerance (``before_stored``)."""

    day: date
    before_day: date
    rows: tuple[PortfolioRow, ...]  # red, then yellow (lowest score first), then green by fall
    counts: dict[str, int]
    mrr: dict[str, float]
    mean_score: float | None
    before_stored: bool = False  # the "before" scores are stored snapshots (else computed for before_day)

    @property
    def total(self) -> int:
        return len(self.rows)


# Without snapshots on the day ``compare_days`` back, the portfolio compares with the latest stored
# day at most this many days earlier (and names it) rather than scoring the whole book again.
SNAPSHOT_TOLERANCE_DAYS = 7


def _stored_rows(conn: Connection, day: date, filters: Filters, before_day: date | None) -> list[PortfolioRow]:
    """The portfolio's rows from ``day``'s snapshots in one statement: each account's MRR on ``day``
    (``account_mrr_on``), name, and its stored score of ``before_day``."""
    mrr = account_mrr_on(day, revenue_state.is_fresh(conn))
    hb = h.alias("before")
    prev = hb.c.score if before_day is not None else null()
    joined = h.outerjoin(a, a.c.account_id == h.c.account_id).outerjoin(mrr, mrr.c.account_id == h.c.account_id)
    if before_day is not None:
        joined = joined.outerjoin(hb, and_(hb.c.account_id == h.c.account_id, hb.c.day == before_day))
    # The order of ``_risk_key``, sorted by the database (75k rows sort faster there than in Python).
    rank = case(*((h.c.band == b, i) for i, b in enumerate(BANDS)), else_=len(BANDS))
    within = case((rank < 2, func.coalesce(h.c.score, 0.0)), else_=func.coalesce(h.c.score - prev, 0.0))
    stmt = select(h.c.account_id, a.c.name, a.c.owner, mrr.c.mrr, h.c.score, h.c.band, prev,
                  a.c.renewal_date).select_from(joined).where(h.c.day == day).order_by(
        rank, within, func.coalesce(mrr.c.mrr, 0.0).desc(), h.c.account_id)
    cond = filters.account_condition()
    if cond is not None:
        stmt = stmt.where(cond)
    return [PortfolioRow(r[0], r[1] if r[1] is not None else r[0], r[2], float(r[3] or 0), r[4], r[5], r[6],
                         as_date(r[7])) for r in conn.execute(stmt).all()]


def _risk_key(r: PortfolioRow) -> tuple:
    """Red, then yellow (each lowest score first), then green by fall, then the unscored; the larger
    MRR first among equals, then the account id."""
    rank = _RANKS.get(r.band or "", len(BANDS))
    if rank < 2:
        return (rank, r.score if r.score is not None else 0.0, -r.mrr, r.account_id)
    change = r.score - r.previous if r.score is not None and r.previous is not None else 0.0
    return (rank, change, -r.mrr, r.account_id)


_RANKS = {b: i for i, b in enumerate(BANDS)}


def portfolio(conn: Connection, day: date, filters: Filters = NO_FILTERS, settings: Settings | None = None,
              *, model: HealthModel | None = None, compare_days: int = 30,
              tolerance_days: int = SNAPSHOT_TOLERANCE_DAYS) -> Portfolio:
    """Every paying account passing ``filters`` on ``day``, with its score ``compare_days`` before.

    Today's side reads ``day``'s stored snapshots when the sync or the daily job wrote them, else
    scores the book. The before side reads the snapshots of ``compare_days`` before, or of the
    latest earlier stored day within ``tolerance_days`` (``Portfolio.before_day`` says which day),
    else scores the book as of ``compare_days`` before."""
    model = model or model_for(settings)
    target = day - timedelta(days=compare_days)
    stored_day = snapshot_day_near(conn, target, tolerance_days)
    before_day = stored_day or target
    if has_snapshots(conn, day):
        rows = _stored_rows(conn, day, filters, stored_day)
        if stored_day is None and rows:
            before = scores_as_of(conn, target, filters, settings, model=model)
            rows = [replace(r, previous=before[r.account_id].score if r.account_id in before else None) for r in rows]
            rows.sort(key=_risk_key)  # the green ones by their fall, known now
    else:
        computed = score_accounts(conn, day, filters, settings, model=model)
        if not computed:
            before = {}
        elif stored_day is not None:
            before = {k: v[0] for k, v in stored_bands(conn, stored_day, filters).items()}
        else:
            before = {k: v.score for k, v in scores_as_of(conn, target, filters, settings, model=model).items()}
        names = account_names(conn, list(computed))
        rows = []
        for k, hl in computed.items():
            info = names.get(k, {})
            rows.append(PortfolioRow(k, info.get("name", k), info.get("owner"), hl.mrr, hl.score, hl.band, before.get(k),
                                     as_date(info.get("renewal_date"))))
        rows.sort(key=_risk_key)  # the stored rows come sorted so
    counts = {b: 0 for b in BANDS}
    mrr = {b: 0.0 for b in BANDS}
    for r in rows:
        if r.band:
            counts[r.band] += 1
            mrr[r.band] += r.mrr
    scored = [r.score for r in rows if r.score is not None]
    return Portfolio(day, before_day, tuple(rows), counts, mrr, sum(scored) / len(scored) if scored else None,
                     before_stored=stored_day is not None)


# --------------------------------------------------------------------------- who dropped to red


@dataclass(frozen=True)
class Drop:
    """An account that fell into red on a day of the period."""

    account_id: str
    name: str
    owner: str | None
    day: date  # the first day it was red
    from_band: str | None
    score: float | None
    mrr: float


@dataclass(frozen=True)
class DropReport:
    """Who dropped to red in ``[start, end)``, and whether the snapshots said so."""

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
    model = model or model_for(settings)
    last = min(end, (today or end - timedelta(days=1)) + timedelta(days=1))
    # Snapshots answer when they cover the period and the days just before it (the band it fell from).
    covered = select(exists().where(h.c.day >= start, h.c.day < last),
                     exists().where(h.c.day < start, h.c.day >= start - timedelta(days=60)))
    cond = filters.account_condition()
    # Older than the snapshots kept daily (CSBOT_HEALTH_SNAPSHOT_DAYS), only month-start days are left:
    # they would date a drop to the wrong day, so such a period compares its two ends instead.
    keep = (settings or Settings()).health_snapshot_days
    daily = not keep or start - timedelta(days=1) >= (today or last - timedelta(days=1)) - timedelta(days=keep)
    if daily and all(conn.execute(covered).one()):
        # Only an account red on a day of the period can have dropped, and the band it fell from is
        # its previous snapshot: the period's snapshots of those accounts and, before the period, the
        # latest of each within 60 days (daily snapshots of a whole book over 60 days are millions of rows).
        red = select(h.c.account_id).where(h.c.day >= start, h.c.day < last, h.c.band == "red")
        if cond is not None:
            red = red.where(h.c.account_id.in_(select(a.c.account_id).where(cond)))
        prior_day = select(h.c.account_id, func.max(h.c.day).label("day")).where(
            h.c.day < start, h.c.day >= start - timedelta(days=60), h.c.account_id.in_(red)).group_by(
            h.c.account_id).subquery("prior_day")
        prior = select(h.c.account_id, h.c.day, h.c.band, h.c.score).join(
            prior_day, and_(prior_day.c.account_id == h.c.account_id, prior_day.c.day == h.c.day))
        during = select(h.c.account_id, h.c.day, h.c.band, h.c.score).where(
            h.c.day >= start, h.c.day < last, h.c.account_id.in_(red))
        both = union_all(prior, during).subquery("bands")
        prev_band = func.lag(both.c.band).over(partition_by=both.c.account_id, order_by=both.c.day)
        q = select(both.c.account_id, both.c.day, both.c.band, both.c.score, prev_band.label("prev_band")).subquery("seq")
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
        info = account_names(conn, ids)
        mrrs = mrr_on(conn, last - timedelta(days=1), ids)
        drops = [Drop(i, info.get(i, {}).get("name", i), info.get(i, {}).get("owner"), as_date(found[i]["day"]),
                      found[i]["prev_band"], found[i]["score"], mrrs.get(i, 0.0)) for i in ids]
        return DropReport(start, end, tuple(drops), True)
    before = scores_as_of(conn, start, filters, settings, model=model)
    after_day = last - timedelta(days=1) if last - timedelta(days=1) > start else last
    after = score_accounts(conn, after_day, filters, settings, model=model)
    ids = [i for i, x in after.items() if x.band == "red" and i in before and before[i].band not in ("red", None)]
    info = account_names(conn, ids)
    drops = [Drop(i, info.get(i, {}).get("name", i), info.get(i, {}).get("owner"), after_day, before[i].band,
                  after[i].score, after[i].mrr) for i in ids]
    drops.sort(key=lambda d: (d.score if d.score is not None else 0))
    return DropReport(start, end, tuple(drops), False)
