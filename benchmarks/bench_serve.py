"""``csbot serve`` under a burst of slash commands: how fast each is acked, and when the answers land.

    python benchmarks/bench_serve.py [--requests 200] [--threads 16] [--answer-workers 16]

The real server (waitress, Bolt behind ``SlackGate``) runs on a local port against a small
SQLite database (two plans, one churned in October 2026) and the test suite's Slack double
(``tests/slack_double.py``) standing in for Slack. ``--requests`` signed ``/churn 2026-10``
commands are sent at once, each from its own thread. Printed: the HTTP statuses, the ack
time (send to HTTP answer) as median / 95th percentile / max against Slack's 3-second limit,
and the time until every answer had reached its response_url.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import seed_two_plans  # noqa: E402
from slack_double import SlackDouble, sign, slash_command_body  # noqa: E402

from bot.slack.server import ServeOptions, make_http_server, stop_http_server, wsgi_app  # noqa: E402
from metrics import schema  # noqa: E402
from metrics.db import make_engine  # noqa: E402
from metrics.settings import Settings  # noqa: E402

SECRET = "bench-secret"
ACK_LIMIT = 3.0  # seconds: Slack shows the user an error when the ack is later


def send(port: int, body: str) -> tuple[int, float]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/slack/events", data=body.encode(),
                                     headers=sign(SECRET, body), method="POST")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status = response.status
            response.read()
    except urllib.error.HTTPError as err:
        status = err.code
    except OSError:
        status = 0  # reset or refused
    return status, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--threads", type=int, default=ServeOptions.threads)
    parser.add_argument("--answer-workers", type=int, default=ServeOptions.answer_workers)
    args = parser.parse_args()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth is N": expected in a burst

    tmp = Path(tempfile.mkdtemp(prefix="csbot-bench-serve-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    schema.metadata.create_all(engine)
    seed_two_plans(engine)
    options = ServeOptions(threads=args.threads, answer_workers=args.answer_workers, scheduler=False)
    with SlackDouble() as slack:
        settings = Settings(data_dir=tmp / "data", database_url=url, slack_api_url=slack.api_url,
                            slack_bot_token=slack.bot_token, slack_signing_secret=SECRET)
        app = wsgi_app(settings, options)
        server = make_http_server(app, "127.0.0.1", 0, options)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        port = server.effective_port
        bodies = [slash_command_body("/churn", "2026-10", response_url=slack.response_url(f"b{i}"))
                  for i in range(args.requests)]
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.requests) as pool:
            results = list(pool.map(lambda body: send(port, body), bodies))
        acked_all = time.monotonic() - started
        try:
            slack.wait_for("response_url", count=args.requests, timeout=300)
            answered = f"{time.monotonic() - started:.2f} s"
        except AssertionError:
            answered = f"not all within 300 s ({len(slack.calls_to('response_url'))} of {args.requests})"
        stop_http_server(server)
        app.answers.shutdown(wait=False, cancel_futures=True)

    statuses: dict[int, int] = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    times = sorted(seconds for _, seconds in results)
    p95 = times[max(0, int(len(times) * 0.95) - 1)]
    late = sum(1 for t in times if t > ACK_LIMIT)
    print(f"csbot serve: {args.requests} concurrent signed /churn commands "
          f"(threads {args.threads}, answer workers {args.answer_workers})")
    print(f"  HTTP statuses        {dict(sorted(statuses.items()))}")
    print(f"  ack median / p95 / max  {statistics.median(times):.3f} / {p95:.3f} / {times[-1]:.3f} s "
          f"(limit {ACK_LIMIT:g} s; later than the limit: {late})")
    print(f"  all acked after      {acked_all:.2f} s")
    print(f"  all answers after    {answered}")
    return 0 if statuses.get(200) == args.requests and late == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
