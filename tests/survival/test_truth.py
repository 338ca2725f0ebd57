"""The hazard model against the truth: a simulated constant hazard, and a generated sample
whose last 12 months the model never saw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.survival import fit_hazard, fit_survival


def test_a_logistic_hazard_recovers_known_monthly_hazards():
    """Two groups with monthly hazards 5% and 20%, censored at random: S(k) as simulated."""
    rng = np.random.default_rng(3)
    n = 3000
    risky = rng.random(n) < 0.5
    hazard = np.where(risky, 0.20, 0.05)
    months = rng.geometric(hazard).astype(float) - rng.random(n)  # churn inside its month
    censor = rng.uniform(1, 12, n)
    table = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(n)],
            "as_of": pd.Timestamp("2026-01-31"),
            "risky": risky.astype(float),
            "duration": np.minimum(months, censor),
            "event": (months <= censor).astype(int),
            "offset": 0.0,
        }
    )
    model = fit_hazard(
        table,
        ["risky"],
        [],
        kind="logistic",
        params={"C": 1.0},
        seed=1,
        horizon=6,
        calibration="platt",
    )
    probe = table.iloc[[0, 0]].assign(risky=[0.0, 1.0])
    s = model.survival(probe, 6)
    np.testing.assert_allclose(s[:, 5], [0.95**6, 0.80**6], atol=0.04)


@pytest.fixture(scope="module")
def year_ahead(tmp_path_factory):
    """A 30-month sample; the model sees the first 18 (data.as_of a year before its end)."""
    from churnlab.observations.periods import active_periods
    from churnlab.run.steps import data_health, model
    from churnlab.run.steps import time_to_churn as step
    from churnlab.sample import generate_sample, write_sample
    from tests.helpers import sample_params

    folder = tmp_path_factory.mktemp("long")
    sample = generate_sample(n_accounts=500, months=30, seed=7, end_date="2026-10-31")
    write_sample(sample, folder)
    cfg = sample_params(folder, folder / "work", "data.as_of=2025-10-31")
    inputs = data_health.load_inputs(cfg)
    cfg = data_health.adapt(cfg, data_health.fit_history(cfg, inputs))
    periods = data_health.active_periods(cfg, inputs)
    tables = data_health.observation_tables(cfg, inputs, periods, "2025-10-31")
    observations, scoring = tables.training, tables.scoring
    features = model.model_features(cfg, observations)
    train, scoring_landmarks, notes = step.landmarks(cfg, observations, scoring, periods)
    outcome = fit_survival(
        train,
        scoring_landmarks,
        features.numeric,
        features.categorical,
        step.settings(cfg, False),
        data_end=pd.Timestamp("2025-10-31"),
    )
    full = active_periods(sample.subscriptions, cfg.observation.grace_days, "2026-10-31")
    return outcome, scoring, full


def test_the_forecast_holds_the_retention_of_the_year_it_never_saw(year_ahead):
    outcome, scoring, full = year_ahead
    as_of, year_end = (
        pd.Timestamp("2025-10-31"),
        pd.Timestamp("2025-10-31") + pd.Timedelta(days=365),
    )
    spans = full[
        (full["start_date"] <= as_of) & (full["end_date"].isna() | (full["end_date"] > as_of))
    ]
    lost = spans[spans["churned"] & (spans["end_date"] <= year_end)]["account_id"].astype(str)
    arr = scoring.set_index(scoring["account_id"].astype(str))["arr"].astype(float)
    realised = float(arr[~arr.index.isin(set(lost))].sum() / arr.sum())
    book = outcome.forecast[
        (outcome.forecast["group"] == "all") & (outcome.forecast["month"] == 12)
    ]
    lower, upper = (book[["arr_lower", "arr_upper"]].to_numpy()[0] / book["arr"].item()).tolist()
    expected = book["retention"].item()
    assert lower <= realised <= upper, (lower, expected, realised, upper)
    assert abs(expected - realised) < 0.08  # and close, not only inside a wide band
    assert (
        outcome.metrics["horizon_months"] == 12
        and outcome.per_account["survival_12m"].notna().all()
    )
