"""Line charts: one line per series over the periods, ``None`` a gap, each line's last value written at its end."""

from __future__ import annotations

import logging
import math

from bot.charts.layout import (
    Ctx,
    category_ticks,
    legend,
    plot_width_in,
    style_axes,
    value_axis,
    width_pt,
)
from bot.charts.style import AXIS, INK, PASSIVE_GREY, VALUE_PT, YELLOW, colours
from commands.reply import Series

logger = logging.getLogger(__name__)

PLOT_HEIGHT_IN = 3.0  # about the height of the plot area (the figure less its title, period and legend)
LABEL_GAP_IN = 1.3 * VALUE_PT / 72  # end labels closer than a line of text are moved apart


def _spread(placed: list, gap: float) -> None:
    """Move the lines' end labels apart where they would overlap (two lines ending close
    together, NRR 100% and GRR 99.9%): the lowest stays by its line, each next one at least
    ``gap`` (data units) above the one below it, so they keep their order."""
    if len(placed) < 2 or gap <= 0:
        return
    below = None
    for value, label in sorted(placed, key=lambda p: p[0]):
        y = value if below is None else max(value, below + gap)
        if y != value:
            label.set_position((label.get_position()[0], y))
        below = y


def draw_line(ctx: Ctx, series: list[Series]) -> None:
    ax = ctx.fig.add_subplot()
    style_axes(ctx, ax)
    n = len(ctx.chart.labels)
    xs = list(range(n))
    handles = []
    finite = [v for s in series for v in s.values if v is not None]
    lo, hi = min(finite), max(finite)
    ends: list[str] = []
    placed = []  # (value, text) of each line's end label
    for s, colour in zip(series, colours([s.role for s in series])):
        ys = [math.nan if v is None else v for v in s.values]
        partial = ctx.chart.partial_last and n >= 2
        solid = n - 1 if partial else n
        # A point with gaps on both sides would be invisible as a line: the marker shows it.
        (line,) = ax.plot(xs[:solid], ys[:solid], color=colour, linewidth=2.6, marker="o", markersize=5,
                          solid_capstyle="round")
        if partial:  # the unit still running: dashed, its point hollow
            ax.plot(xs[-2:], ys[-2:], color=colour, linewidth=2.0, linestyle=(0, (3, 2)))
            ax.plot(xs[-1:], ys[-1:], color=colour, marker="o", markersize=6, markerfacecolor="white",
                    markeredgewidth=2, linestyle="none")
        handles.append(line)
        last = max((i for i, v in enumerate(s.values) if v is not None), default=None)
        if last is not None:
            ends.append(" " + ctx.fmt(s.values[last]))
            placed.append((s.values[last], ctx.text(
                ax, last, s.values[last], ends[-1], size=VALUE_PT, ha="left", va="center",
                color=colour if colour not in (YELLOW, PASSIVE_GREY) else INK, weight="bold", clip_on=False)))
    if lo < 0 < hi:
        ax.axhline(0, color=AXIS, linewidth=1)
    span = (hi - lo) or abs(hi) or 1.0
    bottom = lo - 0.12 * span
    if lo >= 0 and bottom < 0 and ctx.chart.unit in ("ratio", "money", "count"):
        bottom = 0.0
    ax.set_ylim(bottom, hi + 0.15 * span)
    _spread(placed, (hi + 0.15 * span - bottom) * LABEL_GAP_IN / PLOT_HEIGHT_IN)
    # Room on the right for the end labels: their width in points, as a share of the plot's width.
    label_pt = 1.15 * max(width_pt(text, VALUE_PT) for text in ends)
    plot_pt = plot_width_in() * 72
    units = (n - 1 + 0.4) * label_pt / max(plot_pt - label_pt, 1.0)
    ax.set_xlim(-0.4, n - 1 + max(0.4, units + 0.15))
    value_axis(ctx, ax.yaxis)
    category_ticks(ctx, ax, ctx.chart.labels, plot_width_in())
    if len(series) > 1:
        legend(ctx, ax, handles, [s.name for s in series])
