"""Evaluation metrics for churn probabilities.

Conventions (tested on hand-worked fixtures):

* **PR AUC** is average precision (scikit-learn's ``average_precision_score``:
  the step-wise area, no linear interpolation, which would be optimistic).
* **Top k%** means the first ``ceil(k * n)`` rows when sorted by probability
  descending; ties keep the input order (stable sort), so the result is
  deterministic.
* **Lift at k%** = churn rate in the top k% / overall churn rate.
  **Capture at k%** = churners in the top k% / all churners.
* **Calibration curve**: 10 equal-width bins on [0, 1] (bin i holds
  ``i/10 <= p < (i+1)/10``, the last bin includes 1.0); per non-empty bin the mean
  predicted probability, the observed churn rate and the row count.
* **ECE** (expected calibration error) = sum over non-empty bins of
  ``count / n * |observed rate - mean predicted|`` on those same bins.
* **Quantile calibration** (the report's chart): equal-count bins of the rows sorted by
  probability (stable sort, so ties keep the input order; counts differ by at most one),
  ten when there are at least ``10 * min_per_bin`` rows, fewer otherwise; per bin the mean
  predicted probability, the observed churn rate and its Wilson score interval.
* **Wilson score interval** (95% by default) of ``k`` successes in ``n`` trials: the
  interval ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")`` gives, in closed
  form (vectorised).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

#: Metrics where a lower value is better.
LOWER_IS_BETTER = frozenset({"brier", "log_loss", "ece"})


def _arrays(y_true, proba) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(proba, dtype=float)
    if y.shape != p.shape:
        raise ValueError(f"y_true and proba differ in shape: {y.shape} vs {p.shape}")
    return y, p


def top_mask(proba, fraction: float) -> np.ndarray:
    """Boolean mask of the top ``ceil(fraction * n)`` rows by probability (stable)."""
    p = np.asarray(proba, dtype=float)
    n_top = math.ceil(fraction * len(p) - 1e-9)
    order = np.argsort(-p, kind="mergesort")
    mask = np.zeros(len(p), dtype=bool)
    mask[order[:n_top]] = True
    return mask


def lift_at(y_true, proba, fraction: float) -> float:
    """Churn rate among the top ``fraction`` of rows divided by the overall churn rate."""
    y, p = _arrays(y_true, proba)
    base = y.mean()
    if base == 0:
        return float("nan")
    return float(y[top_mask(p, fraction)].mean() / base)


def capture_at(y_true, proba, fraction: float) -> float:
    """Share of all churners found in the top ``fraction`` of rows."""
    y, p = _arrays(y_true, proba)
    if y.sum() == 0:
        return float("nan")
    return float(y[top_mask(p, fraction)].sum() / y.sum())


def calibration_curve(y_true, proba, n_bins: int = 10) -> pd.DataFrame:
    """Binned reliability curve on equal-width bins.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin: ``bin`` (0-based), ``bin_lower``, ``bin_upper``,
        ``mean_predicted``, ``observed_rate``, ``count``.
    """
    y, p = _arrays(y_true, proba)
    bins = np.clip(np.floor(p * n_bins).astype(int), 0, n_bins - 1)
    frame = pd.DataFrame({"bin": bins, "p": p, "y": y})
    out = frame.groupby("bin").agg(
        mean_predicted=("p", "mean"), observed_rate=("y", "mean"), count=("y", "size")
    )
    out = out.reset_index()
    out.insert(1, "bin_lower", out["bin"] / n_bins)
    out.insert(2, "bin_upper", (out["bin"] + 1) / n_bins)
    return out


def expected_calibration_error(y_true, proba, n_bins: int = 10) -> float:
    """ECE: count-weighted mean of |observed rate - mean predicted| over equal-width bins."""
    curve = calibration_curve(y_true, proba, n_bins)
    weights = curve["count"] / curve["count"].sum()
    return float((weights * (curve["observed_rate"] - curve["mean_predicted"]).abs()).sum())


def evaluate(y_true, proba) -> dict[str, float]:
    """All headline metrics of one set of predictions.

    Returns
    -------
    dict
        ``n``, ``positives``, ``base_rate``, ``roc_auc``, ``pr_auc``, ``brier``,
        ``log_loss``, ``ece``, ``lift_10``, ``lift_20``, ``capture_10``, ``capture_20``.
        Ranking metrics are NaN when only one class is present.
    """
    y, p = _arrays(y_true, proba)
    two_classes = len(np.unique(y)) == 2
    nan = float("nan")
    return {
        "n": int(len(y)),
        "positives": int(y.sum()),
        "base_rate": float(y.mean()) if len(y) else nan,
        "roc_auc": float(roc_auc_score(y, p)) if two_classes else nan,
        "pr_auc": float(average_precision_score(y, p)) if two_classes else nan,
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "lift_10": lift_at(y, p, 0.10),
        "lift_20": lift_at(y, p, 0.20),
        "capture_10": capture_at(y, p, 0.10),
        "capture_20": capture_at(y, p, 0.20),
    }


def wilson_interval(successes, trials, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion, element-wise.

    Parameters
    ----------
    successes, trials : array-like of int
        Successes ``k`` and trials ``n`` (``n > 0``).
    confidence : float
        Coverage of the interval.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lower, upper)``, clipped to [0, 1].
    """
    from scipy.stats import norm

    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(n <= 0):
        raise ValueError("every Wilson interval needs at least one trial")
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = k / n
    denom = 1 + z**2 / n
    center = (p + z**2 / (2 * n)) / denom
    half = z / denom * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return np.clip(center - half, 0.0, 1.0), np.clip(center + half, 0.0, 1.0)


