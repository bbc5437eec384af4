"""How fast does ``csbot sync`` load product events? (a script that prints figures, not a test)

Generates 20,000 accounts and N events (default 10,000,000) as CSV, time-ordered and the same
lines shuffled (``--data DIR`` keeps them there for the next run; otherwise a temporary folder
deleted afterwards), then measures each in its own process (so each peak RSS is its own):

1. ``csbot sync`` with the columnar reader (pyarrow + DuckDB, the default) and with the row
   reader (worker processes), into SQLite and into PostgreSQL (``--pg URL``, a fresh schema each,
   dropped afterwards), after-sync steps included;
2. the obvious approach: ``pandas.read_csv`` of events.csv + ``DataFrame.to_sql`` into SQLite
   (raw events, no roll-up, so it does less work than the sync).

Each line gives wall and CPU time (the process and its reader processes), peak RSS and the load
average when it ended; then the ratios measured in the same run.

    python benchmarks/bench_sync.py --data /tmp/bench-events
    python benchmarks/bench_sync.py --events 1000000 --no-pg --readers columnar --orders sorted

The events span 30 days (``--days``), UTC timestamps ("...Z", so each is converted to the
workspace zone), 4 users per account, without event_id (the watermark path; ``--with-ids`` adds
an event_id column).
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


def child_sync(folder: str, url: str, reader: str = "columnar") -> None:
    from metrics.clock import local_today
    from metrics.db import init_schema, make_engine
    from metrics.derived import after_sync_steps
    from metrics.settings import Settings
    from metrics.sync import CsvSource, run_sync
    from metrics.sync import events as sync_events

    sync_events.READER = reader
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
        "cpu": _cpu_seconds(), "load": os.getloadavg()[0],
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
    print(json.dumps({"status": "ok", "wall": wall, "events": len(df), "rss_mb": _peak_rss_mb(), "cpu": _cpu_seconds(),
                      "load": os.getloadavg()[0]}))


def _run_child(mode: str, folder: Path, url: str, reader: str = "columnar") -> dict:
    cmd = [sys.executable, __file__, "--child", mode, str(folder), url, reader]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"status": "failed", "message": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "?"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _show(name: str, r: dict, events: int) -> None:
    if r.get("status") != "ok":
        print(f"{name:<44} FAILED: {r.get('message')}", flush=True)
        return
    rate = events / r["wall"] if r["wall"] else 0
    workers = f" (reader processes: {r['workers_rss_mb']:.0f} MB each at most)" if r.get("workers_rss_mb") else ""
    print(f"{name:<44} {r['wall']:7.1f} s  {rate:>10,.0f} events/s  CPU {r['cpu']:6.1f} s  "
          f"peak RSS {r['rss_mb']:5.0f} MB  load {r.get('load', 0):.1f}{workers}", flush=True)


def prepare(data: Path, accounts: int, events: int, with_ids: bool, days: int) -> dict[str, Path]:
    """The sorted and shuffled folders under ``data`` (generated unless already there for these sizes)."""
    tag = f"{accounts}a-{events}e{'-ids' if with_ids else ''}-{days}d"
    sorted_dir, shuffled_dir = data / f"sorted-{tag}", data / f"shuffled-{tag}"
    if not (sorted_dir / "events.csv").is_file():
        sorted_dir.mkdir(parents=True, exist_ok=True)
        generate(sorted_dir, accounts, events, with_ids, days=days)
    if not (shuffled_dir / "events.csv").is_file():
        shuffled_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(sorted_dir / "accounts.csv", shuffled_dir / "accounts.csv")
        with open(sorted_dir / "events.csv", "rb", buffering=0) as f, open(shuffled_dir / "part.csv", "wb") as out:
            out.write(f.readline())  # unbuffered: shuf reads on from the end of the header, not of a buffer
            out.flush()  # GNU shuf, its randomness from `yes`: the same order every time
            subprocess.run(["bash", "-c", "shuf --random-source=<(yes)"], stdin=f, stdout=out, check=True)
        (shuffled_dir / "part.csv").replace(shuffled_dir / "events.csv")
    return {"sorted": sorted_dir, "shuffled": shuffled_dir}


def _pg_url(args, name: str) -> str:
    sep = "&" if "?" in args.pg else "?"
    return f"{args.pg}{sep}options=-csearch_path%3D{name}"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, folder, url = sys.argv[2:5]
        if mode == "sync":
            child_sync(folder, url, sys.argv[5] if len(sys.argv) > 5 else "columnar")
        else:
            child_pandas(folder, url)
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--accounts", type=int, default=20_000)
    p.add_argument("--pg", default="postgresql://127.0.0.1/test", help="PostgreSQL URL (a fresh schema is used)")
    p.add_argument("--no-pg", action="store_true")
    p.add_argument("--no-pandas", action="store_true")
    p.add_argument("--readers", nargs="+", default=["columnar", "rows"], choices=["columnar", "rows"])
    p.add_argument("--orders", nargs="+", default=["sorted", "shuffled"], choices=["sorted", "shuffled"])
    p.add_argument("--data", type=Path, help="keep the generated files in this folder and reuse them")
    p.add_argument("--with-ids", action="store_true", help="give every event an event_id")
    p.add_argument("--days", type=int, default=30, help="the events span this many days (fewer: more events per user and day)")
    args = p.parse_args()

    data = args.data or Path(tempfile.mkdtemp(prefix="csbot-bench-"))
    work = Path(tempfile.mkdtemp(prefix="csbot-bench-db-"))
    admin = None
    try:
        t0 = time.perf_counter()
        folders = prepare(data, args.accounts, args.events, args.with_ids, args.days)
        size = (folders["sorted"] / "events.csv").stat().st_size / 1e6
        print(f"{args.accounts:,} accounts and {args.events:,} events ({size:,.0f} MB) ready in "
              f"{time.perf_counter() - t0:.1f} s; {os.cpu_count()} CPUs, load average "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} (other work on the machine slows every figure below)",
              flush=True)
        if not args.no_pg:
            try:
                from metrics.db import make_engine

                admin = make_engine(args.pg)
                with admin.connect():
                    pass
            except Exception as exc:  # noqa: BLE001 - a benchmark reports, never stops
                print(f"PostgreSQL skipped: {str(exc).splitlines()[0]}")
                admin = None
        results: dict[tuple, dict] = {}
        for order in args.orders:
            folder = folders[order]
            for reader in args.readers:
                db = work / f"{order}-{reader}.db"
                r = results[(order, reader, "SQLite")] = _run_child("sync", folder, f"sqlite:///{db}", reader)
                db.unlink(missing_ok=True)
                _show(f"{order:<8} {reader:<8} csbot sync -> SQLite", r, args.events)
                if admin is not None:
                    from sqlalchemy import text

                    name = f"csbot_syncengine_bench_{uuid.uuid4().hex[:8]}"
                    try:
                        with admin.begin() as conn:
                            conn.execute(text(f'CREATE SCHEMA "{name}"'))
                        r = results[(order, reader, "PostgreSQL")] = _run_child("sync", folder, _pg_url(args, name), reader)
                        _show(f"{order:<8} {reader:<8} csbot sync -> PostgreSQL", r, args.events)
                    finally:
                        with admin.begin() as conn:
                            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            if not args.no_pandas:
                db = work / f"{order}-pandas.db"
                results[(order, "pandas", "SQLite")] = _run_child("pandas", folder, f"sqlite:///{db}")
                db.unlink(missing_ok=True)
                _show(f"{order:<8} pandas read_csv + to_sql -> SQLite", results[(order, "pandas", "SQLite")], args.events)
        print("ratios (wall; CPU in brackets), same run:")
        for order in args.orders:
            pdr = results.get((order, "pandas", "SQLite"), {})
            for engine in ("SQLite", "PostgreSQL"):
                col = results.get((order, "columnar", engine), {})
                rows = results.get((order, "rows", engine), {})
                if col.get("status") == "ok" and rows.get("status") == "ok":
                    print(f"  {order:<8} {engine:<10} row reader / columnar reader: {rows['wall'] / col['wall']:5.2f}x "
                          f"({rows['cpu'] / col['cpu']:.2f}x)")
                for reader in args.readers:
                    r = results.get((order, reader, engine), {})
                    if pdr.get("status") == "ok" and r.get("status") == "ok":
                        print(f"  {order:<8} {engine:<10} pandas / {reader} reader: {pdr['wall'] / r['wall']:5.2f}x "
                              f"({pdr['cpu'] / r['cpu']:.2f}x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if args.data is None:
            shutil.rmtree(data, ignore_errors=True)
        if admin is not None:
            admin.dispose()


if __name__ == "__main__":
    main()
