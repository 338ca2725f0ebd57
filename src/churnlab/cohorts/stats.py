"""Effect sizes, confidence intervals and tests for churned-vs-retained comparisons.

Every function is pure and vectorised. Conventions: ``x`` is the churned group,
``y`` the retained group, so a positive difference means "higher among churned".

Methods
-------
- Cliff's delta ``d = P(X > Y) - P(X < Y)`` with the asymmetric confidence
  interval of Cliff (1993) built on his unbiased variance estimate (the
  consistent estimate of Feng & Cliff 2004 is bounded below by
  ``(1 - d^2) / (n m - 1)`` so that it never goes negative in small samples).
  Under complete separation (``|d| = 1``) that variance is 0; the inner end
  of the interval is then the Wilson bound for "X beat Y in all of
  ``min(n, m)`` comparisons", mapped to the delta scale (conservative).
- Mann-Whitney U two-sided p-value (``scipy.stats.mannwhitneyu``), the test
  that belongs to Cliff's delta (``d = 2 U / (n m) - 1``).
- Cramér's V from the uncorrected chi-square statistic, p-value from the
  chi-square test of independence, CI by a seeded *stratified* bootstrap: the
  level counts of each group are redrawn from a multinomial with the observed
  shares, which is exactly resampling accounts within each cohort.
- Wilson score interval for a proportion; Newcombe (1998, method 10) hybrid
  score interval for a difference of two proportions.
- Benjamini-Hochberg adjusted p-values (missing p-values stay missing).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps


def _z(confidence: float) -> float:
    return float(sps.norm.ppf(0.5 + confidence / 2))


def wilson_interval(
    successes: np.ndarray | float, n: np.ndarray | float, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    successes, n : array-like
        Number of successes (e.g. churned accounts) and trials; broadcast together.
    confidence : float
        Two-sided confidence level.

    Returns
    -------
    (low, high) : tuple of numpy arrays
        NaN where ``n == 0``.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    z = _z(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return low, high


def newcombe_interval(
    k1: float, n1: float, k2: float, n2: float, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Risk difference ``k1/n1 - k2/n2`` with Newcombe's hybrid score interval.

    Returns
    -------
    (difference, low, high) : tuple of float
    """
    p1, p2 = k1 / n1, k2 / n2
    (l1, u1), (l2, u2) = wilson_interval(k1, n1, confidence), wilson_interval(k2, n2, confidence)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return float(d), float(low), float(high)