def quantile_bin_count(n: int, max_bins: int = 10, min_per_bin: int = 40) -> int:
    """How many equal-count bins ``n`` rows get: ``n // min_per_bin``, between 2 and ``max_bins``.

    Fewer than two rows get one bin (or none for no rows).
    """
    if n < 2:
        return n
    return int(min(max_bins, max(2, n // min_per_bin)))


def quantile_calibration(y_true, proba, n_bins: int | None = None) -> pd.DataFrame:
    """Reliability table on equal-count bins, with a Wilson interval per bin.

    Parameters
    ----------
    y_true : array-like of int
        0/1 outcomes.
    proba : array-like of float
        Predicted probabilities.
    n_bins : int, optional
        Number of bins; default :func:`quantile_bin_count` of the rows.

    Returns
    -------
    pandas.DataFrame
        One row per bin, lowest predictions first: ``bin`` (0-based), ``count``,
        ``churned``, ``mean_predicted``, ``min_predicted``, ``max_predicted``,
        ``observed_rate``, ``lower``, ``upper`` (the 95% Wilson interval of the rate).
    """
    y, p = _arrays(y_true, proba)
    columns = [
        "bin", "count", "churned", "mean_predicted", "min_predicted", "max_predicted",
        "observed_rate", "lower", "upper",
    ]  # fmt: skip
    bins = quantile_bin_count(len(y)) if n_bins is None else int(n_bins)
    if len(y) == 0 or bins < 1:
        return pd.DataFrame(columns=columns)
    order = np.argsort(p, kind="mergesort")
    rows = []
    for i, idx in enumerate(np.array_split(order, min(bins, len(y)))):
        part_p, part_y = p[idx], y[idx]
        rows.append(
            {
                "bin": i,
                "count": len(idx),
                "churned": int(part_y.sum()),
                "mean_predicted": float(part_p.mean()),
                "min_predicted": float(part_p.min()),
                "max_predicted": float(part_p.max()),
                "observed_rate": float(part_y.mean()),
            }
        )
    out = pd.DataFrame(rows, columns=columns[:-2])
    lower, upper = wilson_interval(out["churned"], out["count"])
    return out.assign(lower=lower, upper=upper)


def better(metric: str, a: float, b: float) -> bool:
    """True when value ``a`` of ``metric`` beats ``b``."""
    return a < b if metric in LOWER_IS_BETTER else a > b
