"""Does ``csbot sync`` grow linearly with the book? (a script that prints figures, not a test)

Generates, in a temporary folder deleted afterwards, N accounts (default 20,000 and
100,000) with three subscriptions each, two NPS answers and two tickets, as CSV,
and syncs each size into SQLite and into PostgreSQL (a fresh schema, dropped
afterwards), each in its own process, the after-sync steps included (what
``csbot sync`` runs). Prints wall and CPU time, rows/s, peak RSS, the
PostgreSQL/SQLite ratio and the load average: other work on the machine slows
every figure.

    python benchmarks/bench_scale_sync.py
    python benchmarks/bench_scale_sync.py --accounts 20000 100000 --pg postgresql://127.0.0.1/test

``--events-shuffle N`` instead measures one events file of N events (``--event-accounts``,
default 20,000, 4 users each, 30 days; the file of ``bench_sync.py``) in time order and then
shuffled, into SQLite and PostgreSQL (unless ``--no-pg``): the two should take about the same time.
``--profile`` runs the shuffled sync under cProfile and prints the top functions.
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
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEGMENTS = ("enterprise", "mid-market", "smb")
PRODUCTS = ("core", "analytics", "support")


def generate_book(folder: Path, accounts: int, seed: int = 11) -> int:
    """accounts, subscriptions, nps and tickets CSV files; the number of rows written."""
    rng = random.Random(seed)
    start = date(2022, 1, 1)
    rows = 0
    with open(folder / "accounts.csv", "w", encoding="utf-8") as f:
        f.write("account_id,name,plan,segment,touch_model,owner,region,seats,renewal_date,created_at\n")
        for i in range(accounts):
            created = start + timedelta(days=rng.randrange(1200))
            f.write(f"A{i:06d},Company {i},pro,{rng.choice(SEGMENTS)},high,csm{i % 12}@example.com,japan,"
                    f"{rng.randint(1, 500)},{created + timedelta(days=365 * 4)},{created}T09:00:00Z\n")
        rows += accounts
    with open(folder / "subscriptions.csv", "w", encoding="utf-8") as f:
        f.write("subscription_id,account_id,product,start_date,end_date,mrr,quantity\n")
        for i in range(accounts):
            first = start + timedelta(days=rng.randrange(1200))
            for k, product in enumerate(PRODUCTS):
                begin = first + timedelta(days=30 * k)
                end = begin + timedelta(days=rng.randrange(60, 900)) if rng.random() < 0.3 else ""
                f.write(f"S{i:06d}-{k},A{i:06d},{product},{begin},{end},{rng.randrange(1, 100) * 100},1\n")
                rows += 1
    with open(folder / "nps.csv", "w", encoding="utf-8") as f:
        f.write("response_id,account_id,respondent,score,responded_at,comment\n")
        for i in range(accounts):
            for k in range(2):
                day = date(2026, 1, 1) + timedelta(days=rng.randrange(300))
                f.write(f"N{i:06d}-{k},A{i:06d},user{k}@example.com,{rng.randint(0, 10)},{day}T10:00:00Z,fine\n")
                rows += 1
    with open(folder / "tickets.csv", "w", encoding="utf-8") as f:
        f.write("ticket_id,account_id,opened_at,closed_at,priority,status,subject\n")
        for i in range(accounts):
            for k in range(2):
                day = date(2026, 1, 1) + timedelta(days=rng.randrange(300))
                f.write(f"T{i:06d}-{k},A{i:06d},{day}T10:00:00Z,{day + timedelta(days=2)}T10:00:00Z,normal,closed,help\n")
                rows += 1
    return rows


def generate_events(folder: Path, accounts: int, events: int, shuffle: bool, seed: int = 7) -> None:
    """accounts.csv and events.csv as ``bench_sync.py`` writes them (time-ordered over 30 days, UTC
    timestamps, 4 users per account), or the same lines shuffled (GNU ``shuf``, seeded)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_sync import generate

    generate(folder, accounts, events, with_ids=False, seed=seed)
    if shuffle:
        source = folder / "events.csv"
        noise = folder / "seed.bin"
        noise.write_bytes(random.Random(seed).randbytes(1 << 20))
        with open(source, "rb", buffering=0) as f, open(folder / "shuffled.csv", "wb") as out:
            out.write(f.readline())  # unbuffered: shuf reads on from the end of the header, not of a buffer
            out.flush()
            subprocess.run(["shuf", f"--random-source={noise}"], stdin=f, stdout=out, check=True)
        (folder / "shuffled.csv").replace(source)
        noise.unlink()


