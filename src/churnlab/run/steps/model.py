"""Stage 02, the churn-risk model: backtest three models, fit the champion, score every account.

Notebook ``02_churn_model`` calls these functions cell by cell; :func:`run` calls them in
the same order without a kernel. Reads ``observations.parquet``, ``scoring.parquet``,
``account_names.parquet`` and ``data_health.json``; writes ``model/``,
``model_metrics.json``, ``scores_raw.parquet`` and the ``calibration`` and
``health_by_tier`` charts.

The candidates: a regularised logistic regression and LightGBM on every usable feature,
and (event-log data) a plain reference, a logistic regression on each event type's
28-day count. The champion is the best of the three on ``model.champion_metric`` in the
backtest; the metrics say which wins, and warn when the champion ranks churners no
better than chance. When the labelled observations hold a single class (nobody churned,
or everybody did) no model can learn: the stage writes ``model_metrics.json`` with the
reason and nothing else and ends as skipped; the report goes on without scores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from churnlab.atomic import write_json
from churnlab.config import Params
from churnlab.run.steps.context import StageContext, save_chart

if TYPE_CHECKING:  # the models load lightgbm and scikit-learn: only when a step needs them
    from churnlab.modeling import Candidate, ModelComparison

__all__ = [
    "REFERENCE",
    "FeatureChoice",
    "backtest",
    "calibration_on_holdout",
    "compare_models",
    "event_types",
    "fit_champion",
    "model_features",
    "model_metrics",
    "read_inputs",
    "run",
    "score",
    "skipped_metrics",
    "stop_if_untrained",
    "untrainable",
    "write",
]

#: The name of the plain reference model in the comparison.
REFERENCE = "reference"
#: The window of the reference's per-event-type counts (the nearest configured one).
REFERENCE_WINDOW = 28


@dataclass(frozen=True)
class FeatureChoice:
    """The features the models are given, and those left out with the reason.

    Attributes
    ----------
    numeric, categorical : list of str
        The usable features.
    left_out : dict of str to str
        Features not given to the models, with the reason in words.
    reference : list of str
        The plain reference's features: each event type's count over the window nearest
        28 days (empty for snapshot data).
    """

    numeric: list[str]
    categorical: list[str]
    left_out: dict[str, str] = field(default_factory=dict)
    reference: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        """What was left out, in words: empty and constant columns by name, the rest with why."""
        if not self.left_out:
            return []
        out = []
        for kind in ("empty", "constant"):
            names = [c for c, why in self.left_out.items() if why.startswith(kind)]
            if names:
                out.append(f"Left out of the models as {kind}: {', '.join(names)}.")
        others = {
            c: why for c, why in self.left_out.items() if not why.startswith(("empty", "constant"))
        }
        if others:
            listing = "; ".join(f"{col} ({why})" for col, why in others.items())
            out.append(f"Left out of the models: {listing}.")
        return out

    def __repr__(self) -> str:
        lines = [f"{len(self.numeric)} numeric and {len(self.categorical)} text features"]
        lines += [f"  left out: {col}: {why}" for col, why in self.left_out.items()]
        if self.reference:
            lines.append(f"  plain reference: {', '.join(self.reference)}")
        return "\n".join(lines)


def read_inputs(ctx: StageContext) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(observations, scoring, account_names)`` as stage 00 wrote them."""
    folder = ctx.folder
    return (
        pd.read_parquet(folder.observations),
        pd.read_parquet(folder.scoring),
        pd.read_parquet(folder.account_names),
    )


def event_types(ctx: StageContext) -> list[str]:
    """The event types of the data (recorded by stage 00; empty for snapshot data)."""
    if not ctx.folder.data_health.exists():
        return []
    health = json.loads(ctx.folder.data_health.read_text(encoding="utf-8"))
    return list(health.get("event_types") or [])


def model_features(
    cfg: Params, table: pd.DataFrame, event_types: list[str] | tuple[str, ...] = ()
) -> FeatureChoice:
    """The usable features (see :func:`churnlab.observations.usable_features`).

    ``features.exclude`` is left out first; ``features.include`` keeps an id-like or wide
    column; constant and empty columns never reach a model.
    """
    from churnlab.observations import count_column, feature_columns, usable_features

    numeric, categorical = feature_columns(table)
    drop = set(cfg.features.exclude)
    numeric, categorical, left_out = usable_features(
        table,
        [c for c in numeric if c not in drop],
        [c for c in categorical if c not in drop],
        max_categories=cfg.features.max_categories,
        include=cfg.features.include,
    )
    window = min(cfg.features.windows, key=lambda w: (abs(w - REFERENCE_WINDOW), w))
    counts = [count_column(t, window) for t in event_types]
    reference = [c for c in dict.fromkeys(counts) if c in numeric]
    return FeatureChoice(numeric, categorical, left_out, reference)


#: Fewest churned (and retained) labelled observations to train and check a model on.
MIN_CLASS_ROWS = 10


