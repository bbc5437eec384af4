"""Where things go on a chart: the figure with its measured title and period, the drawing
context every kind draws through, axes styling, value-axis ticks (written by the one
formatter), category ticks, the legend, and the hand placement of the plot from measured
tick labels (no layout engine: it would draw everything twice)."""

from __future__ import annotations

import logging
import math
import unicodedata
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import FixedLocator, Formatter, MaxNLocator

from bot.charts import data
from bot.charts.style import (
    AXIS,
    DPI,
    GRID,
    HEIGHT_IN,
    INK,
    LEGEND_PT,
    MUTED,
    SUBTITLE_PT,
    TICK_PT,
    TITLE_PT,
    VALUE_PT,
    WIDTH_IN,
    ensure_fonts,
    families,
    has_wide,
    text_style,
)
from commands import format as fmt
from commands.messages import t
from commands.reply import Chart

logger = logging.getLogger(__name__)

# --- text measurement (an estimate, good enough to choose a layout) --------------------------

_NARROW = set("iljtfr.,:;'!|() -")
_WIDE_LATIN = set("MWmw%@")


def _em(text: str) -> float:
    """Width of a text in ems (DejaVu Sans, roughly): wide (CJK) characters are 1 em."""
    width = 0.0
    for ch in text:
        if unicodedata.east_asian_width(ch) in "WF":
            width += 1.0
        elif ch in _NARROW:
            width += 0.34
        elif ch in _WIDE_LATIN:
            width += 0.86
        elif ch.isupper():
            width += 0.68
        else:
            width += 0.6
    return width


def width_pt(text: str, size: float) -> float:
    return _em(text) * size


def fit(text: str, size: float, max_pt: float, min_size: float, width=width_pt) -> tuple[str, float]:
    """Shrink a text to fit ``max_pt`` points, and cut it with an ellipsis if even that fails.
    ``width(text, size)`` measures in points (an estimate unless a renderer's measure is given)."""
    while size > min_size and width(text, size) > max_pt:
        size -= 1
    if width(text, size) > max_pt:
        while text and width(text + "…", size) > max_pt:
            text = text[:-1]
        text = text.rstrip() + "…"
    return text, size


def plot_width_in(ax_left_in: float = 0.8) -> float:
    return WIDTH_IN - ax_left_in - 0.2


# --- the drawing context ------------------------------------------------------------------------

@dataclass
class Ctx:
    """One chart being drawn: its data, language, figure and what the layout has learned so far."""

    chart: Chart
    lang: str
    currency: str
    fig: Figure
    families: list[str]
    ref: float | None = None  # the largest magnitude its labels share: one money scale for all of them
    peak: float = 0.0  # the chart's largest magnitude (0: every value is zero)
    top: float = 1.0  # the figure fraction below the title and period
    legend_rows: int = 0  # rows of the legend drawn above the plot
    categories: tuple[str, ...] = ()  # x labels that may need thinning

    def font(self, size: float) -> FontProperties:
        return FontProperties(family=self.families, size=size)

    def fmt(self, v: float, *, signed: bool | None = None, own_scale: bool = False) -> str:
        """A value as written on this chart: on the chart's shared scale unless ``own_scale``."""
        return data.text(self.chart, v, self.lang, self.currency, signed=signed,
                         scale=None if own_scale else self.ref)

    def text(self, ax, x, y, s, size=VALUE_PT, *, weight="normal", color=INK, **kw):
        """A label inside the plot; left out of the layout computation (it is placed in data space)."""
        t = ax.text(x, y, s, **text_style(self.families, size, weight, s, color), **kw)
        t.set_in_layout(False)
        return t


def figure(chart: Chart, lang: str, height: float = HEIGHT_IN) -> tuple[Figure, list[str], float]:
    """A figure with the title and period drawn at the top; returns the top edge left for the plot."""
    ensure_fonts()
    fams = families(lang)
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)  # the Agg canvas is attached to the Figure: no pyplot, no global backend
    pad_pt = 10.0
    usable = WIDTH_IN * 72 - 2 * 14
    renderer = fig.canvas.get_renderer()

    def measure(weight: str):
        def width(text: str, size: float) -> float:
            props = text_style(fams, size, weight, text, INK)["fontproperties"]
            w, _, _ = renderer.get_text_width_height_descent(text, props, ismath=False)
            return w * 72.0 / DPI + (size / 14 if weight == "bold" and has_wide(text) else 0)
        return width

    title, tsize = fit(chart.title or "", TITLE_PT, usable, 14, measure("bold"))
    y_pt = pad_pt + tsize
    fig.text(14 / (WIDTH_IN * 72), 1 - y_pt / (height * 72), title, ha="left", va="baseline",
             **text_style(fams, tsize, "bold", title, INK))
    y_pt += 6
    if chart.subtitle:
        sub, ssize = fit(chart.subtitle, SUBTITLE_PT, usable, 11, measure("normal"))
        y_pt += ssize
        fig.text(14 / (WIDTH_IN * 72), 1 - y_pt / (height * 72), sub, ha="left", va="baseline",
                 **text_style(fams, ssize, "normal", sub, MUTED))
        y_pt += 6
    top = 1 - (y_pt + 4) / (height * 72)
    return fig, fams, top


