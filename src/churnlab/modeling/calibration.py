"""Probability calibration on a later held-out slice.

Raw model scores rank well but their level drifts (LightGBM with early stopping,
a regularised logistic model). The calibrator maps the model's raw log-odds to
observed churn rates on data the model did not train on: for time-stamped data
the latest ``as_of`` dates, for snapshot data a stratified random slice
(see ``fitting.fit_churn_model``).

* ``isotonic`` (default): centered isotonic regression, a monotone fit
  (pool-adjacent-violators) whose blocks become knots at their mean raw score,
  applied as linear interpolation between knots; needs a few hundred held-out
  rows and some dozens of churners.
* ``platt``: a one-feature logistic regression on the raw log-odds (unregularised);
  smoother, better with few held-out churners.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from churnlab.errors import ModelError
from churnlab.modeling.model import Calibrator, ChurnModel

METHODS = ("isotonic", "platt")


def centered_isotonic_knots(raw: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots of centered isotonic regression (Oron and Flournoy, 2017).

    Pool-adjacent-violators (scikit-learn ``IsotonicRegression``) gives blocks of
    constant churn rate; each block becomes one knot at the mean raw score of its
    rows. Interpolating between knots keeps the calibration of the step fit but is
    strictly increasing inside the knot range, so calibration does not create ties
    that would cost ROC AUC. Beyond the first and last knot the map is constant.
    """
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
    fitted = iso.predict(raw)
    blocks = pd.DataFrame({"x": raw, "level": fitted}).groupby("level", sort=True)["x"].mean()
    return blocks.to_numpy(dtype=float), blocks.index.to_numpy(dtype=float)


def fit_calibrator(raw, y_true, method: str = "isotonic") -> Calibrator:
    """Fit a calibrator from raw log-odds ``raw`` to 0/1 outcomes ``y_true``.

    Parameters
    ----------
    raw : array-like of float
        Uncalibrated log-odds on the held-out slice.
    y_true : array-like of int
        Outcomes on the same rows.
    method : {"isotonic", "platt"}

    Returns
    -------
    Calibrator
    """
    x = np.asarray(raw, dtype=float)
    y = np.asarray(y_true, dtype=int)
    if method not in METHODS:
        raise ModelError(f"unknown calibration method {method!r}; use one of {METHODS}")
    if len(np.unique(y)) < 2:
        raise ModelError(
            "calibration slice holds a single label value; use a longer history or a "
            "larger calibration fraction"
        )
    n_pos = int(y.sum())
    if method == "isotonic":
        knots_x, knots_y = centered_isotonic_knots(x, y)
        return Calibrator(
            method="isotonic",
            x_thresholds=tuple(float(v) for v in knots_x),
            y_thresholds=tuple(float(v) for v in knots_y),
            n_rows=len(y),
            n_positive=n_pos,
        )
    lr = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000).fit(x.reshape(-1, 1), y)
    return Calibrator(
        method="platt",
        coef=float(lr.coef_[0, 0]),
        intercept=float(lr.intercept_[0]),
        n_rows=len(y),
        n_positive=n_pos,
    )


def calibrate(model: ChurnModel, table: pd.DataFrame, method: str = "isotonic") -> ChurnModel:
    """Return a copy of ``model`` whose ``predict_proba`` is calibrated on ``table``.

    ``table`` must be a held-out slice the model was not trained on, later in
    time than the training rows for time-stamped data.
    """
    raw = model.predict_raw(table)
    calibrator = fit_calibrator(raw, table["label"].astype(int).to_numpy(), method)
    return model.with_calibrator(calibrator)
