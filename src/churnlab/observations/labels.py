"""Observation dates, the observation spine and churn labels.

An **observation** is one ``(account_id, as_of)`` pair. This module decides
which pairs exist and what their label is; :func:`churnlab.observations.build_observation_table` adds the
as-of features.

Rules (``docs/architecture.md``, "Observation table", ``domain.md`` "Churn and labels"):

* An account is *eligible* at ``as_of`` when one of its active periods covers
  the day before ``as_of`` and the account has not churned by ``as_of``:
  ``period.start_date < as_of`` and (``period.end_date`` is NaT or
  ``period.end_date > as_of``). An account whose churn date (first day without
  cover) is ``as_of`` itself is therefore not observed.
* With ``window_start = as_of + lead_days`` and
  ``window_end = window_start + horizon_days``, the label is 1 when the
  period's churn date lies in ``(window_start, window_end]`` and 0 when the
  account is still active at ``window_end`` (churn date NaT or after it).
* The observation is **dropped** (never labelled 0) when
  ``window_end > data_end`` (the outcome is not known yet), or when the
  account churned during the lead time, ``as_of < churn date <= window_start``
  (neither a churn in the window nor active at its end), or when the cover
  ends inside the window but the churn is still pending (the grace window
  runs past ``data_end``, so a re-signup may still join the period). All are
  counted in :class:`ObservationSummary`.
* Periods come from :func:`churnlab.observations.periods.active_periods`: ``end_date`` is
  the confirmed churn date and ``last_end_date`` (optional column) the end of
  the period's cover, also for pending churns and contract ends after
  ``data_end``. The period's *cover end* is ``end_date``, else
  ``last_end_date``; eligibility and "churned in lead" use the cover end.

All frames use ``datetime64[ns]`` dates at midnight; ``data_end`` is the last
day the data describes (a churn on ``data_end`` is known).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from churnlab.errors import DataError

__all__ = [
    "ObservationSummary",
    "make_observations",
    "month_end_grid",
    "renewal_checkpoints",
    "scoring_spine",
]

_PERIOD_COLUMNS = ("account_id", "start_date", "end_date")
_SUB_COLUMNS = ("account_id", "start_date", "end_date")


@dataclass(frozen=True)
class ObservationSummary:
    """How many candidate observations were kept, labelled and dropped.

    Attributes
    ----------
    n_candidates : int
        ``(account_id, as_of)`` pairs considered (grid: accounts eligible at
        each date; spine: rows of the spine).
    n_not_active : int
        Spine rows whose account was not eligible at ``as_of`` (always 0 for a
        date grid, which only pairs dates with eligible accounts).
    n_dropped_window_past_data_end : int
        Eligible rows dropped because ``as_of + lead + horizon > data_end``.
    n_dropped_churned_in_lead : int
        Eligible rows dropped because the churn fell in ``(as_of, as_of + lead]``.
    n_dropped_churn_pending : int
        Eligible rows dropped because the cover ends in the label window but
        the churn is not confirmed yet (grace window open at ``data_end``).
    n_labelled : int
        Rows in the returned table.
    n_positive : int
        Rows with label 1.
    """

    n_candidates: int
    n_not_active: int
    n_dropped_window_past_data_end: int
    n_dropped_churned_in_lead: int
    n_dropped_churn_pending: int
    n_labelled: int
    n_positive: int

    @property
    def positive_rate(self) -> float:
        """Share of labelled rows with label 1 (NaN when nothing is labelled)."""
        return self.n_positive / self.n_labelled if self.n_labelled else float("nan")

    @property
    def dropped(self) -> dict[str, int]:
        """Excluded rows by reason, for the run manifest's ``rejected_rows``."""
        return {
            "observation_not_active": self.n_not_active,
            "observation_window_past_data_end": self.n_dropped_window_past_data_end,
            "observation_churned_in_lead": self.n_dropped_churned_in_lead,
            "observation_churn_pending": self.n_dropped_churn_pending,
        }

    def as_dict(self) -> dict[str, int | float]:
        """All counts plus the positive rate, JSON-ready."""
        return {**asdict(self), "positive_rate": self.positive_rate}


