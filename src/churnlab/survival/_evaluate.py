"""The time-aware backtest of the hazard models against Cox PH and Weibull AFT.

Event-log data: the test landmarks are one landmark date ``H`` months before the end of
the data (``H`` = the horizon, at most half the landmarks' span), the training landmarks
every earlier date with their follow-up cut at the test date (nothing after it is seen).
When no earlier date is left (a short history) or for a snapshot, a quarter of the
accounts is held out instead (``scheme = "accounts"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churnlab.survival._landmarks import MONTH_DAYS, thinned_rows

__all__ = ["Split", "backtest_split", "score_curves", "supported_horizon"]

#: Fewest landmarks still followed at a month for the data to support that month.
MIN_AT_RISK = 30
#: Share of accounts held out when no time split is possible.
HOLDOUT_SHARE = 0.25


def supported_horizon(landmarks: pd.DataFrame, horizon: int) -> int:
    """The months (up to ``horizon``) that enough landmarks are followed through.

    Month ``k`` is supported when at least ``max(30, 2%)`` of the landmarks were followed
    for ``k`` months or churned before.
    """
    if not len(landmarks):
        return 0
    d = landmarks["duration"].to_numpy(dtype=float)
    e = landmarks["event"].to_numpy(dtype=int)
    need = max(MIN_AT_RISK, int(0.02 * len(d)))
    supported = 0
    for k in range(1, horizon + 1):
        if int(((d >= k) | (e == 1)).sum()) >= need and (d >= k).sum() > 0:
            supported = k
        else:
            break
    return supported


@dataclass
class Split:
    """Training and test landmarks of the backtest and the months it scores."""

    train: pd.DataFrame
    test: pd.DataFrame
    horizon: int
    scheme: str
    test_as_of: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    #: Training landmarks before thinning (``train`` holds the thinned ones).
    train_landmarks: int = 0


def _training_rows(
    landmarks: pd.DataFrame,
    rows: np.ndarray,
    max_rows: int | None,
    seed: int,
    duration: np.ndarray | None = None,
    event: np.ndarray | None = None,
) -> pd.DataFrame:
    """The training landmarks at ``rows`` (with their cut follow-up), thinned to ``max_rows``.

    The keys are thinned first (:func:`thinned_rows`), so the wide rows are copied once and
    only those kept.
    """
    duration = landmarks["duration"].to_numpy(dtype=float)[rows] if duration is None else duration
    event = landmarks["event"].to_numpy()[rows] if event is None else event
    keep = None
    if max_rows is not None and {"as_of", "account_id"} <= set(landmarks.columns):
        keys = pd.DataFrame(
            {
                "as_of": landmarks["as_of"].to_numpy()[rows],
                "account_id": landmarks["account_id"].to_numpy()[rows],
                "duration": duration,
                "event": event,
            }
        )
        keep = thinned_rows(keys, None, max_rows, seed)
    if keep is not None:
        rows, duration, event = rows[keep], duration[keep], event[keep]
    out = landmarks.take(rows)
    out.index = pd.RangeIndex(len(out))
    out["duration"] = duration
    out["event"] = event
    return out


def _account_split(landmarks: pd.DataFrame, horizon: int, seed: int, max_rows: int | None) -> Split:
    ids = pd.Series(landmarks["account_id"].astype(str).unique())
    rng = np.random.default_rng(seed)
    held = set(ids[rng.random(len(ids)) < HOLDOUT_SHARE])
    mask = landmarks["account_id"].astype(str).isin(held).to_numpy()
    test = landmarks[mask].reset_index(drop=True)
    fit = np.flatnonzero(~mask)
    train = _training_rows(landmarks, fit, max_rows, seed)
    return Split(train, test, horizon, "accounts", train_landmarks=len(fit))


def backtest_split(
    landmarks: pd.DataFrame,
    data_end: pd.Timestamp | None,
    horizon: int,
    seed: int,
    max_rows: int | None = None,
) -> Split:
    """The backtest's landmarks (see the module docstring).

    ``max_rows``: the training landmarks are thinned to this many person-period rows
    (:func:`~churnlab.survival._landmarks.thin_landmarks`); ``train_landmarks`` counts them
    before.
    """
    if data_end is None or "as_of" not in landmarks or landmarks["as_of"].nunique() < 2:
        return _account_split(landmarks, supported_horizon(landmarks, horizon), seed, max_rows)
    end = pd.Timestamp(data_end)
    dates = pd.Series(np.sort(landmarks["as_of"].unique()))
    ahead = ((end - dates).dt.days / MONTH_DAYS).astype(float)
    span = int(np.floor(ahead.iloc[0]))
    target = min(horizon, max(1, span // 2))
    fits = dates[np.floor(ahead) >= target]
    if len(fits) < 2:
        return _account_split(landmarks, supported_horizon(landmarks, horizon), seed, max_rows)
    test_date = pd.Timestamp(fits.iloc[-1])
    months = min(horizon, int(np.floor((end - test_date).days / MONTH_DAYS)))
    test = landmarks[landmarks["as_of"] == test_date].reset_index(drop=True)
    months = min(months, int(np.floor(test["duration"].max())))  # censored before the end
    # training: the earlier landmarks, their follow-up cut at the test date
    as_of = landmarks["as_of"]
    rows = np.flatnonzero((as_of < test_date).to_numpy())
    seen = (test_date - as_of.take(rows)).dt.days.to_numpy() / MONTH_DAYS
    duration = landmarks["duration"].to_numpy(dtype=float)[rows]
    event = np.where(duration > seen, 0, landmarks["event"].to_numpy()[rows])
    duration = np.minimum(duration, seen)
    followed = duration > 0
    rows, duration, event = rows[followed], duration[followed], event[followed]
    if event.sum() < 10 or test["event"].sum() < 1 or months < 1:
        return _account_split(landmarks, supported_horizon(landmarks, horizon), seed, max_rows)
    train = _training_rows(landmarks, rows, max_rows, seed, duration, event)
    return Split(train, test, months, "time", str(test_date.date()), train_landmarks=len(rows))


def score_curves(survival: np.ndarray, test: pd.DataFrame, horizon: int) -> dict[str, float]:
    """C-index, integrated Brier score and D-calibration p of curves on the test landmarks."""
    from churnlab.survival._metrics import c_index, d_calibration, integrated_brier_score

    d = test["duration"].to_numpy(dtype=float)
    e = test["event"].to_numpy(dtype=int)
    s = np.asarray(survival, dtype=float)[:, :horizon]
    p, _ = d_calibration(s, d, e)
    return {
        "c_index": c_index(s, d, e, horizon),
        "integrated_brier_score": integrated_brier_score(s, d, e, horizon),
        "d_calibration_p": p,
    }


def relative_error(survival: np.ndarray, test: pd.DataFrame, horizon: int) -> np.ndarray:
    """Per month, ``|realised - predicted| / predicted`` retained ARR on the test landmarks.

    Realised: the ARR share of the landmarks whose status at month ``k`` is known (followed
    past it, or churned by it) that is still a customer.
    """
    s = np.asarray(survival, dtype=float)[:, :horizon]
    arr = pd.to_numeric(test.get("arr"), errors="coerce")
    money = np.ones(len(test)) if arr is None else np.nan_to_num(arr.to_numpy(dtype=float), nan=0.0)
    if not money.sum() > 0:
        money = np.ones(len(test))
    d = test["duration"].to_numpy(dtype=float)
    e = test["event"].to_numpy(dtype=int)
    out = np.zeros(horizon)
    for k in range(1, horizon + 1):
        known = (d >= k) | (e == 1)
        if not (d >= k).any():  # nobody followed this far: the last month's error
            out[k - 1] = out[k - 2] if k > 1 else 0.0
            continue
        w = money[known]
        realised = float((w * (d[known] > k)).sum() / w.sum())
        predicted = float((w * s[known, k - 1]).sum() / w.sum())
        out[k - 1] = abs(realised - predicted) / predicted if predicted > 0 else 0.0
    return out
