"""Track record: how an earlier run's scores and flags held up against what happened.

Each run scores every active account at its scoring date ``as_of`` and flags some
of them (red health band, early-warning list). Once that run's label window has
closed, :func:`measure_run` labels the run's scored accounts from the *current*
data's active periods with the same rule as training
(:func:`churnlab.observations.labels.make_observations`, called on a spine of the
old run's accounts at the old ``as_of``) and compares the old probabilities and
flags with the outcomes.

When can a run be measured (:func:`window_closed`)
    ``as_of + lead_days + horizon_days + grace_days <= data_end``: the label window
    ``(as_of + lead_days, as_of + lead_days + horizon_days]`` has ended and the grace
    window of a churn on its last day has been observed too, so every churn in the
    window is confirmed. :func:`measure_run` refuses a run whose label window itself
    ends after ``data_end``; a run measured before the grace window closed gets its
    unconfirmed churns counted as ``unknown`` (``churn_pending``).

Outcome of each old scored account (column ``outcome`` of :attr:`TrackRecord.accounts`)
    * ``churned``: label 1, the churn date lies in the label window;
    * ``renewed``: label 0 and the old ``renewal_date`` lies in the label window
      (same bounds as the label): the contract came up for renewal and the account
      stayed. A renewal that came up during the lead time does not count (the
      account is ``open``), because the probability was about the label window only;
    * ``open``: label 0 and no renewal in the label window (still under contract, or
      no ``renewal_date``);
    * ``unknown``: the label rule dropped the account. ``unknown_reason`` says why:
      ``churned_in_lead`` (a confirmed churn in ``(as_of, as_of + lead_days]``,
      found by the same label rule applied to that lead window), ``churn_pending``
      (the cover ended but the churn is not confirmed at ``data_end``; this includes
      a cover end in the lead time whose grace window is still open, which
      :class:`~churnlab.observations.labels.ObservationSummary` counts under
      "churned in lead") or ``not_active`` (the current periods do not show the
      account active at ``as_of``: it vanished from the data or its history was
      corrected).

Churn during the lead time
    An account that churned before the label window opened is **not** counted as
    churned and is left out of every rate, lift, Brier score and AUC: the probability
    was a prediction for the label window, training drops such rows too, and mixing
    them in would make the realised rate incomparable with the predicted one. They
    are reported separately (``n_churned_in_lead``, ``arr_churned_in_lead``) and
    :func:`sentence` names them, because for the flagged accounts they are real
    losses that came too early to act on.

Rates and sums (per group: flagged, rest, all, or a decile)
    * ``n_labelled = n_churned + n_renewed + n_open``, ``n_unknown =
      n_churned_in_lead + n_churn_pending + n_not_active``, and the two add up to
      ``n_accounts``;
    * ``churn_rate = n_churned / n_labelled`` (NaN when nothing is labelled);
    * ``mean_predicted``: mean old ``churn_probability`` over the group's labelled
      accounts, so that it compares like for like with ``churn_rate``;
    * ``lift = churn_rate / overall churn_rate`` (1 for all accounts; NaN when the
      overall rate is 0);
    * ``arr_lost``: sum of old ``arr`` over ``churned`` accounts;
      ``arr_churned_in_lead``: the same over ``churned_in_lead`` accounts;
      ``arr_predicted``: sum of old ``expected_arr_at_risk`` over the *labelled*
      accounts (the like-for-like comparison with ``arr_lost``);
      ``arr_predicted_all``: the same over *all* the group's old scored accounts
      (what the old report announced). Missing ARR counts as 0 in these sums;
    * ``brier``: mean of ``(p - label)^2`` over labelled accounts; ``roc_auc``:
      :func:`sklearn.metrics.roc_auc_score` over labelled accounts when both classes
      are present, else NaN. Both are NaN on decile rows (within one decile they
      say little).

Deciles
    The old scored accounts (all of them, labelled or not, so that the deciles are
    those the old run saw) are sorted by ``(churn_probability desc, account_id asc)``;
    position ``i`` (0-based) of ``n`` gets ``decile = i * 10 // n + 1``: decile 1 is
    the highest risk, sizes differ by at most one, ties are broken by account id.
    With fewer than 10 accounts some deciles are empty and have no row. The
    per-decile ``(mean_predicted, churn_rate)`` pairs are the reliability table.

The code: ``_outcomes`` measures a run (:func:`window_closed`, :func:`measure_run`,
:class:`GroupStats`, :class:`TrackRecord`); ``_summary`` presents measured runs
(:func:`track_record_table`, :func:`sentence`, :func:`sentence_message`).
"""

from churnlab.modeling.track_record._outcomes import (
    OUTCOMES,
    UNKNOWN_REASONS,
    GroupStats,
    TrackRecord,
    measure_run,
    window_closed,
)
from churnlab.modeling.track_record._summary import (
    TABLE_COLUMNS,
    sentence,
    sentence_message,
    track_record_table,
)

__all__ = [
    "OUTCOMES",
    "TABLE_COLUMNS",
    "UNKNOWN_REASONS",
    "GroupStats",
    "TrackRecord",
    "measure_run",
    "sentence",
    "sentence_message",
    "track_record_table",
    "window_closed",
]
