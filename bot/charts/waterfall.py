"""Waterfall charts: levels (start, subtotal, end, net) stand on zero, movements float on the
running total, dashed connectors carry it from bar to bar. When the movements are small next
to a start level, the axis is cut (the level bars get a break mark and their full value)."""

from __future__ import annotations

import logging
import math

from matplotlib.collections import LineCollection

from bot.charts.bars import rects
from bot.charts.data import waterfall_bars
from bot.charts.layout import Ctx, plot_width_in, style_axes, value_axis, width_pt
from bot.charts.style import AXIS, BLUE, ROLE_COLOURS, TICK_PT, TOTAL, VERMILLION
from commands.reply import Series

logger = logging.getLogger(__name__)


def draw_waterfall(ctx: Ctx, series: list[Series]) -> None:
    ax = ctx.fig.add_subplot()
    style_axes(ctx, ax)
    bars = waterfall_bars(ctx.chart)
    labels = [b.label for b in bars]
    bottoms = [b.bottom for b in bars]
    heights = [b.height for b in bars]
    totals = [b.total for b in bars]
    fills = [TOTAL if b.total else ROLE_COLOURS.get(b.role or "") or (BLUE if b.height >= 0 else VERMILLION)
             for b in bars]
    # Movements (and a net) share one scale, that of the largest; other levels are written at their own.
    shared = [abs(b.height) for b in bars if not b.total or b.role == "net"]
    ctx.ref = max(shared, default=0.0) or None
    texts = [ctx.fmt(b.height, signed=True) if not b.total or b.role == "net" else ctx.fmt(b.height, own_scale=True)
             for b in bars]
    n = len(labels)
    xs = list(range(n))
    rects(ax, xs, heights, bottoms, 0.62, fills)
    tops = [b + h for b, h in zip(bottoms, heights)]
    # connectors: the running total carried to the next bar
    ax.add_collection(LineCollection([[(i + 0.31, tops[i]), (i + 1 - 0.31, tops[i])] for i in range(n - 1)],
                                     colors="#8A8A8A", linewidths=0.9, linestyles=[(0, (3, 2))]), autolim=False)
    # Movements are often small next to a starting level: then the axis does not start at zero,
    # the level bars are drawn cut (with a break mark) and their full value is written on them.
    moving = [y for i in range(n) for y in ((bottoms[i], tops[i]) if not totals[i] else (tops[i],))]
    lo_m, hi_m = min(moving), max(moving)
    zoom = any(b.role == "start" for b in bars) and lo_m > 0 and (hi_m - lo_m) < 0.4 * hi_m
    if zoom:
        span = hi_m - lo_m or hi_m * 0.05
        lo, hi = max(0.0, lo_m - 0.9 * span), hi_m
    else:
        edges = bottoms + tops + [0.0]
        lo, hi = min(edges), max(edges)
        span = (hi - lo) or 1.0
    for x, b, h, s in zip(xs, bottoms, heights, texts):
        up = h >= 0
        ctx.text(ax, x, b + h + (0.025 if up else -0.025) * span, s, ha="center", va="bottom" if up else "top",
                 weight="bold" if totals[x] else "normal")
    ax.axhline(0, color=AXIS, linewidth=1)
    ax.set_ylim(lo - (0.14 * span if lo < 0 else 0), hi + 0.16 * span)
    if zoom:
        y_break = lo + 0.12 * span
        for x in xs:
            if totals[x]:
                for dy in (-0.03, 0.03):
                    ax.plot([x - 0.36, x + 0.36], [y_break + dy * span - 0.04 * span, y_break + dy * span + 0.04 * span],
                            color="white", linewidth=3, solid_capstyle="butt", clip_on=True)
    ax.set_xlim(-0.6, n - 0.4)
    value_axis(ctx, ax.yaxis)
    _ticks(ax, labels)


def _ticks(ax, labels: list[str]) -> None:
    """Every bar keeps its label: shrink the font, then break long labels over two lines."""
    n = len(labels)
    ax.set_xticks(range(n))
    slot = plot_width_in() * 72 / max(n, 1) - 4
    size = TICK_PT
    while size > 10 and max(width_pt(lbl, size) for lbl in labels) > slot:
        size -= 1
    shown = []
    for lbl in labels:
        if width_pt(lbl, size) > slot and " " in lbl:
            lbl = lbl.replace(" ", "\n", 1)
        elif width_pt(lbl, size) > slot and len(lbl) > 6 and lbl.isascii():
            cut = math.ceil(len(lbl) / 2)
            lbl = lbl[:cut] + "-\n" + lbl[cut:]
        shown.append(lbl)
    ax.set_xticklabels(shown)
    ax.tick_params(axis="x", labelsize=size)
