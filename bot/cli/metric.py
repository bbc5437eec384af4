"""``csbot metric``: one metric as the JSON of the command-line contract; ``--list``: the metric catalog."""

from __future__ import annotations

import argparse
import json
import sys

from commands import format as fmt
from commands import metric_text
from commands.periods import DEFAULT_PERIOD
from metrics import catalog
from metrics.settings import Settings

NAME = "metric"


def add_parser(sub) -> None:
    metric = sub.add_parser("metric", help="one metric as JSON (e.g. csbot metric nrr --period 2026-Q3 --json)",
                            epilog="examples:\n  csbot metric customer_churn_rate --period last-month --json\n"
                                   "  csbot metric nrr --period 2026-Q3 --filter segment=enterprise --json\n"
                                   "  csbot metric --list --json",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    metric.add_argument("name", nargs="?", help="metric name (csbot metric --list)")
    metric.add_argument("--period", default=DEFAULT_PERIOD, help=f"period word (default {DEFAULT_PERIOD})")
    metric.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="segment=, touch=, owner=, plan=, region= (repeatable)")
    metric.add_argument("--list", action="store_true", help="list every metric name")
    metric.add_argument("--json", action="store_true", help="print JSON (the contract's format)")
    metric.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.list:
        return _metric_list(args.json)
    return _metric(settings, args)


def _metric_list(as_json: bool) -> int:
    if as_json:
        print(json.dumps([{"name": m.name, "unit": m.unit, "label": metric_text.label(m, "en"),
                           "label_ja": metric_text.label(m, "ja"), "description": metric_text.description(m, "en"),
                           "formula": metric_text.formula(m, "en")}
                          for m in catalog.all()], ensure_ascii=False, indent=2))
    else:
        for m in catalog.all():
            print(f"{m.name:28} {m.unit:8} {metric_text.label(m, 'en')}")
    return 0


def _metric(settings: Settings, args: argparse.Namespace) -> int:
    from bot.database import open_for_answers
    from commands.arguments import UsageError, parse_assignments
    from commands.periods import PeriodError, parse_period
    from metrics.clock import local_today
    from metrics.compute import compute_metric
    from metrics.db import is_empty

    if not args.name:
        print("csbot metric: name a metric, e.g. csbot metric customer_churn_rate --json (csbot metric --list)",
              file=sys.stderr)
        return 2
    try:
        metric = catalog.get(args.name)
    except KeyError:
        from rapidfuzz import process

        close = [m for m, score, _ in process.extract(args.name, list(catalog.names()), limit=3) if score > 60]
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        print(f"csbot metric: unknown metric {args.name!r}.{hint} See csbot metric --list.", file=sys.stderr)
        return 2
    try:
        filters = parse_assignments(args.filter)
    except UsageError as exc:
        print(f"csbot metric: {exc}", file=sys.stderr)
        return 2
    db = open_for_answers(settings)
    today = local_today(settings.tz)
    try:
        period = parse_period(args.period, today, fiscal_start=settings.fiscal_year_start)
    except PeriodError as exc:
        print(f"csbot metric: {exc}", file=sys.stderr)
        return 2
    if is_empty(db.engine):
        print("csbot metric: this database holds no data yet; load it with csbot sync --csv <folder> (or csbot demo)",
              file=sys.stderr)
        return 1
    result = compute_metric(db.engine, metric.name, period, filters, settings)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        value = metric_text.format_value(metric, result.value, settings.currency)
        print(f"{metric_text.label(metric, 'en')}: {value}  ({fmt.period(period, 'en')})")
        print(f"  {metric_text.explain(metric, result.current, 'en', settings.currency)}")
    return 0
