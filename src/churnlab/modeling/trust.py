"""How far to trust the scores, as numbers a leader can read: the trust figures.

Computed from the champion's backtest predictions (rows the model never trained on):

* **top share**: of the rows the model rated riskiest (the top ``top_fraction``, the first
  ``ceil(top_fraction * n)`` by probability, ties in input order, as
  :func:`~churnlab.modeling.metrics.top_mask`), the share that churned, beside the
  average churn rate; their ratio is the lift (``lift_10`` of the backtest metrics);
* **calibration bins**: :func:`~churnlab.modeling.metrics.quantile_calibration`, equal-count
  bins with a 95% Wilson interval each;
* **calibration statement**: read in the riskiest bin (the accounts a CS team acts on
  first; it holds at least ``min_rows / 2`` rows): the model's average prediction there,
  the churn rate observed and where the prediction lies: within the interval (``close``),
  at most ``tolerance`` outside it (``slightly_over``, ``slightly_under``) or further
  (``over``: the model said more than happened, ``under``); and over all bins, how many
  intervals contain their prediction.

Too few held-out rows (fewer than ``min_rows``) or no churner among them: only the counts
and a ``status`` saying why; the report says so in a sentence.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from churnlab.modeling.metrics import quantile_calibration, top_mask

__all__ = ["MIN_ROWS", "TOLERANCE", "TOP_FRACTION", "trust_figures"]

#: Fewest held-out rows for trust figures (fewer: a note instead).
MIN_ROWS = 50
#: The share of riskiest rows of the top-share figure.
TOP_FRACTION = 0.10
#: A prediction at most this far outside its bin's interval (in probability) is "slightly" off.
TOLERANCE = 0.02


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    return value


def trust_figures(
    predictions: pd.DataFrame,
    *,
    horizon_days: int | None,
    scheme: str,
    snapshot: bool = False,
    top_fraction: float = TOP_FRACTION,
    min_rows: int = MIN_ROWS,
    tolerance: float = TOLERANCE,
) -> dict[str, Any]:
    """The trust figures of one model's held-out predictions (JSON-ready).

    Parameters
    ----------
    predictions : pandas.DataFrame
        ``label`` (0/1) and ``churn_probability`` per held-out row (a backtest's
        ``predictions``; ``as_of`` when present gives the tested period).
    horizon_days : int or None
        The horizon of the probabilities (None for snapshot labels).
    scheme : str
        The backtest scheme (``rolling_origin``: later dates; ``account_kfold``,
        ``stratified_kfold``: held-out accounts).
    snapshot : bool
        Snapshot data: the label is "has churned", with no horizon.
    top_fraction, min_rows, tolerance : float, int, float
        See the module docstring.

    Returns
    -------
    dict
        ``status`` (``ok``, ``too_few``, ``no_churner``), ``n``, ``churned``,
        ``base_rate``, ``held_out`` (``later_dates`` or ``accounts``), ``horizon_days``,
        ``snapshot``, ``min_rows``, ``tested_from``/``tested_to`` (dates, later-dates
        scheme); with ``ok`` also ``top_fraction``, ``top_n``, ``top_churned``,
        ``top_rate``, ``top_lift``, ``bins`` (records of the quantile table),
        ``calibration`` (the riskiest bin: ``bin``, ``share``, ``count``,
        ``mean_predicted``, ``observed_rate``, ``lower``, ``upper``, ``within``,
        ``direction``: ``close``, ``slightly_over``, ``over`` (predicted above what
        happened), ``slightly_under`` or ``under``),
        ``bins_within`` and ``n_bins``.
    """
    y = predictions["label"].astype(int).to_numpy()
    p = predictions["churn_probability"].astype(float).to_numpy()
    out: dict[str, Any] = {
        "status": "ok",
        "n": int(len(y)),
        "churned": int(y.sum()),
        "base_rate": float(y.mean()) if len(y) else None,
        "held_out": "later_dates" if scheme == "rolling_origin" else "accounts",
        "horizon_days": None if snapshot else horizon_days,
        "snapshot": bool(snapshot),
        "min_rows": int(min_rows),
    }
    if out["held_out"] == "later_dates" and "as_of" in predictions and len(predictions):
        dates = pd.to_datetime(predictions["as_of"])
        out["tested_from"] = dates.min().date().isoformat()
        out["tested_to"] = dates.max().date().isoformat()
    if len(y) < min_rows:
        out["status"] = "too_few"
        return out
    if y.sum() == 0:
        out["status"] = "no_churner"
        return out
    top = top_mask(p, top_fraction)
    top_rate = float(y[top].mean())
    out.update(
        top_fraction=float(top_fraction),
        top_n=int(top.sum()),
        top_churned=int(y[top].sum()),
        top_rate=top_rate,
        top_lift=top_rate / float(y.mean()),
    )
    bins = quantile_calibration(y, p)
    within = (bins["mean_predicted"] >= bins["lower"]) & (bins["mean_predicted"] <= bins["upper"])
    riskiest = bins.iloc[-1]
    said, low, high = (float(riskiest[c]) for c in ("mean_predicted", "lower", "upper"))
    if low <= said <= high:
        direction = "close"
    elif said > high:
        direction = "slightly_over" if said - high <= tolerance else "over"
    else:
        direction = "slightly_under" if low - said <= tolerance else "under"
    out["bins"] = [{k: _plain(v) for k, v in row.items()} for row in bins.to_dict("records")]
    out["calibration"] = {
        "bin": int(riskiest["bin"]),
        "share": 1 / len(bins),
        "count": int(riskiest["count"]),
        "churned": int(riskiest["churned"]),
        "mean_predicted": float(riskiest["mean_predicted"]),
        "observed_rate": float(riskiest["observed_rate"]),
        "lower": float(riskiest["lower"]),
        "upper": float(riskiest["upper"]),
        "within": bool(within.iloc[-1]),
        "direction": direction,
    }
    out["bins_within"] = int(within.sum())
    out["n_bins"] = int(len(bins))
    return out
