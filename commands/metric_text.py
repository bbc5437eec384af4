"""A metric in words: its label, description and formula in the reader's language, its
value formatted by its unit, and "how it was computed" (the formula with the real
numbers), all read from the metric catalog (``metrics/catalog.toml``)."""

from __future__ import annotations

import logging
import string

from commands import format as fmt
from metrics.calc import Measurement
from metrics.catalog import MetricInfo

logger = logging.getLogger(__name__)


def label(metric: MetricInfo, lang: str) -> str:
    return metric.text(lang, "label")


def description(metric: MetricInfo, lang: str) -> str:
    return metric.text(lang, "description")


def formula(metric: MetricInfo, lang: str) -> str:
    return metric.text(lang, "formula")


def format_value(metric: MetricInfo, value: float | None, currency: str, *, signed: bool = False,
                 lang: str = "en") -> str:
    """The value by the metric's unit (days and minutes with their unit in ``lang``);
    ``signed`` asks for the sign of a change-like number."""
    return fmt.value(metric.unit, value, currency, signed=signed, lang=lang)


def headline(metric: MetricInfo, value: float | None, currency: str, lang: str = "en") -> str:
    """The value as an answer shows it: with its sign when the catalog says so (NPS "+32")."""
    return format_value(metric, value, currency, signed=metric.signed, lang=lang)


def explain(metric: MetricInfo, m: Measurement, lang: str, currency: str) -> str:
    """The formula with the actual numbers: "150 churned / 3,000 at start = 5.0%"."""
    template = metric.text(lang, "how")
    values: dict[str, str] = {"value": format_value(metric, m.value, currency, lang=lang)}
    for name in _placeholders(template):
        if name == "value":
            continue
        raw = m.parts.get(name)
        values[name] = fmt.value(metric.part_unit(name), raw, currency, lang=lang) if isinstance(raw, (int, float)) or raw is None \
            else str(raw)
    return template.format(**values)


def _placeholders(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]
