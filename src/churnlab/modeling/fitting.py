"""The default training pipeline: fit on earlier data, calibrate on later data.

``fit_churn_model`` is what notebooks and the backtest call. For time-stamped
observation tables:

1. the calibration slice is the latest ``as_of`` dates holding about
   ``calibration_fraction`` of the rows;
2. the model trains only on rows whose label window has closed before the
   first calibration ``as_of``: ``as_of + lead_days + horizon_days < calibration
   start``. Rows in between are *purged*: their outcome overlaps the calibration
   period, and a model that saw it would look better calibrated than it is;
3. the calibrator is fitted on the calibration slice.

Snapshot tables (one ``as_of``) use a stratified random calibration slice.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from churnlab.errors import ModelError
from churnlab.modeling.calibration import calibrate
from churnlab.modeling.model import ChurnModel
from churnlab.modeling.train import fit_baseline, fit_lightgbm, holdout_split
from churnlab.observations.schema import feature_columns


def label_closed_before(
    as_of: pd.Series, cutoff: pd.Timestamp, lead_days: int, horizon_days: int
) -> pd.Series:
    """True where the label window ``(as_of + lead, as_of + lead + horizon]`` ends before ``cutoff``.

    At ``cutoff`` only data strictly before it is known, so a churn on the
    window's last day is known only when that day is before ``cutoff``.
    """
    window_end = as_of + pd.to_timedelta(lead_days + horizon_days, unit="D")
    return window_end < cutoff


def fit_model_kind(
    table: pd.DataFrame,
    *,
    kind: str,
    numeric: list[str],
    categorical: list[str],
    params: dict | None,
    seed: int,
    allow_leaky: Iterable[str] = (),
) -> ChurnModel:
    """Fit an uncalibrated model of ``kind`` ("lightgbm" or "logistic")."""
    params = dict(params or {})
    if kind == "lightgbm":
        return fit_lightgbm(
            table,
            numeric=numeric,
            categorical=categorical,
            params=params,
            seed=seed,
            allow_leaky=allow_leaky,
        )
    if kind == "logistic":
        return fit_baseline(
            table,
            numeric=numeric,
            categorical=categorical,
            C=float(params.get("C", 1.0)),
            class_weight=params.get("class_weight"),
            seed=seed,
            allow_leaky=allow_leaky,
        )
    raise ModelError(f"unknown model kind {kind!r}; use 'lightgbm' or 'logistic'")


def fit_churn_model(
    table: pd.DataFrame,
    *,
    kind: str = "lightgbm",
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    params: dict | None = None,
    seed: int = 42,
    calibration: str | None = "isotonic",
    calibration_fraction: float = 0.2,
    lead_days: int = 0,
    horizon_days: int = 90,
    allow_leaky: Iterable[str] = (),
    split: str = "auto",
) -> ChurnModel:
    """Fit and calibrate a churn model (see the module docstring for the splits).

    Parameters
    ----------
    table : pandas.DataFrame
        Observation table with a 0/1 ``label``.
    kind : {"lightgbm", "logistic"}
    numeric, categorical : list of str, optional
        Features; default ``feature_columns(table)``.
    params : dict, optional
        LightGBM parameters, or ``{"C": ..., "class_weight": ...}`` for the baseline.
    seed : int
    calibration : {"isotonic", "platt"} or None
        None trains on every row and leaves the model uncalibrated.
    calibration_fraction : float
        Share of rows (latest dates) held out for calibration.
    lead_days, horizon_days : int
        The label window of the table (``observation`` in params.yaml), used to purge.
    allow_leaky : iterable of str
        Features allowed despite a suspected-leak flag.
    split : {"auto", "accounts"}
        How the calibration slice is held out: ``auto`` takes the latest dates (a random
        slice for snapshots); ``accounts`` a stratified slice of accounts, for a history
        too short to hold out later dates.

    Returns
    -------
    ChurnModel
        ``training`` records the calibration slice (``calibration_as_of_min``, rows,
        ``purged_rows``).
    """
    if numeric is None or categorical is None:
        auto_num, auto_cat = feature_columns(table)
        numeric = auto_num if numeric is None else numeric
        categorical = auto_cat if categorical is None else categorical
    common = {
        "kind": kind,
        "numeric": list(numeric),
        "categorical": list(categorical),
        "params": params,
        "seed": seed,
        "allow_leaky": allow_leaky,
    }
    if calibration is None:
        return fit_model_kind(table, **common)
    fit_mask, cal_mask, scheme = holdout_split(table, calibration_fraction, seed, by=split)
    cal_table = table[cal_mask]
    purged = 0
    if scheme == "time":  # the fit rows whose label window closed: one copy of the table
        cal_start = cal_table["as_of"].min()
        closed = label_closed_before(table["as_of"], cal_start, lead_days, horizon_days)
        keep = np.asarray(fit_mask) & closed.to_numpy()
        purged = int(np.asarray(fit_mask).sum() - keep.sum())
        fit_table = table[keep]
        if fit_table["as_of"].nunique() < 2:
            raise ModelError(
                "too little history: after holding out the latest as_of dates for calibration "
                f"and purging {purged} rows whose label window overlaps them, fewer than two "
                "as_of dates remain for training; add history_months or lower calibration_fraction"
            )
    else:
        fit_table = table[fit_mask]
    model = fit_model_kind(fit_table, **common)
    model = calibrate(model, cal_table, calibration)
    training = {
        **model.training,
        "calibration": calibration,
        "calibration_split": scheme,
        "calibration_rows": int(len(cal_table)),
        "calibration_positive": int(cal_table["label"].sum()),
        "calibration_as_of_min": str(pd.Timestamp(cal_table["as_of"].min()).date()),
        "calibration_as_of_max": str(pd.Timestamp(cal_table["as_of"].max()).date()),
        "purged_rows": purged,
        "lead_days": lead_days,
        "horizon_days": horizon_days,
    }
    model.training = training
    return model
