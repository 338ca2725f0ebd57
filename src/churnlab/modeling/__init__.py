"""Churn-risk models: time-aware training, honest evaluation, calibration, scoring, persistence.

Typical use (a notebook passes values from the typed config)::

    from churnlab.modeling import compare_models, fit_churn_model, score_accounts

    comparison = compare_models(table, metric="pr_auc", n_folds=3)
    model = fit_churn_model(table, kind=comparison.champion)
    scores = score_accounts(model, scoring_table, bands=(40, 70))

The submodules hold the building blocks (``train``: the two model kinds; ``calibration``;
``metrics``: lift, capture, ECE; ``leakage``; ``persist``).
"""

from churnlab.modeling.backtest import (
    BacktestResult,
    Candidate,
    ModelComparison,
    compare_models,
    rolling_origin_backtest,
)
from churnlab.modeling.fitting import fit_churn_model
from churnlab.modeling.leakage import leak_check
from churnlab.modeling.metrics import calibration_curve, evaluate
from churnlab.modeling.model import ChurnModel
from churnlab.modeling.persist import load_model, save_model
from churnlab.modeling.scoring import (
    early_warning,
    health_band,
    health_score,
    renewal_map,
    score_accounts,
)

__all__ = [
    "BacktestResult",
    "Candidate",
    "ChurnModel",
    "ModelComparison",
    "calibration_curve",
    "compare_models",
    "early_warning",
    "evaluate",
    "fit_churn_model",
    "health_band",
    "health_score",
    "leak_check",
    "load_model",
    "renewal_map",
    "rolling_origin_backtest",
    "save_model",
    "score_accounts",
]