def month_end_grid(start: object, end: object) -> pd.DatetimeIndex:
    """Every calendar month end in ``[start, end]`` (both inclusive).

    Parameters
    ----------
    start, end : date-like
        Bounds of the grid.

    Returns
    -------
    pandas.DatetimeIndex
        Month-end dates at midnight, ascending, named ``as_of``.

    Examples
    --------
    >>> list(month_end_grid("2026-01-15", "2026-03-31").strftime("%Y-%m-%d"))
    ['2026-01-31', '2026-02-28', '2026-03-31']
    """
    start_ts, end_ts = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    return pd.date_range(start_ts, end_ts, freq="ME", name="as_of").astype("datetime64[ns]")


def _require(frame: pd.DataFrame, columns: Sequence[str], file: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            file, missing[0], "is required but missing", hint=f"columns: {list(frame.columns)}"
        )


def renewal_checkpoints(
    subscriptions: pd.DataFrame, days_before: int, start: object, end: object
) -> pd.DataFrame:
    """Renewal checkpoints: ``days_before`` days before each renewal date.

    A **renewal date** is the ``end_date`` of a subscription row that lies a
    whole number of the row's billing periods after the ``start_date`` of the
    row or of any other row of the account: same day of the month (or the
    month end when that day does not exist, e.g. Jan 31 -> Feb 28) and a
    positive multiple of ``billing_period_months`` months (1 when the column is
    missing or empty). A row cut short mid-term by an expansion or contraction
    fails this test, so the day an expansion row takes over is not a renewal;
    the expansion row's own end, co-terminous with the original term, is. Rows still running
    (``end_date`` NaT) have no renewal date yet. The renewal happens whether
    or not the customer renews: a churn at term end is a renewal date too.

    Parameters
    ----------
    subscriptions : pandas.DataFrame
        The subscriptions table (``account_id``, ``start_date``, ``end_date``,
        optional ``billing_period_months``).
    days_before : int
        Days between the checkpoint and the renewal date.
    start, end : date-like
        Keep checkpoints with ``start <= as_of <= end``.

    Returns
    -------
    pandas.DataFrame
        ``account_id``, ``as_of`` (unique pairs) and the ``renewal_date`` they
        precede, sorted by ``(as_of, account_id)``.
    """
    _require(subscriptions, _SUB_COLUMNS, "subscriptions")
    subs = subscriptions[["account_id", "start_date", "end_date"]].astype(
        {"start_date": "datetime64[ns]", "end_date": "datetime64[ns]"}
    )
    if "billing_period_months" in subscriptions.columns:
        bpm = (
            pd.to_numeric(subscriptions["billing_period_months"])
            .fillna(1)
            .astype(int)
            .clip(lower=1)
        )
    else:
        bpm = pd.Series(1, index=subscriptions.index)
    ends = subs.assign(bpm=bpm.to_numpy()).loc[subs["end_date"].notna()]
    starts = subs[["account_id", "start_date"]].drop_duplicates()
    pairs = ends.drop(columns="start_date").merge(starts, on="account_id")
    s, e = pairs["start_date"], pairs["end_date"]
    months = (e.dt.year - s.dt.year) * 12 + (e.dt.month - s.dt.month)
    same_day = (e.dt.day == s.dt.day) | (e.dt.is_month_end & (s.dt.day > e.dt.day))
    at_midnight = e == e.dt.normalize()
    full_term = same_day & at_midnight & (months > 0) & (months % pairs["bpm"] == 0)
    out = pairs.loc[full_term, ["account_id", "end_date"]].rename(
        columns={"end_date": "renewal_date"}
    )
    out["as_of"] = out["renewal_date"] - pd.Timedelta(days=int(days_before))
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    out = out.loc[(out["as_of"] >= lo) & (out["as_of"] <= hi)]
    out = out.drop_duplicates(["account_id", "as_of"])
    out = out.sort_values(["as_of", "account_id"], kind="mergesort")
    return (
        out[["account_id", "as_of", "renewal_date"]]
        .reset_index(drop=True)
        .astype({"as_of": "datetime64[ns]", "renewal_date": "datetime64[ns]"})
    )


