"""Time to churn: a discrete-time hazard model on landmark person-period rows.

For each observation (account, as_of) with its features frozen at as_of, one row per month
after it while the account is still a customer (:func:`person_period`); a calibrated
classifier of "churns in this month" (LightGBM or logistic, :func:`fit_hazard`) gives the
monthly hazard, and ``S(k) = prod (1 - h)`` the survival curve (:func:`survival_from_hazards`),
from which :func:`fit_survival` takes each account's 12-month survival, its probability of
churning before its renewal, its expected lifetime over the supported horizon, and the
retained-ARR forecast with its interval. Cox PH and Weibull AFT (lifelines) are the
baselines; Harrell's C, the integrated Brier score and D-calibration score them all on a
time-aware backtest (:mod:`churnlab.survival._metrics`).

An analysis layer: it imports ``modeling`` and ``messages``, never ``report``, ``delivery``,
``run`` or ``cli``.
"""

from churnlab.survival._baselines import Baseline, fit_baselines
from churnlab.survival._curves import (
    churn_before,
    restricted_mean,
    retention_forecast,
    survival_at,
    survival_from_hazards,
)
from churnlab.survival._evaluate import backtest_split, score_curves, supported_horizon
from churnlab.survival._hazard import HazardModel, fit_hazard
from churnlab.survival._landmarks import (
    MONTH_DAYS,
    event_landmarks,
    person_period,
    snapshot_landmarks,
    thin_landmarks,
)
from churnlab.survival._metrics import (
    brier_by_month,
    c_index,
    d_calibration,
    integrated_brier_score,
)
from churnlab.survival._outlook import (
    OUTLOOK_COLUMNS,
    SurvivalOutcome,
    SurvivalSettings,
    empty_outlook,
    fit_survival,
)

__all__ = [
    "MONTH_DAYS",
    "OUTLOOK_COLUMNS",
    "Baseline",
    "HazardModel",
    "SurvivalOutcome",
    "SurvivalSettings",
    "backtest_split",
    "brier_by_month",
    "c_index",
    "churn_before",
    "d_calibration",
    "empty_outlook",
    "event_landmarks",
    "fit_baselines",
    "fit_hazard",
    "fit_survival",
    "integrated_brier_score",
    "person_period",
    "restricted_mean",
    "retention_forecast",
    "score_curves",
    "snapshot_landmarks",
    "supported_horizon",
    "survival_at",
    "survival_from_hazards",
    "thin_landmarks",
]
