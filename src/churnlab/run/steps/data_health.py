"""Stage 00, data health: load and check the inputs, fit the history, KPIs, observation tables.

Notebook ``00_data_health`` calls these functions cell by cell; :func:`run` calls them in
the same order without a kernel. Writes ``data_health.json``, ``kpis.csv``,
``observations.parquet``, ``scoring.parquet``, ``account_names.parquet``,
``periods.parquet`` (event-log data) and the ``retention_trend`` chart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from churnlab.atomic import write_json
from churnlab.config import Params, deep_merge, validate_params
from churnlab.csvsafe import write_csv
from churnlab.run.steps import executive
from churnlab.run.steps.context import (
    Inputs,
    StageContext,
    account_names,
    chart_words,
    resolve_data_end,
    save_chart,
)
from churnlab.run.steps.event_inputs import (
    DRIVER_EVENT_TYPES,
    EngineInputs,
    events_end,
    load_inputs,
)
from churnlab.vocabulary import Vocabulary

if TYPE_CHECKING:  # the observations package loads the features engine (Ibis, DuckDB)
    from churnlab.observations import HistoryFit, ObservationTables

#: What the stage imports, for a kernel started ahead to import while the stage before runs.
WARM_UP = (
    "churnlab.data",
    "churnlab.observations",
    "churnlab.kpis",
    "churnlab.executive",
    "churnlab.plots.kpis",
    "churnlab.plots.executive",
)

__all__ = [
    "active_periods",
    "DRIVER_EVENT_TYPES",
    "EngineInputs",
    "adapt",
    "check",
    "check_engine",
    "data_warning_messages",
    "data_warnings",
    "fit_history",
    "kpi_table",
    "load_inputs",
    "observation_tables",
    "retention_chart",
    "run",
    "write",
]


#: Days data.as_of may lie after the latest date in the files (a quiet end of a small
#: export; past STALE_TABLE_DAYS each table gets a warning); further is a date beyond the
#: data, refused.
DATA_END_SLACK_DAYS = 31
#: Days one table may end before the data's last day before a warning says so.
STALE_TABLE_DAYS = 7


def fit_history(cfg: Params, inputs: Inputs) -> HistoryFit | None:
    """The label window, training span and folds the data's history allows (None: snapshot).

    Raises
    ------
    DataError
        When the history is too short for even a 30-day label window and one fold.
    ParamsError
        When the scoring date (observation.as_of) is outside the data, or data.as_of lies
        more than :data:`DATA_END_SLACK_DAYS` after the latest date in the files.
    """
    from churnlab.errors import ParamsError
    from churnlab.observations import fit_to_history

    if inputs.shape == "snapshot":
        return None
    obs = cfg.observation
    first, as_of = inputs.subscriptions["start_date"].min(), pd.Timestamp(cfg.scoring_as_of())
    latest = max(inputs.subscriptions["start_date"].max(), events_end(inputs))
    latest = latest.normalize()
    if inputs.data_end - latest > pd.Timedelta(days=DATA_END_SLACK_DAYS):
        raise ParamsError(
            f"data.as_of = {inputs.data_end.date()} is after the data: the latest event or "
            f"subscription start in the files is on {latest.date()}, "
            f"{(inputs.data_end - latest).days} days earlier, and the days between would read "
            "as silence (false churn, too little revenue). How to fix: leave data.as_of at "
            f"auto (it reads {latest.date()} from the files), or set the date the export "
            "really ends"
        )
    if not first < as_of <= inputs.data_end:
        raise ParamsError(
            f"observation.as_of = {as_of.date()} is outside the data: the subscriptions start "
            f"on {first.date()} and the data ends on {inputs.data_end.date()} (data.as_of). "
            "How to fix: leave observation.as_of at auto (the last month end of the data), or "
            "set a date inside the data"
        )
    return fit_to_history(
        inputs.subscriptions["start_date"].min(),
        inputs.data_end,
        grace_days=obs.grace_days,
        lead_days=obs.lead_days,
        horizon_days=obs.horizon_days,
        history_months=obs.history_months,
        renewal_checkpoint_days=obs.renewal_checkpoint_days,
        n_folds=cfg.model.n_folds,
        renewal_window_days=cfg.health.renewal_window_days,
    )


def data_warnings(inputs: Inputs) -> list[str]:
    """Warnings about the export itself: a table that ends well before the data's last day.

    A typical failed export job: the subscriptions are current, the events stopped weeks
    ago. The days without events would read as silence (falling usage, false risk).
    """
    return [str(m["text"]) for m in data_warning_messages(inputs)]


def data_warning_messages(inputs: Inputs) -> list[dict[str, Any]]:
    """:func:`data_warnings` as messages of the catalogues (``churnlab.messages``)."""
    from churnlab.messages import message

    if inputs.shape == "snapshot":
        return []
    ends = {
        "subscriptions": inputs.subscriptions["start_date"].max(),
        "events": events_end(inputs),
    }
    out = []
    for table, end in ends.items():
        gap = (inputs.data_end - end.normalize()).days
        if gap > STALE_TABLE_DAYS:
            out.append(
                message(
                    "messages.data.table_ends_early",
                    table=table,
                    table_end=end.date(),
                    gap=gap,
                    data_end=inputs.data_end.date(),
                )
            )
    return out


def adapt(cfg: Params, fit: HistoryFit | None) -> Params:
    """``cfg`` with the settings of ``fit`` (unchanged for snapshots)."""
    if fit is None:
        return cfg
    return validate_params(deep_merge(cfg.to_dict(), fit.as_params()), root=cfg.root)


def check_engine(cfg: Params) -> None:
    """Refuse ``features.engine: spark`` without pyspark or Java 17+ before a run starts.

    Raises
    ------
    UsageError
        Naming the missing pyspark or Java and how to install it (``churnlab`` exits 2).
    """
    if cfg.features.engine == "spark":
        from churnlab.observations import check_spark

        check_spark()


def check(cfg: Params) -> tuple[Inputs, HistoryFit | None]:
    """What ``churnlab validate`` checks: the engine is there, the data loads, and its
    history fits a model.

    The same preconditions stage 00 needs, so validate and run agree. ``data.as_of:
    auto`` is read from the data first (``inputs.data_end`` is the day it found).
    """
    check_engine(cfg)
    cfg = resolve_data_end(cfg)
    inputs = load_inputs(cfg)
    if not inputs.health.has_errors:
        return inputs, fit_history(cfg, inputs)
    return inputs, None


def active_periods(cfg: Params, inputs: Inputs) -> pd.DataFrame | None:
    """Active periods (subscriptions joined across grace gaps); None for snapshot data."""
    from churnlab.observations import active_periods as _periods

    if inputs.shape == "snapshot":
        return None
    return _periods(inputs.subscriptions, cfg.observation.grace_days, inputs.data_end)


def kpi_table(
    cfg: Params, inputs: Inputs, periods: pd.DataFrame | None, months: int = 24
) -> pd.DataFrame:
    """Monthly KPIs of the last ``months`` complete months: overall (``segment="all"``) and per tier.

    Snapshot data has no history: one row per segment at the snapshot date, with the
    share of churned accounts as the logo churn rate over the export's own churn period.
    """
    if inputs.shape == "snapshot" or periods is None:
        return _snapshot_kpis(cfg, inputs)
    from churnlab.kpis import customer_ltv, last_complete_month
    from churnlab.kpis import kpi_table as _kpi_table

    end = last_complete_month(inputs.data_end)
    # The data's first month has no history before it (its base is whatever the export
    # starts with), so reporting starts with the second month.
    first_sub = pd.Timestamp(inputs.subscriptions["start_date"].min()).replace(day=1)
    start = max(first_sub + pd.DateOffset(months=1), end - pd.DateOffset(months=months - 1))
    out = _kpi_table(
        inputs.subscriptions,
        periods,
        start,
        end,
        cfg.observation.grace_days,
        tier_thresholds=cfg.tiers.thresholds,
    )
    out["customer_ltv"] = customer_ltv(out, cfg.kpis.gross_margin)
    out["month"] = pd.to_datetime(out["month"]).dt.strftime("%Y-%m-%d")
    return out


def _snapshot_kpis(cfg: Params, inputs: Inputs) -> pd.DataFrame:
    """Headline numbers of a one-row-per-account snapshot (no monthly history)."""
    table = snapshot_table(cfg, inputs)
    rows = []
    groups = [("all", table)] + list(table.groupby("touch_tier", observed=True))
    for segment, part in groups:
        active = part[part["label"] == 0]
        mrr = float(active["mrr"].sum()) if "mrr" in part else float("nan")
        rows.append(
            {
                "month": pd.Timestamp(cfg.data_end()).replace(day=1).strftime("%Y-%m-%d"),
                "segment_by": "touch_tier",
                "segment": segment,
                "active_accounts_start": len(part),
                "active_accounts": len(active),
                "churned_logos": int(part["label"].sum()),
                "logo_churn_rate": float(part["label"].mean()),
                "mrr": mrr,
                "arr": 12 * mrr,
                "gross_revenue_retention": float("nan"),
                "net_revenue_retention": float("nan"),
                "expansion_rate": float("nan"),
            }
        )
    return pd.DataFrame(rows)


def retention_chart(kpis: pd.DataFrame, words: Vocabulary | None = None) -> Any:
    """GRR and NRR by month (None when the data has no monthly history), in ``words``."""
    from churnlab.plots.kpis import plot_retention_trend

    overall = kpis[kpis["segment"] == "all"]
    if len(overall) < 2 or overall["net_revenue_retention"].isna().all():
        return None
    return plot_retention_trend(overall, words=words)


def observation_tables(
    cfg: Params, inputs: Inputs, periods: pd.DataFrame | None, as_of: str
) -> ObservationTables:
    """Training observations (labelled) and the scoring table at ``as_of`` (cached on disk).

    Training rows: month ends of the ``observation.history_months`` months up to
    ``as_of`` plus renewal checkpoints in the same span; observations whose label window
    runs past the data are dropped and counted. Scoring rows: every account active at
    ``as_of``, unlabelled. Snapshot data gives one row per account.
    """
    from churnlab.observations import (
        ObservationTables,
        build_event_tables,
        cached,
        cached_with_summary,
        engine_code_digest,
        fingerprint,
        split_scoring,
    )

    as_of_ts = pd.Timestamp(as_of)
    key_params = {
        "as_of": str(as_of_ts.date()),
        "data": cfg.data.model_dump(mode="json"),
        "observation": cfg.observation.model_dump(mode="json"),
        "features": cfg.features.model_dump(mode="json"),
        "tiers": cfg.tiers.model_dump(mode="json"),
        "code": engine_code_digest(),
    }
    key = fingerprint(list(inputs.files), key_params)
    cache_dir = cfg.path(cfg.run.cache_dir)
    if inputs.shape == "snapshot" or periods is None:
        training = cached(cache_dir, key + "-train", lambda: snapshot_table(cfg, inputs))
        scoring = training[training["label"] == 0].assign(label=pd.NA)
        summary = {"observations": len(training), "scored_accounts": len(scoring)}
        return ObservationTables(training, scoring.reset_index(drop=True), summary)

    obs, features = cfg.observation, cfg.features
    both, summary = cached_with_summary(
        cache_dir,
        key + "-obs",
        lambda: build_event_tables(
            inputs.accounts,
            inputs.subscriptions,
            getattr(inputs, "events_source", None) or inputs.events,
            periods,
            as_of=as_of_ts,
            data_end=inputs.data_end,
            grace_days=obs.grace_days,
            lead_days=obs.lead_days,
            horizon_days=obs.horizon_days,
            history_months=obs.history_months,
            renewal_checkpoint_days=obs.renewal_checkpoint_days,
            windows=features.windows,
            event_types=features.event_types,
            ratios=features.ratios,
            touch_thresholds=cfg.tiers.thresholds,
            engine=features.engine,
            duckdb=features.duckdb.model_dump(),
            spark_master=features.spark.master,
            spark_conf=features.spark.conf,
        ),
    )
    return split_scoring(both, summary)


def snapshot_table(cfg: Params, inputs: Inputs) -> pd.DataFrame:
    """The observation table of a one-row-per-account snapshot, with tier and empty dates."""
    from churnlab.data import snapshot_observations
    from churnlab.vocabulary import touch_tier

    snap = cfg.data.snapshot
    table = snapshot_observations(
        inputs.snapshot,
        as_of=pd.Timestamp(cfg.data_end()),
        id_column=snap.id_column,
        mrr_column=snap.mrr_column,
        tenure_column=snap.tenure_column,
        tenure_unit=snap.tenure_unit,
    )
    if "account_id" not in table:
        table = table.rename(columns={snap.id_column: "account_id"})
    if "arr" not in table:
        table["arr"] = float("nan")
    if "touch_tier" not in table:
        table["touch_tier"] = touch_tier(table["arr"], cfg.tiers.thresholds)
    for column in ("renewal_date", "churn_date"):
        if column not in table:
            table[column] = pd.NaT
    if "days_to_renewal" not in table:
        table["days_to_renewal"] = float("nan")
    return table


def write(
    ctx: StageContext,
    inputs: Inputs,
    periods: pd.DataFrame | None,
    kpis: pd.DataFrame,
    tables: ObservationTables,
    fit: HistoryFit | None = None,
) -> list[str]:
    """Hand the stage's results to the next stages; returns the names of the files written.

    ``data_health.json`` records what was adapted to the data: ``adapted`` (the settings
    of ``fit``, which the later stages use) and ``notes`` (every adaptation in words).
    """
    from churnlab.messages import literal

    folder = ctx.folder
    health = inputs.health.to_dict() if hasattr(inputs.health, "to_dict") else {}
    health["data_end"] = str(inputs.data_end.date())
    notes = [  # each note as a message (churnlab.messages), the loaders' as they are
        *(health.get("notes_messages") or map(literal, health.get("notes", []))),
        *((fit.messages or tuple(map(literal, fit.notes))) if fit is not None else ()),
        *map(literal, tables.summary.get("notes", [])),
    ]
    health["notes"] = [m["text"] for m in notes]
    health["notes_messages"] = notes
    health["adapted"] = fit.as_params() if fit is not None else {}
    warnings = data_warning_messages(inputs)
    health["warnings"] = [m["text"] for m in warnings]
    health["warnings_messages"] = warnings
    source = getattr(inputs, "events_source", None)
    if source is not None:
        health["event_types"] = source.event_types
    elif inputs.events is not None:
        health["event_types"] = sorted(map(str, inputs.events["event_type"].dropna().unique()))
    health["observations"] = {
        "training_rows": len(tables.training),
        "scoring_rows": len(tables.scoring),
        "dropped_window_past_data": tables.summary.get("dropped_window_past_data", 0),
        "summary": tables.summary,
    }
    written = [
        write_json(folder.data_health, health),
        write_csv(kpis, folder.kpis),
    ]
    tables.training.to_parquet(folder.observations, index=False)
    tables.scoring.to_parquet(folder.scoring, index=False)
    account_names(inputs).to_parquet(folder.account_names, index=False)
    written += [folder.observations, folder.scoring, folder.account_names]
    if periods is not None:
        periods.to_parquet(folder.periods, index=False)
        written.append(folder.periods)
    return sorted(p.name for p in written)


def run(ctx: StageContext) -> None:
    """The whole stage, as notebook ``00_data_health`` runs it."""
    cfg = ctx.params
    inputs = load_inputs(cfg)
    fit = fit_history(cfg, inputs)
    cfg = adapt(cfg, fit)
    periods = active_periods(cfg, inputs)
    kpis = kpi_table(cfg, inputs, periods)
    fig = retention_chart(kpis, chart_words(cfg))
    if fig is not None:
        save_chart(fig, ctx.folder.chart("retention_trend"))
    tables = observation_tables(cfg, inputs, periods, ctx.as_of)
    write(ctx, inputs, periods, kpis, tables, fit)
    executive.write(ctx, cfg, inputs, periods, kpis)
