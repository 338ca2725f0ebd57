"""Exact TreeSHAP for LightGBM, fast at scale: per-tree decision-cell tables.

A tree's SHAP values for a row depend only on which side of every split the row
falls. Per tree we therefore map each row to its *cell* (one class per feature:
the interval between the tree's thresholds, a category group, or missing),
compute LightGBM's own exact TreeSHAP (``pred_contrib``) once for one
representative row per occupied cell, and gather the table back to all rows.
The result equals ``booster.predict(X, pred_contrib=True)`` (the values
``shap.TreeExplainer`` returns) up to floating-point summation order, while the
per-row work is a few integer gathers per tree instead of a recursive path walk.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnlab.errors import ModelError

#: LightGBM treats |x| <= this as zero for ``missing_type == "Zero"``.
_ZERO = 1e-35
#: Trees with more possible cells than this (or than 8 x the chunk's rows) use
#: ``np.unique`` instead of a dense mark array.
_DENSE_CELLS = 1 << 24


@dataclass(frozen=True)
class _FeatureAtoms:
    """Global atoms of one feature: classes of values no split in the model tells apart."""

    index: int
    categorical: bool
    thresholds: np.ndarray  # numeric: sorted unique thresholds of the whole model
    zero_split: bool  # some split on the feature treats zero as missing


@dataclass(frozen=True)
class _TreeSpec:
    index: int
    features: tuple[int, ...]
    local_maps: tuple[np.ndarray, ...]  # global atom -> local class, per feature
    radices: tuple[int, ...]


def booster_matrix(booster, X: pd.DataFrame) -> np.ndarray:
    """The float matrix LightGBM sees for ``X``: columns in model order, categories as codes.

    Raises
    ------
    ModelError
        A model feature is missing from ``X``.
    """
    names = booster.feature_name()
    missing = [n for n in names if n not in X.columns]
    if missing:
        raise ModelError(
            f"feature {missing[0]!r} is missing from the input frame ({len(missing)} missing); "
            "pass the model input frame (ChurnModel.prepare(table))"
        )
    levels = list(getattr(booster, "pandas_categorical", None) or [])
    cat_cols = [n for n in names if isinstance(X[n].dtype, pd.CategoricalDtype)]
    out = np.empty((len(X), len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        col = X[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            k = cat_cols.index(name)
            if k < len(levels):
                col = col.cat.set_categories(levels[k])
            codes = col.cat.codes.to_numpy()
            out[:, j] = np.where(codes < 0, np.nan, codes)
        else:
            out[:, j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _walk(node: dict, splits: dict[int, list[dict]]) -> None:
    stack = [node]
    while stack:
        nd = stack.pop()
        if "split_feature" in nd:
            splits.setdefault(nd["split_feature"], []).append(nd)
            stack.extend((nd["left_child"], nd["right_child"]))


def _cat_set(node: dict) -> np.ndarray:
    return np.asarray([int(v) for v in str(node["threshold"]).split("||")], dtype=np.int64)


def _parse(booster, A: np.ndarray) -> tuple[dict[int, _FeatureAtoms], list[tuple[int, dict]]]:
    dump = booster.dump_model()
    if dump.get("num_class", 1) != 1 or dump.get("num_tree_per_iteration", 1) != 1:
        raise ModelError("tree_shap explains binary/regression boosters only (one tree per round)")
    if str(booster.params.get("linear_tree", "false")).lower() in ("true", "1"):
        raise ModelError("linear trees are not supported by tree_shap")
    trees: list[tuple[int, dict]] = []
    all_splits: dict[int, list[dict]] = {}
    for t in dump["tree_info"]:
        splits: dict[int, list[dict]] = {}
        _walk(t["tree_structure"], splits)
        trees.append((t["tree_index"], splits))
        for f, nodes in splits.items():
            all_splits.setdefault(f, []).extend(nodes)
    atoms: dict[int, _FeatureAtoms] = {}
    for f, nodes in all_splits.items():
        categorical = nodes[0]["decision_type"] == "=="
        if categorical:
            thresholds = np.empty(0)
        else:
            thresholds = np.unique(np.asarray([float(n["threshold"]) for n in nodes]))
        zero = any(n.get("missing_type") == "Zero" for n in nodes)
        atoms[f] = _FeatureAtoms(f, categorical, thresholds, zero)
    return atoms, trees


def _atom_codes(atoms: _FeatureAtoms, col: np.ndarray) -> tuple[np.ndarray, int]:
    """Global atom per value; returns codes and the number of atoms."""
    nan = np.isnan(col)
    if atoms.categorical:
        top = int(np.nanmax(col)) + 1 if (~nan).any() else 0
        codes = np.where(nan, top, np.nan_to_num(col, nan=0.0)).astype(np.int32)
        return codes, top + 1
    n_int = len(atoms.thresholds) + 1
    codes = np.searchsorted(atoms.thresholds, col, side="left").astype(np.int32)
    if atoms.zero_split:
        codes[np.abs(col) <= _ZERO] = n_int + 1
    codes[nan] = n_int
    return codes, n_int + 2


def _local_map(atoms: _FeatureAtoms, nodes: list[dict], n_atoms: int) -> tuple[np.ndarray, int]:
    """Map global atoms to the classes this tree's splits on the feature can tell apart."""
    if atoms.categorical:
        sig = np.zeros(n_atoms, dtype=np.int64)
        levels = np.arange(n_atoms - 1)
        for b, node in enumerate(nodes[:62]):
            sig[:-1] |= np.isin(levels, _cat_set(node)).astype(np.int64) << b
        sig[-1] = -1  # missing is its own class
        _, local = np.unique(sig, return_inverse=True)
        return local.astype(np.int32), int(local.max()) + 1
    mine = np.unique(np.asarray([float(n["threshold"]) for n in nodes]))
    n_int = len(atoms.thresholds) + 1
    upper = np.append(atoms.thresholds, np.inf)  # every interval atom holds its upper end
    local = np.empty(n_atoms, dtype=np.int32)
    local[:n_int] = np.searchsorted(mine, upper, side="left")
    local[n_int] = len(mine) + 1  # missing
    local[n_int + 1 :] = len(mine) + 2  # zero band
    return local, len(mine) + 3


