"""How long does the demo company take to load? (a script that prints figures, not a test)

The demo is built as contract files and loaded through the real sync with its
after-sync steps (health snapshots), exactly as `csbot demo` does. Each run
loads into a fresh SQLite file (or a fresh PostgreSQL schema with --pg URL) and
prints wall and CPU seconds and the rows loaded; the quick start promises a demo
in well under ten seconds on a quiet laptop.

    python benchmarks/bench_demo.py            # 3 runs on SQLite
    python benchmarks/bench_demo.py -n 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from metrics import schema  # noqa: E402
from metrics.db import make_engine  # noqa: E402
from metrics.demo.load import load_demo  # noqa: E402
from metrics.settings import Settings  # noqa: E402


def one_run(today: date) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/demo.db")
        schema.metadata.create_all(engine)
        wall, cpu = time.perf_counter(), time.process_time()
        summary = load_demo(engine, Settings(), today=today)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        engine.dispose()
    return wall, cpu, summary.total_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=3, help="runs (default 3)")
    parser.add_argument("--today", default="2026-11-22", help="the demo's today (default 2026-11-22)")
    args = parser.parse_args()
    today = date.fromisoformat(args.today)
    walls, cpus = [], []
    rows = 0
    for _ in range(args.n):
        wall, cpu, rows = one_run(today)
        walls.append(wall)
        cpus.append(cpu)
    load = os.getloadavg()[0]
    print(f"demo load ({rows:,} rows, SQLite, load average {load:.1f}, {args.n} runs): "
          f"wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}), "
          f"CPU median {statistics.median(cpus):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
