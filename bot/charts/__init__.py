"""Charts: a ``commands.reply.Chart`` drawn as a small, sharp PNG. Drawing only.

Commands give the data and its meaning: labels and values, the ``role`` of each series
or part (promoter, churn, band_red, start, net ...: colours follow roles, in every
language), the headline to put in a donut's centre, and whether values carry a sign.
Nothing here reads meaning from a label's words or computes a figure a command owns;
numbers are written by the one formatter (``commands.format.compact``).

Kinds: ``line`` (a line per series over the labels; ``None`` is a gap), ``bars`` (plain
or grouped; long labels turn them horizontal), ``waterfall`` (one series; labels whose role
is start/subtotal/end/net are levels from zero, the rest movements on the running total),
``stacked`` (layers per period, negatives below zero, a net marker), ``heatmap`` (rows =
series, columns = labels, cells 0..1), ``donut`` (parts of one whole; several series draw
100% bars) and ``share`` (a 100% bar per series). Empty data keeps the title and says
"No data for this period"; a malformed chart raises ``ValueError`` with a one-line message.

matplotlib is imported only when a chart is drawn (``csbot ask`` never loads it). A
``matplotlib.figure.Figure`` is built directly (no pyplot, no global ``rcParams``, fonts
given per text), so charts can be drawn from several threads at once (Bolt's lazy listeners).

Size and speed: 8 x 4.5 in at 110 dpi (880 x 495 px; a heatmap grows 0.3 in per row),
12-20 pt text that stays readable on a phone, a 256-colour PNG of 10-15 KB (about 80 KB for
a 24 x 12 heatmap), 50-110 ms of CPU per chart (``benchmarks/bench_charts.py``).

Modules: ``data`` (series, checks, waterfall bars; no matplotlib), ``alt`` (alt text),
``style`` (sizes, palette, role colours, fonts), ``layout`` (title, axes, ticks, legend,
placement), ``render`` (Figure and PNG), one module per family: ``line``, ``bars``
(bars, stacked), ``waterfall``, ``heatmap``, ``donut`` (donut, share).

Public: ``draw`` (PNG bytes), ``save_chart`` (a file), ``alt_text``, ``has_data``, ``KINDS``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.charts.alt import alt_text
from bot.charts.data import KINDS, has_data
from commands.reply import Chart

logger = logging.getLogger(__name__)

__all__ = ["KINDS", "alt_text", "draw", "has_data", "save_chart"]


def draw(chart: Chart, lang: str = "en", currency: str = "JPY") -> bytes:
    """The chart as PNG bytes (880 x 495 px, taller for a big heatmap; alt text and title inside)."""
    from bot.charts.render import png  # matplotlib loads here, on the first chart drawn

    return png(chart, lang, currency)




def save_chart(chart: Chart, path: str | Path, lang: str = "en", currency: str = "JPY") -> Path:
    """Write the chart as a PNG file (parent folders are created) and return its path."""
    target = Path(path)
    if target.suffix.lower() != ".png":
        target = target.with_suffix(".png")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(draw(chart, lang, currency))
    return target
