"""Lists of accounts and counts of customers: the answer to a ``Query`` whose intent is
"list" or "count" (``answer``).

A list names how many and what/when in its title ("12 accounts churned · Oct 1 – Oct 31,
2026"), shows at most ``TABLE_ROWS`` rows, and attaches the whole list as CSV (UTF-8 with a
BOM, so Excel reads Japanese) when it is longer. An empty list says so with its period and
filters, and says when the filters match no account at all. A count gives the paying
customers on a day and every account in the data. The numbers come from ``metrics.lists``.
"""

from __future__ import annotations

import functools
import io
import logging
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Callable

import pandas as pd

from commands import format as fmt
from commands.context import Request
from commands.health import band_label, bands_text
from commands.messages import LANGUAGES, t
from commands.metric_answer import calc_for
from commands.periods import default_period
from commands.query import LISTINGS, Query
from commands.reply import Attachment, Figure, Reply, Table, error_reply
from metrics import health as hm
from metrics import lists as ml
from metrics.accounts import count_accounts
from metrics.filters import NO_FILTERS, Filters
from metrics.periods import Period, add_months

logger = logging.getLogger(__name__)

TABLE_ROWS = 20  # rows shown in the answer; a longer list comes whole as CSV
MAX_TOP = 1000  # "top N" asks for at most this many rows
DROP_POINTS = 10  # health_drop: points lost, unless the question gives a number
DROP_DAYS = 30  # health_drop: over the last 30 days, unless the question gives a period
RENEWAL_DAYS = 30  # renewals: due in the next 30 days, unless the question gives a number or a period
MAX_DAYS = 3660
MAX_POINTS = 100

# What the CSV file of a list is called: "churned-2026-10.csv".
FILE_STEM = {"churn": "churned", "early_churn": "early-churn", "new": "new", "reactivation": "reactivated",
             "expansion": "expanded", "contraction": "contracted", "at_risk": "at-risk", "health_drop": "health-dropped",
             "renewals": "renewals", "accounts": "accounts"}


# --------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """One column of the table (``cell``: text) and what it puts in the CSV (``csv``: header key, raw value)."""

    header: str  # message key
    cell: Callable[[ml.ListRow], str]
    csv: tuple[tuple[str, Callable[[ml.ListRow], Any]], ...]


def _number(v: float | None) -> float | int | None:
    """A money amount for the CSV: a whole number without ".0"."""
    return int(v) if v is not None and float(v).is_integer() else v


def _score_text(score: float | None) -> str:
    return fmt.NONE if score is None else str(hm.rounded(score))


def _columns(lang: str, currency: str) -> dict[str, Column]:
    money = lambda v: fmt.money(v, currency)  # noqa: E731
    # A segment's and a band's words, looked up once per value: a CSV of 70,000 rows has a handful of each.
    segment = functools.lru_cache(maxsize=None)(lambda v: fmt.segment(v, lang))
    band = functools.lru_cache(maxsize=None)(lambda v: band_label(v, lang))
    health = lambda r: fmt.NONE if r.score is None else t(  # noqa: E731
        "lists.health_cell", lang, score=_score_text(r.score), band=band(r.band))
    score_raw = lambda v: None if v is None else hm.rounded(v)  # noqa: E731
    band_raw = lambda r: None if r.band is None else band(r.band)  # noqa: E731
    return {
        "account": Column("col_account", lambda r: r.name, (("col_account_id", lambda r: r.account_id),
                                                            ("col_account", lambda r: r.name))),
        "segment": Column("col_segment", lambda r: segment(r.segment),
                          (("col_segment", lambda r: None if not r.segment else segment(r.segment)),)),
        "owner": Column("col_owner", lambda r: r.owner or fmt.NONE, (("col_owner", lambda r: r.owner),)),
        "health": Column("col_health", health, (("col_score", lambda r: score_raw(r.score)), ("col_band", band_raw))),
        "health_move": Column("col_health_move", lambda r: t("lists.score_move", lang, before=_score_text(r.previous),
                                                             now=health(r)),
                              (("col_score_before", lambda r: score_raw(r.previous)),
                               ("col_score", lambda r: score_raw(r.score)), ("col_band", band_raw))),
        "drop": Column("col_change", lambda r: fmt.NONE if r.drop is None else f"{-r.drop:+d}",
                       (("col_drop", lambda r: r.drop),)),
        "renewal": Column("col_renewal", lambda r: fmt.day(r.renewal_date, lang, year=True),
                          (("col_renewal", lambda r: None if r.renewal_date is None else r.renewal_date.isoformat()),)),
        "mrr": Column("col_mrr", lambda r: money(r.amount), (("col_mrr", lambda r: _number(r.amount)),)),
        "arr": Column("col_arr", lambda r: money(r.amount), (("col_arr", lambda r: _number(r.amount)),)),
        **{f"amount_{m}": Column(f"amount_{m}", lambda r: money(r.amount), ((f"amount_{m}", lambda r: _number(r.amount)),))
           for m in ("churn", "new", "reactivation", "expansion", "contraction")},
    }


