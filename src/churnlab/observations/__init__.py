"""Observations: active periods, churn labels and as-of features, one row per account and date.

The stage between the loaded data and every analysis::

    periods = active_periods(subscriptions, grace_days=30, data_end=data_end)
    spine, summary = make_observations(periods, month_end_grid(start, as_of), 0, 90, data_end)
    table = build_observation_table(accounts, subscriptions, events, spine)
    numeric, categorical = feature_columns(table)

- :mod:`~churnlab.observations.periods`: active periods across grace gaps, MRR on a day.
- :mod:`~churnlab.observations.labels`: observation dates, the spine, churn labels.
- :mod:`~churnlab.observations.schema`: the observation table's column contract.
- :mod:`~churnlab.observations.tables`: the training and scoring tables of a scoring date.
- :mod:`~churnlab.observations.cache`: the content-addressed table cache.
- :mod:`~churnlab.observations.history`: the label window and folds the history allows.
- ``_engine``: the fast features engine (Ibis on DuckDB), reached through
  :func:`build_observation_table` only.
"""

from churnlab.observations._engine import build_observation_table, check_spark
from churnlab.observations.cache import cached, cached_with_summary, engine_code_digest, fingerprint
from churnlab.observations.history import HistoryFit, fit_to_history
from churnlab.observations.labels import (
    ObservationSummary,
    make_observations,
    month_end_grid,
    renewal_checkpoints,
    scoring_spine,
)
from churnlab.observations.periods import active_periods, coverage_intervals, mrr_on
from churnlab.observations.schema import (
    META_COLUMNS,
    STATIC_COLUMNS,
    count_column,
    feature_columns,
    usable_features,
    usable_features_said,
)
from churnlab.observations.tables import ObservationTables, build_event_tables, split_scoring

__all__ = [
    "META_COLUMNS",
    "STATIC_COLUMNS",
    "HistoryFit",
    "ObservationSummary",
    "ObservationTables",
    "active_periods",
    "build_event_tables",
    "build_observation_table",
    "cached",
    "check_spark",
    "cached_with_summary",
    "count_column",
    "coverage_intervals",
    "engine_code_digest",
    "feature_columns",
    "fingerprint",
    "fit_to_history",
    "make_observations",
    "month_end_grid",
    "mrr_on",
    "renewal_checkpoints",
    "scoring_spine",
    "split_scoring",
    "usable_features",
    "usable_features_said",
]