def _eligible(pairs: pd.DataFrame) -> pd.Series:
    """Rows of a (spine x periods) merge whose period covers as_of - 1 and has not churned."""
    end_ok = pairs["cover_end"].isna() | (pairs["cover_end"] > pairs["as_of"])
    return (pairs["start_date"] < pairs["as_of"]) & end_ok


def _candidates(
    periods: pd.DataFrame, as_of: object, checkpoint: str | None
) -> tuple[pd.DataFrame, int, int]:
    """Eligible (account, as_of, churn date) rows plus the candidate and not-active counts."""
    _require(periods, _PERIOD_COLUMNS, "periods")
    per = periods[list(_PERIOD_COLUMNS)].astype(
        {"start_date": "datetime64[ns]", "end_date": "datetime64[ns]"}
    )
    if "last_end_date" in periods.columns:
        last_end = pd.to_datetime(periods["last_end_date"]).astype("datetime64[ns]")
        per = per.assign(cover_end=per["end_date"].fillna(last_end))
    else:
        per = per.assign(cover_end=per["end_date"])
    if isinstance(as_of, pd.DataFrame):
        _require(as_of, ("account_id", "as_of"), "spine")
        spine = as_of[["account_id", "as_of"]].drop_duplicates().astype({"as_of": "datetime64[ns]"})
        if "checkpoint" in as_of.columns and checkpoint is None:
            spine = spine.join(as_of["checkpoint"])
        else:
            spine = spine.assign(checkpoint=checkpoint or "renewal")
        spine = spine.reset_index(drop=True)
        pairs = spine.reset_index().merge(per, on="account_id", how="inner")
        pairs = pairs.loc[_eligible(pairs)].drop_duplicates("index")
        n_candidates = len(spine)
        n_not_active = n_candidates - len(pairs)
        return pairs.drop(columns="index"), n_candidates, n_not_active
    dates = pd.DatetimeIndex(pd.to_datetime(np.atleast_1d(as_of))).astype("datetime64[ns]").unique()
    grid = pd.DataFrame({"as_of": dates, "checkpoint": checkpoint or "month_end"})
    pairs = per.merge(grid, how="cross")
    pairs = pairs.loc[_eligible(pairs)].drop_duplicates(["account_id", "as_of"])
    return pairs, len(pairs), 0


