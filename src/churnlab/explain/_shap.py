"""SHAP values of churn models and the global ranking of drivers.

All values are in log-odds of the uncalibrated model (``ChurnModel.predict_raw``),
so ``base_value + values.sum(axis=1)`` equals the model's raw score for every row.

- LightGBM: exact (path-dependent) TreeSHAP, the values ``shap.TreeExplainer``
  returns, computed by :mod:`churnlab.explain._tree` at a fraction of the cost.
- Logistic baseline: interventional linear SHAP (``shap.LinearExplainer`` with an
  independent masker): ``coef * (z - mean(z_background))`` on the transformed
  columns, then summed back to one value per raw feature (the one-hot columns of
  a categorical, the imputed + scaled column of a numeric).

Per-account reasons and their wording live in :mod:`churnlab.explain._reasons`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from churnlab.errors import ModelError
from churnlab.explain._tree import tree_contributions
from churnlab.explain.result import ShapResult
from churnlab.vocabulary import feature_label

__all__ = ["explain_model", "global_importance", "linear_shap", "linear_shap_columns", "tree_shap"]


def tree_shap(
    booster, X: pd.DataFrame, *, chunk_rows: int = 200_000, n_jobs: int = 2
) -> ShapResult:
    """Exact TreeSHAP values of a LightGBM booster, in log-odds.

    Parameters
    ----------
    booster : lightgbm.Booster
        A binary booster (one tree per boosting round).
    X : pandas.DataFrame
        The model input frame (numerics float, categoricals pandas ``category``
        with the training categories), e.g. ``ChurnModel.prepare(table)``.
    chunk_rows : int
        Rows explained at a time (bounds temporary memory).
    n_jobs : int
        Worker threads.

    Returns
    -------
    ShapResult
        Equal to ``shap.TreeExplainer(booster).shap_values(X)`` and its
        ``expected_value`` (up to float rounding, below 1e-9).
    """
    names = booster.feature_name()
    values, base = tree_contributions(booster, X, chunk_rows=chunk_rows, n_jobs=n_jobs)
    frame = pd.DataFrame(values, index=X.index, columns=names)
    return ShapResult(frame, base, X[names].copy(), "tree")


def _column_groups(preprocess, n_columns: int) -> tuple[list[str], np.ndarray]:
    """Raw feature of every transformed column: names and a column -> feature index array."""
    names: list[str] = []
    owner = np.full(n_columns, -1, dtype=np.int64)
    for name, trans, cols in preprocess.transformers_:
        if trans == "drop" or name not in preprocess.output_indices_:
            continue
        out = preprocess.output_indices_[name]
        cols = [cols] if isinstance(cols, str) else list(cols)
        if out.stop - out.start == 0:
            continue
        final = trans.steps[-1][1] if hasattr(trans, "steps") else trans
        if hasattr(final, "categories_"):
            widths = [len(c) for c in final.categories_]
            drop = getattr(final, "drop_idx_", None)
            if drop is not None:
                widths = [w - (d is not None) for w, d in zip(widths, drop, strict=True)]
            if getattr(final, "infrequent_categories_", None) and any(
                c is not None for c in final.infrequent_categories_
            ):
                raise ModelError(f"transformer {name!r}: infrequent categories are not supported")
        else:
            kept = trans.get_feature_names_out(cols)
            cols = [str(c) for c in kept]
            widths = [1] * len(cols)
        if sum(widths) != out.stop - out.start:
            raise ModelError(f"transformer {name!r}: cannot map its output columns to features")
        start = out.start
        for col, width in zip(cols, widths, strict=True):
            names.append(str(col))
            owner[start : start + width] = len(names) - 1
            start += width
    if (owner < 0).any():
        raise ModelError("linear_shap: some transformed columns belong to no input feature")
    return names, owner


def _transform(preprocess, X: pd.DataFrame) -> np.ndarray:
    Z = preprocess.transform(X)
    return np.asarray(Z.toarray() if sp.issparse(Z) else Z, dtype=np.float64)


def _binary_coef(model) -> np.ndarray:
    coef = np.asarray(model.coef_, dtype=float)
    if coef.shape[0] != 1:
        raise ModelError("linear_shap explains binary logistic models only")
    return coef[0]


def _transformed_mean(preprocess, frame: pd.DataFrame, chunk_rows: int) -> np.ndarray:
    total = None
    for start in range(0, len(frame), chunk_rows):
        part = _transform(preprocess, frame.iloc[start : start + chunk_rows]).sum(axis=0)
        total = part if total is None else total + part
    if total is None:
        raise ModelError("linear_shap: the background has no rows")
    return total / len(frame)


def linear_shap_columns(
    pipeline, X: pd.DataFrame, *, background: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, float]:
    """Linear SHAP on the transformed columns (before summing one-hot columns).

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Steps ``preprocess`` (ColumnTransformer) and ``model`` (binary LogisticRegression).
    X : pandas.DataFrame
        Rows to explain (the model input frame).
    background : pandas.DataFrame, optional
        Rows whose transformed mean is the reference (the training data). When
        None, ``X`` itself is the background.

    Returns
    -------
    values : pandas.DataFrame
        ``coef * (z - mean(z_background))`` per transformed column (named by
        ``get_feature_names_out``).
    base_value : float
        ``intercept + coef . mean(z_background)``.
    """
    pre, model = pipeline.named_steps["preprocess"], pipeline.named_steps["model"]
    coef = _binary_coef(model)
    mean = _transformed_mean(pre, X if background is None else background, 200_000)
    values = (_transform(pre, X) - mean) * coef
    columns = [str(c) for c in pre.get_feature_names_out()]
    return pd.DataFrame(values, index=X.index, columns=columns), float(
        model.intercept_[0] + coef @ mean
    )


def linear_shap(
    pipeline,
    X: pd.DataFrame,
    *,
    background: pd.DataFrame | None = None,
    chunk_rows: int = 200_000,
) -> ShapResult:
    """Interventional linear SHAP of the logistic baseline, one value per raw feature.

    The one-hot columns of a categorical are summed into that feature, and a
    numeric's imputed + scaled column is attributed to the raw numeric.
    Equals ``shap.LinearExplainer(model, background_transformed)`` (independent
    masker) on the transformed matrix, summed per raw feature.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Steps ``preprocess`` and ``model`` (see architecture.md, "Models").
    X : pandas.DataFrame
        Rows to explain.
    background : pandas.DataFrame, optional
        Reference rows (the training data); default ``X`` itself.
    chunk_rows : int
        Rows transformed at a time (bounds memory of the dense one-hot matrix).
    """
    pre, model = pipeline.named_steps["preprocess"], pipeline.named_steps["model"]
    coef = _binary_coef(model)
    mean = _transformed_mean(pre, X if background is None else background, chunk_rows)
    names, owner = _column_groups(pre, len(coef))
    groups = np.zeros((len(coef), len(names)))
    groups[np.arange(len(coef)), owner] = 1.0
    parts = [
        ((_transform(pre, X.iloc[s : s + chunk_rows]) - mean) * coef) @ groups
        for s in range(0, len(X), chunk_rows)
    ]
    values = np.vstack(parts) if parts else np.zeros((0, len(names)))
    frame = pd.DataFrame(values, index=X.index, columns=names)
    return ShapResult(frame, float(model.intercept_[0] + coef @ mean), X[names].copy(), "linear")


def explain_model(
    model,
    table: pd.DataFrame,
    *,
    background: pd.DataFrame | None = None,
    chunk_rows: int = 200_000,
    n_jobs: int = 2,
) -> ShapResult:
    """SHAP values of a fitted ``ChurnModel`` on an observation or scoring table.

    Parameters
    ----------
    model : churnlab.modeling.ChurnModel
        Uses ``kind``, ``prepare(table)`` and ``booster_`` or ``pipeline_``.
    table : pandas.DataFrame
        Observation or scoring table (architecture.md, "Observation table").
    background : pandas.DataFrame, optional
        Logistic only: the training table (reference for linear SHAP); default ``table``.
    """
    X = model.prepare(table)
    if model.kind == "lightgbm" and model.booster_ is not None:
        return tree_shap(model.booster_, X, chunk_rows=chunk_rows, n_jobs=n_jobs)
    if model.kind == "logistic" and model.pipeline_ is not None:
        ref = model.prepare(background) if background is not None else None
        return linear_shap(model.pipeline_, X, background=ref, chunk_rows=chunk_rows)
    raise ModelError(f"cannot explain model kind {model.kind!r}: expected lightgbm or logistic")


def global_importance(shap: ShapResult) -> pd.DataFrame:
    """Features ranked by mean absolute SHAP value.

    Returns
    -------
    pandas.DataFrame
        Columns ``rank`` (1 = strongest), ``feature``, ``label``,
        ``mean_abs_shap`` (log-odds), ``share`` (of the total, sums to 1),
        ``mean_shap`` (signed average); sorted by rank.
    """
    mean_abs = shap.values.abs().mean(axis=0)
    total = float(mean_abs.sum())
    out = pd.DataFrame(
        {
            "feature": mean_abs.index,
            "label": [feature_label(f) for f in mean_abs.index],
            "mean_abs_shap": mean_abs.to_numpy(),
            "share": mean_abs.to_numpy() / total if total > 0 else 0.0,
            "mean_shap": shap.values.mean(axis=0).to_numpy(),
        }
    )
    out = out.sort_values(["mean_abs_shap", "feature"], ascending=[False, True], kind="stable")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)
