"""Every metric outside usage, with its previous period, at 100,000 accounts on SQLite and
PostgreSQL; breakdowns and 12-month trends; against DuckDB on the raw CSV (issue 16).

    python benchmarks/bench_scale_metrics.py [--data /tmp/csbot-bench-scale/scale-100000a-10000000e.db]
        [--work /tmp/revspeed] [--pg postgresql://127.0.0.1:5432/test --pg-schema csbot_revspeed_100000]
        [--runs 5] [--only NAME ...] [--no-duckdb]

Data: ``bench_scale.py``'s data set. The shared file is never written: it is copied once (SQLite's
backup) into ``--work``, and copied from there into a PostgreSQL schema of its own (``--pg-schema``,
dropped with ``--drop-pg``). The health snapshots of today, 30 days before and the two month starts
``health_score`` reads (as the daily job keeps them) are written when missing, with their day totals
(``health_day_totals``, summed for snapshots written before them), and the revenue state
(``metrics/revenue_state.py``) is built as a sync's after-sync step builds it when it is not fresh:
the time of each is printed (the sync pays it, not an answer).

Questions, as an answer runs them on one warm connection with a fresh ``Calc`` each time:
- every catalog metric that is not a usage metric: ``compute_metric`` (the month and the month before);
- a breakdown by every dimension (churn), by segment (NRR, MRR, NPS, health score);
- a 12-month trend (churn, NRR, MRR).
DuckDB on the raw CSV (``read_csv`` views: every run parses the files) answers what bench_scale.py
asks it (churn, NRR, churn by segment, churn 12 months): its figure and the ratio are printed beside.

Runs are interleaved (every engine once, then again) after a warm-up round; the median wall and
CPU milliseconds of this process (for PostgreSQL the client's share only), and the load average
before and after.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench_scale as bs  # noqa: E402
import scale_data as sd  # noqa: E402
from bench_questions import duckdb_sql  # noqa: E402
from sqlalchemy import select  # noqa: E402

from metrics import catalog, schema  # noqa: E402
from metrics.breakdown import DIMENSIONS, breakdown, trend  # noqa: E402
from metrics.calc import Calc  # noqa: E402
from metrics.compute import compute_metric  # noqa: E402
from metrics.db import make_engine  # noqa: E402
from metrics.filters import Filters  # noqa: E402
from metrics.health import write_day_totals  # noqa: E402
from metrics.settings import Settings  # noqa: E402

USAGE = ("dau", "wau", "mau", "stickiness", "avg_usage_minutes", "seat_utilization")
DEFAULT_DATA = "/tmp/csbot-bench-scale/scale-100000a-10000000e.db"
TODAY, PERIOD, SPAN = bs.TODAY, bs.PERIOD, bs.SPAN
TARGETS = {"metric": 100, "breakdown": 300, "trend": 300}
# what DuckDB on the raw CSV answers of the same questions (bench_scale.py's SQL)
DUCKDB = {"customer_churn_rate": "churn", "nrr": "NRR", "churn by segment": "churn by segment",
          "churn 12 months": "churn 12 months"}


def load() -> float:
    return os.getloadavg()[0]


def local_copy(data: Path, work: Path) -> Path:
    """The shared data file copied (once) into ``work``: this benchmark writes snapshots and state."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / data.name
    if not path.exists():
        t0 = time.perf_counter()
        src = sqlite3.connect(f"file:{data}?mode=ro", uri=True)
        dst = sqlite3.connect(path)
        src.backup(dst)
        dst.close()
        src.close()
        print(f"  copied {data} to {path} in {time.perf_counter() - t0:.1f} s")
    return path


def day_totals(engine, label: str) -> None:
    """The health snapshots' day totals of every stored day without them (``write_snapshots`` writes them
    with the snapshots; these days were written before): what the daily job pays, printed."""
    h, ht = schema.health_snapshots, schema.health_day_totals
    with engine.begin() as conn:
        days = [d for (d,) in conn.execute(select(h.c.day).distinct().where(~select(ht.c.day).where(
            ht.c.day == h.c.day).exists()))]
        for day in days:
            t0 = time.perf_counter()
            write_day_totals(conn, day)
            print(f"  {label}: summed the day totals of {day}'s snapshots in {(time.perf_counter() - t0) * 1000:.0f} ms")
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            autovacuum = conn.exec_driver_sql("SHOW autovacuum").scalar_one()
        if autovacuum == "off":  # what autovacuum does after the daily job inserted a day's snapshots
            t0 = time.perf_counter()
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in (h, ht):
                    conn.exec_driver_sql(f"VACUUM ANALYZE {table.name}")
            print(f"  {label}: autovacuum is off on this server: vacuumed the snapshots as it would "
                  f"({time.perf_counter() - t0:.1f} s)")


