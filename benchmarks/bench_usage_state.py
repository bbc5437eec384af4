"""Usage answers counted from usage_daily (direct) against the usage state built at sync time
(derived: per day and group of accounts, ``metrics/usage_state.py``), at 100k accounts and 10M events.

    python benchmarks/bench_usage_state.py [--runs 7] [--pg postgresql://127.0.0.1:5432/test] [--build-only]

Two data sets, both copies of the shared scale data (``scale_data.py``: 100,000 accounts, 10M events
rolled up into ~2M usage_daily rows), made once into ``--work-dir`` (never the shared file itself):

- "five years": the data as generated (the events spread over five years);
- "one month": the same rows moved to a random day of the 30 days ending 2026-11-21 (rows meeting an
  existing (account, user, day) dropped), so that every question reads ~10M events' rows.

``--pg`` copies each into a PostgreSQL schema of its own (``csbot_usagespeed_*``; ``--drop-pg`` drops
them at the end). For each question, what an answer does (``compute_metric``: the period and the
previous one; ``breakdown`` by segment; a 12-month ``trend``) on one warm connection with a fresh
``Calc`` each run, direct and derived interleaved run by run; the derived time includes the freshness
check. Prints median wall and CPU ms (CPU: this process; PostgreSQL's work is in the server), the load
average before and after, the full build time and the time the after-sync step adds to a sync that
adds events to the last days, whether both ways gave the same numbers, and DuckDB computing MAU and
stickiness with their previous period from the usage_daily rows as a CSV file (parsed every run).
``--build-only``: the full build and the after-sync step alone, without the questions.
"""

from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scale_data  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from metrics import schema, usage_state  # noqa: E402
from metrics.breakdown import breakdown, trend  # noqa: E402
from metrics.calc import Calc  # noqa: E402
from metrics.compute import compute_metric  # noqa: E402
from metrics.db import make_engine  # noqa: E402
from metrics.filters import Filters  # noqa: E402
from metrics.periods import Period  # noqa: E402

TODAY = scale_data.TODAY  # 2026-11-22
LAST = date(2026, 11, 21)  # the data's last day
PERIOD = Period(LAST - timedelta(days=29), LAST + timedelta(days=1), "range")  # the 30 days ending LAST
SPAN = Period(date(2025, 12, 1), TODAY + timedelta(days=1), "months")  # 12 months, the last to date
SHARED = "/tmp/csbot-bench-scale/scale-100000a-10000000e.db"
TARGET_SINGLE_MS = 100
TARGET_SPLIT_MS = 300
ENT = Filters(segment="enterprise")


def ask(calc: Calc, question: str):
    name, _, rest = question.partition(" ")
    if rest == "+ previous":
        return compute_metric(calc.conn, name, PERIOD, calc=calc)
    if rest == "+ previous, enterprise":
        return compute_metric(calc.conn, name, PERIOD, ENT, calc=calc)
    if rest == "by segment":
        return breakdown(calc, name, PERIOD, Filters(), "segment")
    if rest == "12 months":
        return trend(calc, name, SPAN, "month", Filters())
    raise ValueError(question)


METRICS = ("dau", "wau", "mau", "stickiness", "avg_usage_minutes", "seat_utilization")
QUESTIONS = (*[f"{m} + previous" for m in METRICS], "mau + previous, enterprise", "stickiness + previous, enterprise",
             "avg_usage_minutes + previous, enterprise", "mau by segment", "stickiness by segment",
             "avg_usage_minutes by segment", "mau 12 months", "stickiness 12 months", "avg_usage_minutes 12 months")


# ---- data --------------------------------------------------------------------------------------

def sqlite_copies(work: Path, shared: str) -> dict[str, Path]:
    """{"five years": copy of the shared file, "one month": the same rows inside 30 days}; made once."""
    work.mkdir(parents=True, exist_ok=True)
    spread, month = work / "five-years.db", work / "one-month.db"
    for path, moved in ((spread, False), (month, True)):
        if path.exists():
            continue
        tmp = path.with_suffix(".tmp")
        src = sqlite3.connect(f"file:{shared}?mode=ro", uri=True)
        dst = sqlite3.connect(tmp)
        src.backup(dst)
        src.close()
        if moved:
            dst.executescript(f"""
                CREATE TEMP TABLE spread AS SELECT * FROM usage_daily;
                DELETE FROM usage_daily;
                INSERT OR IGNORE INTO usage_daily SELECT account_id, user_id,
                    date('{LAST}', '-' || (abs(random()) % 30) || ' days'), events, seconds FROM spread;
                DROP TABLE spread;""")
            dst.commit()
        dst.execute("ANALYZE")
        dst.close()
        tmp.rename(path)
    return {"five years": spread, "one month": month}


