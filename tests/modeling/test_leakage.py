"""Vectorised single-feature AUC of the leak check, against scikit-learn and by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from churnlab.errors import ModelError
from churnlab.modeling.leakage import leak_check, single_feature_auc


def test_single_feature_auc_by_hand():
    # positives score 2 and 4, negatives 1 and 3: 3 of the 4 pairs ordered -> 0.75
    assert single_feature_auc(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0, 1, 0, 1])) == 0.75
    # a tie counts one half
    assert single_feature_auc(np.array([1.0, 1.0]), np.array([0, 1])) == 0.5
    # columns at once; a reversed score gives 1 - AUC; -inf ranks lowest
    scores = np.array([[1.0, 4.0, -np.inf], [2.0, 3.0, 0.0], [3.0, 2.0, -np.inf], [4.0, 1.0, 5.0]])
    np.testing.assert_array_equal(
        single_feature_auc(scores, np.array([0, 1, 0, 1])), [0.75, 0.25, 1.0]
    )


def test_single_feature_auc_needs_both_labels():
    with pytest.raises(ModelError, match="both label values"):
        single_feature_auc(np.array([1.0, 2.0]), np.array([1, 1]))


def test_single_feature_auc_equals_sklearn_with_ties():
    rng = np.random.default_rng(3)
    n = 2_000
    y = (rng.random(n) < 0.15).astype(int)
    columns = [
        rng.normal(size=n) + y,  # continuous, no ties
        np.round(rng.normal(size=n) * 2 + y),  # many ties
        rng.integers(0, 3, size=n).astype(float),  # three levels
        np.full(n, 7.0),  # constant
        np.where(rng.random(n) < 0.3, -np.inf, rng.exponential(size=n) - y),
    ]
    scores = np.column_stack(columns)
    got = single_feature_auc(scores, y)
    # scikit-learn refuses infinities: the same order with a finite floor
    finite = [np.where(np.isinf(c), np.min(c[np.isfinite(c)]) - 1.0, c) for c in columns]
    expected = [roc_auc_score(y, c) for c in finite]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(-3, 3)), min_size=2, max_size=60).filter(
        lambda rows: len({label for label, _ in rows}) == 2
    )
)
def test_single_feature_auc_property(rows):
    y = np.array([label for label, _ in rows])
    x = np.array([value for _, value in rows], dtype=float)
    assert abs(float(single_feature_auc(x, y)) - roc_auc_score(y, x)) <= 1e-12


def _reference_leak_auc(table: pd.DataFrame, column: str, kind: str) -> float:
    """The pre-vectorisation rule, one feature at a time with scikit-learn."""
    y = table["label"].astype(int).to_numpy()
    if kind == "numeric":
        v = table[column].astype("float64").to_numpy()
        floor = np.nanmin(v) - 1.0 if not np.isnan(v).all() else 0.0
        score = np.where(np.isnan(v), floor, v)
    else:
        levels = table[column].astype(object).where(table[column].notna(), "__missing__")
        score = pd.Series(y).groupby(levels.astype(str).to_numpy()).transform("mean").to_numpy()
    auc = roc_auc_score(y, score)
    return max(auc, 1 - auc)


def test_leak_check_equals_per_feature_sklearn():
    rng = np.random.default_rng(11)
    n = 1_500
    y = (rng.random(n) < 0.2).astype(int)
    noisy = rng.normal(size=n) + 0.8 * y
    table = pd.DataFrame(
        {
            "label": pd.array(y, dtype="Int64"),
            "num_nan": np.where(rng.random(n) < 0.25, np.nan, noisy),
            "num_int": pd.array(
                np.where(rng.random(n) < 0.1, None, rng.integers(0, 5, n) + y), dtype="Int64"
            ),
            "num_bool": rng.random(n) < 0.3 + 0.3 * y,
            "all_nan": np.full(n, np.nan),
            "echo": y + rng.normal(scale=0.01, size=n),  # a planted leak
            "cat": rng.choice(["a", "b", "c", None], size=n),
            "cat_y": np.where(y == 1, rng.choice(["x", "y"], n), rng.choice(["y", "z"], n)),
        }
    )
    numeric = ["num_nan", "num_int", "num_bool", "all_nan", "echo"]
    categorical = ["cat", "cat_y"]
    report = leak_check(table, numeric, categorical)
    assert report["auc"].is_monotonic_decreasing
    got = report.set_index("feature")
    for col, kind in [
        *((c, "numeric") for c in numeric),
        *((c, "categorical") for c in categorical),
    ]:
        assert got.loc[col, "type"] == kind
        assert got.loc[col, "auc"] == pytest.approx(
            _reference_leak_auc(table, col, kind), abs=1e-12
        )
    assert got.loc["all_nan", "auc"] == 0.5
    assert got.loc["echo", "suspected_leak"] and got["suspected_leak"].sum() == 1


def test_a_few_churners_never_stop_a_fit_but_a_real_leak_does():
    """Five churners and an ordinary 10-level column can separate perfectly: not a leak."""
    from churnlab.modeling.leakage import MIN_CLASS_ROWS, check_leaks

    rng = np.random.default_rng(2)
    n = 200
    y = np.zeros(n, dtype=int)
    y[:5] = 1
    industry = np.where(y == 1, "retail", rng.choice([f"i{k}" for k in range(9)], n))
    small = pd.DataFrame({"label": y, "industry": industry})
    assert leak_check(small, [], ["industry"])["suspected_leak"].all()  # reported ...
    check_leaks(small, [], ["industry"])  # ... but with 5 churners it stops nothing
    y = (rng.random(n) < 0.3).astype(int)
    assert min(y.sum(), n - y.sum()) >= MIN_CLASS_ROWS
    leaky = pd.DataFrame({"label": y, "echo": np.where(y == 1, "cancelled", "active")})
    with pytest.raises(ModelError, match="suspected label leak: 'echo'"):
        check_leaks(leaky, [], ["echo"])
