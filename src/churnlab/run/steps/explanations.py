"""Stage 04, explanations: SHAP values, global drivers, reasons, renewal map, early warning.

Notebook ``04_explanations`` calls these functions cell by cell; :func:`run` calls them in
the same order without a kernel. Reads ``model/``, ``scoring.parquet``,
``scores_raw.parquet``, ``observations.parquet`` and stage 03's ``time_to_churn.parquet``
(its survival and lever columns join ``scores.csv``; and the previous run's
``scores.csv``); writes ``scores.csv``, ``renewal_map.csv`` (contract renewals in the
window), ``monthly_at_risk.csv`` (the monthly book), their top ``report.top_accounts``
rows for the email (``renewal_map_top.csv``, ``monthly_at_risk_top.csv``),
``early_warning.csv``, ``drivers.csv`` and the ``drivers`` chart. Reasons and next steps
are in ``report.language``; the column names never change.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from churnlab import csvsafe
from churnlab.config import Params
from churnlab.csvsafe import write_csv
from churnlab.run.folder import RunFolder
from churnlab.run.steps.context import StageContext, chart_words, save_chart

#: What the stage imports, for a kernel started ahead to import while the stage before runs.
WARM_UP = ("churnlab.explain", "churnlab.modeling", "churnlab.plots.explain", "shap")

__all__ = [
    "ACCOUNT_COLUMNS",
    "SCORE_COLUMNS",
    "account_reasons",
    "attach_reasons",
    "attach_time_to_churn",
    "explain",
    "monthly_book",
    "read_inputs",
    "renewals_and_warnings",
    "run",
    "segment_columns",
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
    "next_step",
    "biggest_lever",
    "lever_risk_drop",
    "lever_arr_protected",
    "survival_12m",
    "p_churn_before_renewal",
    "expected_lifetime_months",
    "csm_owner",
    "billing_period_months",
]
#: Columns of the renewal map and the monthly book (and their top rows for the email).
ACCOUNT_COLUMNS = SCORE_COLUMNS


def read_inputs(ctx: StageContext) -> tuple[Any, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(model, scoring, scores, observations)`` as stages 00 and 02 wrote them.

    Raises
    ------
    StageSkipped
        When stage 02 trained no model (its reason is in ``model_metrics.json``).
    """
    from churnlab.modeling import load_model
    from churnlab.run.steps.context import stop_without_model

    folder = ctx.folder
    stop_without_model(folder, "messages.stages.nothing_to_explain")
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
    from the latest three as-of dates of the training observations; the same rows tell
    which features measure one thing (one reason). In ``report.language``.
    """
    from churnlab.explain import feature_topics, reason_context, top_reasons

    recent_dates = sorted(observations["as_of"].unique())[-3:]
    reference = observations[observations["as_of"].isin(recent_dates)]
    context = reason_context(reference, by="touch_tier", features=list(shap.features))
    topics = feature_topics(list(shap.features), reference)
    return top_reasons(
        shap, scoring, k=cfg.explain.top_k, context=context, topics=topics, words=chart_words(cfg)
    )


def attach_time_to_churn(scores: pd.DataFrame, folder: RunFolder) -> pd.DataFrame:
    """Scores with stage 03's per-account columns (empty when it wrote none).

    ``survival_12m``, ``p_churn_before_renewal``, ``expected_lifetime_months``,
    ``biggest_lever``, ``lever_risk_drop`` and ``lever_arr_protected`` of
    ``time_to_churn.parquet``.
    """
    from churnlab.run.steps.time_to_churn import TIME_TO_CHURN_COLUMNS

    extra = (
        pd.read_parquet(folder.time_to_churn)
        if folder.time_to_churn.exists()
        else pd.DataFrame(columns=["account_id"])
    )
    extra = extra.assign(account_id=extra["account_id"].astype(str)).drop_duplicates(
        "account_id", keep="last"
    )
    keep = ["account_id", *[c for c in TIME_TO_CHURN_COLUMNS if c in extra]]
    merged = scores.drop(columns=TIME_TO_CHURN_COLUMNS, errors="ignore").merge(
        extra[keep], on="account_id", how="left"
    )
    for column in TIME_TO_CHURN_COLUMNS:
        if column not in merged:
            merged[column] = None if column == "biggest_lever" else np.nan
    return merged


def segment_columns(cfg: Params, columns: Any) -> list[str]:
    """The account columns the report breaks risk down by, those of ``columns``.

    ``report.segments``, else the CSM owner and ``cohorts.segment``.
    """
    wanted = cfg.report.segments
    if wanted is None:
        wanted = ["csm_owner", cfg.cohorts.segment]
    return [c for c in dict.fromkeys(wanted) if c in set(columns)]


def attach_reasons(
    cfg: Params, scores: pd.DataFrame, reasons: pd.DataFrame, scoring: pd.DataFrame
) -> pd.DataFrame:
    """Scores with each account's ``reasons`` (one line), ``next_step`` and ``csm_owner``.

    ``reasons``: the ``explain.top_k`` strongest, each starting with its direction;
    ``next_step``: the playbook's step for the family of the strongest risk-raising reason
    that has one (empty without); ``csm_owner`` from the accounts data (empty when it has
    none); ``billing_period_months`` (empty when unknown); and the segment columns of the
    report (:func:`segment_columns`) that the scoring table has.
    """
    from churnlab.explain import next_steps, reasons_summary

    words = chart_words(cfg)
    summary = reasons_summary(reasons, k=cfg.explain.top_k, sep=words.text("reasons.separator"))
    steps = next_steps(reasons, cfg.playbook, words)
    ids = scoring["account_id"].astype(str)
    extra = pd.DataFrame(
        {
            "account_id": ids.to_numpy(),
            "reasons": summary.reindex(scoring.index).fillna("").to_numpy(dtype=object),
            "next_step": steps["next_step"].reindex(scoring.index).fillna("").to_numpy(),
        }
    )
    owner = scoring["csm_owner"] if "csm_owner" in scoring.columns else None
    extra["csm_owner"] = (
        owner.astype(object).where(owner.notna(), "").to_numpy() if owner is not None else ""
    )
    extra["billing_period_months"] = (
        pd.to_numeric(scoring["billing_period_months"], errors="coerce").astype("Int64").array
        if "billing_period_months" in scoring.columns
        else pd.array([pd.NA] * len(scoring), dtype="Int64")
    )
    own = set(extra.columns) | set(scores.columns)
    for column in segment_columns(cfg, scoring.columns):
        if column not in own:
            extra[column] = scoring[column].to_numpy()
    extra = extra.drop_duplicates("account_id", keep="last")
    merged = scores.drop(
        columns=[c for c in extra.columns if c != "account_id"], errors="ignore"
    ).merge(extra.assign(account_id=extra["account_id"].astype(str)), on="account_id", how="left")
    for column in ("reasons", "next_step", "csm_owner"):
        merged[column] = merged[column].fillna("")
    return merged


def renewals_and_warnings(
    cfg: Params, scores: pd.DataFrame, as_of: str, previous: RunFolder | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The renewal map and the early-warning list against the previous run.

    The renewal map holds the contract renewals (billing period of two months or more,
    :data:`~churnlab.modeling.scoring.CONTRACT_MONTHS`) in the next
    ``health.renewal_window_days``; the monthly book is :func:`monthly_book`.
    """
    from churnlab.modeling.scoring import CONTRACT_MONTHS, early_warning, renewal_map

    renewals = renewal_map(
        scores,
        as_of=as_of,
        days=cfg.health.renewal_window_days,
        min_billing_months=CONTRACT_MONTHS,
    )
    earlier = None
    if previous is not None:
        try:
            earlier = csvsafe.read_csv(previous.scores, dtype={"account_id": str})
            earlier = earlier[["account_id", "health_score", "health_band"]]
        except (OSError, ValueError, KeyError, pd.errors.ParserError) as exc:
            # a damaged earlier run is skipped, with a warning, rather than blocking this one
            warnings.warn(
                f"the previous run's {previous.scores} cannot be read ({exc}); no early "
                "warnings this run",
                stacklevel=2,
            )
            earlier = None
    flagged = early_warning(
        scores, earlier, drop_points=int(cfg.health.early_warning_drop), words=chart_words(cfg)
    )
    extra = scores[
        [c for c in ("account_id", "name", "touch_tier", "reasons", "next_step", "csm_owner")
         if c in scores]
    ]  # fmt: skip
    flagged = flagged.rename(columns={"reason": "warning"}).merge(
        extra, on="account_id", how="left"
    )
    return renewals[[c for c in ACCOUNT_COLUMNS if c in renewals]], flagged