# --- axes -----------------------------------------------------------------------------------------

def style_axes(ctx: Ctx, ax, *, grid_axis: str | None = "y") -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color(AXIS)
    ax.spines["bottom"].set_color(AXIS)
    ax.tick_params(labelsize=TICK_PT, labelfontfamily=ctx.families, colors=INK, length=3)
    if grid_axis:
        ax.grid(axis=grid_axis, color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)


class UnitFormatter(Formatter):
    """Axis ticks by unit (``commands.format.compact``): one scale and just enough decimals
    to write every tick in view exactly."""

    def __init__(self, unit: str, lang: str, currency: str, *, signed: bool = False):
        self.unit, self.lang, self.currency, self.signed = unit, lang, currency, signed
        self.texts: dict[float, str] = {}

    def set_locs(self, locs):
        super().set_locs(locs)
        finite = [float(x) for x in locs if math.isfinite(x)]
        if self.axis is not None:
            lo, hi = sorted(self.axis.get_view_interval())
            eps = 1e-9 * max(abs(lo), abs(hi), 1.0)
            finite = [x for x in finite if lo - eps <= x <= hi + eps] or finite
        self.texts = dict(zip(finite, fmt.compact(self.unit, finite, self.currency, lang=self.lang,
                                                  signed=self.signed, exact=True)))

    def __call__(self, x, pos=None):
        text = self.texts.get(float(x))
        if text is None:
            text = fmt.compact(self.unit, [x], self.currency, lang=self.lang, signed=self.signed, exact=True)[0]
        return text


def value_axis(ctx: Ctx, axis) -> None:
    """Ticks of the axis that carries the values. A chart whose values are all zero shows only 0."""
    axis.set_major_formatter(UnitFormatter(ctx.chart.unit, ctx.lang, ctx.currency, signed=ctx.chart.signed))
    if not ctx.peak:
        axis.set_major_locator(FixedLocator([0.0]))
        return
    whole = ctx.chart.unit in ("count", "score") or (ctx.chart.unit == "money" and ctx.currency in fmt.NO_DECIMALS)
    axis.set_major_locator(MaxNLocator(nbins=5, integer=whole, min_n_ticks=2 if whole else 3))


def legend(ctx: Ctx, ax, handles, labels, *, ncol: int | None = None) -> None:
    if not handles:
        return
    labels = [str(lbl) for lbl in labels]
    item_pt = [width_pt(lbl, LEGEND_PT) + 2.9 * LEGEND_PT for lbl in labels]  # handle, gaps, text
    room = (WIDTH_IN - 1.2) * 72
    n = len(labels)
    if ncol is None:  # the fewest rows that fit, spread evenly (6 entries: 3 + 3, not 5 + 1)
        ncol = 1
        for rows in range(1, n + 1):
            c = math.ceil(n / rows)
            widths = [max(item_pt[i] for i in range(n) if i % c == j) for j in range(c)]
            if sum(widths) <= room or c == 1:
                ncol = c
                break
    # matplotlib fills legend columns first (longer columns on the left); order the entries
    # so that they read across, row by row.
    ctx.legend_rows = math.ceil(n / ncol)
    order = sorted(range(n), key=lambda i: (i % ncol, i // ncol))
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    ax.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.0, 1.01), ncols=ncol, frameon=False,
              prop=ctx.font(LEGEND_PT), handlelength=1.2, handletextpad=0.4, columnspacing=1.2,
              borderaxespad=0.0, labelcolor=INK)


