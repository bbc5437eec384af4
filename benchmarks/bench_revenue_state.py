"""Revenue answers counted from subscriptions (direct) against the revenue state built at sync
time (derived: each account's MRR as intervals of constant value, ``metrics/revenue_state.py``).

    python benchmarks/bench_revenue_state.py [--accounts 20000 100000] [--runs 7] [--pg postgresql://127.0.0.1:5432/test]

The data is the metrics benchmark's company (``scale_data.py``: five years of subscriptions with
new business, expansion, contraction, add-ons, churn, downgrades to free and reactivations), at
each size, accounts and subscriptions only (no usage: no revenue question reads it), generated
once into ``--data-dir`` and cached; ``--pg`` copies it into a PostgreSQL schema of its own.

For each question, what an answer does (``compute_metric``: the period and the previous one;
``breakdown``; ``trend``) on one warm connection with a fresh ``Calc`` each run, the direct and
the derived ways interleaved run by run; the derived time includes the freshness check. Prints
the median wall and CPU milliseconds (CPU: this process only; PostgreSQL's work is in the server),
the load average before and after, the time the build adds to a sync, and whether both ways gave
the same numbers.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scale_data  # noqa: E402
from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

from metrics import revenue_state, schema  # noqa: E402
from metrics.breakdown import breakdown, trend  # noqa: E402
from metrics.calc import Calc  # noqa: E402
from metrics.compute import compute_metric  # noqa: E402
from metrics.db import get_meta, make_engine, set_meta  # noqa: E402
from metrics.filters import Filters  # noqa: E402
from metrics.periods import Period  # noqa: E402

TODAY = scale_data.TODAY
PERIOD = Period(date(2026, 10, 1), date(2026, 11, 1), "month")
SPAN = Period(date(2025, 11, 1), date(2026, 11, 1), "months")
VERSION = "revenue-bench-v1"
TARGET_SINGLE_MS = 100
TARGET_SPLIT_MS = 300


def ask(calc: Calc, question: str):
    if question == "customer churn + previous":
        return compute_metric(calc.conn, "customer_churn_rate", PERIOD, calc=calc)
    if question == "NRR + previous":
        return compute_metric(calc.conn, "nrr", PERIOD, calc=calc)
    if question == "MRR + previous":
        return compute_metric(calc.conn, "mrr", PERIOD, calc=calc)
    if question == "churn by segment":
        return breakdown(calc, "customer_churn_rate", PERIOD, Filters(), "segment")
    if question == "churn, 12 months":
        return trend(calc, "customer_churn_rate", SPAN, "month", Filters())
    raise ValueError(question)


QUESTIONS = ("customer churn + previous", "NRR + previous", "MRR + previous", "churn by segment", "churn, 12 months")


# ---- data --------------------------------------------------------------------------------------

def sqlite_data(folder: Path, accounts: int):
    path = folder / f"revenue-{accounts}.db"
    engine = create_engine(f"sqlite:///{path}")
    if path.exists():
        try:
            if get_meta(engine, "bench_revenue") == VERSION:
                return make_engine(f"sqlite:///{path}")
        except Exception:  # noqa: BLE001 - a half-written file: made again
            pass
    engine.dispose()
    path.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    schema.metadata.create_all(engine)
    t0 = time.perf_counter()
    scale_data.ACCOUNTS = accounts
    rows_a, rows_s, _ = scale_data._accounts_and_subscriptions(random.Random(7))
    with engine.begin() as conn:
        for table, rows in ((schema.accounts, rows_a), (schema.subscriptions, rows_s)):
            for i in range(0, len(rows), scale_data.CHUNK):
                conn.execute(insert(table), rows[i:i + scale_data.CHUNK])
        set_meta(conn, "bench_revenue", VERSION)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    print(f"generated {path}: {len(rows_a):,} accounts, {len(rows_s):,} subscriptions in "
          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return engine


def pg_data(sqlite_engine, url: str, accounts: int):
    name = f"csbot_bench_revenue_{accounts}"
    admin = make_engine(url)
    sep = "&" if "?" in url else "?"
    engine = make_engine(f"{url}{sep}options=-csearch_path%3D{name}")
    with admin.begin() as conn:
        exists = conn.execute(text("SELECT 1 FROM information_schema.tables WHERE table_schema = :s AND "
                                   "table_name = 'csbot_meta'"), {"s": name}).first()
    if exists and get_meta(engine, "bench_revenue") == VERSION:
        admin.dispose()
        return engine
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    admin.dispose()
    schema.metadata.create_all(engine)
    for table in (schema.accounts, schema.subscriptions):
        cols = [c.name for c in table.columns]
        raw = engine.raw_connection()
        try:
            with raw.cursor().copy(f'COPY {table.name} ({", ".join(cols)}) FROM STDIN') as copy:
                with sqlite_engine.connect() as src:
                    for row in src.execution_options(yield_per=50_000).execute(select(*table.columns)):
                        copy.write_row(tuple(row))
            raw.commit()
        finally:
            raw.close()
    with engine.begin() as conn:
        set_meta(conn, "bench_revenue", VERSION)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    return engine


def build_state(engine) -> tuple[float, int]:
    """Build the derived state as the sync's step does; (seconds, intervals)."""
    schema.metadata.create_all(engine)  # a cached database made before a derived table was added
    t0 = time.perf_counter()
    with engine.begin() as conn:
        n = revenue_state.build(conn)
    seconds = time.perf_counter() - t0
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    return seconds, n


# ---- timing ------------------------------------------------------------------------------------------

def run(engine, runs: int) -> dict:
    return scale_data.direct_against_derived(engine, QUESTIONS, ask, revenue_state.use, runs, TODAY)


def report(label: str, engine, runs: int) -> None:
    with engine.connect() as conn:
        subs = conn.execute(select(func.count()).select_from(schema.subscriptions)).scalar_one()
        accounts = conn.execute(select(func.count()).select_from(schema.accounts)).scalar_one()
    seconds, intervals = build_state(engine)
    load0 = os.getloadavg()[0]
    results = run(engine, runs)
    load1 = os.getloadavg()[0]
    print(f"\n{label}: {accounts:,} accounts, {subs:,} subscriptions -> {intervals:,} intervals built in "
          f"{seconds * 1000:.0f} ms (added to each sync); median of {runs} runs; load average {load0:.1f} -> "
          f"{load1:.1f} on {os.cpu_count()} cores")
    header = f"{'question':28}{'direct ms':>11}{'(cpu)':>8}{'derived ms':>12}{'(cpu)':>8}{'speed-up':>10}  same"
    print(header)
    print("-" * len(header))
    for q, r in results.items():
        (dw, dc), (vw, vc) = r["direct"], r["derived"]
        target = TARGET_SINGLE_MS if "previous" in q else TARGET_SPLIT_MS
        flag = "" if vw < target else f"  (target < {target} ms missed)"
        print(f"{q:28}{dw:11.1f}{dc:8.1f}{vw:12.1f}{vc:8.1f}{dw / vw:9.1f}x  {'yes' if r['same'] else 'NO'}{flag}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--data-dir", default="/tmp/csbot-bench/revenue")
    parser.add_argument("--pg", help="also on PostgreSQL (a schema per size is created in this database)")
    args = parser.parse_args(argv)
    folder = Path(args.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for n in args.accounts:
        engine = sqlite_data(folder, n)
        report(f"SQLite, {n:,} accounts", engine, args.runs)
        if args.pg:
            pg = pg_data(engine, args.pg, n)
            report(f"PostgreSQL, {n:,} accounts", pg, args.runs)
            pg.dispose()
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
