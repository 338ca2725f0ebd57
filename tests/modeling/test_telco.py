"""The default pipeline on the IBM Telco snapshot: 5 stratified 75/25 splits."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import StratifiedShuffleSplit

from churnlab.modeling import fit_churn_model, rolling_origin_backtest
from churnlab.modeling.metrics import evaluate
from churnlab.observations import feature_columns
from tests.modeling.synthetic import load_telco


def mean_split_metrics(table, kind: str) -> dict[str, float]:
    splits = StratifiedShuffleSplit(n_splits=5, test_size=0.25, random_state=42)
    rows = []
    for train_idx, test_idx in splits.split(table, table["label"]):
        train, test = table.iloc[train_idx], table.iloc[test_idx]
        model = fit_churn_model(train, kind=kind, seed=42)  # default: isotonic calibration
        rows.append(evaluate(test["label"], model.predict_proba(test)))
    return {k: float(np.mean([r[k] for r in rows])) for k in ("roc_auc", "pr_auc", "brier", "ece")}


@pytest.fixture(scope="module")
def telco():
    return load_telco()


def test_feature_columns_on_telco(telco):
    numeric, categorical = feature_columns(telco)
    assert numeric == ["SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"]
    assert "Contract" in categorical and "account_id" not in categorical
    assert "checkpoint" not in categorical


def test_default_lightgbm_reaches_roc_auc_084(telco):
    m = mean_split_metrics(telco, "lightgbm")
    print("telco lightgbm", m)
    assert m["roc_auc"] >= 0.84
    assert m["ece"] < 0.05


def test_baseline_on_telco(telco):
    m = mean_split_metrics(telco, "logistic")
    print("telco logistic", m)
    assert m["roc_auc"] >= 0.83


def test_telco_backtest_is_stratified_cv(telco):
    res = rolling_origin_backtest(telco, model_kind="logistic", n_folds=3, seed=0)
    assert res.scheme == "stratified_kfold"
    assert res.pooled["n"] == len(telco)
    assert res.pooled["roc_auc"] > 0.83
