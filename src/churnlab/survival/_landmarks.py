"""Landmarks and their person-period rows: the training table of a discrete-time hazard model.

A **landmark** is one observation (account, as_of) with its features frozen at as_of and
its follow-up after it: ``duration`` (months from the landmark to the churn, or to the end
of the data when the account has not churned) and ``event`` (1 = churned). Event-log data
takes the month-end observations of stage 00 and the active periods; a snapshot (one row per
account, no history) has only tenure, so its landmark is the account's start and its time
axis is the tenure month (``offset`` is the months already survived at the snapshot).

The **person-period** rows expand each landmark into one row per month ``k`` while the
account is at risk: ``label`` = churned in month ``k`` (month ``k`` covers
``((k - 1) x 30.4375, k x 30.4375]`` days after the landmark), ``period_month`` = ``k`` on
the time axis, ``renewal_month`` = 1 when a renewal of the current contract falls in
month ``k`` and ``months_to_renewal`` from the start of month ``k`` to the next renewal
(event-log data with renewal dates).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "MONTH_DAYS",
    "PERIOD_FEATURES",
    "event_landmarks",
    "person_period",
    "snapshot_landmarks",
    "thin_landmarks",
    "thinned_rows",
]

#: Average days per month (365.25 / 12): months are counted from the landmark in these.
MONTH_DAYS = 30.4375
#: The per-month features a person-period row adds to the landmark's own.
PERIOD_FEATURES = ("period_month", "renewal_month", "months_to_renewal")


def event_landmarks(
    observations: pd.DataFrame,
    periods: pd.DataFrame,
    data_end: pd.Timestamp,
    grace_days: int = 0,
) -> pd.DataFrame:
    """The month-end observations with their follow-up: ``duration`` (months), ``event``.

    Parameters
    ----------
    observations : pandas.DataFrame
        Stage 00's observation table (``account_id``, ``as_of``, ``checkpoint``, features).
        Month-end rows are used when there are any (renewal checkpoints would repeat an
        account within a month).
    periods : pandas.DataFrame
        Active periods (``account_id``, ``start_date``, ``end_date``, ``churned``).
    data_end : Timestamp
        The data's last day.
    grace_days : int
        ``observation.grace_days``: a churn is known only ``grace_days`` after the cover
        ends, so accounts not known to have churned are censored ``grace_days`` before
        ``data_end`` (else the last month of every follow-up would miss its churns).

    Returns
    -------
    pandas.DataFrame
        The observations (a new frame) with ``duration`` (> 0, months), ``event`` (0/1) and
        ``offset`` (0: the time axis starts at the landmark).
    """
    # the rows are picked by position on the keys alone; the wide table is copied once
    rows = np.arange(len(observations))
    if "checkpoint" in observations:
        month_end = (observations["checkpoint"] == "month_end").to_numpy()
        if month_end.any():
            rows = rows[month_end]
    ids = observations["account_id"].take(rows).astype(str).to_numpy()
    dates = observations["as_of"].take(rows).to_numpy()
    keys = pd.DataFrame({"account_id": ids, "as_of": dates})
    first = ~keys.duplicated(["account_id", "as_of"]).to_numpy()
    rows, keys = rows[first], keys[first]
    spans = periods[["account_id", "start_date", "end_date", "churned"]].copy()
    spans["account_id"] = spans["account_id"].astype(str)
    keys = keys.assign(_row=rows)
    joined = keys.merge(spans, on="account_id", how="inner")
    covers = (joined["start_date"] <= joined["as_of"]) & (
        joined["end_date"].isna() | (joined["end_date"] > joined["as_of"])
    )
    joined = joined[covers].drop_duplicates("_row", keep="first")
    end = pd.Timestamp(data_end)
    churned = joined["churned"].astype(bool) & (joined["end_date"] <= end)
    stop = joined["end_date"].where(churned, end - pd.Timedelta(days=grace_days))
    duration = ((stop - joined["as_of"]).dt.days / MONTH_DAYS).to_numpy(dtype=float)
    ahead = duration > 0
    out = observations.take(joined["_row"].to_numpy()[ahead])
    out.index = pd.RangeIndex(len(out))
    out["duration"] = duration[ahead]
    out["event"] = churned.to_numpy(dtype=int)[ahead]
    out["offset"] = 0.0
    return out


def snapshot_landmarks(table: pd.DataFrame, *, scoring: bool = False) -> pd.DataFrame:
    """A snapshot's accounts on the tenure axis: ``duration`` = tenure (months), ``event``.

    For training (``scoring=False``) the landmark is each account's start: ``duration`` is
    its tenure, ``event`` its label, ``offset`` 0, and accounts with no tenure are left out.
    For scoring, ``offset`` is the tenure already survived (the curve is conditional on it).
    ``tenure_days`` is the time axis itself and is never a feature of the hazard model.
    """
    tenure = pd.to_numeric(table["tenure_days"], errors="coerce") / MONTH_DAYS
    out = table.copy()
    if scoring:
        out["offset"] = np.floor(tenure.fillna(0.0).to_numpy())
        out["duration"] = np.nan
        out["event"] = 0
        return out.reset_index(drop=True)
    out["duration"] = tenure.to_numpy()
    out["event"] = pd.to_numeric(out["label"], errors="coerce").fillna(0).astype(int).to_numpy()
    out["offset"] = 0.0
    return out[out["duration"] > 0].reset_index(drop=True)


def _months_at_risk(duration: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Months a landmark contributes: up to its event month, or its complete months."""
    return np.where(event == 1, np.ceil(duration), np.floor(duration)).astype(int)


