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
from churnlab.messages import Message, message

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
    #: ``notes`` as messages of the catalogues (``churnlab.messages``), in the same order.
    messages: tuple[Message, ...] = field(default=())

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
                message(
                    "messages.data.shorter_horizon",
                    months=span,
                    horizon=horizon,
                    asked=horizon_days,
                )
            )
        if folds != n_folds:
            key = "messages.data.fewer_folds" + ("_one" if folds == 1 else "")
            notes.append(message(key, folds=folds, asked=n_folds, months=have))
        history = min(history_months, span)
        if history != history_months:
            notes.append(
                message("messages.data.shorter_history", months=history, asked=history_months)
            )
        checkpoint = min(renewal_checkpoint_days, horizon)
        if checkpoint != renewal_checkpoint_days:
            notes.append(
                message(
                    "messages.data.closer_checkpoint",
                    days=checkpoint,
                    horizon=horizon,
                    asked=renewal_checkpoint_days,
                )
            )
        window = renewal_window_days
        if horizon != horizon_days:
            window = min(renewal_window_days, horizon)
        notes.extend(_window_note(window, renewal_window_days))
        return HistoryFit(
            horizon,
            history,
            checkpoint,
            folds,
            have,
            window,
            tuple(str(m["text"]) for m in notes),
            messages=tuple(notes),
        )
    shortest = min(horizons)
    have = labelled_months(
        first_day, data_end, grace_days=grace_days, lead_days=lead_days, horizon_days=shortest
    )
    if have >= 1:  # too short for a backtest in time: cross-validate across accounts
        span = max(1, round((data_end - first_day).days / _MONTH_DAYS))
        folds = max(2, min(n_folds, 3))
        window = min(renewal_window_days, shortest)
        notes = [
            message(
                "messages.data.short_history_horizon",
                months=span,
                horizon=shortest,
                asked=horizon_days,
            ),
            message("messages.data.cross_validation", folds=folds),
        ]
        notes.extend(_window_note(window, renewal_window_days))
        return HistoryFit(
            shortest,
            min(history_months, span),
            min(renewal_checkpoint_days, shortest),
            folds,
            have,
            window,
            tuple(str(m["text"]) for m in notes),
            backtest="accounts",
            messages=tuple(notes),
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


def _window_note(window: int, renewal_window_days: int) -> list[Message]:
    """The note that says the renewal window was shortened to ``window`` days."""
    if window == renewal_window_days:
        return []
    return [message("messages.data.shorter_window", days=window, asked=renewal_window_days)]
