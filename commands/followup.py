"""Follow-ups in a thread: under an answer, "and by segment?", "Q2は？" or "enterpriseだけ"
refine the thread's previous question instead of starting from nothing.

A question is a follow-up when it names no metric, command, term or list of its own but
does name something that changes a question: a period, a filter, a dimension to break
down by, a grain, a second period or filter value to compare with (``is_follow_up``).
``refine(previous, partial)`` keeps what the previous question asked and replaces what
the follow-up names. The thread's last question is stored as plain data
(``to_data``/``from_data``) through ``metrics.threads``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, fields, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection

from commands.context import Context
from commands.query import Query
from metrics import threads
from metrics.filters import Filters
from metrics.periods import Period

logger = logging.getLogger(__name__)

# A DM has no thread: its follow-ups refine the last question asked in it, for a while.
DM_THREAD = "dm"
DM_MAX_AGE = timedelta(minutes=30)
THREAD_MAX_AGE = threads.KEEP

# Intents whose answer a follow-up can reshape (a help text or a definition cannot).
REFINABLE = ("command", "value", "breakdown", "trend", "compare", "list", "count")


# ---- plain data -----------------------------------------------------------------

def _period_data(p: Period) -> dict[str, Any]:
    return {"start": p.start.isoformat(), "end": p.end.isoformat(), "grain": p.grain, "to_date": p.to_date}


def _period(d: dict[str, Any]) -> Period:
    return Period(date.fromisoformat(d["start"]), date.fromisoformat(d["end"]), d.get("grain", "range"),
                  bool(d.get("to_date")))


def _filters_data(f: Filters) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(f).items() if v}


def _filters(d: dict[str, Any]) -> Filters:
    known = {f.name for f in fields(Filters)}
    values = {k: (tuple(v) if k == "owner" else v) for k, v in d.items() if k in known}
    return Filters(**values)


def to_data(q: Query) -> dict[str, Any]:
    """The question as JSON-able data (what a thread remembers)."""
    return {
        "intent": q.intent, "command": q.command, "metrics": list(q.metrics),
        "periods": [_period_data(p) for p in q.periods], "period_words": list(q.period_words),
        "filters": _filters_data(q.filters), "compare_filters": [_filters_data(f) for f in q.compare_filters],
        "by": q.by, "grain": q.grain, "listing": q.listing, "list_band": q.list_band, "list_n": q.list_n,
        "list_top": q.list_top,
        "account": q.account, "term": q.term, "words": list(q.words), "text": q.text,
    }


def from_data(d: dict[str, Any]) -> Query:
    return Query(
        intent=d.get("intent", "value"), command=d.get("command"), metrics=tuple(d.get("metrics", ())),
        periods=tuple(_period(p) for p in d.get("periods", ())), period_words=tuple(d.get("period_words", ())),
        filters=_filters(d.get("filters", {})), compare_filters=tuple(_filters(f) for f in d.get("compare_filters", ())),
        by=d.get("by"), grain=d.get("grain"), listing=d.get("listing"), list_band=d.get("list_band"),
        list_n=d.get("list_n"), list_top=d.get("list_top"), account=d.get("account"), term=d.get("term"), words=tuple(d.get("words", ())),
        text=d.get("text", ""),
    )


# ---- what a follow-up is --------------------------------------------------------

def is_follow_up(q: Query) -> bool:
    """Does ``q`` only reshape a question asked before (no metric, command, term or list of its own)?"""
    if q.unknown or q.metrics or q.command or q.term or q.account or q.listing:
        return False
    if q.intent in ("define", "help"):
        return False
    return bool(q.periods or not q.filters.empty or q.compare_filters or q.by or q.grain)


def refine(previous: Query, partial: Query) -> Query:
    """``previous`` reshaped by what ``partial`` names (see the module doc).

    - periods: one period replaces the question's period(s) (a comparison of two periods becomes
      the single question it compared); two periods make a comparison.
    - filters: the named fields replace the previous ones, the others stay ("enterpriseだけ" after
      "churn for owner:alice" is alice's enterprise accounts).
    - by: a breakdown; grain: a trend; two filter values: a comparison of them.
    """
    intent = previous.intent
    by = previous.by
    changes: dict[str, Any] = {}
    if partial.periods:
        changes["periods"] = partial.periods
        changes["period_words"] = partial.period_words
        if len(partial.periods) >= 2:
            intent = "compare"
            changes["compare_filters"] = ()
        elif partial.intent == "compare" and previous.periods:
            # "vs Q2": the previous question's period against the one named now
            intent = "compare"
            changes["periods"] = (previous.periods[0], partial.periods[0])
            changes["period_words"] = (*previous.period_words[:1], *partial.period_words[:1])
        elif intent == "compare" and not previous.compare_filters:
            intent = _single(previous)
    if not partial.filters.empty:
        changes["filters"] = _merge(previous.filters, partial.filters)
    if partial.compare_filters:
        intent = "compare"
        changes["compare_filters"] = partial.compare_filters
    if partial.by:
        intent, by = "breakdown", partial.by
    if partial.grain or partial.intent == "trend":
        intent = "trend"
        changes["grain"] = partial.grain or previous.grain or "month"
        if not partial.periods and previous.intent != "trend":
            changes["periods"] = ()  # the trend's default span, not the one month asked before
            changes["period_words"] = ()
    changes["by"] = by if intent == "breakdown" else None
    return replace(previous, intent=intent, unknown=(), suggestions=(), text=partial.text, **changes)


def _single(previous: Query) -> str:
    """What a comparison of two periods was a comparison of."""
    return "command" if previous.command and not previous.metrics else "value"


def _merge(old: Filters, new: Filters) -> Filters:
    values = {f.name: getattr(new, f.name) or getattr(old, f.name) for f in fields(Filters)}
    return Filters(**values)


# ---- the thread's memory --------------------------------------------------------

def thread_key(ctx: Context) -> tuple[str, str, timedelta] | None:
    """(channel, thread, how long a follow-up may refer back) for the asker's conversation, or None."""
    if not ctx.channel_id:
        return None
    if ctx.thread_ts:
        return ctx.channel_id, ctx.thread_ts, THREAD_MAX_AGE
    if ctx.surface == "dm":
        return ctx.channel_id, DM_THREAD, DM_MAX_AGE
    return None


def recall(conn: Connection, ctx: Context) -> Query | None:
    """The last question of the asker's thread (or DM), when there is one and it may be refined."""
    key = thread_key(ctx)
    if key is None:
        return None
    data = threads.recall(conn, key[0], key[1], ctx.now, key[2])
    if data is None:
        return None
    try:
        previous = from_data(data)
    except (KeyError, TypeError, ValueError):
        logger.warning("a thread's stored question could not be read; starting afresh")
        return None
    return previous if previous.intent in REFINABLE else None


def remember(conn: Connection, ctx: Context, query: Query) -> None:
    """Keep ``query`` as the thread's last question (only questions a follow-up can refine)."""
    key = thread_key(ctx)
    if key is None or query.intent not in REFINABLE or query.unknown:
        return
    threads.remember(conn, key[0], key[1], to_data(query), ctx.now)

