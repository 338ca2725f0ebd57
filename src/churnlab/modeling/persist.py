"""Saving and loading ``ChurnModel`` without pickle.

A model directory holds:

* ``model.json``: ``format`` version, ``kind``, the features with their types
  (``numeric`` / ``categorical``) and categorical levels, ``training`` window,
  ``metrics``, ``params``, ``calibration`` (isotonic knots or Platt coefficients
  as JSON numbers), ``packages`` (versions at save time), and for the baseline
  ``baseline``: imputer medians, scaler means/scales, encoder levels, coefficients;
* ``booster.txt`` (LightGBM only): ``Booster.save_model`` text format.

Floats are written with Python's shortest round-trip repr, so a loaded model
predicts exactly what the saved one did. Nothing is unpickled: a model file
cannot run code.
"""

from __future__ import annotations

import json
import math
from importlib import metadata
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from churnlab.errors import ModelError
from churnlab.modeling.model import Calibrator, ChurnModel
from churnlab.modeling.train import make_baseline_pipeline

FORMAT_VERSION = 1
META_FILE = "model.json"
BOOSTER_FILE = "booster.txt"


def _package_versions() -> dict[str, str]:
    out = {}
    for pkg in ("churnlab", "lightgbm", "scikit-learn", "numpy", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def _jsonable(value):
    """Numpy scalars/arrays to Python, NaN/inf to None, Timestamps to ISO text."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _baseline_state(model: ChurnModel) -> dict:
    pre = model.pipeline_.named_steps["preprocess"]
    lr = model.pipeline_.named_steps["model"]
    state = {"coef": lr.coef_[0].tolist(), "intercept": float(lr.intercept_[0])}
    if model.numeric_features:
        num = pre.named_transformers_["num"]
        state["imputer_medians"] = num.named_steps["impute"].statistics_.tolist()
        state["scaler_mean"] = num.named_steps["scale"].mean_.tolist()
        state["scaler_scale"] = num.named_steps["scale"].scale_.tolist()
        state["scaler_var"] = num.named_steps["scale"].var_.tolist()
    if model.categorical_features:
        enc = pre.named_transformers_["cat"]
        state["encoder_levels"] = [[str(v) for v in cats] for cats in enc.categories_]
    return state


def save_model(model: ChurnModel, directory: str | Path) -> Path:
    """Write ``model`` to ``directory`` (created if needed); return the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cal = model.calibrator_
    meta = {
        "format": FORMAT_VERSION,
        "kind": model.kind,
        "features": [
            *({"name": c, "type": "numeric"} for c in model.numeric_features),
            *({"name": c, "type": "categorical"} for c in model.categorical_features),
        ],
        "categories": model.categories,
        "training": model.training,
        "metrics": model.metrics,
        "params": model.params,
        "calibration": None
        if cal is None
        else {
            "method": cal.method,
            "x_thresholds": list(cal.x_thresholds),
            "y_thresholds": list(cal.y_thresholds),
            "coef": cal.coef,
            "intercept": cal.intercept,
            "n_rows": cal.n_rows,
            "n_positive": cal.n_positive,
        },
        "packages": _package_versions(),
    }
    if model.kind == "lightgbm":
        (directory / BOOSTER_FILE).write_text(model.booster_.model_to_string(), encoding="utf-8")
    elif model.kind == "logistic":
        meta["baseline"] = _baseline_state(model)
    else:
        raise ModelError(f"cannot save a model of unknown kind {model.kind!r}")
    (directory / META_FILE).write_text(json.dumps(_jsonable(meta), indent=2), encoding="utf-8")
    return directory


def _rebuild_pipeline(meta: dict, numeric: list[str], categorical: list[str], categories: dict):
    """Build the baseline Pipeline and set its learned state from ``meta["baseline"]``.

    The Pipeline is first fitted on a two-row placeholder frame, so scikit-learn
    sets every internal attribute; the learned numbers are then overwritten.
    """
    state, params = meta["baseline"], meta.get("params", {})
    pipeline = make_baseline_pipeline(
        numeric,
        categorical,
        categories,
        C=float(params.get("C", 1.0)),
        class_weight=params.get("class_weight"),
        seed=int(params.get("seed", 0)),
    )
    dummy = {c: [0.0, 1.0] for c in numeric}
    for c in categorical:
        level = categories[c][0] if categories[c] else np.nan
        dummy[c] = pd.Categorical([level, level], categories=categories[c])
    pipeline.fit(pd.DataFrame(dummy), np.array([0, 1]))
    pre = pipeline.named_steps["preprocess"]
    if numeric:
        num = pre.named_transformers_["num"]
        num.named_steps["impute"].statistics_ = np.asarray(state["imputer_medians"], dtype=float)
        scale = num.named_steps["scale"]
        scale.mean_ = np.asarray(state["scaler_mean"], dtype=float)
        scale.scale_ = np.asarray(state["scaler_scale"], dtype=float)
        scale.var_ = np.asarray(state["scaler_var"], dtype=float)
    lr = pipeline.named_steps["model"]
    lr.coef_ = np.asarray([state["coef"]], dtype=float)
    lr.intercept_ = np.asarray([state["intercept"]], dtype=float)
    return pipeline


def load_model(directory: str | Path) -> ChurnModel:
    """Load a model written by ``save_model``.

    Raises
    ------
    ModelError
        The directory lacks the model files or was written by an unknown format.
    """
    directory = Path(directory)
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise ModelError(f"{meta_path} not found: not a churnlab model directory")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT_VERSION:
        raise ModelError(f"{meta_path}: unsupported model format {meta.get('format')!r}")
    numeric = [f["name"] for f in meta["features"] if f["type"] == "numeric"]
    categorical = [f["name"] for f in meta["features"] if f["type"] == "categorical"]
    categories = {c: list(meta["categories"][c]) for c in categorical}
    cal = meta.get("calibration")
    calibrator = None
    if cal is not None:
        calibrator = Calibrator(
            method=cal["method"],
            x_thresholds=tuple(cal["x_thresholds"]),
            y_thresholds=tuple(cal["y_thresholds"]),
            coef=cal["coef"],
            intercept=cal["intercept"],
            n_rows=cal["n_rows"],
            n_positive=cal["n_positive"],
        )
    model = ChurnModel(
        kind=meta["kind"],
        numeric_features=numeric,
        categorical_features=categorical,
        categories=categories,
        calibrator_=calibrator,
        params=meta.get("params", {}),
        training=meta.get("training", {}),
        metrics=meta.get("metrics", {}),
    )
    if model.kind == "lightgbm":
        booster_path = directory / BOOSTER_FILE
        if not booster_path.is_file():
            raise ModelError(f"{booster_path} not found: the LightGBM model file is missing")
        model.booster_ = lgb.Booster(model_file=str(booster_path))
    elif model.kind == "logistic":
        model.pipeline_ = _rebuild_pipeline(meta, numeric, categorical, categories)
    else:
        raise ModelError(f"{meta_path}: unknown model kind {model.kind!r}")
    return model
