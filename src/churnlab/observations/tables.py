"""The training and scoring observation tables of one scoring date, from the event logs.

Training rows: the month ends of the ``history_months`` months up to ``as_of`` plus the
renewal checkpoints in the same span, labelled (observations whose label window runs past
the data are dropped and counted). Scoring rows: every account active at ``as_of``,
unlabelled. Both go through the features engine in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from churnlab.observations._engine import build_observation_table, open_engine
from churnlab.observations.labels import (
    make_observations,
    month_end_grid,
    renewal_checkpoints,
    scoring_spine,
)

__all__ = ["SCORING_FLAG", "ObservationTables", "build_event_tables", "split_scoring"]

#: Boolean column of the combined table: True for the scoring rows.
SCORING_FLAG = "_scoring"


@dataclass(frozen=True)
class ObservationTables:
    """The labelled training table, the unlabelled scoring table and their counts."""

    training: pd.DataFrame
    scoring: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"ObservationTables(training={len(self.training)} rows, "
            f"scoring={len(self.scoring)} rows)"
        )

    def _repr_html_(self) -> str:
        """Each table's rows, accounts, as-of dates, date range and churn rate; the notes."""
        from churnlab.display import html_block
        from churnlab.vocabulary import vocabulary

        words = vocabulary()
        said = words.text
        header = [
            said(f"workbench.observations.{k}")
            for k in ("table", "rows", "accounts", "dates", "date_range", "label_rate")
        ]
        rows = []
        for name, table in (("training", self.training), ("scoring", self.scoring)):
            dates = (
                pd.to_datetime(table["as_of"]) if "as_of" in table else pd.Series(dtype="M8[ns]")
            )
            labels = pd.to_numeric(table["label"], errors="coerce") if "label" in table else None
            span = (
                f"{words.date(dates.min().date())} – {words.date(dates.max().date())}"
                if dates.notna().any()
                else said("workbench.missing")
            )
            rate = labels.mean() if labels is not None and labels.notna().any() else None
            rows.append(
                (
                    said(f"workbench.observations.{name}"),
                    words.number(len(table)),
                    words.number(table["account_id"].nunique()) if "account_id" in table else "",
                    words.number(dates.nunique()),
                    span,
                    words.rate(rate) if rate is not None else said("workbench.missing"),
                )
            )
        notes = [str(n) for n in self.summary.get("notes", [])]
        return html_block(said("workbench.observations.title"), rows, notes, header=header)


def build_event_tables(
    accounts: pd.DataFrame,
    subscriptions: pd.DataFrame,
    events: Any,
    periods: pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    data_end: pd.Timestamp,
    grace_days: int,
    lead_days: int,
    horizon_days: int,
    history_months: int,
    renewal_checkpoint_days: int,
    windows: Sequence[int],
    event_types: Sequence[str] | None,
    ratios: Mapping[str, Sequence[str]],
    touch_thresholds: tuple[float, float],
    engine: str = "duckdb",
    duckdb: Mapping[str, Any] | None = None,
    spark_master: str = "local[*]",
    spark_conf: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Training and scoring rows with their features in one table, flagged by ``_scoring``.

    Parameters
    ----------
    accounts, subscriptions, events : pandas.DataFrame
        The loaded input tables; ``events`` may instead be the validated event log on a
        backend (:class:`churnlab.data.EventSource`, anything with ``on(con)``): the
        engine then reads the file itself, and the events never pass through pandas.
    periods : pandas.DataFrame
        Active periods (:func:`churnlab.observations.active_periods`).
    as_of, data_end : pandas.Timestamp
        The scoring date and the last day the data describes.
    grace_days, lead_days, horizon_days, history_months, renewal_checkpoint_days : int
        The ``observation`` params.
    windows, event_types, ratios, touch_thresholds
        The ``features`` and ``tiers`` params (see :func:`build_observation_table`).
    engine, duckdb, spark_master, spark_conf
        ``features.engine`` (``duckdb`` or ``spark``), ``features.duckdb`` (``threads``,
        ``memory_limit``, ``temp_dir``; None = the bounded defaults) and
        ``features.spark.master`` / ``.conf``.

    Returns
    -------
    table : pandas.DataFrame
        Observation rows plus the boolean column :data:`SCORING_FLAG`.
    summary : dict
        Candidate, kept and dropped counts per kind of observation date, ``notes``:
        what was left out (a ratio whose columns the data does not give), and ``engine``:
        the backend that built the table and its settings (DuckDB's threads, memory
        limit and spill directory; Spark's master and version).

    Raises
    ------
    UsageError
        ``engine="spark"`` without pyspark or Java 17+ (the message says which).
    """
    start = as_of - pd.DateOffset(months=history_months)
    grid = month_end_grid(start, as_of)
    # A churn is known only grace_days after the cover ends, so a label window must close
    # grace_days before the data does; later windows are dropped and counted, never
    # labelled 0 (and no positive is lost to a still-open grace window).
    label_end = data_end - pd.Timedelta(days=grace_days)
    monthly, s1 = make_observations(periods, grid, lead_days, horizon_days, label_end)
    checkpoints = renewal_checkpoints(subscriptions, renewal_checkpoint_days, start, as_of)
    renewal, s2 = make_observations(periods, checkpoints, lead_days, horizon_days, label_end)
    # One engine pass for the training rows and the scoring rows (flagged by `_scoring`).
    scoring = scoring_spine(periods, as_of)
    spine = pd.concat(
        [
            monthly.assign(**{SCORING_FLAG: False}),
            renewal.assign(**{SCORING_FLAG: False}),
            scoring.assign(**{SCORING_FLAG: True}),
        ],
        ignore_index=True,
    )
    notes: list[str] = []
    with open_engine(engine, duckdb=duckdb, spark_master=spark_master, spark_conf=spark_conf) as (
        con,
        used,
    ):
        table = build_observation_table(
            accounts,
            subscriptions,
            events.on(con) if hasattr(events, "on") else events,
            spine,
            windows=tuple(windows),
            event_types=event_types,
            ratios={k: tuple(v) for k, v in ratios.items()},
            touch_thresholds=touch_thresholds,
            notes=notes,
            con=con,
        )
    summary: dict[str, Any] = {"month_end": asdict(s1), "renewal": asdict(s2), "engine": used}
    summary["dropped_window_past_data"] = sum(
        s.get("n_dropped_window_past_data_end", 0) for s in summary.values() if isinstance(s, dict)
    )
    summary["observations"] = int((~table[SCORING_FLAG].astype(bool)).sum())
    summary["notes"] = notes
    return table, summary


def split_scoring(both: pd.DataFrame, summary: dict[str, Any]) -> ObservationTables:
    """Split the table of :func:`build_event_tables` into training and scoring tables."""
    is_scoring = both[SCORING_FLAG].astype(bool)
    training = both[~is_scoring].drop(columns=SCORING_FLAG).reset_index(drop=True)
    scoring = both[is_scoring].drop(columns=SCORING_FLAG).reset_index(drop=True)
    return ObservationTables(training, scoring, {**summary, "scored_accounts": len(scoring)})