def questions(conn, only: list[str] | None) -> dict[str, tuple[str, Callable[[], object]]]:
    """name -> (kind, run): what an answer runs, with a fresh Calc each time."""
    settings = Settings()

    def calc():
        return Calc(conn, settings, today=TODAY)

    out: dict[str, tuple[str, Callable[[], object]]] = {}
    for name in catalog.names():
        if name not in USAGE:
            out[name] = ("metric", lambda name=name: compute_metric(conn, name, PERIOD, calc=calc()))
    for by in DIMENSIONS:
        out[f"churn by {by}"] = ("breakdown", lambda by=by: breakdown(calc(), "customer_churn_rate", PERIOD,
                                                                      Filters(), by))
    for name, short in (("nrr", "NRR"), ("mrr", "MRR"), ("nps", "NPS"), ("health_score", "health")):
        out[f"{short} by segment"] = ("breakdown", lambda name=name: breakdown(calc(), name, PERIOD, Filters(),
                                                                                "segment"))
    for name, short in (("customer_churn_rate", "churn"), ("nrr", "NRR"), ("mrr", "MRR")):
        out[f"{short} 12 months"] = ("trend", lambda name=name: trend(calc(), name, SPAN, "month", Filters()))
    if only:
        out = {q: v for q, v in out.items() if q in only}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"the shared SQLite data, read only ({DEFAULT_DATA})")
    parser.add_argument("--work", default="/tmp/revspeed", help="where the copy is kept (written)")
    parser.add_argument("--pg", help="also on PostgreSQL (the data is copied into --pg-schema)")
    parser.add_argument("--pg-schema", default="csbot_revspeed_100000")
    parser.add_argument("--drop-pg", action="store_true", help="drop --pg-schema at the end")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="only these questions (metric names, 'churn by segment'...)")
    parser.add_argument("--no-duckdb", action="store_true")
    args = parser.parse_args(argv)

    print(f"load average {load():.2f} on {os.cpu_count()} cores")
    data = Path(args.data)
    path = local_copy(data, Path(args.work))
    n = int(data.name.split("-")[1].rstrip("a"))
    events = int(data.name.split("-")[2].split("e")[0])
    sd.ACCOUNTS, sd.EVENTS, sd.VERSION = n, events, f"scale-v2-{n}a-{events}e"
    engines = {"SQLite": make_engine(f"sqlite:///{path}")}
    if args.pg:
        engines["PostgreSQL"] = sd.copy_to_postgres(engines["SQLite"], args.pg, schema_name=args.pg_schema)
    for label, engine in engines.items():
        bs.prepare(engine, label)
        day_totals(engine, label)
    conns = {label: engine.connect() for label, engine in engines.items()}
    runs: dict[str, dict[str, tuple[str, Callable[[], object]]]] = {
        label: questions(conn, args.only) for label, conn in conns.items()}
    if not args.no_duckdb:
        try:
            paths = bs.export_csv(path, Path(args.work) / f"csv-{n}a-{events}e")
            con = bs.duckdb_on_csv(paths)
            runs["DuckDB raw CSV"] = {q: ("", lambda sql=duckdb_sql(d): con.execute(sql).fetchall())
                                      for q, d in DUCKDB.items() if not args.only or q in args.only}
        except ImportError:
            print("  DuckDB not installed: skipped")

    names = list(runs["SQLite"])
    before = load()
    results: dict[tuple[str, str], tuple[float, float]] = {}
    for q in names:
        engines_q = [e for e in runs if q in runs[e]]
        walls: dict[str, list[float]] = {e: [] for e in engines_q}
        cpus: dict[str, list[float]] = {e: [] for e in engines_q}
        for i in range(args.runs + 1):  # round 0 warms up
            for e in engines_q:
                t0, c0 = time.perf_counter(), time.process_time()
                runs[e][q][1]()
                if i:
                    walls[e].append((time.perf_counter() - t0) * 1000)
                    cpus[e].append((time.process_time() - c0) * 1000)
        for e in engines_q:
            results[(q, e)] = (statistics.median(walls[e]), statistics.median(cpus[e]))
    after = load()

    cols = list(runs)
    print(f"\n{PERIOD.start}..{PERIOD.end} and the month before; median of {args.runs} interleaved runs after a "
          f"warm-up; load average {before:.2f} before, {after:.2f} after")
    print(f"{'question':26}{'target':>7}" + "".join(f"{c + ' wall':>18}{'cpu':>8}" for c in cols))
    missed = []
    for q in names:
        kind = runs["SQLite"][q][0]
        cells = []
        base = results.get((q, "DuckDB raw CSV"))
        for e in cols:
            if (q, e) not in results:
                cells.append(f"{'—':>18}{'':>8}")
                continue
            wall, cpu = results[(q, e)]
            ratio = f" {wall / base[0]:4.1f}x" if base and e != "DuckDB raw CSV" else ""
            cells.append(f"{wall:>{18 - len(ratio)}.1f}{ratio}{cpu:>8.1f}")
            if e != "DuckDB raw CSV" and (wall > TARGETS[kind] or (base and wall > base[0])):
                missed.append(f"{q} on {e}: {wall:.0f} ms")
        print(f"{q:26}{TARGETS[kind]:>7}" + "".join(cells))
    print(f"(x: wall / DuckDB raw CSV wall, same rounds) load average now {load():.2f}")
    print("over target or slower than DuckDB: " + ("; ".join(missed) if missed else "none"))
    for conn in conns.values():
        conn.close()
    if args.pg and args.drop_pg:
        admin = make_engine(args.pg)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{args.pg_schema}" CASCADE')
        admin.dispose()
        print(f"dropped schema {args.pg_schema}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
