"""Charts: a ``commands.reply.Chart`` drawn as a small, sharp PNG.

Commands return plain chart data (``Chart(kind, title, subtitle, labels, series,
unit, alt)``); this module draws it with matplotlib's Agg renderer. It builds a
``matplotlib.figure.Figure`` directly (never pyplot), touches no global
``rcParams`` and gives every text its font explicitly, so charts can be drawn
from several threads at once (Bolt's lazy listeners).

Kinds and how they read the data:

``line``
    ``labels`` are the periods (x axis), each series is one line; ``None`` is a gap.
``bars``
    ``labels`` are the categories; one series = plain bars with their values,
    several series = grouped bars. Long labels switch to horizontal bars.
``waterfall``
    ``series[0]`` holds movements in order (e.g. new, reactivation, expansion,
    contraction as a negative, churn as a negative); a ``None`` value draws a
    subtotal bar (the running total so far). An optional ``series[1]`` of one
    value, ``(label, (start_value,))``, draws a starting level first and ends
    with an "End" bar; without it the chart ends with a "Net" bar.
``stacked``
    ``labels`` are the periods, each series one layer. Negative values stack
    below zero (contraction, churn) and a marker shows each period's net.
``heatmap``
    rows = series (``name`` = cohort label, ``values`` = cells 0..1, ``None`` =
    empty cell), columns = ``labels`` (months since start). Cells show percentages.
``donut``
    ``labels`` are the parts (promoters / passives / detractors, or health bands),
    ``series[0]`` their counts. With several series it draws one 100% bar per series.
``share``
    one horizontal 100% bar per series (e.g. health bands per CSM).

Empty data (no series, or no value anywhere) is not an error: the chart keeps
its title and period and says "No data for this period". A malformed chart
(unknown kind, a series whose length does not match the labels) raises
``ValueError`` with a one-line message.

Colours come from the Okabe-Ito palette, which stays distinguishable for
colour-blind readers; well-known parts (MRR movements, NPS groups, health bands)
always get the same colour, in English and Japanese, and every coloured part is
also labelled.

Size and speed: 8 x 4.5 in at 110 dpi (880 x 495 px; a heatmap grows 0.3 in per
row), fonts of 12-20 pt so that text stays readable when Slack shrinks the image
to a phone's width, stored as a 256-colour PNG (10-15 KB; about 80 KB for a
24 x 12 heatmap). The plot is placed by hand from measured tick labels instead of
a layout engine, and repeated shapes (bars, heatmap cells) are drawn as single
collections: 50-110 ms of CPU per chart (``benchmarks/bench_charts.py``).

Public: ``render_chart`` (PNG bytes), ``save_chart`` (a file), ``alt_text``,
``draw`` (the Figure), ``has_data``, ``format_value``, ``waterfall_bars``, ``KINDS``.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import math
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

# The Agg canvas is attached to each Figure directly: no pyplot, no global backend switch.
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.colors import LinearSegmentedColormap, to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyBboxPatch, Patch
from matplotlib.path import Path as Path_
from matplotlib.patheffects import withStroke
from matplotlib.textpath import TextPath
from matplotlib.ticker import Formatter, MaxNLocator
from matplotlib.transforms import Affine2D
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from commands.format import CURRENCY_SYMBOLS, NO_DECIMALS
from commands.reply import Chart

logger = logging.getLogger(__name__)

KINDS = ("line", "bars", "waterfall", "stacked", "heatmap", "donut", "share")

# --- look -------------------------------------------------------------------------------------

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.5, 110
TITLE_PT, SUBTITLE_PT, TICK_PT, VALUE_PT, LEGEND_PT = 20, 14, 13, 12, 13
INK, MUTED, GRID, TOTAL = "#222222", "#555555", "#E3E3E3", "#5A5A5A"

# Okabe & Ito (2008), "Color Universal Design".
ORANGE, SKY, GREEN, YELLOW, BLUE, VERMILLION, PURPLE = (
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
PALETTE = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW, "#000000")
PASSIVE_GREY = "#BDBDBD"

# Well-known parts always get the same colour, in English and Japanese.
# Matched against the lower-cased series / label name: (prefix words, Japanese substrings, colour).
_SEMANTIC: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...] = (
    (("new",), ("新規",), BLUE),
    (("reactivat", "resurrect", "win-back", "winback"), ("再開", "復帰", "復活"), SKY),
    (("expansion", "upsell", "upgrade"), ("拡大", "アップセル"), GREEN),
    (("contraction", "downgrade"), ("縮小", "ダウングレード"), ORANGE),
    (("churn", "lost", "cancel"), ("解約", "チャーン"), VERMILLION),
    (("promoter",), ("推奨",), GREEN),
    (("passive", "neutral"), ("中立",), PASSIVE_GREY),
    (("detractor",), ("批判",), VERMILLION),
    (("green", "healthy", "good"), ("緑", "良好", "健全"), GREEN),
    (("yellow", "watch", "caution", "warning", "neutral"), ("黄", "注意"), YELLOW),
    (("red", "at risk", "at-risk", "risk", "critical"), ("赤", "危険", "リスク"), VERMILLION),
)

_HEAT = LinearSegmentedColormap.from_list("csbot_retention", ["#F1F6FB", "#8CC2E6", BLUE, "#053B66"])
_EMPTY_CELL = "#FFFFFF"

_TEXTS = {
    "en": {"no_data": "No data for this period", "net": "Net", "end": "End", "total": "Total",
           "kinds": {"line": "Line chart", "bars": "Bar chart", "waterfall": "Waterfall chart",
                     "stacked": "Stacked bar chart", "heatmap": "Heatmap", "donut": "Donut chart",
                     "share": "100% bar chart"},
           "days": " d", "minutes": " min"},
    "ja": {"no_data": "この期間のデータはありません", "net": "純増減", "end": "期末", "total": "合計",
           "kinds": {"line": "折れ線グラフ", "bars": "棒グラフ", "waterfall": "ウォーターフォール図",
                     "stacked": "積み上げ棒グラフ", "heatmap": "ヒートマップ", "donut": "ドーナツグラフ",
                     "share": "100%積み上げ横棒グラフ"},
           "days": "日", "minutes": "分"},
}


def _t(lang: str) -> dict:
    return _TEXTS["ja" if lang == "ja" else "en"]


# --- fonts ------------------------------------------------------------------------------------

JA_FONT = "IPAexGothic"
LATIN_FONT = "DejaVu Sans"
_font_lock = threading.Lock()
_font_ready = False


def _ipaex_path() -> Path | None:
    """Where matplotlib-fontja keeps IPAexGothic, found without importing the package.

    Importing ``matplotlib_fontja`` would set the process-wide default font; we only
    need its font file, registered once, and choose it per text.
    """
    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "fonts" / "ipaexg.ttf"
        if path.is_file():
            return path
    return None


def _ensure_fonts() -> None:
    global _font_ready
    if _font_ready:
        return
    with _font_lock:
        if _font_ready:
            return
        path = _ipaex_path()
        if path is None:  # pragma: no cover - only if the package changes its layout
            import matplotlib_fontja  # noqa: F401  (registers the font, and sets it as default)

            path = Path(matplotlib_fontja.get_font_ttf_path())
        if JA_FONT not in {f.name for f in font_manager.fontManager.ttflist}:
            font_manager.fontManager.addfont(str(path))
        _font_ready = True


def _families(lang: str) -> list[str]:
    """Japanese first for Japanese charts; otherwise DejaVu with IPAexGothic as the fallback."""
    return [JA_FONT, LATIN_FONT] if lang == "ja" else [LATIN_FONT, JA_FONT]


def _has_wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in "WF" for ch in text)


def _text_style(families: list[str], size: float, weight: str, text: str, color: str) -> dict:
    """Font properties for one text. IPAexGothic has no bold face: bold Japanese text is drawn
    in the regular face with a thin outline of its own colour instead (no font warning)."""
    if weight == "bold" and _has_wide(text):
        return {"fontproperties": FontProperties(family=[JA_FONT, LATIN_FONT], size=size),
                "path_effects": [withStroke(linewidth=max(0.5, size / 28), foreground=color)], "color": color}
    if weight == "bold":
        return {"fontproperties": FontProperties(family=[LATIN_FONT], size=size, weight="bold"), "color": color}
    if text.isascii():  # both fonts have every ASCII glyph: skip the fallback search
        return {"fontproperties": FontProperties(family=families[:1], size=size), "color": color}
    return {"fontproperties": FontProperties(family=families, size=size), "color": color}


# --- number formats ---------------------------------------------------------------------------

def _symbol(currency: str) -> str:
    return CURRENCY_SYMBOLS.get(currency, currency + " ")


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def _money_scale(amount: float, currency: str, lang: str) -> tuple[float, str]:
    """(divisor, suffix) for a money amount: 万/億 in Japanese yen, K-less M/B otherwise."""
    a = abs(amount)
    if lang == "ja" and currency == "JPY":
        if a >= 1e9:
            return 1e8, "億"
        if a >= 1e5:
            return 1e4, "万"
        return 1.0, ""
    if a >= 1e9:
        return 1e9, "B"
    if a >= 1e6:
        return 1e6, "M"
    return 1.0, ""


def _sig(x: float) -> str:
    """Three significant digits, trailing zeros dropped, thousands separators."""
    a = abs(x)
    decimals = 0 if a >= 100 else 1 if a >= 10 else 2
    return _trim(f"{x:,.{decimals}f}")


def format_value(unit: str, v: float, lang: str = "en", currency: str = "JPY", *, signed: bool = False,
                 ref: float | None = None) -> str:
    """A value as written on the chart (bar labels, cells, legends): short but exact enough.

    Money is abbreviated (¥1.2M, ¥45万) by the size of ``ref`` (the chart's largest
    value, so every label of one chart uses the same scale), else by its own size.
    """
    sign = "-" if v < 0 else "+" if signed and v > 0 else ""
    a = abs(v)
    if unit == "ratio":
        return f"{sign}{_trim(f'{a * 100:.1f}')}%"
    if unit == "money":
        div, suffix = _money_scale(a if ref is None else max(abs(ref), a), currency, lang)
        if div == 1.0:
            text = f"{a:,.0f}" if currency in NO_DECIMALS or a >= 1000 else f"{a:,.2f}"
        else:
            text = _sig(a / div)
        return f"{sign}{_symbol(currency)}{text}{suffix}"
    if unit == "score":
        sign = "-" if round(v) < 0 else "+" if round(v) > 0 and unit == "score" else ""
        return f"{sign}{abs(round(v)):d}"
    if unit in ("days", "minutes"):
        return f"{sign}{_trim(f'{a:,.1f}')}{_t(lang)[unit]}"
    return f"{sign}{_trim(f'{a:,.1f}')}" if not float(a).is_integer() else f"{sign}{a:,.0f}"


class UnitFormatter(Formatter):
    """Axis ticks by unit, with just enough decimals to tell the ticks apart."""

    def __init__(self, unit: str, lang: str, currency: str):
        self.unit, self.lang, self.currency = unit, lang, currency
        self.div, self.suffix, self.decimals = 1.0, "", 0

    def set_locs(self, locs):
        super().set_locs(locs)
        finite = [float(x) for x in locs if math.isfinite(x)]
        if self.axis is not None:
            lo, hi = sorted(self.axis.get_view_interval())
            eps = 1e-9 * max(abs(lo), abs(hi), 1.0)
            finite = [x for x in finite if lo - eps <= x <= hi + eps] or finite
        top = max((abs(x) for x in finite), default=0.0)
        self.div, self.suffix = 1.0, ""
        if self.unit == "ratio":
            self.div, self.suffix = 0.01, "%"
        elif self.unit == "money":
            self.div, self.suffix = _money_scale(top, self.currency, self.lang)
        self.decimals = 0
        if self.unit not in ("count", "score") or any(abs(x - round(x)) > 1e-9 for x in finite):
            for d in range(0, 4):
                if all(abs(round(x / self.div, d) - x / self.div) < 1e-6 * max(1.0, top / self.div) for x in finite):
                    self.decimals = d
                    break
            else:
                self.decimals = 3

    def __call__(self, x, pos=None):
        if abs(x) < 1e-9 * max(1.0, abs(self.div)):
            return f"{_symbol(self.currency)}0" if self.unit == "money" else "0%" if self.unit == "ratio" else "0"
        v = x / self.div
        sign = "-" if round(v, self.decimals) < 0 else ""
        if self.unit == "score" and round(v) > 0:
            sign = "+"
        body = f"{abs(v):,.{self.decimals}f}"
        if self.unit == "money":
            return f"{sign}{_symbol(self.currency)}{body}{self.suffix}"
        if self.unit in ("count", "score") and self.decimals == 0:
            return f"{sign}{abs(round(v)):,d}"
        return f"{sign}{body}{self.suffix}"


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


def _width_pt(text: str, size: float) -> float:
    return _em(text) * size


def _fit(text: str, size: float, max_pt: float, min_size: float, width=_width_pt) -> tuple[str, float]:
    """Shrink a text to fit ``max_pt`` points, and cut it with an ellipsis if even that fails.
    ``width(text, size)`` measures in points (an estimate unless a renderer's measure is given)."""
    while size > min_size and width(text, size) > max_pt:
        size -= 1
    if width(text, size) > max_pt:
        while text and width(text + "…", size) > max_pt:
            text = text[:-1]
        text = text.rstrip() + "…"
    return text, size


# --- data ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Series:
    name: str
    values: tuple[float | None, ...]


def _clean(v) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"chart value {v!r} is not a number") from None
    return f if math.isfinite(f) else None


