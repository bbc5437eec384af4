"""csbot against the engines a data person would reach for, on the same data, at 20,000 and
100,000 accounts: the benchmark prints the truth by itself (issue 16).

    python benchmarks/bench_scale.py [--sizes 20000 100000] [--events 10000000] [--runs 5]
                                     [--pg postgresql://127.0.0.1:5432/test | --no-pg] [--cache DIR]

Data: ``scale_data.py``'s company (five years of subscriptions, surveys, onboarding) at each size,
with ``--events`` product events rolled up into usage_daily as the sync does; generated once and
cached under ``--cache`` (SQLite), copied into a PostgreSQL schema of its own (``csbot_scale_<n>``)
when the server answers, and exported as CSV (the raw files the other engines read). The daily
health snapshots the sync writes are written once for today and 30 days before (their cost,
scoring the whole book, is printed: it is paid at sync time, not by an answer), and the revenue state
is built as the sync's after-sync step builds it (``prepare``, its time printed):
the data and the schema are written, so point ``--cache`` and ``--pg-schema`` at copies of shared data.

Engines, on the same questions:
- csbot on SQLite and on PostgreSQL: what an answer runs (``compute_metric``: the period and the
  one before; ``breakdown``; ``trend``; ``metrics.health.portfolio``), one warm connection.
- DuckDB on tables: the same counting in SQL over in-memory tables (loading them is not timed).
- DuckDB on the raw CSV: the same SQL over ``read_csv`` views: every run parses the files.
- pandas in memory: DataFrames read from the CSV once (the load time is printed, not timed).

Questions: customer churn (Oct 2026 and Sep 2026), NRR (both months), churn by segment (both
months per segment), the 12-month churn trend (Nov 2025 - Oct 2026), and the /health portfolio
(every paying account's stored score today and 30 days before, its MRR today and name, at-risk
first, counts and MRR per band). Each engine computes the score the same way: it reads the stored
snapshots, none re-scores. csbot alone also answers /health end to end (dispatch to the reply a
Slack user reads) and the "at risk" and "health dropped" lists.

Runs are interleaved (engine A, B, C, ... then A, B, C again) so that the load of a busy machine
falls on every engine alike; after one warm-up round, the median of ``--runs`` is printed, wall
and CPU milliseconds (CPU of this process: for PostgreSQL that is the client's share only), the
ratio to DuckDB on the raw CSV (above 1: slower than DuckDB reading the files), and the load
average before and after.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sqlite3
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scale_data as sd  # noqa: E402
from bench_questions import duckdb_sql  # noqa: E402

from metrics import health as hm  # noqa: E402
from metrics import lists as ml  # noqa: E402
from metrics import revenue_state  # noqa: E402
from metrics.breakdown import breakdown, trend  # noqa: E402
from metrics.calc import Calc  # noqa: E402
from metrics.compute import compute_metric  # noqa: E402
from metrics.db import init_schema, make_engine  # noqa: E402
from metrics.filters import Filters  # noqa: E402
from metrics.periods import Period  # noqa: E402
from metrics.settings import Settings  # noqa: E402

TODAY = sd.TODAY
BEFORE = TODAY - timedelta(days=30)
PERIOD = Period(date(2026, 10, 1), date(2026, 11, 1), "month")
SPAN = Period(date(2025, 11, 1), date(2026, 11, 1), "months")
QUESTIONS = ("customer churn", "NRR", "churn by segment", "churn 12 months", "/health portfolio",
             "/health answer end to end", "at-risk list", "health dropped list")
DEFAULT_CACHE = "/tmp/csbot-bench-scale"
DEFAULT_PG = "postgresql://127.0.0.1:5432/test"
# The tables each engine other than csbot reads, and their columns.
CSV_TABLES = {
    "accounts": "SELECT account_id, name, segment, owner FROM accounts",
    "subscriptions": "SELECT account_id, start_date, end_date, mrr FROM subscriptions",
    "health_snapshots": "SELECT account_id, day, score, band FROM health_snapshots",
}


def load() -> float:
    return os.getloadavg()[0]


# ---- data ---------------------------------------------------------------------------------


def dataset(n: int, events: int, cache: Path) -> Path:
    """The SQLite file of ``n`` accounts and ``events`` events (scale_data's generator, cached)."""
    sd.ACCOUNTS, sd.EVENTS, sd.VERSION = n, events, f"scale-v2-{n}a-{events}e"
    path = cache / f"scale-{n}a-{events}e.db"
    t0 = time.perf_counter()
    sd.generate_sqlite(str(path)).dispose()
    if time.perf_counter() - t0 > 5:
        print(f"  generated {path} in {time.perf_counter() - t0:.0f} s")
    return path


def ensure_snapshots(engine, label: str) -> None:
    """Today's and 30-days-before health snapshots, as the sync and the daily job write them."""
    for day in (TODAY, BEFORE):
        with engine.begin() as conn:
            if hm.has_snapshots(conn, day):
                continue
            t0, c0 = time.perf_counter(), time.process_time()
            written = hm.write_snapshots(conn, day)
        print(f"  {label}: scored the whole book for {day} ({written:,} paying accounts) and stored it in "
              f"{time.perf_counter() - t0:.1f} s ({time.process_time() - c0:.1f} s CPU): the sync's daily cost")


def prepare(engine, label: str) -> None:
    """Snapshots as the sync writes them, then the revenue state as the after-sync step builds it."""
    init_schema(engine)  # the tables and indexes of this version, as csbot makes them at start
    ensure_snapshots(engine, label)
    # health_score of October and September reads the snapshots of Nov 1 and Oct 1: the daily job wrote
    # them on those days (and keeps the month starts); without them the answer scores the whole book
    for day in (PERIOD.end, PERIOD.start):
        with engine.begin() as conn:
            if not hm.has_snapshots(conn, day):
                t0 = time.perf_counter()
                written = hm.write_snapshots(conn, day)
                print(f"  {label}: wrote the snapshots of {day} ({written:,} accounts) in {time.perf_counter() - t0:.1f} s")
    with engine.begin() as conn:
        if revenue_state.is_fresh(conn):
            print(f"  {label}: revenue state fresh")
            return
        t0, c0 = time.perf_counter(), time.process_time()
        n = revenue_state.build(conn)
    print(f"  {label}: built the revenue state ({n:,} intervals) in {time.perf_counter() - t0:.1f} s "
          f"({time.process_time() - c0:.1f} s CPU of this process): the sync's after-sync step")
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            autovacuum = conn.exec_driver_sql("SHOW autovacuum").scalar_one()
        if autovacuum == "off":
            # what autovacuum does after a sync rewrote the state (index-only scans need the visibility map)
            t0 = time.perf_counter()
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in revenue_state.TABLES:
                    conn.exec_driver_sql(f"VACUUM {table.name}")
            print(f"  {label}: autovacuum is off on this server: vacuumed the state's tables as it would "
                  f"({time.perf_counter() - t0:.1f} s)")


def export_csv(db: Path, folder: Path) -> dict[str, Path]:
    """The tables the other engines read, as CSV files (written once)."""
    folder.mkdir(parents=True, exist_ok=True)
    done = folder / ".complete"
    paths = {name: folder / f"{name}.csv" for name in CSV_TABLES}
    con = sqlite3.connect(db)
    stamp = f"{sd.VERSION} {con.execute('SELECT count(*) FROM health_snapshots').fetchone()[0]}"
    con.close()
    if done.exists() and done.read_text() == stamp:  # the same data set with the same snapshots
        return paths
    con = sqlite3.connect(db)
    for name, sql in CSV_TABLES.items():
        cur = con.execute(sql)
        with open(paths[name], "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow([d[0] for d in cur.description])
            while rows := cur.fetchmany(50_000):
                w.writerows(rows)
    con.close()
    done.write_text(stamp)
    return paths


def pg_engine(sqlite_path: Path, url: str | None, n: int, schema_name: str | None = None):
    """The data in a PostgreSQL schema of its own, or None (and why) when the server does not answer."""
    if not url:
        return None
    try:
        probe = make_engine(url)
        with probe.connect():
            pass
        probe.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        print(f"  PostgreSQL at {url} not reachable ({exc.__class__.__name__}): skipped")
        return None
    return sd.copy_to_postgres(make_engine(f"sqlite:///{sqlite_path}"), url, schema_name=schema_name or f"csbot_scale_{n}")


# ---- the questions, per engine --------------------------------------------------------------


def csbot_questions(conn, engine) -> dict[str, Callable[[], object]]:
    from commands.context import Context
    from commands.router import dispatch
    from metrics.db import Database

    settings = Settings()
    db = Database(engine=engine, url=str(engine.url), embedded=False)
    now = datetime(TODAY.year, TODAY.month, TODAY.day, 1, 0, tzinfo=timezone.utc)  # 10:00 in Tokyo

    def calc():
        return Calc(conn, settings, today=TODAY)

    def answer():
        reply = dispatch("/health", Context.create(db, settings, now=now))
        assert reply.kind == "answer", reply.title
        return reply

    return {
        "customer churn": lambda: compute_metric(conn, "customer_churn_rate", PERIOD, calc=calc()),
        "NRR": lambda: compute_metric(conn, "nrr", PERIOD, calc=calc()),
        "churn by segment": lambda: breakdown(calc(), "customer_churn_rate", PERIOD, Filters(), "segment"),
        "churn 12 months": lambda: trend(calc(), "customer_churn_rate", SPAN, "month", Filters()),
        "/health portfolio": lambda: hm.portfolio(conn, TODAY),
        "/health answer end to end": answer,
        "at-risk list": lambda: ml.band_list(conn, TODAY, Filters(), ("red", "yellow")),
        "health dropped list": lambda: ml.health_drop_list(conn, BEFORE, TODAY, 10, Filters()),
    }


PORTFOLIO_SQL = f"""
WITH m AS (SELECT account_id, sum(mrr) AS mrr FROM subscriptions
           WHERE start_date <= DATE '{TODAY}' AND (end_date IS NULL OR end_date > DATE '{TODAY}') GROUP BY account_id),
     b AS (SELECT account_id, score FROM health_snapshots WHERE day = DATE '{BEFORE}'),
     p AS (SELECT h.account_id, a.name, a.owner, coalesce(m.mrr, 0) AS mrr, h.score, h.band, b.score AS previous,
                  CASE h.band WHEN 'red' THEN 0 WHEN 'yellow' THEN 1 WHEN 'green' THEN 2 ELSE 3 END AS rank
           FROM health_snapshots h LEFT JOIN accounts a USING (account_id) LEFT JOIN m USING (account_id)
           LEFT JOIN b USING (account_id) WHERE h.day = DATE '{TODAY}')
SELECT * FROM p ORDER BY rank, CASE WHEN rank < 2 THEN coalesce(score, 0) ELSE coalesce(score - previous, 0) END,
         mrr DESC
"""
BANDS_SQL = f"""
SELECT h.band, count(*), sum(coalesce(m.mrr, 0)), avg(h.score) FROM health_snapshots h
LEFT JOIN (SELECT account_id, sum(mrr) AS mrr FROM subscriptions
           WHERE start_date <= DATE '{TODAY}' AND (end_date IS NULL OR end_date > DATE '{TODAY}') GROUP BY account_id) m
USING (account_id) WHERE h.day = DATE '{TODAY}' GROUP BY h.band
"""


def duckdb_questions(con) -> dict[str, Callable[[], object]]:
    sqls = {"customer churn": duckdb_sql("churn"), "NRR": duckdb_sql("NRR"),
            "churn by segment": duckdb_sql("churn by segment"), "churn 12 months": duckdb_sql("churn 12 months")}
    out: dict[str, Callable[[], object]] = {q: (lambda sql=sql: con.execute(sql).fetchall()) for q, sql in sqls.items()}
    out["/health portfolio"] = lambda: (con.execute(PORTFOLIO_SQL).fetchall(), con.execute(BANDS_SQL).fetchall())
    return out


def duckdb_on_tables(paths: dict[str, Path]):
    import duckdb

    con = duckdb.connect()
    for name, path in paths.items():
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{path}', header = true)")
    return con


def duckdb_on_csv(paths: dict[str, Path]):
    import duckdb

    con = duckdb.connect()
    for name, path in paths.items():  # a view: every query reads and parses the file again
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_csv('{path}', header = true)")
    return con


def pandas_frames(paths: dict[str, Path]) -> dict:
    import pandas as pd

    return {
        "accounts": pd.read_csv(paths["accounts"]).set_index("account_id"),
        "subs": pd.read_csv(paths["subscriptions"], parse_dates=["start_date", "end_date"]),
        "snap": pd.read_csv(paths["health_snapshots"], parse_dates=["day"]),
    }


def pandas_questions(f: dict) -> dict[str, Callable[[], object]]:
    import numpy as np
    import pandas as pd

    subs, accounts, snap = f["subs"], f["accounts"], f["snap"]

    def mrr_at(day):
        day = pd.Timestamp(day)
        active = (subs.start_date <= day) & (subs.end_date.isna() | (subs.end_date > day))
        return subs[active].groupby("account_id").mrr.sum()

    def rates(days, nrr=False, by=None):
        m = pd.concat([mrr_at(d).rename(i) for i, d in enumerate(days)], axis=1).fillna(0)
        if by is not None:
            m = m.join(accounts[by])
        out = []
        for i in range(len(days) - 1):
            s = m[m[i] > 0]
            if by is not None:
                g = s.groupby(by, dropna=False)
                out.append(g[i + 1].sum() / g[i].sum() if nrr else (s[i + 1] <= 0).groupby(s[by], dropna=False).mean())
            else:
                out.append(s[i + 1].sum() / s[i].sum() if nrr else (s[i + 1] <= 0).mean())
        return out

    three = [PERIOD.previous().start, PERIOD.start, PERIOD.end]
    months = [date(SPAN.start.year + (SPAN.start.month - 1 + i) // 12, (SPAN.start.month - 1 + i) % 12 + 1, 1)
              for i in range(13)]

    def portfolio():
        now = snap[snap.day == pd.Timestamp(TODAY)].set_index("account_id")
        prev = snap[snap.day == pd.Timestamp(BEFORE)].set_index("account_id").score.rename("previous")
        df = now.join(accounts[["name", "owner"]]).join(mrr_at(TODAY).rename("mrr")).join(prev)
        df["mrr"] = df.mrr.fillna(0)
        rank = df.band.map({"red": 0, "yellow": 1, "green": 2}).fillna(3)
        second = np.where(rank < 2, df.score.fillna(0), (df.score - df.previous).fillna(0))
        rows = df.assign(rank=rank, second=second, neg_mrr=-df.mrr).sort_values(["rank", "second", "neg_mrr"])
        return rows, df.groupby("band").agg(n=("score", "size"), mrr=("mrr", "sum")), df.score.mean()

    return {
        "customer churn": lambda: rates(three),
        "NRR": lambda: rates(three, nrr=True),
        "churn by segment": lambda: rates(three, by="segment"),
        "churn 12 months": lambda: rates(months),
        "/health portfolio": portfolio,
    }


# ---- timing ---------------------------------------------------------------------------------


def interleaved(engines: dict[str, dict[str, Callable[[], object]]], runs: int) -> dict[tuple[str, str], tuple]:
    """(question, engine) -> (median wall ms, median CPU ms): each round runs every engine once."""
    out = {}
    for q in QUESTIONS:
        walls: dict[str, list[float]] = {e: [] for e in engines if q in engines[e]}
        cpus: dict[str, list[float]] = {e: [] for e in walls}
        for i in range(runs + 1):  # round 0 warms every engine up
            for e in walls:
                t0, c0 = time.perf_counter(), time.process_time()
                engines[e][q]()
                if i:
                    walls[e].append((time.perf_counter() - t0) * 1000)
                    cpus[e].append((time.process_time() - c0) * 1000)
        for e in walls:
            out[(q, e)] = (statistics.median(walls[e]), statistics.median(cpus[e]))
    return out


def report(results: dict, engines: list[str]) -> None:
    ref = "DuckDB raw CSV"
    width = 17
    print(f"  {'median wall ms (x DuckDB raw CSV)':34}" + "".join(f"{e:>{width}}" for e in engines))
    for q in QUESTIONS:
        cells = []
        base = results.get((q, ref))
        for e in engines:
            if (q, e) not in results:
                cells.append(f"{'—':>{width}}")
                continue
            wall = results[(q, e)][0]
            ratio = f" {wall / base[0]:5.1f}x" if base else ""
            cells.append(f"{wall:>{width - len(ratio)}.1f}{ratio}")
        print(f"  {q:34}" + "".join(cells))
    print(f"  {'median CPU ms of this process':34}" + "".join(f"{e:>{width}}" for e in engines))
    for q in QUESTIONS:
        print(f"  {q:34}" + "".join(f"{results[(q, e)][1]:>{width}.1f}" if (q, e) in results else f"{'—':>{width}}"
                                    for e in engines))


def run_size(n: int, args) -> None:
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    print(f"\n=== {n:,} accounts, {args.events:,} events (load average {load():.1f} on {os.cpu_count()} cores)")
    path = dataset(n, args.events, cache)
    sqlite = make_engine(f"sqlite:///{path}")
    with sqlite.connect() as conn:
        counts = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()
                  for t in ("accounts", "subscriptions", "usage_daily")}
        events = conn.exec_driver_sql("SELECT sum(events) FROM usage_daily").scalar_one()
    print(f"  data: {counts['accounts']:,} accounts, {counts['subscriptions']:,} subscriptions, "
          f"{counts['usage_daily']:,} usage_daily rows holding {events:,} events")
    pg = pg_engine(path, None if args.no_pg else args.pg, n, args.pg_schema)
    # csbot's tables and indexes, the snapshots and the revenue state, as csbot's start and a sync make them
    for engine, label in ((sqlite, "SQLite"), (pg, "PostgreSQL")):
        if engine is not None:
            prepare(engine, label)
    paths = export_csv(path, cache / f"csv-{n}a-{args.events}e")
    print(f"  CSV for DuckDB and pandas: {', '.join(f'{p.name} {p.stat().st_size / 1e6:.0f} MB' for p in paths.values())}")

    engines: dict[str, dict[str, Callable[[], object]]] = {}
    conns = []
    sq = sqlite.connect()
    conns.append(sq)
    engines["csbot SQLite"] = csbot_questions(sq, sqlite)
    if pg is not None:
        pc = pg.connect()
        conns.append(pc)
        engines["csbot PostgreSQL"] = csbot_questions(pc, pg)
    try:
        t0 = time.perf_counter()
        engines["DuckDB tables"] = duckdb_questions(duckdb_on_tables(paths))
        t1 = time.perf_counter()
        engines["DuckDB raw CSV"] = duckdb_questions(duckdb_on_csv(paths))
        print(f"  DuckDB tables loaded from the CSV in {(t1 - t0) * 1000:.0f} ms (not timed below)")
    except ImportError:
        print("  DuckDB not installed: skipped")
    t0 = time.perf_counter()
    engines["pandas in memory"] = pandas_questions(pandas_frames(paths))
    print(f"  pandas read the CSV into memory in {(time.perf_counter() - t0) * 1000:.0f} ms (not timed below)")

    before = load()
    results = interleaved(engines, args.runs)
    print(f"  median of {args.runs} interleaved runs after a warm-up; load average {before:.1f} before, {load():.1f} after")
    report(results, list(engines))
    for c in conns:
        c.close()
    sqlite.dispose()
    if pg is not None:
        pg.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_scale.py", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000], help="accounts (default 20000 100000)")
    parser.add_argument("--events", type=int, default=10_000_000, help="product events (default 10,000,000)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cache", default=DEFAULT_CACHE, help=f"where the data is kept between runs ({DEFAULT_CACHE})")
    parser.add_argument("--pg", default=os.environ.get("CSBOT_BENCH_PG", DEFAULT_PG),
                        help=f"PostgreSQL URL, used when it answers (default {DEFAULT_PG})")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--pg-schema", help="the PostgreSQL schema (default csbot_scale_<accounts>)")
    args = parser.parse_args(argv)
    for n in args.sizes:
        run_size(n, args)
    print(f"\npeak RSS of this process (csbot, DuckDB and pandas together): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