# --------------------------------------------------------------------------- one list, before words


@dataclass(frozen=True)
class Listed:
    """A list as found: its rows and how to say it."""

    key: str  # title_<key>_one/_other, empty_<key>, FILE_STEM[key]
    rows: list[ml.ListRow]
    where: str  # the dates (or day) and the filters
    period_text: str  # Reply.period
    file_tag: str  # the period or day in the CSV file name
    columns: tuple[str, ...]
    metrics: tuple[str, ...]  # catalog metrics whose values the table shows
    values: dict[str, Any] = field(default_factory=dict)  # more placeholders of the title (band, points)
    lines: tuple[str, ...] = ()
    amount_label: str | None = None  # message key of the amount column, when a total is worth a line
    data: dict[str, Any] = field(default_factory=dict)
    how: tuple[str, ...] = ()  # how the list was made


def _scoped(text: str, filters: Filters, lang: str) -> str:
    """"Oct 1 – Oct 31, 2026 · segment:smb": the dates, then the filters (as ``fmt.period_line``)."""
    return f"{text} · {fmt.scope(filters, lang)}" if not filters.empty else text


def _file_tag(period: Period) -> str:
    """A period in a file name: "2026-10", "2026-Q3", "2026", else "2026-10-01_2026-10-15"."""
    start = period.start
    if start.day == 1:
        if period.end == add_months(start, 1):
            return f"{start:%Y-%m}"
        if period.end == add_months(start, 3) and start.month % 3 == 1:
            return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        if period.end == add_months(start, 12) and start.month == 1:
            return str(start.year)
    if period.days == 1:
        return start.isoformat()
    return f"{start.isoformat()}_{period.last_day.isoformat()}"


def _check_n(n: int | None, top: int, lang: str) -> Reply | None:
    if n is not None and not 1 <= n <= top:
        return error_reply(t("lists.bad_n", lang, max=top), language=lang, hint=t("lists.unknown_listing_hint", lang))
    return None


def _movements(req: Request, q: Query, calc, listing: str, model) -> Listed:
    lang, filters = req.lang, q.filters
    period = q.period or default_period(req.ctx.today)
    health = listing in ml.PAYING_AT_END
    rows = ml.movement_list(calc, period, filters, listing, health_day=req.ctx.today if health else None, model=model)
    if listing == "early_churn":
        columns: tuple[str, ...] = ("account", "segment", "owner")
        metrics: tuple[str, ...] = ()
    else:
        columns = ("account", "segment", f"amount_{listing}", "owner") + (("health",) if health else ())
        metrics = ("mrr_movements",) + (("health_score",) if health else ())
    lines = (t("lists.health_note", lang),) if health and rows else ()
    how = t(f"lists.how_{listing}", lang, start=fmt.day(period.start, lang, year=True),
            end=fmt.day(period.end, lang, year=True))
    return Listed(listing, rows, fmt.period_line(period, filters, lang), fmt.period(period, lang), _file_tag(period),
                  columns, metrics, lines=lines, amount_label=None if listing == "early_churn" else f"amount_{listing}",
                  data={"period": period.iso()}, how=(how,))