def cliffs_delta(
    x: np.ndarray, y: np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Cliff's delta of ``x`` against ``y`` with Cliff's (1993) confidence interval.

    ``d = P(X > Y) - P(X < Y)``; computed from sorted arrays in
    ``O((n + m) log(n + m))`` without the ``n x m`` dominance matrix.

    Parameters
    ----------
    x, y : array-like
        The two samples (missing values must already be removed); each needs >= 2 values.
    confidence : float
        Two-sided confidence level of the interval.

    Returns
    -------
    (delta, low, high) : tuple of float
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        return np.nan, np.nan, np.nan
    xs, ys = np.sort(x), np.sort(y)
    # d_i. = (#y < x_i - #y > x_i) / m ; d_.j = (#x > y_j - #x < y_j) / n
    y_lt = np.searchsorted(ys, x, side="left")
    y_gt = m - np.searchsorted(ys, x, side="right")
    di = (y_lt - y_gt) / m
    x_gt = n - np.searchsorted(xs, y, side="right")
    x_lt = np.searchsorted(xs, y, side="left")
    dj = (x_gt - x_lt) / n
    d = float(di.mean())
    non_ties = float((y_lt + y_gt).sum())  # sum over i, j of d_ij ** 2
    ss_ij = non_ties - n * m * d**2
    var = (m**2 * ((di - d) ** 2).sum() + n**2 * ((dj - d) ** 2).sum() - ss_ij) / (
        n * m * (n - 1) * (m - 1)
    )
    var = max(var, (1 - d**2) / (n * m - 1))
    z = _z(confidence)
    if abs(d) == 1:  # complete separation: the variance is 0, Cliff's interval degenerates
        low, _ = wilson_interval(
            min(n, m), min(n, m), confidence
        )  # P(X > Y) = 1 seen min(n, m) times
        bound = float(2 * low - 1)
        return d, (bound if d > 0 else -1.0), (1.0 if d > 0 else -bound)
    s = np.sqrt(var)
    root = z * s * np.sqrt((1 - d**2) ** 2 + z**2 * var)
    denom = 1 - d**2 + z**2 * var
    low = (d - d**3 - root) / denom
    high = (d - d**3 + root) / denom
    return d, float(max(low, -1.0)), float(min(high, 1.0))


def mann_whitney_p(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value (``scipy.stats.mannwhitneyu``, default method)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 1 or len(y) < 1 or np.ptp(np.concatenate([x, y])) == 0:
        return np.nan if len(x) < 1 or len(y) < 1 else 1.0
    return float(sps.mannwhitneyu(x, y, alternative="two-sided").pvalue)


def _cramers_v_from_counts(counts: np.ndarray) -> np.ndarray:
    """Cramér's V of contingency tables stacked on the leading axes (..., r, c)."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum(axis=(-2, -1), keepdims=True)
    rows = counts.sum(axis=-1, keepdims=True)
    cols = counts.sum(axis=-2, keepdims=True)
    expected = rows * cols / total
    with np.errstate(invalid="ignore", divide="ignore"):
        chi2 = np.where(expected > 0, (counts - expected) ** 2 / expected, 0.0).sum(axis=(-2, -1))
    r = (rows[..., 0] > 0).sum(axis=-1)
    c = (cols[..., 0, :] > 0).sum(axis=-1)
    k = np.minimum(r, c) - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(k > 0, np.sqrt(chi2 / (total[..., 0, 0] * k)), 0.0)


def cramers_v(
    counts: np.ndarray,
    confidence: float = 0.95,
    bootstrap: int = 1000,
    seed: int = 0,
) -> tuple[float, float, float, float]:
    """Cramér's V, its stratified-bootstrap CI and the chi-square p-value.

    Parameters
    ----------
    counts : array-like, shape (groups, levels)
        Contingency table; each row is one cohort (churned, retained).
    confidence : float
        Two-sided level of the percentile bootstrap interval.
    bootstrap : int
        Number of bootstrap resamples (0 = no interval).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    (v, low, high, p_value) : tuple of float

    Notes
    -----
    V uses the chi-square statistic without Yates' correction, as
    ``scipy.stats.contingency.association(method="cramer")`` does. Bootstrap
    resamples keep each cohort's size fixed. V is biased upwards in small
    samples and its interval never reaches below the noise floor, so read
    significance from the p-value, not from whether the interval covers 0.
    """
    counts = np.asarray(counts, dtype=float)
    counts = counts[:, counts.sum(axis=0) > 0]
    if counts.shape[1] < 2 or (counts.sum(axis=1) == 0).any():
        return 0.0, np.nan, np.nan, np.nan
    v = float(_cramers_v_from_counts(counts))
    p = float(sps.chi2_contingency(counts, correction=False).pvalue)
    if bootstrap <= 0:
        return v, np.nan, np.nan, p
    rng = np.random.default_rng(seed)
    sizes = counts.sum(axis=1).astype(int)
    shares = counts / sizes[:, None]
    draws = np.stack(
        [rng.multinomial(s, sh, size=bootstrap) for s, sh in zip(sizes, shares, strict=True)], 1
    )
    vs = _cramers_v_from_counts(draws)
    alpha = 1 - confidence
    low, high = np.quantile(vs, [alpha / 2, 1 - alpha / 2])
    return v, float(low), float(high), p


def benjamini_hochberg(p_values: np.ndarray | pd.Series) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN stays NaN and is not counted.

    ``scipy.stats.false_discovery_control(p, method="bh")`` on the non-missing values
    (a feature that could not be tested does not count as a hypothesis).
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = sps.false_discovery_control(p[ok], method="bh")
    return out
