"""Metrics on hand-worked fixtures and against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve as sk_calibration_curve
from sklearn.metrics import average_precision_score, roc_auc_score

from churnlab.modeling.metrics import (
    better,
    calibration_curve,
    capture_at,
    evaluate,
    expected_calibration_error,
    lift_at,
    top_mask,
)

# 10 rows, 3 churners at ranks 1, 3 and 8 of 10 (probabilities all distinct).
P = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
Y = np.array([1, 0, 1, 0, 0, 0, 0, 1, 0, 0])


def test_lift_and_capture_by_hand():
    # base rate 3/10. Top 20% = 2 rows (ranks 1-2): 1 churner -> rate 0.5, lift 0.5/0.3.
    assert lift_at(Y, P, 0.20) == pytest.approx(0.5 / 0.3)
    assert capture_at(Y, P, 0.20) == pytest.approx(1 / 3)
    # Top 10% = rank 1 only: rate 1.0, lift 1/0.3.
    assert lift_at(Y, P, 0.10) == pytest.approx(1 / 0.3)
    # Top 30% = ranks 1-3: 2 churners.
    assert capture_at(Y, P, 0.30) == pytest.approx(2 / 3)
    # Shuffling the rows changes nothing.
    perm = np.random.default_rng(1).permutation(10)
    assert lift_at(Y[perm], P[perm], 0.20) == pytest.approx(0.5 / 0.3)


def test_top_k_rounds_up_and_ties_keep_input_order():
    # 5 rows, 20% -> 1 row; 30% -> ceil(1.5) = 2 rows.
    p = np.array([0.5, 0.9, 0.9, 0.1, 0.2])
    assert top_mask(p, 0.2).tolist() == [False, True, False, False, False]
    assert top_mask(p, 0.3).tolist() == [False, True, True, False, False]


def test_ranking_and_probability_metrics_by_hand():
    m = evaluate(Y, P)
    # ROC AUC: pairs (churner, non-churner) ranked right: 7 + 6 + 2 of 3*7.
    assert m["roc_auc"] == pytest.approx(15 / 21)
    # Average precision: precision at each churner's rank: 1/1, 2/3, 3/8.
    assert m["pr_auc"] == pytest.approx((1 + 2 / 3 + 3 / 8) / 3)
    # Brier: mean squared error.
    brier = (0.01 + 0.64 + 0.09 + 0.36 + 0.25 + 0.16 + 0.09 + 0.64 + 0.01 + 0.0025) / 10
    assert m["brier"] == pytest.approx(brier)
    ll = -np.mean(np.where(Y == 1, np.log(P), np.log(1 - P)))
    assert m["log_loss"] == pytest.approx(ll)
    assert m["n"] == 10 and m["positives"] == 3 and m["base_rate"] == pytest.approx(0.3)


def test_ece_by_hand():
    # Bin 1 (0.1-0.2): 4 rows, mean p 0.14, observed 1/4; bin 8: p .85, y 1; bin 9: p .95, y 1.
    p = np.array([0.12, 0.18, 0.15, 0.11, 0.85, 0.95])
    y = np.array([0, 1, 0, 0, 1, 1])
    curve = calibration_curve(y, p)
    assert curve["bin"].tolist() == [1, 8, 9]
    assert curve["count"].tolist() == [4, 1, 1]
    assert curve["mean_predicted"].tolist() == pytest.approx([0.14, 0.85, 0.95])
    assert curve["observed_rate"].tolist() == pytest.approx([0.25, 1.0, 1.0])
    expected = 4 / 6 * 0.11 + 1 / 6 * 0.15 + 1 / 6 * 0.05
    assert expected_calibration_error(y, p) == pytest.approx(expected)
    # p = 1.0 falls in the last bin, p = 0.0 in the first.
    assert calibration_curve([1, 0], [1.0, 0.0])["bin"].tolist() == [0, 9]


def test_against_sklearn_on_random_data():
    rng = np.random.default_rng(7)
    p = rng.random(2000)
    y = (rng.random(2000) < p**1.5).astype(int)
    m = evaluate(y, p)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p))
    prob_true, prob_pred = sk_calibration_curve(y, p, n_bins=10, strategy="uniform")
    curve = calibration_curve(y, p)
    assert curve["observed_rate"].to_numpy() == pytest.approx(prob_true)
    assert curve["mean_predicted"].to_numpy() == pytest.approx(prob_pred)
    # A perfectly calibrated generator has a small ECE; a shifted one does not.
    y_cal = (rng.random(2000) < p).astype(int)
    assert expected_calibration_error(y_cal, p) < 0.05
    assert expected_calibration_error(y_cal, np.clip(p + 0.2, 0, 1)) > 0.15


def test_degenerate_inputs():
    m = evaluate([0, 0, 0], [0.1, 0.2, 0.3])
    assert np.isnan(m["roc_auc"]) and np.isnan(m["lift_10"])
    with pytest.raises(ValueError):
        evaluate([0, 1], [0.5])


def test_better_knows_direction():
    assert better("roc_auc", 0.8, 0.7)
    assert better("brier", 0.1, 0.2)
    assert not better("log_loss", 0.5, 0.4)
