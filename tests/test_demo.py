"""The demo company: deterministic, well-formed, and realistic enough to exercise every metric.

The company is loaded once per test process, through the real sync (conftest's
``shared_demo``); the same ``(today, seed)`` is built once more to prove that it gives the
same rows. Everything else is asked of the data with SQL, the way the metrics will.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from conftest import TODAY
from sqlalchemy import and_, func, or_, select, text

from metrics import schema
from metrics.db import get_meta
from metrics.demo.emit import write_files
from metrics.demo.load import DemoSummary, clear_data, load_demo
from metrics.demo.rows import build_rows
from metrics.periods import as_date
from metrics.settings import Settings

MIDNIGHT = datetime.combine(TODAY, datetime.min.time())

# contract file -> the table its rows land in (events are rolled up per account, user and day)
TABLE_OF_FILE = {"accounts": "accounts", "subscriptions": "subscriptions", "events": "usage_daily",
                 "nps": "nps_responses", "csat": "csat_responses", "onboarding": "onboarding", "tickets": "tickets"}


@pytest.fixture(scope="module")
def demo(shared_demo):
    """(engine, summary) of the test process's shared demo database: read it, never write to it."""
    return shared_demo.engine, shared_demo.summary


def _scalar(engine, stmt, **params):
    with engine.connect() as conn:
        return conn.execute(stmt if not isinstance(stmt, str) else text(stmt), params).scalar()


def _rows(engine, stmt, **params):
    with engine.connect() as conn:
        return conn.execute(stmt if not isinstance(stmt, str) else text(stmt), params).all()


