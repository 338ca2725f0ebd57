"""Stage 00's inputs with the event log left where it lies (#19): checked on DuckDB, not pandas.

:func:`load_inputs` is what stage 00 and ``churnlab validate`` load with
(:mod:`churnlab.run.steps.data_health` re-exports it); the pandas loader
(:func:`churnlab.run.steps.context.load_inputs`) stays for the workbench and snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churnlab.config import Params
from churnlab.run.steps.context import Inputs, input_files
from churnlab.run.steps.context import load_inputs as load_inputs_in_pandas

__all__ = ["DRIVER_EVENT_TYPES", "EngineInputs", "events_end", "load_inputs"]


#: Event types the driver's KPIs read besides the CS touches (``engagement.touch_types``):
#: the onboarding milestones of :func:`churnlab.executive.onboarding_table`.
DRIVER_EVENT_TYPES = ("onboarding_completed", "first_value")


@dataclass(frozen=True)
class EngineInputs(Inputs):
    """:class:`Inputs` whose event log stays where it lies (#19).

    The events were checked by DuckDB reading the file in place; ``events_source`` reads
    the validated log again on the features engine (DuckDB or Spark), and ``events``
    holds only the few events the driver's KPIs read (:data:`DRIVER_EVENT_TYPES` and the
    CS touches of ``engagement.touch_types``), never the whole log.
    """

    events_source: Any = None


def load_inputs(cfg: Params) -> Inputs:
    """Load and validate the inputs; an event log is checked on DuckDB, never in pandas.

    Accounts and subscriptions are read with pandas; the events file is read and checked
    by DuckDB in place (same rules, counts and messages as
    :func:`churnlab.run.steps.context.load_inputs`, which reads it with pandas), with
    ``features.duckdb``'s threads, memory limit and spill directory. Snapshot data is
    read as before.

    Raises
    ------
    DataError
        When the data breaks a rule; the message names file, column, rule and rows.
    """
    if cfg.data.shape == "snapshot":
        return load_inputs_in_pandas(cfg)
    return _cached_inputs(cfg, lambda: _load_on_engine(cfg))


def _load_on_engine(cfg: Params) -> EngineInputs:
    import ibis

    from churnlab import data as churn_data
    from churnlab.observations._engine.backend import default_duckdb_settings

    data_end = pd.Timestamp(cfg.data_end())
    files = tuple(input_files(cfg))
    duck = cfg.features.duckdb
    con = ibis.duckdb.connect(
        **default_duckdb_settings(duck.threads, duck.memory_limit, duck.temp_dir)
    )
    try:
        loaded, health = churn_data.load_event_logs(
            *files,
            columns=cfg.data.columns.model_dump(),
            data_end=str(cfg.data_end()),
            fmt=cfg.data.format,
            duplicate_events=cfg.data.duplicate_events,
            events_con=con,
        )
    finally:
        con.disconnect()
    source = loaded.events_source
    touches = [t for names in cfg.engagement.touch_types.values() for t in names]
    return EngineInputs(
        "events",
        data_end,
        health,
        files,
        accounts=loaded.accounts,
        subscriptions=loaded.subscriptions,
        events=source.frame([*DRIVER_EVENT_TYPES, *touches]),
        events_source=source,
    )


def _cached_inputs(cfg: Params, load: Any) -> EngineInputs:
    """The checked inputs of unchanged files and params, from ``run.cache_dir`` (#21).

    Checking a large event log takes a while (87 s at 100k accounts and 89M events), and a
    rerun of the same export (a report or model param changed, a scheduled run repeated)
    would check the same bytes again. The result is kept as ``inputs-<key>.pickle``, the
    key being the sha256 of the files' bytes, the ``data``, ``engagement`` and
    ``features.duckdb`` params and the loader's own code
    (:func:`~churnlab.observations.cache.code_digest`): any change checks the files again.
    The warnings the check gave are given again; a damaged entry is checked again.
    """
    import pickle
    import warnings

    from churnlab.atomic import atomic_path
    from churnlab.data import DataWarning
    from churnlab.observations.cache import CacheWarning, code_digest, fingerprint

    files = list(input_files(cfg))
    key = fingerprint(
        files,
        {
            "as_of": str(cfg.data_end()),
            "data": cfg.data.model_dump(mode="json"),
            "engagement": cfg.engagement.model_dump(mode="json"),
            "duckdb": cfg.features.duckdb.model_dump(mode="json"),
            "code": code_digest("churnlab.data", __name__),
        },
    )
    target = cfg.path(cfg.run.cache_dir) / f"inputs-{key}.pickle"
    if target.exists():
        try:
            with target.open("rb") as fh:
                inputs, said = pickle.load(fh)
        except Exception as exc:  # damaged or foreign entry: check again, never block a run
            warnings.warn(
                f"discarding the damaged cache entry {target} ({type(exc).__name__}: {exc}); "
                "checking the files again",
                CacheWarning,
                stacklevel=3,
            )
            target.unlink(missing_ok=True)
        else:
            for category, text in said:
                warnings.warn(text, category, stacklevel=3)
            return inputs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inputs = load()
    said = []  # the data's warnings are kept; the libraries' go on as they came
    for w in caught:
        if issubclass(w.category, DataWarning):
            said.append((w.category, str(w.message)))
            warnings.warn(str(w.message), w.category, stacklevel=3)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp, Path(tmp).open("wb") as fh:
        pickle.dump((inputs, said), fh, protocol=pickle.HIGHEST_PROTOCOL)
    return inputs


def events_end(inputs: Inputs) -> pd.Timestamp:
    """The latest kept event's timestamp (from the engine's summary when it has one)."""
    source = getattr(inputs, "events_source", None)
    if source is not None:  # NaT without kept events, as the max of an empty column
        return source.last_date if source.last_date is not None else pd.NaT
    return inputs.events["timestamp"].max()