def _series(chart: Chart) -> list[_Series]:
    out = []
    for item in chart.series:
        try:
            name, values = item
        except (TypeError, ValueError):
            raise ValueError("each chart series must be a (name, values) pair") from None
        out.append(_Series(str(name), tuple(_clean(v) for v in values)))
    return out


def has_data(chart: Chart) -> bool:
    """True when the chart has at least one value to draw."""
    if chart.kind == "waterfall":
        series = _series(chart)[:1]
    else:
        series = _series(chart)
    if chart.kind in ("donut", "share"):  # parts of a whole: a whole of zero has nothing to show
        return any(sum(v for v in s.values if v is not None) > 0 for s in series)
    return any(v is not None for s in series for v in s.values)


def _validate(chart: Chart, series: list[_Series]) -> None:
    if chart.kind not in KINDS:
        raise ValueError(f"unknown chart kind {chart.kind!r}: use one of {', '.join(KINDS)}")
    n = len(chart.labels)
    checked = series[:1] if chart.kind == "waterfall" else series
    for s in checked:
        if len(s.values) != n:
            raise ValueError(f"chart {chart.title!r}: series {s.name!r} has {len(s.values)} values "
                             f"for {n} labels; give one value per label")
    if chart.kind == "waterfall" and len(series) > 1 and len(series[1].values) != 1:
        raise ValueError(f"chart {chart.title!r}: a waterfall's second series is its start level: "
                         "give exactly one value")
    if chart.kind in ("donut", "share") and any(v is not None and v < 0 for s in series for v in s.values):
        raise ValueError(f"chart {chart.title!r}: a {chart.kind} chart shows parts of a whole; "
                         "values cannot be negative")


