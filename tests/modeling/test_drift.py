"""Population Stability Index: hand-worked fixtures and a plain-pandas re-implementation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from churnlab.modeling.drift import (
    LEVELS,
    PSI_FLOOR,
    PSI_MAJOR,
    PSI_MODERATE,
    drift_level,
    drift_table,
    feature_kind,
    population_stability,
)


def _term(a: float, e: float) -> float:
    return (a - e) * math.log(a / e)


# ----------------------------------------------------------------------------- by hand


def test_numeric_psi_by_hand():
    # expected 1..8 with bins=4: quantiles at 1/4, 2/4, 3/4 (linear, position 7q):
    #   1.75 -> 2.75, 3.5 -> 4.5, 5.25 -> 6.25
    # bins (-inf, 2.75] (2.75, 4.5] (4.5, 6.25] (6.25, inf] + missing
    # expected {1,2} {3,4} {5,6} {7,8} {}  -> shares .25 .25 .25 .25 0 (floored to 1e-4)
    # actual   {1}   {3,4} {5,6} {7,8,9,10} {NaN} of 10 -> .1 .2 .2 .4 .1
    # terms: (.1-.25) ln(.1/.25)       = 0.137444
    #        (.2-.25) ln(.2/.25)  x 2  = 0.011157 x 2
    #        (.4-.25) ln(.4/.25)       = 0.070501
    #        (.1-1e-4) ln(.1/1e-4)     = 0.690085
    # PSI = 0.920343 (0.920344 from the rounded terms)
    expected = np.arange(1, 9)
    actual = [1, 3, 4, 5, 6, 7, 8, 9, 10, np.nan]
    result = population_stability(expected, actual, bins=4)
    assert result.kind == "numeric"
    assert result.cut_points == (2.75, 4.5, 6.25)
    assert result.labels == ("(-inf, 2.75]", "(2.75, 4.5]", "(4.5, 6.25]", "(6.25, inf]", "missing")
    assert result.expected_counts.tolist() == [2, 2, 2, 2, 0]
    assert result.actual_counts.tolist() == [1, 2, 2, 4, 1]
    hand = _term(0.1, 0.25) + 2 * _term(0.2, 0.25) + _term(0.4, 0.25) + _term(0.1, 1e-4)
    assert result.psi == pytest.approx(hand, rel=1e-12)
    assert result.psi == pytest.approx(0.920343, abs=5e-7)
    assert float(result) == result.psi
    assert (result.n_expected, result.n_actual) == (8, 10)
    assert (result.missing_expected, result.missing_actual) == (0.0, 0.1)
    table = result.bins
    assert table["contribution"].round(6).tolist() == [
        0.137444, 0.011157, 0.011157, 0.070501, 0.690085
    ]  # fmt: skip
    assert table["contribution"].sum() == pytest.approx(result.psi)
    assert table["missing"].tolist() == [False, False, False, False, True]
    assert table["actual_share"].tolist() == pytest.approx([0.1, 0.2, 0.2, 0.4, 0.1])


def test_categorical_psi_by_hand_with_a_new_and_a_vanished_level():
    # expected a:5 b:3 c:2 (of 10) -> .5 .3 .2 0 ; actual a:4 b:4 d:2 -> .4 .4 0 .2
    # terms: (.4-.5) ln(.4/.5)           = 0.022314
    #        (.4-.3) ln(.4/.3)           = 0.028768
    #        c: (1e-4-.2) ln(1e-4/.2)    = 1.519420   (vanished level, floored)
    #        d: (.2-1e-4) ln(.2/1e-4)    = 1.519420   (new level, floored)
    # PSI = 3.089923
    expected = pd.Series(["a"] * 5 + ["b"] * 3 + ["c"] * 2)
    actual = pd.Series(["a"] * 4 + ["b"] * 4 + ["d"] * 2)
    result = population_stability(expected, actual)
    assert result.kind == "categorical"
    assert result.labels == ("a", "b", "c", "d")  # no missing bin: nothing is missing
    assert result.expected_counts.tolist() == [5, 3, 2, 0]
    assert result.actual_counts.tolist() == [4, 4, 0, 2]
    assert result.psi == pytest.approx(3.089923, abs=5e-7)
    assert result.bins["contribution"].round(6).tolist() == [0.022314, 0.028768, 1.51942, 1.51942]
    assert drift_level(result.psi) == "major"


def test_the_floor_applies_to_empty_bins_and_a_full_move_scores_about_18():
    # all mass moves from (-inf, 0] to (0, inf]: 2 * (1 - 1e-4) * ln(1 / 1e-4) = 18.418839
    result = population_stability([0.0] * 50, [1.0] * 70)
    assert PSI_FLOOR == 1e-4
    assert result.psi == pytest.approx(2 * (1 - 1e-4) * math.log(1e4))
    assert result.psi == pytest.approx(18.418839, abs=5e-7)


# ----------------------------------------------------------------------------- behaviour


def test_identical_samples_give_zero_and_row_order_does_not_matter():
    rng = np.random.default_rng(7)
    x = pd.Series(rng.lognormal(size=5_000))
    x[rng.random(5_000) < 0.1] = np.nan
    assert population_stability(x, x).psi == 0.0
    levels = pd.Series(rng.choice(["a", "b", "c", None], size=5_000))
    assert population_stability(levels, levels).psi == 0.0
    y = pd.Series(rng.lognormal(0.2, size=4_000))
    shuffled = y.sample(frac=1.0, random_state=3)
    assert population_stability(x, shuffled).psi == population_stability(x, y).psi
    # two draws of the same distribution: small, stable
    other = pd.Series(rng.lognormal(size=5_000))
    assert 0 < population_stability(x.dropna(), other).psi < 0.02


def test_a_shifted_normal_is_flagged_and_a_bigger_shift_scores_higher():
    rng = np.random.default_rng(20261129)
    train = rng.normal(0.0, 1.0, 20_000)
    now = rng.normal(0.0, 1.0, 20_000)
    small = population_stability(train, now + 0.1).psi
    large = population_stability(train, now + 0.5).psi
    # PSI of a mean shift d (in sd) on a normal is about d**2 with fine bins (the
    # symmetric KL divergence); deciles see a little less: ~0.23 for d = 0.5, ~0.01 for 0.1
    assert 0.18 < large < 0.30
    assert small < 0.03
    assert large > 5 * small
    assert drift_level(small) == "stable"
    assert drift_level(large) in ("moderate", "major")
    # the direction does not matter: a shift down lands in the same range
    assert 0.18 < population_stability(train, now - 0.5).psi < 0.30


def test_a_new_level_gets_its_own_bin():
    expected = pd.Series(["monthly"] * 60 + ["annual"] * 40)
    actual = pd.Series(["monthly"] * 50 + ["annual"] * 30 + ["trial"] * 20)
    result = population_stability(expected, actual)
    bins = result.bins.set_index("bin")
    assert bins.loc["trial", "expected_count"] == 0
    assert bins.loc["trial", "actual_share"] == pytest.approx(0.2)
    assert bins.loc["trial", "contribution"] == pytest.approx(_term(0.2, 1e-4))
    assert result.psi > PSI_MAJOR


def test_a_rise_in_the_missing_share_is_detected():
    rng = np.random.default_rng(11)
    values = rng.gamma(2.0, 3.0, 10_000)
    before = pd.Series(values.copy())
    after = pd.Series(values.copy())
    before[:500] = np.nan  # 5% missing
    after[:3_000] = np.nan  # 30% missing, the rest drawn alike
    result = population_stability(before, after)
    assert result.missing_expected == pytest.approx(0.05)
    assert result.missing_actual == pytest.approx(0.30)
    bins = result.bins
    missing_term = bins.loc[bins["missing"], "contribution"].item()
    assert missing_term == pytest.approx(_term(0.30, 0.05))
    assert missing_term == bins["contribution"].max()
    assert result.psi > PSI_MAJOR
    # categorical: missing (None and NaN alike) is a bin too
    cat = population_stability(pd.Series(["x", "y"] * 50), pd.Series(["x", None, "y", np.nan] * 25))
    assert cat.labels[-1] == "missing" and cat.has_missing_bin
    assert cat.actual_counts.tolist() == [25, 25, 50]
    assert cat.psi == pytest.approx(2 * _term(0.25, 0.5) + _term(0.5, 1e-4))


def test_a_level_named_missing_is_not_the_missing_bin():
    result = population_stability(pd.Series(["missing", "a"]), pd.Series(["missing", "a"]))
    assert not result.has_missing_bin
    assert result.missing_expected == 0.0 and result.bins["missing"].tolist() == [False, False]


def test_constant_columns():
    assert population_stability([3.0] * 10, [3.0] * 25).psi == 0.0
    assert population_stability(["gold"] * 10, ["gold"] * 4).psi == 0.0
    assert population_stability([True] * 5, [True] * 9).psi == 0.0
    assert population_stability([3.0] * 10, [3.0] * 25).cut_points == (3.0,)


def test_few_distinct_values_get_fewer_bins_and_zero_inflation_a_bin_of_its_own():
    # 0/1 with 80% ones: the nine deciles (linear, position 99 q) are 0 (q = .1: 9.9),
    # 0.8 (q = .2: 19.8, between the last 0 and the first 1), then 1 seven times
    # -> three cut points, four bins: (-inf, 0] (0, 0.8] (0.8, 1] (1, inf]
    binary = np.array([0] * 20 + [1] * 80)
    result = population_stability(binary, binary, bins=10)
    assert result.cut_points == pytest.approx((0.0, 0.8, 1.0))
    assert result.expected_counts.tolist() == [20, 0, 80, 0]
    assert result.psi == 0.0
    # 50% zeros: zeros get the bin (-inf, 0], the rest is cut at its deciles
    rng = np.random.default_rng(5)
    logins = np.where(rng.random(1_000) < 0.5, 0.0, rng.exponential(10, 1_000))
    zi = population_stability(logins, logins)
    assert zi.cut_points[0] == 0.0 and zi.expected_counts[0] == (logins == 0).sum()
    # values beyond the training range land in the outer bins
    out = population_stability([1.0, 2.0, 3.0, 4.0], [-100.0, np.inf, -np.inf, 1e9], bins=2)
    assert out.actual_counts.tolist() == [2, 2]


def test_empty_samples_give_nan_not_an_error():
    assert math.isnan(population_stability([], [1.0, 2.0]).psi)
    assert math.isnan(population_stability([1.0, 2.0], []).psi)
    empty = population_stability(pd.Series([], dtype=object), pd.Series(["a"]))
    assert math.isnan(empty.psi) and math.isnan(empty.missing_expected)
    assert drift_level(float("nan")) == "empty"


def test_kinds_dtypes_and_overrides():
    assert feature_kind(pd.Series([1, 2])) == "numeric"
    assert feature_kind(pd.Series([1.0, None], dtype="Float64")) == "numeric"
    assert feature_kind(pd.Series([True, False])) == "categorical"
    assert feature_kind(pd.Series(["a"], dtype="string")) == "categorical"
    assert feature_kind(pd.Series(["a"], dtype="category")) == "categorical"
    assert feature_kind(pd.Series([1.0]), pd.Series(["1.0"])) == "categorical"
    # nullable integers: pd.NA is missing
    nullable = pd.Series([1, 2, None, 4], dtype="Int64")
    result = population_stability(nullable, nullable, bins=2)
    assert result.kind == "numeric" and result.missing_expected == 0.25 and result.psi == 0.0
    # category dtypes with different category lists compare by value
    a = pd.Series(pd.Categorical(["x", "y", "y"], categories=["x", "y", "z"]))
    b = pd.Series(pd.Categorical(["y", "x", "y"], categories=["y", "x"]))
    assert population_stability(a, b).psi == 0.0
    # a numeric code forced to categorical: one bin per code
    codes = population_stability([1, 1, 2, 3], [1, 2, 3, 4], kind="categorical")
    assert codes.labels == ("1", "2", "3", "4")
    with pytest.raises(ValueError, match="bins"):
        population_stability([1.0], [1.0], bins=0)
    with pytest.raises(ValueError, match="kind"):
        population_stability([1.0], [1.0], kind="ordinal")  # type: ignore[arg-type]


def test_drift_level_edges_and_custom_thresholds():
    assert (PSI_MODERATE, PSI_MAJOR) == (0.1, 0.25)
    assert [drift_level(v) for v in (0.0, 0.0999, 0.1, 0.2499, 0.25, 7.0)] == [
        "stable", "stable", "moderate", "moderate", "major", "major"
    ]  # fmt: skip
    assert drift_level(0.05, moderate=0.01, major=0.05) == "major"


# ----------------------------------------------------------------------------- drift_table


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(2026)
    n = 4_000
    ref = pd.DataFrame(
        {
            "logins_28d": rng.poisson(12, n).astype(float),
            "mrr": rng.lognormal(6, 1, n),
            "plan": rng.choice(["basic", "pro", "enterprise"], n, p=[0.5, 0.4, 0.1]),
            "nps": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 11, n)),
            "same_a": np.ones(n),
            "same_b": np.ones(n),
            "old_only": rng.normal(size=n),
        }
    )
    cur = ref.drop(columns="old_only").copy()
    cur["logins_28d"] = rng.poisson(8, n).astype(float)  # engagement fell: major
    cur["mrr"] = cur["mrr"] * 1.5  # prices up 50%: log-mean up 0.4 sd, a moderate shift
    cur["plan"] = rng.choice(["basic", "pro", "enterprise"], n, p=[0.47, 0.41, 0.12])
    cur["nps"] = cur["nps"].mask(rng.random(n) < 0.3)  # more surveys unanswered
    cur["new_only"] = "x"
    return ref, cur


def test_drift_table_columns_levels_and_sort_order():
    ref, cur = _frames()
    columns = ["same_b", "plan", "mrr", "new_only", "same_a", "logins_28d", "nps", "old_only"]
    table = drift_table(ref, cur, columns)
    assert list(table.columns) == [
        "feature", "kind", "psi", "n_reference", "n_current",
        "missing_reference", "missing_current", "level",
    ]  # fmt: skip
    assert table["psi"].dtype == float and table["n_reference"].dtype == "int64"
    assert table.index.tolist() == list(range(len(columns)))
    # psi descending, ties (the two constant columns) by name, NaN (absent) last by name
    psi = table["psi"].to_numpy()
    finite = psi[~np.isnan(psi)]
    assert (np.diff(finite) <= 0).all()
    assert table["feature"].tolist()[-4:] == ["same_a", "same_b", "new_only", "old_only"]
    assert table["feature"].tolist()[:4] == ["logins_28d", "nps", "mrr", "plan"]
    row = table.set_index("feature")
    assert row.loc["logins_28d", "level"] == "major"
    assert row.loc["mrr", "level"] == "moderate"
    assert row.loc["plan", "level"] == "stable" and row.loc["plan", "kind"] == "categorical"
    assert row.loc["same_a", "psi"] == 0.0 and row.loc["same_a", "level"] == "stable"
    assert row.loc["nps", "missing_current"] > row.loc["nps", "missing_reference"] + 0.2
    assert row.loc["nps", "psi"] > PSI_MODERATE
    # each psi is population_stability's
    for name in ("logins_28d", "mrr", "plan", "nps"):
        assert row.loc[name, "psi"] == population_stability(ref[name], cur[name]).psi
    assert set(table["level"]) <= set(LEVELS)
    assert (table["n_reference"] == len(ref)).all() and (table["n_current"] == len(cur)).all()


def test_drift_table_reports_absent_columns():
    ref, cur = _frames()
    table = drift_table(ref, cur, ["old_only", "new_only", "nowhere", "mrr"]).set_index("feature")
    assert table.loc[["old_only", "new_only", "nowhere"], "level"].tolist() == ["absent"] * 3
    assert table.loc[["old_only", "new_only", "nowhere"], "psi"].isna().all()
    assert table.loc["old_only", "kind"] == "numeric"
    assert table.loc["new_only", "kind"] == "categorical"
    assert table.loc["nowhere", "kind"] is None
    assert table.loc["old_only", "missing_reference"] == 0.0
    assert math.isnan(table.loc["old_only", "missing_current"])
    assert table.index[0] == "mrr"


def test_drift_table_empty_frames_thresholds_kinds_and_errors():
    ref, cur = _frames()
    empty = drift_table(ref, cur.iloc[:0], ["mrr", "plan"])
    assert empty["level"].tolist() == ["empty", "empty"] and empty["psi"].isna().all()
    assert empty["feature"].tolist() == ["mrr", "plan"]
    strict = drift_table(ref, cur, ["plan", "mrr"], moderate=0.001, major=0.002)
    assert strict["level"].tolist() == ["major", "major"]
    codes = drift_table(ref, cur, ["nps"], kinds={"nps": "categorical"})
    assert codes["kind"].item() == "categorical"
    assert drift_table(ref, cur, []).empty
    with pytest.raises(ValueError, match="more than once"):
        drift_table(ref, cur, ["mrr", "mrr"])
    with pytest.raises(ValueError, match="must not exceed"):
        drift_table(ref, cur, ["mrr"], moderate=0.3, major=0.2)


# ----------------------------------------------------------------------------- cross-checks


def _reference_numeric_psi(expected: pd.Series, actual: pd.Series, bins: int) -> float:
    """PSI from pandas.qcut edges and pandas.cut shares (independent of the module)."""
    _, edges = pd.qcut(expected.dropna(), q=bins, retbins=True, duplicates="drop")
    edges[0], edges[-1] = -np.inf, np.inf

    def shares(x: pd.Series) -> pd.Series:
        cut = pd.cut(x, edges, right=True).cat.add_categories("NA").fillna("NA")
        return cut.value_counts(normalize=True, sort=False)

    e, a = shares(expected), shares(actual).reindex(shares(expected).index)
    e, a = e.clip(lower=1e-4), a.clip(lower=1e-4)
    return float(((a - e) * np.log(a / e)).sum())


def _reference_categorical_psi(expected: pd.Series, actual: pd.Series) -> float:
    e = expected.fillna("NA").value_counts(normalize=True)
    a = actual.fillna("NA").value_counts(normalize=True)
    both = pd.concat([e.rename("e"), a.rename("a")], axis=1).fillna(0.0).clip(lower=1e-4)
    return float(((both["a"] - both["e"]) * np.log(both["a"] / both["e"])).sum())


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_numeric_psi_matches_a_qcut_re_implementation(seed):
    rng = np.random.default_rng(seed)
    # 2 000 continuous values: the quantile positions 1999 * k / bins are never whole,
    # so no value sits on an edge and qcut's edges are numpy's
    expected = pd.Series(rng.lognormal(0, 1, 2_000))
    actual = pd.Series(rng.lognormal(rng.uniform(-0.5, 0.5), rng.uniform(0.7, 1.5), 1_500))
    expected[rng.random(2_000) < 0.05] = np.nan
    actual[rng.random(1_500) < rng.uniform(0, 0.3)] = np.nan
    for bins in (5, 10, 20):
        ours = population_stability(expected, actual, bins=bins)
        assert len(ours.cut_points) == bins - 1
        assert ours.psi == pytest.approx(_reference_numeric_psi(expected, actual, bins), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_categorical_psi_matches_a_value_counts_re_implementation(seed):
    rng = np.random.default_rng(seed)
    levels = np.array(["a", "b", "c", "d", "e", None], dtype=object)
    expected = pd.Series(rng.choice(levels[:5], 3_000, p=[0.4, 0.3, 0.2, 0.1, 0.0]))
    actual = pd.Series(rng.choice(levels, 2_000, p=rng.dirichlet(np.ones(6))))
    ours = population_stability(expected, actual).psi
    assert ours == pytest.approx(_reference_categorical_psi(expected, actual), rel=1e-12)


def test_a_wide_table_names_the_one_shifted_feature():
    # speed lives in benchmarks/, not in a timed test; this checks the wide case's result
    rng = np.random.default_rng(9)
    n = 20_000
    data = {f"num_{i:02d}": rng.normal(size=n) for i in range(90)}
    data |= {f"cat_{i}": rng.choice(["a", "b", "c", "d"], n) for i in range(10)}
    ref = pd.DataFrame(data)
    cur = ref.copy()
    cur["num_00"] = cur["num_00"] + 1.0
    table = drift_table(ref, cur, list(ref.columns))
    assert len(table) == 100 and table["feature"].iloc[0] == "num_00"
    assert (table["psi"].iloc[1:] == 0.0).all()
