"""The health model: the TOML file that says how a score is made, its checker, and bands.

The model lives in one readable TOML file (``metrics/health_model.toml``, or the
file ``Settings.health_model`` names): components, weights, thresholds, the
bands, and a separate weight set for accounts still onboarding. The bands are
written there and only there; everything else asks ``HealthModel.band`` or
reads ``HealthModel.bands``. ``load_model`` refuses a malformed file with a
one-line ``HealthModelError`` naming the line (the file's editor reads it).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from bisect import bisect_left
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from metrics.settings import Settings

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / "health_model.toml"

COMPONENTS = ("usage", "seats", "last_activity", "nps", "support", "revenue", "onboarding")
BANDS = ("red", "yellow", "green")  # from low scores to high; their ranges are the model's
RISKY_BANDS = ("red", "yellow")


class HealthModelError(ValueError):
    """The health model file is malformed. ``str(err)`` is one line: file, line, reason."""


@dataclass(frozen=True)
class Curve:
    """A piecewise linear score function: ``points`` = ((x, score), ...), x increasing."""

    points: tuple[tuple[float, float], ...]

    @cached_property
    def _xs(self) -> tuple[float, ...]:
        return tuple(p[0] for p in self.points)

    def __call__(self, x: float) -> float:
        # A whole book is scored at once (hundreds of thousands of calls): find the segment by
        # bisection; x in (x0, x1] lies on the segment ending at x1, as a walk from the left finds it.
        pts = self.points
        if x <= pts[0][0]:
            return float(pts[0][1])
        i = bisect_left(self._xs, x)
        if i == len(pts):
            return float(pts[-1][1])
        (x0, y0), (x1, y1) = pts[i - 1], pts[i]
        return float(y0 + (y1 - y0) * (x - x0) / (x1 - x0))


@dataclass(frozen=True)
class HealthModel:
    """A checked model: the weights, the bands and each component's score curve."""

    path: str
    weights: dict[str, float]
    weights_onboarding: dict[str, float]
    onboarding_phase_days: int
    bands: tuple[tuple[str, int, int], ...]  # (name, low, high), inclusive, sorted
    stickiness: Curve
    usage_trend: Curve
    trend_share: float
    trend_days: int
    seats: Curve
    last_activity: Curve
    nps: Curve
    nps_lookback_days: int
    penalties: dict[str, float]  # open, high, urgent
    revenue: Curve
    revenue_days: int
    onboarding: Curve
    onboarding_expected_days: int

    def band(self, score: float | None) -> str | None:
        """The band of a score: rounded half up to a whole number first, then looked up."""
        if score is None:
            return None
        whole = rounded(score)
        for name, lo, hi in self.bands:
            if lo <= whole <= hi:
                return name
        return self.bands[-1][0] if whole > self.bands[-1][2] else self.bands[0][0]

    def weights_for(self, onboarding_phase: bool) -> dict[str, float]:
        return self.weights_onboarding if onboarding_phase else self.weights


def rounded(score: float) -> int:
    """Round half up (50.5 -> 51), the rounding bands use."""
    return int(math.floor(score + 0.5))


_MODEL_CACHE: dict[tuple[str, int], HealthModel] = {}