def _semantic_colour(name: str) -> str | None:
    low = name.strip().lower()
    for words, ja, colour in _SEMANTIC:
        if any(low.startswith(w) for w in words) or any(j in name for j in ja):
            return colour
    return None


def _colours(names: list[str]) -> list[str]:
    """Semantic colours for known names, the palette in order for the rest, no colour twice if avoidable."""
    fixed = [_semantic_colour(n) for n in names]
    fixed = [c if c is not None and fixed.count(c) == 1 else None for c in fixed]  # "顧客解約率" vs "収益解約率"
    free = [c for c in PALETTE if c not in fixed]
    out, i = [], 0
    for c in fixed:
        if c is None:
            c = free[i % len(free)] if free else PALETTE[i % len(PALETTE)]
            i += 1
        out.append(c)
    return out


def _text_colour(background: str) -> str:
    r, g, b = to_rgb(background)
    lum = 0.2126 * r ** 2.2 + 0.7152 * g ** 2.2 + 0.0722 * b ** 2.2
    return "#FFFFFF" if lum < 0.28 else INK


# --- drawing --------------------------------------------------------------------------------

@dataclass
class _Ctx:
    chart: Chart
    lang: str
    currency: str
    fig: Figure
    families: list[str]
    ref: float | None = None  # the chart's largest magnitude: one money scale for all its labels
    top: float = 1.0  # the figure fraction below the title and period
    legend_rows: int = 0  # rows of the legend drawn above the plot
    categories: tuple[str, ...] = ()  # x labels that may need thinning

    def font(self, size: float) -> FontProperties:
        return FontProperties(family=self.families, size=size)

    def fmt(self, v: float, *, signed: bool = False) -> str:
        return format_value(self.chart.unit, v, self.lang, self.currency, signed=signed, ref=self.ref)

    def text(self, ax, x, y, s, size=VALUE_PT, *, weight="normal", color=INK, **kw):
        """A label inside the plot; left out of the layout computation (it is placed in data space)."""
        t = ax.text(x, y, s, **_text_style(self.families, size, weight, s, color), **kw)
        t.set_in_layout(False)
        return t


def _figure(chart: Chart, lang: str, height: float = HEIGHT_IN) -> tuple[Figure, list[str], float]:
    """A figure with the title and period drawn at the top; returns the top edge left for the plot."""
    _ensure_fonts()
    families = _families(lang)
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    pad_pt = 10.0
    usable = WIDTH_IN * 72 - 2 * 14
    renderer = fig.canvas.get_renderer()

    def measure(weight: str):
        def width(text: str, size: float) -> float:
            props = _text_style(families, size, weight, text, INK)["fontproperties"]
            w, _, _ = renderer.get_text_width_height_descent(text, props, ismath=False)
            return w * 72.0 / DPI + (size / 14 if weight == "bold" and _has_wide(text) else 0)
        return width

    title, tsize = _fit(chart.title or "", TITLE_PT, usable, 14, measure("bold"))
    y_pt = pad_pt + tsize
    fig.text(14 / (WIDTH_IN * 72), 1 - y_pt / (height * 72), title, ha="left", va="baseline",
             **_text_style(families, tsize, "bold", title, INK))
    y_pt += 6
    if chart.subtitle:
        sub, ssize = _fit(chart.subtitle, SUBTITLE_PT, usable, 11, measure("normal"))
        y_pt += ssize
        fig.text(14 / (WIDTH_IN * 72), 1 - y_pt / (height * 72), sub, ha="left", va="baseline",
                 **_text_style(families, ssize, "normal", sub, MUTED))
        y_pt += 6
    top = 1 - (y_pt + 4) / (height * 72)
    return fig, families, top


