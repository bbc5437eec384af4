"""The ``csbot`` command line (product.md, "Command-line contract").

csbot / csbot run      Socket Mode with Slack tokens; a local console without
csbot serve --port N   HTTP mode: /slack/events (and /healthz) for replicas behind a load balancer
csbot ask "<text>"     one question through the same pipeline (--json: the Slack payloads)
csbot metric <name>    one metric as JSON (--list --json: every name)
csbot demo [--force]   fill the database with the demo company
csbot sync ...         load the team's data (see csbot sync --help)
csbot digest ...       the daily KPI digest (--dry-run, --channel C, --log)
csbot health ...       health snapshots and the backtest (see csbot health --help)
csbot glossary [term]  the CS glossary
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Sequence

from metrics.settings import ConfigError, Settings, load_settings

logger = logging.getLogger("csbot")

EPILOG = """examples:
  csbot                                   console on the demo database (no Slack tokens set)
  csbot ask "churn last-month"            one answer, as text
  csbot ask "先月の解約率は？" --json      the Slack message it would post
  csbot metric customer_churn_rate --period last-month --json
  csbot metric --list --json
  csbot sync --csv ./exports              load your CSV exports
  csbot serve --port 3000                 HTTP mode for Slack (needs SLACK_SIGNING_SECRET)
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="csbot", description="csbot: Customer Success numbers in Slack.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="log more (to stderr)")
    sub = p.add_subparsers(dest="cmd", metavar="command")

    sub.add_parser("run", help="Socket Mode with Slack tokens; a local console without them (e.g. csbot run)")

    serve = sub.add_parser("serve", help="HTTP mode for Slack on /slack/events (e.g. csbot serve --port 3000)")
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    serve.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")

    ask = sub.add_parser("ask", help='answer one question (e.g. csbot ask "churn last-month")')
    ask.add_argument("text", help="the question, as you would type it in Slack")
    ask.add_argument("--json", action="store_true", help="print the Slack message payloads csbot would post")

    metric = sub.add_parser("metric", help="one metric as JSON (e.g. csbot metric nrr --period 2026-Q3 --json)")
    metric.add_argument("name", nargs="?", help="metric name (csbot metric --list)")
    metric.add_argument("--period", default="last-month", help="period word (default last-month)")
    metric.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="segment=, touch=, owner=, plan=, region= (repeatable)")
    metric.add_argument("--list", action="store_true", help="list every metric name")
    metric.add_argument("--json", action="store_true", help="print JSON (the contract's format)")

    demo = sub.add_parser("demo", help="fill the database with the demo company (e.g. csbot demo)")
    demo.add_argument("--force", action="store_true", help="replace data that is already there")

    sync = sub.add_parser("sync", help="load your data (e.g. csbot sync --csv ./exports); see csbot sync --help",
                          add_help=False)
    sync.add_argument("args", nargs=argparse.REMAINDER)

    health = sub.add_parser("health", help="health snapshots and the model's backtest (e.g. csbot health --backtest 6)",
                            add_help=False)
    health.add_argument("args", nargs=argparse.REMAINDER)

    sub.add_parser("digest", help="the daily KPI digest: --dry-run, --channel C, --log (see csbot digest --help)",
                   add_help=False)

    glossary = sub.add_parser("glossary", help="explain a Customer Success term (e.g. csbot glossary NRR)")
    glossary.add_argument("term", nargs="*", help="the term; none lists them all")
    return p


