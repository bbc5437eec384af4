"""Reading a chart's data before drawing: series, validation, "is there anything to draw",
the waterfall's bars, and the short value texts. No matplotlib here (cheap to import).

Meaning comes only from ``Series.role`` and ``Chart.roles``, never from the words of a label.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from commands import format as fmt
from commands.reply import Chart, Series

logger = logging.getLogger(__name__)

KINDS = ("line", "bars", "waterfall", "stacked", "heatmap", "donut", "share")
LEVELS = ("start", "subtotal", "end", "net")  # waterfall bars drawn from zero


def _clean(v) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"chart value {v!r} is not a number") from None
    return f if math.isfinite(f) else None


def series(chart: Chart) -> list[Series]:
    """The chart's series with clean values (``None`` for a gap); a plain ``(name, values)`` pair is accepted."""
    out = []
    for item in chart.series:
        try:
            s = item if isinstance(item, Series) else Series(*item)
        except TypeError:
            raise ValueError("each chart series must be a Series (name, values, role)") from None
        out.append(Series(str(s.name), tuple(_clean(v) for v in s.values), s.role))
    return out


def roles(chart: Chart) -> list[str | None]:
    """One role per label (``None`` where the command gave none)."""
    given = list(chart.roles)
    return given + [None] * (len(chart.labels) - len(given))


def has_data(chart: Chart) -> bool:
    """True when the chart has at least one value to draw."""
    rows = series(chart)
    if chart.kind in ("donut", "share"):  # parts of a whole: a whole of zero has nothing to show
        return any(sum(v for v in s.values if v is not None) > 0 for s in rows)
    return any(v is not None for s in rows for v in s.values)


def validate(chart: Chart, rows: list[Series]) -> None:
    """Raise ``ValueError`` with a one-line message when the chart cannot be drawn."""
    if chart.kind not in KINDS:
        raise ValueError(f"unknown chart kind {chart.kind!r}: use one of {', '.join(KINDS)}")
    n = len(chart.labels)
    for s in rows:
        if len(s.values) != n:
            raise ValueError(f"chart {chart.title!r}: series {s.name!r} has {len(s.values)} values "
                             f"for {n} labels; give one value per label")
    if len(chart.roles) > n:
        raise ValueError(f"chart {chart.title!r}: {len(chart.roles)} roles for {n} labels; give at most one per label")
    if chart.kind == "waterfall" and len(rows) > 1:
        raise ValueError(f"chart {chart.title!r}: a waterfall has one series; mark levels with roles "
                         f"({', '.join(LEVELS)})")
    if chart.kind in ("donut", "share") and any(v is not None and v < 0 for s in rows for v in s.values):
        raise ValueError(f"chart {chart.title!r}: a {chart.kind} chart shows parts of a whole; "
                         "values cannot be negative")


def text(chart: Chart, v: float, lang: str, currency: str, *, signed: bool | None = None,
         scale: float | None = None) -> str:
    """One value as written on the chart, by the one formatter (``commands.format.compact``)."""
    return fmt.compact(chart.unit, [v], currency, lang=lang, signed=chart.signed if signed is None else signed,
                       scale=scale)[0]


@dataclass(frozen=True)
class WaterfallBar:
    label: str
    bottom: float
    height: float  # signed: a decrease is negative
    total: bool  # a level (start, subtotal, end, net) drawn from zero
    role: str | None = None


def waterfall_bars(chart: Chart) -> list[WaterfallBar]:
    """The bars of a waterfall, in the order given: a level (role start, subtotal, end or net)
    stands on zero and sets the running total; a movement floats on the running total.
    A level without a value shows the running total so far."""
    rows = series(chart)
    moves = rows[0].values if rows else ()
    bars: list[WaterfallBar] = []
    running = 0.0
    for label, role, v in zip(chart.labels, roles(chart), moves):
        if role in LEVELS:
            level = running if v is None else v
            bars.append(WaterfallBar(str(label), 0.0, level, True, role))
            running = level
        else:
            bars.append(WaterfallBar(str(label), running, v or 0.0, False, role))
            running += v or 0.0
    return bars


def share_text(share: float) -> str:
    """A share of a whole as a whole percent ("52%"): donut slices, 100% bars, heatmap cells.
    A part that is there never reads as nothing, nor as the whole: "<1%", ">99%"."""
    if 0 < share < 0.005:
        return "<" + fmt.compact("ratio", [0.01])[0]
    if 0.995 <= share < 1:
        return ">" + fmt.compact("ratio", [0.99])[0]
    return fmt.compact("ratio", [round(share, 2)])[0]


MIN_SLICE = 0.02  # the least of a donut a non-zero part is drawn with (about 7 degrees)


def slice_sizes(values: list[float], minimum: float = MIN_SLICE) -> list[float]:
    """The share of the circle each part is drawn with: its share of the total, but a non-zero
    part gets at least ``minimum`` (one red account among 300 stays visible), the larger parts
    giving up that room in proportion. Zero parts stay zero; the sizes add up to 1."""
    total = sum(v for v in values if v > 0)
    if total <= 0:
        return [0.0 for _ in values]
    shares = [v / total if v > 0 else 0.0 for v in values]
    small = [i for i, sh in enumerate(shares) if 0 < sh < minimum]
    if not small or minimum * len(small) >= 1:
        return shares
    rest = sum(sh for i, sh in enumerate(shares) if i not in small)
    room = 1 - minimum * len(small)
    return [minimum if i in small else sh * room / rest if sh > 0 else 0.0 for i, sh in enumerate(shares)]