def _style_axes(ctx: _Ctx, ax, *, grid_axis: str | None = "y") -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color("#9A9A9A")
    ax.spines["bottom"].set_color("#9A9A9A")
    ax.tick_params(labelsize=TICK_PT, labelfontfamily=ctx.families, colors=INK, length=3)
    if grid_axis:
        ax.grid(axis=grid_axis, color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)


def _value_axis(ctx: _Ctx, axis) -> None:
    axis.set_major_formatter(UnitFormatter(ctx.chart.unit, ctx.lang, ctx.currency))
    whole = ctx.chart.unit in ("count", "score")
    axis.set_major_locator(MaxNLocator(nbins=5, integer=whole, min_n_ticks=2 if whole else 3))


def _legend(ctx: _Ctx, ax, handles, labels, *, ncol: int | None = None) -> None:
    if not handles:
        return
    labels = [str(lbl) for lbl in labels]
    item_pt = [_width_pt(lbl, LEGEND_PT) + 2.9 * LEGEND_PT for lbl in labels]  # handle, gaps, text
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


def _category_ticks(ctx: _Ctx, ax, labels: tuple[str, ...], width_in: float) -> None:
    """Label every category if the labels fit side by side; else every k-th (the last one always)."""
    n = len(labels)
    ax.set_xticks(range(n))
    if n == 0:
        return
    slot = width_in * 72 / n
    widest = max(_width_pt(str(lbl), TICK_PT) for lbl in labels) + 8
    step = max(1, math.ceil(widest / slot))
    _thin_labels(ax, labels, step)
    ctx.categories = tuple(str(lbl) for lbl in labels)  # checked again once the plot is placed


def _thin_labels(ax, labels, step: int) -> None:
    n = len(labels)
    ax.set_xticklabels([str(lbl) if (n - 1 - i) % step == 0 else "" for i, lbl in enumerate(labels)])
    ax.tick_params(axis="x", length=2 if step > 1 else 3)


def _plot_width_in(ax_left_in: float = 0.8) -> float:
    return WIDTH_IN - ax_left_in - 0.2


def _bars(ax, centres, lengths, starts, width, colours, *, horizontal: bool = False,
          edgecolor="none", linewidth: float = 0.0) -> Patch:
    """Rectangles as one collection (``ax.bar`` adds a patch per bar and recomputes the data
    limits each time: most of a stacked chart's cost). Returns a legend handle."""
    if isinstance(colours, str):
        colours = [colours] * len(centres)
    polys = []
    for c, length, start in zip(centres, lengths, starts):
        a, b = c - width / 2, c + width / 2
        lo, hi = start, start + length
        polys.append([(lo, a), (hi, a), (hi, b), (lo, b)] if horizontal else [(a, lo), (b, lo), (b, hi), (a, hi)])
    ax.add_collection(PolyCollection(polys, facecolors=colours, edgecolors=edgecolor, linewidths=linewidth,
                                     antialiaseds=True), autolim=False)
    return Patch(facecolor=colours[0] if len(colours) else BLUE)


def _draw_line(ctx: _Ctx, series: list[_Series]) -> None:
    ax = ctx.fig.add_subplot()
    _style_axes(ctx, ax)
    n = len(ctx.chart.labels)
    xs = list(range(n))
    colours = _colours([s.name for s in series])
    handles = []
    finite = [v for s in series for v in s.values if v is not None]
    lo, hi = min(finite), max(finite)
    for s, colour in zip(series, colours):
        ys = [math.nan if v is None else v for v in s.values]
        (line,) = ax.plot(xs, ys, color=colour, linewidth=2.6, marker="o", markersize=5, solid_capstyle="round")
        # A point with gaps on both sides would be invisible as a line: the marker shows it.
        handles.append(line)
        last = max((i for i, v in enumerate(s.values) if v is not None), default=None)
        if last is not None:
            ctx.text(ax, last, s.values[last], " " + ctx.fmt(s.values[last]), size=VALUE_PT, ha="left",
                     va="center", color=colour if colour not in (YELLOW, PASSIVE_GREY) else INK, weight="bold",
                     clip_on=False)
    if lo < 0 < hi:
        ax.axhline(0, color="#9A9A9A", linewidth=1)
    span = (hi - lo) or abs(hi) or 1.0
    bottom = lo - 0.12 * span
    if lo >= 0 and bottom < 0 and ctx.chart.unit in ("ratio", "money", "count"):
        bottom = 0.0
    ax.set_ylim(bottom, hi + 0.15 * span)
    # Room on the right for the end labels: their width in points, as a share of the plot's width.
    label_pt = 1.15 * max(_width_pt(" " + ctx.fmt(s.values[i]), VALUE_PT) for s in series
                   for i in [max((j for j, v in enumerate(s.values) if v is not None), default=-1)] if i >= 0)
    plot_pt = _plot_width_in() * 72
    units = (n - 1 + 0.4) * label_pt / max(plot_pt - label_pt, 1.0)
    ax.set_xlim(-0.4, n - 1 + max(0.4, units + 0.15))
    _value_axis(ctx, ax.yaxis)
    _category_ticks(ctx, ax, ctx.chart.labels, _plot_width_in())
    if len(series) > 1:
        _legend(ctx, ax, handles, [s.name for s in series])


