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
from churnlab.run.steps.context import StageContext, chart_words, save_chart

if TYPE_CHECKING:  # the models load lightgbm and scikit-learn: only when a step needs them
    from churnlab.modeling import Candidate, ModelComparison

#: What the stage imports, for a kernel started ahead to import while the stage before runs.
WARM_UP = ("churnlab.modeling", "churnlab.plots.model", "lightgbm", "sklearn.linear_model")

__all__ = [
    "REFERENCE",
    "FeatureChoice",
    "backtest",
    "calibration_on_holdout",
    "compare_models",
    "event_types",
    "fit_champion",
    "held_out",
    "model_features",
    "model_metrics",
    "read_inputs",
    "run",
    "score",
    "skipped_metrics",
    "stop_if_untrained",
    "trust",
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
    #: ``left_out`` with each reason as a message of the catalogues (``churnlab.messages``).
    left_out_messages: dict[str, dict[str, Any]] = field(default_factory=dict)

    def notes(self) -> list[str]:
        """What was left out, in words: empty and constant columns by name, the rest with why."""
        return [str(m["text"]) for m in self.note_messages()]

    def note_messages(self) -> list[dict[str, Any]]:
        """:meth:`notes` as messages of the catalogues (``churnlab.messages``)."""
        from churnlab.modeling.sentences import left_out_notes

        return left_out_notes(self.left_out_messages or self.left_out)

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
    from churnlab.observations import count_column, feature_columns, usable_features_said

    numeric, categorical = feature_columns(table)
    drop = set(cfg.features.exclude)
    numeric, categorical, said = usable_features_said(
        table,
        [c for c in numeric if c not in drop],
        [c for c in categorical if c not in drop],
        max_categories=cfg.features.max_categories,
        include=cfg.features.include,
    )
    window = min(cfg.features.windows, key=lambda w: (abs(w - REFERENCE_WINDOW), w))
    counts = [count_column(t, window) for t in event_types]
    reference = [c for c in dict.fromkeys(counts) if c in numeric]
    left_out = {col: str(m["text"]) for col, m in said.items()}
    return FeatureChoice(numeric, categorical, left_out, reference, said)


#: Fewest churned (and retained) labelled observations to train and check a model on.
MIN_CLASS_ROWS = 10


def untrainable(table: pd.DataFrame) -> str | None:
    """Why no model can learn from the labelled observations (None when one can)."""
    reason = untrainable_reason(table)
    return None if reason is None else str(reason["text"])


def untrainable_reason(table: pd.DataFrame) -> dict[str, Any] | None:
    """:func:`untrainable` as a message of the catalogues (``churnlab.messages``)."""
    from churnlab.modeling.sentences import untrainable_reason as reason

    labels = table["label"].astype(int) if len(table) else pd.Series(dtype=int)
    churned, retained = int(labels.sum()), int((1 - labels).sum())
    return reason(len(table), churned, retained, MIN_CLASS_ROWS)


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
    from churnlab.run.memory import fold_workers

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
        workers=fold_workers(cfg),
        final=champion_fit_settings(cfg, table),
    )


def champion_fit_settings(cfg: Params, table: pd.DataFrame) -> dict[str, Any]:
    """How the champion is fitted on all labelled rows (:func:`fit_champion`): the seed,
    calibration, label window and split of :func:`~churnlab.modeling.fit_churn_model`.

    The comparison fits every candidate so beside its backtest, in the same pool of
    threads; :func:`fit_champion` then takes the champion's model from there.
    """
    # A snapshot's label has no horizon of its own: its probability maps to health as is.
    snapshot = "checkpoint" in table and (table["checkpoint"] == "snapshot").all()
    return {
        "seed": cfg.model.seed,
        "calibration": cfg.model.calibration,
        "lead_days": cfg.observation.lead_days,
        "horizon_days": 365 if snapshot else cfg.observation.horizon_days,
        "split": "accounts" if cfg.model.backtest == "accounts" else "auto",
    }


def backtest(
    cfg: Params, table: pd.DataFrame, features: FeatureChoice
) -> tuple[ModelComparison | None, dict[str, Any] | str | None]:
    """The model comparison, or None and the reason when no model can learn from the data.

    The reason is a message of the catalogues (``churnlab.messages``), or the model's
    error in words.

    No model can learn when the labelled observations hold a single class, or when no
    backtest fold has both classes in its training rows. A suspected label leak is not a
    reason to go on: it raises.
    """
    from churnlab.errors import ModelError

    reason = untrainable_reason(table)
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
    model kind (``"logistic"``, ``"lightgbm"``) given every usable feature. A candidate of
    :func:`compare_models` was already fitted so on ``table`` beside its backtest: that
    model is returned (the same fit, made earlier).
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
    from churnlab.modeling.backtest import final_fit_kwargs

    kwargs = final_fit_kwargs(champion, champion_fit_settings(cfg, table))
    ready = champion.fitted(table, kwargs)  # fitted beside the backtest, on this table
    return ready if ready is not None else fit_churn_model(table, **kwargs)


def held_out(ctx: StageContext, comparison: ModelComparison) -> pd.DataFrame:
    """The champion's backtest predictions (rows it never trained on), saved to the run.

    ``backtest_predictions.parquet``: ``account_id``, ``as_of``, ``fold``, ``label``,
    ``churn_probability``; the trust figures and the calibration chart are made from it.
    """
    predictions = comparison.backtests[comparison.champion].predictions
    columns = ["account_id", "as_of", "fold", "label", "churn_probability"]
    table = predictions[[c for c in columns if c in predictions]].reset_index(drop=True)
    table = table.assign(label=table["label"].astype("int8"))
    table.to_parquet(ctx.folder.backtest_predictions, index=False)
    return table