# Subcommands with a command line of their own: everything after the name is theirs.
DELEGATED = {
    "sync": ("metrics.sync", "cli"),
    "health": ("metrics.health", "cli"),
    "digest": ("bot.scheduler", "digest_cli"),
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    verbose = "-v" in argv[:1] or "--verbose" in argv[:1]
    rest = argv[1:] if verbose else argv
    if rest and rest[0] in DELEGATED:
        args = argparse.Namespace(cmd=rest[0], args=rest[1:], verbose=verbose)
    else:
        args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _load_dotenv()
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"csbot: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        return _run(args, settings)
    except ConfigError as exc:
        print(f"csbot: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # csbot ask ... | head
        sys.stderr.close()
        return 0
    except Exception as exc:  # never a traceback for the user; the log has it with -v
        from metrics.db import DatabaseUnavailable

        if isinstance(exc, DatabaseUnavailable):
            print(f"csbot: {exc}", file=sys.stderr)
            return 1
        logger.debug("unexpected error", exc_info=True)
        print(f"csbot: unexpected error ({type(exc).__name__}); run with -v for details", file=sys.stderr)
        return 1


def _load_dotenv() -> None:
    from dotenv import find_dotenv, load_dotenv

    path = find_dotenv(usecwd=True)
    if path:
        load_dotenv(path, override=False)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    cmd = args.cmd or "run"
    if cmd in DELEGATED:
        import importlib

        module, function = DELEGATED[cmd]
        return getattr(importlib.import_module(module), function)(args.args, settings)
    if cmd == "demo":
        return _demo(settings, force=args.force)
    if cmd == "metric" and args.list:
        return _metric_list(args.json)
    if cmd == "glossary":
        return _ask_and_print(settings, "term " + " ".join(args.term), as_json=False)

    if cmd == "run":
        if settings.slack_bot_token or settings.slack_app_token:
            from bot.server import run_socket_mode

            return run_socket_mode(settings)
        from bot.console import run_console

        return run_console(settings)
    if cmd == "serve":
        from bot.server import serve_http

        return serve_http(settings, host=args.host, port=args.port)
    if cmd == "ask":
        return _ask_and_print(settings, args.text, as_json=args.json)
    if cmd == "metric":
        return _metric(settings, args)
    raise AssertionError(cmd)


def _ask_and_print(settings: Settings, text: str, *, as_json: bool) -> int:
    from bot.console import answer_once

    return answer_once(settings, text, as_json=as_json)


def _metric_list(as_json: bool) -> int:
    from metrics.registry import all_metrics

    metrics = all_metrics()
    if as_json:
        print(json.dumps([{"name": m.name, "unit": m.unit, "label": m.label_en, "label_ja": m.label_ja,
                           "description": m.description_en, "formula": m.formula_en}
                          for m in metrics.values()], ensure_ascii=False, indent=2))
    else:
        for m in metrics.values():
            print(f"{m.name:28} {m.unit:8} {m.label_en}")
    return 0


def _metric(settings: Settings, args: argparse.Namespace) -> int:
    from commands.periods import PeriodError, parse_period
    from metrics.db import is_empty, open_database
    from metrics.filters import FILTER_KEYS, Filters
    from metrics.registry import compute_metric, get_metric

    if not args.name:
        print("csbot metric: name a metric, e.g. csbot metric customer_churn_rate --json (csbot metric --list)",
              file=sys.stderr)
        return 2
    try:
        metric = get_metric(args.name)
    except KeyError:
        from rapidfuzz import process

        from metrics.registry import all_metrics

        close = [m for m, score, _ in process.extract(args.name, list(all_metrics()), limit=3) if score > 60]
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        print(f"csbot metric: unknown metric {args.name!r}.{hint} See csbot metric --list.", file=sys.stderr)
        return 2
    filters: dict[str, object] = {}
    for item in args.filter:
        key, sep, value = item.partition("=")
        if not sep or key.strip().lower() not in FILTER_KEYS or not value.strip():
            print(f"csbot metric: bad filter {item!r}; use KEY=VALUE with KEY one of segment, touch, owner, plan, region",
                  file=sys.stderr)
            return 2
        name = FILTER_KEYS[key.strip().lower()]
        filters[name] = (value.strip(),) if name == "owner" else value.strip()
    db = open_database(settings)
    from datetime import datetime, timezone

    today = datetime.now(timezone.utc).astimezone(settings.tz).date()
    try:
        period = parse_period(args.period, today)
    except PeriodError as exc:
        print(f"csbot metric: {exc}", file=sys.stderr)
        return 2
    if is_empty(db.engine):
        print("csbot metric: this database holds no data yet; load it with csbot sync --csv <folder> (or csbot demo)",
              file=sys.stderr)
        return 1
    result = compute_metric(db.engine, metric.name, period, Filters(**filters), settings)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        print(f"{metric.label_en}: {metric.format_value(result.value, settings.currency)}  ({period.describe()})")
        print(f"  {metric.explain(result.current, 'en', settings.currency)}")
    return 0


def _demo(settings: Settings, *, force: bool) -> int:
    from metrics.db import get_meta, init_schema, is_empty, make_engine, safe_url
    from metrics.demo import clear_data, load_demo

    engine = make_engine(settings.effective_database_url)
    init_schema(engine)
    if not is_empty(engine):
        source = get_meta(engine, "data_source")
        if not force:
            what = "the demo company already" if source == "demo" else "synced data"
            print(f"csbot demo: {safe_url(settings.effective_database_url)} holds {what}; "
                  "run csbot demo --force to replace it with the demo company", file=sys.stderr)
            return 1
        clear_data(engine)
    summary = load_demo(engine, tz=settings.tz)
    print(f"Loaded the demo company into {safe_url(settings.effective_database_url)} ({sum(summary.counts.values()):,} rows). "
          "Try: csbot ask \"churn last-month\"")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
