"""Fitting the two model kinds: a logistic baseline and LightGBM.

Both take an observation table (architecture.md, "Observation table") and explicit feature
lists, and return an uncalibrated ``ChurnModel`` (``calibration.py`` adds the
calibrator). Neither reads ``params.yaml``: defaults below mirror ``model:`` there.
"""

from __future__ import annotations

from collections.abc import Iterable

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from churnlab.errors import ModelError
from churnlab.modeling.leakage import check_leaks
from churnlab.modeling.model import ChurnModel, as_levels, prepare_features

#: LightGBM defaults for a ~3000-account x 24-month sample (mirror ``model.lightgbm``).
LIGHTGBM_DEFAULTS: dict = {
    "objective": "binary",
    "num_leaves": 15,
    "learning_rate": 0.1,  # 0.05 x 500 before #21: the same ranking within noise, half the rounds
    "n_estimators": 250,
    "early_stopping_rounds": 50,
    "min_child_samples": 40,
    "feature_fraction": 0.8,
    "lambda_l2": 1.0,
    "num_threads": 1,  # OpenMP threads; >1 is slow on a busy shared machine
}

#: BLAS threads while fitting the baseline. Its lbfgs solver does one matrix-vector
#: product per step on a small dense design; threads only add overhead, and on a
#: busy 2-core machine they make the fit 3-4x slower. The result differs only at
#: the rounding level (summation order).
BASELINE_BLAS_THREADS = 1


def is_snapshot(table: pd.DataFrame) -> bool:
    """True for snapshot data: a single ``as_of`` or ``checkpoint == "snapshot"``."""
    if "checkpoint" in table.columns and (table["checkpoint"] == "snapshot").all():
        return True
    return table["as_of"].nunique() < 2


def holdout_split(
    table: pd.DataFrame, fraction: float, seed: int, by: str = "auto"
) -> tuple[np.ndarray, np.ndarray, str]:
    """Split rows into (fit, holdout) boolean masks.

    Time-stamped data: the holdout is the latest ``as_of`` dates, taking whole
    dates from the newest back until they hold at least ``fraction`` of the rows
    (at least one date, never all). Snapshot data: a stratified random slice.
    ``by="accounts"`` (a history too short to hold out later dates): about ``fraction``
    of the accounts, every row of an account on one side, stratified by label.

    Returns
    -------
    fit_mask, holdout_mask : numpy.ndarray of bool
    scheme : {"time", "stratified", "accounts"}
    """
    if not 0 < fraction < 1:
        raise ModelError(f"holdout fraction must be in (0, 1), got {fraction}")
    if by == "accounts" and not is_snapshot(table):
        holdout = account_folds(table, max(2, round(1 / fraction)), seed)[0]
        return ~holdout, holdout, "accounts"
    if is_snapshot(table):
        idx = np.arange(len(table))
        _, hold = train_test_split(
            idx,
            test_size=fraction,
            random_state=seed,
            stratify=table["label"].astype(int).to_numpy(),
        )
        holdout = np.zeros(len(table), dtype=bool)
        holdout[hold] = True
        return ~holdout, holdout, "stratified"
    counts = table["as_of"].value_counts().sort_index(ascending=False)
    share = counts.cumsum() / len(table)
    n_dates = int(min(np.searchsorted(share.to_numpy(), fraction) + 1, len(counts) - 1))
    cutoff = counts.index[n_dates - 1]
    holdout = (table["as_of"] >= cutoff).to_numpy()
    return ~holdout, holdout, "time"


def account_folds(table: pd.DataFrame, n_folds: int, seed: int) -> list[np.ndarray]:
    """``n_folds`` test masks that keep every row of an account together, stratified by label."""
    from sklearn.model_selection import StratifiedGroupKFold

    y = table["label"].astype(int).to_numpy()
    groups = table["account_id"].astype(str).to_numpy()
    n_folds = max(2, min(n_folds, len(np.unique(groups))))
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    out = []
    for _, test_idx in splitter.split(np.zeros(len(y)), y, groups):
        mask = np.zeros(len(y), dtype=bool)
        mask[test_idx] = True
        out.append(mask)
    return out


def _training_info(table: pd.DataFrame) -> dict:
    return {
        "as_of_min": str(pd.Timestamp(table["as_of"].min()).date()),
        "as_of_max": str(pd.Timestamp(table["as_of"].max()).date()),
        "n_rows": int(len(table)),
        "n_positive": int(table["label"].sum()),
    }