def _draw_bars(ctx: _Ctx, series: list[_Series]) -> None:
    ax = ctx.fig.add_subplot()
    labels = [str(x) for x in ctx.chart.labels]
    n, k = len(labels), len(series)
    slot_pt = _plot_width_in() * 72 / max(n, 1)
    widest = max(_width_pt(lbl, TICK_PT) for lbl in labels) if labels else 0
    # Long names (accounts, plans) read better as horizontal bars; short period labels that
    # merely crowd each other stay vertical and are thinned like a line chart's.
    horizontal = widest + 6 > 2 * slot_pt or (n <= 8 and widest + 6 > slot_pt)
    colours = _colours([s.name for s in series]) if k > 1 else [_semantic_colour(series[0].name) or BLUE]
    width = 0.8 / k
    handles = []
    finite = [v for s in series for v in s.values if v is not None]
    lo, hi = min(0.0, min(finite)), max(0.0, max(finite))
    span = (hi - lo) or 1.0
    _style_axes(ctx, ax, grid_axis="x" if horizontal else "y")
    for j, (s, colour) in enumerate(zip(series, colours)):
        pos = [i - 0.4 + width * (j + 0.5) for i in range(n)]
        vals = [0.0 if v is None else v for v in s.values]
        if horizontal:
            bars = _bars(ax, pos, vals, [0.0] * n, width * 0.9, colour, horizontal=True)
        else:
            bars = _bars(ax, pos, vals, [0.0] * n, width * 0.9, colour)
        handles.append(bars)
        if k <= 2 and n * k <= 24:
            for p, v in zip(pos, s.values):
                if v is None:
                    continue
                out = 0.015 * span * (1 if v >= 0 else -1)
                if horizontal:
                    ctx.text(ax, v + out, p, ctx.fmt(v), ha="left" if v >= 0 else "right", va="center")
                else:
                    ctx.text(ax, p, v + out, ctx.fmt(v), ha="center", va="bottom" if v >= 0 else "top")
    value_axis = ax.xaxis if horizontal else ax.yaxis
    pad_lo = 0.12 * span if lo < 0 else 0.0
    if horizontal:
        ax.set_xlim(lo - pad_lo, hi + 0.22 * span)
        ax.set_ylim(-0.6, n - 0.4)
        ax.set_yticks(range(n))
        ax.set_yticklabels([_fit(lbl, TICK_PT, 2.8 * 72, TICK_PT)[0] for lbl in labels])
        ax.invert_yaxis()
        ax.axvline(0, color="#9A9A9A", linewidth=1)
    else:
        ax.set_ylim(lo - pad_lo, hi + 0.12 * span)
        ax.set_xlim(-0.6, n - 0.4)
        _category_ticks(ctx, ax, tuple(labels), _plot_width_in())
        ax.axhline(0, color="#9A9A9A", linewidth=1)
    _value_axis(ctx, value_axis)
    if k > 1:
        _legend(ctx, ax, handles, [s.name for s in series])


@dataclass(frozen=True)
class WaterfallBar:
    label: str
    bottom: float
    height: float  # signed: a decrease is negative
    total: bool  # a level (start, subtotal, end, net) drawn from zero


def waterfall_bars(chart: Chart, lang: str = "en") -> list[WaterfallBar]:
    """The bars of a waterfall, in order: movements float on the running total; ``None``
    is a subtotal; an optional start level first; an End (or Net) bar last."""
    series = _series(chart)
    moves = series[0].values if series else ()
    start = series[1].values[0] if len(series) > 1 else None
    bars: list[WaterfallBar] = []
    running = 0.0
    if start is not None:
        bars.append(WaterfallBar(series[1].name, 0.0, start, True))
        running = start
    for label, v in zip(chart.labels, moves):
        if v is None:
            bars.append(WaterfallBar(str(label), 0.0, running, True))
            continue
        bars.append(WaterfallBar(str(label), running, v, False))
        running += v
    if not moves or moves[-1] is not None:
        bars.append(WaterfallBar(_t(lang)["end"] if start is not None else _t(lang)["net"], 0.0, running, True))
    return bars


def _draw_waterfall(ctx: _Ctx, series: list[_Series]) -> None:
    ax = ctx.fig.add_subplot()
    _style_axes(ctx, ax)
    start = series[1].values[0] if len(series) > 1 else None
    bars = waterfall_bars(ctx.chart, ctx.lang)
    labels = [b.label for b in bars]
    bottoms = [b.bottom for b in bars]
    heights = [b.height for b in bars]
    totals = [b.total for b in bars]
    colours = [TOTAL if b.total else _semantic_colour(b.label) or (BLUE if b.height >= 0 else VERMILLION)
               for b in bars]
    running = bars[-1].bottom + bars[-1].height if not bars[-1].total else bars[-1].height
    net = running - (start or 0.0)
    # Movements share one scale (that of the largest movement); levels are written at their own.
    ctx.ref = max([abs(h) for h, tot in zip(heights, totals) if not tot] + [abs(net)]) or None
    texts = []
    for i, (h, tot) in enumerate(zip(heights, totals)):
        if not tot:
            texts.append(ctx.fmt(h, signed=True))
        elif i == len(labels) - 1 and start is None:
            texts.append(ctx.fmt(net, signed=True))
        else:
            texts.append(format_value(ctx.chart.unit, h, ctx.lang, ctx.currency))
    n = len(labels)
    xs = list(range(n))
    _bars(ax, xs, heights, bottoms, 0.62, colours)
    tops = [b + h for b, h in zip(bottoms, heights)]
    # connectors: the running total carried to the next bar
    ax.add_collection(LineCollection([[(i + 0.31, tops[i]), (i + 1 - 0.31, tops[i])] for i in range(n - 1)],
                                     colors="#8A8A8A", linewidths=0.9, linestyles=[(0, (3, 2))]), autolim=False)
    # Movements are often small next to a starting level: then the axis does not start at zero,
    # the level bars are drawn cut (with a break mark) and their full value is written on them.
    moving = [y for i in range(n) for y in ((bottoms[i], tops[i]) if not totals[i] else (tops[i],))]
    lo_m, hi_m = min(moving), max(moving)
    zoom = start is not None and lo_m > 0 and (hi_m - lo_m) < 0.4 * hi_m
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
    ax.axhline(0, color="#9A9A9A", linewidth=1)
    ax.set_ylim(lo - (0.14 * span if lo < 0 else 0), hi + 0.16 * span)
    if zoom:
        y_break = lo + 0.12 * span
        for x in xs:
            if totals[x]:
                for dy in (-0.03, 0.03):
                    ax.plot([x - 0.36, x + 0.36], [y_break + dy * span - 0.04 * span, y_break + dy * span + 0.04 * span],
                            color="white", linewidth=3, solid_capstyle="butt", clip_on=True)
    ax.set_xlim(-0.6, n - 0.4)
    _value_axis(ctx, ax.yaxis)
    _waterfall_ticks(ctx, ax, labels)


def _waterfall_ticks(ctx: _Ctx, ax, labels: list[str]) -> None:
    """Every bar keeps its label: shrink the font, then break long labels over two lines."""
    n = len(labels)
    ax.set_xticks(range(n))
    slot = _plot_width_in() * 72 / max(n, 1) - 4
    size = TICK_PT
    while size > 10 and max(_width_pt(lbl, size) for lbl in labels) > slot:
        size -= 1
    shown = []
    for lbl in labels:
        if _width_pt(lbl, size) > slot and " " in lbl:
            lbl = lbl.replace(" ", "\n", 1)
        elif _width_pt(lbl, size) > slot and len(lbl) > 6 and lbl.isascii():
            cut = math.ceil(len(lbl) / 2)
            lbl = lbl[:cut] + "-\n" + lbl[cut:]
        shown.append(lbl)
    ax.set_xticklabels(shown)
    ax.tick_params(axis="x", labelsize=size)


