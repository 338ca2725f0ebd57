"""Churned vs retained: who churned, how they differed, and how long accounts stay.

Typical use (the observation table is documented in docs/architecture.md)::

    cohort = select_cohorts(observations, end=as_of, lookback_days=365)
    comparison = compare_cohorts(cohort, min_group=30, alpha=0.05)
    comparison.summary.head(10)          # ranked, with plain-language findings
    churn_by_bins(cohort, "logins_28d")  # churn rate by decile, Wilson 95% CIs
    cs_lenses(cohort)                    # onboarding, time to value, tickets, NPS, touch tier
    kaplan_meier(durations, churned, groups)

- ``_compare``: cohort selection and the ranked comparison (:class:`CohortComparison`).
- ``_lenses``: churn rate per bin or group, and the ready-made CS lenses.
- ``_findings``: the comparison's findings in plain language.
- :mod:`~churnlab.cohorts.stats`: effect sizes, intervals and tests.
- :mod:`~churnlab.cohorts.survival`: Kaplan-Meier curves and the log-rank test.
"""

from churnlab.cohorts._compare import (
    CohortComparison,
    compare_cohorts,
    metric_family,
    select_cohorts,
    split_features,
)
from churnlab.cohorts._lenses import LensTables, churn_by_bins, churn_rate_table, cs_lenses
from churnlab.cohorts.survival import kaplan_meier, logrank, survival_frame

__all__ = [
    "CohortComparison",
    "LensTables",
    "churn_by_bins",
    "churn_rate_table",
    "compare_cohorts",
    "cs_lenses",
    "kaplan_meier",
    "logrank",
    "metric_family",
    "select_cohorts",
    "split_features",
    "survival_frame",
]
