"""Rolling-origin backtest, leak detection, snapshot fallback and model comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.errors import ModelError
from churnlab.modeling import compare_models, leak_check, rolling_origin_backtest
from churnlab.modeling.train import fit_baseline, fit_lightgbm
from tests.modeling.synthetic import SYNTH_CATEGORICAL, SYNTH_NUMERIC, make_synthetic_table

FEATS = {"numeric": SYNTH_NUMERIC, "categorical": SYNTH_CATEGORICAL}


@pytest.fixture(scope="module")
def table():
    return make_synthetic_table(n_accounts=400, n_months=15, seed=11)


@pytest.fixture(scope="module")
def leaky_table(table):
    """Two planted leaks: the label plus noise, and days until the (future) churn date."""
    rng = np.random.default_rng(3)
    days_to_churn = (table["churn_date"] - table["as_of"]).dt.days.fillna(999).astype(float)
    return table.assign(
        label_echo=table["label"] + rng.normal(0, 0.2, len(table)),
        days_to_churn=days_to_churn,
    )


def test_rolling_origin_folds_never_see_open_labels(table):
    res = rolling_origin_backtest(
        table, model_kind="logistic", n_folds=3, horizon_days=90, **FEATS, seed=0
    )
    assert res.scheme == "rolling_origin"
    assert len(res.folds) == 3
    months = table["as_of"].dt.to_period("M")
    last3 = sorted(months.unique())[-3:]
    for (_, fold), month in zip(res.folds.iterrows(), last3, strict=True):
        assert fold["test_as_of_min"].to_period("M") == month
        assert fold["cutoff"] == fold["test_as_of_min"]
        # every training row's 90-day label window closed before the cutoff
        assert fold["train_as_of_max"] + pd.Timedelta(days=90) < fold["cutoff"]
        # ... and the latest such month is used (no needless gap)
        assert fold["train_as_of_max"] + pd.Timedelta(days=124) >= fold["cutoff"]
    assert res.predictions["fold"].value_counts().sort_index().tolist() == [400, 400, 400]
    assert 0.75 < res.pooled["roc_auc"] < 0.95
    assert res.pooled["n"] == 1200
    assert res.leaks.empty
    assert list(res.summary.index) == [1, 2, 3, "pooled"]
    assert "rolling origin" in res._repr_html_()


def test_lead_days_widen_the_purge(table):
    res = rolling_origin_backtest(
        table, model_kind="logistic", n_folds=2, lead_days=30, horizon_days=90, **FEATS
    )
    for _, fold in res.folds.iterrows():
        assert fold["train_as_of_max"] + pd.Timedelta(days=120) < fold["cutoff"]


def test_leak_check_flags_planted_features(leaky_table):
    report = leak_check(leaky_table, [*SYNTH_NUMERIC, "label_echo", "days_to_churn"], ["plan"])
    flagged = set(report.loc[report["suspected_leak"], "feature"])
    assert flagged == {"label_echo", "days_to_churn"}
    honest = report.set_index("feature").loc["usage", "auc"]
    assert 0.6 < honest < 0.9


def test_fit_refuses_leaky_features_unless_allowed(leaky_table):
    numeric = [*SYNTH_NUMERIC, "days_to_churn"]
    with pytest.raises(ModelError, match=r"suspected label leak: 'days_to_churn' \(AUC 1\.000\)"):
        fit_lightgbm(leaky_table, numeric=numeric, categorical=SYNTH_CATEGORICAL)
    with pytest.raises(ModelError, match="label_echo"):
        fit_baseline(leaky_table, numeric=["label_echo"], categorical=[])
    model = fit_baseline(
        leaky_table, numeric=numeric, categorical=SYNTH_CATEGORICAL, allow_leaky=["days_to_churn"]
    )
    assert "days_to_churn" in model.numeric_features


def test_backtest_exposes_a_leak_on_later_data(leaky_table):
    """Allowed through training, the leak still shows on every later test fold."""
    numeric = [*SYNTH_NUMERIC, "label_echo"]
    res = rolling_origin_backtest(
        leaky_table,
        model_kind="logistic",
        n_folds=2,
        numeric=numeric,
        categorical=SYNTH_CATEGORICAL,
        allow_leaky=["label_echo"],
    )
    assert res.leaks["feature"].tolist() == ["label_echo", "label_echo"]
    assert res.leaks["fold"].tolist() == [1, 2]
    assert res.pooled["roc_auc"] > 0.98  # too good to be true: the point of the flag


def test_snapshot_falls_back_to_stratified_kfold(table):
    snap = table[table["as_of"] == table["as_of"].max()].assign(checkpoint="snapshot")
    res = rolling_origin_backtest(snap, model_kind="logistic", n_folds=4, **FEATS, seed=0)
    assert res.scheme == "stratified_kfold"
    assert "cross-validation" in res.note
    assert len(res.folds) == 4
    # every account tested exactly once, churn rate equal across folds (stratified)
    assert sorted(res.predictions["account_id"]) == sorted(snap["account_id"])
    rates = res.folds["positives"] / res.folds["n"]
    assert rates.max() - rates.min() < 0.02
    assert res.folds["cutoff"].isna().all()


def test_backtest_needs_enough_months(table):
    short = table[table["as_of"] >= "2026-01-01"]  # 3 months
    with pytest.raises(ModelError, match="needs more than 3 months"):
        rolling_origin_backtest(short, model_kind="logistic", n_folds=3, **FEATS)


def test_compare_models_picks_champion(table):
    cmp = compare_models(
        table, kinds=("logistic", "lightgbm"), metric="roc_auc", n_folds=2, **FEATS, seed=0
    )
    assert list(cmp.table.index) == ["logistic", "lightgbm"]
    best = cmp.table["roc_auc"].idxmax()
    assert cmp.champion == best and cmp.metric == "roc_auc"
    assert cmp.table["champion"].tolist() == [best == "logistic", best == "lightgbm"]
    assert (cmp.table["scheme"] == "rolling_origin").all()
    assert set(cmp.backtests) == {"logistic", "lightgbm"}
    assert cmp.backtests[best].pooled["roc_auc"] == cmp.table.loc[best, "roc_auc"]
    assert list(cmp.summary().columns)[:2] == ["roc_auc", "pr_auc"]
    assert best in cmp._repr_html_() and "champion" in repr(cmp)
    by_brier = compare_models(table, metric="brier", n_folds=2, **FEATS, seed=0)
    assert by_brier.champion == by_brier.table["brier"].idxmin()


def test_fits_on_threads_give_the_same_numbers_as_one_after_another(leaky_table):
    """#21: model.fold_workers runs the (model, fold) fits at once; nothing may change."""
    numeric = [*SYNTH_NUMERIC, "label_echo"]
    kwargs = {
        "kinds": ("logistic", "lightgbm"),
        "numeric": numeric,
        "categorical": SYNTH_CATEGORICAL,
        "n_folds": 3,
        "seed": 0,
        "allow_leaky": ["label_echo"],
    }
    serial = compare_models(leaky_table, workers=1, **kwargs)
    threaded = compare_models(leaky_table, workers=3, **kwargs)
    pd.testing.assert_frame_equal(serial.table, threaded.table, check_exact=True)
    for name in ("logistic", "lightgbm"):
        one, other = serial.backtests[name], threaded.backtests[name]
        pd.testing.assert_frame_equal(one.predictions, other.predictions, check_exact=True)
        pd.testing.assert_frame_equal(one.folds, other.folds, check_exact=True)
        pd.testing.assert_frame_equal(one.leaks, other.leaks, check_exact=True)
        assert one.leaks["fold"].tolist() == [1, 2, 3]  # the leak is seen on every fold
    # and a single model's backtest on threads equals its own serial run
    alone = rolling_origin_backtest(
        leaky_table,
        model_kind="lightgbm",
        workers=2,
        **{k: v for k, v in kwargs.items() if k != "kinds"},
    )
    pd.testing.assert_frame_equal(
        alone.predictions, serial.backtests["lightgbm"].predictions, check_exact=True
    )


def test_the_whole_table_fits_made_beside_the_backtest_equal_a_fit_made_after(table):
    """#21: compare_models(final=...) fits each candidate on all rows in the backtest's pool."""
    from churnlab.modeling import fit_churn_model
    from churnlab.modeling.backtest import final_fit_kwargs

    final = {"seed": 0, "calibration": "isotonic", "horizon_days": 90}
    cmp = compare_models(
        table, kinds=("logistic", "lightgbm"), n_folds=2, **FEATS, seed=0, workers=2, final=final
    )
    for name, cand in cmp.candidates.items():
        kwargs = final_fit_kwargs(cand, final)
        ready = cand.fitted(table, kwargs)
        assert ready is not None, name
        after = fit_churn_model(table, **kwargs)
        np.testing.assert_array_equal(ready.predict_proba(table), after.predict_proba(table))
        assert ready.training == after.training
        # another table, or other settings, is not that fit
        assert cand.fitted(table.copy(), kwargs) is None
        assert cand.fitted(table, {**kwargs, "seed": 1}) is None
