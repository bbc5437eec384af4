"""A large synthetic company for the metrics benchmark.

20,000 accounts over five years: subscriptions with new business, expansion,
contraction, add-on products, churn, downgrades to free and reactivations;
10 million product events rolled up into ``usage_daily`` the way the sync
does it (one row per account, user and day, with the day's event count);
100,000 survey answers (60,000 NPS, 40,000 CSAT); onboarding milestones.

The SQLite file is generated once and cached (``--data``); ``--pg URL`` copies
it into a fresh PostgreSQL schema (``csbot_bench`` unless ``--pg-schema``).

    python benchmarks/scale_data.py --data /tmp/csbot-bench/scale.db [--pg postgresql://127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, create_engine, func, select, text

from metrics import schema
from metrics.db import get_meta, init_schema, set_meta

logger = logging.getLogger(__name__)

TODAY = date(2026, 11, 22)
START = date(2021, 11, 22)
ACCOUNTS = 20_000
EVENTS = 10_000_000
NPS_ANSWERS = 60_000
CSAT_ANSWERS = 40_000
VERSION = "scale-v2"
DEFAULT_DATA = "/tmp/csbot-bench/scale.db"
CHUNK = 50_000

SEGMENTS = (("smb", 0.55, 20_000, (3, 20), 0.025), ("mid-market", 0.33, 80_000, (10, 60), 0.014),
            ("enterprise", 0.12, 300_000, (50, 400), 0.007))
PLANS = {"smb": "starter", "mid-market": "pro", "enterprise": "enterprise"}
REGIONS = ("japan", "apac", "na", "emea")
OWNERS = tuple(f"csm{i}@example.com" for i in range(12))
MILESTONES = ("kickoff", "setup", "first_value", "training")


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    y += d.year
    m += 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(y, m, min(d.day, day))
        except ValueError:
            continue
    raise ValueError(d)


def _accounts_and_subscriptions(rng: random.Random):
    days = (TODAY - START).days
    accounts, subs, spans = [], [], {}
    n_sub = 0

    def add(aid, product, start, end, mrr):
        nonlocal n_sub
        n_sub += 1
        subs.append({"subscription_id": f"S{n_sub:07d}", "account_id": aid, "product": product,
                     "start_date": start, "end_date": end, "mrr": round(mrr, -2), "quantity": 1,
                     "bill_period_months": 1, "discount": 0})

    for i in range(ACCOUNTS):
        aid = f"A{i:05d}"
        r = rng.random()
        seg = SEGMENTS[0] if r < SEGMENTS[0][1] else SEGMENTS[1] if r < SEGMENTS[0][1] + SEGMENTS[1][1] else SEGMENTS[2]
        name, _, base, (lo, hi), hazard = seg
        seats = rng.randint(lo, hi)
        created = START + timedelta(days=int(days * math.sqrt(rng.random())))  # a growing company
        accounts.append({"account_id": aid, "name": f"Company {i:05d}", "plan": PLANS[name], "segment": name,
                         "touch_model": {"smb": "tech", "mid-market": "low", "enterprise": "high"}[name],
                         "owner": rng.choice(OWNERS), "region": rng.choice(REGIONS), "industry": "SaaS",
                         "seats": seats, "renewal_date": None, "created_at": datetime.combine(created, datetime.min.time())})
        paid = created
        if name == "smb" and rng.random() < 0.25:  # free trial plan first
            paid = created + timedelta(days=rng.randint(7, 30))
            add(aid, "core", created, paid, 0)
        mrr = base * (0.6 + 0.8 * rng.random()) + 1_500 * seats
        start, month, active = paid, paid, True
        acct_spans = []
        span_start = paid
        addon = None
        while True:
            month = _add_months(month, 1)
            if month >= TODAY:
                break
            if active:
                x = rng.random()
                if x < hazard:  # churn (a tenth of them by downgrading to free)
                    end = month + timedelta(days=rng.randint(0, 27))
                    if end >= TODAY:
                        break
                    add(aid, "core", start, end, mrr)
                    if rng.random() < 0.1:
                        add(aid, "core", end, None if rng.random() < 0.5 else end + timedelta(days=90), 0)
                    if addon:
                        add(aid, "analytics", addon[0], end, addon[1])
                        addon = None
                    acct_spans.append((span_start, end))
                    active = False
                    gap = rng.randint(1, 18) if rng.random() < 0.2 else None  # reactivation later
                    month = _add_months(month, gap) if gap else TODAY
                    if month >= TODAY:
                        break
                    start = span_start = month + timedelta(days=rng.randint(0, 20))
                    if start >= TODAY:
                        break
                    active = True
                    continue
                if x < hazard + 0.05 or x > 0.985:  # expansion / contraction
                    change = 1.2 if x < hazard + 0.05 else 0.85
                    day = month + timedelta(days=rng.randint(0, 27))
                    if day >= TODAY or day <= start:
                        continue
                    add(aid, "core", start, day, mrr)
                    start, mrr = day, mrr * change
                elif addon is None and rng.random() < 0.004:  # cross-sell an add-on
                    day = month + timedelta(days=rng.randint(0, 27))
                    if day < TODAY:
                        addon = (day, 0.15 * mrr + 10_000)
        if active and start < TODAY:
            add(aid, "core", start, None, mrr)
            if addon:
                add(aid, "analytics", addon[0], None, addon[1])
            acct_spans.append((span_start, TODAY))
        spans[aid] = (acct_spans, seats, paid)
    return accounts, subs, spans


def _usage_chunks(spans: dict, np_rng: np.random.Generator):
    """usage_daily rows, account by account: about EVENTS / 5 rows holding EVENTS events."""
    total_days = sum(max(0, (e - s).days) * seats for sp, seats, _ in spans.values() for s, e in sp)
    rows_target = EVENTS / 5.0
    rate = rows_target / max(1, total_days)
    batch: list[dict] = []
    for aid, (sp, seats, _) in spans.items():
        users = max(2, min(40, int(seats * 0.6)))
        for s, e in sp:
            n_days = (e - s).days
            if n_days <= 0:
                continue
            grid = users * n_days
            n = min(grid, int(np_rng.poisson(rate * n_days * seats)))
            if n == 0:
                continue
            picks = np_rng.choice(grid, size=n, replace=False)
            events = 1 + np_rng.poisson(4, size=n)
            seconds = np_rng.gamma(2.0, 600.0, size=n).round()
            for p, ev, sec in zip(picks.tolist(), events.tolist(), seconds.tolist()):
                u, d = divmod(p, n_days)
                batch.append({"account_id": aid, "user_id": f"u{u:03d}", "day": s + timedelta(days=d),
                              "events": ev, "seconds": sec})
            if len(batch) >= CHUNK:
                yield batch
                batch = []
    if batch:
        yield batch


def _surveys(spans: dict, rng: random.Random):
    keys = [aid for aid, (sp, _, _) in spans.items() if sp]
    nps, csat = [], []

    def moment(aid):
        sp = spans[aid][0]
        s, e = rng.choice(sp)
        day = s + timedelta(days=rng.randrange(max(1, (e - s).days)))
        return datetime.combine(day, datetime.min.time()) + timedelta(seconds=rng.randrange(9 * 3600, 19 * 3600))

    for i in range(NPS_ANSWERS):
        aid = rng.choice(keys)
        score = max(0, min(10, int(round(rng.gauss(7.6, 2.0)))))
        nps.append({"response_id": f"N{i:06d}", "account_id": aid, "respondent": f"{aid}-u{rng.randint(0, 9)}",
                    "score": score, "responded_at": moment(aid), "comment": None})
    for i in range(CSAT_ANSWERS):
        aid = rng.choice(keys)
        csat.append({"response_id": f"C{i:06d}", "account_id": aid, "score": rng.choices((1, 2, 3, 4, 5), (4, 5, 12, 30, 49))[0],
                     "responded_at": moment(aid), "ticket_id": None, "comment": None})
    return nps, csat


def _onboarding(spans: dict, rng: random.Random):
    out = []
    for aid, (_, _, paid) in spans.items():
        day = paid
        stop = rng.choice(MILESTONES + (None,) * 6)
        for m in MILESTONES:
            day += timedelta(days=rng.randint(2, 30))
            if m == stop or day >= TODAY:
                break
            out.append({"account_id": aid, "milestone": m,
                        "completed_at": datetime.combine(day, datetime.min.time()) + timedelta(hours=10)})
    return out


def generate_sqlite(path: str) -> Engine:
    """The cached SQLite file: generated when missing or from another version."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    if Path(path).exists():
        with engine.connect() as conn:
            has_meta = conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'csbot_meta'").first()
        if has_meta and get_meta(engine, "bench_scale") == VERSION:
            return engine
    engine.dispose()
    Path(path).unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    schema.metadata.create_all(engine)
    t0 = time.perf_counter()
    rng, np_rng = random.Random(7), np.random.default_rng(7)
    accounts, subs, spans = _accounts_and_subscriptions(rng)
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    with engine.begin() as conn:
        for table, rows in ((schema.accounts, accounts), (schema.subscriptions, subs)):
            for i in range(0, len(rows), CHUNK):
                conn.execute(table.insert(), rows[i:i + CHUNK])
        n_usage = n_events = 0
        for batch in _usage_chunks(spans, np_rng):
            conn.execute(schema.usage_daily.insert(), batch)
            n_usage += len(batch)
            n_events += sum(r["events"] for r in batch)
        nps, csat = _surveys(spans, rng)
        onboarding = _onboarding(spans, rng)
        for table, rows in ((schema.nps_responses, nps), (schema.csat_responses, csat), (schema.onboarding, onboarding)):
            for i in range(0, len(rows), CHUNK):
                conn.execute(table.insert(), rows[i:i + CHUNK])
        conn.execute(schema.sync_log.insert().values(
            source="bench", started_at=datetime.utcnow(), finished_at=datetime.utcnow(), status="ok",
            rows_in=0, rows_changed=0, rows_rejected=0, message="benchmark scale data"))
        set_meta(conn, "bench_scale", VERSION)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    print(f"generated {path}: {len(accounts):,} accounts, {len(subs):,} subscriptions, {n_usage:,} usage_daily rows "
          f"({n_events:,} events), {len(nps):,} NPS + {len(csat):,} CSAT answers, {len(onboarding):,} milestones "
          f"in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return engine


def copy_to_postgres(sqlite_engine: Engine, url: str, schema_name: str = "csbot_bench") -> Engine:
    """A fresh PostgreSQL schema holding the same rows (skipped when it already does)."""
    from metrics.db import make_engine

    admin = make_engine(url)
    with admin.begin() as conn:
        exists = conn.execute(text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"),
                              {"s": schema_name}).first()
    sep = "&" if "?" in url else "?"
    engine = make_engine(f"{url}{sep}options=-csearch_path%3D{schema_name}")
    if exists:
        with engine.connect() as conn:
            has_meta = conn.execute(text("SELECT 1 FROM information_schema.tables WHERE table_schema = :s "
                                         "AND table_name = 'csbot_meta'"), {"s": schema_name}).first()
        if has_meta and get_meta(engine, "bench_scale") == VERSION:
            admin.dispose()
            return engine
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema_name}"'))
    admin.dispose()
    init_schema(engine)  # as csbot makes a database (PostgreSQL's write counter too), not only the tables
    t0 = time.perf_counter()
    for table in schema.DATA_TABLES:
        cols = [c.name for c in table.columns]
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            with cur.copy(f'COPY {table.name} ({", ".join(cols)}) FROM STDIN') as copy:
                with sqlite_engine.connect() as src:
                    result = src.execution_options(yield_per=CHUNK).execute(select(*table.columns))
                    for row in result:
                        copy.write_row(tuple(row))
            raw.commit()
        finally:
            raw.close()
    with engine.begin() as conn:
        set_meta(conn, "bench_scale", VERSION)
        conn.execute(text("ANALYZE"))
    print(f"copied into PostgreSQL schema {schema_name} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return engine


# Indexes the benchmark adds on top of metrics/schema.py (proposed for the schema):
# usage questions read a range of days and need the user and the seconds without
# visiting the table; movements group subscriptions per account without visiting it.
EXTRA_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_usage_daily_day_cover ON usage_daily (day, account_id, user_id, seconds)",
    "CREATE INDEX IF NOT EXISTS ix_subscriptions_cover ON subscriptions (account_id, start_date, end_date, mrr, product)",
)


