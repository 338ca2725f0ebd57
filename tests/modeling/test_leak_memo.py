"""The comparison's shared leak checks: the same numbers, each computed once per set of rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from churnlab.modeling import leakage
from churnlab.modeling.leakage import leak_check, shared_leak_checks


def _table(seed: int = 5, n: int = 800) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.25).astype(int)
    return pd.DataFrame(
        {
            "label": y,
            "a": rng.normal(size=n) + y,
            "b": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "plan": rng.choice(["x", "y", "z"], size=n),
        }
    )


def test_shared_checks_compute_each_feature_once_with_the_same_numbers(monkeypatch):
    table = _table()
    alone = leak_check(table, ["a", "b"], ["plan"])
    calls: list[tuple[list[str], list[str]]] = []
    compute = leakage._compute_aucs

    def counted(frame, numeric, categorical, y):
        calls.append((list(numeric), list(categorical)))
        return compute(frame, numeric, categorical, y)

    monkeypatch.setattr(leakage, "_compute_aucs", counted)
    with shared_leak_checks():
        first = leak_check(table, ["a", "b"], ["plan"])
        again = leak_check(table, ["a"], [])  # a subset, as the plain reference asks
        other_rows = leak_check(table.iloc[100:], ["a"], [])  # other rows: computed anew
    pd.testing.assert_frame_equal(first, alone)
    assert again["auc"].iloc[0] == alone.set_index("feature").loc["a", "auc"]
    expected = roc_auc_score(table["label"].iloc[100:], table["a"].iloc[100:])
    assert np.isclose(other_rows["auc"].iloc[0], max(expected, 1 - expected))
    assert calls == [(["a", "b"], ["plan"]), (["a"], [])]
    leak_check(table, ["a"], [])  # outside the block nothing is remembered
    assert len(calls) == 3
