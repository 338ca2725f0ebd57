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
should over-flag rather than miss). With fewer than :data:`MIN_CLASS_ROWS` churned or
retained rows the check reports but never refuses a fit: on so few rows an ordinary
column (an industry with ten levels and five churners) can separate them perfectly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from churnlab.errors import ModelError
from churnlab.modeling.model import as_levels

#: Single-feature ROC AUC from which a feature counts as a suspected leak.
LEAK_AUC = 0.95
#: Fewest churned (and retained) rows with which a suspected leak stops a fit.
MIN_CLASS_ROWS = 20

#: Single-feature AUCs already computed inside :func:`shared_leak_checks`, by rows and feature.
_MEMO: ContextVar[dict[tuple[bytes, str, str], float] | None] = ContextVar(
    "churnlab_leak_memo", default=None
)


@contextmanager
def shared_leak_checks() -> Iterator[None]:
    """Compute each feature's single-feature AUC on the same rows only once inside the block.

    The model comparison checks the same training and test rows once per candidate (the
    logistic model, LightGBM and the plain reference share folds and most features); inside
    this block a feature's AUC on rows already checked is taken from memory. Rows are
    recognised by the table's index and labels, so the block must only see tables cut from
    one observation table (as :func:`~churnlab.modeling.backtest.compare_models` does).
    The numbers are the same as without the block.
    """
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def _rows_key(table: pd.DataFrame, y: np.ndarray) -> bytes:
    """A digest of which rows ``table`` holds (its index) and their labels."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(pd.util.hash_pandas_object(table.index, index=False).to_numpy().tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.int8).tobytes())
    return digest.digest()


def single_feature_auc(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ROC AUC of each column of ``scores`` as a predictor of the 0/1 outcome ``y``.

    Mann-Whitney U on mid-ranks, all columns at once:
    ``AUC = (R1 - n1 (n1 + 1) / 2) / (n1 n0)`` with ``R1`` the rank sum of the
    positives (ties get their average rank, i.e. count one half, as in
    ``sklearn.metrics.roc_auc_score``).

    Parameters
    ----------
    scores : numpy.ndarray
        Shape ``(n_rows,)`` or ``(n_rows, n_features)``; finite or infinite
        floats, no NaN.
    y : numpy.ndarray
        Shape ``(n_rows,)``, 0/1 with both values present.

    Returns
    -------
    numpy.ndarray
        One AUC per column (a 0-d array for 1-d ``scores``).
    """
    x = np.asarray(scores, dtype=float)
    pos = np.asarray(y).astype(bool)
    n1 = int(pos.sum())
    n0 = len(pos) - n1
    if n1 == 0 or n0 == 0:
        raise ModelError("single-feature AUC needs both label values")
    ranks = rankdata(x, axis=0, method="average")
    r1 = ranks[pos].sum(axis=0)
    return (r1 - n1 * (n1 + 1) / 2.0) / (float(n1) * float(n0))


def _numeric_scores(frame: pd.DataFrame) -> np.ndarray:
    """Numerics as floats, missing values below every observed value (-inf)."""
    values = frame.astype("float64").to_numpy(dtype=float)
    return np.where(np.isnan(values), -np.inf, values)


def _categorical_scores(series: pd.Series, y: np.ndarray) -> np.ndarray:
    """Each row's in-sample churn rate of its level (missing is a level of its own)."""
    codes, _ = pd.factorize(as_levels(series), use_na_sentinel=False)
    positives = np.bincount(codes, weights=y)
    counts = np.bincount(codes)
    return (positives / counts)[codes]


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
    auc = _feature_aucs(table, list(numeric), list(categorical), y)
    out = pd.DataFrame(
        {
            "feature": [*numeric, *categorical],
            "type": ["numeric"] * len(numeric) + ["categorical"] * len(categorical),
            "auc": np.maximum(auc, 1.0 - auc),
        }
    )
    out["suspected_leak"] = out["auc"] >= threshold
    return out.sort_values("auc", ascending=False, kind="mergesort").reset_index(drop=True)


def _feature_aucs(
    table: pd.DataFrame, numeric: list[str], categorical: list[str], y: np.ndarray
) -> np.ndarray:
    """Raw single-feature AUCs, numerics then categoricals (memoised in :func:`shared_leak_checks`)."""
    memo = _MEMO.get()
    if memo is None:
        return _compute_aucs(table, numeric, categorical, y)
    rows = _rows_key(table, y)
    keys = [(rows, "numeric", c) for c in numeric] + [(rows, "categorical", c) for c in categorical]
    todo_num = [c for c in numeric if (rows, "numeric", c) not in memo]
    todo_cat = [c for c in categorical if (rows, "categorical", c) not in memo]
    if todo_num or todo_cat:
        fresh = _compute_aucs(table, todo_num, todo_cat, y)
        todo = [(rows, "numeric", c) for c in todo_num] + [
            (rows, "categorical", c) for c in todo_cat
        ]
        memo.update(zip(todo, (float(a) for a in fresh), strict=True))
    return np.array([memo[k] for k in keys], dtype=float)


def _compute_aucs(
    table: pd.DataFrame, numeric: list[str], categorical: list[str], y: np.ndarray
) -> np.ndarray:
    blocks = [_numeric_scores(table[numeric]).reshape(len(y), len(numeric))]
    blocks += [_categorical_scores(table[c], y)[:, None] for c in categorical]
    return np.atleast_1d(single_feature_auc(np.hstack(blocks), y))


def check_leaks(
    table: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    *,
    allow: Iterable[str] = (),
    threshold: float = LEAK_AUC,
) -> None:
    """Raise ``ModelError`` naming every suspected leak not listed in ``allow``.

    Nothing is refused with fewer than :data:`MIN_CLASS_ROWS` churned or retained rows.
    """
    y = table["label"].astype(int)
    if min(int(y.sum()), int((1 - y).sum())) < MIN_CLASS_ROWS:
        return
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
