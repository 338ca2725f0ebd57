"""Stage 05, monitoring: has the population drifted, and did earlier predictions hold up?

Notebook ``05_monitoring`` calls these functions cell by cell; :func:`run` calls them in
the same order without a kernel. Reads this run's ``observations.parquet``,
``scoring.parquet``, ``scores_raw.parquet``, ``periods.parquet``, ``data_health.json``
and ``model/``, and the scores of earlier runs of the same data set; writes
``drift.csv``, ``track_record.csv`` and ``monitoring.json``.

* **Drift**: the population stability index (PSI,
  :func:`churnlab.modeling.drift.drift_table`) of every model feature and of the score,
  between the training rows and this run's accounts, and between the previous run's
  accounts and this run's. A PSI at or above ``monitoring.drift_warn_psi`` warns that the
  model may need retraining.
* **Track record**: every earlier run whose label window has closed (its as_of + lead +
  horizon + grace on or before this run's data end) is measured against what happened
  (:func:`churnlab.modeling.track_record.measure_run`): of the accounts it flagged (red,
  or in its early-warning list), how many churned, renewed or are still open; churn by
  score decile; ARR lost against ARR predicted at risk.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import pandas as pd

from churnlab import csvsafe
from churnlab.atomic import write_json
from churnlab.config import Params
from churnlab.csvsafe import write_csv
from churnlab.run.folder import RunFolder
from churnlab.run.steps.context import StageContext, adapted_params, load_run_params

#: What the stage imports, for a kernel started ahead to import while the stage before runs.
WARM_UP = ("churnlab.modeling", "churnlab.modeling.track_record", "churnlab.plots.model")

__all__ = [
    "champion_change",
    "champion_change_message",
    "drift",
    "earlier_records",
    "read_inputs",
    "run",
    "summary",
    "track_record",
    "write",
]

#: The score's row in ``drift.csv``.
SCORE = "churn_probability"


def read_inputs(ctx: StageContext) -> dict[str, Any]:
    """This run's training rows, scoring rows, scores and model (None when 02 skipped)."""
    from churnlab.modeling import load_model

    folder = ctx.folder
    if not folder.scores_raw.exists():  # no model this run: nothing to monitor
        return {}
    return {
        "observations": pd.read_parquet(folder.observations),
        "scoring": pd.read_parquet(folder.scoring),
        "scores": pd.read_parquet(folder.scores_raw),
        "model": load_model(folder.model),
    }


def drift(cfg: Params, inputs: dict[str, Any], previous: RunFolder | None) -> pd.DataFrame:
    """PSI of every model feature and of the score: vs the training rows, vs the previous run.

    Returns ``drift.csv``: ``comparison`` (``training`` or ``previous run``) and the columns
    of :func:`~churnlab.modeling.drift.drift_table`, most shifted first within each.
    """
    from churnlab.modeling.drift import drift_table

    if not inputs:
        return pd.DataFrame(columns=["comparison", "feature", "psi", "level"])
    model, scoring = inputs["model"], inputs["scoring"]
    features = [*model.numeric_features, *model.categorical_features]
    training = inputs["observations"].copy()
    training[SCORE] = model.predict_proba(training)
    current = scoring[features].copy()
    current[SCORE] = inputs["scores"][SCORE].to_numpy()
    columns = [SCORE, *features]
    bins = cfg.monitoring.drift_bins
    tables = [drift_table(training, current, columns, bins=bins).assign(comparison="training")]
    earlier = _previous_rows(previous, features)
    if earlier is not None:
        table = drift_table(earlier, current, columns, bins=bins)
        tables.append(table.assign(comparison="previous run"))
    out = pd.concat(tables, ignore_index=True)
    return out[["comparison", *[c for c in out.columns if c != "comparison"]]]


def _previous_rows(previous: RunFolder | None, features: list[str]) -> pd.DataFrame | None:
    """The previous run's scoring rows with its scores; None when missing or damaged."""
    if previous is None:
        return None
    try:
        rows = pd.read_parquet(previous.scoring)
        scores = pd.read_parquet(previous.scores_raw, columns=["account_id", SCORE])
    except (OSError, ValueError) as exc:
        warnings.warn(f"the previous run {previous.name} is skipped for drift: {exc}", stacklevel=2)
        return None
    rows = rows.assign(account_id=rows["account_id"].astype(str))
    scores = scores.assign(account_id=scores["account_id"].astype(str))
    return rows.merge(scores, on="account_id", how="left")


def earlier_records(ctx: StageContext) -> list[tuple[RunFolder, Params]]:
    """The earlier runs of this data set whose label window has closed, with their params."""
    from churnlab.modeling.track_record import window_closed

    data_end = ctx.cfg.data_end()
    closed = []
    for run in ctx.earlier:
        try:
            params = adapted_params(load_run_params(run.params, ctx.params.root), run)
            metrics = json.loads(run.model_metrics.read_text(encoding="utf-8"))
        except Exception as exc:  # a damaged earlier run is skipped, never blocks this one
            warnings.warn(f"the earlier run {run.name} is skipped: {exc}", stacklevel=2)
            continue
        horizon = metrics.get("horizon_days")
        as_of = run.read_manifest().get("as_of")
        if not horizon or not as_of or not run.scores.exists():
            continue  # that run scored nothing
        obs = params.observation
        if window_closed(
            as_of,
            lead_days=obs.lead_days,
            horizon_days=int(horizon),
            grace_days=obs.grace_days,
            data_end=data_end,
        ):
            closed.append((run, params))
    return closed


