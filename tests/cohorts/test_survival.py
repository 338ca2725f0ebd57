"""churnlab.survival: Kaplan-Meier and log-rank, pinned to lifelines and a hand-written product limit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from churnlab.cohorts.survival import kaplan_meier, logrank, survival_frame
from churnlab.errors import DataError
from tests.helpers import TELCO


@pytest.fixture(scope="module")
def telco():
    raw = pd.read_csv(TELCO)
    return raw["tenure"].astype(float), raw["Churn"].eq("Yes"), raw["Contract"]


def product_limit(durations: np.ndarray, events: np.ndarray, t: float) -> float:
    """Kaplan-Meier S(t) = prod over event times u <= t of (1 - d_u / n_u), written out by hand."""
    times = np.unique(durations[events & (durations <= t)])
    at_risk = (durations[None, :] >= times[:, None]).sum(axis=1)
    deaths = ((durations[None, :] == times[:, None]) & events[None, :]).sum(axis=1)
    return float(np.prod(1 - deaths / at_risk))


def test_kaplan_meier_hand_worked_fixture():
    # durations 1,2,2,3,4 with events 1,1,0,1,0: S(1) = 4/5, S(2) = 4/5 * 3/4 = .6 (censored
    # at 2 leaves 2 at risk at 3), S(3) = .6 * 1/2 = .3, median = 3 (first S <= .5)
    out = kaplan_meier([1, 2, 2, 3, 4], [1, 1, 0, 1, 0], times=(1, 2, 3))
    row = out.iloc[0]
    assert (row["n"], row["churned"]) == (5, 3)
    assert [row["survival_1m"], row["survival_2m"], row["survival_3m"]] == pytest.approx(
        [0.8, 0.6, 0.3]
    )
    assert row["median_months"] == 3


def test_kaplan_meier_telco_by_contract_pinned(telco):
    tenure, churn, contract = telco
    out = kaplan_meier(tenure, churn, contract).set_index("group")
    # pinned: lifelines 0.30 KaplanMeierFitter on the Telco tenure/Churn data
    assert out.loc["Month-to-month", ["n", "churned"]].tolist() == [3875, 1655]
    assert out.loc[
        "Month-to-month", ["survival_3m", "survival_6m", "survival_12m", "survival_24m"]
    ].tolist() == pytest.approx([0.841723, 0.785835, 0.703097, 0.585915], abs=1e-6)
    assert out.loc["Month-to-month", "median_months"] == 35
    assert out.loc["One year", "survival_12m"] == pytest.approx(0.990808, abs=1e-6)
    assert out.loc["One year", "median_months"] == np.inf
    assert out.loc["Two year", "survival_24m"] == 1.0
    # and independently, the product-limit estimate written out by hand
    mtm = (contract == "Month-to-month").to_numpy()
    for t in (3, 12, 24):
        expected = product_limit(tenure.to_numpy()[mtm], churn.to_numpy()[mtm], t)
        assert out.loc["Month-to-month", f"survival_{t}m"] == pytest.approx(expected, rel=1e-12)


def test_logrank_telco_pinned_and_two_group_hand_check(telco):
    tenure, churn, contract = telco
    result = logrank(tenure, churn, contract)
    assert result.test_statistic == pytest.approx(2352.872538, rel=1e-6)
    assert result.degrees_of_freedom == 2 and result.p_value < 1e-300
    # two groups: observed - expected and its hypergeometric variance, by hand
    one, two = (contract == "One year").to_numpy(), (contract == "Two year").to_numpy()
    keep = one | two
    d, e, g = tenure.to_numpy()[keep], churn.to_numpy()[keep], one[keep]
    times = np.unique(d[e])
    at_risk = d[None, :] >= times[:, None]
    died = (d[None, :] == times[:, None]) & e[None, :]
    n, n1 = at_risk.sum(1), (at_risk & g).sum(1)
    k, k1 = died.sum(1), (died & g).sum(1)
    o_minus_e = (k1 - k * n1 / n).sum()
    var = (k * (n1 / n) * (1 - n1 / n) * (n - k) / np.maximum(n - 1, 1)).sum()
    chi2 = o_minus_e**2 / var
    result = logrank(d, e, np.where(g, "One year", "Two year"))
    assert result.test_statistic == pytest.approx(chi2, rel=1e-9)
    assert result.p_value == pytest.approx(sps.chi2.sf(chi2, 1), rel=1e-6)


def test_logrank_skips_one_group_and_needs_valid_durations():
    # one group: skipped with a note, not failed (see test_odd_data for the details)
    result = logrank([1, 2], [1, 0], ["a", "a"])
    assert result.skipped and result.note == "one group only: nothing to compare"
    with pytest.raises(DataError, match=">= 0"):
        kaplan_meier([1, -2], [1, 0])


def test_survival_frame_from_active_periods():
    periods = pd.DataFrame(
        {
            "account_id": ["A", "A", "B", "C", "D"],
            "period_number": [1, 2, 1, 1, 1],
            "start_date": pd.to_datetime(
                ["2025-01-01", "2026-01-01", "2025-07-01", "2026-12-01", "2026-01-01"]
            ),
            "end_date": pd.to_datetime(["2025-07-02", None, "2026-07-01", None, "2026-12-01"]),
            "churned": [True, False, True, False, False],
        }
    )
    accounts = pd.DataFrame(
        {"account_id": ["A", "B", "C"], "plan": ["starter", "growth", "growth"]}
    )
    before = periods.copy()
    out = survival_frame(periods, accounts, data_end="2026-10-31", by="plan")
    pd.testing.assert_frame_equal(periods, before)
    # C starts after the data end: left out; D churns after data_end: censored there
    assert out["account_id"].tolist() == ["A", "A", "B", "D"]
    assert out["churned"].tolist() == [True, False, True, False]
    days = [182, 303, 365, 303]
    assert out["duration_months"].tolist() == pytest.approx([x / (365.25 / 12) for x in days])
    assert out["group"].tolist() == ["starter", "starter", "growth", "unknown"]
    with pytest.raises(DataError, match="touch_tier"):
        survival_frame(periods, accounts, data_end="2026-10-31")
