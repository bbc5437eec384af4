"""How fast does ``csbot sync`` load product events? (a script that prints figures, not a test)

Generates, in a temporary folder deleted afterwards, 20,000 accounts and N
events (default 10,000,000) as CSV, then measures in separate processes (so
each peak RSS is its own):

1. ``csbot sync`` into SQLite (events/s, wall time, peak RSS);
2. ``csbot sync`` into PostgreSQL (``--pg URL``, in a fresh schema dropped afterwards);
3. the obvious approach: ``pandas.read_csv`` of events.csv + ``DataFrame.to_sql``
   into SQLite (raw events, no roll-up, so it does less work than the sync).

    python benchmarks/bench_sync.py --events 2000000
    python benchmarks/bench_sync.py --pg postgresql://127.0.0.1/test --no-pandas

The events are time-ordered over 30 days (``--days``), UTC timestamps ("...Z", so each is
converted to the workspace zone), 4 users per account, without event_id (the
watermark path; ``--with-ids`` adds an event_id column).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def generate(folder: Path, accounts: int, events: int, with_ids: bool, seed: int = 7, days: int = 30) -> None:
    rng = random.Random(seed)
    ids = [f"ACC{i:06d}" for i in range(accounts)]
    with open(folder / "accounts.csv", "w", encoding="utf-8") as f:
        f.write("account_id,name,plan,segment,touch_model,seats,crm_tier\n")
        for i, a in enumerate(ids):
            f.write(f"{a},Company {i},pro,{rng.choice(('enterprise', 'mid-market', 'smb'))},high,{rng.randint(1, 500)},t{i % 3}\n")
    users = [f"{a}-u{k}" for a in ids for k in range(4)]
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    span = days * 86400
    block = 100_000
    with open(folder / "events.csv", "w", encoding="utf-8", newline="") as f:
        f.write(("event_id," if with_ids else "") + "account_id,user_id,occurred_at,event_type,duration_seconds\n")
        done = 0
        last_sec = -1
        stamp = ""
        types = ("view", "click", "login", "export", "search")
        while done < events:
            n = min(block, events - done)
            picks = rng.choices(users, k=n)
            durs = rng.choices(range(0, 600), k=n)
            kinds = rng.choices(types, k=n)
            out = []
            for j in range(n):
                i = done + j
                sec = i * span // events
                if sec != last_sec:
                    stamp = (start + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%SZ")
                    last_sec = sec
                u = picks[j]
                prefix = f"ev{i}," if with_ids else ""
                out.append(f"{prefix}{u[:9]},{u},{stamp},{kinds[j]},{durs[j]}\n")
            f.write("".join(out))
            done += n


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the reader processes)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child_sync(folder: str, url: str) -> None:
    from metrics.clock import local_today
    from metrics.db import init_schema, make_engine
    from metrics.derived import after_sync_steps
    from metrics.settings import Settings
    from metrics.sync import CsvSource, run_sync

    engine = make_engine(url)
    init_schema(engine)
    settings = Settings(database_url=url)
    t0 = time.perf_counter()
    # what csbot sync runs, after-sync steps included
    summary = run_sync(engine, CsvSource(Path(folder)), settings=settings,
                       after=after_sync_steps(settings, local_today(settings.tz)))
    wall = time.perf_counter() - t0
    ev = summary.table("events")
    print(json.dumps({
        "status": summary.status, "message": summary.message, "wall": wall,
        "events": ev.read if ev else 0, "taken": ev.inserted if ev else 0,
        "rss_mb": _peak_rss_mb(),
        "cpu": _cpu_seconds(),
        # the largest of the reader processes a big plain CSV is split between
        "workers_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))


def child_pandas(folder: str, url: str) -> None:
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(url)
    t0 = time.perf_counter()
    df = pd.read_csv(Path(folder) / "events.csv")
    df.to_sql("events_raw", engine, if_exists="replace", index=False, chunksize=100_000)
    wall = time.perf_counter() - t0
    print(json.dumps({"status": "ok", "wall": wall, "events": len(df), "rss_mb": _peak_rss_mb(), "cpu": _cpu_seconds()}))


def _run_child(mode: str, folder: Path, url: str) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, str(folder), url]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"status": "failed", "message": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "?"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _show(name: str, r: dict, events: int) -> None:
    if r.get("status") != "ok":
        print(f"{name:<34} FAILED: {r.get('message')}")
        return
    rate = events / r["wall"] if r["wall"] else 0
    workers = f" (reader processes: {r['workers_rss_mb']:.0f} MB each at most)" if r.get("workers_rss_mb") else ""
    print(f"{name:<34} {r['wall']:8.1f} s  {rate:>10,.0f} events/s  CPU {r['cpu']:6.1f} s  "
          f"peak RSS {r['rss_mb']:5.0f} MB{workers}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, folder, url = sys.argv[2:5]
        {"sync": child_sync, "pandas": child_pandas}[mode](folder, url)
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--accounts", type=int, default=20_000)
    p.add_argument("--pg", default="postgresql://127.0.0.1/test", help="PostgreSQL URL (a fresh schema is used)")
    p.add_argument("--no-pg", action="store_true")
    p.add_argument("--no-pandas", action="store_true")
    p.add_argument("--with-ids", action="store_true", help="give every event an event_id")
    p.add_argument("--days", type=int, default=30, help="the events span this many days (fewer: more events per user and day)")
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="csbot-bench-"))
    try:
        t0 = time.perf_counter()
        generate(tmp, args.accounts, args.events, args.with_ids, days=args.days)
        size = (tmp / "events.csv").stat().st_size / 1e6
        load = os.getloadavg()[0]
        print(f"generated {args.accounts:,} accounts and {args.events:,} events ({size:,.0f} MB) "
              f"in {time.perf_counter() - t0:.1f} s; {os.cpu_count()} CPUs, load average {load:.1f} "
              "(other work on the machine slows every figure below)")
        sqlite = _run_child("sync", tmp, f"sqlite:///{tmp / 'sync.db'}")
        _show("csbot sync -> SQLite", sqlite, args.events)
        if not args.no_pg:
            from sqlalchemy import text

            from metrics.db import make_engine

            name = f"bench_{uuid.uuid4().hex[:8]}"
            try:
                admin = make_engine(args.pg)
                with admin.begin() as conn:
                    conn.execute(text(f'CREATE SCHEMA "{name}"'))
                sep = "&" if "?" in args.pg else "?"
                pg = _run_child("sync", tmp, f"{args.pg}{sep}options=-csearch_path%3D{name}")
                _show("csbot sync -> PostgreSQL", pg, args.events)
            except Exception as exc:  # noqa: BLE001 - a benchmark reports, never stops
                print(f"csbot sync -> PostgreSQL            skipped: {str(exc).splitlines()[0]}")
            finally:
                try:
                    with admin.begin() as conn:
                        conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
                    admin.dispose()
                except Exception:  # noqa: BLE001
                    pass
        if not args.no_pandas:
            pdr = _run_child("pandas", tmp, f"sqlite:///{tmp / 'pandas.db'}")
            _show("pandas read_csv + to_sql -> SQLite", pdr, args.events)
            if pdr.get("status") == "ok" and sqlite.get("status") == "ok":
                print(f"csbot sync is {pdr['wall'] / sqlite['wall']:.1f}x the speed of pandas read_csv + to_sql")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
