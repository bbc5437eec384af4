"""Whole answers on a large database: the KPI board, the App Home and ``/churn``, end to end.

    python benchmarks/bench_board.py --database sqlite:////tmp/csbot-bench-scale/scale-100000a-10000000e.db
    python benchmarks/bench_board.py --database postgresql://127.0.0.1:5432/test?options=-csearch_path%3Dcsbot_scale_100000

The database is one ``benchmarks/bench_scale.py`` generated (or any csbot database). It is
brought up to date first as a sync would leave it: the revenue and usage states are built when
they are not fresh (this writes to the database; the time is printed). Then each answer runs through the same
dispatch as Slack (``kpi last-month``, ``churn last-month``) or the App Home view builder, with a
fresh context each run, and the median wall and CPU milliseconds of ``--runs`` runs are printed
with the load average (CPU is this process only: PostgreSQL's work is in the server).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import datetime, timezone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a database URL (sqlite:////path.db, postgresql://...)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--now", default="2026-12-06T01:00:00+00:00", help="the answers' now (ISO, with offset)")
    args = parser.parse_args(argv)

    from bot.slack.listeners.home import home_view
    from commands.context import Context
    from commands.router import dispatch
    from metrics import revenue_state, usage_state
    from metrics.db import Database, init_schema, make_engine
    from metrics.settings import Settings

    settings = Settings()
    engine = make_engine(args.database)
    init_schema(engine)
    for name, state in (("revenue", revenue_state), ("usage", usage_state)):
        with engine.connect() as conn:
            fresh = state.is_fresh(conn)
        if not fresh:
            started = time.perf_counter()
            with engine.begin() as conn:
                state.build(conn)
            print(f"{name} state built in {time.perf_counter() - started:.2f} s (as a sync would)")
    db = Database(engine, args.database, False)
    now = datetime.fromisoformat(args.now).astimezone(timezone.utc)

    def ctx(**who) -> Context:
        return Context.create(db, settings, now=now, **who)

    answers = {
        "KPI board (kpi last-month)": lambda: dispatch("kpi last-month", ctx()),
        "App Home (alice's book)": lambda: home_view(ctx(user_id="U0ALICE", user_email="alice@example.com"), "en"),
        "churn last-month": lambda: dispatch("churn last-month", ctx()),
    }
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for name, answer in answers.items():
        wall, cpu = [], []
        for _ in range(args.runs):
            w0, c0 = time.perf_counter(), time.process_time()
            answer()
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
        print(f"{name:30} median wall {statistics.median(wall) * 1000:7.0f} ms   cpu {statistics.median(cpu) * 1000:7.0f} ms")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