def _cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def child_sync(folder: str, url: str, profile: str = "", reader: str = "columnar") -> None:
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
    steps = after_sync_steps(settings, local_today(settings.tz))

    def run():
        return run_sync(engine, CsvSource(Path(folder)), settings=settings, after=steps)

    t0 = time.perf_counter()
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        summary = prof.runcall(run)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(18)
    else:
        summary = run()
    wall = time.perf_counter() - t0
    print(json.dumps({"status": summary.status, "message": summary.message, "wall": wall, "rows": summary.rows_in,
                      "rejected": summary.rejected, "cpu": _cpu_seconds(),
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _run_child(folder: Path, url: str, profile: bool = False, reader: str = "columnar") -> dict:
    cmd = [sys.executable, __file__, "--child", str(folder), url, f"--reader={reader}"] + (["--profile"] if profile else [])
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if profile and done.stderr:
        print(done.stderr)
    if done.returncode != 0:
        return {"status": "failed", "message": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "?"}
    return json.loads(done.stdout.strip().splitlines()[-1])


class _Postgres:
    """A fresh schema per run, dropped afterwards."""

    def __init__(self, url: str):
        from metrics.db import make_engine

        self.url = url
        self.admin = make_engine(url)
        self.names: list[str] = []

    def fresh(self) -> str:
        from sqlalchemy import text

        name = f"bench_{uuid.uuid4().hex[:8]}"
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        self.names.append(name)
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}options=-csearch_path%3D{name}"

    def close(self) -> None:
        from sqlalchemy import text

        with self.admin.begin() as conn:
            for name in self.names:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        self.admin.dispose()


def _line(name: str, r: dict, rows: int) -> str:
    if r.get("status") != "ok":
        return f"{name:<40} FAILED: {r.get('message')}"
    return (f"{name:<40} {r['wall']:7.1f} s  {rows / r['wall']:>9,.0f} rows/s  CPU {r['cpu']:6.1f} s  "
            f"peak RSS {r['rss_mb']:4.0f} MB  load {os.getloadavg()[0]:.1f}")


def _book(args, pg: _Postgres | None) -> None:
    for n in args.accounts:
        tmp = Path(tempfile.mkdtemp(prefix="csbot-scale-"))
        try:
            rows = generate_book(tmp, n)
            print(f"{n:,} accounts: {rows:,} rows in 4 files; load average {' '.join(map(str, os.getloadavg()))}")
            lite = _run_child(tmp, f"sqlite:///{tmp / 'sync.db'}")
            print(_line(f"  csbot sync -> SQLite ({n:,})", lite, rows))
            if pg is not None:
                pgr = _run_child(tmp, pg.fresh())
                print(_line(f"  csbot sync -> PostgreSQL ({n:,})", pgr, rows))
                if lite.get("status") == pgr.get("status") == "ok":
                    print(f"  PostgreSQL / SQLite: {pgr['wall'] / lite['wall']:.2f}x")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _shuffle(args, pg: _Postgres | None) -> None:
    for shuffled in (False, True):
        tmp = Path(tempfile.mkdtemp(prefix="csbot-scale-"))
        try:
            generate_events(tmp, args.event_accounts, args.events_shuffle, shuffled)
            kind = "shuffled" if shuffled else "sorted"
            print(f"{args.events_shuffle:,} events {kind}, {args.event_accounts:,} accounts; "
                  f"load average {' '.join(map(str, os.getloadavg()))}")
            lite = _run_child(tmp, f"sqlite:///{tmp / 'sync.db'}", profile=args.profile and shuffled, reader=args.reader)
            print(_line(f"  events {kind} ({args.reader}) -> SQLite", lite, args.events_shuffle))
            if pg is not None:
                print(_line(f"  events {kind} ({args.reader}) -> PostgreSQL", _run_child(tmp, pg.fresh(), reader=args.reader),
                            args.events_shuffle))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        reader = next((a.split("=", 1)[1] for a in sys.argv[4:] if a.startswith("--reader=")), "columnar")
        child_sync(sys.argv[2], sys.argv[3], profile="--profile" if "--profile" in sys.argv[4:] else "", reader=reader)
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, nargs="+", default=[20_000, 100_000])
    p.add_argument("--pg", default="postgresql://127.0.0.1/test", help="PostgreSQL URL (a fresh schema per run)")
    p.add_argument("--no-pg", action="store_true")
    p.add_argument("--events-shuffle", type=int, default=0, help="measure sorted vs shuffled events of this many")
    p.add_argument("--event-accounts", type=int, default=20_000)
    p.add_argument("--profile", action="store_true", help="cProfile the shuffled events sync (SQLite)")
    p.add_argument("--reader", default="columnar", choices=["columnar", "rows"],
                   help="the events reader (bench_sync.py compares both with pandas in one run)")
    args = p.parse_args()
    print(f"{os.cpu_count()} CPUs; load average {' '.join(map(str, os.getloadavg()))} "
          "(other work on the machine slows every figure)")
    pg = None
    if not args.no_pg:
        try:
            pg = _Postgres(args.pg)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports, never stops
            print(f"PostgreSQL skipped: {str(exc).splitlines()[0]}")
    try:
        if args.events_shuffle:
            _shuffle(args, pg)
        else:
            _book(args, pg)
    finally:
        if pg is not None:
            pg.close()


if __name__ == "__main__":
    main()