def _draw_stacked(ctx: _Ctx, series: list[_Series]) -> None:
    ax = ctx.fig.add_subplot()
    _style_axes(ctx, ax)
    n = len(ctx.chart.labels)
    xs = list(range(n))
    pos_base = [0.0] * n
    neg_base = [0.0] * n
    colours = _colours([s.name for s in series])
    handles = []
    for s, colour in zip(series, colours):
        vals = [0.0 if v is None else v for v in s.values]
        bottoms = [pb if v >= 0 else nb for v, pb, nb in zip(vals, pos_base, neg_base)]
        bars = _bars(ax, xs, vals, bottoms, 0.7, colour, edgecolor="white", linewidth=0.6)
        handles.append(bars)
        for i, v in enumerate(vals):
            if v >= 0:
                pos_base[i] += v
            else:
                neg_base[i] += v
    any_negative = any(b < 0 for b in neg_base)
    labels = [s.name for s in series]
    if any_negative:
        nets = [p + q for p, q in zip(pos_base, neg_base)]
        (marker,) = ax.plot(xs, nets, linestyle="none", marker="D", markersize=6, color="#000000",
                            markeredgecolor="white", markeredgewidth=0.8, zorder=3)
        handles.append(marker)
        labels.append(_t(ctx.lang)["net"])
        ax.axhline(0, color="#666666", linewidth=1)
    lo, hi = min(neg_base + [0.0]), max(pos_base + [0.0])
    span = (hi - lo) or 1.0
    ax.set_ylim(lo - (0.05 * span if lo < 0 else 0), hi + 0.06 * span)
    ax.set_xlim(-0.6, n - 0.4)
    _value_axis(ctx, ax.yaxis)
    _category_ticks(ctx, ax, ctx.chart.labels, _plot_width_in())
    _legend(ctx, ax, handles, labels)


def _heatmap_height(rows: int) -> float:
    return max(HEIGHT_IN, 1.6 + 0.3 * rows)


def _draw_heatmap(ctx: _Ctx, series: list[_Series]) -> None:
    """Cohort grid. Laid out by hand (no layout engine, no tick objects): with 24 x 12 cells
    the generic machinery costs several times the drawing itself."""
    import numpy as np

    rows, cols = len(series), len(ctx.chart.labels)
    fig_w, fig_h = ctx.fig.get_size_inches()
    row_names = [s.name for s in series]
    col_names = [str(x) for x in ctx.chart.labels]
    top_in = (1 - ctx.top) * fig_h
    label_pt = TICK_PT
    grid_h_in = fig_h - top_in - 0.25 - label_pt * 1.6 / 72
    cell_h_pt = grid_h_in * 72 / max(rows, 1)
    label_pt = min(TICK_PT, max(9.0, cell_h_pt * 0.55))
    left_in = 0.2 + max(_width_pt(n, label_pt) for n in row_names) / 72 + 0.12
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
    shades = [_text_colour(to_hex(cmap((i + 0.5) / 10))) for i in range(10)]  # one per colour step
    cells = []
    for r in range(rows):
        for c in range(cols):
            v = grid[r, c]
            if math.isnan(v):
                continue
            label = f"{v * 100:.0f}%" if ctx.chart.unit == "ratio" else ctx.fmt(float(v))
            cells.append((c, r, label, shades[min(9, max(0, int(v / vmax * 10)))]))
    _cell_labels(ctx, ax, cells, size)
    for r, name in enumerate(row_names):
        ctx.text(ax, -0.5 - 6 / cell_w_pt, r, name, label_pt, ha="right", va="center_baseline", clip_on=False)
    head_pt = label_pt  # column headers: smaller before skipping any
    while head_pt > 9 and max(_width_pt(n, head_pt) for n in col_names) + 4 > cell_w_pt:
        head_pt -= 0.5
    step = max(1, math.ceil((max(_width_pt(n, head_pt) for n in col_names) + 4) / cell_w_pt))
    for c, name in enumerate(col_names):
        if (c % step) == 0:
            ctx.text(ax, c, -0.5 - 4 / cell_h_pt, name, head_pt, ha="center", va="bottom", clip_on=False)
    # White gaps between cells.
    ax.vlines([x - 0.5 for x in range(1, cols)], -0.5, rows - 0.5, colors="white", linewidth=1.2)
    ax.hlines([y - 0.5 for y in range(1, rows)], -0.5, cols - 0.5, colors="white", linewidth=1.2)


_PATHS: dict[tuple, Path_] = {}  # centred glyph outlines by (text, fonts, size); a few hundred at most


def _cell_labels(ctx: _Ctx, ax, cells: list[tuple[float, float, str, str]], size: float) -> None:
    """Many small centred labels drawn as one collection of glyph outlines.

    A heatmap has hundreds of cells; one ``Text`` each costs about a millisecond,
    while the outlines of the few distinct strings, drawn together, cost almost nothing.
    """
    if not cells:
        return
    families = [LATIN_FONT] if all(label.isascii() for _, _, label, _ in cells) else ctx.families
    prop = FontProperties(family=families, size=size)

    def outline(label: str) -> Path_:
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


def _parts(series: _Series, labels: tuple[str, ...]) -> tuple[list[str], list[float]]:
    names, values = [], []
    for name, v in zip(labels, series.values):
        names.append(str(name))
        values.append(0.0 if v is None else v)
    return names, values


def _nps(names: list[str], values: list[float]) -> float | None:
    """The NPS when the parts are promoters / passives / detractors: %promoters - %detractors."""
    colours = [_semantic_colour(n) for n in names]
    low = [n.lower() for n in names]
    promoters = [v for n, v in zip(low, values) if n.startswith("promoter") or "推奨" in n]
    detractors = [v for n, v in zip(low, values) if n.startswith("detractor") or "批判" in n]
    total = sum(values)
    if len(promoters) != 1 or len(detractors) != 1 or not total or None in colours:
        return None
    return (promoters[0] - detractors[0]) / total * 100


