"""Every metric's latency at scale, on SQLite and PostgreSQL, against the
obvious pandas approach; and the process's peak memory.

    python benchmarks/bench_metrics.py [--data /tmp/csbot-bench/scale.db] [--pg postgresql://127.0.0.1/test]

The data comes from ``scale_data.py`` (20,000 accounts, five years, 10 million
events rolled up into usage_daily, 100,000 survey answers), generated on the
first run and reused after. A metric's time is what ``csbot metric`` does: the
value for the period and for the previous period, on one warm connection with
a fresh memo each run; the median of 5 runs after one warm-up. The pandas
approach loads the tables it needs with ``read_sql`` and computes in memory;
it runs in a child process so that its memory does not count as csbot's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scale_data import DEFAULT_DATA, EXTRA_INDEXES, TODAY, copy_to_postgres, ensure_indexes, generate_sqlite  # noqa: E402

from commands import format as fmt  # noqa: E402
from metrics import catalog  # noqa: E402
from metrics.calc import Calc  # noqa: E402
from metrics.compute import compute_metric  # noqa: E402
from metrics.db import make_engine  # noqa: E402
from metrics.periods import Period  # noqa: E402
from metrics.settings import Settings  # noqa: E402

PERIOD = Period(date(2026, 10, 1), date(2026, 11, 1), "month")
RUNS = 5
PANDAS_RUNS = 3
TARGET_MS = 300


def time_metric(engine, name: str) -> tuple[float, float]:
    """Median wall and CPU milliseconds of RUNS runs (after a warm-up) of one metric, current + previous
    period. The CPU time is this process's: for SQLite (in-process) it is the latency without other
    processes competing for the cores."""
    walls, cpus = [], []
    with engine.connect() as conn:
        for i in range(RUNS + 1):
            calc = Calc(conn, Settings())
            calc.today = TODAY
            t0, c0 = time.perf_counter(), time.process_time()
            compute_metric(conn, name, PERIOD, calc=calc)
            if i:
                walls.append((time.perf_counter() - t0) * 1000)
                cpus.append((time.process_time() - c0) * 1000)
    return statistics.median(walls), statistics.median(cpus)


# ---- the obvious pandas approach ------------------------------------------------------

def _pandas_churn_and_nrr(url: str) -> dict[str, tuple[float, float]]:
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(url)
    out = {}
    for metric in ("customer_churn_rate", "nrr"):
        times, cpus = [], []
        for _ in range(PANDAS_RUNS):
            t0, c0 = time.perf_counter(), time.process_time()
            subs = pd.read_sql("SELECT account_id, start_date, end_date, mrr FROM subscriptions", engine,
                               parse_dates=["start_date", "end_date"])
            for period in (PERIOD, PERIOD.previous()):
                start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)

                def mrr_at(day):
                    active = (subs.start_date <= day) & (subs.end_date.isna() | (subs.end_date > day))
                    return subs[active].groupby("account_id").mrr.sum()

                m = pd.concat([mrr_at(start).rename("m0"), mrr_at(end).rename("m1")], axis=1).fillna(0)
                s = m[m.m0 > 0]
                if metric == "customer_churn_rate":
                    (s.m1 <= 0).sum() / len(s)
                else:
                    s.m1.sum() / s.m0.sum()
            times.append((time.perf_counter() - t0) * 1000)
            cpus.append((time.process_time() - c0) * 1000)
        out[metric] = (statistics.median(times), statistics.median(cpus))
    engine.dispose()
    return out


def _pandas_nps(url: str) -> tuple[float, float]:
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(url)
    times, cpus = [], []
    for _ in range(PANDAS_RUNS):
        t0, c0 = time.perf_counter(), time.process_time()
        nps = pd.read_sql("SELECT response_id, account_id, respondent, score, responded_at FROM nps_responses", engine,
                          parse_dates=["responded_at"])
        for period in (PERIOD, PERIOD.previous()):
            p = nps[(nps.responded_at >= pd.Timestamp(period.start)) & (nps.responded_at < pd.Timestamp(period.end))]
            p = p.assign(who=p.respondent.fillna(p.response_id)).sort_values(["responded_at", "response_id"])
            latest = p.drop_duplicates(["account_id", "who"], keep="last")
            round(100 * ((latest.score >= 9).sum() - (latest.score <= 6).sum()) / max(1, len(latest)))
        times.append((time.perf_counter() - t0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
    engine.dispose()
    return statistics.median(times), statistics.median(cpus)


def _pandas_mau(url: str) -> tuple[float, float]:
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(url)
    times, cpus = [], []
    for _ in range(PANDAS_RUNS):
        t0, c0 = time.perf_counter(), time.process_time()
        usage = pd.read_sql("SELECT account_id, user_id, day FROM usage_daily", engine, parse_dates=["day"])
        for period in (PERIOD, PERIOD.previous()):
            d = pd.Timestamp(period.last_day)
            window = usage[(usage.day > d - pd.Timedelta(days=30)) & (usage.day <= d)]
            len(window.drop_duplicates(["account_id", "user_id"]))
        times.append((time.perf_counter() - t0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
    engine.dispose()
    return statistics.median(times), statistics.median(cpus)


def _pandas_child(url: str, queue) -> None:
    results = _pandas_churn_and_nrr(url)
    results["nps"] = _pandas_nps(url)
    results["mau"] = _pandas_mau(url)
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(results)


def pandas_times(url: str) -> dict:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_pandas_child, args=(url, queue))
    proc.start()
    results = queue.get()
    proc.join()
    return results


# ---- main ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="csbot metrics benchmark")
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"cached SQLite data (default {DEFAULT_DATA})")
    parser.add_argument("--pg", help="PostgreSQL URL (the data is copied into schema csbot_bench)")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas comparison")
    parser.add_argument("--only", nargs="*", help="only these metrics")
    parser.add_argument("--schema-indexes-only", action="store_true",
                        help="do not add the proposed covering indexes (measure metrics/schema.py as it is)")
    args = parser.parse_args(argv)

    sqlite = generate_sqlite(args.data)
    sqlite.dispose()
    sqlite = make_engine(f"sqlite:///{args.data}")  # as csbot opens it (WAL, pragmas)
    engines = {"SQLite": sqlite}
    if args.pg:
        engines["PostgreSQL"] = copy_to_postgres(sqlite, args.pg)
    if not args.schema_indexes_only:
        for engine in engines.values():
            ensure_indexes(engine)
        print("added indexes (proposed for metrics/schema.py):")
        for ddl in EXTRA_INDEXES:
            print("  " + ddl)
    names = [n for n in catalog.names() if n != "health_score" and (not args.only or n in args.only)]

    print(f"period {fmt.period(PERIOD)} (value + previous period), median of {RUNS} warm runs, ms; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    columns = ["SQLite", "SQLite cpu"] + [db for db in engines if db != "SQLite"]
    header = f"{'metric':28}" + "".join(f"{c:>12}" for c in columns)
    print(header)
    print("-" * len(header))
    results: dict[str, dict[str, float]] = {}
    for name in names:
        row: dict[str, float] = {}
        for db, engine in engines.items():
            wall, cpu = time_metric(engine, name)
            row[db] = wall
            if db == "SQLite":
                row["SQLite cpu"] = cpu
        results[name] = row
        print(f"{name:28}" + "".join(f"{row[c]:12.1f}" for c in columns), flush=True)
    print("-" * len(header))
    for col in ("SQLite", "SQLite cpu"):
        worst = max(names, key=lambda n: results[n][col])
        print(f"slowest on {col}: {worst} {results[worst][col]:.1f} ms (target < {TARGET_MS} ms): "
              f"{'OK' if results[worst][col] < TARGET_MS else 'MISSED'}")
    print(f"load average now {os.getloadavg()[0]:.1f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (csbot metrics only): {peak:.0f} MB (target < 300 MB)")

    if not args.no_pandas:
        print()
        print("the obvious pandas approach (read_sql the table, compute in memory), SQLite, median of "
              f"{PANDAS_RUNS}, ms")
        pd_results = pandas_times(f"sqlite:///{args.data}")
        print(f"{'metric':28}{'csbot':>10}{'pandas':>10}{'speed-up':>10}{'csbot cpu':>11}{'pandas cpu':>11}"
              f"{'speed-up':>10}")
        for name in ("customer_churn_rate", "nrr", "nps", "mau"):
            if name not in results:
                continue
            ours, ours_cpu = results[name]["SQLite"], results[name]["SQLite cpu"]
            theirs, theirs_cpu = pd_results[name]
            print(f"{name:28}{ours:10.1f}{theirs:10.1f}{theirs / ours:9.1f}x{ours_cpu:11.1f}{theirs_cpu:11.1f}"
                  f"{theirs_cpu / ours_cpu:9.1f}x")
        print(f"peak RSS of the pandas process: {pd_results['peak_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