def _plan(booster, A: np.ndarray):
    atoms, trees = _parse(booster, A)
    codes: dict[int, np.ndarray] = {}
    n_atoms: dict[int, int] = {}
    present: dict[int, np.ndarray] = {}
    for f, fa in atoms.items():
        codes[f], n_atoms[f] = _atom_codes(fa, A[:, f])
        present[f] = np.bincount(codes[f], minlength=n_atoms[f]) > 0
    specs = []
    for idx, splits in trees:
        feats, maps, radices = [], [], []
        for f in sorted(splits):
            m, _ = _local_map(atoms[f], splits[f], n_atoms[f])
            # keep only the classes that occur in the data: smaller cell spaces
            used, m = np.unique(np.where(present[f], m, -1), return_inverse=True)
            if used[0] == -1:
                m = m - 1
            r = int((used >= 0).sum())
            if r <= 1:
                continue  # every row falls on the same side of this feature's splits
            feats.append(f)
            maps.append(m.astype(np.int32))
            radices.append(r)
        specs.append(_TreeSpec(idx, tuple(feats), tuple(maps), tuple(radices)))
    return codes, specs


def _tree_cells(spec: _TreeSpec, codes: dict[int, np.ndarray], rows: slice):
    """Dense cell index per row and one representative row index per cell."""
    key = None
    for f, m, r in zip(spec.features, spec.local_maps, spec.radices, strict=True):
        local = m[codes[f][rows]].astype(np.int64)
        key = local if key is None else key * r + local
    size = int(np.prod(np.asarray(spec.radices, dtype=np.float64)))
    if size <= min(_DENSE_CELLS, max(1 << 16, 8 * len(key))):
        first = np.full(size, -1, dtype=np.int32)
        first[key] = np.arange(len(key), dtype=np.int32)
        cells = np.flatnonzero(first >= 0)
        lookup = np.empty(size, dtype=np.int32)
        lookup[cells] = np.arange(len(cells), dtype=np.int32)
        return lookup[key], first[cells]
    _, rep, dense = np.unique(key, return_index=True, return_inverse=True)
    return dense.astype(np.int32), rep


def _explain_rows(booster, A: np.ndarray, codes, specs, rows: slice) -> np.ndarray:
    n = rows.stop - rows.start
    phi = np.zeros((A.shape[1], n), dtype=np.float64)  # feature-major: each row of phi contiguous
    block = A[rows]
    for spec in specs:
        if not spec.features:
            continue
        dense, rep = _tree_cells(spec, codes, rows)
        table = booster.predict(
            block[rep],
            pred_contrib=True,
            start_iteration=spec.index,
            num_iteration=1,
            num_threads=1,
        )
        # a feature whose splits all rows share contributes the same value to every row
        for f in np.flatnonzero(np.any(table[:, :-1] != 0.0, axis=0)):
            col = np.ascontiguousarray(table[:, f])
            phi[f] += col[0] if len(col) == 1 else col.take(dense)
    return phi.T


def tree_contributions(
    booster, X: pd.DataFrame, *, chunk_rows: int = 200_000, n_jobs: int = 2
) -> tuple[np.ndarray, float]:
    """Exact TreeSHAP values (log-odds) of a LightGBM booster, and the base value.

    Parameters
    ----------
    booster : lightgbm.Booster
        A binary (or regression) booster.
    X : pandas.DataFrame
        Model input frame: numerics float, categoricals pandas ``category``.
    chunk_rows : int
        Rows per chunk; bounds the temporary memory per worker.
    n_jobs : int
        Chunks explained in parallel threads (numpy and LightGBM release the GIL).

    Returns
    -------
    values : numpy.ndarray
        ``len(X) x n_features`` in the booster's feature order.
    base_value : float
        The expected raw score (same for every row).
    """
    A = booster_matrix(booster, X)
    if len(A) == 0:
        return np.zeros((0, A.shape[1])), float("nan")
    base = float(booster.predict(A[:1], pred_contrib=True, num_threads=1)[0, -1])
    codes, specs = _plan(booster, A)
    bounds = [slice(s, min(s + chunk_rows, len(A))) for s in range(0, len(A), chunk_rows)]
    if n_jobs > 1 and len(bounds) > 1:
        # LightGBM keeps the prediction range on the booster: one copy per worker thread
        text = booster.model_to_string()
        copies = [booster] + [type(booster)(model_str=text) for _ in range(n_jobs - 1)]
        groups = [bounds[w::n_jobs] for w in range(n_jobs)]

        def work(w: int) -> list[tuple[slice, np.ndarray]]:
            return [(r, _explain_rows(copies[w], A, codes, specs, r)) for r in groups[w]]

        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            done = [item for part in pool.map(work, range(n_jobs)) for item in part]
        parts = [v for _, v in sorted(done, key=lambda item: item[0].start)]
    else:
        parts = [_explain_rows(booster, A, codes, specs, r) for r in bounds]
    return np.vstack(parts), base