def monthly_book(scores: pd.DataFrame) -> pd.DataFrame:
    """The monthly accounts at risk: every account without a contract, most at risk first.

    (:func:`~churnlab.modeling.scoring.monthly_at_risk`; the renewal map holds the rest
    that renew in the window.)
    """
    from churnlab.modeling.scoring import monthly_at_risk

    book = monthly_at_risk(scores)
    return book[[c for c in ACCOUNT_COLUMNS if c in book]]


def write(
    ctx: StageContext,
    scores: pd.DataFrame,
    renewals: pd.DataFrame,
    warnings: pd.DataFrame,
    drivers: pd.DataFrame,
    monthly: pd.DataFrame | None = None,
) -> list[str]:
    """Write the CSV exports for CSMs (Excel-safe) and the global drivers.

    The renewal map and the monthly book are written whole and as their top
    ``report.top_accounts`` rows (the small files the email attaches).
    """
    folder = ctx.folder
    ordered = scores[
        [c for c in SCORE_COLUMNS if c in scores] + [c for c in scores if c not in SCORE_COLUMNS]
    ]
    if monthly is None:
        monthly = monthly_book(scores)
    top = ctx.cfg.report.top_accounts
    written = [
        write_csv(ordered, folder.scores),
        write_csv(renewals, folder.renewal_map),
        write_csv(renewals.head(top), folder.renewal_map_top),
        write_csv(monthly, folder.monthly_at_risk),
        write_csv(monthly.head(top), folder.monthly_at_risk_top),
        write_csv(warnings, folder.early_warning),
        write_csv(drivers, folder.drivers),
    ]
    return sorted(p.name for p in written)


def run(ctx: StageContext) -> None:
    """The whole stage, as notebook ``04_explanations`` runs it."""
    from churnlab.explain import global_importance
    from churnlab.plots.explain import plot_importance_bar

    cfg = ctx.cfg
    model, scoring, scores, observations = read_inputs(ctx)
    shap = explain(cfg, model, scoring, observations)
    drivers = global_importance(shap)
    fig = plot_importance_bar(shap, top=10, words=chart_words(cfg))
    save_chart(fig, ctx.folder.chart("drivers"))
    reasons = account_reasons(cfg, shap, scoring, observations)
    scores = attach_reasons(cfg, scores, reasons, scoring)
    scores = attach_time_to_churn(scores, ctx.folder)
    renewals, warnings = renewals_and_warnings(cfg, scores, ctx.as_of, ctx.previous)
    write(ctx, scores, renewals, warnings, drivers, monthly_book(scores))
