"""Heatmaps: the cohort retention grid (rows = series, columns = labels, cells 0..1 written as
percents, ``None`` an empty cell), laid out by hand, its hundreds of cell labels drawn as one
collection of glyph outlines."""

from __future__ import annotations

import logging
import math

import numpy as np
from matplotlib.collections import PathCollection
from matplotlib.colors import LinearSegmentedColormap, to_hex
from matplotlib.font_manager import FontProperties
from matplotlib.path import Path
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D

from bot.charts.data import share_text
from bot.charts.layout import Ctx, width_pt
from bot.charts.style import BLUE, HEIGHT_IN, LATIN_FONT, TICK_PT, VALUE_PT, text_colour
from commands.reply import Series

logger = logging.getLogger(__name__)

_HEAT = LinearSegmentedColormap.from_list("csbot_retention", ["#F1F6FB", "#8CC2E6", BLUE, "#053B66"])
_EMPTY_CELL = "#FFFFFF"


def height(rows: int) -> float:
    """The figure's height in inches: 0.3 in per row beyond the usual size."""
    return max(HEIGHT_IN, 1.6 + 0.3 * rows)


def draw_heatmap(ctx: Ctx, series: list[Series]) -> None:
    """Cohort grid. Laid out by hand (no layout engine, no tick objects): with 24 x 12 cells
    the generic machinery costs several times the drawing itself."""
    rows, cols = len(series), len(ctx.chart.labels)
    fig_w, fig_h = ctx.fig.get_size_inches()
    row_names = [s.name for s in series]
    col_names = [str(x) for x in ctx.chart.labels]
    top_in = (1 - ctx.top) * fig_h
    label_pt = TICK_PT
    grid_h_in = fig_h - top_in - 0.25 - label_pt * 1.6 / 72
    cell_h_pt = grid_h_in * 72 / max(rows, 1)
    label_pt = min(TICK_PT, max(9.0, cell_h_pt * 0.55))
    left_in = 0.2 + max(width_pt(n, label_pt) for n in row_names) / 72 + 0.12
    grid_w_in = fig_w - left_in - 0.2
    cell_w_pt = grid_w_in * 72 / max(cols, 1)
    header_in = label_pt * 1.6 / 72
    ax = ctx.fig.add_axes((left_in / fig_w, 0.25 / fig_h, grid_w_in / fig_w, (fig_h - top_in - 0.25 - header_in) / fig_h))
    ax.set_axis_off()
    grid = np.full((rows, cols), np.nan)
    for r, s in enumerate(series):
        for c, v in enumerate(s.values):
            if v is not None:
                grid[r, c] = v
    cmap = _HEAT.resampled(10).with_extremes(bad=_EMPTY_CELL)  # 10% steps: easier to read, smaller PNG
    vmax = 1.0 if ctx.chart.unit == "ratio" or np.nanmax(grid) <= 1.0 else float(np.nanmax(grid))
    ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0.0, vmax=vmax, aspect="auto", interpolation="nearest")
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    size = max(7.0, min(VALUE_PT - 1, cell_h_pt * 0.5, cell_w_pt / 3.4))
    shades = [text_colour(to_hex(cmap((i + 0.5) / 10))) for i in range(10)]  # one per colour step
    cells = []
    for r in range(rows):
        for c in range(cols):
            v = grid[r, c]
            if math.isnan(v):
                continue
            label = share_text(float(v)) if ctx.chart.unit == "ratio" else ctx.fmt(float(v))
            cells.append((c, r, label, shades[min(9, max(0, int(v / vmax * 10)))]))
    _cell_labels(ctx, ax, cells, size)
    for r, name in enumerate(row_names):
        ctx.text(ax, -0.5 - 6 / cell_w_pt, r, name, label_pt, ha="right", va="center_baseline", clip_on=False)
    head_pt = label_pt  # column headers: smaller before skipping any
    while head_pt > 9 and max(width_pt(n, head_pt) for n in col_names) + 4 > cell_w_pt:
        head_pt -= 0.5
    step = max(1, math.ceil((max(width_pt(n, head_pt) for n in col_names) + 4) / cell_w_pt))
    for c, name in enumerate(col_names):
        if (c % step) == 0:
            ctx.text(ax, c, -0.5 - 4 / cell_h_pt, name, head_pt, ha="center", va="bottom", clip_on=False)
    # White gaps between cells.
    ax.vlines([x - 0.5 for x in range(1, cols)], -0.5, rows - 0.5, colors="white", linewidth=1.2)
    ax.hlines([y - 0.5 for y in range(1, rows)], -0.5, cols - 0.5, colors="white", linewidth=1.2)


_PATHS: dict[tuple, Path] = {}  # centred glyph outlines by (text, fonts, size); a few hundred at most


def _cell_labels(ctx: Ctx, ax, cells: list[tuple[float, float, str, str]], size: float) -> None:
    """Many small centred labels drawn as one collection of glyph outlines.

    A heatmap has hundreds of cells; one ``Text`` each costs about a millisecond,
    while the outlines of the few distinct strings, drawn together, cost almost nothing.
    """
    if not cells:
        return
    families = [LATIN_FONT] if all(label.isascii() for _, _, label, _ in cells) else ctx.families
    prop = FontProperties(family=families, size=size)

    def outline(label: str) -> Path:
        key = (label, tuple(families), size)
        path = _PATHS.get(key)
        if path is None:
            mid = _PATHS.get(("0", tuple(families), size))
            if mid is None:
                mid = _PATHS[("0", tuple(families), size)] = TextPath((0, 0), "0", prop=prop, size=size)
            mid_y = (mid.vertices[:, 1].min() + mid.vertices[:, 1].max()) / 2
            raw = TextPath((0, 0), label, prop=prop, size=size)
            xs = raw.vertices[:, 0]
            path = raw.transformed(Affine2D().translate(-(xs.min() + xs.max()) / 2, -mid_y))
            if len(_PATHS) < 2000:
                _PATHS[key] = path
        return path

    collection = PathCollection(
        [outline(label) for _, _, label, _ in cells],
        offsets=[(x, y) for x, y, _, _ in cells],
        offset_transform=ax.transData,
        transform=Affine2D().scale(ctx.fig.dpi / 72.0),
        facecolors=[colour for _, _, _, colour in cells],
        edgecolors="none",
        linewidths=0,
    )
    collection.set_in_layout(False)
    ax.add_collection(collection, autolim=False)