def ensure_indexes(engine: Engine) -> None:
    with engine.begin() as conn:
        for ddl in EXTRA_INDEXES:
            conn.execute(text(ddl))
        conn.execute(text("ANALYZE"))


def direct_against_derived(engine: Engine, questions, ask, use, runs: int, today: date = TODAY) -> dict:
    """Each question answered the direct way and off a derived state (``use(calc, derived)``, e.g.
    ``revenue_state.use``), interleaved run by run on one warm connection with a fresh ``Calc`` each
    time, after one warm-up round: per question the median wall and CPU ms of each way and whether
    both gave the same answer (``ask(calc, question)``)."""
    import statistics

    from metrics.calc import Calc
    from metrics.settings import Settings

    out = {}
    with engine.connect() as conn:
        for q in questions:
            times: dict[str, tuple[list, list]] = {"direct": ([], []), "derived": ([], [])}
            answers = {}
            for i in range(runs + 1):  # the first round warms up
                for mode in ("direct", "derived"):
                    calc = Calc(conn, Settings(), today=today)
                    t0, c0 = time.perf_counter(), time.process_time()
                    use(calc, mode == "derived")
                    answers[mode] = ask(calc, q)
                    wall, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
                    if i:
                        times[mode][0].append(wall)
                        times[mode][1].append(cpu)
            out[q] = {m: (statistics.median(w), statistics.median(c)) for m, (w, c) in times.items()}
            out[q]["same"] = answers["direct"] == answers["derived"]
            conn.rollback()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"SQLite file to create or reuse (default {DEFAULT_DATA})")
    parser.add_argument("--pg", help="PostgreSQL URL to copy the data into (a fresh schema)")
    parser.add_argument("--pg-schema", default="csbot_bench")
    args = parser.parse_args(argv)
    engine = generate_sqlite(args.data)
    with engine.connect() as conn:
        for table in schema.DATA_TABLES:
            print(f"{table.name:16} {conn.execute(select(func.count()).select_from(table)).scalar_one():>12,}")
    if args.pg:
        copy_to_postgres(engine, args.pg, args.pg_schema)
    return 0


if __name__ == "__main__":
    sys.exit(main())
