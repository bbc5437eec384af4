"""``csbot metric``: one metric as the JSON of the command-line contract; ``--list``: the metric catalog.

``--by DIM`` splits it by an account dimension, ``--grain month|quarter|week`` gives it for every unit
of the period, ``--compare P2`` sets it beside another period (README, "The command line")."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from datetime import date, timedelta
from typing import TYPE_CHECKING

from commands import format as fmt
from commands import metric_text
from commands.periods import DEFAULT_PERIOD
from metrics import catalog
from metrics.filters import FILTER_KEYS, KEY_FOR_FIELD, Filters
from metrics.grouping import DIMENSIONS
from metrics.periods import Period, add_months, month_start, quarter_start, week_start
from metrics.settings import Settings

if TYPE_CHECKING:
    from metrics.breakdown import Breakdown, Trend
    from metrics.calc import Calc, Measurement

NAME = "metric"
GRAINS = ("month", "quarter", "week")


def add_parser(sub) -> None:
    metric = sub.add_parser("metric", help="one metric as JSON (e.g. csbot metric nrr --period 2026-Q3 --json)",
                            epilog="examples:\n  csbot metric customer_churn_rate --period last-month --json\n"
                                   "  csbot metric nrr --period 2026-Q3 --filter segment=enterprise --json\n"
                                   "  csbot metric customer_churn_rate --period 2026-10 --by segment --json\n"
                                   "  csbot metric nrr --period 2026 --grain month --json\n"
                                   "  csbot metric mrr --period 2026-10 --compare 2025-10 --json\n"
                                   "  csbot metric --list --json",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    metric.add_argument("name", nargs="?", help="metric name (csbot metric --list)")
    metric.add_argument("--period", default=None,
                        help=f"period word (default {DEFAULT_PERIOD}; with --grain, the last 12 complete months)")
    metric.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="segment=, touch=, owner=, plan=, region= (repeatable)")
    metric.add_argument("--by", metavar="DIM", help="split by an account dimension: " + ", ".join(DIMENSIONS))
    metric.add_argument("--grain", choices=GRAINS, help="the metric for every month, quarter or week of --period")
    metric.add_argument("--compare", metavar="PERIOD", help="the metric for --period beside this period")
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
    from metrics.breakdown import breakdown, can_break_down, trend
    from metrics.calc import Calc
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
    shapes = [flag for flag, value in (("--by", args.by), ("--grain", args.grain), ("--compare", args.compare)) if value]
    if len(shapes) > 1:
        return _usage(f"use one of {', '.join(shapes)} at a time")
    by = None
    if args.by:
        by = FILTER_KEYS.get(args.by.strip().lower())
        if by is None:
            return _usage(f"cannot split by {args.by!r}; the dimensions are {', '.join(DIMENSIONS)}")
        if not can_break_down(metric.name):
            return _usage(f"{metric.name} has no breakdown by {by} (a table of cohorts or a mean over months "
                          f"does not split honestly); ask for it without --by")
    db = open_for_answers(settings)
    today = local_today(settings.tz)
    try:
        fiscal = settings.fiscal_year_start
        if args.period is None and args.grain:
            period = _last_complete(args.grain, today)
        else:
            period = parse_period(args.period or DEFAULT_PERIOD, today, fiscal_start=fiscal)
        other = parse_period(args.compare, today, fiscal_start=fiscal) if args.compare else None
    except PeriodError as exc:
        print(f"csbot metric: {exc}", file=sys.stderr)
        return 2
    for p in (period, other):
        if p is not None and p.start > today:
            return _usage(f"{fmt.period(p, 'en')} has not started yet (today is {today.isoformat()}); "
                          f"ask for a period up to today")
    if is_empty(db.engine):
        print("csbot metric: this database holds no data yet; load it with csbot sync --csv <folder> (or csbot demo)",
              file=sys.stderr)
        return 1
    with db.engine.connect() as conn:
        unknown = _unmatched_filter(conn, filters)
        if unknown:
            return _usage(unknown)
        calc = Calc(conn, settings, today)
        if by:
            data = _breakdown_json(breakdown(calc, metric.name, period, filters, by), filters)
        elif args.grain:
            data = _trend_json(trend(calc, metric.name, period, args.grain, filters), filters)
        elif other is not None:
            data = _compare_json(calc, metric, period, other, filters)
        else:
            data = None
            result = compute_metric(conn, metric.name, period, filters, calc=calc)
    if data is not None:
        if args.json:
            print(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            _print_text(metric, data, settings.currency)
        return 0
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        value = metric_text.format_value(metric, result.value, settings.currency)
        print(f"{metric_text.label(metric, 'en')}: {value}  ({fmt.period(period, 'en')})")
        print(f"  {metric_text.explain(metric, result.current, 'en', settings.currency)}")
    return 0


def _usage(message: str) -> int:
    print(f"csbot metric: {message}", file=sys.stderr)
    return 2


def _last_complete(grain: str, today: date) -> Period:
    """Without --period, a trend covers the last 12 complete months (4 quarters, 12 weeks)."""
    if grain == "week":
        end = week_start(today)
        return Period(end - timedelta(days=84), end, "range")
    end = quarter_start(today) if grain == "quarter" else month_start(today)
    return Period(add_months(end, -12), end, "months")


def _unmatched_filter(conn, filters: Filters) -> str | None:
    """'no account has segment 'enterpise'; did you mean enterprise?' for a filter value no account has,
    when the data holds values of that dimension (a typo, never a silent empty answer); else None."""
    from rapidfuzz import process

    from metrics.accounts import count_accounts, dimension_values

    known = dimension_values(conn)
    for field in fields(Filters):
        value = getattr(filters, field.name)
        if not value or not known.get(field.name):
            continue
        if count_accounts(conn, Filters(**{field.name: value})):
            continue
        typed = value[0] if isinstance(value, tuple) else value
        close = [v for v, score, _ in process.extract(typed, known[field.name], limit=3) if score > 60]
        hint = f"; did you mean {' or '.join(close)}?" if close else f" (known: {', '.join(known[field.name][:10])})"
        return f"no account has {KEY_FOR_FIELD[field.name]} {typed!r}{hint}"
    return None


def _side(period: Period, m: Measurement) -> dict:
    from metrics.compute import _jsonable

    return {"period": period.iso(), "value": _jsonable(m.value), "parts": _jsonable(m.parts)}


def _breakdown_json(b: Breakdown, filters: Filters) -> dict:
    from metrics.compute import _jsonable

    def entry(current: Measurement, previous: Measurement) -> dict:
        return {"value": _jsonable(current.value), "parts": _jsonable(current.parts),
                "previous": _side(b.previous_period, previous)}

    return {
        "name": b.metric.name, "period": b.period.iso(), "unit": b.metric.unit, "by": b.by,
        "groups": [{"key": g.value, **entry(g.current, g.previous)} for g in b.groups],
        "total": entry(b.total, b.previous_total),
        "filters": filters.describe() or None,
    }


def _trend_json(tr: Trend, filters: Filters) -> dict:
    return {
        "name": tr.metric.name, "period": tr.span.iso(), "unit": tr.metric.unit, "grain": tr.grain,
        "points": [{**_side(p, m), "to_date": p.to_date} for p, m in tr.points],
        "filters": filters.describe() or None,
    }


def _compare_json(calc: Calc, metric, period: Period, other: Period, filters: Filters) -> dict:
    from metrics.compute import _jsonable, measure

    first, second = measure(calc, metric.name, period, filters), measure(calc, metric.name, other, filters)
    change = None
    if isinstance(first.value, (int, float)) and isinstance(second.value, (int, float)):
        change = first.value - second.value
    return {
        "name": metric.name, "period": period.iso(), "unit": metric.unit,
        "comparison": [_side(period, first), _side(other, second)],
        "change": _jsonable(change),
        "filters": filters.describe() or None,
    }


def _print_text(metric, data: dict, currency: str) -> None:
    def value(v) -> str:
        return metric_text.format_value(metric, v, currency)

    def dates(p: dict) -> str:
        return fmt.period(Period(date.fromisoformat(p["start"]), date.fromisoformat(p["end"])), "en")

    label = metric_text.label(metric, "en")
    if "groups" in data:
        print(f"{label} by {data['by']} ({dates(data['period'])})")
        for g in data["groups"]:
            print(f"  {g['key'] if g['key'] is not None else '(none)'}: {value(g['value'])}")
        print(f"  all: {value(data['total']['value'])}")
    elif "points" in data:
        print(f"{label} per {data['grain']}")
        for p in data["points"]:
            print(f"  {dates(p['period'])}{' (to date)' if p['to_date'] else ''}: {value(p['value'])}")
    else:
        for side in data["comparison"]:
            print(f"{label} {dates(side['period'])}: {value(side['value'])}")
