"""Survival curves, the restricted mean, person-period rows and the metrics, on hand-worked numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.metrics import brier_score_loss

from churnlab.survival import (
    MONTH_DAYS,
    brier_by_month,
    c_index,
    churn_before,
    d_calibration,
    integrated_brier_score,
    person_period,
    restricted_mean,
    retention_forecast,
    survival_at,
    survival_from_hazards,
)


def test_survival_is_the_product_of_one_minus_the_hazards():
    s = survival_from_hazards(np.array([[0.1, 0.2, 0.5], [0.0, 0.0, 1.0]]))
    np.testing.assert_allclose(s, [[0.9, 0.72, 0.36], [1.0, 1.0, 0.0]])


def test_restricted_mean_is_the_area_under_the_curve_to_the_horizon():
    s = np.array([[0.9, 0.72, 0.36]])
    # (1 + .9)/2 + (.9 + .72)/2 + (.72 + .36)/2 = .95 + .81 + .54
    np.testing.assert_allclose(restricted_mean(s, 3), [2.30])
    np.testing.assert_allclose(restricted_mean(s, 2), [1.76])
    assert restricted_mean(np.ones((1, 12)), 12)[0] == 12.0  # nobody churns: the whole horizon


def test_survival_between_month_ends_and_churn_before_a_date():
    s = np.array([[0.9, 0.72, 0.36], [0.9, 0.72, 0.36]])
    np.testing.assert_allclose(survival_at(s, np.array([1.5, 0.0])), [0.81, 1.0])
    # a renewal 40 days ahead falls in month 2: not renewing there counts
    np.testing.assert_allclose(churn_before(s, np.array([40 / MONTH_DAYS, 0.2])), [0.28, 0.1])
    assert np.isnan(churn_before(s, np.array([3.5, 1.0]))[0])  # past the curve: unknown


def _landmarks(**columns):
    base = {"account_id": ["a", "b"], "as_of": pd.Timestamp("2026-01-31"), "offset": 0.0}
    return pd.DataFrame({**base, **columns})


def test_person_period_rows_stop_at_the_churn_or_the_last_complete_month():
    rows = person_period(_landmarks(duration=[2.5, 2.9], event=[1, 0]), renewals=False)
    assert rows["account_id"].tolist() == ["a", "a", "a", "b", "b"]
    assert rows["period_month"].tolist() == [1, 2, 3, 1, 2]
    assert rows["label"].tolist() == [0, 0, 1, 0, 0]
    capped = person_period(_landmarks(duration=[2.5, 2.9], event=[1, 0]), horizon=2)
    assert capped["label"].sum() == 0 and len(capped) == 4  # a churn after the cap is censored


def test_renewal_month_follows_the_billing_period():
    table = _landmarks(
        duration=[np.nan, np.nan],
        event=[0, 0],
        days_to_renewal=[40, 10],
        billing_period_months=[12, 1],
    )
    rows = person_period(table, 14)
    annual = rows[rows["account_id"] == "a"]
    assert annual.loc[annual["renewal_month"] == 1, "period_month"].tolist() == [2, 14]
    np.testing.assert_allclose(
        annual["months_to_renewal"].iloc[:2], [40 / MONTH_DAYS, 40 / MONTH_DAYS - 1]
    )
    assert rows.loc[rows["account_id"] == "b", "renewal_month"].eq(1).all()


def test_forecast_sums_arr_times_survival_with_a_normal_band():
    s = np.array([[0.9], [0.5]])
    out = retention_forecast(s, np.array([100.0, 200.0]), np.array(["x", "y"]), level=0.9)
    book = out[out["group"] == "all"].iloc[0]
    assert book["expected_arr"] == pytest.approx(190.0)
    spread = np.sqrt(100**2 * 0.9 * 0.1 + 200**2 * 0.5 * 0.5)
    z = norm.ppf(0.95)
    assert book["arr_lower"] == pytest.approx(190 - z * spread)
    assert book["arr_upper"] == pytest.approx(300.0)  # never above today's ARR
    assert out.loc[out["group"] == "x", "expected_arr"].item() == pytest.approx(90.0)
    with_error = retention_forecast(s, np.array([100.0, 200.0]), model_error=np.array([0.1]))
    wider = np.sqrt(spread**2 + (0.1 * 190) ** 2)
    assert with_error["arr_lower"].item() == pytest.approx(190 - z * wider)


def test_integrated_brier_without_censoring_is_the_mean_monthly_brier_score():
    rng = np.random.default_rng(0)
    s = np.sort(rng.uniform(0.3, 1.0, size=(50, 4)), axis=1)[:, ::-1]
    t = rng.integers(1, 7, size=50).astype(float)
    e = np.ones(50, dtype=int)
    expected = [brier_score_loss((t > k).astype(int), s[:, k - 1]) for k in range(1, 5)]
    np.testing.assert_allclose(brier_by_month(s, t, e, 4), expected)
    assert integrated_brier_score(s, t, e, 4) == pytest.approx(np.mean(expected))


def test_brier_weighs_by_the_censoring_distribution():
    # t = 1 (churned), 2 (censored), 2 (churned); G(1) = 1, G(2) = 1/2, G(2-) = 1
    s = np.array([[0.8, 0.6], [0.7, 0.5], [0.9, 0.4]])
    t, e = np.array([1.0, 2.0, 2.0]), np.array([1, 0, 1])
    month1 = (0.8**2 + 0.3**2 + 0.1**2) / 3
    month2 = (0.6**2 + 0.0 + 0.4**2) / 3  # the censored row is neither alive after 2 nor churned
    np.testing.assert_allclose(brier_by_month(s, t, e, 2), [month1, month2])


def test_c_index_is_lifelines_on_the_cut_follow_up():
    from lifelines.utils import concordance_index

    s = np.array([[0.9, 0.5], [0.95, 0.9], [0.6, 0.3], [0.99, 0.97]])
    t, e = np.array([2.0, 5.0, 1.0, 9.0]), np.array([1, 1, 1, 0])
    # follow-up cut at 2 months: the churns at 5 count as "still a customer at 2"
    expected = concordance_index([2, 2, 1, 2], s[:, 1], [1, 0, 1, 0])
    assert c_index(s, t, e, 2) == pytest.approx(expected)
    assert c_index(s, t, e, 2) == 1.0  # riskier curves churned sooner


def test_d_calibration_of_uniform_survival_at_the_churn_time_and_a_censored_row():
    n = 1000
    u = (np.arange(n) + 0.5) / n  # S(T) uniform: each account churns where its curve says
    months = 10
    s = np.tile(np.linspace(0.9, 0.0, months), (n, 1))
    t = np.interp(u, s[0][::-1], np.arange(1, months + 1)[::-1].astype(float))
    p, weights = d_calibration(s, t, np.ones(n, dtype=int))
    assert p > 0.5 and weights.sum() == pytest.approx(1.0)
    # one row censored where S = 0.5 spreads its weight over the five bins below 0.5
    p, weights = d_calibration(np.array([[0.75, 0.5]]), np.array([2.0]), np.array([0]))
    np.testing.assert_allclose(weights, [0.2] * 5 + [0.0] * 5)
