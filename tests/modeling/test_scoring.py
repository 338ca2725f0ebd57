"""Scoring arithmetic on a hand-made fixture (a stub model with known probabilities)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.errors import ModelError
from churnlab.modeling.scoring import (
    early_warning,
    health_band,
    health_score,
    renewal_map,
    score_accounts,
)

AS_OF = pd.Timestamp("2026-10-31")


class StubModel:
    """Returns the table's ``p`` column: this test is about the arithmetic only."""

    def predict_proba(self, table):
        return table["p"].to_numpy()


def scoring_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4", "A5", "A6"],
            "name": ["Acme", "Beta", "Gamma", "Delta", "Eps", "Zeta"],
            "as_of": AS_OF,
            "p": [0.05, 0.30, 0.31, 0.61, 0.90, 0.604],
            "arr": [5000.0, 12000.0, 11999.99, 60000.0, 59999.0, 100000.0],
            "renewal_date": pd.to_datetime(
                ["2026-11-10", "2027-01-29", "2027-01-30", None, "2026-10-31", "2026-10-30"]
            ),
        }
    )


def test_score_accounts_by_hand():
    table = scoring_table()
    before = table.copy()
    s = score_accounts(StubModel(), table, bands=(40, 70), touch_thresholds=(12000, 60000))
    pd.testing.assert_frame_equal(table, before)  # input untouched
    assert s["account_id"].tolist() == ["A1", "A2", "A3", "A4", "A5", "A6"]
    assert s["name"].tolist() == table["name"].tolist()
    assert s["churn_probability"].tolist() == [0.05, 0.30, 0.31, 0.61, 0.90, 0.604]
    # health = floor(100 (1 - p) + 0.5): 95, 70, 69, 39, 10, 39.6 -> 40
    assert s["health_score"].tolist() == [95, 70, 69, 39, 10, 40]
    assert s["health_band"].tolist() == ["green", "green", "yellow", "red", "red", "yellow"]
    assert s["touch_tier"].tolist() == [
        "tech_touch",
        "low_touch",
        "tech_touch",
        "high_touch",
        "low_touch",
        "high_touch",
    ]
    assert str(s["days_to_renewal"].dtype) == "Int64"
    assert s["days_to_renewal"].tolist()[:3] == [10, 90, 91]
    assert s["days_to_renewal"].isna().tolist() == [False, False, False, True, False, False]
    assert s["days_to_renewal"].tolist()[4:] == [0, -1]
    expected = [250.0, 3600.0, 0.31 * 11999.99, 36600.0, 53999.1, 60400.0]
    assert s["expected_arr_at_risk"].to_numpy() == pytest.approx(expected, rel=1e-12)


def test_custom_bands_and_tiers():
    s = score_accounts(
        StubModel(), scoring_table(), bands=(50, 90), touch_thresholds=(5000, 100000)
    )
    assert s["health_band"].tolist() == ["green", "yellow", "yellow", "red", "red", "red"]
    assert s["touch_tier"].tolist()[0] == "low_touch"
    assert s["touch_tier"].tolist()[-1] == "high_touch"


def test_health_is_annualised_with_a_horizon():
    # 90-day p -> one-year survival (1 - p) ** (365 / 90), in percent, rounded half up
    p = np.array([0.05, 0.084, 0.2, 0.5])
    assert health_score(p, 90).tolist() == [81, 70, 40, 6]
    assert health_score(p, 365).tolist() == health_score(p).tolist() == [95, 92, 80, 50]
    stub = StubModel()
    stub.training = {"horizon_days": 90}
    s = score_accounts(stub, scoring_table())
    # 0.30 -> 0.7 ** 4.0556 = 0.2356 -> 24; 0.604 -> 0.396 ** 4.0556 = 0.0233 -> 2
    assert s["health_score"].tolist() == [81, 24, 22, 2, 0, 2]
    assert s["health_band"].tolist() == ["green", "red", "red", "red", "red", "red"]
    explicit = score_accounts(StubModel(), scoring_table(), horizon_days=90)
    assert explicit["health_score"].tolist() == s["health_score"].tolist()


def test_health_helpers_edges():
    assert health_score([0.0, 1.0, 0.004, 0.006]).tolist() == [100, 0, 100, 99]
    assert health_band([39, 40, 69, 70]).tolist() == ["red", "yellow", "yellow", "green"]
    with pytest.raises(ModelError):
        health_band([50], bands=(70, 40))


def test_score_accounts_needs_columns():
    with pytest.raises(ModelError, match="renewal_date"):
        score_accounts(StubModel(), scoring_table().drop(columns="renewal_date"))


def test_renewal_map_window_and_order():
    s = score_accounts(StubModel(), scoring_table())
    r = renewal_map(s, as_of=AS_OF, days=90)
    # in [as_of, as_of + 90 days]: A1 (10 d), A2 (90 d), A5 (0 d); A3 is 91 d, A6 past, A4 none
    assert r["account_id"].tolist() == ["A5", "A2", "A1"]
    assert r["expected_arr_at_risk"].is_monotonic_decreasing
    assert renewal_map(s, as_of=AS_OF, days=91)["account_id"].tolist() == ["A5", "A3", "A2", "A1"]


def test_early_warning_reasons():
    s = score_accounts(StubModel(), scoring_table())
    prev = pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4", "A5", "A6", "GONE"],
            "health_score": [95, 90, 80, 60, 35, 55, 10],
        }
    )
    prev["health_band"] = health_band(prev["health_score"])
    w = early_warning(s, prev, drop_points=15)
    got = dict(zip(w["account_id"], w["reason"], strict=True))
    assert got == {
        "A2": "health fell 20 points",  # 90 -> 70
        "A4": "entered red; health fell 21 points",  # 60 -> 39
        "A5": "health fell 25 points",  # red already, 35 -> 10
        "A6": "health fell 15 points",  # 55 -> 40, exactly the threshold
    }
    assert w["account_id"].tolist() == ["A6", "A5", "A4", "A2"]  # by expected ARR at risk
    row = w.set_index("account_id").loc["A4"]
    assert (row["previous_health"], row["current_health"], row["health_change"]) == (60, 39, -21)
    assert early_warning(s, prev, drop_points=21)["account_id"].tolist() == ["A5", "A4"]


def test_early_warning_new_account_and_first_run():
    s = score_accounts(StubModel(), scoring_table())
    prev = pd.DataFrame({"account_id": ["A1"], "health_score": [95], "health_band": ["green"]})
    w = early_warning(s, prev)
    assert set(w["account_id"]) == {"A4", "A5"}
    assert (w["reason"] == "entered red").all()
    assert w["previous_health"].isna().all()
    first = early_warning(s, None)  # no comparable earlier run: nothing to compare with
    assert first.empty
    assert list(first.columns) == list(w.columns)