def track_record(ctx: StageContext) -> list[Any]:
    """Each closed earlier run measured against this run's data (TrackRecord objects)."""
    from churnlab.modeling.track_record import measure_run

    if not ctx.folder.periods.exists():  # a snapshot has no history to look back on
        return []
    periods = pd.read_parquet(ctx.folder.periods)
    records = []
    for run, params in earlier_records(ctx):
        try:
            scores, flagged = _scores_and_flags(run)
        except Exception as exc:  # a damaged earlier run is skipped, never blocks this one
            warnings.warn(f"the earlier run {run.name} is skipped: {exc}", stacklevel=2)
            continue
        metrics = json.loads(run.model_metrics.read_text(encoding="utf-8"))
        records.append(
            measure_run(
                scores,
                flagged,
                periods,
                run_id=run.name,
                as_of=scores["as_of"].iloc[0] if len(scores) else run.read_manifest()["as_of"],
                lead_days=params.observation.lead_days,
                horizon_days=int(metrics["horizon_days"]),
                data_end=ctx.cfg.data_end(),
            )
        )
    return records


def _scores_and_flags(run: RunFolder) -> tuple[pd.DataFrame, set[str]]:
    """An earlier run's scores and the accounts it flagged (red, or in its early warning)."""
    scores = csvsafe.read_csv(
        run.scores, dtype={"account_id": str}, parse_dates=["as_of", "renewal_date"]
    )
    flagged = set(scores.loc[scores["health_band"] == "red", "account_id"])
    if run.early_warning.exists():
        warned = csvsafe.read_csv(run.early_warning, dtype={"account_id": str})
        flagged |= set(warned["account_id"])
    return scores, flagged


def summary(
    cfg: Params,
    drift_rows: pd.DataFrame,
    records: list[Any],
    champion_change: dict[str, Any] | str | None = None,
) -> dict[str, Any]:
    """``monitoring.json``: the drift warning, the largest shifts, the track-record sentences.

    Each sentence is stored in English and, beside it (``<name>_message``,
    ``track_record_messages``), as a message the report says in its language.
    """
    from churnlab.messages import literal
    from churnlab.modeling.sentences import drift_warning
    from churnlab.modeling.track_record import sentence_message

    limit = cfg.monitoring.drift_warn_psi
    warning = None
    top: list[dict[str, Any]] = []
    if len(drift_rows):
        vs_training = drift_rows[drift_rows["comparison"] == "training"]
        ignored = set(cfg.monitoring.drift_ignore)
        shifted = vs_training[(vs_training["psi"] >= limit) & ~vs_training["feature"].isin(ignored)]
        if len(shifted):
            warning = drift_warning(limit, [str(f) for f in shifted["feature"].head(5)])
        top = drift_rows.sort_values("psi", ascending=False, na_position="last").head(8)
        top = [
            {k: (None if pd.isna(v) else v) for k, v in row.items()}
            for row in top[["comparison", "feature", "psi", "level"]].to_dict("records")
        ]
    if isinstance(champion_change, str):  # a sentence of the caller's
        champion_change = literal(champion_change)
    sentences = [sentence_message(r) for r in records]
    return {
        "drift_warning": warning["text"] if warning else None,
        "drift_warning_message": warning,
        "champion_change": champion_change["text"] if champion_change else None,
        "champion_change_message": champion_change,
        "drift_top": top,
        "track_record": [m["text"] for m in sentences],
        "track_record_messages": sentences,
        "measured_runs": [r.run_id for r in records],
    }


def champion_change(ctx: StageContext) -> str | None:
    """A note when the champion model differs from the previous run's (scores jump then)."""
    note = champion_change_message(ctx)
    return None if note is None else str(note["text"])


def champion_change_message(ctx: StageContext) -> dict[str, Any] | None:
    """:func:`champion_change` as a message of the catalogues (``churnlab.messages``)."""
    if ctx.previous is None or not ctx.folder.model_metrics.exists():
        return None
    try:
        before = json.loads(ctx.previous.model_metrics.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    now = json.loads(ctx.folder.model_metrics.read_text(encoding="utf-8"))
    old, new = before.get("champion"), now.get("champion")
    if not old or not new or old == new:
        return None
    from churnlab.modeling.sentences import champion_change as change

    return change(str(old), str(new))


def write(
    ctx: StageContext, drift_rows: pd.DataFrame, records: list[Any], info: dict[str, Any]
) -> None:
    """Write ``drift.csv``, ``track_record.csv`` and ``monitoring.json``."""
    from churnlab.modeling.track_record import track_record_table

    write_csv(drift_rows, ctx.folder.drift)
    write_csv(track_record_table(records), ctx.folder.track_record)
    write_json(ctx.folder.monitoring, info)


def run(ctx: StageContext) -> None:
    """The whole stage, as notebook ``05_monitoring`` runs it."""
    cfg = ctx.cfg
    inputs = read_inputs(ctx)
    drift_rows = drift(cfg, inputs, ctx.previous)
    records = track_record(ctx)
    info = summary(cfg, drift_rows, records, champion_change_message(ctx))
    write(ctx, drift_rows, records, info)