def thin_landmarks(
    landmarks: pd.DataFrame, horizon: int | None, max_rows: int, seed: int
) -> pd.DataFrame:
    """Fewer landmarks when their person-period rows would pass ``max_rows``.

    Every ``s``-th landmark date is kept, counting back from the latest (the population
    nearest the scoring date; in the back-tests this did better than a sample across every
    date), then, when that is not enough, a seeded sample; deterministic for a seed.
    """
    keep = thinned_rows(landmarks, horizon, max_rows, seed)
    if keep is None:
        return landmarks
    out = landmarks.take(keep)
    out.index = pd.RangeIndex(len(out))
    return out


def thinned_rows(
    landmarks: pd.DataFrame, horizon: int | None, max_rows: int, seed: int
) -> np.ndarray | None:
    """The positions :func:`thin_landmarks` keeps, in its order; None when it keeps all.

    Only ``as_of``, ``account_id``, ``duration`` and ``event`` are read, so a caller can
    thin a narrow frame of keys and copy the wide rows once.
    """
    months = _months_at_risk(landmarks["duration"].to_numpy(), landmarks["event"].to_numpy())
    if horizon is not None:
        months = np.minimum(months, horizon)
    rows = int(months.sum())
    if rows <= max_rows:
        return None
    keys = pd.DataFrame(
        {
            "as_of": landmarks["as_of"].to_numpy(),
            "account_id": landmarks["account_id"].to_numpy(),
            "_row": np.arange(len(landmarks)),
        }
    )
    dates = np.sort(keys["as_of"].unique())
    if len(dates) > 1:
        step = int(np.ceil(rows / max_rows))
        keep = dates[::-1][::step]
        mask = keys["as_of"].isin(keep).to_numpy()
        keys, months = keys[mask], months[mask]
        rows = int(months.sum())
    if rows > max_rows:
        keys = keys.sample(frac=max_rows / rows, random_state=seed)
    return keys.sort_values(["as_of", "account_id"], kind="stable")["_row"].to_numpy()


