"""Stage 01, churned vs retained: the ranked comparison, the CS lenses, survival by tier.

Notebook ``01_cohort_comparison`` calls these functions cell by cell; :func:`run` calls
them in the same order without a kernel. Reads ``observations.parquet`` (and
``periods.parquet``, ``scoring.parquet`` for the survival curves); writes
``cohort_comparison.csv`` and the ``cohort_effects`` chart.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from churnlab.config import Params
from churnlab.csvsafe import write_csv
from churnlab.run.steps.context import StageContext, chart_words, save_chart

#: What the stage imports, for a kernel started ahead to import while the stage before runs.
WARM_UP = ("churnlab.cohorts", "churnlab.plots.cohorts")

__all__ = [
    "compare_cohorts",
    "read_observations",
    "run",
    "select_cohorts",
    "survival_table",
    "top_metric_bins",
    "top_numeric_feature",
    "write",
]


def read_observations(ctx: StageContext) -> pd.DataFrame:
    """The labelled observations written by stage 00."""
    return pd.read_parquet(ctx.folder.observations)


def select_cohorts(cfg: Params, observations: pd.DataFrame, as_of: str) -> pd.DataFrame:
    """Churned vs retained accounts at their renewal milestone in the look-back window."""
    from churnlab.cohorts import select_cohorts as _select

    return _select(observations, end=as_of, lookback_days=cfg.cohorts.lookback_days)


def compare_cohorts(cfg: Params, cohort: pd.DataFrame) -> Any:
    """The ranked churned-vs-retained comparison with the params' alpha and group size.

    The features are those the models get (:func:`churnlab.observations.usable_features`):
    ids, empty, constant and overly wide text columns are left out, and the comparison's
    notes say which.
    """
    from churnlab.cohorts import compare_cohorts as _compare
    from churnlab.observations import feature_columns, usable_features

    numeric, categorical = feature_columns(cohort)
    drop = {*cfg.features.exclude, "cohort"}
    numeric, categorical, left_out = usable_features(
        cohort,
        [c for c in numeric if c not in drop],
        [c for c in categorical if c not in drop],
        max_categories=cfg.features.max_categories,
        include=cfg.features.include,
    )
    comparison = _compare(
        cohort,
        numeric=numeric,
        categorical=categorical,
        alpha=cfg.cohorts.alpha,
        min_group=cfg.cohorts.min_group,
        seed=cfg.model.seed,
    )
    if not left_out:
        return comparison
    listing = "; ".join(f"{col} ({why})" for col, why in left_out.items())
    return dataclasses.replace(comparison, notes=(*comparison.notes, f"Not compared: {listing}."))


def top_numeric_feature(comparison: Any) -> str | None:
    """The highest-ranked numeric feature of a comparison (None when none was compared)."""
    summary = comparison.summary
    numeric = summary[summary["kind"] == "numeric"] if "kind" in summary else summary
    return str(numeric.iloc[0]["feature"]) if len(numeric) else None


def top_metric_bins(cfg: Params, cohort: pd.DataFrame, comparison: Any) -> pd.DataFrame:
    """Churn rate by decile of the strongest numeric feature, with Wilson intervals.

    An empty table (with ``attrs["note"]``) when no numeric feature was compared.
    """
    from churnlab.cohorts import churn_by_bins

    metric = top_numeric_feature(comparison)
    if metric is None:
        empty = churn_by_bins(cohort.iloc[:0], "label", bins=cfg.cohorts.bins)
        empty.attrs["note"] = "nothing to bin: no numeric feature was compared"
        return empty
    return churn_by_bins(cohort, metric, bins=cfg.cohorts.bins)


def survival_table(ctx: StageContext) -> pd.DataFrame | None:
    """Durations and churn events per group for Kaplan-Meier (None without any duration).

    Event-log data: months from the start of each active period, by touch tier (from
    the account's latest observation). Snapshot data: tenure, by ``cohorts.segment``.
    """
    from churnlab.cohorts import survival_frame

    folder, cfg = ctx.folder, ctx.cfg
    training = pd.read_parquet(folder.observations)
    if folder.periods.exists():
        periods = pd.read_parquet(folder.periods)
        scoring = pd.read_parquet(folder.scoring)
        tiers = (
            pd.concat([training, scoring])
            .sort_values("as_of")
            .drop_duplicates("account_id", keep="last")[["account_id", "touch_tier"]]
        )
        frame = survival_frame(periods, tiers, pd.Timestamp(cfg.data_end()), by="touch_tier")
        return frame.rename(columns={"duration_months": "duration"})
    segment = cfg.cohorts.segment if cfg.cohorts.segment in training else "touch_tier"
    if "tenure_days" not in training:
        return None
    return pd.DataFrame(
        {
            "duration": training["tenure_days"] / 30.44,
            "churned": training["label"].astype(bool),
            "group": training[segment].astype(str),
        }
    )


def write(ctx: StageContext, comparison: Any) -> list[str]:
    """Write the ranked comparison; returns the names of the files written."""
    return [write_csv(comparison.summary, ctx.folder.cohort_comparison).name]


def run(ctx: StageContext) -> None:
    """The whole stage, as notebook ``01_cohort_comparison`` runs it."""
    from churnlab.cohorts import cs_lenses, kaplan_meier, logrank
    from churnlab.plots.cohorts import plot_effect_sizes

    cfg = ctx.cfg
    cohort = select_cohorts(cfg, read_observations(ctx), ctx.as_of)
    comparison = compare_cohorts(cfg, cohort)
    fig = plot_effect_sizes(comparison, top=10, words=chart_words(cfg))
    save_chart(fig, ctx.folder.chart("cohort_effects"))
    top_metric_bins(cfg, cohort, comparison)
    cs_lenses(cohort)
    survival = survival_table(ctx)
    if survival is not None:
        kaplan_meier(survival["duration"], survival["churned"], survival["group"])
        logrank(survival["duration"], survival["churned"], survival["group"])
    write(ctx, comparison)
