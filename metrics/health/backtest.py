"""The backtest: how well the score, taken ``lead_days`` before each month, separated
the accounts that churned in the month from those that stayed (ROC AUC and the
share of each group flagged red or yellow). The words for it are the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Sequence

from sqlalchemy import Connection, Engine, case, func, select

from metrics import schema
from metrics.active import active_on
from metrics.filters import NO_FILTERS, Filters
from metrics.health.model import RISKY_BANDS, HealthModel, model_for
from metrics.health.score import score_accounts
from metrics.health.sql import chunks
from metrics.periods import add_months
from metrics.settings import Settings

s = schema.subscriptions


def roc_auc(scores_churned: Sequence[float], scores_stayed: Sequence[float]) -> float | None:
    """How well a low score points at churn: the probability that a random stayer
    scored higher than a random churner (ties count half). Mann-Whitney U / (n1 n2)."""
    n1, n0 = len(scores_churned), len(scores_stayed)
    if not n1 or not n0:
        return None
    values = sorted([(v, 0) for v in scores_churned] + [(v, 1) for v in scores_stayed])
    # average ranks over ties
    rank_sum_stayed = 0.0
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1][0] == values[i][0]:
            j += 1
        avg_rank = (i + j) / 2 + 1
        rank_sum_stayed += avg_rank * sum(1 for k in range(i, j + 1) if values[k][1] == 1)
        i = j + 1
    u_stat = rank_sum_stayed - n0 * (n0 + 1) / 2
    return u_stat / (n0 * n1)


@dataclass(frozen=True)
class BacktestMonth:
    """One month of the backtest: its sample scored ``lead_days`` before it began, and who churned."""

    month: date  # first day of the month
    as_of: date  # 60 days before
    accounts: int
    churned: int
    churned_flagged: int  # churned and red/yellow on as_of
    stayed_flagged: int
    auc: float | None


@dataclass(frozen=True)
class BacktestResult:
    """The backtest over every month, with the month rows; ``to_json`` is the CLI's --json."""

    months: tuple[BacktestMonth, ...]
    lead_days: int
    accounts: int  # account-months scored
    churned: int
    stayed: int
    churned_flagged: int
    stayed_flagged: int
    churned_red: int
    auc: float | None
    model_path: str

    @property
    def share_churned_flagged(self) -> float | None:
        return self.churned_flagged / self.churned if self.churned else None

    @property
    def share_stayed_flagged(self) -> float | None:
        return self.stayed_flagged / self.stayed if self.stayed else None

    def to_json(self) -> dict[str, Any]:
        return {
            "months": [{"month": m.month.isoformat(), "as_of": m.as_of.isoformat(), "accounts": m.accounts,
                        "churned": m.churned, "churned_flagged": m.churned_flagged,
                        "stayed_flagged": m.stayed_flagged, "auc": m.auc} for m in self.months],
            "lead_days": self.lead_days, "accounts": self.accounts, "churned": self.churned, "stayed": self.stayed,
            "churned_flagged": self.churned_flagged, "stayed_flagged": self.stayed_flagged,
            "churned_red": self.churned_red,
            "share_churned_flagged": self.share_churned_flagged, "share_stayed_flagged": self.share_stayed_flagged,
            "auc": self.auc, "model": self.model_path,
        }


def _paying_between(conn: Connection, start: date, end: date, ids: Sequence[str]) -> dict[str, tuple[bool, bool]]:
    """Per account: (paying at 00:00 of start, paying at 00:00 of end)."""
    out: dict[str, tuple[bool, bool]] = {}
    for chunk in chunks(list(ids)):
        stmt = select(
            s.c.account_id,
            func.sum(case((active_on(start), s.c.mrr), else_=0)).label("m0"),
            func.sum(case((active_on(end), s.c.mrr), else_=0)).label("m1"),
        ).where(s.c.account_id.in_(chunk), s.c.start_date <= end).group_by(s.c.account_id)
        for r in conn.execute(stmt).mappings():
            out[r["account_id"]] = (float(r["m0"] or 0) > 0, float(r["m1"] or 0) > 0)
    return out


def backtest(engine: Engine | Connection, months: int = 6, settings: Settings | None = None, *,
             today: date, lead_days: int = 60, model: HealthModel | None = None,
             filters: Filters = NO_FILTERS) -> BacktestResult:
    """How well the score, taken ``lead_days`` before each of the last ``months``
    complete months, separated the accounts that churned in the month from those that stayed.

    Sample of a month M: accounts paying ``lead_days`` before M's first day and
    still paying on it; churned = not paying at the start of the next month. ``today``
    (the caller's) decides which months are complete."""
    settings = settings or Settings()
    model = model or model_for(settings)
    if months < 1:
        raise ValueError("months must be at least 1")
    first = add_months(today.replace(day=1), -months)
    if isinstance(engine, Connection):
        return _backtest(engine, first, months, settings, lead_days, model, filters)
    with engine.connect() as conn:
        return _backtest(conn, first, months, settings, lead_days, model, filters)


def _backtest(conn: Connection, first: date, months: int, settings: Settings, lead_days: int, model: HealthModel,
              filters: Filters) -> BacktestResult:
    all_churned: list[float] = []
    all_stayed: list[float] = []
    rows = []
    churned_flagged = stayed_flagged = churned_red = 0
    for k in range(months):
        month = add_months(first, k)
        nxt = add_months(month, 1)
        as_of = month - timedelta(days=lead_days)
        scores = score_accounts(conn, as_of, filters, settings, model=model)
        paying = _paying_between(conn, month, nxt, list(scores))
        ch: list[float] = []
        st: list[float] = []
        cf = sf = 0
        for acc_id, hl in scores.items():
            at_start, at_end = paying.get(acc_id, (False, False))
            if not at_start or hl.score is None:
                continue
            flagged = hl.band in RISKY_BANDS
            if at_end:
                st.append(hl.score)
                sf += flagged
            else:
                ch.append(hl.score)
                cf += flagged
                churned_red += hl.band == "red"
        rows.append(BacktestMonth(month, as_of, len(ch) + len(st), len(ch), cf, sf, roc_auc(ch, st)))
        all_churned += ch
        all_stayed += st
        churned_flagged += cf
        stayed_flagged += sf
    return BacktestResult(tuple(rows), lead_days, len(all_churned) + len(all_stayed), len(all_churned),
                          len(all_stayed), churned_flagged, stayed_flagged, churned_red,
                          roc_auc(all_churned, all_stayed), model.path)