def _check_inputs(
    table: pd.DataFrame, numeric: list[str], categorical: list[str], allow_leaky: Iterable[str]
) -> dict[str, list[str]]:
    if "label" not in table.columns or table["label"].isna().any():
        raise ModelError("training table needs a 'label' column of 0/1 without missing values")
    if table["label"].nunique() < 2:
        raise ModelError("training table holds only one label value; cannot fit a model")
    overlap = set(numeric) & set(categorical)
    if overlap:
        raise ModelError(f"features listed as both numeric and categorical: {sorted(overlap)}")
    check_leaks(table, numeric, categorical, allow=allow_leaky)
    return {c: sorted(as_levels(table[c]).dropna().unique().tolist()) for c in categorical}


def fit_baseline(
    table: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    C: float = 1.0,
    class_weight: str | dict | None = None,
    seed: int = 42,
    allow_leaky: Iterable[str] = (),
) -> ChurnModel:
    """Fit the logistic-regression baseline.

    Numerics: median imputation then ``StandardScaler``; categoricals:
    ``OneHotEncoder(handle_unknown="ignore")`` over the training levels
    (missing and unseen levels encode as all zeros).

    Parameters
    ----------
    table : pandas.DataFrame
        Observation table with a 0/1 ``label``.
    numeric, categorical : list of str
        Feature columns.
    C : float
        Inverse L2 regularisation strength.
    class_weight : "balanced", dict or None
        Passed to ``LogisticRegression`` (None keeps probabilities calibrated).
    seed : int
        ``random_state`` of the solver.
    allow_leaky : iterable of str
        Features ``leakage.check_leaks`` would refuse but that are allowed anyway.

    Returns
    -------
    ChurnModel
        ``kind="logistic"``, uncalibrated (``predict_proba`` = sigmoid of the log-odds).
    """
    numeric, categorical = list(numeric), list(categorical)
    categories = _check_inputs(table, numeric, categorical, allow_leaky)
    X = prepare_features(table, numeric, categorical, categories)
    pipeline = make_baseline_pipeline(numeric, categorical, categories, C, class_weight, seed)
    with threadpool_limits(limits=BASELINE_BLAS_THREADS, user_api="blas"):
        pipeline.fit(X, table["label"].astype(int).to_numpy())
    return ChurnModel(
        kind="logistic",
        numeric_features=numeric,
        categorical_features=categorical,
        categories=categories,
        pipeline_=pipeline,
        params={"C": C, "class_weight": class_weight, "seed": seed},
        training=_training_info(table),
    )


def column_median(values: np.ndarray) -> float:
    """Median of one column's observed values (NaN when there are none).

    The baseline's imputer strategy: the same medians as ``SimpleImputer(strategy="median")``,
    whose ``numpy.ma`` median is ~15x slower on a 35,000 x 90 table.
    """
    return float(np.median(values)) if len(values) else float("nan")


def make_baseline_pipeline(
    numeric: list[str],
    categorical: list[str],
    categories: dict[str, list[str]],
    C: float,
    class_weight: str | dict | None,
    seed: int,
) -> Pipeline:
    """The unfitted baseline Pipeline (``preprocess`` -> ``model``)."""
    transformers = []
    if numeric:
        impute = SimpleImputer(strategy=column_median)
        num = Pipeline([("impute", impute), ("scale", StandardScaler())])
        transformers.append(("num", num, numeric))
    if categorical:
        enc = OneHotEncoder(
            handle_unknown="ignore", categories=[categories[c] for c in categorical]
        )
        transformers.append(("cat", enc, categorical))
    pre = ColumnTransformer(transformers, remainder="drop")
    model = LogisticRegression(C=C, class_weight=class_weight, max_iter=2000, random_state=seed)
    return Pipeline([("preprocess", pre), ("model", model)])


