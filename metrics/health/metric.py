"""The ``health_score`` metric's computation: the mean score of the paying accounts at
the end of the period, with the number of accounts and the MRR in each band.

The metric's declaration (labels, descriptions, formula text) lives in the metric
catalog, which binds ``health_score_measure`` as its compute function.
"""

from __future__ import annotations

from typing import Any

from metrics.calc import Calc, Measurement
from metrics.filters import Filters
from metrics.health.model import BANDS
from metrics.health.snapshots import book_scores
from metrics.periods import Period


def health_score_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    """Mean score as of the period's end (capped at the answer's today), parts per band: from the
    day's stored snapshots when there are some, else every paying account scored now."""
    day = min(period.end, calc.today)
    scores = calc.memo(("health_scores", day, filters),
                       lambda: book_scores(calc.conn, day, filters, calc.settings))
    counts = {b: 0 for b in BANDS}
    mrr = {b: 0.0 for b in BANDS}
    values = []
    for x in scores.values():
        if x.score is None:
            continue
        values.append(x.score)
        counts[x.band] += 1  # type: ignore[index]
        mrr[x.band] += x.mrr  # type: ignore[index]
    mean = sum(values) / len(values) if values else None
    parts: dict[str, Any] = {"accounts": len(values), "score_sum": round(sum(values), 2), "as_of": day}
    for b in BANDS:
        parts[f"{b}_accounts"] = counts[b]
        parts[f"{b}_mrr"] = round(mrr[b], 2)
    return Measurement(None if mean is None else round(mean, 2), parts)
