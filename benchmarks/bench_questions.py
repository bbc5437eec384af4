"""The questions a breakdown or a trend answers, timed at scale on SQLite, against the same
questions in DuckDB and in pandas on the same data.

    python benchmarks/bench_questions.py [--data /tmp/csbot-bench/scale.db] [--runs 5]

The data is the metrics benchmark's (``scale_data.py``: 20,000 accounts, five years, 10
million events rolled up into usage_daily), generated on first use and cached. Each question
is what ``csbot metric`` does for it, on one warm connection with a fresh memo each run
(the median of ``--runs`` after one warm-up):

- churn: customer churn rate of Oct 2026 and of the month before (``compute_metric``)
- churn by segment: ``breakdown`` (both months per segment, and the whole)
- churn, 12 months: ``trend`` over Nov 2025 - Oct 2026
- NRR by segment, NRR 12 months: the same for net revenue retention

DuckDB runs the same counting in SQL on in-memory copies of the two tables (loading them
is not timed); pandas reads the subscriptions with ``read_sql`` and counts in memory (the
read is timed: it is what a notebook does). Either is skipped when not installed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scale_data import DEFAULT_DATA, TODAY, ensure_indexes, generate_sqlite  # noqa: E402

from metrics.breakdown import breakdown, trend  # noqa: E402
from metrics.calc import Calc  # noqa: E402
from metrics.compute import compute_metric  # noqa: E402
from metrics.db import make_engine  # noqa: E402
from metrics.filters import Filters  # noqa: E402
from metrics.periods import Period, add_months  # noqa: E402
from metrics.settings import Settings  # noqa: E402

PERIOD = Period(date(2026, 10, 1), date(2026, 11, 1), "month")
SPAN = Period(date(2025, 11, 1), date(2026, 11, 1), "months")
TARGET_MS = 500
QUESTIONS = ("churn", "churn by segment", "churn 12 months", "NRR by segment", "NRR 12 months")


def csbot_question(conn, question: str) -> None:
    calc = Calc(conn, Settings(), today=TODAY)
    metric = "nrr" if question.startswith("NRR") else "customer_churn_rate"
    if question == "churn":
        compute_metric(conn, metric, PERIOD, calc=calc)
    elif question.endswith("by segment"):
        breakdown(calc, metric, PERIOD, Filters(), "segment")
    else:
        trend(calc, metric, SPAN, "month", Filters())


def median_ms(fn, runs: int) -> float:
    return timed(fn, runs)[0]


def timed(fn, runs: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``runs`` runs after a warm-up. For SQLite (in-process) the CPU
    time is the latency without the other processes of a busy machine competing for the cores."""
    fn()  # warm-up
    walls, cpus = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append((time.perf_counter() - t0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
    return statistics.median(walls), statistics.median(cpus)


# ---- the same questions in DuckDB ------------------------------------------------------------

def _boundaries(question: str) -> list[date]:
    if question.endswith("12 months"):
        return [add_months(SPAN.start, i) for i in range(13)]
    return [PERIOD.previous().start, PERIOD.start, PERIOD.end]


def duckdb_sql(question: str) -> str:
    """Per account its MRR at each boundary, then per (segment and) month the churn or NRR counts."""
    days = _boundaries(question)
    cols = ", ".join(f"sum(CASE WHEN start_date <= DATE '{d}' AND (end_date IS NULL OR end_date > DATE '{d}') "
                     f"THEN mrr ELSE 0 END) AS m{i}" for i, d in enumerate(days))
    per = f"SELECT account_id, {cols} FROM subscriptions WHERE start_date <= DATE '{days[-1]}' GROUP BY account_id"
    outs = []
    for i in range(len(days) - 1):
        if question.startswith("NRR"):
            outs.append(f"sum(CASE WHEN m{i} > 0 THEN m{i + 1} ELSE 0 END) / nullif(sum(CASE WHEN m{i} > 0 THEN m{i} "
                        f"ELSE 0 END), 0) AS v{i}")
        else:
            outs.append(f"sum(CASE WHEN m{i} > 0 AND m{i + 1} <= 0 THEN 1 ELSE 0 END) / "
                        f"nullif(sum(CASE WHEN m{i} > 0 THEN 1 ELSE 0 END), 0) AS v{i}")
    if question.endswith("by segment"):
        return (f"SELECT a.segment, {', '.join(outs)} FROM ({per}) p LEFT JOIN accounts a USING (account_id) "
                f"GROUP BY a.segment")
    return f"SELECT {', '.join(outs)} FROM ({per}) p"


def duckdb_times(path: str, runs: int) -> dict[str, float] | None:
    try:
        import duckdb
        import pandas as pd
    except ImportError:
        return None
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{path}")
    subs = pd.read_sql("SELECT account_id, start_date, end_date, mrr FROM subscriptions", engine,
                       parse_dates=["start_date", "end_date"])
    accounts = pd.read_sql("SELECT account_id, segment FROM accounts", engine)
    engine.dispose()
    con = duckdb.connect()
    con.register("subs_df", subs)
    con.register("accounts_df", accounts)
    con.execute("CREATE TABLE subscriptions AS SELECT account_id, CAST(start_date AS DATE) AS start_date, "
                "CAST(end_date AS DATE) AS end_date, mrr FROM subs_df")
    con.execute("CREATE TABLE accounts AS SELECT * FROM accounts_df")
    out = {}
    for q in QUESTIONS:
        sql = duckdb_sql(q)
        out[q] = median_ms(lambda: con.execute(sql).fetchall(), runs)
    con.close()
    return out


# ---- the same questions in pandas -------------------------------------------------------------

def pandas_question(path: str, question: str) -> None:
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{path}")
    subs = pd.read_sql("SELECT account_id, start_date, end_date, mrr FROM subscriptions", engine,
                       parse_dates=["start_date", "end_date"])
    if question.endswith("by segment"):
        seg = pd.read_sql("SELECT account_id, segment FROM accounts", engine).set_index("account_id").segment
    engine.dispose()
    days = _boundaries(question)

    def mrr_at(day):
        day = pd.Timestamp(day)
        active = (subs.start_date <= day) & (subs.end_date.isna() | (subs.end_date > day))
        return subs[active].groupby("account_id").mrr.sum()

    m = pd.concat([mrr_at(d).rename(i) for i, d in enumerate(days)], axis=1).fillna(0)
    if question.endswith("by segment"):
        m = m.join(seg)
    for i in range(len(days) - 1):
        s = m[m[i] > 0]
        if question.endswith("by segment"):
            g = s.groupby("segment")
            (g[i + 1].sum() / g[i].sum()) if question.startswith("NRR") else (s[i + 1] <= 0).groupby(s.segment).mean()
        else:
            (s[i + 1].sum() / s[i].sum()) if question.startswith("NRR") else (s[i + 1] <= 0).mean()


def pandas_times(path: str, runs: int) -> dict[str, float] | None:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return None
    return {q: median_ms(lambda q=q: pandas_question(path, q), runs) for q in QUESTIONS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="csbot breakdown and trend benchmark")
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"cached SQLite data (default {DEFAULT_DATA})")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--schema-indexes-only", action="store_true",
                        help="do not add the covering indexes bench_metrics.py proposes")
    args = parser.parse_args(argv)

    generate_sqlite(args.data).dispose()
    engine = make_engine(f"sqlite:///{args.data}")
    if not args.schema_indexes_only:
        ensure_indexes(engine)
    with engine.connect() as conn:
        counts = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()
                  for t in ("accounts", "subscriptions", "usage_daily")}
        print(f"data: {counts['accounts']:,} accounts, {counts['subscriptions']:,} subscriptions, "
              f"{counts['usage_daily']:,} usage_daily rows; period {PERIOD.start}..{PERIOD.end} (with the month "
              f"before), trends {SPAN.start}..{SPAN.end}; median of {args.runs} warm runs, ms; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        both = {q: timed(lambda q=q: csbot_question(conn, q), args.runs) for q in QUESTIONS}
    ours = {q: wall for q, (wall, _) in both.items()}
    cpu = {q: c for q, (_, c) in both.items()}
    engine.dispose()
    duck = duckdb_times(args.data, args.runs)
    pand = pandas_times(args.data, max(1, args.runs // 2))
    header = f"{'question':20}{'csbot SQLite':>14}{'(cpu)':>8}{'DuckDB':>10}{'ratio':>8}{'pandas':>10}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for q in QUESTIONS:
        line = f"{q:20}{ours[q]:14.1f}{cpu[q]:8.1f}"
        for other in (duck, pand):
            line += f"{other[q]:10.1f}{other[q] / ours[q]:7.1f}x" if other else f"{'n/a':>10}{'':>8}"
        print(line)
    print("-" * len(header))
    for label, times in (("wall", ours), ("cpu", cpu)):
        worst = max(QUESTIONS[1:], key=lambda q: times[q])
        print(f"slowest breakdown or trend ({label}): {worst} {times[worst]:.1f} ms (target < {TARGET_MS} ms): "
              f"{'OK' if times[worst] < TARGET_MS else 'MISSED'}")
    print(f"load average now {os.getloadavg()[0]:.1f}")
    print("ratio: the other's time / csbot's (above 1: csbot is faster). DuckDB's tables are in memory and "
          "not counted; pandas reads the table every time.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
