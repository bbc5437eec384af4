"""How charts look: sizes, the colour-blind-safe palette, the colour of each role, and the fonts
(DejaVu Sans, and IPAexGothic from matplotlib-fontja for Japanese), chosen per text so that no
process-wide matplotlib setting is touched."""

from __future__ import annotations

import importlib.util
import logging
import threading
import unicodedata
from pathlib import Path

from matplotlib import font_manager
from matplotlib.colors import to_rgb
from matplotlib.font_manager import FontProperties
from matplotlib.patheffects import withStroke

logger = logging.getLogger(__name__)

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.5, 110
TITLE_PT, SUBTITLE_PT, TICK_PT, VALUE_PT, LEGEND_PT = 20, 14, 13, 12, 13
INK, MUTED, GRID, TOTAL, AXIS = "#222222", "#555555", "#E3E3E3", "#5A5A5A", "#9A9A9A"

# Okabe & Ito (2008), "Color Universal Design".
ORANGE, SKY, GREEN, YELLOW, BLUE, VERMILLION, PURPLE = (
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
PALETTE = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW, "#000000")
PASSIVE_GREY = "#BDBDBD"

# Each role always gets the same colour, whatever the language of its label.
ROLE_COLOURS: dict[str, str] = {
    "new": BLUE, "reactivation": SKY, "expansion": GREEN, "contraction": ORANGE, "churn": VERMILLION,
    "promoter": GREEN, "passive": PASSIVE_GREY, "detractor": VERMILLION,
    "band_green": GREEN, "band_yellow": YELLOW, "band_red": VERMILLION,
    "start": TOTAL, "subtotal": TOTAL, "end": TOTAL, "net": TOTAL,
}

# The flat colours a chart is drawn with: the PNG's palette is snapped back to these.
FLAT = ("#FFFFFF", INK, MUTED, GRID, TOTAL, PASSIVE_GREY, *PALETTE)


def colours(roles: list[str | None]) -> list[str]:
    """The role's colour for each part, the palette in order for the rest; no colour twice if avoidable
    (two parts with the same role, e.g. customer and revenue churn, take palette colours)."""
    fixed = [ROLE_COLOURS.get(r) if r else None for r in roles]
    fixed = [c if c is not None and fixed.count(c) == 1 else None for c in fixed]
    free = [c for c in PALETTE if c not in fixed]
    out, i = [], 0
    for c in fixed:
        if c is None:
            c = free[i % len(free)] if free else PALETTE[i % len(PALETTE)]
            i += 1
        out.append(c)
    return out


def text_colour(background: str) -> str:
    """White or ink, whichever reads better on ``background``."""
    r, g, b = to_rgb(background)
    lum = 0.2126 * r ** 2.2 + 0.7152 * g ** 2.2 + 0.0722 * b ** 2.2
    return "#FFFFFF" if lum < 0.28 else INK


# --- fonts ------------------------------------------------------------------------------------

JA_FONT = "IPAexGothic"
LATIN_FONT = "DejaVu Sans"
_font_lock = threading.Lock()
_font_ready = False


def _ipaex_path() -> Path | None:
    """Where matplotlib-fontja keeps IPAexGothic, found without importing the package
    (importing it would set the process-wide default font; we only need its file)."""
    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "fonts" / "ipaexg.ttf"
        if path.is_file():
            return path
    return None


def ensure_fonts() -> None:
    """Register IPAexGothic with matplotlib once per process (thread-safe)."""
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


def families(lang: str) -> list[str]:
    """Japanese first for Japanese charts; otherwise DejaVu with IPAexGothic as the fallback."""
    return [JA_FONT, LATIN_FONT] if lang == "ja" else [LATIN_FONT, JA_FONT]


def has_wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in "WF" for ch in text)


def text_style(fams: list[str], size: float, weight: str, text: str, color: str) -> dict:
    """Font properties for one text. IPAexGothic has no bold face: bold Japanese text is drawn
    in the regular face with a thin outline of its own colour instead (no font warning)."""
    if weight == "bold" and has_wide(text):
        return {"fontproperties": FontProperties(family=[JA_FONT, LATIN_FONT], size=size),
                "path_effects": [withStroke(linewidth=max(0.5, size / 28), foreground=color)], "color": color}
    if weight == "bold":
        return {"fontproperties": FontProperties(family=[LATIN_FONT], size=size, weight="bold"), "color": color}
    if text.isascii():  # both fonts have every ASCII glyph: skip the fallback search
        return {"fontproperties": FontProperties(family=fams[:1], size=size), "color": color}
    return {"fontproperties": FontProperties(family=fams, size=size), "color": color}
