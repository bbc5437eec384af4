"""Scores: one account's health from its components (the weighted mean, renormalised
over the components with data) and the scores of every account asked at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Iterator, Sequence

from sqlalchemy import Connection

from metrics.filters import NO_FILTERS, Filters
from metrics.health.components import (
    ComponentScore,
    account_age,
    iter_components,
    population,
)
from metrics.health.model import COMPONENTS, HealthModel, model_for, rounded
from metrics.health.sql import IN_CHUNK
from metrics.settings import Settings


@dataclass(frozen=True)
class AccountHealth:
    """One account's health on a day: the score, its band, the components and the weights used."""

    account_id: str
    day: date
    score: float | None
    band: str | None
    components: dict[str, ComponentScore]
    left_out: tuple[str, ...]  # components with no data (weights renormalised without them)
    weights: dict[str, float]  # the normalised weights used (sum 1 over the components scored)
    onboarding_phase: bool
    mrr: float
    paying: bool

    @property
    def rounded_score(self) -> int | None:
        return None if self.score is None else rounded(self.score)

    def components_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: comp.to_json() for name, comp in self.components.items()}
        out["_left_out"] = list(self.left_out)
        out["_onboarding_phase"] = self.onboarding_phase
        return out


def score_accounts(conn: Connection, day: date, filters: Filters = NO_FILTERS, settings: Settings | None = None,
                   *, account_ids: Sequence[str] | None = None, model: HealthModel | None = None,
                   paying_only: bool | None = None) -> dict[str, AccountHealth]:
    """The health of every paying account on ``day`` (state at 00:00 of ``day``) passing ``filters``.

    With ``account_ids``, only those accounts are scored (paying or not, unless
    ``paying_only``), and every statement is filtered by them."""
    return {h.account_id: h for h in iter_scores(conn, day, filters, settings, account_ids=account_ids, model=model,
                                                 paying_only=paying_only)}


def iter_scores(conn: Connection, day: date, filters: Filters = NO_FILTERS, settings: Settings | None = None,
                *, account_ids: Sequence[str] | None = None, model: HealthModel | None = None,
                paying_only: bool | None = None) -> Iterator[AccountHealth]:
    """``score_accounts`` one account at a time (the same statements, run once): for a caller that
    stores each score and forgets it, so a whole book is never held in memory at once."""
    settings = settings or Settings()
    model = model or model_for(settings)
    if paying_only is None:
        paying_only = account_ids is None
    pop = population(conn, day, filters, model, account_ids, paying_only)
    if not pop:
        return
    ids = [r["account_id"] for r in pop]
    # For the whole book, one grouped statement over every account beats long IN lists.
    query_ids = ids if account_ids is not None or len(ids) <= IN_CHUNK else None
    for row, comps in iter_components(conn, day, pop, model, tuple(settings.onboarding_milestones), query_ids):
        age = account_age(row, day)
        phase = age is not None and age < model.onboarding_phase_days
        yield combine(row["account_id"], day, comps, model, phase, float(row["mrr"] or 0))


def combine(account_id: str, day: date, comps: dict[str, ComponentScore], model: HealthModel,
            onboarding_phase: bool = False, mrr: float = 0.0) -> AccountHealth:
    """The weighted mean of the component scores; components without data are left out
    and the remaining weights renormalised."""
    weights = model.weights_for(onboarding_phase)
    # One pass over the components (a whole book is scored at once): weighted sum of the scored
    # ones, the weighted ones without data left out.
    used: dict[str, float] = {}
    weighted = 0.0
    for k, w in weights.items():
        if w > 0:
            comp = comps.get(k)
            if comp is not None and comp.score is not None:
                used[k] = w
                weighted += comp.score * w
    left_out = tuple(k for k in COMPONENTS if weights.get(k, 0) > 0 and k not in used)
    total = sum(used.values())
    if total > 0:
        score = weighted / total
        norm = {k: w / total for k, w in used.items()}
    else:
        score, norm = None, {}
    return AccountHealth(account_id=account_id, day=day, score=score, band=model.band(score), components=comps,
                         left_out=left_out, weights=norm, onboarding_phase=onboarding_phase, mrr=mrr,
                         paying=mrr > 0)