def category_ticks(ctx: Ctx, ax, labels: tuple[str, ...], width_in: float) -> None:
    """Label every category if the labels fit side by side; else every k-th (the last one always)."""
    n = len(labels)
    ax.set_xticks(range(n))
    if n == 0:
        return
    slot = width_in * 72 / n
    widest = max(width_pt(str(lbl), TICK_PT) for lbl in labels) + 8
    step = max(1, math.ceil(widest / slot))
    thin_labels(ax, labels, step)
    ctx.categories = tuple(str(lbl) for lbl in labels)  # checked again once the plot is placed


def thin_labels(ax, labels, step: int) -> None:
    n = len(labels)
    ax.set_xticklabels([str(lbl) if (n - 1 - i) % step == 0 else "" for i, lbl in enumerate(labels)])
    ax.tick_params(axis="x", length=2 if step > 1 else 3)


def _tick_strings(axis) -> list[str]:
    """The tick labels the axis will draw (those inside the view)."""
    if not axis.get_visible() or not axis.get_major_ticks()[0].label1.get_visible():
        return []
    lo, hi = sorted(axis.get_view_interval())
    eps = 1e-9 * max(abs(lo), abs(hi), 1.0)
    locs = [x for x in axis.get_majorticklocs() if lo - eps <= x <= hi + eps]
    return [t for t in axis.get_major_formatter().format_ticks(locs) if t]


def fit_axes(ctx: Ctx, ax) -> None:
    """Place the plot by hand: room for the tick labels (measured with the renderer),
    the legend above and nothing else. A layout engine would do the same by drawing
    everything twice, which costs a third of the time of a chart."""
    fig = ctx.fig
    renderer = fig.canvas.get_renderer()
    px = fig.dpi / 72.0
    width_px, height_px = fig.bbox.width, fig.bbox.height

    def extent(texts: list[str], size: float) -> tuple[float, float]:
        """Widest line and tallest block, in pixels."""
        prop = FontProperties(family=ctx.families, size=size)
        wide, tall = 0.0, 0.0
        for text in texts:
            lines = text.split("\n")
            for line in lines:
                w, _, _ = renderer.get_text_width_height_descent(line, prop, ismath=False)
                wide = max(wide, w)
            tall = max(tall, len(lines) * size * 1.25 * px)
        return wide, tall

    ysize = ax.yaxis.get_major_ticks()[0].label1.get_fontsize()
    xsize = ax.xaxis.get_major_ticks()[0].label1.get_fontsize()
    ywide, _ = extent(_tick_strings(ax.yaxis), ysize)
    xlabels = _tick_strings(ax.xaxis)
    xwide_last = extent(xlabels[-1:], xsize)[0] if xlabels else 0.0
    _, xtall = extent(xlabels, xsize)
    pad = 12 * px
    tick_gap = (3 + 3.5 + 1) * px  # tick length + label padding
    left = pad + (ywide + tick_gap if ywide else 0)
    bottom = pad * 0.6 + (xtall + tick_gap if xlabels else 0)
    legend_px = ctx.legend_rows * LEGEND_PT * 1.55 * px + (6 * px if ctx.legend_rows else 0)
    top = ctx.top * height_px - legend_px - 4 * px
    right = pad
    if xlabels and not isinstance(ax.get_xaxis().get_major_formatter(), UnitFormatter):
        # a category label centred on the last tick may stick out on the right
        lo, hi = ax.get_xlim()
        last = ax.get_xticks()[-1]
        unit_px = (width_px - left - right) / max(hi - lo, 1e-9)
        right = max(right, xwide_last / 2 - (hi - last) * unit_px + 4 * px)
    elif xlabels:
        right = max(right, xwide_last / 2 + 4 * px)
    ax.set_position((left / width_px, bottom / height_px, (width_px - left - right) / width_px,
                     (top - bottom) / height_px))
    if ctx.categories:  # now that the plot's width is known, thin the period labels on measured widths
        lo, hi = ax.get_xlim()
        slot = (width_px - left - right) / max(hi - lo, 1e-9)
        widest = extent(list(ctx.categories), xsize)[0] + 8 * px
        thin_labels(ax, ctx.categories, max(1, math.ceil(widest / slot)))


def no_data(ctx: Ctx) -> None:
    """The plot area of an empty chart: one muted sentence."""
    ax = ctx.fig.add_axes((0.0, 0.0, 1.0, ctx.top))
    ax.axis("off")
    ctx.text(ax, 0.5, 0.5, t("charts.no_data", ctx.lang), size=SUBTITLE_PT + 2, ha="center", va="center",
             color=MUTED, transform=ax.transAxes)
