"""Stage 03, explanations: SHAP values, global drivers, reasons, renewal map, early warning.

Notebook ``03_explanations`` calls these functions cell by cell; :func:`run` calls them in
the same order without a kernel. Reads ``model/``, ``scoring.parquet``,
``scores_raw.parquet`` and ``observations.parquet`` (and the previous run's
``scores.csv``); writes ``scores.csv``, ``renewal_map.csv``, ``early_warning.csv``,
``drivers.csv`` and the ``drivers`` chart.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import pandas as pd

from churnlab.config import Params
from churnlab.csvsafe import write_csv
from churnlab.run.folder import RunFolder
from churnlab.run.steps.context import StageContext, save_chart

__all__ = [
    "SCORE_COLUMNS",
    "account_reasons",
    "attach_reasons",
    "explain",
    "read_inputs",
    "renewals_and_warnings",
    "run",
    "write",
]

#: Leading columns of ``scores.csv`` (the rest follow in their own order).
SCORE_COLUMNS = [
    "account_id",
    "name",
    "as_of",
    "touch_tier",
    "arr",
    "churn_probability",
    "health_score",
    "health_band",
    "renewal_date",
    "days_to_renewal",
    "expected_arr_at_risk",
    "reasons",
]


def read_inputs(ctx: StageContext) -> tuple[Any, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(model, scoring, scores, observations)`` as stages 00 and 02 wrote them.

    Raises
    ------
    StageSkipped
        When stage 02 trained no model (its reason is in ``model_metrics.json``).
    """
    from churnlab.errors import StageSkipped
    from churnlab.modeling import load_model

    folder = ctx.folder
    if not folder.model.exists():
        reason = "stage 02 trained no model"
        if folder.model_metrics.exists():
            reason = json.loads(folder.model_metrics.read_text(encoding="utf-8")).get(
                "reason", reason
            )
        raise StageSkipped(f"nothing to explain: {reason}")
    return (
        load_model(folder.model),
        pd.read_parquet(folder.scoring),
        pd.read_parquet(folder.scores_raw),
        pd.read_parquet(folder.observations),
    )


def explain(cfg: Params, model: Any, scoring: pd.DataFrame, observations: pd.DataFrame) -> Any:
    """Exact SHAP values of every scored account (log-odds).

    The linear baseline is explained against a seeded sample of the training
    observations as background (interventional linear SHAP); TreeSHAP needs none.
    """
    from churnlab.explain import explain_model

    background = None
    if getattr(model, "kind", "") == "logistic":
        size = min(len(observations), 5000)
        background = observations.sample(n=size, random_state=cfg.model.seed)
    return explain_model(model, scoring, background=background)


def account_reasons(
    cfg: Params, shap: Any, scoring: pd.DataFrame, observations: pd.DataFrame
) -> pd.DataFrame:
    """Top risk-raising and risk-lowering reasons per account, with retained-peer context.

    The context is the median of retained accounts (label 0) in the same touch tier, taken
    from the latest three as-of dates of the training observations.
    """
    from churnlab.explain import reason_context, top_reasons

    recent_dates = sorted(observations["as_of"].unique())[-3:]
    reference = observations[observations["as_of"].isin(recent_dates)]
    context = reason_context(reference, by="touch_tier")
    return top_reasons(shap, scoring, k=cfg.explain.top_k, context=context)


def attach_reasons(
    cfg: Params, scores: pd.DataFrame, reasons: pd.DataFrame, scoring: pd.DataFrame
) -> pd.DataFrame:
    """Scores with a one-line ``reasons`` column: each account's top risk-raising drivers."""
    from churnlab.explain import reasons_summary

    summary = reasons_summary(reasons, k=cfg.explain.top_k)
    frame = pd.DataFrame(
        {
            "account_id": scoring.loc[summary.index, "account_id"].astype(str).to_numpy(),
            "reasons": summary.to_numpy(),
        }
    )
    merged = scores.drop(columns=["reasons"], errors="ignore").merge(
        frame, on="account_id", how="left"
    )
    merged["reasons"] = merged["reasons"].fillna("")
    return merged


def renewals_and_warnings(
    cfg: Params, scores: pd.DataFrame, as_of: str, previous: RunFolder | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The renewal map (next N days) and the early-warning list against the previous run."""
    from churnlab.modeling import early_warning, renewal_map

    renewals = renewal_map(scores, as_of=as_of, days=cfg.health.renewal_window_days)
    earlier = None
    if previous is not None:
        try:
            earlier = pd.read_csv(previous.scores, dtype={"account_id": str})
            earlier = earlier[["account_id", "health_score", "health_band"]]
        except (OSError, ValueError, KeyError, pd.errors.ParserError) as exc:
            # a damaged earlier run is skipped, with a warning, rather than blocking this one
            warnings.warn(
                f"the previous run's {previous.scores} cannot be read ({exc}); no early "
                "warnings this run",
                stacklevel=2,
            )
            earlier = None
    flagged = early_warning(scores, earlier, drop_points=int(cfg.health.early_warning_drop))
    extra = scores[["account_id", "name", "touch_tier", "reasons"]]
    flagged = flagged.rename(columns={"reason": "warning"}).merge(
        extra, on="account_id", how="left"
    )
    return renewals[[c for c in SCORE_COLUMNS if c in renewals]], flagged


def write(
    ctx: StageContext,
    scores: pd.DataFrame,
    renewals: pd.DataFrame,
    warnings: pd.DataFrame,
    drivers: pd.DataFrame,
) -> list[str]:
    """Write the CSV exports for CSMs (Excel-safe) and the global drivers."""
    folder = ctx.folder
    ordered = scores[
        [c for c in SCORE_COLUMNS if c in scores] + [c for c in scores if c not in SCORE_COLUMNS]
    ]
    written = [
        write_csv(ordered, folder.scores),
        write_csv(renewals, folder.renewal_map),
        write_csv(warnings, folder.early_warning),
        write_csv(drivers, folder.drivers),
    ]
    return sorted(p.name for p in written)


def run(ctx: StageContext) -> None:
    """The whole stage, as notebook ``03_explanations`` runs it."""
    from churnlab.explain import global_importance
    from churnlab.plots.explain import plot_importance_bar

    cfg = ctx.cfg
    model, scoring, scores, observations = read_inputs(ctx)
    shap = explain(cfg, model, scoring, observations)
    drivers = global_importance(shap)
    save_chart(plot_importance_bar(shap, top=10), ctx.folder.chart("drivers"))
    reasons = account_reasons(cfg, shap, scoring, observations)
    scores = attach_reasons(cfg, scores, reasons, scoring)
    renewals, warnings = renewals_and_warnings(cfg, scores, ctx.as_of, ctx.previous)
    write(ctx, scores, renewals, warnings, drivers)
