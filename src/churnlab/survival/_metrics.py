"""How good a survival model is: Harrell's C, the integrated Brier score, D-calibration.

Every model is scored on the same held-out landmarks from its survival curve at the month
ends ``S(1..H)``: the risk that ranks accounts is ``1 - S(H)``; for C and D-calibration the
follow-up is cut at ``H`` months (a later churn counts as still a customer at ``H``).

- **Harrell's C**: :func:`lifelines.utils.concordance_index` (the one implementation).
- **Integrated Brier score**: the mean of the monthly Brier scores at months 1..H, each
  weighted by the inverse probability of censoring (Graf et al. 1999; the censoring
  distribution is the Kaplan-Meier estimate of the held-out rows' censoring times).
  Without censoring before H it is the mean over months of the plain Brier score of
  "still a customer at month k".
- **D-calibration** (Haider et al. 2020): the survival probability at each account's own
  churn time is uniform on [0, 1] for a calibrated model; a censored account spreads its
  weight over the bins below its survival at censoring. Ten bins, Pearson's chi-square
  test of uniformity; a p-value above 0.05 means no evidence of miscalibration.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chisquare

from churnlab.survival._curves import survival_at

__all__ = ["brier_by_month", "c_index", "d_calibration", "integrated_brier_score"]


def _cut(durations: np.ndarray, events: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=int)
    late = t > horizon
    return np.where(late, float(horizon), t), np.where(late, 0, e)


def c_index(survival: np.ndarray, durations: np.ndarray, events: np.ndarray, horizon: int) -> float:
    """Harrell's C of ``1 - S(horizon)`` against the follow-up cut at ``horizon``."""
    from lifelines.utils import concordance_index

    t, e = _cut(durations, events, horizon)
    s = np.asarray(survival, dtype=float)[:, horizon - 1]
    if e.sum() == 0 or len(np.unique(s)) < 2:
        return float("nan")
    return float(concordance_index(t, s, e))


def _censoring_survival(t: np.ndarray, e: np.ndarray):  # type: ignore[no-untyped-def]
    """``G(x)``: Kaplan-Meier estimate that a row is not yet censored after ``x`` months."""
    times = np.unique(t[e == 0])
    at_risk = np.array([(t >= x).sum() for x in times], dtype=float)
    censored = np.array([((t == x) & (e == 0)).sum() for x in times], dtype=float)
    steps = np.cumprod(1.0 - censored / np.maximum(at_risk, 1.0))

    def g(x: np.ndarray, left: bool = False) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if not len(times):  # nothing censored: G = 1
            return np.ones_like(x)
        idx = np.searchsorted(times, x, side="left" if left else "right")
        return np.where(idx > 0, steps[np.maximum(idx - 1, 0)], 1.0)

    return g


def brier_by_month(
    survival: np.ndarray, durations: np.ndarray, events: np.ndarray, horizon: int
) -> np.ndarray:
    """The IPCW Brier score at each month end 1..horizon (see the module docstring)."""
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=int)
    s = np.asarray(survival, dtype=float)
    g = _censoring_survival(t, e)
    g_t = np.maximum(g(t, left=True), 1e-12)
    out = np.empty(horizon)
    for k in range(1, horizon + 1):
        pred = s[:, k - 1]
        churned = (t <= k) & (e == 1)
        alive = t > k
        g_k = max(float(g(np.array([k]))[0]), 1e-12)
        score = np.where(churned, pred**2 / g_t, 0.0) + np.where(alive, (1 - pred) ** 2 / g_k, 0.0)
        out[k - 1] = float(score.mean())
    return out


def integrated_brier_score(
    survival: np.ndarray, durations: np.ndarray, events: np.ndarray, horizon: int
) -> float:
    """The mean of :func:`brier_by_month` over months 1..horizon (lower is better)."""
    return float(brier_by_month(survival, durations, events, horizon).mean())


def d_calibration(
    survival: np.ndarray, durations: np.ndarray, events: np.ndarray, bins: int = 10
) -> tuple[float, np.ndarray]:
    """D-calibration: (p-value of uniformity, the share of weight per bin).

    ``survival`` holds ``S(1..K)``; each account's survival at its own churn (or censoring)
    time is read from the curve (linear between month ends) up to month K.
    """
    s = np.asarray(survival, dtype=float)
    k = s.shape[1]
    t = np.minimum(np.asarray(durations, dtype=float), k)
    e = np.where(np.asarray(durations, dtype=float) > k, 0, np.asarray(events, dtype=int))
    u = np.clip(survival_at(s, t), 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, bins + 1)
    weight = np.zeros(bins)
    for value, churned in zip(u, e, strict=True):
        if churned:
            j = min(int(value * bins), bins - 1)
            weight[j] += 1.0
        elif value <= 0:
            weight += 1.0 / bins
        else:  # spread uniformly over [0, value]
            overlap = np.clip(np.minimum(edges[1:], value) - edges[:-1], 0.0, None)
            weight += overlap / value
    n = len(u)
    if n == 0:
        return float("nan"), weight
    p = float(chisquare(weight, np.full(bins, n / bins)).pvalue)
    return p, weight / n
