"""Leak check: features that alone separate churners almost perfectly.

A real churn signal (logins, tickets, NPS) seldom reaches a single-feature ROC
AUC of 0.95; a column computed from the outcome (the churn date, a cancellation
flag written after the fact, the label plus noise) does. churnlab's rule:

* ``leak_check`` reports the single-feature AUC of every feature;
* ``fit_baseline`` / ``fit_lightgbm`` refuse (``ModelError``) a feature whose
  AUC on the training table is >= ``LEAK_AUC`` unless it is listed in
  ``allow_leaky``;
* the rolling-origin backtest runs ``leak_check`` on every *test fold* (later
  data the model never saw) and reports the flags in ``BacktestResult.leaks``.

The single-feature AUC is direction-free (``max(auc, 1 - auc)``). Numerics are
ranked as they are, missing values below every observed value; categoricals are
ranked by their in-sample churn rate per level (optimistic on purpose: a check
should over-flag rather than miss).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from churnlab.errors import ModelError
from churnlab.modeling.model import as_levels

#: Single-feature ROC AUC from which a feature counts as a suspected leak.
LEAK_AUC = 0.95


def _single_auc(values: np.ndarray, y: np.ndarray) -> float:
    auc = roc_auc_score(y, values)
    return float(max(auc, 1.0 - auc))


def _numeric_scores(series: pd.Series) -> np.ndarray:
    values = series.astype("float64").to_numpy()
    if np.isnan(values).all():
        return np.zeros(len(values))
    floor = np.nanmin(values) - 1.0
    return np.where(np.isnan(values), floor, values)


def _categorical_scores(series: pd.Series, y: np.ndarray) -> np.ndarray:
    levels = as_levels(series).fillna("__missing__")
    rate = pd.Series(y, index=series.index).groupby(levels).transform("mean")
    return rate.to_numpy(dtype=float)


def leak_check(
    table: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    *,
    threshold: float = LEAK_AUC,
) -> pd.DataFrame:
    """Single-feature ROC AUC of every feature against ``label``.

    Parameters
    ----------
    table : pandas.DataFrame
        Observation table with a 0/1 ``label``.
    numeric, categorical : list of str
        Features to check.
    threshold : float
        AUC from which ``suspected_leak`` is True.

    Returns
    -------
    pandas.DataFrame
        Columns ``feature``, ``type``, ``auc``, ``suspected_leak``; sorted by
        ``auc`` descending. Empty when ``label`` holds a single value.
    """
    y = table["label"].astype(int).to_numpy()
    columns = ["feature", "type", "auc", "suspected_leak"]
    if len(np.unique(y)) < 2:
        return pd.DataFrame(columns=columns)
    rows = [(c, "numeric", _single_auc(_numeric_scores(table[c]), y)) for c in numeric]
    rows += [
        (c, "categorical", _single_auc(_categorical_scores(table[c], y), y)) for c in categorical
    ]
    out = pd.DataFrame(rows, columns=columns[:3])
    out["suspected_leak"] = out["auc"] >= threshold
    return out.sort_values("auc", ascending=False, kind="mergesort").reset_index(drop=True)


def check_leaks(
    table: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    *,
    allow: Iterable[str] = (),
    threshold: float = LEAK_AUC,
) -> None:
    """Raise ``ModelError`` naming every suspected leak not listed in ``allow``."""
    report = leak_check(table, numeric, categorical, threshold=threshold)
    if report.empty:
        return
    flagged = report[report["suspected_leak"] & ~report["feature"].isin(list(allow))]
    if len(flagged):
        listing = ", ".join(
            f"{f!r} (AUC {a:.3f})" for f, a in zip(flagged["feature"], flagged["auc"], strict=True)
        )
        raise ModelError(
            f"suspected label leak: {listing} separate churners almost perfectly on their own "
            f"(single-feature ROC AUC >= {threshold}). A feature must use only data strictly "
            "before as_of; drop it (features.exclude in params.yaml) or, if it is truly "
            "available at scoring time, pass it in allow_leaky."
        )