def _draw_donut(ctx: _Ctx, series: list[_Series]) -> None:
    if len(series) > 1:
        _draw_share(ctx, series)
        return
    names, values = _parts(series[0], ctx.chart.labels)
    total = sum(values)
    colours = _colours(names)
    ax = ctx.fig.add_axes((0.02, 0.03, 0.44, ctx.top - 0.05))
    ax.set_aspect("equal")
    ax.axis("off")
    shown = [(v, c) for v, c in zip(values, colours) if v > 0]
    ax.pie([v for v, _ in shown], colors=[c for _, c in shown], startangle=90, counterclock=False,
           wedgeprops={"width": 0.36, "edgecolor": "white", "linewidth": 2})
    for (v, c), wedge in zip(shown, ax.patches):
        share = v / total
        if share >= 0.06:
            angle = math.radians((wedge.theta1 + wedge.theta2) / 2)
            ctx.text(ax, 0.82 * math.cos(angle), 0.82 * math.sin(angle), f"{share * 100:.0f}%", size=VALUE_PT,
                     ha="center", va="center", color=_text_colour(c), weight="bold")
    nps = _nps(names, values)
    if nps is not None:
        ctx.text(ax, 0, 0.1, "NPS", size=SUBTITLE_PT, ha="center", va="center", color=MUTED)
        ctx.text(ax, 0, -0.14, format_value("score", nps), size=26, ha="center", va="center", weight="bold")
    else:
        ctx.text(ax, 0, 0.1, _t(ctx.lang)["total"], size=SUBTITLE_PT, ha="center", va="center", color=MUTED)
        ctx.text(ax, 0, -0.14, ctx.fmt(total), size=22, ha="center", va="center", weight="bold")
    key = ctx.fig.add_axes((0.47, 0.03, 0.51, ctx.top - 0.05))
    key.axis("off")
    key.set_xlim(0, 1)
    key.set_ylim(0, 1)
    n = len(names)
    step = min(0.22, 0.9 / max(n, 1))
    y0 = 0.5 + step * (n - 1) / 2
    for i, (name, v, c) in enumerate(zip(names, values, colours)):
        y = y0 - i * step
        key.add_patch(FancyBboxPatch((0.0, y - 0.045), 0.07, 0.09, boxstyle="round,pad=0.005",
                                                        facecolor=c, edgecolor="none"))
        share = f"{v / total * 100:.0f}%" if total else "—"
        label, size = _fit(name, LEGEND_PT + 1, 150, 11)
        ctx.text(key, 0.11, y, label, size=size, ha="left", va="center")
        ctx.text(key, 0.98, y, f"{share}  ({ctx.fmt(v)})", size=LEGEND_PT + 1, ha="right", va="center",
                 weight="bold")


def _draw_share(ctx: _Ctx, series: list[_Series]) -> None:
    ax = ctx.fig.add_subplot()
    names = [str(x) for x in ctx.chart.labels]
    colours = _colours(names)
    rows = len(series)
    ax.set_xlim(0, 1)
    ax.set_ylim(rows - 0.5, -0.5) if rows > 1 else ax.set_ylim(0.55, -0.75)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    handles = [Patch(facecolor=c, label=nm) for nm, c in zip(names, colours)]
    bar_h = 0.62 if rows > 1 else 0.7
    for r, s in enumerate(series):
        vals = [0.0 if v is None else v for v in s.values]
        total = sum(vals)
        left = 0.0
        for v, c in zip(vals, colours):
            if not total or v <= 0:
                continue
            w = v / total
            _bars(ax, [r], [w], [left], bar_h, c, horizontal=True, edgecolor="white", linewidth=1.2)
            if w >= 0.07:
                label = f"{w * 100:.0f}%"
                if rows == 1 and w >= 0.14:  # one bar: room for the count too
                    label += f"\n({ctx.fmt(v)})"
                ctx.text(ax, left + w / 2, r, label, ha="center", va="center", color=_text_colour(c), weight="bold",
                         size=VALUE_PT + (2 if rows == 1 else 0), linespacing=1.4)
            left += w
        if rows == 1:
            nps = _nps(names, vals)
            if nps is not None:
                ctx.text(ax, 1.0, r - bar_h / 2 - 0.06, f"NPS {format_value('score', nps)}", size=SUBTITLE_PT + 4,
                         ha="right", va="bottom", weight="bold")
    ax.set_yticks(range(rows))
    ax.set_yticklabels([s.name for s in series] if rows > 1 else [""])
    ax.tick_params(labelsize=TICK_PT, labelfontfamily=ctx.families, colors=INK, length=0)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.xaxis.set_major_formatter(UnitFormatter("ratio", ctx.lang, ctx.currency))
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    _legend(ctx, ax, handles, names)


def _draw_no_data(ctx: _Ctx) -> None:
    ax = ctx.fig.add_axes((0.0, 0.0, 1.0, ctx.top))
    ax.axis("off")
    ctx.text(ax, 0.5, 0.5, _t(ctx.lang)["no_data"], size=SUBTITLE_PT + 2, ha="center", va="center",
             color=MUTED, transform=ax.transAxes)


_DRAW = {"line": _draw_line, "bars": _draw_bars, "waterfall": _draw_waterfall, "stacked": _draw_stacked,
         "heatmap": _draw_heatmap, "donut": _draw_donut, "share": _draw_share}


def draw(chart: Chart, lang: str = "en", currency: str = "JPY") -> Figure:
    """The chart as a matplotlib ``Figure`` (Agg canvas attached), for callers that want to add to it."""
    series = _series(chart)
    _validate(chart, series)
    empty = not has_data(chart)
    height = _heatmap_height(len(series)) if chart.kind == "heatmap" and not empty else HEIGHT_IN
    fig, families, top = _figure(chart, lang, height)
    magnitudes = [abs(v) for s in series for v in s.values if v is not None]
    ctx = _Ctx(chart, lang, currency, fig, families, ref=max(magnitudes, default=None), top=top)
    if empty:
        _draw_no_data(ctx)
    else:
        _DRAW[chart.kind](ctx, series)
        if chart.kind not in ("heatmap", "donut") or (chart.kind == "donut" and len(series) > 1):
            _fit_axes(ctx, fig.axes[0])
    return fig


def _tick_strings(axis) -> list[str]:
    """The tick labels the axis will draw (those inside the view)."""
    if not axis.get_visible() or not axis.get_major_ticks()[0].label1.get_visible():
        return []
    lo, hi = sorted(axis.get_view_interval())
    eps = 1e-9 * max(abs(lo), abs(hi), 1.0)
    locs = [x for x in axis.get_majorticklocs() if lo - eps <= x <= hi + eps]
    return [t for t in axis.get_major_formatter().format_ticks(locs) if t]


