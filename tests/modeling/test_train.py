"""Training, calibration and the model interface on a synthetic multi-as_of table."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from churnlab.errors import ModelError
from churnlab.modeling import fit_churn_model
from churnlab.modeling.calibration import fit_calibrator
from churnlab.modeling.metrics import evaluate, expected_calibration_error
from churnlab.modeling.train import fit_baseline, fit_lightgbm, holdout_split
from churnlab.observations import feature_columns
from tests.modeling.synthetic import SYNTH_CATEGORICAL, SYNTH_NUMERIC, make_synthetic_table

FEATS = {"numeric": SYNTH_NUMERIC, "categorical": SYNTH_CATEGORICAL}


@pytest.fixture(scope="module")
def table():
    return make_synthetic_table(n_accounts=400, n_months=15, seed=0)


def test_feature_columns_excludes_meta(table):
    numeric, categorical = feature_columns(table.drop(columns="true_probability"))
    assert numeric == SYNTH_NUMERIC
    assert categorical == SYNTH_CATEGORICAL  # checkpoint, churn_date, renewal_date, arr excluded


def test_holdout_split_takes_latest_dates(table):
    fit, hold, scheme = holdout_split(table, 0.2, seed=0)
    assert scheme == "time"
    assert table.loc[hold, "as_of"].min() > table.loc[fit, "as_of"].max()
    assert table.loc[hold, "as_of"].nunique() == 3  # 3 of 15 dates = 20% of the rows


def test_lightgbm_interface_and_determinism(table):
    train = table[table["as_of"] < "2025-12-01"]
    test = table[table["as_of"] >= "2026-03-01"]
    m1 = fit_lightgbm(train, **FEATS, params={"num_threads": 1}, seed=3)
    m2 = fit_lightgbm(train, **FEATS, params={"num_threads": 1}, seed=3)
    assert m1.kind == "lightgbm" and isinstance(m1.booster_, lgb.Booster)
    np.testing.assert_array_equal(m1.predict_raw(test), m2.predict_raw(test))
    X = m1.prepare(test)
    assert list(X.columns) == SYNTH_NUMERIC + SYNTH_CATEGORICAL
    assert all(X[c].dtype == "float64" for c in SYNTH_NUMERIC)
    assert list(X["plan"].cat.categories) == ["enterprise", "growth", "starter"]
    # no calibrator: predict_proba is the sigmoid of the log-odds
    np.testing.assert_allclose(m1.predict_proba(test), 1 / (1 + np.exp(-m1.predict_raw(test))))
    assert evaluate(test["label"], m1.predict_proba(test))["roc_auc"] > 0.75
    assert 1 <= m1.training["best_iteration"] <= 500
    assert m1.training["early_stopping"] == "time"


def test_baseline_interface(table):
    train = table[table["as_of"] < "2025-12-01"]
    test = table[table["as_of"] >= "2026-03-01"]
    m = fit_baseline(train, **FEATS, C=1.0, seed=0)
    assert m.kind == "logistic" and isinstance(m.pipeline_, Pipeline)
    assert [name for name, _ in m.pipeline_.steps] == ["preprocess", "model"]
    pre = m.pipeline_.named_steps["preprocess"]
    assert [name for name, _, _ in pre.transformers] == ["num", "cat"]
    # the true model is logistic in usage, so the baseline ranks well and gets the sign right
    assert evaluate(test["label"], m.predict_proba(test))["roc_auc"] > 0.78
    coef = m.pipeline_.named_steps["model"].coef_[0]
    assert coef[0] < 0 and coef[1] > 0  # usage lowers risk, tickets raise it


def test_unseen_level_and_missing_values_are_scored(table):
    m = fit_baseline(table, **FEATS)
    odd = table.head(3).assign(plan=["platinum", None, "growth"], usage=[np.nan, 0.0, 1.0])
    p = m.predict_proba(odd)
    assert np.isfinite(p).all()
    assert m.prepare(odd)["plan"].isna().tolist() == [True, True, False]


def test_wrong_type_and_missing_feature_raise(table):
    m = fit_baseline(table, **FEATS)
    with pytest.raises(ModelError, match=r"'tickets'.*numeric.*found object"):
        m.predict_proba(table.assign(tickets=table["tickets"].astype(str)))
    with pytest.raises(ModelError, match=r"'plan'.*categorical.*found float64"):
        m.predict_proba(table.assign(plan=1.5))
    with pytest.raises(ModelError, match="'nps' is missing"):
        m.predict_proba(table.drop(columns="nps"))


def test_training_rejects_bad_labels(table):
    with pytest.raises(ModelError, match="only one label value"):
        fit_baseline(table.assign(label=0), **FEATS)
    with pytest.raises(ModelError, match="both numeric and categorical"):
        fit_lightgbm(table, numeric=["usage", "plan"], categorical=["plan"])


def test_calibration_repairs_distorted_probabilities(table):
    """class_weight='balanced' inflates probabilities; isotonic/Platt on later data fix that."""
    later = table[table["as_of"] >= "2026-02-01"]  # never used for training below
    earlier = table[table["as_of"] < "2025-11-01"]
    params = {"class_weight": "balanced"}
    kw = {"kind": "logistic", "params": params, **FEATS, "horizon_days": 90}
    raw = fit_churn_model(earlier, calibration=None, **kw)
    iso = fit_churn_model(earlier, calibration="isotonic", **kw)
    platt = fit_churn_model(earlier, calibration="platt", **kw)
    y = later["label"]
    ece_raw = expected_calibration_error(y, raw.predict_proba(later))
    ece_iso = expected_calibration_error(y, iso.predict_proba(later))
    ece_platt = expected_calibration_error(y, platt.predict_proba(later))
    assert ece_raw > 0.15
    assert ece_iso < 0.05 and ece_platt < 0.05
    # calibration is monotone: ranking (ROC AUC) is kept
    auc_raw = evaluate(y, raw.predict_proba(later))["roc_auc"]
    assert evaluate(y, platt.predict_proba(later))["roc_auc"] == pytest.approx(auc_raw, abs=0.02)
    # the calibration slice is the latest dates, and the purge dropped overlapping rows
    tr = iso.training
    assert tr["calibration_split"] == "time"
    assert pd.Timestamp(tr["as_of_max"]) + pd.Timedelta(days=90) < pd.Timestamp(
        tr["calibration_as_of_min"]
    )
    assert tr["purged_rows"] > 0


def test_centered_isotonic_is_strictly_increasing_inside_knots():
    rng = np.random.default_rng(0)
    raw = rng.normal(size=3000)
    y = (rng.random(3000) < 1 / (1 + np.exp(-(2 * raw - 1)))).astype(int)
    cal = fit_calibrator(raw, y, "isotonic")
    xs, ys = np.array(cal.x_thresholds), np.array(cal.y_thresholds)
    assert np.all(np.diff(xs) > 0) and np.all(np.diff(ys) > 0)
    grid = np.linspace(xs[0], xs[-1], 500)
    assert np.all(np.diff(cal.transform(grid)) > 0)
    # close to the true curve in the bulk of the data
    mid = np.linspace(-1, 1, 9)
    assert cal.transform(mid) == pytest.approx(1 / (1 + np.exp(-(2 * mid - 1))), abs=0.08)
    with pytest.raises(ModelError):
        fit_calibrator(raw, np.zeros(3000), "isotonic")
    with pytest.raises(ModelError):
        fit_calibrator(raw, y, "beta")


def test_lightgbm_calibrated_ece_on_later_period():
    """Default pipeline (LightGBM + isotonic on the latest dates) is calibrated on a later period.

    With 3000 test rows the ECE of the true generating probabilities is ~0.02, so
    0.035 leaves room for sampling noise but not for a miscalibrated model.
    """
    table = make_synthetic_table(n_accounts=1000, n_months=15, seed=0)
    model = fit_churn_model(table[table["as_of"] < "2026-01-01"], **FEATS, seed=1)
    later = table[table["as_of"] >= "2026-02-01"]
    assert model.calibrator_.method == "isotonic"
    ece = expected_calibration_error(later["label"], model.predict_proba(later))
    oracle = expected_calibration_error(later["label"], later["true_probability"])
    assert ece < 0.035
    assert ece < oracle + 0.015


def test_inputs_are_not_mutated(table):
    before = table.copy()
    fit_churn_model(table, kind="logistic", **FEATS)
    pd.testing.assert_frame_equal(table, before)


def test_baseline_imputer_equals_sklearn_median():
    """The fast median strategy learns the same medians and imputes the same values."""
    import warnings

    from sklearn.impute import SimpleImputer

    from churnlab.modeling.train import make_baseline_pipeline

    rng = np.random.default_rng(5)
    n = 501
    frame = pd.DataFrame(
        {
            "odd": rng.normal(size=n),  # 501 observed: the middle value
            "even": np.where(np.arange(n) == 0, np.nan, rng.normal(size=n)),  # 500: mean of two
            "gappy": np.where(rng.random(n) < 0.4, np.nan, rng.integers(0, 7, n).astype(float)),
            "empty": np.full(n, np.nan),
        }
    )
    cols = list(frame.columns)
    pipe = make_baseline_pipeline(cols, [], {}, C=1.0, class_weight=None, seed=0)
    ours = pipe.named_steps["preprocess"].transformers[0][1].named_steps["impute"]
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", UserWarning
        )  # "Skipping features without any observed values"
        ref = SimpleImputer(strategy="median").fit(frame)
        ours.fit(frame)
        np.testing.assert_array_equal(ours.statistics_, ref.statistics_)
        np.testing.assert_array_equal(ours.transform(frame), ref.transform(frame))
    assert ours.statistics_[0] == np.median(frame["odd"])
    assert np.isnan(ours.statistics_[3])
