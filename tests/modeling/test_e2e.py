"""End to end on a small generated SaaS sample: observations -> backtest -> model -> scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.modeling import (
    early_warning,
    fit_churn_model,
    load_model,
    renewal_map,
    rolling_origin_backtest,
    save_model,
    score_accounts,
)
from churnlab.modeling.scoring import SCORE_COLUMNS

END = pd.Timestamp("2026-10-31")


@pytest.fixture(scope="module")
def tables(observations, scoring):
    """Stage 00's real month-end observations and scoring table on the shared sample."""
    return observations[observations["checkpoint"] == "month_end"].reset_index(drop=True), scoring


def test_pipeline_on_generated_sample(tables, tmp_path):
    train, scoring = tables
    res = rolling_origin_backtest(train, model_kind="lightgbm", n_folds=3, seed=1)
    assert res.scheme == "rolling_origin"
    assert res.leaks.empty  # the feature engine leaks nothing a single feature can show
    assert res.pooled["roc_auc"] > 0.65  # the generator plants real signal
    assert res.pooled["ece"] < 0.08

    model = fit_churn_model(train, kind="lightgbm", seed=1, horizon_days=90)
    scores = score_accounts(model, scoring)
    assert list(scores.columns) == SCORE_COLUMNS
    assert len(scores) == len(scoring)
    assert scores["churn_probability"].between(0, 1).all()
    # calibrated: the mean predicted 90-day risk is near the recent observed churn rate
    recent = train[train["as_of"] >= train["as_of"].max() - pd.Timedelta(days=92)]
    assert abs(scores["churn_probability"].mean() - recent["label"].mean()) < 0.04
    assert set(scores["health_band"]) <= {"red", "yellow", "green"}
    np.testing.assert_allclose(
        scores["expected_arr_at_risk"], scores["churn_probability"] * scores["arr"]
    )
    upcoming = renewal_map(scores, as_of=END, days=90)
    assert upcoming["days_to_renewal"].between(0, 90).all()
    assert len(early_warning(scores, None)) == 0  # no earlier run: nothing to compare with

    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    np.testing.assert_allclose(
        loaded.predict_proba(scoring), model.predict_proba(scoring), atol=1e-12, rtol=0
    )