def band_key(word: str | None) -> str | None:
    """A band as the model names it ("red") from its name in either language ("red", "Red", "赤")."""
    text = (word or "").strip().lower()
    for band in hm.BANDS:
        if text == band or text in {band_label(band, lang).lower() for lang in LANGUAGES}:
            return band
    return None


def _band(req: Request, q: Query, conn, model) -> Listed | Reply:
    lang = req.lang
    band = band_key(q.list_band)
    if q.list_band and band is None:
        return error_reply(t("lists.unknown_listing", lang), language=lang, hint=t("lists.unknown_listing_hint", lang))
    day = ml.paying_day(q.period, req.ctx.today)
    bands = hm.RISKY_BANDS if band is None else (band,)
    rows = ml.band_list(conn, day, q.filters, bands, req.ctx.settings, model=model)
    day_text = fmt.day(day, lang, year=True)
    key = "at_risk" if band is None else "band"
    values = {"band": band_label(band, lang)} if band else {}
    how = t(f"lists.how_{key}", lang, day=day_text, bands=bands_text(model, lang), **values)
    return Listed(key, rows, _scoped(t("lists.as_of", lang, day=day_text), q.filters, lang), day_text,
                  f"{band}-{day.isoformat()}" if band else day.isoformat(),
                  ("account", "segment", "health", "mrr", "owner"), ("mrr", "health_score"),
                  values=values, data={"day": day.isoformat(), "band": band}, how=(how,))


def _health_drop(req: Request, q: Query, conn, model) -> Listed:
    lang, today = req.lang, req.ctx.today
    points = q.list_n or DROP_POINTS
    if q.period is None:
        start, end = today - timedelta(days=DROP_DAYS), today
    else:
        end = min(q.period.end, today)
        start = min(q.period.start, end - timedelta(days=1))
    rows = ml.health_drop_list(conn, start, end, points, q.filters, req.ctx.settings, model=model)
    span = t("lists.between", lang, first=fmt.day(start, lang, year=start.year != end.year),
             last=fmt.day(end, lang, year=True))
    lines = () if hm.has_snapshots(conn, start) else (t("lists.health_computed", lang, day=fmt.day(start, lang, year=True)),)
    return Listed("health_drop", rows, _scoped(span, q.filters, lang), span, f"{start.isoformat()}_{end.isoformat()}",
                  ("account", "segment", "health_move", "drop", "mrr", "owner"), ("health_score", "mrr"),
                  values={"points": points}, lines=lines,
                  data={"start": start.isoformat(), "end": end.isoformat(), "points": points},
                  how=(t("lists.how_health_drop", lang, first=fmt.day(start, lang, year=True),
                         last=fmt.day(end, lang, year=True)),))


def _renewals(req: Request, q: Query, conn, model) -> Listed:
    lang, today = req.lang, req.ctx.today
    if q.period is not None and q.list_n is None:
        start, end = q.period.start, _full_end(q.period)
        window = Period(start, end)
        when = fmt.period(window, lang)
    else:
        days = q.list_n or RENEWAL_DAYS
        start, end = today, today + timedelta(days=days)
        window = Period(start, end)
        when = t("lists.next_days", lang, days=days, dates=fmt.period(window, lang))
    rows = ml.renewal_list(conn, start, end, q.filters, today, req.ctx.settings, model=model)
    return Listed("renewals", rows, _scoped(when, q.filters, lang), fmt.period(window, lang), _file_tag(window),
                  ("account", "renewal", "segment", "arr", "health", "owner"), ("arr", "health_score"),
                  amount_label="col_arr", data={"period": window.iso()},
                  how=(t("lists.how_renewals", lang, day=fmt.day(today, lang, year=True)),))