def pg_copy(sqlite_path: Path, url: str, label: str):
    name = "csbot_usagespeed_" + label.replace(" ", "_")
    return scale_data.copy_to_postgres(make_engine(f"sqlite:///{sqlite_path}"), url, name), name


def usage_csv(sqlite_path: Path) -> Path:
    path = sqlite_path.with_suffix(".usage.csv")
    if not path.exists():
        con = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
        with open(path.with_suffix(".tmp"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["account_id", "user_id", "day", "events", "seconds"])
            w.writerows(con.execute("SELECT account_id, user_id, day, events, seconds FROM usage_daily"))
        con.close()
        path.with_suffix(".tmp").rename(path)
    return path


# ---- build ---------------------------------------------------------------------------------------------

def build_times(engine) -> tuple[float, float, float, int]:
    """(full build s, its CPU s, the after-sync step's s for a sync adding events to the last 3 days, rows)."""
    schema.metadata.drop_all(engine, tables=list(usage_state.TABLES))  # a copy made before a column was added
    schema.metadata.create_all(engine, tables=list(usage_state.TABLES))
    t0, c0 = time.perf_counter(), time.process_time()
    with engine.begin() as conn:
        usage_state.build(conn)
    full, full_cpu = time.perf_counter() - t0, time.process_time() - c0
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(schema.usage_group_daily)).scalar_one()
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    ud = schema.usage_daily
    with engine.connect() as conn:
        trans = conn.begin()
        # a sync's events: one more event on 2,000 rows of the last three days, and 1,000 new rows on the last day
        old = conn.execute(select(ud.c.account_id, ud.c.user_id, ud.c.day).where(ud.c.day >= LAST - timedelta(days=2))
                           .limit(2000)).all()
        for r in old:
            conn.execute(ud.update().where(ud.c.account_id == r.account_id, ud.c.user_id == r.user_id,
                                           ud.c.day == r.day).values(events=ud.c.events + 1, seconds=ud.c.seconds + 30))
        conn.execute(ud.insert(), [{"account_id": f"A{i:06d}", "user_id": "bench-new", "day": LAST, "events": 1,
                                    "seconds": 10} for i in range(1000)])
        t0 = time.perf_counter()
        usage_state.refresh(conn)
        step = time.perf_counter() - t0
        trans.rollback()
    return full, full_cpu, step, rows


# ---- timing ------------------------------------------------------------------------------------------

def run(engine, runs: int) -> dict:
    return scale_data.direct_against_derived(engine, QUESTIONS, ask, usage_state.use, runs, TODAY)


DUCK_SQL = {
    # distinct (account, user) over the 30 days ending LAST and the 30 before (MAU + previous)
    "mau + previous": f"""
        SELECT count(DISTINCT CASE WHEN day > DATE '{LAST}' - 30 THEN (account_id, user_id) END),
               count(DISTINCT CASE WHEN day <= DATE '{LAST}' - 30 THEN (account_id, user_id) END)
        FROM usage WHERE day > DATE '{LAST}' - 60 AND day <= DATE '{LAST}'""",
    "stickiness + previous": f"""
        SELECT count(*) FILTER (WHERE day > DATE '{LAST}' - 30) / 30.0
                 / count(DISTINCT CASE WHEN day > DATE '{LAST}' - 30 THEN (account_id, user_id) END),
               count(*) FILTER (WHERE day <= DATE '{LAST}' - 30) / 30.0
                 / count(DISTINCT CASE WHEN day <= DATE '{LAST}' - 30 THEN (account_id, user_id) END)
        FROM usage WHERE day > DATE '{LAST}' - 60 AND day <= DATE '{LAST}'""",
}


