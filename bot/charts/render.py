"""A chart drawn: the Figure for its kind, then the PNG (256 colours, title and alt text inside).
Imports matplotlib: ``bot.charts`` loads this module only when a chart is drawn."""

from __future__ import annotations

import io
import logging

from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from bot.charts import data
from bot.charts.alt import alt_text
from bot.charts.bars import draw_bars, draw_stacked
from bot.charts.donut import draw_donut, draw_share
from bot.charts.heatmap import draw_heatmap, height
from bot.charts.layout import Ctx, figure, fit_axes, no_data
from bot.charts.line import draw_line
from bot.charts.style import DPI, FLAT, HEIGHT_IN
from bot.charts.waterfall import draw_waterfall
from commands.reply import Chart

logger = logging.getLogger(__name__)

_DRAW = {"line": draw_line, "bars": draw_bars, "waterfall": draw_waterfall, "stacked": draw_stacked,
         "heatmap": draw_heatmap, "donut": draw_donut, "share": draw_share}


def figure_of(chart: Chart, lang: str = "en", currency: str = "JPY") -> Figure:
    """The chart as a matplotlib ``Figure`` with its Agg canvas attached (no pyplot)."""
    rows = data.series(chart)
    data.validate(chart, rows)
    empty = not data.has_data(chart)
    tall = height(len(rows)) if chart.kind == "heatmap" and not empty else HEIGHT_IN
    fig, families, top = figure(chart, lang, tall)
    magnitudes = [abs(v) for s in rows for v in s.values if v is not None]
    peak = max(magnitudes, default=0.0)
    ctx = Ctx(chart, lang, currency, fig, families, ref=peak or None, peak=peak, top=top)
    if empty:
        no_data(ctx)
    else:
        _DRAW[chart.kind](ctx, rows)
        if chart.kind not in ("heatmap", "donut") or (chart.kind == "donut" and len(rows) > 1):
            fit_axes(ctx, fig.axes[0])
    return fig


def png(chart: Chart, lang: str = "en", currency: str = "JPY") -> bytes:
    """The chart as PNG bytes: 880x495 px (taller for a big heatmap), a few tens of KB.

    The image is drawn once on the Agg canvas and stored with a 256-colour palette:
    the charts use a handful of flat colours, so this looks the same and is about
    four times smaller than full colour. The alt text is kept in the PNG's
    ``Description`` and the title in ``Title``.
    """
    canvas = figure_of(chart, lang, currency).canvas
    canvas.draw()
    width, tall = canvas.get_width_height()
    image = Image.frombuffer("RGBA", (width, tall), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")
    image = _snap_palette(image.quantize(colors=256, method=Image.Quantize.FASTOCTREE))
    info = PngInfo()
    info.add_itxt("Title", chart.title)
    info.add_itxt("Description", alt_text(chart, lang, currency))
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=6, pnginfo=info, dpi=(DPI, DPI))
    return buf.getvalue()


_FLAT_RGB = tuple(tuple(round(c * 255) for c in to_rgb(x)) for x in FLAT)


def _snap_palette(image: Image.Image) -> Image.Image:
    """Octree buckets are off by a step or two: put the chart's flat colours back exactly
    (a white background that is really white)."""
    palette = image.getpalette() or []
    for i in range(0, len(palette) - 2, 3):
        entry = palette[i:i + 3]
        for flat in _FLAT_RGB:
            if max(abs(a - b) for a, b in zip(entry, flat)) <= 3:
                palette[i:i + 3] = flat
                break
    image.putpalette(palette)
    return image
