"""The executive view: what a VP of Customer Success reads first (issue 16, item 3).

Pure functions of DataFrames and numbers (an analysis layer: it never imports the report,
delivery, the runner or the CLI):

- :func:`kpi_changes`: ARR, NRR, GRR, logo and revenue churn with their change month over
  month and year over year; :func:`mrr_bridge`: the MRR bridge of the month or of the
  trailing twelve months (start + new + reactivation + expansion - contraction - churn =
  end), from the movements :mod:`churnlab.kpis` computes;
- :func:`cohort_table`, :func:`onboarding_table`: retention, onboarding completion and time
  to value by start cohort (stage 00: they need subscriptions and events);
- :func:`portfolio_score`, :func:`health_distribution`, :func:`book_trend`: the ARR-weighted
  health of the book and its bands, over the runs of the data set;
- :func:`touch_table` (stage 00), :func:`engagement_coverage`: CSM touches by touch tier;
- :func:`retention_cost`: CS cost per retained account and per 1,000 of retained ARR;
- :func:`what_changed`: two or three sentences on what changed this month.
"""

from churnlab.executive._book import book_trend, health_distribution, portfolio_score
from churnlab.executive._changes import segment_moves, what_changed
from churnlab.executive._cohorts import cohort_months, cohort_table, onboarding_table
from churnlab.executive._cost import retention_cost
from churnlab.executive._engagement import engagement_coverage, touch_kinds, touch_table
from churnlab.executive._kpis import (
    BRIDGE_STEPS,
    EXECUTIVE_KPIS,
    MrrBridge,
    kpi_changes,
    mrr_bridge,
    overall,
)

__all__ = [
    "BRIDGE_STEPS",
    "EXECUTIVE_KPIS",
    "MrrBridge",
    "book_trend",
    "cohort_months",
    "cohort_table",
    "engagement_coverage",
    "health_distribution",
    "kpi_changes",
    "mrr_bridge",
    "onboarding_table",
    "overall",
    "portfolio_score",
    "retention_cost",
    "segment_moves",
    "touch_kinds",
    "touch_table",
    "what_changed",
]
