"""Computing a metric by its catalog name: the one map from name to function
(``COMPUTE``, built from explicit imports of the metric modules), ``measure`` (one
metric for one period, memoised on the ``Calc``), and ``compute_metric`` (a period
and its previous period, as the ``MetricResult`` behind every answer and the JSON
of ``csbot metric``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from metrics import catalog, health, onboarding, retention, revenue, usage, value, voice
from metrics.calc import Calc, ComputeFn, Measurement
from metrics.catalog import MetricInfo
from metrics.filters import NO_FILTERS, Filters
from metrics.periods import Period
from metrics.settings import Settings

logger = logging.getLogger(__name__)

COMPUTE: dict[str, ComputeFn] = {
    "mrr": revenue.mrr_measure,
    "arr": revenue.arr_measure,
    "arpa": revenue.arpa_measure,
    "paying_customers": revenue.paying_customers_measure,
    "mrr_movements": revenue.mrr_movements_measure,
    "net_new_mrr": revenue.net_new_mrr_measure,
    "customer_churn_rate": revenue.customer_churn_rate_measure,
    "revenue_churn_rate": revenue.revenue_churn_rate_measure,
    "net_mrr_churn_rate": retention.net_mrr_churn_rate_measure,
    "annualized_churn_rate": retention.annualized_churn_rate_measure,
    "grr": retention.grr_measure,
    "nrr": retention.nrr_measure,
    "expansion_rate": retention.expansion_rate_measure,
    "retention_rate": retention.retention_rate_measure,
    "cohort_retention": retention.cohort_retention_measure,
    "ltv": value.ltv_measure,
    "upsell_rate": value.upsell_rate_measure,
    "cross_sell_rate": value.cross_sell_rate_measure,
    "quick_ratio": value.quick_ratio_measure,
    "nps": voice.nps_measure,
    "csat": voice.csat_measure,
    "dau": usage.dau_measure,
    "wau": usage.wau_measure,
    "mau": usage.mau_measure,
    "stickiness": usage.stickiness_measure,
    "avg_usage_minutes": usage.avg_usage_minutes_measure,
    "seat_utilization": usage.seat_utilization_measure,
    "onboarding_completion_rate": onboarding.onboarding_completion_rate_measure,
    "ttv": onboarding.ttv_measure,
    "health_score": health.health_score_measure,
}


@dataclass(frozen=True)
class MetricResult:
    metric: MetricInfo
    period: Period
    current: Measurement
    previous_period: Period
    previous: Measurement
    filters: Filters = NO_FILTERS

    @property
    def value(self) -> float | int | None:
        return self.current.value

    def to_json(self) -> dict[str, Any]:
        """The contract of ``csbot metric <name> --json`` (README, "The command line")."""
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
        # Full precision (json writes Python's repr, which reads back to the same float): a consumer
        # reproduces the number exactly; only answers for people round. NaN (and ±inf) is null.
        return value if math.isfinite(value) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def measure(calc: Calc, name: str, period: Period, filters: Filters = NO_FILTERS) -> Measurement:
    """One metric for one period (counted once per ``Calc``); KeyError for an unknown name."""
    key = catalog.get(name).name
    return calc.memo(("measure", key, period, filters), lambda: COMPUTE[key](calc, period, filters))


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
    metric = catalog.get(name)
    if calc is not None:
        return _result(calc, metric, period, filters)
    settings = settings or Settings()
    if isinstance(engine, Connection):
        return _result(Calc(engine, settings), metric, period, filters)
    with engine.connect() as conn:
        return _result(Calc(conn, settings), metric, period, filters)


def _result(calc: Calc, metric: MetricInfo, period: Period, filters: Filters) -> MetricResult:
    prev = period.previous()
    return MetricResult(
        metric=metric,
        period=period,
        current=measure(calc, metric.name, period, filters),
        previous_period=prev,
        previous=measure(calc, metric.name, prev, filters),
        filters=filters,
    )
