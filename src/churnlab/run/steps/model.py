"""Stage 02, the churn-risk model: backtest two models, fit the champion, score every account.

Notebook ``02_churn_model`` calls these functions cell by cell; :func:`run` calls them in
the same order without a kernel. Reads ``observations.parquet``, ``scoring.parquet`` and
``account_names.parquet``; writes ``model/``, ``model_metrics.json``,
``scores_raw.parquet`` and the ``calibration`` and ``health_by_tier`` charts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from churnlab.atomic import write_json
from churnlab.config import Params
from churnlab.run.steps.context import StageContext, save_chart

if TYPE_CHECKING:  # the models load lightgbm and scikit-learn: only when a step needs them
    from churnlab.modeling import ModelComparison

__all__ = [
    "calibration_on_holdout",
    "compare_models",
    "fit_champion",
    "model_features",
    "model_metrics",
    "read_inputs",
    "run",
    "score",
    "write",
]


def read_inputs(ctx: StageContext) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(observations, scoring, account_names)`` as stage 00 wrote them."""
    folder = ctx.folder
    return (
        pd.read_parquet(folder.observations),
        pd.read_parquet(folder.scoring),
        pd.read_parquet(folder.account_names),
    )


def model_features(cfg: Params, table: pd.DataFrame) -> dict[str, list[str]]:
    """Numeric and categorical model inputs, without the params' ``features.exclude``."""
    from churnlab.observations import feature_columns

    numeric, categorical = feature_columns(table)
    drop = set(cfg.features.exclude)
    return {
        "numeric": [c for c in numeric if c not in drop],
        "categorical": [c for c in categorical if c not in drop],
    }


def _model_params(cfg: Params) -> dict[str, dict[str, Any]]:
    lgb = cfg.model.lightgbm.model_dump()
    lgb["num_threads"] = cfg.model.num_threads
    return {"lightgbm": lgb, "logistic": cfg.model.logistic.model_dump()}


def compare_models(cfg: Params, table: pd.DataFrame) -> ModelComparison:
    """Backtest the baseline and LightGBM on the same folds; the champion by the params' metric."""
    from churnlab.modeling import compare_models as _compare

    return _compare(
        table,
        kinds=("logistic", "lightgbm"),
        metric=cfg.model.champion_metric,
        params=_model_params(cfg),
        n_folds=cfg.model.n_folds,
        seed=cfg.model.seed,
        calibration=cfg.model.calibration,
        lead_days=cfg.observation.lead_days,
        horizon_days=cfg.observation.horizon_days,
        **model_features(cfg, table),
    )


def fit_champion(cfg: Params, table: pd.DataFrame, kind: str) -> Any:
    """Fit the champion on all labelled rows and calibrate it on the latest held-out slice."""
    from churnlab.modeling import fit_churn_model

    # A snapshot's label has no horizon of its own: its probability maps to health as is.
    snapshot = "checkpoint" in table and (table["checkpoint"] == "snapshot").all()
    return fit_churn_model(
        table,
        kind=kind,
        params=_model_params(cfg)[kind],
        seed=cfg.model.seed,
        calibration=cfg.model.calibration,
        lead_days=cfg.observation.lead_days,
        horizon_days=365 if snapshot else cfg.observation.horizon_days,
        **model_features(cfg, table),
    )


def calibration_on_holdout(comparison: ModelComparison, kind: str) -> pd.DataFrame:
    """Calibration curve of a model's backtest predictions (data it never saw)."""
    from churnlab.modeling import calibration_curve

    predictions = comparison.backtests[kind].predictions
    return calibration_curve(predictions["label"].astype(int), predictions["churn_probability"])


def score(cfg: Params, model: Any, scoring: pd.DataFrame, names: pd.DataFrame) -> pd.DataFrame:
    """Churn probability, health score and band, tier, ARR at risk for every active account."""
    from churnlab.modeling import score_accounts

    scores = score_accounts(
        model,
        scoring,
        bands=(cfg.health.red_below, cfg.health.green_from),
        touch_thresholds=cfg.tiers.thresholds,
    )
    if len(names):
        scores = scores.merge(names, on="account_id", how="left")
    if "name" not in scores:
        scores["name"] = scores["account_id"]
    scores["name"] = scores["name"].fillna(scores["account_id"])
    return scores


def model_metrics(comparison: ModelComparison, model: Any) -> dict[str, Any]:
    """The ``model_metrics.json`` payload: comparison, champion, a one-line summary."""
    champion = comparison.champion
    best = comparison.table.loc[champion]
    rows = []
    for name, row in comparison.table.iterrows():
        rows.append({"model": name, **{k: _plain(v) for k, v in row.items()}})
    scheme = str(best.get("scheme", ""))
    scheme_text = (
        "rolling-origin backtest: trained on earlier as-of dates, tested on the following period"
        if scheme == "rolling_origin"
        else "stratified cross-validation (snapshot data has no time order)"
    )
    summary = (
        f"The {champion} model ranks a churning account above a renewing one "
        f"{100 * best['roc_auc']:.0f}% of the time (ROC AUC {best['roc_auc']:.2f}); the 10% of "
        f"accounts it rates riskiest churn {best['lift_10']:.1f}× as often as average; predicted "
        f"probabilities are off by {100 * best['ece']:.1f} points on average (ECE), measured by "
        f"{scheme_text}."
    )
    return {
        "champion": champion,
        "champion_metric": comparison.metric,
        "summary": summary,
        "scheme": scheme,
        "scheme_description": f"Metrics pooled over the folds of a {scheme_text}.",
        "comparison": rows,
        "training": {k: _plain(v) for k, v in getattr(model, "training", {}).items()},
    }


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def write(
    ctx: StageContext, model: Any, metrics: dict[str, Any], scores: pd.DataFrame
) -> list[str]:
    """Hand the stage's results on: the model (text + JSON), metrics, raw scores."""
    from churnlab.modeling import save_model

    folder = ctx.folder
    save_model(model, folder.model)
    write_json(folder.model_metrics, metrics)
    scores.to_parquet(folder.scores_raw, index=False)
    return sorted(p.name for p in (folder.model, folder.model_metrics, folder.scores_raw))


def run(ctx: StageContext) -> None:
    """The whole stage, as notebook ``02_churn_model`` runs it."""
    from churnlab.plots.model import plot_calibration, plot_health_distribution

    cfg = ctx.cfg
    observations, scoring, names = read_inputs(ctx)
    comparison = compare_models(cfg, observations)
    model = fit_champion(cfg, observations, comparison.champion)
    calibration = calibration_on_holdout(comparison, comparison.champion)
    save_chart(plot_calibration(calibration), ctx.folder.chart("calibration"))
    scores = score(cfg, model, scoring, names)
    save_chart(plot_health_distribution(scores), ctx.folder.chart("health_by_tier"))
    write(ctx, model, model_metrics(comparison, model), scores)
