"""Active periods (churn with grace gaps) and MRR on given days.

Rules (``docs/domain.md``), and the decisions this module makes where the guide
leaves room:

- A subscription covers ``start_date <= d < end_date``; an empty ``end_date``
  (NaT) means still running and is treated as +infinity.
- Subscriptions of one account whose gap (next ``start_date`` minus the latest
  ``end_date`` so far) is at most ``grace_days`` form one active period.
  Overlapping and back-to-back rows (renewals, expansion rows) merge.
- The churn date of a period is the ``end_date`` of its last subscription (the
  first day without cover).
- ``data_end`` is the last day the data describes (inclusive): a subscription
  starting on ``data_end`` is known. A period is **churned** only when its last
  end date ``e`` satisfies ``e + grace_days <= data_end``: only then has the
  whole grace window (re-signup on or before ``e + grace_days`` would join the
  period) been observed. A period that ended on or before ``data_end`` but whose
  grace window is still open is a **pending churn**: ``churned=False``,
  ``end_date=NaT``, ``pending_churn=True``. A contractual end after
  ``data_end`` is not a churn yet (``churned=False``, ``end_date=NaT``).
- The raw end of the period's cover is always kept in ``last_end_date`` (NaT =
  open-ended), so that callers (labels, KPIs) can see pending churns and
  upcoming contract ends.
- Inside a grace gap the account counts as active, with the MRR of the
  subscription(s) that close the gap (sum over rows starting on the closing day).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from churnlab.errors import DataError

#: Stand-in for an open end date (NaT): far in the future, still addable.
OPEN_END = pd.Timestamp("2262-01-01")

_REQUIRED = ("account_id", "start_date", "end_date", "mrr")


def _prepare(subscriptions: pd.DataFrame) -> pd.DataFrame:
    """Validated, sorted copy with ``_end`` (NaT -> OPEN_END) and ``_prev_end``."""
    missing = [c for c in _REQUIRED if c not in subscriptions.columns]
    if missing:
        raise DataError(
            "subscriptions",
            missing[0],
            "is required",
            count=0,
            hint="map your export's column names in params.yaml (data.columns.subscriptions)",
        )
    subs = pd.DataFrame(
        {
            "account_id": subscriptions["account_id"].astype(str).to_numpy(),
            "start_date": pd.to_datetime(subscriptions["start_date"]).to_numpy(),
            "end_date": pd.to_datetime(subscriptions["end_date"]).to_numpy(),
            "mrr": subscriptions["mrr"].astype(float).to_numpy(),
        }
    )
    if subs["start_date"].isna().any():
        bad = subscriptions[subs["start_date"].isna().to_numpy()]
        raise DataError("subscriptions", "start_date", "must not be empty", rows=bad)
    reversed_rows = (subs["end_date"] < subs["start_date"]).to_numpy()
    if reversed_rows.any():
        raise DataError(
            "subscriptions",
            "end_date",
            "must be on or after start_date",
            rows=subscriptions[reversed_rows],
            hint="end_date is exclusive: a monthly row 2026-01-01 -> 2026-02-01 covers January",
        )
    subs["_end"] = subs["end_date"].fillna(OPEN_END)
    subs = subs.sort_values(["account_id", "start_date", "_end"], kind="mergesort")
    subs = subs.reset_index(drop=True)
    running_max = subs.groupby("account_id", sort=False)["_end"].cummax()
    subs["_prev_end"] = running_max.groupby(subs["account_id"], sort=False).shift()
    return subs


def _grace(grace_days: int) -> pd.Timedelta:
    if grace_days < 0:
        raise ValueError(f"grace_days must be >= 0, got {grace_days}")
    return pd.Timedelta(days=int(grace_days))


def _with_period_numbers(subs: pd.DataFrame, grace_days: int) -> pd.DataFrame:
    gap = subs["start_date"] - subs["_prev_end"]
    new_period = subs["_prev_end"].isna() | (gap > _grace(grace_days))
    out = subs.assign(_new_period=new_period.to_numpy())
    out["period_number"] = out.groupby("account_id", sort=False)["_new_period"].cumsum()
    return out


def active_periods(
    subscriptions: pd.DataFrame, grace_days: int, data_end: pd.Timestamp | str
) -> pd.DataFrame:
    """Active periods of each account: subscriptions joined across grace gaps.

    Parameters
    ----------
    subscriptions : pandas.DataFrame
        Columns ``account_id``, ``start_date``, ``end_date`` (exclusive, NaT =
        running), ``mrr``. Not modified.
    grace_days : int
        A gap of at most this many days between subscriptions is not churn.
    data_end : pandas.Timestamp or str
        Last day the data describes (inclusive).

    Returns
    -------
    pandas.DataFrame
        One row per active period, sorted by ``account_id, period_number``:
        ``account_id``, ``period_number`` (1, 2, ...; 2+ = re-signup),
        ``start_date``, ``end_date`` (churn date; NaT unless churned),
        ``churned`` (``last_end_date + grace_days <= data_end``),
        ``last_end_date`` (end of the last subscription, NaT = open-ended),
        ``pending_churn`` (cover ended on or before ``data_end`` but the grace
        window is still open, so churn is not decided yet).
    """
    data_end = pd.Timestamp(data_end)
    subs = _with_period_numbers(_prepare(subscriptions), grace_days)
    periods = (
        subs.groupby(["account_id", "period_number"], sort=True)
        .agg(start_date=("start_date", "min"), _end=("_end", "max"))
        .reset_index()
    )
    last_end = periods["_end"].where(periods["_end"] < OPEN_END)
    known_end = last_end.notna() & (last_end <= data_end)
    churned = known_end & (last_end + _grace(grace_days) <= data_end)
    return pd.DataFrame(
        {
            "account_id": periods["account_id"].astype(str),
            "period_number": periods["period_number"].astype(int),
            "start_date": periods["start_date"],
            "end_date": last_end.where(churned),
            "churned": churned.astype(bool),
            "last_end_date": last_end,
            "pending_churn": (known_end & ~churned).astype(bool),
        }
    )


def coverage_intervals(subscriptions: pd.DataFrame, grace_days: int) -> pd.DataFrame:
    """Intervals ``[start, end)`` with the MRR an account counts on each day.

    Subscription rows keep their MRR; each grace gap becomes a ``grace`` row
    carrying the MRR of the subscriptions that close it. Open ends are
    ``OPEN_END``. Columns: ``account_id``, ``start``, ``end``, ``mrr``, ``kind``.
    """
    subs = _with_period_numbers(_prepare(subscriptions), grace_days)
    closing_mrr = subs.groupby(["account_id", "start_date"], sort=False)["mrr"].transform("sum")
    is_gap = ~subs["_new_period"] & (subs["start_date"] > subs["_prev_end"])
    gaps = pd.DataFrame(
        {
            "account_id": subs["account_id"][is_gap],
            "start": subs["_prev_end"][is_gap],
            "end": subs["start_date"][is_gap],
            "mrr": closing_mrr[is_gap],
            "kind": "grace",
        }
    ).drop_duplicates(["account_id", "start", "end"])
    rows = pd.DataFrame(
        {
            "account_id": subs["account_id"],
            "start": subs["start_date"],
            "end": subs["_end"],
            "mrr": subs["mrr"],
            "kind": "subscription",
        }
    )
    return pd.concat([rows, gaps], ignore_index=True)


def coverage_matrix(
    subscriptions: pd.DataFrame, dates: Iterable, grace_days: int
) -> tuple[pd.Index, pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """MRR and activity of every account on every given day, as arrays.

    Returns
    -------
    accounts : pandas.Index
        Sorted account ids (rows).
    dates : pandas.DatetimeIndex
        The days (columns), in the given order.
    mrr : numpy.ndarray
        ``(n_accounts, n_dates)`` MRR (grace gaps carry the closing MRR).
    active : numpy.ndarray of bool
        Covered by a subscription or inside a grace gap.
    """
    days = pd.DatetimeIndex(pd.to_datetime(list(dates)))
    intervals = coverage_intervals(subscriptions, grace_days)
    codes, accounts = pd.factorize(intervals["account_id"], sort=True)
    starts = intervals["start"].to_numpy("datetime64[ns]")
    ends = intervals["end"].to_numpy("datetime64[ns]")
    weights = intervals["mrr"].to_numpy(float)
    n = len(accounts)
    mrr = np.zeros((n, len(days)))
    active = np.zeros((n, len(days)), dtype=bool)
    for j, day in enumerate(days.to_numpy("datetime64[ns]")):  # loop over days, not accounts
        covers = (starts <= day) & (day < ends)
        mrr[:, j] = np.bincount(codes[covers], weights=weights[covers], minlength=n)
        active[:, j] = np.bincount(codes[covers], minlength=n) > 0
    return pd.Index(accounts, name="account_id"), days, mrr, active


def mrr_on(subscriptions: pd.DataFrame, dates: Iterable, grace_days: int) -> pd.DataFrame:
    """Each account's MRR on each given day (tidy).

    Parameters
    ----------
    subscriptions : pandas.DataFrame
        Columns ``account_id``, ``start_date``, ``end_date``, ``mrr``.
    dates : iterable of date-like
        The days to evaluate.
    grace_days : int
        Grace gap length; inside a gap the account is active with the MRR of
        the subscription that closes the gap.

    Returns
    -------
    pandas.DataFrame
        ``account_id``, ``date``, ``mrr``, ``active``: one row per account in
        ``subscriptions`` and day (MRR 0 and ``active=False`` when not covered).
    """
    accounts, days, mrr, active = coverage_matrix(subscriptions, dates, grace_days)
    return pd.DataFrame(
        {
            "account_id": np.repeat(accounts.to_numpy(), len(days)),
            "date": np.tile(days.to_numpy(), len(accounts)),
            "mrr": mrr.ravel(),
            "active": active.ravel(),
        }
    )