def untrainable(table: pd.DataFrame) -> str | None:
    """Why no model can learn from the labelled observations (None when one can)."""
    if table.empty:
        return "there is no labelled observation"
    labels = table["label"].astype(int)
    churned, retained = int(labels.sum()), int((1 - labels).sum())
    if churned == 0:
        return "no labelled observation churned: there is no churner to learn from"
    if retained == 0:
        return "every labelled observation churned: there is no retained account to learn from"
    if min(churned, retained) < MIN_CLASS_ROWS:
        which = "churned" if churned < retained else "were retained"
        return (
            f"only {min(churned, retained)} labelled observations {which}: at least "
            f"{MIN_CLASS_ROWS} are needed to train a model and check it"
        )
    return None


def _model_params(cfg: Params) -> dict[str, dict[str, Any]]:
    lgb = cfg.model.lightgbm.model_dump()
    lgb["num_threads"] = cfg.model.num_threads
    return {"lightgbm": lgb, "logistic": cfg.model.logistic.model_dump()}


def candidates(cfg: Params, features: FeatureChoice) -> list[Candidate]:
    """The models the comparison backtests: logistic, LightGBM and the plain reference."""
    from churnlab.modeling import Candidate

    params = _model_params(cfg)
    num, cat = tuple(features.numeric), tuple(features.categorical)
    out = [
        Candidate("logistic", "logistic", num, cat, params["logistic"]),
        Candidate("lightgbm", "lightgbm", num, cat, params["lightgbm"]),
    ]
    if features.reference:
        out.append(Candidate(REFERENCE, "logistic", tuple(features.reference), (), {"C": 1.0}))
    return out


def compare_models(cfg: Params, table: pd.DataFrame, features: FeatureChoice) -> ModelComparison:
    """Backtest the candidates on the same folds; the champion by the params' metric."""
    from churnlab.modeling import compare_models as _compare

    return _compare(
        table,
        candidates=candidates(cfg, features),
        metric=cfg.model.champion_metric,
        n_folds=cfg.model.n_folds,
        seed=cfg.model.seed,
        calibration=cfg.model.calibration,
        lead_days=cfg.observation.lead_days,
        horizon_days=cfg.observation.horizon_days,
        scheme="accounts" if cfg.model.backtest == "accounts" else "auto",
    )


def backtest(
    cfg: Params, table: pd.DataFrame, features: FeatureChoice
) -> tuple[ModelComparison | None, str | None]:
    """The model comparison, or None and the reason when no model can learn from the data.

    No model can learn when the labelled observations hold a single class, or when no
    backtest fold has both classes in its training rows. A suspected label leak is not a
    reason to go on: it raises.
    """
    from churnlab.errors import ModelError

    reason = untrainable(table)
    if reason is not None:
        return None, reason
    try:
        return compare_models(cfg, table, features), None
    except ModelError as exc:
        if "leak" in str(exc):
            raise
        return None, str(exc)


def fit_champion(cfg: Params, table: pd.DataFrame, champion: str | Candidate) -> Any:
    """Fit a model on all labelled rows and calibrate it on the latest held-out slice.

    ``champion`` is a candidate of the comparison (``comparison.candidates[name]``), or a
    model kind (``"logistic"``, ``"lightgbm"``) given every usable feature.
    """
    from churnlab.modeling import Candidate, fit_churn_model

    if isinstance(champion, str):
        features = model_features(cfg, table)
        champion = Candidate(
            champion,
            champion,
            tuple(features.numeric),
            tuple(features.categorical),
            _model_params(cfg)[champion],
        )
    # A snapshot's label has no horizon of its own: its probability maps to health as is.
    snapshot = "checkpoint" in table and (table["checkpoint"] == "snapshot").all()
    return fit_churn_model(
        table,
        kind=champion.kind,
        numeric=list(champion.numeric),
        categorical=list(champion.categorical),
        params=champion.params,
        seed=cfg.model.seed,
        calibration=cfg.model.calibration,
        lead_days=cfg.observation.lead_days,
        horizon_days=365 if snapshot else cfg.observation.horizon_days,
        split="accounts" if cfg.model.backtest == "accounts" else "auto",
    )


def calibration_on_holdout(comparison: ModelComparison, name: str) -> pd.DataFrame:
    """Calibration curve of a model's backtest predictions (data it never saw)."""
    from churnlab.modeling import calibration_curve

    predictions = comparison.backtests[name].predictions
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