def renewal_in_month(
    days_to_renewal: np.ndarray, billing_months: np.ndarray, month: np.ndarray
) -> np.ndarray:
    """1 when a renewal (``days_to_renewal`` + every ``billing_months``) falls in ``month``.

    Month ``k`` covers ``((k - 1) x MONTH_DAYS, k x MONTH_DAYS]`` days after the landmark;
    an unknown renewal date gives 0, an unknown billing period counts as monthly.
    """
    days = np.asarray(days_to_renewal, dtype=float)
    cycle = np.where(np.isfinite(billing_months) & (billing_months > 0), billing_months, 1.0)
    cycle = cycle * MONTH_DAYS
    end = np.asarray(month, dtype=float) * MONTH_DAYS
    with np.errstate(invalid="ignore"):
        last = days + np.floor((end - days) / cycle) * cycle  # the last renewal up to the end
        inside = np.isfinite(days) & (end >= days) & (last > end - MONTH_DAYS)
    return inside.astype(np.int8)


def months_to_next_renewal(
    days_to_renewal: np.ndarray, billing_months: np.ndarray, month: np.ndarray
) -> np.ndarray:
    """Months from the start of ``month`` to the next renewal on or after it (NaN: unknown)."""
    days = np.asarray(days_to_renewal, dtype=float)
    cycle = np.where(np.isfinite(billing_months) & (billing_months > 0), billing_months, 1.0)
    cycle = cycle * MONTH_DAYS
    start = (np.asarray(month, dtype=float) - 1.0) * MONTH_DAYS
    with np.errstate(invalid="ignore"):
        behind = np.maximum(np.ceil((start - days) / cycle), 0.0)
        upcoming = days + behind * cycle
    return (upcoming - start) / MONTH_DAYS


def person_period(
    landmarks: pd.DataFrame,
    months: int | np.ndarray | None = None,
    *,
    horizon: int | None = None,
    renewals: bool = True,
) -> pd.DataFrame:
    """One row per landmark and month: the rows a hazard model learns from or predicts on.

    Parameters
    ----------
    landmarks : pandas.DataFrame
        With ``duration``, ``event`` and ``offset`` (see :func:`event_landmarks`).
    months : int or array, optional
        For prediction: this many months after each landmark (every landmark, whatever
        its follow-up), ``label`` 0. None (training): the months at risk, ``label`` 1 in the
        month of the churn.
    horizon : int, optional
        Training rows stop after this many months (a churn later is censored there).
    renewals : bool
        Add ``renewal_month`` (needs ``days_to_renewal``; snapshots have no renewal dates).

    Returns
    -------
    pandas.DataFrame
        The landmark's columns repeated, ``landmark`` (its row number), ``period_month``
        (``offset`` + k), ``renewal_month`` and ``months_to_renewal`` (when ``renewals``) and
        ``label``.
    """
    n = len(landmarks)
    if months is None:
        at_risk = _months_at_risk(
            landmarks["duration"].to_numpy(dtype=float), landmarks["event"].to_numpy()
        )
        if horizon is not None:
            at_risk = np.minimum(at_risk, horizon)
    else:
        at_risk = np.broadcast_to(np.asarray(months, dtype=int), (n,)).copy()
    at_risk = np.maximum(at_risk, 0)
    idx = np.repeat(np.arange(n), at_risk)
    k = np.arange(len(idx)) - np.repeat(np.cumsum(at_risk) - at_risk, at_risk) + 1
    rows = landmarks.iloc[idx].reset_index(drop=True)
    rows["landmark"] = idx
    offset = pd.to_numeric(rows["offset"], errors="coerce").fillna(0).to_numpy()
    rows["period_month"] = (offset + k).astype(float)
    if renewals and "days_to_renewal" in rows:
        billing = (
            pd.to_numeric(rows["billing_period_months"], errors="coerce").to_numpy(dtype=float)
            if "billing_period_months" in rows
            else np.ones(len(rows))
        )
        days = pd.to_numeric(rows["days_to_renewal"], errors="coerce").to_numpy(dtype=float)
        rows["renewal_month"] = renewal_in_month(days, billing, k).astype(float)
        rows["months_to_renewal"] = months_to_next_renewal(days, billing, k)
    if months is None:
        event = landmarks["event"].to_numpy()[idx] == 1
        last = k == at_risk[idx]
        full = np.ceil(landmarks["duration"].to_numpy(dtype=float))[idx] == k
        rows["label"] = (event & last & full).astype(int)
    else:
        rows["label"] = 0
    return rows
