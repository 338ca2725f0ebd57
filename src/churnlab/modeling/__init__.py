"""Churn-risk models: time-aware training, honest evaluation, calibration, scoring, persistence.

Typical use (a notebook passes values from the typed config)::

    from churnlab.modeling import compare_models, fit_churn_model, score_accounts

    comparison = compare_models(table, metric="pr_auc", n_folds=3)
    model = fit_churn_model(table, kind=comparison.attrs["champion"])
    scores = score_accounts(model, scoring_table, bands=(40, 70))
"""

from churnlab.modeling.backtest import (
    BacktestResult,
    choose_champion,
    compare_models,
    rolling_origin_backtest,
)
from churnlab.modeling.calibration import calibrate, fit_calibrator
from churnlab.modeling.fitting import fit_churn_model
from churnlab.modeling.leakage import LEAK_AUC, check_leaks, leak_check, single_feature_auc
from churnlab.modeling.metrics import (
    calibration_curve,
    capture_at,
    evaluate,
    expected_calibration_error,
    lift_at,
)
from churnlab.modeling.model import Calibrator, ChurnModel
from churnlab.modeling.persist import load_model, save_model
from churnlab.modeling.scoring import (
    early_warning,
    health_band,
    health_score,
    renewal_map,
    score_accounts,
    touch_tier,
)
from churnlab.modeling.train import (
    LIGHTGBM_DEFAULTS,
    feature_columns,
    fit_baseline,
    fit_lightgbm,
    holdout_split,
)

__all__ = [
    "LEAK_AUC",
    "LIGHTGBM_DEFAULTS",
    "BacktestResult",
    "Calibrator",
    "ChurnModel",
    "calibrate",
    "calibration_curve",
    "capture_at",
    "check_leaks",
    "choose_champion",
    "compare_models",
    "early_warning",
    "evaluate",
    "expected_calibration_error",
    "feature_columns",
    "fit_baseline",
    "fit_calibrator",
    "fit_churn_model",
    "fit_lightgbm",
    "health_band",
    "health_score",
    "holdout_split",
    "leak_check",
    "lift_at",
    "load_model",
    "renewal_map",
    "rolling_origin_backtest",
    "save_model",
    "score_accounts",
    "single_feature_auc",
    "touch_tier",
]
