"""Bar charts: plain and grouped bars (``bars``), stacked layers with a net marker (``stacked``),
and the one-collection rectangles the other bar-like kinds draw with."""

from __future__ import annotations

import logging

from matplotlib.collections import PolyCollection
from matplotlib.patches import Patch

from bot.charts.layout import (
    Ctx,
    category_ticks,
    fit,
    legend,
    plot_width_in,
    style_axes,
    value_axis,
    width_pt,
)
from bot.charts.style import AXIS, BLUE, TICK_PT, colours
from commands.format import NONE
from commands.messages import t
from commands.reply import Series

logger = logging.getLogger(__name__)


def rects(ax, centres, lengths, starts, width, fill, *, horizontal: bool = False,
          edgecolor="none", linewidth: float = 0.0) -> Patch:
    """Rectangles as one collection (``ax.bar`` adds a patch per bar and recomputes the data
    limits each time: most of a stacked chart's cost). Returns a legend handle."""
    fills = [fill] * len(centres) if isinstance(fill, str) else fill
    polys = []
    for c, length, start in zip(centres, lengths, starts):
        a, b = c - width / 2, c + width / 2
        lo, hi = start, start + length
        polys.append([(lo, a), (hi, a), (hi, b), (lo, b)] if horizontal else [(a, lo), (b, lo), (b, hi), (a, hi)])
    ax.add_collection(PolyCollection(polys, facecolors=fills, edgecolors=edgecolor, linewidths=linewidth,
                                     antialiaseds=True), autolim=False)
    return Patch(facecolor=fills[0] if len(fills) else BLUE)


def draw_bars(ctx: Ctx, series: list[Series]) -> None:
    ax = ctx.fig.add_subplot()
    labels = [str(x) for x in ctx.chart.labels]
    n, k = len(labels), len(series)
    slot_pt = plot_width_in() * 72 / max(n, 1)
    widest = max(width_pt(lbl, TICK_PT) for lbl in labels) if labels else 0
    # Long names (accounts, plans) read better as horizontal bars; short period labels that
    # merely crowd each other stay vertical and are thinned like a line chart's.
    horizontal = widest + 6 > 2 * slot_pt or (n <= 8 and widest + 6 > slot_pt)
    fills = colours([s.role for s in series])
    width = 0.8 / k
    handles = []
    finite = [v for s in series for v in s.values if v is not None]
    lo, hi = min(0.0, min(finite)), max(0.0, max(finite))
    span = (hi - lo) or 1.0
    style_axes(ctx, ax, grid_axis="x" if horizontal else "y")
    for j, (s, fill) in enumerate(zip(series, fills)):
        pos = [i - 0.4 + width * (j + 0.5) for i in range(n)]
        vals = [0.0 if v is None else v for v in s.values]
        handles.append(rects(ax, pos, vals, [0.0] * n, width * 0.9, fill, horizontal=horizontal))
        if k <= 2 and n * k <= 24:
            for p, v in zip(pos, s.values):
                if v is None:  # a group with nothing to count: say so rather than draw a bar of zero
                    ctx.text(ax, 0.015 * span if horizontal else p, p if horizontal else 0.015 * span, NONE,
                             ha="left" if horizontal else "center", va="center" if horizontal else "bottom")
                    continue
                out = 0.015 * span * (1 if v >= 0 else -1)
                if horizontal:
                    ctx.text(ax, v + out, p, ctx.fmt(v), ha="left" if v >= 0 else "right", va="center")
                else:
                    ctx.text(ax, p, v + out, ctx.fmt(v), ha="center", va="bottom" if v >= 0 else "top")
    pad_lo = 0.12 * span if lo < 0 else 0.0
    if horizontal:
        ax.set_xlim(lo - pad_lo, hi + 0.22 * span)
        ax.set_ylim(-0.6, n - 0.4)
        ax.set_yticks(range(n))
        ax.set_yticklabels([fit(lbl, TICK_PT, 2.8 * 72, TICK_PT)[0] for lbl in labels])
        ax.invert_yaxis()
        ax.axvline(0, color=AXIS, linewidth=1)
    else:
        ax.set_ylim(lo - pad_lo, hi + 0.12 * span)
        ax.set_xlim(-0.6, n - 0.4)
        category_ticks(ctx, ax, tuple(labels), plot_width_in())
        ax.axhline(0, color=AXIS, linewidth=1)
    value_axis(ctx, ax.xaxis if horizontal else ax.yaxis)
    if k > 1:
        legend(ctx, ax, handles, [s.name for s in series])


def draw_stacked(ctx: Ctx, series: list[Series]) -> None:
    """Layers per period; negative values stack below zero and a marker shows each period's net."""
    ax = ctx.fig.add_subplot()
    style_axes(ctx, ax)
    n = len(ctx.chart.labels)
    xs = list(range(n))
    pos_base = [0.0] * n
    neg_base = [0.0] * n
    handles = []
    for s, fill in zip(series, colours([s.role for s in series])):
        vals = [0.0 if v is None else v for v in s.values]
        bottoms = [pb if v >= 0 else nb for v, pb, nb in zip(vals, pos_base, neg_base)]
        handles.append(rects(ax, xs, vals, bottoms, 0.7, fill, edgecolor="white", linewidth=0.6))
        for i, v in enumerate(vals):
            if v >= 0:
                pos_base[i] += v
            else:
                neg_base[i] += v
    labels = [s.name for s in series]
    if any(b < 0 for b in neg_base):
        nets = [p + q for p, q in zip(pos_base, neg_base)]  # where the stack ends: its drawn top and bottom
        (marker,) = ax.plot(xs, nets, linestyle="none", marker="D", markersize=6, color="#000000",
                            markeredgecolor="white", markeredgewidth=0.8, zorder=3)
        handles.append(marker)
        labels.append(t("charts.net", ctx.lang))
        ax.axhline(0, color="#666666", linewidth=1)
    lo, hi = min(neg_base + [0.0]), max(pos_base + [0.0])
    span = (hi - lo) or 1.0
    ax.set_ylim(lo - (0.05 * span if lo < 0 else 0), hi + 0.06 * span)
    ax.set_xlim(-0.6, n - 0.4)
    value_axis(ctx, ax.yaxis)
    category_ticks(ctx, ax, ctx.chart.labels, plot_width_in())
    legend(ctx, ax, handles, labels)
