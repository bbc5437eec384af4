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
from metrics.health.snapshots import SCORE_UNITS, book_totals
from metrics.periods import Period


def health_score_measure(calc: Calc, period: Period, filters: Filters) -> Measurement:
    """Mean score as of the period's end (capped at the answer's today), parts per band: from the
    day's stored snapshots when there are some, else every paying account scored now; added up in
    the database (``book_totals``), scores summed exactly in 1/10,000ths."""
    day = min(period.end, calc.today)
    bands = calc.memo(("health_totals", day, filters),
                      lambda: book_totals(calc.conn, day, filters, calc.settings).get(None, {}))
    accounts = sum(t.accounts for t in bands.values())
    units = sum(t.score_units for t in bands.values())
    parts: dict[str, Any] = {"accounts": accounts, "score_sum": round(units / SCORE_UNITS, 2), "as_of": day}
    for b in BANDS:
        t = bands.get(b)
        parts[f"{b}_accounts"] = t.accounts if t else 0
        parts[f"{b}_mrr"] = round(t.mrr, 2) if t else 0.0
    mean = units / SCORE_UNITS / accounts if accounts else None
    return Measurement(None if mean is None else round(mean, 2), parts)
