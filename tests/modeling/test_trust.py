"""Trust figures: Wilson intervals, equal-count calibration bins, the top-decile churn rate.

Checked against independent computations: scipy's Wilson interval, plain pandas sorting
and grouping, and small hand-worked tables.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from churnlab.modeling.metrics import (
    lift_at,
    quantile_bin_count,
    quantile_calibration,
    wilson_interval,
)
from churnlab.modeling.trust import trust_figures


@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 1), (0, 25), (3, 10), (7, 618), (87, 617)])
def test_wilson_interval_equals_scipy(k, n):
    low, high = wilson_interval([k], [n])
    ci = binomtest(k, n).proportion_ci(method="wilson")
    assert low[0] == pytest.approx(ci.low, abs=1e-12)
    assert high[0] == pytest.approx(ci.high, abs=1e-12)
    with pytest.raises(ValueError):
        wilson_interval([0], [0])


@pytest.mark.parametrize("n", [7, 57, 400, 1003, 6171])
def test_quantile_bins_hold_equal_counts(n):
    rng = np.random.default_rng(n)
    p = np.round(rng.random(n) ** 3, 2)  # many ties
    y = (rng.random(n) < p).astype(int)
    bins = quantile_calibration(y, p)
    assert len(bins) == quantile_bin_count(n) == min(10, max(2, n // 40))
    assert bins["count"].max() - bins["count"].min() <= 1
    assert bins["count"].sum() == n and bins["churned"].sum() == y.sum()
    assert bins["mean_predicted"].is_monotonic_increasing
    # the same bins by plain pandas: sort (stable), cut into equal runs of rows
    frame = pd.DataFrame({"p": p, "y": y}).sort_values("p", kind="mergesort")
    edges = np.cumsum([0, *bins["count"]])
    for i, row in bins.iterrows():
        part = frame.iloc[edges[i] : edges[i + 1]]
        assert row["mean_predicted"] == pytest.approx(part["p"].mean())
        assert row["observed_rate"] == pytest.approx(part["y"].mean())
        ci = binomtest(int(part["y"].sum()), len(part)).proportion_ci(method="wilson")
        assert (row["lower"], row["upper"]) == pytest.approx((ci.low, ci.high))


def test_bin_count_rule():
    assert [quantile_bin_count(n) for n in (0, 1, 2, 50, 79, 80, 399, 400, 10_000)] == [
        0, 1, 2, 2, 2, 2, 9, 10, 10
    ]  # fmt: skip
    assert quantile_calibration([], []).empty


def _table(n: int, top_churners: int, other_churners: int) -> pd.DataFrame:
    """``n`` rows with distinct probabilities; churners among the riskiest tenth and the rest."""
    p = np.linspace(0.9, 0.01, n)  # riskiest first
    y = np.zeros(n, dtype=int)
    top = math.ceil(0.1 * n)
    y[:top_churners] = 1
    y[top : top + other_churners] = 1
    return pd.DataFrame({"label": y, "churn_probability": p})


def test_top_decile_on_a_hand_worked_table():
    # 200 rows: the riskiest 20 hold 8 churners, the other 180 hold 12 -> base 20/200
    table = _table(200, 8, 12)
    fig = trust_figures(table, horizon_days=90, scheme="rolling_origin")
    assert fig["status"] == "ok" and fig["n"] == 200 and fig["churned"] == 20
    assert (fig["top_n"], fig["top_churned"]) == (20, 8)
    assert fig["top_rate"] == pytest.approx(0.4) and fig["base_rate"] == pytest.approx(0.1)
    assert fig["top_lift"] == pytest.approx(4.0)
    assert fig["top_lift"] == pytest.approx(
        lift_at(table["label"], table["churn_probability"], 0.1)
    )
    assert fig["n_bins"] == 5 and len(fig["bins"]) == 5  # 200 rows: 40 a bin
    assert fig["calibration"]["bin"] == 4 and fig["calibration"]["share"] == pytest.approx(0.2)
    assert fig["held_out"] == "later_dates" and fig["horizon_days"] == 90


def test_calibration_direction_says_where_the_prediction_lies():
    rng = np.random.default_rng(3)
    p = rng.random(4000) * 0.6
    honest = pd.DataFrame({"churn_probability": p, "label": (rng.random(4000) < p).astype(int)})
    fig = trust_figures(honest, horizon_days=90, scheme="account_kfold")
    assert fig["calibration"]["direction"] == "close"
    assert fig["bins_within"] >= 8  # 95% intervals: most bins hold their prediction
    high = honest.assign(churn_probability=np.clip(p * 1.6, 0, 1))
    assert trust_figures(high, horizon_days=90, scheme="x")["calibration"]["direction"] == "over"
    low = honest.assign(churn_probability=p * 0.5)
    assert trust_figures(low, horizon_days=90, scheme="x")["calibration"]["direction"] == "under"


def test_too_few_rows_or_no_churner_give_a_status_not_figures():
    few = trust_figures(_table(49, 3, 3), horizon_days=90, scheme="rolling_origin")
    assert few["status"] == "too_few" and "top_rate" not in few
    none = trust_figures(_table(300, 0, 0), horizon_days=90, scheme="rolling_origin")
    assert none["status"] == "no_churner" and none["n"] == 300
    snap = trust_figures(
        _table(300, 9, 9), horizon_days=365, scheme="stratified_kfold", snapshot=True
    )
    assert snap["held_out"] == "accounts" and snap["horizon_days"] is None
