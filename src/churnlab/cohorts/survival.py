"""Survival views of churn: Kaplan-Meier curves and log-rank tests (lifelines).

Durations are in months. For snapshot data (Telco) use the tenure column and
the churn flag; for event-log data build them from active periods with
:func:`survival_frame`.

Groups are labelled as text (a missing group is ``"missing"``), the same labels
in the Kaplan-Meier table, the log-rank result's ``groups`` and the curves'
legend. A log-rank test needs two groups: with one group (or no account) it is
skipped, not failed: :func:`logrank` returns a result with ``skipped = True``,
NaN statistic and p-value and the reason in ``note`` (see :data:`LOGRANK_SKIPPED`).
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
#: Label of accounts without a group.
MISSING_GROUP = "missing"
#: Why a log-rank test was skipped (the result's ``note``).
LOGRANK_SKIPPED = {
    "empty": "no accounts: nothing to compare",
    "one_group": "one group only: nothing to compare",
}
_KM_DTYPES = {"group": "object", "n": "int64", "churned": "int64"}


def _as_arrays(durations, events, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events).astype(bool)
    g = np.full(len(d), "all", dtype=object) if groups is None else np.asarray(groups, dtype=object)
    labels = pd.Series(g, dtype=object)  # groups are labelled as text; missing is a group
    g = labels.where(labels.notna(), MISSING_GROUP).astype(str).to_numpy(dtype=object)
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
        One row per group (in order of appearance): ``group, n, churned``,
        ``survival_<t>m`` for each time, and ``median_months`` (inf when
        survival never drops to 50%). One group gives one row; no account gives
        no row (same columns).
    """
    d, e, g = _as_arrays(durations, events, groups)
    columns = ["group", "n", "churned", *(f"survival_{t:g}m" for t in times), "median_months"]
    rows = []
    for name in pd.unique(g):  # one fit per group, not per account
        mask = g == name
        kmf = KaplanMeierFitter().fit(d[mask], e[mask], label=str(name))
        at = kmf.survival_function_at_times(list(times)).to_numpy()
        row = {"group": str(name), "n": int(mask.sum()), "churned": int(e[mask].sum())}
        row.update({f"survival_{t:g}m": float(s) for t, s in zip(times, at, strict=True)})
        row["median_months"] = float(kmf.median_survival_time_)
        rows.append(row)
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=_KM_DTYPES.get(c, "float64")) for c in columns})
    return pd.DataFrame(rows, columns=columns)


def logrank(
    durations: Sequence[float] | pd.Series,
    events: Sequence[bool] | pd.Series,
    groups: Sequence[str] | pd.Series,
) -> StatisticalResult:
    """Log-rank test that all groups share one survival curve.

    Wraps ``lifelines.statistics.multivariate_logrank_test``; the result has
    ``test_statistic``, ``p_value``, ``degrees_of_freedom`` and ``summary``,
    plus ``groups`` (the group labels compared, as in :func:`kaplan_meier`),
    ``skipped`` and ``note``.

    With fewer than two groups there is nothing to compare: the test is
    skipped, not failed. The result then has ``skipped = True``, a NaN
    ``test_statistic`` and ``p_value`` (its ``summary`` has the usual columns),
    ``degrees_of_freedom = 0`` and ``note`` = "one group only: nothing to
    compare" (or "no accounts: nothing to compare" without any account).
    Otherwise ``skipped`` is False and ``note`` is empty.

    Notes
    -----
    The log-rank test weighs all times equally and has little power when the
    survival curves cross (e.g. one group churns early, the other late): a
    large p-value then does not mean the groups behave alike. Look at the
    Kaplan-Meier curves before reading the p-value.
    """
    d, e, g = _as_arrays(durations, events, groups)
    labels = tuple(str(name) for name in pd.unique(g))
    if len(labels) < 2:
        note = LOGRANK_SKIPPED["one_group" if labels else "empty"]
        return StatisticalResult(
            p_value=np.nan,
            test_statistic=np.nan,
            test_name="multivariate_logrank_test",
            degrees_of_freedom=0,
            skipped=True,
            note=note,
            groups=labels,
        )
    result = multivariate_logrank_test(d, g, e)
    result.skipped, result.note, result.groups = False, "", labels
    return result


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