def _month(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def _mrr_by_account(engine, day: date) -> dict[str, float]:
    s = schema.subscriptions.c
    stmt = (
        select(s.account_id, func.sum(s.mrr))
        .where(s.start_date <= day, or_(s.end_date.is_(None), s.end_date > day))
        .group_by(s.account_id)
    )
    return {a: float(m) for a, m in _rows(engine, stmt)}


def _last_12_months():
    """(start, end) of the 12 complete calendar months before TODAY's month."""
    this_month = TODAY.replace(day=1)
    return [(_month(this_month, k), _month(this_month, k + 1)) for k in range(-12, 0)]


# ----------------------------------------------------------------- loading


def test_same_today_and_seed_give_identical_rows(demo, tmp_path):
    _, summary = demo
    first = build_rows(TODAY)
    again = build_rows(TODAY, seed=2026)
    assert again == first
    for rows, folder in ((first, tmp_path / "first"), (again, tmp_path / "again")):
        write_files(rows, folder)
    for f in first.files:
        assert (tmp_path / "first" / f"{f.name}.csv").read_bytes() == (tmp_path / "again" / f"{f.name}.csv").read_bytes()
    # the loaded database holds exactly these rows: one usage row per event (one session per user-day)
    assert {TABLE_OF_FILE[f.name]: len(f.rows) for f in first.files} == summary.counts


def test_every_data_table_is_filled_and_summary_counts_match(demo):
    engine, summary = demo
    assert isinstance(summary, DemoSummary)
    for table in schema.DATA_TABLES:
        n = _scalar(engine, select(func.count()).select_from(table))
        assert n > 0, table.name
        assert n == summary.counts[table.name], table.name
    assert 350 <= summary.accounts <= 450
    assert summary.usage_daily <= 330_000
    assert summary.last_day == TODAY - timedelta(days=1)
    assert summary.first_day == _scalar(engine, select(func.min(schema.subscriptions.c.start_date)))
    assert (TODAY - summary.first_day).days > 3 * 365 - 31


def test_load_records_a_demo_sync_and_the_data_source(demo):
    engine, summary = demo
    log = _rows(engine, select(schema.sync_log.c.source, schema.sync_log.c.status, schema.sync_log.c.rows_in))
    assert log == [("demo", "ok", summary.total_rows)]
    assert get_meta(engine, "data_source") == "demo"


def test_load_writes_the_health_snapshots_of_today_for_every_paying_account(demo):
    # the after-sync steps ran: a first digest or /health right after `csbot demo` has its red accounts
    engine, _ = demo
    paying = sum(1 for v in _mrr_by_account(engine, TODAY - timedelta(days=1)).values() if v > 0)
    h = schema.health_snapshots.c
    assert _scalar(engine, select(func.count()).where(h.day == TODAY)) == paying > 200
    assert _scalar(engine, select(func.count()).where(h.day == TODAY, h.band == "red")) > 0


def test_refuses_to_load_into_a_database_that_holds_data(demo):
    engine, summary = demo
    with pytest.raises(ValueError, match="already holds data"):
        load_demo(engine, Settings(), today=TODAY)
    assert _scalar(engine, select(func.count()).select_from(schema.accounts)) == summary.accounts
    assert _scalar(engine, select(func.count()).select_from(schema.sync_log)) == 1


def test_clear_data_empties_every_table_and_forgets_the_source(demo_copy):
    engine = demo_copy
    assert _scalar(engine, select(func.count()).where(schema.health_snapshots.c.day == TODAY)) > 0  # the load wrote them
    with engine.begin() as conn:
        conn.execute(schema.rejected_rows.insert().values(sync_id=1, table_name="nps", reason="score out of range"))
    clear_data(engine)
    for table in (*schema.DATA_TABLES, schema.sync_log, schema.rejected_rows, schema.health_snapshots):
        assert _scalar(engine, select(func.count()).select_from(table)) == 0, table.name
    assert get_meta(engine, "data_source") is None


# ----------------------------------------------------------------- well-formed


def test_nothing_is_dated_on_or_after_today(demo):
    engine, _ = demo
    s = schema.subscriptions.c
    assert _scalar(engine, select(func.max(s.start_date))) < TODAY
    assert _scalar(engine, select(func.max(s.end_date))) < TODAY
    assert _scalar(engine, select(func.max(schema.usage_daily.c.day))) == TODAY - timedelta(days=1)
    for col in (
        schema.accounts.c.created_at,
        schema.tickets.c.opened_at,
        schema.tickets.c.closed_at,
        schema.nps_responses.c.responded_at,
        schema.csat_responses.c.responded_at,
        schema.onboarding.c.completed_at,
    ):
        latest = _scalar(engine, select(func.max(col)))
        if isinstance(latest, str):
            latest = datetime.fromisoformat(latest)
        assert latest < MIDNIGHT, col


def test_subscription_rows_have_positive_length_no_negative_mrr_and_never_overlap(demo):
    engine, _ = demo
    s = schema.subscriptions.c
    assert _scalar(engine, select(func.count()).where(s.end_date <= s.start_date)) == 0
    assert _scalar(engine, select(func.count()).where(s.mrr < 0)) == 0
    a = schema.subscriptions.alias("a")
    b = schema.subscriptions.alias("b")
    overlaps = select(func.count()).where(
        a.c.account_id == b.c.account_id,
        a.c.product == b.c.product,
        a.c.subscription_id < b.c.subscription_id,
        or_(a.c.end_date.is_(None), b.c.start_date < a.c.end_date),
        or_(b.c.end_date.is_(None), a.c.start_date < b.c.end_date),
    )
    assert _scalar(engine, overlaps) == 0
    products = {p for (p,) in _rows(engine, select(s.product).distinct())}
    assert products == {"core", "analytics", "api"}
    assert {b for (b,) in _rows(engine, select(s.bill_period_months).distinct())} == {1, 12}


def test_tickets_and_surveys_are_well_formed(demo):
    engine, _ = demo
    t = schema.tickets.c
    assert _scalar(engine, select(func.count()).where(t.status == "open", t.closed_at.is_not(None))) == 0
    assert _scalar(engine, select(func.count()).where(t.status == "closed", t.closed_at.is_(None))) == 0
    assert _scalar(engine, select(func.count()).where(t.closed_at < t.opened_at)) == 0
    assert _scalar(engine, select(func.count()).where(t.status == "open")) > 0
    assert {p for (p,) in _rows(engine, select(t.priority).distinct())} == {"low", "normal", "high", "urgent"}
    n = schema.nps_responses.c
    assert _scalar(engine, select(func.count()).where(or_(n.score < 0, n.score > 10))) == 0
    c = schema.csat_responses.c
    assert _scalar(engine, select(func.count()).where(or_(c.score < 1, c.score > 5))) == 0
    # every CSAT answer follows a closed ticket of the same account
    orphan = select(func.count()).select_from(
        schema.csat_responses.outerjoin(schema.tickets, and_(c.ticket_id == t.ticket_id, c.account_id == t.account_id))
    ).where(or_(t.ticket_id.is_(None), t.closed_at.is_(None), c.responded_at < t.closed_at))
    assert _scalar(engine, orphan) == 0


# ----------------------------------------------------------------- the company


def test_names_include_one_acme_corp_one_acme_logistics_and_some_japanese(demo):
    engine, summary = demo
    names = [n for (n,) in _rows(engine, select(schema.accounts.c.name))]
    assert names.count("Acme Corp") == 1
    assert names.count("Acme Logistics") == 1
    assert len([n for n in names if n.startswith("Acme")]) == 2
    japanese = [n for n in names if not n.isascii()]
    assert 0.05 <= len(japanese) / len(names) <= 0.15
    assert "株式会社アクメ" in names
    ids = sorted(a for (a,) in _rows(engine, select(schema.accounts.c.account_id)))
    assert ids[0] == "A0001" and ids[-1] == f"A{summary.accounts:04d}"


def test_owners_are_the_five_csms_and_only_tech_or_community_accounts_lack_one(demo):
    engine, _ = demo
    a = schema.accounts.c
    owners = {o for (o,) in _rows(engine, select(a.owner).where(a.owner.is_not(None)).distinct())}
    assert owners == {f"{n}@example.com" for n in ("alice", "bob", "carol", "dan", "erin")}
    ownerless = {t for (t,) in _rows(engine, select(a.touch_model).where(a.owner.is_(None)).distinct())}
    assert ownerless <= {"tech", "community"}
    touch = dict(_rows(engine, select(a.segment, func.count(a.touch_model.distinct())).group_by(a.segment)))
    assert touch["enterprise"] == 1 and touch["mid-market"] == 1


def test_current_mrr_per_segment_is_in_realistic_jpy_ranges(demo):
    engine, _ = demo
    mrr = _mrr_by_account(engine, TODAY - timedelta(days=1))
    segment = dict(_rows(engine, select(schema.accounts.c.account_id, schema.accounts.c.segment)))
    ranges = {"smb": (30_000, 80_000), "mid-market": (100_000, 400_000), "enterprise": (500_000, 3_000_000)}
    for seg, (lo, hi) in ranges.items():
        values = sorted(v for a, v in mrr.items() if segment[a] == seg and v > 0)
        median = values[len(values) // 2]
        assert lo <= median <= hi, (seg, median)


def test_last_12_months_have_churn_downgrade_to_free_reactivation_expansion_and_contraction(demo):
    engine, _ = demo
    churn = reactivation = expansion = contraction = 0
    for start, end in _last_12_months():
        m0, m1 = _mrr_by_account(engine, start), _mrr_by_account(engine, end)
        s = {a for a, v in m0.items() if v > 0}
        e = {a for a, v in m1.items() if v > 0}
        churn += len(s - e)
        paid_before = {
            a for (a,) in _rows(engine, select(schema.subscriptions.c.account_id).where(
                schema.subscriptions.c.mrr > 0, schema.subscriptions.c.start_date < start).distinct())
        }
        reactivation += len((e - s) & paid_before)
        expansion += sum(1 for a in s & e if m1[a] > m0[a])
        contraction += sum(1 for a in s & e if m1[a] < m0[a])
    assert churn > 0 and reactivation > 0 and expansion > 0 and contraction > 0
    assert expansion > contraction  # a growing company
    # a downgrade to free: a paid core row followed the same day by a core row at MRR 0
    paid = schema.subscriptions.alias("paid")
    free = schema.subscriptions.alias("free")
    first = _last_12_months()[0][0]
    downgrades = select(func.count()).where(
        paid.c.account_id == free.c.account_id, paid.c.product == "core", free.c.product == "core",
        paid.c.mrr > 0, free.c.mrr == 0, free.c.start_date == paid.c.end_date, free.c.start_date >= first,
    )
    assert _scalar(engine, downgrades) > 0
    plans = {p for (p,) in _rows(engine, select(schema.accounts.c.plan).distinct())}
    assert "free" in plans


def test_monthly_logo_churn_in_the_last_12_months_is_between_half_and_five_percent(demo):
    engine, _ = demo
    rates = []
    for start, end in _last_12_months():
        m0, m1 = _mrr_by_account(engine, start), _mrr_by_account(engine, end)
        s = {a for a, v in m0.items() if v > 0}
        e = {a for a, v in m1.items() if v > 0}
        rates.append(len(s - e) / len(s))
    assert all(0.005 <= r <= 0.05 for r in rates), rates
    assert 0.012 <= sum(rates) / len(rates) <= 0.03


def test_some_customers_join_and_leave_inside_one_month(demo):
    engine, _ = demo
    s = schema.subscriptions.c
    # accounts whose whole paid life is one row that starts and ends in the same calendar month
    stmt = select(s.account_id, func.min(s.start_date), func.max(s.end_date), func.count()).where(
        s.mrr > 0).group_by(s.account_id)
    early = [a for a, lo, hi, n in _rows(engine, stmt)
             if hi is not None and as_date(lo).replace(day=1) == as_date(hi).replace(day=1)
             and as_date(hi).day > 1]
    assert len(early) >= 2


def _churn_days(engine) -> list[tuple[str, date]]:
    """(account, day) where a paying account stopped paying: a paid row ends and the account's MRR is 0 that day."""
    s = schema.subscriptions.c
    ends = _rows(engine, select(s.account_id, s.end_date).where(s.mrr > 0, s.end_date.is_not(None)).distinct())
    out = []
    for account, day in ends:
        day = as_date(day)
        if _mrr_by_account(engine, day).get(account, 0.0) == 0.0 and (account, day) not in out:
            out.append((account, day))
    return out


def _usage_seconds(engine, account: str, start: date, end: date) -> float:
    u = schema.usage_daily.c
    return float(_scalar(engine, select(func.coalesce(func.sum(u.seconds), 0)).where(
        u.account_id == account, u.day >= start, u.day < end)))


def test_churned_accounts_use_the_product_less_in_the_30_days_before_churn_than_half_a_year_before(demo):
    # Churners start fading three to five months before they leave: compare the last
    # 30 days with a month before any fade began (180 to 150 days before churn).
    engine, _ = demo
    first_usage = as_date(_scalar(engine, select(func.min(schema.usage_daily.c.day))))
    churns = [(a, d) for a, d in _churn_days(engine) if d - timedelta(days=180) >= first_usage]
    # only accounts that were already customers using the product half a year before they left
    churns = [(a, d) for a, d in churns if _usage_seconds(engine, a, d - timedelta(days=180), d - timedelta(days=150))]
    assert len(churns) >= 20
    before = [_usage_seconds(engine, a, d - timedelta(days=180), d - timedelta(days=150)) for a, d in churns]
    last = [_usage_seconds(engine, a, d - timedelta(days=30), d) for a, d in churns]
    assert sum(last) / len(last) < 0.6 * sum(before) / len(before)
    faded = sum(1 for x, y in zip(before, last) if y < 0.7 * x)
    assert faded / len(churns) >= 0.6


def test_acme_logistics_is_at_risk_now_and_acme_corp_is_healthy(demo):
    engine, _ = demo
    ids = dict(_rows(engine, select(schema.accounts.c.name, schema.accounts.c.account_id)))
    mrr = _mrr_by_account(engine, TODAY - timedelta(days=1))
    for name in ("Acme Logistics", "Acme Corp"):
        assert mrr[ids[name]] > 0, name  # both still paying
    risky = ids["Acme Logistics"]
    recent = _usage_seconds(engine, risky, TODAY - timedelta(days=30), TODAY)
    earlier = _usage_seconds(engine, risky, TODAY - timedelta(days=90), TODAY - timedelta(days=60))
    assert recent < 0.6 * earlier
    healthy = ids["Acme Corp"]
    recent = _usage_seconds(engine, healthy, TODAY - timedelta(days=30), TODAY)
    earlier = _usage_seconds(engine, healthy, TODAY - timedelta(days=90), TODAY - timedelta(days=60))
    assert recent > 0.8 * earlier


def test_nps_of_the_last_12_months_is_between_plus_10_and_plus_35(demo):
    engine, _ = demo
    n = schema.nps_responses.c
    since = datetime.combine(_last_12_months()[0][0], datetime.min.time())
    scores = [s for (s,) in _rows(engine, select(n.score).where(n.responded_at >= since))]
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    nps = round(100 * (promoters - detractors) / len(scores))
    assert 10 <= nps <= 35, nps
    assert _scalar(engine, select(func.count(n.response_id.distinct()))) == _scalar(
        engine, select(func.count()).select_from(schema.nps_responses))
    comments = [c for (c,) in _rows(engine, select(n.comment).where(n.comment.is_not(None)))]
    assert any(c.isascii() for c in comments) and any(not c.isascii() for c in comments)


def test_csat_is_mostly_four_and_five(demo):
    engine, _ = demo
    c = schema.csat_responses.c
    total = _scalar(engine, select(func.count()).select_from(schema.csat_responses))
    top2 = _scalar(engine, select(func.count()).where(c.score >= 4))
    assert 0.7 <= top2 / total <= 0.92


def test_usage_averages_10_to_60_minutes_per_active_user_day_and_is_weekday_heavy(demo):
    engine, _ = demo
    u = schema.usage_daily.c
    minutes = _scalar(engine, select(func.avg(u.seconds))) / 60
    assert 10 <= minutes <= 60
    per_day = {as_date(d): n for d, n in _rows(engine, select(u.day, func.count()).group_by(u.day))}
    weekday = [n for d, n in per_day.items() if d.weekday() < 5]
    weekend = [n for d, n in per_day.items() if d.weekday() >= 5]
    assert sum(weekend) / len(weekend) < 0.2 * sum(weekday) / len(weekday)


def test_onboarding_has_finished_unfinished_and_in_progress_accounts(demo):
    engine, _ = demo
    o = schema.onboarding.c
    per_account = dict(_rows(engine, select(o.account_id, func.count()).group_by(o.account_id)))
    assert sum(1 for n in per_account.values() if n == 4) > 200
    assert sum(1 for n in per_account.values() if n < 4) > 20
    milestones = {m for (m,) in _rows(engine, select(o.milestone).distinct())}
    assert milestones == {"kickoff", "setup", "first_value", "training"}
    # time to value: first paid day -> first_value, within days or weeks
    s = schema.subscriptions.c
    first_paid = dict(_rows(engine, select(s.account_id, func.min(s.start_date)).where(s.mrr > 0).group_by(s.account_id)))
    ttv = sorted(
        (as_date(str(at)[:10]) - as_date(first_paid[a])).days
        for a, at in _rows(engine, select(o.account_id, o.completed_at).where(o.milestone == "first_value"))
    )
    assert 7 <= ttv[len(ttv) // 2] <= 60
    # an account that started in the last few weeks is still mid-way
    recent = [a for a, d in first_paid.items() if as_date(d) >= TODAY - timedelta(days=20)]
    assert recent and all(per_account.get(a, 0) < 4 for a in recent)
