"""The executive view's part of stage 00: what needs the subscriptions and the events.

Notebook ``00_data_health`` calls :func:`write` after the stage's own files; the report
stage reads the files (:func:`churnlab.report.executive.executive_view`). Writes
``cohort_retention.csv``, ``onboarding.csv`` and ``engagement.csv`` (event-log data only)
and the charts ``mrr_bridge`` and ``cohort_retention``, in the report's language.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from churnlab.config import Params
from churnlab.csvsafe import write_csv
from churnlab.run.steps.context import Inputs, StageContext, chart_words, save_chart

__all__ = ["charts", "tables", "write"]


def tables(
    cfg: Params, inputs: Inputs, periods: pd.DataFrame | None, as_of: str
) -> dict[str, pd.DataFrame]:
    """Cohort retention, onboarding and TTV by start cohort, and CSM touches per account.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``cohort_retention``, ``onboarding``, ``engagement`` (RunFolder attributes);
        empty for snapshot data, which has no history and no events.
    """
    from churnlab import executive

    if inputs.shape == "snapshot" or periods is None:
        return {}
    eng = cfg.engagement
    return {
        "cohort_retention": executive.cohort_table(
            inputs.subscriptions, periods, cfg.observation.grace_days, inputs.data_end
        ),
        "onboarding": executive.onboarding_table(
            periods, inputs.events, cfg.kpis.onboarding_days, inputs.data_end
        ),
        "engagement": executive.touch_table(inputs.events, eng.touch_types, as_of, eng.window_days),
    }


def charts(cfg: Params, kpis: pd.DataFrame, found: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """The MRR bridges (month, trailing 12 months) and the cohort heatmaps, by chart name.

    A chart without data (snapshot, a single month) is left out.
    """
    from churnlab import executive
    from churnlab.plots.executive import plot_cohort_retention, plot_mrr_bridges

    words = chart_words(cfg)
    out: dict[str, Any] = {}
    month, trailing = executive.mrr_bridge(kpis, 1), executive.mrr_bridge(kpis, 12)
    if month is not None and trailing is not None:
        panels = [
            (
                words.text(
                    "executive.bridge.panel_month", month=words.month(month.last_month.date())
                ),
                month.steps(),
            )
        ]
        if trailing.months > 1:
            title = words.text("executive.bridge.panel_trailing", months=trailing.months)
            panels.append((title, trailing.steps()))
        out["mrr_bridge"] = plot_mrr_bridges(panels, words)
    cohorts = found.get("cohort_retention")
    if cohorts is not None and not cohorts.empty:
        out["cohort_retention"] = plot_cohort_retention(cohorts, words)
    return out


def write(
    ctx: StageContext,
    cfg: Params,
    inputs: Inputs,
    periods: pd.DataFrame | None,
    kpis: pd.DataFrame,
) -> list[str]:
    """Compute and write the executive files and charts of stage 00; their names."""
    found = tables(cfg, inputs, periods, ctx.as_of)
    written = [write_csv(frame, getattr(ctx.folder, name)) for name, frame in found.items()]
    for name, fig in charts(cfg, kpis, found).items():
        written.append(save_chart(fig, ctx.folder.chart(name)))
    return sorted(p.name for p in written)
