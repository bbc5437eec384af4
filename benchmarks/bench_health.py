"""``/health <one account>`` latency at scale, on SQLite (and PostgreSQL with ``--pg``).

    python benchmarks/bench_health.py [--data /tmp/csbot-bench/scale.db] [--pg postgresql://127.0.0.1/test]

The data is the metrics benchmark's scale data set (``scale_data.py``: 20,000
accounts, five years, 10 million events rolled up into usage_daily), generated
on first use and cached. One answer is the whole pipeline a Slack user waits
for: dispatch, name resolution, the account's components as of today and as of
30 days before (computed on the fly: the scale data has no snapshots), the key
facts, the reply, and the freshness footer. Reported: the first (cold) run per
account and the median of the warm runs, over accounts of different sizes.
Also, once, the portfolio (every paying account scored twice) for scale.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scale_data import DEFAULT_DATA, TODAY, copy_to_postgres, generate_sqlite  # noqa: E402
from sqlalchemy import text  # noqa: E402

from commands.context import Context  # noqa: E402
from commands.router import dispatch  # noqa: E402
from metrics.db import Database, make_engine  # noqa: E402
from metrics.settings import Settings  # noqa: E402

TARGET_MS = 200
RUNS = 7
NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 1, 0, tzinfo=timezone.utc)  # 10:00 in Tokyo


def pick_accounts(engine, n: int = 6) -> list[tuple[str, str, int]]:
    """Paying accounts of different sizes: the most used ones and a spread of others."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT a.account_id, a.name, COALESCE(a.seats, 0) FROM accounts a "
            "WHERE a.account_id IN (SELECT account_id FROM subscriptions WHERE end_date IS NULL AND mrr > 0) "
            "ORDER BY a.seats DESC, a.account_id")).all()
    if not rows:
        return []
    step = max(1, len(rows) // (n - 2))
    chosen = rows[:2] + rows[step::step][: n - 2]
    return [(r[0], r[1], int(r[2])) for r in chosen]


def time_account(db: Database, settings: Settings, name: str) -> tuple[float, float, str]:
    times = []
    title = ""
    for _ in range(RUNS + 1):
        ctx = Context.create(db, settings, now=NOW)
        t0 = time.perf_counter()
        reply = dispatch(f"health {name}", ctx)
        times.append((time.perf_counter() - t0) * 1000)
        title = reply.title
    return times[0], statistics.median(times[1:]), title


def run(label: str, engine) -> list[float]:
    settings = Settings(database_url="bench")
    db = Database(engine=engine, url=label, embedded=False)
    print(f"\n{label}: /health <account>  (target < {TARGET_MS} ms; cold = first run, warm = median of {RUNS})")
    warm_all = []
    for account_id, name, seats in pick_accounts(engine):
        cold, warm, title = time_account(db, settings, name)
        warm_all.append(warm)
        flag = "ok" if warm < TARGET_MS else "SLOW"
        print(f"  {account_id} {seats:4d} seats  cold {cold:7.1f} ms  warm {warm:7.1f} ms  {flag}  | {title[:60]}")
    ctx = Context.create(db, settings, now=NOW)
    t0 = time.perf_counter()
    reply = dispatch("health", ctx)
    print(f"  portfolio (every paying account, now and 30 days before): {(time.perf_counter() - t0):.1f} s"
          f"  | {reply.title[:70]}")
    return warm_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_health.py", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"the cached SQLite scale data (default {DEFAULT_DATA})")
    parser.add_argument("--pg", metavar="URL", help="also run on PostgreSQL (the data is copied into schema csbot_bench)")
    args = parser.parse_args(argv)
    engine = generate_sqlite(args.data)
    engine.dispose()
    results = {"sqlite": run("SQLite", make_engine(f"sqlite:///{args.data}"))}
    if args.pg:
        pg = copy_to_postgres(make_engine(f"sqlite:///{args.data}"), args.pg)
        results["postgresql"] = run("PostgreSQL", pg)
    worst = max(max(v) for v in results.values() if v)
    print(f"\nworst warm median: {worst:.1f} ms ({'within' if worst < TARGET_MS else 'over'} the {TARGET_MS} ms target)")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
