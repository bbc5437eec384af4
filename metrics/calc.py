"""What every metric function works with: the ``Calc`` (one connection, the settings,
the answer's "today" and a memo shared by the metrics of one answer), the
``Measurement`` it returns, and ``ratio`` ("not defined" when dividing by zero).

A metric function takes ``(calc, period, filters)`` and returns a ``Measurement``;
``metrics/compute.py`` binds each catalog name to one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from sqlalchemy import Connection

from metrics.clock import local_today
from metrics.filters import Filters
from metrics.periods import Period
from metrics.settings import Settings

logger = logging.getLogger(__name__)


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
        # The caller passes it; a Calc made without one (``csbot metric``) takes the calendar's.
        self.today: date = today if today is not None else local_today(settings.tz)
        self._memo: dict[tuple, Any] = {}

    def has(self, key: tuple) -> bool:
        return key in self._memo

    def memo(self, key: tuple, compute: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


ComputeFn = Callable[[Calc, Period, Filters], Measurement]


def ratio(numerator: float | int | None, denominator: float | int | None) -> float | None:
    """numerator / denominator, or None ("not defined") when the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator
