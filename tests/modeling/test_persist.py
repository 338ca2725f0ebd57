"""Persistence: JSON + LightGBM text, no pickle; exact round trip; type checks after loading."""

from __future__ import annotations

import json

import numpy as np
import pytest

from churnlab.errors import ModelError
from churnlab.modeling import fit_churn_model, load_model, save_model
from tests.modeling.synthetic import SYNTH_CATEGORICAL, SYNTH_NUMERIC, make_synthetic_table

FEATS = {"numeric": SYNTH_NUMERIC, "categorical": SYNTH_CATEGORICAL}


@pytest.fixture(scope="module")
def table():
    return make_synthetic_table(n_accounts=300, n_months=14, seed=5)


@pytest.mark.parametrize(
    ("kind", "calibration"),
    [("lightgbm", "isotonic"), ("lightgbm", "platt"), ("logistic", "isotonic"), ("logistic", None)],
)
def test_round_trip_predictions_identical(table, tmp_path, kind, calibration):
    model = fit_churn_model(table, kind=kind, calibration=calibration, **FEATS, seed=2)
    model.metrics = {"roc_auc": 0.81, "ece": float("nan")}
    save_model(model, tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == (["booster.txt", "model.json"] if kind == "lightgbm" else ["model.json"])
    loaded = load_model(tmp_path / "m")
    # unseen level and missing values too
    probe = table.assign(plan=np.where(table.index % 7 == 0, "platinum", table["plan"]))
    probe.loc[probe.index % 5 == 0, "usage"] = np.nan
    for frame in (table, probe):
        np.testing.assert_allclose(
            loaded.predict_raw(frame), model.predict_raw(frame), atol=1e-12, rtol=0
        )
        np.testing.assert_allclose(
            loaded.predict_proba(frame), model.predict_proba(frame), atol=1e-12, rtol=0
        )
    assert loaded.kind == kind
    assert loaded.numeric_features == SYNTH_NUMERIC
    assert loaded.categorical_features == SYNTH_CATEGORICAL
    assert loaded.categories == model.categories
    assert loaded.training == model.training
    assert loaded.metrics["roc_auc"] == 0.81 and loaded.metrics["ece"] is None
    if kind == "logistic":
        steps = [name for name, _ in loaded.pipeline_.steps]
        assert steps == ["preprocess", "model"]


def test_metadata_is_plain_json(table, tmp_path):
    model = fit_churn_model(table, kind="logistic", calibration="platt", **FEATS)
    save_model(model, tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["kind"] == "logistic"
    assert {"name": "plan", "type": "categorical"} in meta["features"]
    assert meta["categories"]["plan"] == ["enterprise", "growth", "starter"]
    assert meta["calibration"]["method"] == "platt"
    assert meta["calibration"]["coef"] == model.calibrator_.coef
    assert len(meta["baseline"]["coef"]) == 3 + 3 + 3  # 3 numerics + 3 plans + 3 regions
    assert set(meta["packages"]) >= {"lightgbm", "scikit-learn", "numpy", "pandas"}
    assert meta["training"]["as_of_min"] == "2025-01-31"


def test_loaded_model_checks_types(table, tmp_path):
    save_model(fit_churn_model(table, kind="lightgbm", **FEATS), tmp_path)
    loaded = load_model(tmp_path)
    with pytest.raises(ModelError, match=r"feature 'usage': expected a numeric.*found object"):
        loaded.predict_proba(table.assign(usage=table["usage"].astype(str)))
    with pytest.raises(ModelError, match=r"feature 'region': expected a categorical.*found int64"):
        loaded.predict_proba(table.assign(region=3))
    with pytest.raises(ModelError, match=r"feature 'tickets' is missing"):
        loaded.predict_proba(table.drop(columns=["tickets"]))


def test_load_errors(tmp_path):
    with pytest.raises(ModelError, match="not a churnlab model directory"):
        load_model(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(ModelError, match="unsupported model format"):
        load_model(tmp_path)
