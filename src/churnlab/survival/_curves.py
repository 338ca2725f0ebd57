"""From monthly hazards to what a CS team reads: survival, lifetime, renewal risk, forecast.

All functions are pure: arrays in, arrays or new frames out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

__all__ = [
    "churn_before",
    "retention_forecast",
    "restricted_mean",
    "survival_at",
    "survival_from_hazards",
]


def survival_from_hazards(hazards: np.ndarray) -> np.ndarray:
    """``S(k) = prod_{j <= k} (1 - h(j))`` per row (k = 1..K, the columns of ``hazards``)."""
    h = np.clip(np.asarray(hazards, dtype=float), 0.0, 1.0)
    return np.cumprod(1.0 - h, axis=-1)


def survival_at(survival: np.ndarray, months: np.ndarray) -> np.ndarray:
    """``S`` at (fractional) months per row, linear between month ends, ``S(0) = 1``.

    ``months`` beyond the last column give NaN (the curve does not reach them).
    """
    s = np.asarray(survival, dtype=float)
    if s.ndim == 1:
        s = s[None, :]
    n, k = s.shape
    full = np.hstack([np.ones((n, 1)), s])
    t = np.broadcast_to(np.asarray(months, dtype=float), (n,))
    out = np.full(n, np.nan)
    ok = np.isfinite(t) & (t >= 0) & (t <= k)
    lo = np.floor(t[ok]).astype(int)
    hi = np.minimum(lo + 1, k)
    w = t[ok] - lo
    rows = np.nonzero(ok)[0]
    out[ok] = (1 - w) * full[rows, lo] + w * full[rows, hi]
    return out


def churn_before(survival: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Probability of churning within ``months`` (fractional; NaN past the curve's end).

    A renewal in month ``m`` counts the whole of month ``m``: an account that does not
    renew churns on its renewal date, which the month holds.
    """
    m = np.ceil(np.asarray(months, dtype=float))
    m = np.where(np.isfinite(m), np.maximum(m, 1.0), np.nan)
    return 1.0 - survival_at(survival, m)


def restricted_mean(survival: np.ndarray, horizon: int) -> np.ndarray:
    """Expected months a customer over the next ``horizon`` (the restricted mean).

    ``RMST = sum_{k=1..horizon} (S(k - 1) + S(k)) / 2`` (the area under the curve, the
    trapezoid rule on month ends, ``S(0) = 1``): the mean months still a customer, counted
    only up to ``horizon``.
    """
    s = np.asarray(survival, dtype=float)[..., :horizon]
    before = np.concatenate([np.ones(s.shape[:-1] + (1,)), s[..., :-1]], axis=-1)
    return ((before + s) / 2.0).sum(axis=-1)


def retention_forecast(
    survival: np.ndarray,
    arr: np.ndarray,
    groups: np.ndarray | None = None,
    *,
    level: float = 0.9,
    model_error: np.ndarray | None = None,
) -> pd.DataFrame:
    """Expected retained ARR and accounts per month, with an interval, for the book and groups.

    Parameters
    ----------
    survival : array, shape (n, K)
        ``S(k)`` per account.
    arr : array, shape (n,)
        Each account's ARR today (the forecast counts logo survival at today's ARR: no
        expansion or contraction).
    groups : array, optional
        A group per account (touch tier): one block of rows per group besides the book
        (``group`` = ``"all"``).
    level : float
        Coverage of the interval.
    model_error : array, shape (K,), optional
        The model's relative error of retained ARR per month (the backtest's); added in
        quadrature to the chance spread.

    Returns
    -------
    pandas.DataFrame
        ``group, month, accounts, expected_accounts, arr, expected_arr, arr_lower,
        arr_upper, retention, level`` (``retention``: expected share of today's ARR kept).

    Notes
    -----
    Accounts churn independently given the model: the chance spread of the retained ARR
    is ``sqrt(sum ARR_i^2 S_i (1 - S_i))``. The model's own error (its hazards run too
    high or too low for the whole book) does not shrink with more accounts: it is added as
    ``model_error[k] x expected``. The interval is the normal one at ``level``.
    """
    s = np.asarray(survival, dtype=float)
    money = np.nan_to_num(np.asarray(arr, dtype=float), nan=0.0)
    z = float(norm.ppf(0.5 + level / 2.0))
    k = s.shape[1] if s.ndim == 2 else 0
    error = np.zeros(k) if model_error is None else np.asarray(model_error, dtype=float)[:k]
    blocks = [("all", np.ones(len(money), dtype=bool))]
    if groups is not None:
        g = np.asarray(groups, dtype=object)
        blocks += [(str(x), g == x) for x in pd.unique(g[pd.notna(g)])]
    rows = []
    for name, mask in blocks:
        sm, am = s[mask], money[mask]
        total = float(am.sum())
        for month in range(1, k + 1):
            col = sm[:, month - 1]
            expected = float((am * col).sum())
            chance = float((am**2 * col * (1 - col)).sum())
            spread = float(np.sqrt(chance + (error[month - 1] * expected) ** 2))
            rows.append(
                {
                    "group": name,
                    "month": month,
                    "accounts": int(mask.sum()),
                    "expected_accounts": float(col.sum()),
                    "arr": total,
                    "expected_arr": expected,
                    "arr_lower": max(expected - z * spread, 0.0),
                    "arr_upper": min(expected + z * spread, total),
                    "retention": expected / total if total > 0 else np.nan,
                    "level": level,
                }
            )
    return pd.DataFrame(rows)