def _full_end(period: Period) -> date:
    """A "to date" period runs to today; renewals of "this month" are those of the whole month."""
    if not period.to_date:
        return period.end
    step = {"month": 1, "quarter": 3, "year": 12}.get(period.grain)
    if step:
        return add_months(period.start, step)
    return period.start + timedelta(days=7) if period.grain == "week" else period.end


def _accounts(req: Request, q: Query, conn, model) -> Listed:
    lang = req.lang
    day = ml.paying_day(q.period, req.ctx.today)
    rows = ml.account_list(conn, day, q.filters, req.ctx.settings, model=model)
    day_text = fmt.day(day, lang, year=True)
    return Listed("accounts", rows, _scoped(t("lists.as_of", lang, day=day_text), q.filters, lang), day_text, day.isoformat(),
                  ("account", "segment", "mrr", "health", "owner"), ("mrr", "health_score"), amount_label="col_mrr",
                  data={"day": day.isoformat()}, how=(t("lists.how_accounts", lang, day=day_text),))


# --------------------------------------------------------------------------- the answer


def answer(req: Request) -> Reply:
    """The answer to a "list" or "count" question (``req.query``): a list of accounts, or how
    many paying customers there are. A count that names a listing ("how many accounts in red")
    is answered by that list, whose title gives the count."""
    q: Query = req.query if req.query is not None else Query(intent="list")
    lang = req.lang
    if q.intent == "count" and q.listing in (None, "accounts"):
        return _count(req, q)
    listing = q.listing or "accounts"
    if listing not in LISTINGS:
        return error_reply(t("lists.unknown_listing", lang), language=lang, hint=t("lists.unknown_listing_hint", lang))
    bad = _check_n(q.list_n, MAX_POINTS if listing == "health_drop" else MAX_DAYS, lang) or \
        _check_n(q.list_top, MAX_TOP, lang)
    if bad is not None:
        return bad
    try:
        model = hm.model_for(req.ctx.settings)
    except hm.HealthModelError as exc:
        return error_reply(str(exc), language=lang, hint=t("health.model_error_hint", lang))
    with req.connection() as conn:
        calc = calc_for(req, conn)
        if listing in ml.MOVEMENTS:
            found: Listed | Reply = _movements(req, q, calc, listing, model)
        elif listing == "band":
            found = _band(req, q, conn, model)
        elif listing == "health_drop":
            found = _health_drop(req, q, conn, model)
        elif listing == "renewals":
            found = _renewals(req, q, conn, model)
        else:
            found = _accounts(req, q, conn, model)
        if isinstance(found, Reply):
            return found
        nothing_matches = None
        if not found.rows and not q.filters.empty and count_accounts(conn, q.filters) == 0:
            nothing_matches = t("lists.no_account_matches", lang, scope=fmt.scope(q.filters, lang),
                                total=f"{count_accounts(conn, NO_FILTERS):,}")
    return list_reply(found, listing, lang, req.ctx.settings.currency, nothing_matches, top=q.list_top)


