"""Measuring an earlier run: each scored account's outcome and the per-group statistics.

The rules (outcomes, rates, deciles) are in the :mod:`churnlab.modeling.track_record`
docstring.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from churnlab.observations.labels import ObservationSummary, make_observations, scoring_spine

#: Values of the ``outcome`` column of :attr:`TrackRecord.accounts`.
OUTCOMES = ("churned", "renewed", "open", "unknown")
#: Values of ``unknown_reason`` for ``unknown`` accounts ("" for the others).
UNKNOWN_REASONS = ("churned_in_lead", "churn_pending", "not_active")

_SCORE_COLUMNS = ("account_id", "churn_probability", "arr", "renewal_date", "expected_arr_at_risk")


@dataclass(frozen=True)
class GroupStats:
    """Outcome counts and accuracy of one group of an old run's scored accounts.

    Every field is defined in the :mod:`churnlab.modeling.track_record` docstring
    ("Rates and sums").

    Attributes
    ----------
    n_accounts : int
        Old scored accounts in the group (every outcome, unknown included).
    n_labelled, n_churned, n_renewed, n_open, n_unknown : int
        Accounts by outcome; ``n_labelled`` is the denominator of the rates.
    n_churned_in_lead, n_churn_pending, n_not_active : int
        ``n_unknown`` by reason.
    churn_rate, mean_predicted, lift : float
        Realised and predicted churn rate of the labelled accounts, and the lift.
    arr_lost, arr_churned_in_lead, arr_predicted, arr_predicted_all : float
        Old ARR lost / lost in the lead time, old expected ARR at risk.
    brier, roc_auc : float
        Over the labelled accounts; NaN on decile rows.
    """

    n_accounts: int
    n_labelled: int
    n_churned: int
    n_renewed: int
    n_open: int
    n_unknown: int
    n_churned_in_lead: int
    n_churn_pending: int
    n_not_active: int
    churn_rate: float
    mean_predicted: float
    lift: float
    arr_lost: float
    arr_churned_in_lead: float
    arr_predicted: float
    arr_predicted_all: float
    brier: float
    roc_auc: float


_STAT_FIELDS = [f.name for f in fields(GroupStats)]
_COUNT_FIELDS = [f for f in _STAT_FIELDS if f.startswith("n_")]


@dataclass(frozen=True, eq=False)
class TrackRecord:
    """An earlier run measured against the outcomes (output of :func:`measure_run`).

    Attributes
    ----------
    run_id : str
        The earlier run's id, as the caller passed it.
    as_of : pandas.Timestamp
        The earlier run's scoring date.
    lead_days, horizon_days : int
        Label window parameters the run was measured with.
    window_start, window_end : pandas.Timestamp
        ``as_of + lead_days`` and ``window_start + horizon_days``: the label window
        is ``(window_start, window_end]``.
    data_end : pandas.Timestamp
        Last day of the current data.
    accounts : pandas.DataFrame
        One row per old scored account, sorted by ``(churn_probability desc,
        account_id)``: ``account_id``, ``churn_probability``, ``arr``,
        ``expected_arr_at_risk``, ``renewal_date`` (old values), ``flagged`` (bool),
        ``decile`` (1 = highest risk), ``label`` (Int64, <NA> when unknown),
        ``churn_date`` (the churn in the window or, for ``churned_in_lead``, in the
        lead time; NaT otherwise), ``outcome``, ``unknown_reason``.
    flagged, rest, overall : GroupStats
        The flagged accounts, the other scored accounts, and all of them.
    deciles : pandas.DataFrame
        One row per non-empty decile, ascending: ``decile`` and the
        :class:`GroupStats` fields (``brier`` and ``roc_auc`` NaN).
    observations : ObservationSummary
        What :func:`make_observations` reported for the label window.
    """

    run_id: str
    as_of: pd.Timestamp
    lead_days: int
    horizon_days: int
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    data_end: pd.Timestamp
    accounts: pd.DataFrame
    flagged: GroupStats
    rest: GroupStats
    overall: GroupStats
    deciles: pd.DataFrame
    observations: ObservationSummary


def _check_window(lead_days: int, horizon_days: int, grace_days: int = 0) -> None:
    if lead_days < 0 or horizon_days <= 0 or grace_days < 0:
        raise ValueError(
            "lead_days and grace_days must be >= 0 and horizon_days > 0, got "
            f"lead_days={lead_days}, horizon_days={horizon_days}, grace_days={grace_days}"
        )


def window_closed(
    as_of: object, *, lead_days: int, horizon_days: int, grace_days: int, data_end: object
) -> bool:
    """Whether a run scored on ``as_of`` can be measured with data up to ``data_end``.

    Parameters
    ----------
    as_of : date-like
        The earlier run's scoring date.
    lead_days, horizon_days : int
        The label window is ``(as_of + lead_days, as_of + lead_days + horizon_days]``.
    grace_days : int
        Days after a cover end before the churn is confirmed.
    data_end : date-like
        Last day the current data describes (inclusive).

    Returns
    -------
    bool
        ``as_of + lead_days + horizon_days + grace_days <= data_end`` (a run whose
        grace window ends exactly on ``data_end`` is closed).

    Examples
    --------
    >>> window_closed("2026-01-31", lead_days=30, horizon_days=90, grace_days=14,
    ...               data_end="2026-06-14")
    True
    >>> window_closed("2026-01-31", lead_days=30, horizon_days=90, grace_days=14,
    ...               data_end="2026-06-13")
    False
    """
    _check_window(lead_days, horizon_days, grace_days)
    days = pd.Timedelta(days=int(lead_days) + int(horizon_days) + int(grace_days))
    return bool(pd.Timestamp(as_of).normalize() + days <= pd.Timestamp(data_end).normalize())


def _prepare_scores(old_scores: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    missing = [c for c in _SCORE_COLUMNS if c not in old_scores.columns]
    if missing:
        raise ValueError(
            f"old_scores lacks column(s) {missing}; needed: {list(_SCORE_COLUMNS)} "
            "(the output of churnlab.modeling.scoring.score_accounts)"
        )
    if "as_of" in old_scores:
        other = pd.to_datetime(old_scores["as_of"]).dt.normalize() != as_of
        if other.any():
            raise ValueError(f"old_scores has rows whose as_of is not {as_of.date()}")
    scores = pd.DataFrame(
        {
            "account_id": old_scores["account_id"].astype(str).to_numpy(),
            "churn_probability": old_scores["churn_probability"].astype(float).to_numpy(),
            "arr": old_scores["arr"].astype(float).to_numpy(),
            "expected_arr_at_risk": old_scores["expected_arr_at_risk"].astype(float).to_numpy(),
            "renewal_date": pd.to_datetime(old_scores["renewal_date"])
            .astype("datetime64[ns]")
            .to_numpy(),
        }
    )
    if scores["account_id"].duplicated().any():
        raise ValueError("old_scores has a repeated account_id")
    if scores["churn_probability"].isna().any():
        raise ValueError("old_scores has rows without a churn_probability")
    return scores


def _labels_in(
    periods: pd.DataFrame,
    ids: pd.Series,
    as_of: pd.Timestamp,
    lead_days: int,
    horizon_days: int,
    data_end: pd.Timestamp,
) -> tuple[pd.DataFrame, ObservationSummary]:
    """``make_observations`` on a spine of ``ids`` at ``as_of``, indexed by account_id."""
    spine = pd.DataFrame({"account_id": ids.to_numpy(), "as_of": as_of})
    obs, summary = make_observations(
        periods, spine, lead_days, horizon_days, data_end, checkpoint="track_record"
    )
    return obs.set_index("account_id")[["label", "churn_date"]], summary


def _aggregate(acc: pd.DataFrame, key: pd.Series, groups: Sequence[object]) -> pd.DataFrame:
    """Counts, sums and rates per value of ``key`` (rows in ``groups`` order, lift NaN)."""
    outcome, reason = acc["outcome"], acc["unknown_reason"]
    labelled = outcome != "unknown"
    parts = pd.DataFrame(
        {
            "n_accounts": 1,
            "n_labelled": labelled.astype(int),
            **{f"n_{o}": (outcome == o).astype(int) for o in OUTCOMES},
            **{f"n_{r}": (reason == r).astype(int) for r in UNKNOWN_REASONS},
            "_p_sum": acc["churn_probability"].where(labelled, 0.0),
            "arr_lost": acc["arr"].where(outcome == "churned", 0.0).fillna(0.0),
            "arr_churned_in_lead": acc["arr"].where(reason == "churned_in_lead", 0.0).fillna(0.0),
            "arr_predicted": acc["expected_arr_at_risk"].where(labelled, 0.0).fillna(0.0),
            "arr_predicted_all": acc["expected_arr_at_risk"].fillna(0.0),
        },
        index=acc.index,
    )
    sums = parts.groupby(key.to_numpy(), sort=False).sum().reindex(list(groups), fill_value=0)
    sums[_COUNT_FIELDS] = sums[_COUNT_FIELDS].astype(int)
    denom = sums["n_labelled"].where(sums["n_labelled"] > 0)
    sums["churn_rate"] = sums["n_churned"] / denom
    sums["mean_predicted"] = sums.pop("_p_sum") / denom
    sums[["lift", "brier", "roc_auc"]] = np.nan
    return sums[_STAT_FIELDS]


def _brier_auc(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    if len(y) == 0:
        return float("nan"), float("nan")
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
    return float(np.mean((p - y) ** 2)), auc


def _stats(row: pd.Series) -> GroupStats:
    return GroupStats(
        **{f: int(row[f]) if f in _COUNT_FIELDS else float(row[f]) for f in _STAT_FIELDS}
    )


def measure_run(
    old_scores: pd.DataFrame,
    flagged_ids: Collection[str],
    periods: pd.DataFrame,
    *,
    run_id: str,
    as_of: object,
    lead_days: int,
    horizon_days: int,
    data_end: object,
) -> TrackRecord:
    """Measure an earlier run's scores and flags against the realised outcomes.

    Parameters
    ----------
    old_scores : pandas.DataFrame
        The earlier run's :func:`~churnlab.modeling.scoring.score_accounts` output
        (needs ``account_id``, ``churn_probability``, ``arr``, ``renewal_date``,
        ``expected_arr_at_risk``; an ``as_of`` column, when present, must equal
        ``as_of``). Account ids are compared as strings and must be unique.
    flagged_ids : collection of str
        The accounts the earlier run flagged (e.g. red band or early warning: the
        caller decides). Each must be one of ``old_scores``' accounts.
    periods : pandas.DataFrame
        The *current* data's :func:`~churnlab.observations.periods.active_periods`.
    run_id : str
        Id of the earlier run, carried into the table.
    as_of : date-like
        The earlier run's scoring date.
    lead_days, horizon_days : int
        The label window ``(as_of + lead_days, as_of + lead_days + horizon_days]``,
        as in training.
    data_end : date-like
        Last day the current data describes.

    Returns
    -------
    TrackRecord
        Per-account outcomes and the flagged / rest / overall / decile summaries
        (definitions in the :mod:`churnlab.modeling.track_record` docstring).

    Raises
    ------
    ValueError
        On a missing column, a repeated account id, a missing probability, a
        flagged id that was not scored, an ``as_of`` column that disagrees, or a
        label window that ends after ``data_end`` (check :func:`window_closed`
        first: it also waits for the grace window).
    """
    _check_window(lead_days, horizon_days)
    as_of_ts = pd.Timestamp(as_of).normalize()
    data_end_ts = pd.Timestamp(data_end).normalize()
    window_start = as_of_ts + pd.Timedelta(days=int(lead_days))
    window_end = window_start + pd.Timedelta(days=int(horizon_days))
    if window_end > data_end_ts:
        raise ValueError(
            f"the label window of the run on {as_of_ts.date()} ends on {window_end.date()}, "
            f"after the data's last day {data_end_ts.date()}: it cannot be measured yet"
        )
    scores = _prepare_scores(old_scores, as_of_ts)
    flagged_set = {str(i) for i in flagged_ids}
    unknown_flags = sorted(flagged_set - set(scores["account_id"]))
    if unknown_flags:
        raise ValueError(f"flagged account(s) not in old_scores: {unknown_flags[:5]}")

    ids = scores["account_id"]
    labels, summary = _labels_in(periods, ids, as_of_ts, lead_days, horizon_days, data_end_ts)
    if lead_days > 0:
        lead, _ = _labels_in(periods, ids, as_of_ts, 0, lead_days, data_end_ts)
        churned_in_lead = ids.map(lead["label"]).eq(1).fillna(False).astype(bool)
        lead_churn = ids.map(lead["churn_date"])
    else:  # no lead time: an account churned by as_of is not eligible at all
        churned_in_lead = pd.Series(False, index=ids.index)
        lead_churn = pd.Series(pd.NaT, index=ids.index, dtype="datetime64[ns]")
    eligible = ids.isin(scoring_spine(periods, as_of_ts)["account_id"])

    label = ids.map(labels["label"]).astype("Int64")
    unlabelled = label.isna()
    churned = label.eq(1).fillna(False).astype(bool)
    renewal = scores["renewal_date"]
    renewed = ~unlabelled & ~churned & (renewal > window_start) & (renewal <= window_end)
    outcome = np.select([churned, renewed, ~unlabelled], OUTCOMES[:3], default="unknown")
    reason = np.select(
        [unlabelled & ~eligible, unlabelled & churned_in_lead, unlabelled],
        ["not_active", "churned_in_lead", "churn_pending"],
        default="",
    )
    churn_date = ids.map(labels["churn_date"]).where(churned, lead_churn.where(churned_in_lead))

    acc = scores.assign(
        flagged=ids.isin(flagged_set).to_numpy(),
        label=label.array,
        churn_date=pd.to_datetime(churn_date).astype("datetime64[ns]").to_numpy(),
        outcome=outcome,
        unknown_reason=reason,
    )
    acc = acc.sort_values(
        ["churn_probability", "account_id"], ascending=[False, True], kind="mergesort"
    ).reset_index(drop=True)
    n = len(acc)
    acc.insert(acc.columns.get_loc("flagged") + 1, "decile", np.arange(n) * 10 // max(n, 1) + 1)

    side = pd.Series(np.where(acc["flagged"], "flagged", "rest"), index=acc.index)
    groups = pd.concat(
        [
            _aggregate(acc, pd.Series("all", index=acc.index), ["all"]),
            _aggregate(acc, side, ["flagged", "rest"]),
        ]
    )
    overall_rate = groups.at["all", "churn_rate"]
    base = overall_rate if overall_rate > 0 else np.nan
    groups["lift"] = groups["churn_rate"] / base
    known = (acc["outcome"] != "unknown").to_numpy()
    y = (acc["outcome"] == "churned").astype(int).to_numpy()
    p = acc["churn_probability"].to_numpy()
    flagged = acc["flagged"].to_numpy()
    for name, mask in (("all", known), ("flagged", known & flagged), ("rest", known & ~flagged)):
        groups.loc[name, ["brier", "roc_auc"]] = _brier_auc(y[mask], p[mask])

    deciles = _aggregate(acc, acc["decile"], sorted(acc["decile"].unique()))
    deciles["lift"] = deciles["churn_rate"] / base
    deciles = deciles.rename_axis("decile").reset_index()
    deciles["decile"] = deciles["decile"].astype(int)

    return TrackRecord(
        run_id=str(run_id),
        as_of=as_of_ts,
        lead_days=int(lead_days),
        horizon_days=int(horizon_days),
        window_start=window_start,
        window_end=window_end,
        data_end=data_end_ts,
        accounts=acc,
        flagged=_stats(groups.loc["flagged"]),
        rest=_stats(groups.loc["rest"]),
        overall=_stats(groups.loc["all"]),
        deciles=deciles,
        observations=summary,
    )
