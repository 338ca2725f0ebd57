"""Effect sizes, intervals and tests of churnlab.stats against hand-worked values and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from churnlab.cohorts import stats


def test_cliffs_delta_hand_worked():
    # pairs (x_i, y_j): 1 vs 2,4,5 -> -1,-1,-1; 2 vs 2,4,5 -> 0,-1,-1; 3 vs 2,4,5 -> +1,-1,-1
    # sum = -6 over 9 pairs -> d = -2/3
    d, low, high = stats.cliffs_delta([1, 2, 3], [2, 4, 5])
    assert d == pytest.approx(-2 / 3)
    assert -1 <= low < d < high <= 1


def test_cliffs_delta_equals_mann_whitney_u_and_p_matches_scipy():
    rng = np.random.default_rng(7)
    x, y = rng.poisson(3, 80).astype(float), rng.poisson(4, 120).astype(float)
    d, _, _ = stats.cliffs_delta(x, y)
    u = sps.mannwhitneyu(x, y, alternative="two-sided")
    assert d == pytest.approx(2 * u.statistic / (len(x) * len(y)) - 1)
    assert stats.mann_whitney_p(x, y) == pytest.approx(u.pvalue)
    assert stats.mann_whitney_p([1, 2, 3], [2, 4, 5]) == pytest.approx(
        sps.mannwhitneyu([1, 2, 3], [2, 4, 5], alternative="two-sided").pvalue
    )


def test_cliffs_delta_interval_uses_cliff_1993_variance():
    """Recompute the CI from the explicit n x m dominance matrix (independent code path)."""
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 10, 40).astype(float), rng.integers(2, 12, 55).astype(float)
    dom = np.sign(x[:, None] - y[None, :])
    n, m = dom.shape
    d = dom.mean()
    di, dj = dom.mean(axis=1), dom.mean(axis=0)
    var = (m**2 * ((di - d) ** 2).sum() + n**2 * ((dj - d) ** 2).sum() - ((dom - d) ** 2).sum()) / (
        n * m * (n - 1) * (m - 1)
    )
    z = sps.norm.ppf(0.975)
    root = z * np.sqrt(var) * np.sqrt((1 - d**2) ** 2 + z**2 * var)
    expected = (
        (d - d**3 - root) / (1 - d**2 + z**2 * var),
        (d - d**3 + root) / (1 - d**2 + z**2 * var),
    )
    got = stats.cliffs_delta(x, y)
    assert got[0] == pytest.approx(d)
    assert got[1:] == pytest.approx(expected)
    # and the variance agrees with a seeded bootstrap within 15%
    boot = [
        np.sign(rng.choice(x, n)[:, None] - rng.choice(y, m)[None, :]).mean() for _ in range(1500)
    ]
    assert var == pytest.approx(np.var(boot), rel=0.15)


def test_cliffs_delta_complete_separation_and_too_small():
    d, low, high = stats.cliffs_delta(np.arange(10, 20), np.arange(10))
    assert d == 1.0 and high == 1.0 and low < 1.0
    assert np.isnan(stats.cliffs_delta([1], [2, 3])[0])


def test_cramers_v_matches_scipy_association_and_chi2():
    table = np.array([[30, 10, 5], [50, 40, 60]])
    v, low, high, p = stats.cramers_v(table, bootstrap=500, seed=3)
    assert v == pytest.approx(sps.contingency.association(table, method="cramer"))
    assert p == pytest.approx(sps.chi2_contingency(table, correction=False).pvalue)
    assert low < v < high
    # seeded: same seed, same interval; different seed, (slightly) different
    assert stats.cramers_v(table, bootstrap=500, seed=3) == (v, low, high, p)
    assert stats.cramers_v(table, bootstrap=500, seed=4)[1] != low


def test_cramers_v_2x2_is_abs_phi_and_single_level_is_zero():
    table = np.array([[20, 10], [10, 20]])
    # phi = (ad - bc) / sqrt(row and column totals product) = (400 - 100) / 900 = 1/3
    assert stats.cramers_v(table, bootstrap=0)[0] == pytest.approx(1 / 3)
    assert stats.cramers_v(np.array([[5, 0], [7, 0]]), bootstrap=0)[0] == 0.0


def test_benjamini_hochberg_hand_worked_and_vs_scipy():
    p = np.array([0.01, 0.04, 0.03, 0.2, np.nan, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04, 0.2 (m = 5): x m / rank = .025, .025, .05, .05, .2
    expected = np.array([0.025, 0.05, 0.05, 0.2, np.nan, 0.025])
    np.testing.assert_allclose(stats.benjamini_hochberg(p), expected)
    rng = np.random.default_rng(0)
    q = rng.uniform(size=50) ** 3
    np.testing.assert_allclose(
        stats.benjamini_hochberg(q), sps.false_discovery_control(q, method="bh")
    )


def test_wilson_interval_hand_worked():
    # 5/20: p = .25, z = 1.96; centre = (.25 + 1.96^2/40) / (1 + 1.96^2/20) = .2902,
    # half = 1.96 / 1.1921 * sqrt(.25 * .75 / 20 + 1.96^2 / 1600) = .1784 -> (.1119, .4687)
    low, high = stats.wilson_interval(5, 20)
    assert float(low) == pytest.approx(0.1119, abs=1e-4)
    assert float(high) == pytest.approx(0.4687, abs=1e-4)
    lows, highs = stats.wilson_interval(np.array([0, 20, 0]), np.array([20, 20, 0]))
    assert lows[0] == 0 and highs[1] == pytest.approx(1) and np.isnan(lows[2])


def test_newcombe_interval_published_example():
    # Newcombe (1998), Stat Med 17:873, example (a): 56/70 vs 48/80, method 10 -> 0.0524 to 0.3339
    d, low, high = stats.newcombe_interval(56, 70, 48, 80)
    assert d == pytest.approx(0.2)
    assert (low, high) == pytest.approx((0.0524, 0.3339), abs=1e-4)
