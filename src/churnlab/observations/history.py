"""Fitting the label window, the training span and the backtest folds to the history at hand.

A churn model needs labelled observation dates: month ends whose label window
``(as_of + lead, as_of + lead + horizon]`` closes ``grace_days`` before the data ends. The
rolling-origin backtest then needs, in calendar months of labelled dates::

    folds                      test blocks, one month each
    + purge(horizon)           the training rows' windows must close before a test block
    + 1                        the calibration slice (the latest training month)
    + purge(horizon)           the fitted rows' windows must close before calibration
    + 2                        at least two months to fit on

with ``purge(h) = ceil((lead + h) / 30.44)`` months. :func:`fit_to_history` keeps the
params when the data allows them and otherwise shortens the horizon (to 60, then 30
days) and lowers the folds, saying so in its notes. When even a 30-day window with one
fold does not fit but some month is labelled, the models are cross-validated across
accounts instead (``backtest="accounts"``, stated); with no labelled month at all it
raises a :class:`~churnlab.errors.DataError` naming what is missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from churnlab.errors import DataError

__all__ = ["HistoryFit", "fit_to_history", "months_needed"]

#: Shorter label windows tried, in days, when the configured one does not fit.
FALLBACK_HORIZONS = (60, 30)
_MONTH_DAYS = 30.44


@dataclass(frozen=True)
class HistoryFit:
    """The observation and backtest settings the history allows, with what changed and why."""

    horizon_days: int
    history_months: int
    renewal_checkpoint_days: int
    n_folds: int
    labelled_months: int
    renewal_window_days: int
    notes: tuple[str, ...] = field(default=())
    backtest: str = "time"

    def as_params(self) -> dict[str, dict[str, int]]:
        """The settings as a params overlay (``observation``, ``model``, ``health``)."""
        return {
            "observation": {
                "horizon_days": self.horizon_days,
                "history_months": self.history_months,
                "renewal_checkpoint_days": self.renewal_checkpoint_days,
            },
            "model": {"n_folds": self.n_folds, "backtest": self.backtest},
            "health": {"renewal_window_days": self.renewal_window_days},
        }


def _purge(lead_days: int, horizon_days: int) -> int:
    return math.ceil((lead_days + horizon_days) / _MONTH_DAYS)


def months_needed(lead_days: int, horizon_days: int, n_folds: int) -> int:
    """Calendar months of labelled observation dates a backtest with ``n_folds`` needs."""
    return n_folds + 2 * _purge(lead_days, horizon_days) + 3


def labelled_months(
    first_day: pd.Timestamp,
    data_end: pd.Timestamp,
    *,
    grace_days: int,
    lead_days: int,
    horizon_days: int,
) -> int:
    """Month ends after ``first_day`` whose label window closes ``grace_days`` before the end."""
    last = data_end - pd.Timedelta(days=grace_days + lead_days + horizon_days)
    if last <= first_day:
        return 0
    ends = pd.date_range(first_day, last, freq="ME")
    return int(len(ends[ends > first_day]))


def fit_to_history(
    first_day: pd.Timestamp,
    data_end: pd.Timestamp,
    *,
    grace_days: int,
    lead_days: int,
    horizon_days: int,
    history_months: int,
    renewal_checkpoint_days: int,
    n_folds: int,
    renewal_window_days: int = 90,
) -> HistoryFit:
    """The largest label window and the most folds (up to the params') the history allows.

    Parameters
    ----------
    first_day, data_end : pandas.Timestamp
        The first subscription start and the last day the data describes.
    grace_days, lead_days, horizon_days, history_months, renewal_checkpoint_days : int
        The ``observation`` params.
    n_folds : int
        ``model.n_folds``.
    renewal_window_days : int
        ``health.renewal_window_days``: amounts at risk are shown over at most the label
        window, the horizon the churn probabilities are for.

    Returns
    -------
    HistoryFit
        The settings to use; ``notes`` says what was changed from the params and why.

    Raises
    ------
    DataError
        When not even a 30-day label window with one backtest fold fits in the data.
    """
    first_day, data_end = pd.Timestamp(first_day), pd.Timestamp(data_end)
    horizons = [horizon_days, *[h for h in FALLBACK_HORIZONS if h < horizon_days]]
    for horizon in horizons:
        have = labelled_months(
            first_day, data_end, grace_days=grace_days, lead_days=lead_days, horizon_days=horizon
        )
        folds = next(
            (k for k in range(n_folds, 0, -1) if have >= months_needed(lead_days, horizon, k)),
            None,
        )
        if folds is None:
            continue
        notes = []
        span = max(1, round((data_end - first_day).days / _MONTH_DAYS))
        if horizon != horizon_days:
            notes.append(
                f"The data covers {span} months: churn is predicted over the next {horizon} "
                f"days instead of {horizon_days} (a {horizon_days}-day label window leaves too "
                "few labelled months to train and test on)."
            )
        if folds != n_folds:
            notes.append(
                f"The backtest has {folds} fold{'s' * (folds > 1)} instead of {n_folds}: "
                f"{have} months of labelled observations are available."
            )
        history = min(history_months, span)
        if history != history_months:
            notes.append(
                f"Training observations span the {history} months the data covers "
                f"(observation.history_months is {history_months})."
            )
        checkpoint = min(renewal_checkpoint_days, horizon)
        if checkpoint != renewal_checkpoint_days:
            notes.append(
                f"Renewal checkpoints are {checkpoint} days before each renewal, inside the "
                f"{horizon}-day label window (observation.renewal_checkpoint_days is "
                f"{renewal_checkpoint_days})."
            )
        window = renewal_window_days
        if horizon != horizon_days:
            window = min(renewal_window_days, horizon)
        notes.extend(_window_note(window, renewal_window_days))
        return HistoryFit(horizon, history, checkpoint, folds, have, window, tuple(notes))
    shortest = min(horizons)
    have = labelled_months(
        first_day, data_end, grace_days=grace_days, lead_days=lead_days, horizon_days=shortest
    )
    if have >= 1:  # too short for a backtest in time: cross-validate across accounts
        span = max(1, round((data_end - first_day).days / _MONTH_DAYS))
        folds = max(2, min(n_folds, 3))
        window = min(renewal_window_days, shortest)
        notes = [
            f"The data covers {span} months: churn is predicted over the next {shortest} "
            f"days instead of {horizon_days}.",
            f"Too short a history for a backtest on a later period: the models are "
            f"checked by {folds}-fold cross-validation across accounts, which does not "
            "measure how they hold up over time.",
        ]
        notes.extend(_window_note(window, renewal_window_days))
        return HistoryFit(
            shortest,
            min(history_months, span),
            min(renewal_checkpoint_days, shortest),
            folds,
            have,
            window,
            tuple(notes),
            backtest="accounts",
        )
    need = 1 + math.ceil((grace_days + lead_days + shortest) / _MONTH_DAYS)
    raise DataError(
        "subscriptions",
        "start_date",
        f"covers too little time to train a churn model: from {first_day.date()} to "
        f"{data_end.date()}, no month end has a {shortest}-day label window that closes "
        f"{grace_days} days (observation.grace_days) before the data ends; that takes about "
        f"{need} months of subscriptions",
        hint="export a longer history, or lower observation.grace_days / lead_days",
    )


def _window_note(window: int, renewal_window_days: int) -> list[str]:
    """The note that says the renewal window was shortened to ``window`` days."""
    if window == renewal_window_days:
        return []
    return [
        f"The renewal map and the ARR at risk cover the next {window} days, the "
        f"horizon of the churn probabilities (health.renewal_window_days is "
        f"{renewal_window_days})."
    ]