def fit_lightgbm(
    table: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    params: dict | None = None,
    seed: int = 42,
    valid_fraction: float = 0.2,
    refit: bool = True,
    allow_leaky: Iterable[str] = (),
) -> ChurnModel:
    """Fit LightGBM with early stopping on a held-out slice.

    The early-stopping slice is the latest ``as_of`` dates of ``table``
    (``holdout_split``); for snapshot data a stratified random slice. With
    ``refit`` the final booster is retrained on all rows for the best number of
    rounds. Class imbalance is left to calibration: ``is_unbalance`` and
    ``scale_pos_weight`` distort probabilities and are off unless given in ``params``.

    Parameters
    ----------
    table : pandas.DataFrame
        Observation table with a 0/1 ``label``.
    numeric, categorical : list of str
        Feature columns; categoricals become pandas ``category`` (native LightGBM splits).
    params : dict, optional
        Overrides of ``LIGHTGBM_DEFAULTS`` (LightGBM parameter names, plus
        ``n_estimators`` and ``early_stopping_rounds``).
    seed : int
        Seed of every LightGBM random source; training is ``deterministic``.
    valid_fraction : float
        Share of rows held out for early stopping.
    refit : bool
        Retrain on all rows with the best iteration count (default True).
    allow_leaky : iterable of str
        Features ``leakage.check_leaks`` would refuse but that are allowed anyway.

    Returns
    -------
    ChurnModel
        ``kind="lightgbm"``, uncalibrated.
    """
    numeric, categorical = list(numeric), list(categorical)
    categories = _check_inputs(table, numeric, categorical, allow_leaky)
    merged = {**LIGHTGBM_DEFAULTS, **(params or {})}
    n_rounds = int(merged.pop("n_estimators"))
    stopping = int(merged.pop("early_stopping_rounds"))
    lgb_params = {
        **merged,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }
    X = prepare_features(table, numeric, categorical, categories)
    y = table["label"].astype(int).to_numpy()
    fit_mask, valid_mask, scheme = holdout_split(table, valid_fraction, seed)
    if len(np.unique(y[valid_mask])) < 2 or len(np.unique(y[fit_mask])) < 2:
        raise ModelError("early-stopping slice or training part holds a single label value")
    train_set = lgb.Dataset(X[fit_mask], y[fit_mask], categorical_feature=categorical or "auto")
    valid_set = lgb.Dataset(X[valid_mask], y[valid_mask], reference=train_set)
    curve: dict = {}
    booster = lgb.train(
        lgb_params,
        train_set,
        num_boost_round=n_rounds,
        valid_sets=[valid_set],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(stopping, verbose=False), lgb.record_evaluation(curve)],
    )
    best = int(booster.best_iteration or n_rounds)
    losses = next(iter(curve.get("valid", {}).values()), [])
    if refit:
        full_set = lgb.Dataset(X, y, categorical_feature=categorical or "auto")
        booster = lgb.train(lgb_params, full_set, num_boost_round=best)
    # Rebuild from text so an in-memory model equals a saved-and-loaded one.
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    info = _training_info(table)
    info.update(
        {
            "best_iteration": best,
            **learning_curve(losses, best, n_rounds, stopping),
            "early_stopping": scheme,
            "valid_rows": int(valid_mask.sum()),
            "refit": refit,
        }
    )
    return ChurnModel(
        kind="lightgbm",
        numeric_features=numeric,
        categorical_features=categorical,
        categories=categories,
        booster_=booster,
        params={
            **merged,
            "n_estimators": n_rounds,
            "early_stopping_rounds": stopping,
            "seed": seed,
        },
        training=info,
    )


def learning_curve(losses: list[float], best: int, n_rounds: int, patience: int) -> dict:
    """The early-stopping record: rounds run, and the validation loss at round 1, best, last.

    Parameters
    ----------
    losses : list of float
        Validation log loss after each round (LightGBM's ``record_evaluation``).
    best : int
        The best round (1-based).
    n_rounds : int
        ``n_estimators``: the most rounds allowed.
    patience : int
        ``early_stopping_rounds``.

    Returns
    -------
    dict
        ``n_estimators``, ``early_stopping_rounds``, ``rounds_run``, ``valid_loss_first``,
        ``valid_loss_best``, ``valid_loss_last`` (None without a recorded curve) and
        ``stopping``: ``"never"`` (the best round is the last allowed: the loss was still
        falling), ``"at_once"`` (the best round came within the first tenth of the
        patience, at most 5 rounds: the model learnt almost nothing) or ``"stopped"``.
    """

    def at(i: int) -> float | None:
        return float(losses[i]) if 0 <= i < len(losses) else None

    if best >= n_rounds:
        stopping = "never"
    elif best <= max(1, min(5, patience // 10)):
        stopping = "at_once"
    else:
        stopping = "stopped"
    return {
        "n_estimators": n_rounds,
        "early_stopping_rounds": patience,
        "rounds_run": len(losses) or best,
        "valid_loss_first": at(0),
        "valid_loss_best": at(best - 1),
        "valid_loss_last": at(len(losses) - 1),
        "stopping": stopping,
    }