def list_reply(found: Listed, listing: str, lang: str, currency: str, nothing_matches: str | None = None,
               top: int | None = None) -> Reply:
    """The words, table and CSV of a list as found; with ``top``, of its first ``top`` rows only
    (the title keeps the whole list's count, a line says how many are shown)."""
    whole = len(found.rows)
    if top is not None and top < whole:
        found = replace(found, rows=found.rows[:top])
    else:
        top = None
    n = len(found.rows)
    ids = [r.account_id for r in found.rows]
    data = {"listing": listing, "count": whole, "accounts": ids, **found.data}
    if not n:
        title = t(f"lists.empty_{found.key}", lang, where=found.where, **found.values)
        lines = (nothing_matches,) if nothing_matches else ()
        return Reply(title=title, summary=title, language=lang, period=found.period_text, lines=lines, how=found.how,
                     data=data)
    title = t(f"lists.title_{found.key}_{'one' if whole == 1 else 'other'}", lang, n=f"{whole:,}", where=found.where,
              **found.values)
    cols = _columns(lang, currency)
    columns = [cols[c] for c in found.columns]
    shown = found.rows[:TABLE_ROWS]
    table = Table(columns=tuple(t(f"lists.{c.header}", lang) for c in columns),
                  rows=tuple(tuple(c.cell(r) for c in columns) for r in shown), total_rows=n)
    lines = list(found.lines)
    if top is not None:
        data["top"] = top
        lines.insert(0, t("lists.top_shown", lang, top=f"{top:,}", n=f"{whole:,}"))
    if found.amount_label and n > 1:
        total = sum(r.amount or 0.0 for r in found.rows)
        lines.append(t("lists.total_amount", lang, label=t(f"lists.{found.amount_label}", lang), n=f"{n:,}",
                       amount=fmt.money(total, currency)))
    attachment = None
    if n > TABLE_ROWS:
        filename = f"{_stem(found)}-{found.file_tag}.csv"
        attachment = Attachment(filename=filename, content=to_csv(found.rows, columns, lang),
                                title=t("lists.csv_title", lang, title=title))
        lines.append(t("lists.attached", lang, n=f"{n:,}", filename=filename))
    return Reply(title=title, summary=title, language=lang, period=found.period_text, lines=tuple(lines), table=table,
                 how=found.how, metrics=found.metrics, data=data, attachment=attachment)


def _stem(found: Listed) -> str:
    if found.key == "band":
        return "health"  # the band is in the file tag: "health-red-2026-11-22.csv"
    return FILE_STEM.get(found.key, found.key)


def to_csv(rows: list[ml.ListRow], columns: list[Column], lang: str) -> bytes:
    """Every row of a list as CSV, UTF-8 with a byte-order mark (Excel then reads Japanese):
    the account ID first, numbers as numbers, dates as ISO dates, headers in ``lang``."""
    spec = [(key, fn) for c in columns for key, fn in c.csv]
    frame = pd.DataFrame([[fn(r) for _, fn in spec] for r in rows], columns=[t(f"lists.{key}", lang) for key, _ in spec])
    out = io.StringIO()
    frame.to_csv(out, index=False, lineterminator="\r\n")
    return out.getvalue().encode("utf-8-sig")


# --------------------------------------------------------------------------- counts


def _count(req: Request, q: Query) -> Reply:
    lang, today, filters = req.lang, req.ctx.today, q.filters
    period = q.period
    day = ml.paying_day(period, today)
    with req.connection() as conn:
        counted = ml.customer_count(calc_for(req, conn), day, filters)
    if period is None or period.end > today:
        when = t("lists.as_of", lang, day=fmt.day(day, lang, year=True))
        period_text = fmt.day(day, lang, year=True)
    else:
        when = t("lists.count_end_of", lang, period=fmt.period(period, lang))
        period_text = fmt.period(period, lang)
    where = _scoped(when, filters, lang)
    n = counted.paying
    title = t("lists.count_title_one" if n == 1 else "lists.count_title", lang, n=f"{n:,}", where=where)
    lines: tuple[str, ...] = (t("lists.count_line", lang, accounts=f"{counted.accounts:,}",
                                not_paying=f"{counted.accounts - n:,}"),)
    if counted.accounts == 0 and not filters.empty:
        with req.connection() as conn:
            total = count_accounts(conn, NO_FILTERS)
        lines = (t("lists.no_account_matches", lang, scope=fmt.scope(filters, lang), total=f"{total:,}"),)
    figures = (Figure(label=t("lists.count_paying", lang), value=fmt.count(n)),
               Figure(label=t("lists.count_accounts", lang), value=fmt.count(counted.accounts)))
    return Reply(title=title, summary=title, language=lang, period=period_text, figures=figures, lines=lines,
                 how=(t("lists.count_how", lang),), metrics=(),
                 data={"count": n, "accounts": counted.accounts, "day": day.isoformat()})