def make_observations(
    periods: pd.DataFrame,
    as_of: pd.DataFrame | Sequence[object] | pd.DatetimeIndex,
    lead_days: int,
    horizon_days: int,
    data_end: object,
    *,
    checkpoint: str | None = None,
) -> tuple[pd.DataFrame, ObservationSummary]:
    """Labelled observations from active periods.

    Parameters
    ----------
    periods : pandas.DataFrame
        Output of :func:`churnlab.observations.periods.active_periods` (``account_id``,
        ``start_date``, ``end_date`` = churn date or NaT).
    as_of : sequence of dates or pandas.DataFrame
        Either observation dates (every eligible account is observed at each,
        e.g. :func:`month_end_grid`; ``checkpoint`` defaults to
        ``"month_end"``), or a spine with ``account_id``, ``as_of`` and an
        optional ``checkpoint`` column (e.g. :func:`renewal_checkpoints`;
        default ``"renewal"``). Spine rows whose account is not eligible are
        dropped and counted.
    lead_days, horizon_days : int
        The label window is ``(as_of + lead_days, as_of + lead_days + horizon_days]``.
    data_end : date-like
        Last day the data describes; windows ending after it are dropped.
    checkpoint : str, optional
        Overrides the ``checkpoint`` value.

    Returns
    -------
    observations : pandas.DataFrame
        ``account_id``, ``as_of``, ``checkpoint``, ``label`` (Int64 0/1),
        ``churn_date`` (the churn that made label 1, NaT otherwise), sorted by
        ``(as_of, account_id)``.
    summary : ObservationSummary
        Kept, labelled and dropped counts.
    """
    if lead_days < 0 or horizon_days <= 0:
        raise ValueError(
            f"lead_days must be >= 0 and horizon_days > 0, got {lead_days}, {horizon_days}"
        )
    pairs, n_candidates, n_not_active = _candidates(periods, as_of, checkpoint)
    window_start = pairs["as_of"] + pd.Timedelta(days=int(lead_days))
    window_end = window_start + pd.Timedelta(days=int(horizon_days))
    churn, cover_end = pairs["end_date"], pairs["cover_end"]
    past_end = window_end > pd.Timestamp(data_end)
    in_lead = ~past_end & cover_end.notna() & (cover_end <= window_start)
    in_window = cover_end.notna() & (cover_end > window_start) & (cover_end <= window_end)
    pending = ~past_end & in_window & churn.isna()
    keep = ~past_end & ~in_lead & ~pending
    positive = in_window & churn.notna()
    kept = pairs.loc[keep]
    obs = pd.DataFrame(
        {
            "account_id": kept["account_id"].to_numpy(),
            "as_of": kept["as_of"].to_numpy(),
            "checkpoint": kept["checkpoint"].to_numpy(),
            "label": pd.array(positive[keep].astype(int).to_numpy(), dtype="Int64"),
            "churn_date": churn[keep].where(positive[keep]).to_numpy(),
        }
    )
    obs = _sorted(obs)
    summary = ObservationSummary(
        n_candidates=int(n_candidates),
        n_not_active=int(n_not_active),
        n_dropped_window_past_data_end=int(past_end.sum()),
        n_dropped_churned_in_lead=int(in_lead.sum()),
        n_dropped_churn_pending=int(pending.sum()),
        n_labelled=len(obs),
        n_positive=int(obs["label"].sum()),
    )
    return obs, summary


def scoring_spine(
    periods: pd.DataFrame, as_of: object, *, checkpoint: str = "month_end"
) -> pd.DataFrame:
    """Unlabelled observations of every account eligible at ``as_of``, for scoring.

    Parameters
    ----------
    periods : pandas.DataFrame
        Active periods (see :func:`make_observations`).
    as_of : date-like
        The scoring date.
    checkpoint : str
        Value of the ``checkpoint`` column.

    Returns
    -------
    pandas.DataFrame
        ``account_id``, ``as_of``, ``checkpoint``, ``label`` (all <NA>),
        ``churn_date`` (all NaT), sorted by ``account_id``.
    """
    pairs, _, _ = _candidates(periods, [pd.Timestamp(as_of)], checkpoint)
    obs = pd.DataFrame(
        {
            "account_id": pairs["account_id"].to_numpy(),
            "as_of": pairs["as_of"].to_numpy(),
            "checkpoint": pairs["checkpoint"].to_numpy(),
            "label": pd.array([pd.NA] * len(pairs), dtype="Int64"),
            "churn_date": pd.Series(
                pd.NaT, index=range(len(pairs)), dtype="datetime64[ns]"
            ).to_numpy(),
        }
    )
    return _sorted(obs)


def _sorted(obs: pd.DataFrame) -> pd.DataFrame:
    obs = obs.astype({"as_of": "datetime64[ns]", "churn_date": "datetime64[ns]"})
    return obs.sort_values(["as_of", "account_id"], kind="mergesort").reset_index(drop=True)
