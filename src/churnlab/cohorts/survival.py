"""Survival views of churn: Kaplan-Meier curves and log-rank tests (lifelines).

Durations are in months. For snapshot data (Telco) use the tenure column and
the churn flag; for event-log data build them from active periods with
:func:`survival_frame`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import StatisticalResult, multivariate_logrank_test

from churnlab.errors import DataError

#: Average days per month, used to turn day counts into months.
DAYS_PER_MONTH = 365.25 / 12


def _as_arrays(durations, events, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events).astype(bool)
    g = np.full(len(d), "all", dtype=object) if groups is None else np.asarray(groups, dtype=object)
    if not (len(d) == len(e) == len(g)):
        raise DataError(
            "survival data", "durations", "must have the same length as events and groups"
        )
    if np.isnan(d).any() or (d < 0).any():
        bad = int((np.isnan(d) | (d < 0)).sum())
        raise DataError("survival data", "durations", "must be >= 0 and not missing", count=bad)
    return d, e, g


def kaplan_meier(
    durations: Sequence[float] | pd.Series,
    events: Sequence[bool] | pd.Series,
    groups: Sequence[str] | pd.Series | None = None,
    *,
    times: Sequence[float] = (3, 6, 12, 24),
) -> pd.DataFrame:
    """Kaplan-Meier survival (share of accounts not yet churned) per group.

    Parameters
    ----------
    durations : array-like
        Months from the start of the active period to churn or censoring.
    events : array-like of bool
        True when the account churned (False = still active: censored).
    groups : array-like, optional
        Group of each account (e.g. contract type or touch tier); None = one group.
    times : sequence of float
        Months at which to report survival.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group, n, churned``, ``survival_<t>m`` for each
        time, and ``median_months`` (inf when survival never drops to 50%).
    """
    d, e, g = _as_arrays(durations, events, groups)
    rows = []
    for name in pd.unique(g):  # one fit per group, not per account
        mask = g == name
        kmf = KaplanMeierFitter().fit(d[mask], e[mask], label=str(name))
        at = kmf.survival_function_at_times(list(times)).to_numpy()
        row = {"group": str(name), "n": int(mask.sum()), "churned": int(e[mask].sum())}
        row.update({f"survival_{t:g}m": float(s) for t, s in zip(times, at, strict=True)})
        row["median_months"] = float(kmf.median_survival_time_)
        rows.append(row)
    return pd.DataFrame(rows)


def logrank(
    durations: Sequence[float] | pd.Series,
    events: Sequence[bool] | pd.Series,
    groups: Sequence[str] | pd.Series,
) -> StatisticalResult:
    """Log-rank test that all groups share one survival curve.

    Wraps ``lifelines.statistics.multivariate_logrank_test``; the result has
    ``test_statistic``, ``p_value``, ``degrees_of_freedom`` and ``summary``.

    Notes
    -----
    The log-rank test weighs all times equally and has little power when the
    survival curves cross (e.g. one group churns early, the other late): a
    large p-value then does not mean the groups behave alike. Look at the
    Kaplan-Meier curves before reading the p-value.
    """
    d, e, g = _as_arrays(durations, events, groups)
    if len(pd.unique(g)) < 2:
        raise DataError("survival data", "groups", "needs at least two groups for a log-rank test")
    return multivariate_logrank_test(d, g, e)


def survival_frame(
    periods: pd.DataFrame,
    accounts: pd.DataFrame,
    data_end: str | pd.Timestamp,
    by: str = "touch_tier",
) -> pd.DataFrame:
    """Durations (months) and churn events of active periods, with a grouping column.

    Parameters
    ----------
    periods : pandas.DataFrame
        Output of ``churnlab.observations.active_periods`` (``account_id``,
        ``period_number``, ``start_date``, ``end_date``, ``churned``).
    accounts : pandas.DataFrame
        One row per ``account_id`` with the ``by`` column: the accounts table
        (plan, industry, region, ...) or, for ``touch_tier``, the accounts'
        rows of an observation table.
    data_end : str or Timestamp
        The end of the data: periods still active are censored here; periods
        starting on or after it are left out.
    by : str
        The grouping column of ``accounts``.

    Returns
    -------
    pandas.DataFrame
        ``account_id, period_number, duration_months, churned, group``; a
        churn after ``data_end`` counts as censored at ``data_end``.
    """
    if by not in accounts:
        raise DataError(
            "accounts", by, "is not a column",
            hint="pass a table with one row per account_id holding the grouping column",
        )  # fmt: skip
    end = pd.Timestamp(data_end)
    p = periods.loc[periods["start_date"] < end]
    churned = p["end_date"].notna() & (p["end_date"] <= end)
    stop = p["end_date"].where(churned, end)
    days = (stop - p["start_date"]).dt.days.to_numpy(float)
    groups = accounts.drop_duplicates("account_id").set_index("account_id")[by]
    return pd.DataFrame(
        {
            "account_id": p["account_id"].to_numpy(),
            "period_number": p["period_number"].to_numpy(),
            "duration_months": days / DAYS_PER_MONTH,
            "churned": churned.to_numpy(),
            "group": p["account_id"].map(groups).astype(object).fillna("unknown").to_numpy(),
        }
    )