def load_model(path: str | os.PathLike | None = None, *, origin: str | None = None) -> HealthModel:
    """Read and check the health model at ``path`` (None: the shipped model).

    ``origin`` names the setting the path came from, for the error message.
    Raises ``HealthModelError`` (one line: file, line where known, reason)."""
    p = Path(path).expanduser() if path else DEFAULT_MODEL_PATH
    try:
        stat = p.stat()
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        where = f" (set by {origin})" if origin else ""
        raise HealthModelError(f"health model {p}{where}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HealthModelError(f"health model {p}: cannot read it ({exc.__class__.__name__})") from None
    key = (str(p.resolve()), stat.st_mtime_ns)
    if key in _MODEL_CACHE:
        return _MODEL_CACHE[key]
    model = parse_model(text, str(p))
    _MODEL_CACHE.clear()
    _MODEL_CACHE[key] = model
    return model


def model_for(settings: Settings | None) -> HealthModel:
    """The model ``settings`` name (``Settings.health_model``, from CSBOT_HEALTH_MODEL), else the shipped one."""
    path = settings.health_model if settings is not None else None
    return load_model(path, origin="CSBOT_HEALTH_MODEL" if path else None)


def parse_model(text: str, name: str = "<health model>") -> HealthModel:
    """Check a model's TOML text and build the model. Raises ``HealthModelError``."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc).splitlines()[0]
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg).strip()
        line = f" line {m.group(1)}:" if m else ""
        raise HealthModelError(f"{name}:{line} not valid TOML: {reason}") from None
    return _Checker(text, name).build(doc)


class _Checker:
    def __init__(self, text: str, name: str):
        self.lines = text.splitlines()
        self.name = name

    def fail(self, reason: str, section: str | None = None, key: str | None = None) -> None:
        line = self.line_of(section, key)
        where = f" line {line}:" if line else ""
        raise HealthModelError(f"{self.name}:{where} {reason}")

    def line_of(self, section: str | None, key: str | None) -> int | None:
        """The line that sets ``key`` in ``[section]`` (or the section header)."""
        current = ""
        header_line = None
        for i, raw in enumerate(self.lines, 1):
            line = raw.strip()
            m = re.match(r"^\[\s*([^\]]+?)\s*\]", line)
            if m:
                current = m.group(1).replace('"', "").replace(" ", "")
                if section is not None and current == section:
                    header_line = i
                continue
            if section is not None and current != section:
                continue
            if section is None and current:
                continue
            if key is not None and re.match(rf'^"?{re.escape(key)}"?\s*=', line):
                return i
        return header_line

    def number(self, value: Any, section: str | None, key: str, *, lo: float | None = None,
               hi: float | None = None) -> float:
        label = f"[{section}] {key}" if section else key
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            self.fail(f"{label} must be a number, got {value!r}", section, key)
        if lo is not None and value < lo:
            self.fail(f"{label} must be at least {lo:g}, got {value!r}", section, key)
        if hi is not None and value > hi:
            self.fail(f"{label} must be at most {hi:g}, got {value!r}", section, key)
        return float(value)

    def curve(self, value: Any, section: str, key: str) -> Curve:
        label = f"[{section}] {key}"
        if not isinstance(value, list) or len(value) < 2:
            self.fail(f"{label} must be a list of at least two [x, score] points", section, key)
        pts = []
        for p in value:
            if (not isinstance(p, list) or len(p) != 2
                    or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in p)):
                self.fail(f"{label}: each point must be [number, number], got {p!r}", section, key)
            if not 0 <= p[1] <= 100:
                self.fail(f"{label}: scores must be between 0 and 100, got {p[1]!r}", section, key)
            pts.append((float(p[0]), float(p[1])))
        for (x0, _), (x1, _) in zip(pts, pts[1:]):
            if x1 <= x0:
                self.fail(f"{label}: x values must increase, {x1:g} comes after {x0:g}", section, key)
        return Curve(tuple(pts))

    def table(self, doc: dict, key: str) -> dict:
        value = doc.get(key)
        if value is None:
            self.fail(f"missing section [{key}]")
        if not isinstance(value, dict):
            self.fail(f"{key} must be a section [{key}]", None, key)
        return value

    def weights(self, doc: dict, key: str) -> dict[str, float]:
        table = self.table(doc, key)
        out = {}
        for name, value in table.items():
            if name not in COMPONENTS:
                self.fail(f"[{key}] unknown component {name!r}; known: {', '.join(COMPONENTS)}", key, name)
            out[name] = self.number(value, key, name, lo=0)
        for name in COMPONENTS:
            out.setdefault(name, 0.0)
        if not any(out.values()):
            self.fail(f"[{key}] every weight is 0; give at least one component a weight", key)
        return out

    def bands(self, doc: dict) -> tuple[tuple[str, int, int], ...]:
        table = self.table(doc, "bands")
        ranges = []
        for name, value in table.items():
            if name not in BANDS:
                self.fail(f"[bands] unknown band {name!r}; the bands are red, yellow, green", "bands", name)
            if (not isinstance(value, list) or len(value) != 2
                    or any(isinstance(v, bool) or not isinstance(v, int) for v in value) or value[0] > value[1]):
                self.fail(f"[bands] {name} must be [low, high], whole numbers with low <= high, got {value!r}",
                          "bands", name)
            ranges.append((name, value[0], value[1]))
        missing = [b for b in BANDS if b not in table]
        if missing:
            self.fail(f"[bands] missing band(s): {', '.join(missing)}", "bands")
        ranges.sort(key=lambda r: r[1])
        if [r[0] for r in ranges] != list(BANDS):
            self.fail("[bands] must go red, yellow, green from low scores to high", "bands")
        expected = 0
        for name, lo, hi in ranges:
            if lo < expected:
                self.fail(f"[bands] {name} starts at {lo}, overlapping the band below (which ends at {expected - 1})",
                          "bands", name)
            if lo > expected:
                self.fail(f"[bands] {name} starts at {lo}: scores {expected}..{lo - 1} have no band", "bands", name)
            expected = hi + 1
        if ranges[0][1] != 0 or expected != 101:
            self.fail(f"[bands] must cover 0..100; green ends at {expected - 1}", "bands", "green")
        return tuple(ranges)

    def build(self, doc: dict) -> HealthModel:
        known_top = {"version", "onboarding_phase_days", "bands", "weights", "weights_onboarding", "components"}
        for key in doc:
            if key not in known_top:
                self.fail(f"unknown setting {key!r}; expected one of {', '.join(sorted(known_top))}", None, key)
        phase = int(self.number(doc.get("onboarding_phase_days", 90), None, "onboarding_phase_days", lo=0, hi=3650))
        bands = self.bands(doc)
        weights = self.weights(doc, "weights")
        weights_onb = self.weights(doc, "weights_onboarding") if "weights_onboarding" in doc else dict(weights)
        comps = self.table(doc, "components")
        for name in comps:
            if name not in COMPONENTS:
                self.fail(f"unknown component [components.{name}]; known: {', '.join(COMPONENTS)}",
                          f"components.{name}")

        def comp(name: str, allowed: tuple[str, ...]) -> dict:
            section = f"components.{name}"
            value = comps.get(name)
            if not isinstance(value, dict):
                self.fail(f"missing section [{section}]")
            for key in value:
                if key not in allowed:
                    self.fail(f"[{section}] unknown setting {key!r}; expected {', '.join(allowed)}", section, key)
            for key in allowed:
                if key not in value:
                    self.fail(f"[{section}] missing {key}", section)
            return value

        us = comp("usage", ("stickiness", "trend_days", "trend", "trend_share"))
        se = comp("seats", ("points",))
        la = comp("last_activity", ("points",))
        ns = comp("nps", ("lookback_days", "points"))
        su = comp("support", ("penalty_per_open", "penalty_per_high", "penalty_per_urgent"))
        rv = comp("revenue", ("days", "points"))
        ob = comp("onboarding", ("expected_days", "points"))
        return HealthModel(
            path=self.name,
            weights=weights,
            weights_onboarding=weights_onb,
            onboarding_phase_days=phase,
            bands=bands,
            stickiness=self.curve(us["stickiness"], "components.usage", "stickiness"),
            usage_trend=self.curve(us["trend"], "components.usage", "trend"),
            trend_share=self.number(us["trend_share"], "components.usage", "trend_share", lo=0, hi=1),
            trend_days=int(self.number(us["trend_days"], "components.usage", "trend_days", lo=1, hi=180)),
            seats=self.curve(se["points"], "components.seats", "points"),
            last_activity=self.curve(la["points"], "components.last_activity", "points"),
            nps=self.curve(ns["points"], "components.nps", "points"),
            nps_lookback_days=int(self.number(ns["lookback_days"], "components.nps", "lookback_days", lo=1)),
            penalties={k: self.number(su[f"penalty_per_{k}"], "components.support", f"penalty_per_{k}", lo=0)
                       for k in ("open", "high", "urgent")},
            revenue=self.curve(rv["points"], "components.revenue", "points"),
            revenue_days=int(self.number(rv["days"], "components.revenue", "days", lo=1)),
            onboarding=self.curve(ob["points"], "components.onboarding", "points"),
            onboarding_expected_days=int(self.number(ob["expected_days"], "components.onboarding", "expected_days",
                                                     lo=1, hi=3650)),
        )
