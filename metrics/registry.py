"""Metric declarations: each metric is declared once, apart from the engine.

A declaration (``MetricDef``) carries the name, labels and descriptions in
English and Japanese, the unit, the formula text, a "how it was computed"
template filled with the real numbers, and the function that computes it. That
one declaration feeds ``csbot metric``, ``csbot metric --list``, the answers'
"how was this computed" view and the glossary.

Metric functions take a ``Calc`` (one connection plus a memo, so the movements
of a period are counted once however many metrics use them), a ``Period`` and
``Filters``, and return a ``Measurement``.
"""

from __future__ import annotations

import logging
import re
import string
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from sqlalchemy import Connection, Engine

from metrics import format as fmt
from metrics.filters import NO_FILTERS, Filters
from metrics.periods import Period
from metrics.settings import Settings

logger = logging.getLogger(__name__)

UNITS = ("ratio", "money", "count", "score", "days", "minutes")


@dataclass(frozen=True)
class Measurement:
    value: float | int | None
    parts: dict[str, Any] = field(default_factory=dict)


class Calc:
    """One connection, the settings, and a memo shared by the metrics of one answer."""

    def __init__(self, conn: Connection, settings: Settings, today: date | None = None):
        self.conn = conn
        self.settings = settings
        # The answer's "today" (workspace time zone): month ends after it are not known yet.
        self.today = today
        self._memo: dict[tuple, Any] = {}

    def has(self, key: tuple) -> bool:
        return key in self._memo

    def memo(self, key: tuple, compute: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


ComputeFn = Callable[[Calc, Period, Filters], Measurement]


@dataclass(frozen=True)
class MetricDef:
    name: str
    unit: str
    family: str  # the command that shows it: churn, mrr, nrr, nps, usage ...
    label_en: str
    label_ja: str
    description_en: str
    description_ja: str
    formula_en: str
    formula_ja: str
    compute: ComputeFn = field(repr=False, compare=False)
    # "how it was computed" with the real numbers: placeholders are part names,
    # "{value}" is the result; a part's unit is taken from ``part_units`` (count by default).
    how_en: str = ""
    how_ja: str = ""
    part_units: dict[str, str] = field(default_factory=dict)
    higher_is_better: bool | None = True  # None: neither (e.g. a count of accounts)
    revenue: bool = False  # a revenue figure (privacy rule in Slack)
    point_in_time: bool = False  # value taken at the end of the period

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"{self.name}: unknown unit {self.unit!r}")

    def label(self, lang: str) -> str:
        return self.label_ja if lang == "ja" else self.label_en

    def description(self, lang: str) -> str:
        return self.description_ja if lang == "ja" else self.description_en

    def formula(self, lang: str) -> str:
        return self.formula_ja if lang == "ja" else self.formula_en

    def format_value(self, value: float | None, currency: str, *, signed: bool = False) -> str:
        return fmt.value(self.unit, value, currency, signed=signed)

    def explain(self, m: Measurement, lang: str, currency: str) -> str:
        """The formula with the actual numbers: "150 churned / 3,000 at start = 5.0%"."""
        template = self.how_ja if lang == "ja" else self.how_en
        if not template:
            return f"{self.formula(lang)} = {self.format_value(m.value, currency)}"
        values: dict[str, str] = {"value": self.format_value(m.value, currency)}
        for name in _placeholders(template):
            if name == "value":
                continue
            raw = m.parts.get(name)
            unit = self.part_units.get(name, "count")
            values[name] = fmt.value(unit, raw, currency) if isinstance(raw, (int, float)) or raw is None else str(raw)
        return template.format(**values)


def _placeholders(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


REGISTRY: dict[str, MetricDef] = {}


def declare(metric: MetricDef) -> MetricDef:
    if metric.name in REGISTRY:
        raise ValueError(f"metric {metric.name!r} declared twice")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", metric.name):
        raise ValueError(f"bad metric name {metric.name!r}")
    REGISTRY[metric.name] = metric
    return metric


def _load_all() -> None:
    """Import every module that declares metrics (each calls ``declare`` at import)."""
    import importlib

    for module in METRIC_MODULES:
        importlib.import_module(module)


# Modules holding metric declarations, imported on first use of the registry.
METRIC_MODULES: list[str] = ["metrics.revenue", "metrics.retention", "metrics.value", "metrics.voice", "metrics.usage", "metrics.onboarding", "metrics.health"]


def all_metrics() -> dict[str, MetricDef]:
    _load_all()
    return REGISTRY


def get_metric(name: str) -> MetricDef:
    metrics = all_metrics()
    key = name.strip().lower().replace("-", "_")
    if key not in metrics:
        raise KeyError(name)
    return metrics[key]


@dataclass(frozen=True)
class MetricResult:
    metric: MetricDef
    period: Period
    current: Measurement
    previous_period: Period
    previous: Measurement
    filters: Filters = NO_FILTERS

    @property
    def value(self) -> float | int | None:
        return self.current.value

    def to_json(self) -> dict[str, Any]:
        """The contract of ``csbot metric <name> --json`` (product.md)."""
        return {
            "name": self.metric.name,
            "period": self.period.iso(),
            "unit": self.metric.unit,
            "value": _jsonable(self.current.value),
            "parts": _jsonable(self.current.parts),
            "previous": {
                "period": self.previous_period.iso(),
                "value": _jsonable(self.previous.value),
                "parts": _jsonable(self.previous.parts),
            },
            "filters": self.filters.describe() or None,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return round(value, 6) if abs(value) < 1000 else round(value, 2)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def measure(calc: Calc, name: str, period: Period, filters: Filters = NO_FILTERS) -> Measurement:
    metric = get_metric(name)
    return calc.memo(("measure", name, period, filters), lambda: metric.compute(calc, period, filters))


def compute_metric(
    engine: Engine | Connection,
    name: str,
    period: Period,
    filters: Filters = NO_FILTERS,
    settings: Settings | None = None,
    *,
    calc: Calc | None = None,
) -> MetricResult:
    """One metric for a period and its previous period."""
    metric = get_metric(name)
    if calc is not None:
        return _result(calc, metric, period, filters)
    settings = settings or Settings()
    if isinstance(engine, Connection):
        return _result(Calc(engine, settings), metric, period, filters)
    with engine.connect() as conn:
        return _result(Calc(conn, settings), metric, period, filters)


def _result(calc: Calc, metric: MetricDef, period: Period, filters: Filters) -> MetricResult:
    prev = period.previous()
    return MetricResult(
        metric=metric,
        period=period,
        current=measure(calc, metric.name, period, filters),
        previous_period=prev,
        previous=measure(calc, metric.name, prev, filters),
        filters=filters,
    )


def ratio(numerator: float | int | None, denominator: float | int | None) -> float | None:
    """numerator / denominator, or None ("not defined") when the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator
