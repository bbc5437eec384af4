"""The health score (docs/metrics.md, "Health score"): a 0-100 score per account, its band,
daily snapshots, the views the answers show, and the backtest against real churn.

The rooms:
- ``model``: the TOML model (``metrics/health_model.toml`` or ``Settings.health_model``),
  its checker, the bands (written only in the model file) and the rounding they use.
- ``components``: the per-component SQL (all accounts at once) and each component's score.
- ``score``: an account's score from its components; ``score_accounts`` for many at once.
- ``snapshots``: write / check / read the stored daily scores; scores as of a day.
- ``views``: one account (facts, now and before, movers), the portfolio, who dropped to red.
- ``backtest``: how well the score foresaw churn (ROC AUC, share flagged).
- ``metric``: the compute function of the ``health_score`` metric.
- ``sql``: the SQL plumbing these share.

Numbers and stored state only: the words for them are in ``commands/health.py`` and
the message table, the command line in ``bot/cli/health.py``. Nothing runs at import:
the sync's caller and the daily job call ``write_snapshots`` / ``ensure_snapshots``.
"""

from metrics.health.backtest import BacktestMonth, BacktestResult, backtest, roc_auc
from metrics.health.components import ComponentScore, nps_value
from metrics.health.metric import health_score_measure
from metrics.health.model import (
    BANDS,
    COMPONENTS,
    DEFAULT_MODEL_PATH,
    RISKY_BANDS,
    Curve,
    HealthModel,
    HealthModelError,
    load_model,
    model_for,
    parse_model,
    rounded,
)
from metrics.health.score import AccountHealth, combine, score_accounts
from metrics.health.snapshots import (
    BandTotals,
    SnapshotScore,
    StoredComponents,
    book_totals,
    ensure_snapshots,
    forget_day_totals,
    has_snapshots,
    scores_as_of,
    snapshot_day_near,
    stored_bands,
    write_day_totals,
    write_snapshots,
)
from metrics.health.views import (
    SNAPSHOT_TOLERANCE_DAYS,
    AccountFacts,
    AccountView,
    Drop,
    DropReport,
    Portfolio,
    PortfolioRow,
    account_facts,
    account_view,
    dropped_to_red,
    portfolio,
)

__all__ = [
    "BANDS", "COMPONENTS", "DEFAULT_MODEL_PATH", "RISKY_BANDS", "SNAPSHOT_TOLERANCE_DAYS",
    "AccountFacts", "AccountHealth", "AccountView", "BacktestMonth", "BacktestResult", "ComponentScore", "Curve",
    "Drop", "DropReport", "HealthModel", "HealthModelError", "Portfolio", "PortfolioRow", "SnapshotScore", "StoredComponents",
    "BandTotals",
    "account_facts", "account_view", "backtest", "book_totals", "combine", "dropped_to_red", "ensure_snapshots", "has_snapshots",
    "health_score_measure", "load_model", "model_for", "nps_value", "parse_model", "portfolio", "roc_auc",
    "rounded", "score_accounts", "scores_as_of", "snapshot_day_near", "stored_bands",
    "forget_day_totals", "write_day_totals", "write_snapshots",
]