def model_metrics(
    comparison: ModelComparison,
    model: Any,
    cfg: Params | None = None,
    features: FeatureChoice | None = None,
) -> dict[str, Any]:
    """The ``model_metrics.json`` payload: comparison, champion, summary, notes, warning."""
    champion = comparison.champion
    best = comparison.table.loc[champion]
    rows = []
    for name, row in comparison.table.iterrows():
        rows.append({"model": name, **{k: _plain(v) for k, v in row.items()}})
    scheme = str(best.get("scheme", ""))
    scheme_text = {
        "rolling_origin": "rolling-origin backtest: trained on earlier as-of dates, tested on "
        "the following period",
        "account_kfold": "cross-validation across accounts (the history is too short to test "
        "on a later period)",
    }.get(scheme, "stratified cross-validation (snapshot data has no time order)")
    summary = (
        f"The {champion} model ranks a churning account above a renewing one "
        f"{100 * best['roc_auc']:.0f}% of the time (ROC AUC {best['roc_auc']:.2f}); the 10% of "
        f"accounts it rates riskiest churn {best['lift_10']:.1f}× as often as average; predicted "
        f"probabilities are off by {100 * best['ece']:.1f} points on average (ECE), measured by "
        f"{scheme_text}."
    )
    notes = [*(features.notes() if features else [])]
    for name, result in comparison.backtests.items():
        notes += [f"{name}: backtest {why}." for why in result.skipped]
    notes += _reference_note(comparison)
    metrics = {
        "status": "trained",
        "champion": champion,
        "champion_metric": comparison.metric,
        "summary": summary,
        "scheme": scheme,
        "scheme_description": f"Metrics pooled over the folds of a {scheme_text}.",
        "comparison": rows,
        "training": {k: _plain(v) for k, v in getattr(model, "training", {}).items()},
        "horizon_days": getattr(model, "training", {}).get("horizon_days"),
        "excluded_features": dict(features.left_out) if features else {},
        "notes": notes,
        "warning": None,
    }
    floor = cfg.model.min_useful_auc if cfg is not None else 0.55
    auc = float(best["roc_auc"])
    if not auc >= floor:  # NaN too: a backtest without both classes proves nothing
        metrics["warning"] = (
            f"The scores do not rank churners better than chance (backtest ROC AUC {auc:.2f}, "
            f"below {floor:.2f}): do not act on them."
        )
    return metrics


def _reference_note(comparison: ModelComparison) -> list[str]:
    table, metric = comparison.table, comparison.metric
    if REFERENCE not in table.index:
        return []
    others = table.drop(index=REFERENCE)[metric]
    best_other = others.idxmin() if metric in ("brier", "log_loss", "ece") else others.idxmax()
    ref, other = table.loc[REFERENCE, metric], others.loc[best_other]
    if comparison.champion == REFERENCE:
        return [
            f"The plain reference (each event type's 28-day count, logistic) wins the backtest "
            f"on {metric} ({ref:.3f} against {best_other}'s {other:.3f}): it is the champion."
        ]
    return [
        f"{best_other} beats the plain reference (each event type's 28-day count, logistic) "
        f"on {metric}: {other:.3f} against {ref:.3f}."
    ]


def skipped_metrics(reason: str, features: FeatureChoice | None = None) -> dict[str, Any]:
    """The ``model_metrics.json`` payload when no model can be trained."""
    return {
        "status": "skipped",
        "reason": reason,
        "summary": f"No churn model this run: {reason}.",
        "notes": [f"No churn model: {reason}.", *(features.notes() if features else [])],
        "warning": None,
    }


def stop_if_untrained(
    ctx: StageContext, reason: str | None, features: FeatureChoice | None = None
) -> None:
    """Without a model: write why in ``model_metrics.json`` and end the stage, as skipped.

    Raises
    ------
    StageSkipped
        When ``reason`` is not None (the runner records the stage as skipped).
    """
    from churnlab.errors import StageSkipped

    if reason is None:
        return
    write(ctx, None, skipped_metrics(reason, features), None)
    raise StageSkipped(f"no churn model this run: {reason}")


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def write(
    ctx: StageContext,
    model: Any,
    metrics: dict[str, Any],
    scores: pd.DataFrame | None,
) -> list[str]:
    """Hand the stage's results on: the model (text + JSON), metrics, raw scores.

    Without a model (``metrics["status"] == "skipped"``) only the metrics are written.
    """
    from churnlab.modeling import save_model

    folder = ctx.folder
    written = [write_json(folder.model_metrics, metrics)]
    if model is not None and scores is not None:
        save_model(model, folder.model)
        scores.to_parquet(folder.scores_raw, index=False)
        written += [folder.model, folder.scores_raw]
    return sorted(p.name for p in written)


def run(ctx: StageContext) -> None:
    """The whole stage, as notebook ``02_churn_model`` runs it."""
    from churnlab.plots.model import plot_calibration, plot_health_distribution

    cfg = ctx.cfg
    observations, scoring, names = read_inputs(ctx)
    features = model_features(cfg, observations, event_types(ctx))
    comparison, reason = backtest(cfg, observations, features)
    stop_if_untrained(ctx, reason, features)
    champion = comparison.candidates[comparison.champion]
    model = fit_champion(cfg, observations, champion)
    calibration = calibration_on_holdout(comparison, comparison.champion)
    save_chart(plot_calibration(calibration), ctx.folder.chart("calibration"))
    scores = score(cfg, model, scoring, names)
    save_chart(plot_health_distribution(scores), ctx.folder.chart("health_by_tier"))
    write(ctx, model, model_metrics(comparison, model, cfg, features), scores)
