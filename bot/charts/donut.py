"""Parts of a whole: the donut (one series: slices by role, a key with shares and counts, the
command's headline in the centre, else the total) and the 100% bar (one bar per series)."""

from __future__ import annotations

import logging
import math

from matplotlib.patches import FancyBboxPatch, Patch

from bot.charts.bars import rects
from bot.charts.data import roles, share_text, slice_sizes
from bot.charts.layout import Ctx, UnitFormatter, fit, legend
from bot.charts.style import (
    GRID,
    INK,
    LEGEND_PT,
    MUTED,
    SUBTITLE_PT,
    TICK_PT,
    VALUE_PT,
    colours,
    text_colour,
)
from commands.messages import t
from commands.reply import Series

logger = logging.getLogger(__name__)


def draw_donut(ctx: Ctx, series: list[Series]) -> None:
    if len(series) > 1:
        draw_share(ctx, series)
        return
    names = [str(x) for x in ctx.chart.labels]
    values = [0.0 if v is None else v for v in series[0].values]
    total = sum(values)
    fills = colours(roles(ctx.chart))
    ax = ctx.fig.add_axes((0.02, 0.03, 0.44, ctx.top - 0.05))
    ax.set_aspect("equal")
    ax.axis("off")
    # a non-zero part keeps a visible slice (a minimum angle); its written share stays its true one
    shown = [(v, c, size) for v, c, size in zip(values, fills, slice_sizes(values)) if v > 0]
    ax.pie([size for _, _, size in shown], colors=[c for _, c, _ in shown], startangle=90, counterclock=False,
           wedgeprops={"width": 0.36, "edgecolor": "white", "linewidth": 2})
    for (v, c, _), wedge in zip(shown, ax.patches):
        share = v / total
        if share >= 0.06:
            angle = math.radians((wedge.theta1 + wedge.theta2) / 2)
            ctx.text(ax, 0.82 * math.cos(angle), 0.82 * math.sin(angle), share_text(share), size=VALUE_PT,
                     ha="center", va="center", color=text_colour(c), weight="bold")
    if ctx.chart.center is not None:
        ctx.text(ax, 0, 0.1, ctx.chart.center.label, size=SUBTITLE_PT, ha="center", va="center", color=MUTED)
        ctx.text(ax, 0, -0.14, ctx.chart.center.value, size=26, ha="center", va="center", weight="bold")
    else:
        ctx.text(ax, 0, 0.1, t("charts.total", ctx.lang), size=SUBTITLE_PT, ha="center", va="center", color=MUTED)
        ctx.text(ax, 0, -0.14, ctx.fmt(total), size=22, ha="center", va="center", weight="bold")
    key = ctx.fig.add_axes((0.47, 0.03, 0.51, ctx.top - 0.05))
    key.axis("off")
    key.set_xlim(0, 1)
    key.set_ylim(0, 1)
    n = len(names)
    step = min(0.22, 0.9 / max(n, 1))
    y0 = 0.5 + step * (n - 1) / 2
    for i, (name, v, c) in enumerate(zip(names, values, fills)):
        y = y0 - i * step
        key.add_patch(FancyBboxPatch((0.0, y - 0.045), 0.07, 0.09, boxstyle="round,pad=0.005",
                                     facecolor=c, edgecolor="none"))
        share = share_text(v / total) if total else "—"
        label, size = fit(name, LEGEND_PT + 1, 150, 11)
        ctx.text(key, 0.11, y, label, size=size, ha="left", va="center")
        ctx.text(key, 0.98, y, f"{share}  ({ctx.fmt(v)})", size=LEGEND_PT + 1, ha="right", va="center",
                 weight="bold")


def draw_share(ctx: Ctx, series: list[Series]) -> None:
    ax = ctx.fig.add_subplot()
    names = [str(x) for x in ctx.chart.labels]
    fills = colours(roles(ctx.chart))
    rows = len(series)
    ax.set_xlim(0, 1)
    ax.set_ylim(rows - 0.5, -0.5) if rows > 1 else ax.set_ylim(0.55, -0.75)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    handles = [Patch(facecolor=c, label=nm) for nm, c in zip(names, fills)]
    bar_h = 0.62 if rows > 1 else 0.7
    for r, s in enumerate(series):
        vals = [0.0 if v is None else v for v in s.values]
        total = sum(vals)
        left = 0.0
        for v, c in zip(vals, fills):
            if not total or v <= 0:
                continue
            w = v / total
            rects(ax, [r], [w], [left], bar_h, c, horizontal=True, edgecolor="white", linewidth=1.2)
            if w >= 0.07:
                label = share_text(w)
                if rows == 1 and w >= 0.14:  # one bar: room for the count too
                    label += f"\n({ctx.fmt(v)})"
                ctx.text(ax, left + w / 2, r, label, ha="center", va="center", color=text_colour(c), weight="bold",
                         size=VALUE_PT + (2 if rows == 1 else 0), linespacing=1.4)
            left += w
    if rows == 1 and ctx.chart.center is not None:
        ctx.text(ax, 1.0, -bar_h / 2 - 0.06, f"{ctx.chart.center.label} {ctx.chart.center.value}",
                 size=SUBTITLE_PT + 4, ha="right", va="bottom", weight="bold")
    ax.set_yticks(range(rows))
    ax.set_yticklabels([s.name for s in series] if rows > 1 else [""])
    ax.tick_params(labelsize=TICK_PT, labelfontfamily=ctx.families, colors=INK, length=0)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.xaxis.set_major_formatter(UnitFormatter("ratio", ctx.lang, ctx.currency))
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    legend(ctx, ax, handles, names)
