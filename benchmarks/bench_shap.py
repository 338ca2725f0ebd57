"""Benchmark: churnlab's exact TreeSHAP vs ``shap.TreeExplainer`` on a LightGBM model.

Trains a model the size ``params.yaml`` trains by default (500 trees,
num_leaves 15) on synthetic churn-like data with 40 features (counts,
continuous values with missing values, two categoricals), then explains the
same rows with both routes and checks they agree.

Usage::

    .venv/bin/python benchmarks/bench_shap.py [--rows 100000 1000000] [--shap-rows 100000]

``shap`` is timed on ``--shap-rows`` rows; its 1M-row time is extrapolated per row.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
import shap

from churnlab.explain import tree_shap

N_FEATURES = 40


def synthetic(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Churn-like features: 16 counts, 20 continuous (4 with 10% missing), 2 categoricals, 2 flags."""
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    for i in range(16):
        cols[f"count_{i}"] = rng.poisson(3 + 2 * i, n).astype(float)
    for i in range(20):
        x = rng.normal(size=n) * (1 + i % 3)
        if i < 4:
            x[rng.random(n) < 0.1] = np.nan
        cols[f"value_{i}"] = x
    cols["flag_0"] = (rng.random(n) < 0.7).astype(float)
    cols["flag_1"] = (rng.random(n) < 0.2).astype(float)
    X = pd.DataFrame(cols)
    X["plan"] = pd.Categorical(
        rng.choice(["starter", "growth", "enterprise"], n, p=[0.5, 0.35, 0.15])
    )
    X["industry"] = pd.Categorical(rng.choice([f"ind_{i}" for i in range(8)], n))
    logit = (
        -1.5
        - 0.08 * X["count_3"]
        + 0.6 * X["value_0"].fillna(1.0)
        - 0.4 * X["value_5"]
        + 1.0 * (X["flag_0"] == 0)
        + 0.5 * (X["plan"] == "starter")
        + 0.3 * np.sin(X["value_7"])
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    assert X.shape[1] == N_FEATURES
    return X, y


CPU: dict[str, float] = {}


def timed(fn, name: str = ""):
    """Run ``fn``; return its result and wall seconds (process CPU seconds go to ``CPU[name]``)."""
    cpu, start = time.process_time(), time.perf_counter()
    out = fn()
    CPU[name] = time.process_time() - cpu
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--shap-rows", type=int, default=100_000)
    parser.add_argument("--train-rows", type=int, default=50_000)
    parser.add_argument("--trees", type=int, default=500)
    parser.add_argument("--num-leaves", type=int, default=15)
    args = parser.parse_args()

    X_train, y = synthetic(args.train_rows, seed=1)
    params = dict(
        objective="binary", num_leaves=args.num_leaves, learning_rate=0.05,
        min_child_samples=40, feature_fraction=0.8, lambda_l2=1.0,
        num_threads=2, seed=42, verbose=-1,
    )  # fmt: skip
    booster, t_train = timed(lambda: lgb.train(params, lgb.Dataset(X_train, y), args.trees))
    X_all, _ = synthetic(max(args.rows), seed=2)
    result = {
        "cpu_count": os.cpu_count(),
        "load_avg_at_start": os.getloadavg(),
        "trees": booster.num_trees(),
        "num_leaves": args.num_leaves,
        "features": N_FEATURES,
        "train_seconds": round(t_train, 1),
    }
    print(json.dumps(result), flush=True)

    X_shap = X_all.iloc[: args.shap_rows]

    def shap_route():
        return shap.TreeExplainer(booster).shap_values(X_shap)

    ref, t_shap = timed(shap_route, "shap")
    shap_rate = args.shap_rows / t_shap
    result["shap_rows"] = args.shap_rows
    result["shap_seconds"] = round(t_shap, 2)
    result["shap_rows_per_s"] = round(shap_rate)
    result["shap_cpu_seconds"] = round(CPU["shap"], 1)
    print(json.dumps({"shap_rows": args.shap_rows, "seconds": round(t_shap, 2),
                      "cpu_seconds": round(CPU["shap"], 1), "load": os.getloadavg()}), flush=True)  # fmt: skip

    for n in args.rows:
        X = X_all.iloc[:n]
        ours, t_ours = timed(lambda X=X: tree_shap(booster, X), "ours")
        row = {
            "rows": n,
            "churnlab_seconds": round(t_ours, 2),
            "churnlab_rows_per_s": round(n / t_ours),
            "churnlab_cpu_seconds": round(CPU["ours"], 1),
            "shap_cpu_seconds": round(CPU["shap"] * n / args.shap_rows, 1),
            "load": os.getloadavg(),
            "shap_seconds": round(t_shap * n / args.shap_rows, 1),
            "shap_measured": n == args.shap_rows,
            "speedup": round((n / t_ours) / shap_rate, 1),
        }
        m = min(n, args.shap_rows)
        row["max_abs_diff_vs_shap"] = float(np.abs(ours.values.to_numpy()[:m] - ref[:m]).max())
        raw = booster.predict(X.iloc[:m], raw_score=True)
        row["additivity_gap"] = float(np.abs(ours.log_odds().to_numpy()[:m] - raw).max())
        result[f"rows_{n}"] = row
        print(json.dumps(row), flush=True)
        del ours
    result["load_avg_at_end"] = os.getloadavg()
    print(json.dumps(result, indent=1), flush=True)


if __name__ == "__main__":
    main()
