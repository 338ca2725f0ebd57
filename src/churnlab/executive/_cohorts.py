"""Start cohorts of the executive view: retention by months since start, onboarding and TTV.

Built in stage 00 (they need the subscriptions and the events) from the functions of
:mod:`churnlab.kpis` (one definition of cohort retention, onboarding completion and time
to value). The data's first month is left out: it holds every account the export starts
with, whatever their real start, not a cohort.
"""

from __future__ import annotations

import pandas as pd

from churnlab.kpis import cohort_retention, month_starts, onboarding_completion, time_to_value

__all__ = [
    "COHORT_MONTHS",
    "MAX_MONTHS_SINCE_START",
    "cohort_months",
    "cohort_table",
    "onboarding_table",
]

#: Start cohorts shown: the most recent this many months.
COHORT_MONTHS = 12
#: Columns of the retention heatmap: months since start 0..this.
MAX_MONTHS_SINCE_START = 12

_COHORT_COLUMNS = [
    "cohort",
    "months_since_start",
    "accounts",
    "logo_retention",
    "revenue_retention",
]
_ONBOARDING_COLUMNS = [
    "cohort",
    "accounts_started",
    "onboarding_completed",
    "onboarding_completion_rate",
    "window_complete",
    "reached_value",
    "median_time_to_value_days",
]


def cohort_months(periods: pd.DataFrame, data_end, n: int = COHORT_MONTHS) -> pd.DatetimeIndex:
    """The start cohorts shown: the last ``n`` months up to ``data_end``, after the data's first.

    Parameters
    ----------
    periods : pandas.DataFrame
        Active periods (``account_id``, ``start_date``).
    data_end : date-like
        The data's last day.
    n : int
        How many cohorts at most.

    Returns
    -------
    pandas.DatetimeIndex
        First days of the cohort months (empty when the data spans a single month).
    """
    if periods.empty:
        return pd.DatetimeIndex([])
    first = pd.Timestamp(periods["start_date"].min()).to_period("M").to_timestamp()
    last = pd.Timestamp(data_end).to_period("M").to_timestamp()
    start = max(first + pd.DateOffset(months=1), last - pd.DateOffset(months=n - 1))
    if start > last:
        return pd.DatetimeIndex([])
    return month_starts(start, last)


def cohort_table(
    subscriptions: pd.DataFrame,
    periods: pd.DataFrame,
    grace_days: int,
    data_end,
    n: int = COHORT_MONTHS,
    max_months: int = MAX_MONTHS_SINCE_START,
) -> pd.DataFrame:
    """Logo and revenue retention of the recent start cohorts, by months since start.

    Parameters
    ----------
    subscriptions, periods : pandas.DataFrame
        The subscriptions and their active periods.
    grace_days : int
        The grace of ``periods``.
    data_end : date-like
        The data's last day (later months are not observed yet).
    n, max_months : int
        Cohorts shown, and the last month since start shown.

    Returns
    -------
    pandas.DataFrame
        Long form, one row per observed cell: ``cohort`` (first day of the start month),
        ``months_since_start`` (0 = the start month itself, 1 = the first day of the next
        month, ...), ``accounts`` (the cohort's size), ``logo_retention`` (share of its
        accounts active that day) and ``revenue_retention`` (its MRR that day / its
        starting MRR; above 1 is net expansion), as :func:`churnlab.kpis.cohort_retention`.
    """
    months = cohort_months(periods, data_end, n)
    if months.empty:
        return pd.DataFrame(columns=_COHORT_COLUMNS)
    end = pd.Timestamp(data_end)
    logo, revenue = (
        cohort_retention(subscriptions, periods, grace_days, months[0], end, kind=kind)
        for kind in ("logo", "revenue")
    )
    long = (
        logo.stack()
        .rename("logo_retention")
        .to_frame()
        .join(revenue.stack().rename("revenue_retention"))
        .reset_index()
    )
    first = periods.assign(account_id=periods["account_id"].astype(str)).groupby("account_id")[
        "start_date"
    ]
    sizes = first.min().dt.to_period("M").dt.to_timestamp().value_counts().rename("accounts")
    long = long.join(sizes, on="cohort")
    long = long[long["months_since_start"] <= max_months]
    long["accounts"] = long["accounts"].fillna(0).astype(int)
    return (
        long[_COHORT_COLUMNS].sort_values(["cohort", "months_since_start"]).reset_index(drop=True)
    )


def onboarding_table(
    periods: pd.DataFrame,
    events: pd.DataFrame,
    onboarding_days: int,
    data_end,
    n: int = COHORT_MONTHS,
) -> pd.DataFrame:
    """Onboarding completion and median time to value of the recent start cohorts.

    Parameters
    ----------
    periods, events : pandas.DataFrame
        Active periods and the event log (``onboarding_completed`` and ``first_value``
        events; a data set without them gives zero completions and no TTV).
    onboarding_days : int
        Days after the first start within which onboarding counts as completed.
    data_end : date-like
        The data's last day.
    n : int
        Cohorts shown.

    Returns
    -------
    pandas.DataFrame
        One row per cohort: ``cohort``, ``accounts_started``, ``onboarding_completed``,
        ``onboarding_completion_rate``, ``window_complete`` (False: the cohort is younger
        than ``onboarding_days`` and its rate can still rise), ``reached_value``,
        ``median_time_to_value_days``.
    """
    months = cohort_months(periods, data_end, n)
    if months.empty:
        return pd.DataFrame(columns=_ONBOARDING_COLUMNS)
    milestones = events[events["event_type"].isin(["onboarding_completed", "first_value"])]
    done = onboarding_completion(periods, milestones, onboarding_days, data_end)
    ttv = time_to_value(periods, milestones, data_end).drop(columns="accounts_started")
    both = done.merge(ttv, on="cohort", how="left")
    both = both[both["cohort"].isin(months)]
    return both[_ONBOARDING_COLUMNS].reset_index(drop=True)