def _fit_axes(ctx: _Ctx, ax) -> None:
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
    legend = ctx.legend_rows * LEGEND_PT * 1.55 * px + (6 * px if ctx.legend_rows else 0)
    top = ctx.top * height_px - legend - 4 * px
    right = pad
    if xlabels and ax.get_xaxis().get_major_formatter().__class__.__name__ != "UnitFormatter":
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
        _thin_labels(ax, ctx.categories, max(1, math.ceil(widest / slot)))


def render_chart(chart: Chart, lang: str = "en", currency: str = "JPY") -> bytes:
    """The chart as PNG bytes: 880x495 px (taller for a big heatmap), a few tens of KB.

    The image is drawn once on the Agg canvas and stored with a 256-colour palette:
    the charts use a handful of flat colours, so this looks the same and is about
    four times smaller than full colour. The alt text is kept in the PNG's
    ``Description`` and the title in ``Title``.
    """
    fig = draw(chart, lang, currency)
    canvas = fig.canvas
    canvas.draw()
    width, height = canvas.get_width_height()
    image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")
    image = _snap_palette(image.quantize(colors=256, method=Image.Quantize.FASTOCTREE))
    info = PngInfo()
    info.add_itxt("Title", chart.title)
    info.add_itxt("Description", alt_text(chart, lang, currency))
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=6, pnginfo=info, dpi=(DPI, DPI))
    return buf.getvalue()


_FLAT = tuple(tuple(round(c * 255) for c in to_rgb(x)) for x in (
    "#FFFFFF", INK, MUTED, GRID, TOTAL, PASSIVE_GREY, *PALETTE))


def _snap_palette(image: Image.Image) -> Image.Image:
    """Octree buckets are off by a step or two: put the chart's flat colours back exactly
    (a white background that is really white)."""
    palette = image.getpalette() or []
    for i in range(0, len(palette) - 2, 3):
        entry = palette[i:i + 3]
        for flat in _FLAT:
            if max(abs(a - b) for a, b in zip(entry, flat)) <= 3:
                palette[i:i + 3] = flat
                break
    image.putpalette(palette)
    return image


def save_chart(chart: Chart, path: str | Path, lang: str = "en", currency: str = "JPY") -> Path:
    """Write the chart as a PNG file (parent folders are created) and return its path."""
    target = Path(path)
    if target.suffix.lower() != ".png":
        target = target.with_suffix(".png")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(render_chart(chart, lang, currency))
    return target


# --- alt text ----------------------------------------------------------------------------------

def alt_text(chart: Chart, lang: str = "en", currency: str = "JPY") -> str:
    """A sentence describing the chart for screen readers: ``chart.alt`` when the command set one."""
    if chart.alt:
        return chart.alt
    ja = lang == "ja"
    kind = _t(lang)["kinds"].get(chart.kind, chart.kind)
    head = f"{chart.title}（{chart.subtitle}）" if ja and chart.subtitle else (
        f"{chart.title}, {chart.subtitle}" if chart.subtitle else chart.title)
    try:
        series = _series(chart)
        empty = not has_data(chart)
    except ValueError:
        series, empty = [], True
    if empty:
        return f"{head}: {_t(lang)['no_data']}" if not ja else f"{head}：{_t(lang)['no_data']}"

    def fmt(v: float | None, signed: bool = False) -> str:
        return "—" if v is None else format_value(chart.unit, v, lang, currency, signed=signed)

    labels = [str(x) for x in chart.labels]
    parts: list[str] = []
    if chart.kind in ("line", "stacked", "bars") and labels:
        span = f"{labels[0]}〜{labels[-1]}" if ja else f"{labels[0]} to {labels[-1]}"
        for s in series[:4]:
            known = [(lbl, v) for lbl, v in zip(labels, s.values) if v is not None]
            if not known:
                continue
            if chart.kind == "bars":
                top = max(known, key=lambda p: p[1])
                parts.append(f"{s.name}: 最大は{top[0]}の{fmt(top[1])}" if ja else f"{s.name}: highest {top[0]} at {fmt(top[1])}")
            else:
                first, last = known[0], known[-1]
                parts.append(f"{s.name}は{first[0]}の{fmt(first[1])}から{last[0]}の{fmt(last[1])}" if ja
                             else f"{s.name} from {fmt(first[1])} in {first[0]} to {fmt(last[1])} in {last[0]}")
        lead = f"{span}の{kind}" if ja else f"{kind}, {span}"
    elif chart.kind == "waterfall":
        moves = series[0].values
        pairs = [f"{lbl} {fmt(v, signed=True)}" for lbl, v in zip(labels, moves) if v is not None]
        net = sum(v for v in moves if v is not None)
        parts.append("、".join(pairs) if ja else ", ".join(pairs))
        parts.append(f"{_t(lang)['net']} {fmt(net, signed=True)}")
        lead = kind
    elif chart.kind == "heatmap":
        rows = len(series)
        lead = f"{kind}、{rows}行×{len(labels)}列" if ja else f"{kind}, {rows} rows by {len(labels)} columns"
        for s in series[:3]:
            known = [(lbl, v) for lbl, v in zip(labels, s.values) if v is not None]
            if known:
                parts.append(f"{s.name}: {known[-1][0]}で{fmt(known[-1][1])}" if ja
                             else f"{s.name}: {fmt(known[-1][1])} at {known[-1][0]}")
        if rows > 3:
            parts.append(f"ほか{rows - 3}行" if ja else f"and {rows - 3} more rows")
    else:  # donut, share
        lead = kind
        for s in series[:4]:
            vals = [0.0 if v is None else v for v in s.values]
            total = sum(vals)
            shares = [f"{lbl} {v / total * 100:.0f}%" for lbl, v in zip(labels, vals)] if total else []
            prefix = f"{s.name}: " if len(series) > 1 else ""
            parts.append(prefix + ("、".join(shares) if ja else ", ".join(shares)))
            if len(series) == 1:
                nps = _nps(labels, vals)
                if nps is not None:
                    parts.append(f"NPS {format_value('score', nps)}")
    body = "。".join(p for p in parts if p) if ja else "; ".join(p for p in parts if p)
    return f"{head}：{lead}。{body}。" if ja else f"{head}: {lead}. {body}."