def duckdb_csv(path: Path, runs: int) -> dict:
    try:
        import duckdb
    except ImportError:
        return {}
    out = {}
    con = duckdb.connect()
    con.execute(f"CREATE VIEW usage AS SELECT * FROM read_csv('{path}', header = true, "
                "columns = {'account_id': 'VARCHAR', 'user_id': 'VARCHAR', 'day': 'DATE', 'events': 'INTEGER', "
                "'seconds': 'DOUBLE'})")
    for q, sql in DUCK_SQL.items():
        walls, cpus = [], []
        for i in range(runs + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            con.execute(sql).fetchall()
            if i:
                walls.append((time.perf_counter() - t0) * 1000)
                cpus.append((time.process_time() - c0) * 1000)
        out[q] = (statistics.median(walls), statistics.median(cpus))
    con.close()
    return out


def report(label: str, engine, runs: int, csv_path: Path | None, build_only: bool = False) -> None:
    with engine.connect() as conn:
        n_rows = conn.execute(select(func.count()).select_from(schema.usage_daily)).scalar_one()
        n_events = conn.execute(select(func.sum(schema.usage_daily.c.events))).scalar_one()
        n_acc = conn.execute(select(func.count()).select_from(schema.accounts)).scalar_one()
    load_b = os.getloadavg()[0]
    full, full_cpu, step, rows = build_times(engine)
    if build_only:
        print(f"{label}: {n_acc:,} accounts, {n_rows:,} usage_daily rows ({int(n_events):,} events) -> {rows:,} state "
              f"rows; full build {full * 1000:.0f} ms ({full_cpu * 1000:.0f} ms CPU here); after-sync step for a "
              f"sync adding events to the last 3 days: {step * 1000:.0f} ms; load {load_b:.1f} -> "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
        return
    load0 = os.getloadavg()[0]
    results = run(engine, runs)
    duck = duckdb_csv(csv_path, runs) if csv_path else {}
    load1 = os.getloadavg()[0]
    print(f"\n{label}: {n_acc:,} accounts, {n_rows:,} usage_daily rows ({int(n_events):,} events) -> "
          f"{rows:,} state rows; full build {full * 1000:.0f} ms ({full_cpu * 1000:.0f} ms CPU here; load "
          f"{load_b:.1f}); after-sync step for a sync adding events to the last 3 days: {step * 1000:.0f} ms\n"
          f"median of {runs} runs, period {PERIOD.start}..{PERIOD.last_day} and the 30 days before; load "
          f"average {load0:.1f} -> {load1:.1f} on {os.cpu_count()} cores")
    header = f"{'question':42}{'direct ms':>11}{'(cpu)':>8}{'derived ms':>12}{'(cpu)':>8}{'speed-up':>10}  same"
    print(header)
    print("-" * len(header))
    for q, r in results.items():
        (dw, dc), (vw, vc) = r["direct"], r["derived"]
        target = TARGET_SINGLE_MS if "previous" in q else TARGET_SPLIT_MS
        flag = "" if vw < target else f"  (target < {target} ms missed)"
        print(f"{q:42}{dw:11.1f}{dc:8.1f}{vw:12.1f}{vc:8.1f}{dw / vw:9.1f}x  {'yes' if r['same'] else 'NO'}{flag}")
    for q, (w, c) in duck.items():
        print(f"{'DuckDB, usage CSV: ' + q:42}{w:11.1f}{c:8.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--shared", default=SHARED, help="the shared scale data (read, never written)")
    parser.add_argument("--work-dir", default="/tmp/usagespeed/bench")
    parser.add_argument("--pg", help="also on PostgreSQL (a schema per data set is created in this database)")
    parser.add_argument("--drop-pg", action="store_true", help="drop the PostgreSQL schemas at the end")
    parser.add_argument("--only", choices=("five years", "one month"), help="one data set only")
    parser.add_argument("--build-only", action="store_true", help="only the full build and the after-sync step")
    args = parser.parse_args(argv)
    copies = sqlite_copies(Path(args.work_dir), args.shared)
    made = []
    for label, path in copies.items():
        if args.only and label != args.only:
            continue
        csv_path = None if args.build_only else usage_csv(path)
        report(f"SQLite, {label}", make_engine(f"sqlite:///{path}"), args.runs, csv_path, args.build_only)
        if args.pg:
            engine, name = pg_copy(path, args.pg, label)
            made.append(name)
            report(f"PostgreSQL, {label}", engine, args.runs, None, args.build_only)
            engine.dispose()
    if args.pg and args.drop_pg:
        admin = make_engine(args.pg)
        with admin.begin() as conn:
            for name in made:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
