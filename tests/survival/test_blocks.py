"""Stage 03 bounds its memory without changing a number: the hazards are scored a block of
landmarks at a time, and the back-test's training landmarks are thinned before they are
copied."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.survival import _hazard, backtest_split, fit_hazard, thin_landmarks


def _landmarks(n: int = 1200, seed: int = 5) -> pd.DataFrame:
    """Monthly landmarks over a year: a hazard that doubles with ``risky``, renewal dates."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2025-01-31", periods=12, freq="ME")
    as_of = dates[rng.integers(0, len(dates), n)]
    end = pd.Timestamp("2026-01-31")
    followed = (end - as_of).days.to_numpy() / 30.4375
    risky = rng.random(n) < 0.5
    churn = rng.geometric(np.where(risky, 0.2, 0.1)) - rng.random(n)
    return pd.DataFrame(
        {
            "account_id": [f"A{i:04d}" for i in range(n)],
            "as_of": as_of,
            "risky": risky.astype(float),
            "plan": rng.choice(["basic", "pro"], n),
            "days_to_renewal": rng.uniform(1, 360, n),
            "billing_period_months": rng.choice([1.0, 12.0], n),
            "duration": np.minimum(churn, followed),
            "event": (churn <= followed).astype(int),
            "offset": 0.0,
        }
    )


def test_hazards_scored_in_blocks_are_the_hazards_scored_at_once(monkeypatch):
    table = _landmarks()
    model = fit_hazard(
        table, ["risky"], ["plan"], kind="logistic", params={"C": 1.0}, seed=1, horizon=6
    )
    whole = model.hazards(table, 6)
    monkeypatch.setattr(_hazard, "PREDICT_ROWS", 6 * 7 + 3)  # blocks of 7 landmarks, one short
    blocks = model.hazards(table, 6)
    assert whole.shape == (len(table), 6) and np.isfinite(whole).all()
    np.testing.assert_array_equal(blocks, whole)


def test_the_split_thins_its_training_landmarks_as_thin_landmarks_does():
    table = _landmarks()
    end = pd.Timestamp("2026-01-31")
    whole = backtest_split(table, end, 6, seed=3)
    assert whole.scheme == "time" and whole.train_landmarks == len(whole.train)
    for max_rows in (2000, 300):
        thinned = backtest_split(table, end, 6, seed=3, max_rows=max_rows)
        expected = thin_landmarks(whole.train, None, max_rows, seed=3)
        assert len(expected) < len(whole.train)  # the limit does thin
        pd.testing.assert_frame_equal(thinned.train, expected)
        pd.testing.assert_frame_equal(thinned.test, whole.test)
        assert thinned.train_landmarks == len(whole.train)