def calibration_on_holdout(predictions: pd.DataFrame) -> pd.DataFrame:
    """Calibration of held-out predictions on equal-count bins, with a Wilson interval each.

    See :func:`churnlab.modeling.metrics.quantile_calibration` (ten bins, fewer when there
    are fewer than 400 rows).
    """
    from churnlab.modeling.metrics import quantile_calibration

    return quantile_calibration(predictions["label"].astype(int), predictions["churn_probability"])


def trust(comparison: ModelComparison, horizon_days: int | None) -> dict[str, Any]:
    """The trust figures of the champion's backtest (``model_metrics.json`` key ``trust``).

    See :func:`churnlab.modeling.trust.trust_figures`: the churn rate among the riskiest
    10% beside the average, and the calibration of the riskiest bin.
    """
    from churnlab.modeling.trust import trust_figures

    result = comparison.backtests[comparison.champion]
    return trust_figures(
        result.predictions,
        horizon_days=horizon_days,
        scheme=result.scheme,
        snapshot=result.scheme == "stratified_kfold",
    )


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
    from churnlab.modeling import sentences

    scheme = str(best.get("scheme", ""))
    summary = sentences.summary(
        champion, float(best["roc_auc"]), float(best["lift_10"]), float(best["ece"]), scheme
    )
    notes = [*(features.note_messages() if features else [])]
    for name, result in comparison.backtests.items():
        reasons = result.skipped_messages or result.skipped
        notes += [sentences.backtest_skipped(name, why) for why in reasons]
    reference = _reference_note(comparison)
    notes += reference
    metrics = {
        "status": "trained",
        "champion": champion,
        "champion_metric": comparison.metric,
        "summary": summary["text"],
        "summary_message": summary,
        "scheme": scheme,
        "scheme_description": sentences.scheme_description(scheme)["text"],
        "scheme_description_message": sentences.scheme_description(scheme),
        "comparison": rows,
        "training": {k: _plain(v) for k, v in getattr(model, "training", {}).items()},
        "horizon_days": getattr(model, "training", {}).get("horizon_days"),
        "trust": trust(comparison, getattr(model, "training", {}).get("horizon_days")),
        "excluded_features": dict(features.left_out) if features else {},
        "notes": [m["text"] for m in notes],
        "notes_messages": notes,
        "reference_note": reference[0]["text"] if reference else None,
        "reference_note_message": reference[0] if reference else None,
        "warning": None,
    }
    curve = sentences.learning_curve(getattr(model, "training", {}))
    metrics["learning_curve"] = curve["text"] if curve else None
    metrics["learning_curve_message"] = curve
    floor = cfg.model.min_useful_auc if cfg is not None else 0.55
    auc = float(best["roc_auc"])
    if not auc >= floor:  # NaN too: a backtest without both classes proves nothing
        metrics["warning_message"] = sentences.warning(auc, floor)
        metrics["warning"] = metrics["warning_message"]["text"]
    return metrics


def _reference_note(comparison: ModelComparison) -> list[dict[str, Any]]:
    table, metric = comparison.table, comparison.metric
    if REFERENCE not in table.index:
        return []
    others = table.drop(index=REFERENCE)[metric]
    best_other = others.idxmin() if metric in ("brier", "log_loss", "ece") else others.idxmax()
    ref, other = table.loc[REFERENCE, metric], others.loc[best_other]
    from churnlab.modeling.sentences import reference_note

    note = reference_note(
        metric,
        float(ref),
        str(best_other),
        float(other),
        reference_wins=comparison.champion == REFERENCE,
    )
    return [note]


def skipped_metrics(
    reason: dict[str, Any] | str, features: FeatureChoice | None = None
) -> dict[str, Any]:
    """The ``model_metrics.json`` payload when no model can be trained.

    ``reason``: a message of the catalogues (``churnlab.messages``) or a sentence.
    """
    from churnlab.messages import literal
    from churnlab.modeling.sentences import skipped_note, skipped_summary

    why = literal(reason) if isinstance(reason, str) else reason
    notes = [skipped_note(why), *(features.note_messages() if features else [])]
    return {
        "status": "skipped",
        "reason": why["text"],
        "reason_message": why,
        "summary": skipped_summary(why)["text"],
        "summary_message": skipped_summary(why),
        "notes": [m["text"] for m in notes],
        "notes_messages": notes,
        "warning": None,
    }


def stop_if_untrained(
    ctx: StageContext, reason: dict[str, Any] | str | None, features: FeatureChoice | None = None
) -> None:
    """Without a model: write why in ``model_metrics.json`` and end the stage, as skipped.

    Raises
    ------
    StageSkipped
        When ``reason`` is not None (the runner records the stage as skipped).
    """
    from churnlab.errors import StageSkipped
    from churnlab.messages import message

    if reason is None:
        return
    metrics = skipped_metrics(reason, features)
    write(ctx, None, metrics, None)
    said = message("messages.stages.no_model", reason=metrics["reason_message"])
    raise StageSkipped(said["text"], said)


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
    words = chart_words(cfg)
    calibration = calibration_on_holdout(held_out(ctx, comparison))
    save_chart(plot_calibration(calibration, words=words), ctx.folder.chart("calibration"))
    scores = score(cfg, model, scoring, names)
    save_chart(plot_health_distribution(scores, words=words), ctx.folder.chart("health_by_tier"))
    write(ctx, model, model_metrics(comparison, model, cfg, features), scores)
