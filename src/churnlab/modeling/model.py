"""The fitted churn model: one object for both model kinds (architecture.md, "Models").

``ChurnModel.prepare`` is the single place where an observation or scoring table
becomes model input, so the type checks that protect a loaded model live here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from churnlab.errors import ModelError

#: Model kinds ``ChurnModel.kind`` can take.
KINDS = ("lightgbm", "logistic")

#: Calibrated probabilities are clipped to [PROBA_FLOOR, 1 - PROBA_FLOOR] so that
#: an isotonic step at exactly 0 or 1 never yields an infinite log loss.
PROBA_FLOOR = 1e-4


@dataclass(frozen=True)
class Calibrator:
    """A monotone map from the model's raw log-odds to a calibrated probability.

    Parameters
    ----------
    method : {"isotonic", "platt"}
        ``isotonic``: piecewise-linear interpolation between ``x_thresholds``
        (raw log-odds) and ``y_thresholds`` (probabilities), constant beyond the
        ends (the same rule as scikit-learn's ``IsotonicRegression(out_of_bounds="clip")``).
        ``platt``: ``p = expit(coef * raw + intercept)``.
    x_thresholds, y_thresholds : tuple of float
        Isotonic knots.
    coef, intercept : float
        Platt coefficients.
    n_rows, n_positive : int
        Size of the held-out slice the calibrator was fitted on.
    """

    method: str
    x_thresholds: tuple[float, ...] = ()
    y_thresholds: tuple[float, ...] = ()
    coef: float = 1.0
    intercept: float = 0.0
    n_rows: int = 0
    n_positive: int = 0

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw log-odds ``raw``."""
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic":
            p = np.interp(raw, np.asarray(self.x_thresholds), np.asarray(self.y_thresholds))
        elif self.method == "platt":
            p = expit(self.coef * raw + self.intercept)
        else:
            raise ModelError(f"unknown calibration method {self.method!r}; use isotonic or platt")
        return np.clip(p, PROBA_FLOOR, 1.0 - PROBA_FLOOR)


@dataclass
class ChurnModel:
    """A fitted churn-risk model.

    Attributes
    ----------
    kind : {"lightgbm", "logistic"}
    numeric_features, categorical_features : list of str
        Model inputs, in the order ``prepare`` returns them.
    categories : dict of str to list of str
        Training levels of each categorical feature; unseen levels become missing.
    booster_ : lightgbm.Booster or None
        The LightGBM model (``kind == "lightgbm"``).
    pipeline_ : sklearn.pipeline.Pipeline or None
        The baseline (``kind == "logistic"``): steps ``preprocess`` and ``model``.
    calibrator_ : Calibrator or None
        Applied by ``predict_proba``; None = plain sigmoid of the raw log-odds.
    params : dict
        Hyperparameters used for training.
    training : dict
        Training window and sizes (``as_of_min``, ``as_of_max``, ``n_rows``,
        ``n_positive``, ``best_iteration``, ...).
    metrics : dict
        Evaluation metrics attached by the caller (e.g. backtest results).
    """

    kind: str
    numeric_features: list[str]
    categorical_features: list[str]
    categories: dict[str, list[str]]
    booster_: Any = None
    pipeline_: Any = None
    calibrator_: Calibrator | None = None
    params: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        """All input features, numerics first."""
        return [*self.numeric_features, *self.categorical_features]

    def prepare(self, table: pd.DataFrame) -> pd.DataFrame:
        """The model input frame: numerics float64, categoricals ``category`` with training levels.

        Raises
        ------
        ModelError
            A feature is missing, or has a type the model was not trained on
            (the message names the feature, the expected and the found type).
        """
        return prepare_features(
            table, self.numeric_features, self.categorical_features, self.categories
        )

    def predict_raw(self, table: pd.DataFrame) -> np.ndarray:
        """Log-odds of churn from the uncalibrated model."""
        X = self.prepare(table)
        if self.kind == "lightgbm":
            # Always with the model's thread count: a call without one makes LightGBM reset
            # its process-wide default mid-way through fits on other threads (the backtest's
            # model.fold_workers), which crashed a fit (SIGFPE) and would change its threads.
            threads = int((self.params or {}).get("num_threads", 1))
            return np.asarray(
                self.booster_.predict(X, raw_score=True, num_threads=threads), dtype=float
            )
        if self.kind == "logistic":
            return np.asarray(self.pipeline_.decision_function(X), dtype=float)
        raise ModelError(f"unknown model kind {self.kind!r}; expected one of {KINDS}")

    def predict_proba(self, table: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of churn, one per row of ``table``."""
        raw = self.predict_raw(table)
        if self.calibrator_ is None:
            return expit(raw)
        return self.calibrator_.transform(raw)

    def with_calibrator(self, calibrator: Calibrator | None) -> ChurnModel:
        """A copy of this model using ``calibrator`` (the fitted model is shared)."""
        return replace(self, calibrator_=calibrator)

    def _repr_html_(self) -> str:
        """Kind, features, training window and sizes, early stopping, backtest metrics."""
        from churnlab.display import html_block
        from churnlab.modeling.sentences import learning_curve
        from churnlab.vocabulary import vocabulary

        words = vocabulary()
        said, t = words.text, self.training
        key = "workbench.model."
        labels = ", ".join(words.feature_label(f) for f in self.features)
        counts = (
            said(key + "numeric", n=len(self.numeric_features)),
            said(key + "categorical", n=len(self.categorical_features)),
        )
        rows = [(said(key + "features"), f"{counts[0]}, {counts[1]}: {labels}")]
        if t.get("as_of_min"):
            window = f"{words.date(str(t['as_of_min']))} – {words.date(str(t.get('as_of_max')))}"
            rows.append((said(key + "window"), window))
        for name, column in (("rows", "n_rows"), ("churned", "n_positive")):
            if t.get(column) is not None:
                rows.append((said(key + name), words.number(t[column])))
        method = self.calibrator_.method if self.calibrator_ else said("workbench.missing")
        rows.append((said(key + "calibration"), method))
        asked = t.get("n_estimators") or self.params.get("n_estimators")
        if t.get("best_iteration") is not None and asked is not None:
            patience = t.get("early_stopping_rounds") or self.params.get("early_stopping_rounds")
            rounds = said(
                key + "rounds_value",
                best=words.number(t["best_iteration"]),
                asked=words.number(asked),
                rounds=words.number(patience or 0),
            )
            rows.append((said(key + "rounds"), rounds))
        if t.get("valid_loss_first") is not None:
            curve = said(
                key + "learning_curve_value",
                first=words.fixed(t["valid_loss_first"], 3),
                best=words.fixed(t.get("valid_loss_best"), 3),
                last=words.fixed(t.get("valid_loss_last"), 3),
            )
            rows.append((said(key + "learning_curve"), curve))
        for metric, value in self.metrics.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                rows.append((said(key + "metrics", metric=metric), words.fixed(value, 3)))
        note = learning_curve(t)
        notes = [note["text"]] if note and t.get("stopping") != "stopped" else []
        return html_block(said(key + "title", kind=self.kind), rows, notes)

    def __repr__(self) -> str:
        cal = self.calibrator_.method if self.calibrator_ else "none"
        return (
            f"ChurnModel(kind={self.kind!r}, numeric={len(self.numeric_features)}, "
            f"categorical={len(self.categorical_features)}, calibration={cal!r})"
        )


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def _is_categorical(series: pd.Series) -> bool:
    return (
        isinstance(series.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(series)
        or pd.api.types.is_string_dtype(series)
    )


def as_levels(series: pd.Series) -> pd.Series:
    """Categorical values as strings (missing stays missing), object dtype."""
    values = series.astype(object)
    missing = values.isna()
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        # already strings (the usual case): skip the per-value str() conversion
        return values.where(~missing, np.nan) if missing.any() else values
    return values.where(missing, values.astype(str)).where(~missing, np.nan)


def prepare_features(
    table: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    categories: dict[str, list[str]],
) -> pd.DataFrame:
    """Check types and build the model input frame (see ``ChurnModel.prepare``)."""
    missing = [c for c in [*numeric, *categorical] if c not in table.columns]
    if missing:
        raise ModelError(
            f"feature {missing[0]!r} is missing from the table (expected by the model; "
            f"{len(missing)} missing in all: {missing[:5]}); build the table with the same "
            "feature settings the model was trained with"
        )
    for name in numeric:
        col = table[name]
        if not _is_numeric(col):
            raise ModelError(
                f"feature {name!r}: expected a numeric type (float/int/bool), found {col.dtype}"
            )
    num = table[list(numeric)].astype("float64")
    columns: dict[str, pd.Series] = {}
    for name in categorical:
        col = table[name]
        if not _is_categorical(col):
            raise ModelError(
                f"feature {name!r}: expected a categorical type (str/object/category), "
                f"found {col.dtype}"
            )
        columns[name] = pd.Series(
            pd.Categorical(as_levels(col), categories=categories[name]), index=col.index
        )
    if not columns:
        return num
    return pd.concat([num, pd.DataFrame(columns, index=table.index)], axis=1)
