"""What every step works with: the effective params, the run folder, the dates; the inputs.

A notebook opens its stage with :func:`open_stage` (from its papermill parameters); the
in-process runner builds the same :class:`StageContext` directly.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churnlab.config import DEFAULT_PARAMS_FILE, Params, deep_merge, load_params, validate_params
from churnlab.run.folder import ReportsFolder, RunFolder
from churnlab.vocabulary import Vocabulary, vocabulary

__all__ = [
    "Inputs",
    "StageContext",
    "adapted_params",
    "account_names",
    "chart_words",
    "data_end_warning",
    "load_inputs",
    "resolve_data_end",
    "load_run_params",
    "open_stage",
    "save_chart",
    "stop_without_model",
]


@dataclass(frozen=True)
class StageContext:
    """The params, the run folder and the dates one stage runs with.

    Attributes
    ----------
    params : Params
        The params of the run as given (params.yaml, overlays, overrides).
    folder : RunFolder
        Where the stage reads and writes its files.
    as_of : str
        The scoring date, ``YYYY-MM-DD``.
    previous : RunFolder or None
        The previous run of the same data set (the latest successful one with an
        earlier as_of), for changes since then; None when there is none.
    earlier : tuple of RunFolder
        Every successful earlier run of the same data set, oldest first (for the
        track record).
    """

    params: Params
    folder: RunFolder
    as_of: str
    previous: RunFolder | None = None
    earlier: tuple[RunFolder, ...] = ()

    @property
    def cfg(self) -> Params:
        """The params with what stage 00 fitted to the data (label window, folds...).

        Stage 00 records in ``data_health.json`` the settings the history allows
        (:func:`churnlab.observations.fit_to_history`); every later stage works with them.
        Before stage 00 has run, these are the params as given.
        """
        return adapted_params(self.params, self.folder)


def adapted_params(params: Params, folder: RunFolder) -> Params:
    """``params`` with the ``adapted`` settings stage 00 wrote into the run folder, if any."""
    if not folder.data_health.exists():
        return params
    adapted = json.loads(folder.data_health.read_text(encoding="utf-8")).get("adapted") or {}
    if not adapted:
        return params
    return validate_params(deep_merge(params.to_dict(), adapted), root=params.root)


def load_run_params(
    params_file: str | Path = DEFAULT_PARAMS_FILE, project_dir: str | Path | None = None
) -> Params:
    """Load a run's effective params (relative paths resolve against ``project_dir``)."""
    cfg = load_params(params_file)
    if project_dir:
        cfg = cfg.model_copy(update={"root": Path(project_dir)})
    return cfg


def open_stage(
    run_dir: str = "",
    params_file: str = DEFAULT_PARAMS_FILE,
    project_dir: str = ".",
    as_of: str = "",
    previous_run_dir: str = "",
    earlier_run_dirs: str = "",
) -> StageContext:
    """The context of a stage from a notebook's papermill parameters.

    Parameters
    ----------
    run_dir : str
        The run folder written by ``churnlab run``; empty when the notebook is run by
        hand, which writes to ``<reports>/interactive``.
    params_file, project_dir : str
        The effective params and the folder relative paths resolve against.
    as_of : str
        The scoring date; empty = ``observation.as_of`` of the params.
    previous_run_dir : str
        The previous run of the same data set; empty = none.
    earlier_run_dirs : str
        The earlier successful runs of the same data set, one per line, oldest first.

    Run by hand (no ``run_dir``), the stage writes to ``<reports>/interactive`` and finds
    the previous and earlier runs of the data set in the reports folder itself.
    """
    cfg = resolve_data_end(load_run_params(params_file, project_dir))
    day = as_of or cfg.scoring_as_of().isoformat()
    earlier = tuple(RunFolder(p) for p in earlier_run_dirs.splitlines() if p.strip())
    previous = RunFolder(previous_run_dir) if previous_run_dir else None
    if run_dir:
        folder = RunFolder(run_dir)
    else:  # by hand: the earlier runs of this data set are looked up as a run would
        from churnlab.run.lineage import dataset_identity, runs_of, scan_runs

        reports = ReportsFolder(cfg.path(cfg.run.reports_dir))
        folder = reports.interactive
        before = dt.date.fromisoformat(day)
        mine = [r for r in runs_of(scan_runs(reports), dataset_identity(cfg)) if r.as_of < before]
        earlier = tuple(r.folder for r in mine)
        previous = earlier[-1] if earlier else None
    return StageContext(
        params=cfg, folder=folder.prepare(), as_of=day, previous=previous, earlier=earlier
    )


def stop_without_model(folder: RunFolder, key: str) -> None:
    """Raise ``StageSkipped`` with message ``key`` when stage 02 trained no model.

    The message's ``reason`` is why there is no model: the one ``model_metrics.json``
    gives (a message of the catalogues, or its English text), else "stage 02 trained no
    model". Stages that need the model (03, 04) start with this.
    """
    from churnlab.errors import StageSkipped
    from churnlab.messages import literal, message

    if folder.model.exists():
        return
    reason: Any = message("messages.stages.no_model_trained")
    if folder.model_metrics.exists():
        metrics = json.loads(folder.model_metrics.read_text(encoding="utf-8"))
        if metrics.get("reason_message"):
            reason = metrics["reason_message"]
        elif metrics.get("reason"):
            reason = literal(metrics["reason"])
    said = message(key, reason=reason)
    raise StageSkipped(said["text"], said)


def chart_words(cfg: Params) -> Vocabulary:
    """The words of what a stage makes for readers: ``report.language`` and ``report.currency``.

    The charts and the text values of the CSV files (reasons, next steps) follow the
    report's language; the notebooks' own text and the CSV column names stay English.
    """
    return vocabulary(cfg.report.language, cfg.report.currency)


def save_chart(fig: Any, path: Path) -> Path:
    """Save a figure as PNG (about 700 px wide at email width) and close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return path


def chart_image(path: Path) -> Any:
    """A saved chart as the notebook shows it: the PNG the report embeds, not drawn again.

    Jupyter would render the figure a second time to show it; the saved file is the one
    the report and the e-mail carry, at their width.
    """
    from IPython.display import Image

    return Image(filename=str(path))


def saved_chart(fig: Any, path: Path) -> Any:
    """Save ``fig`` (:func:`save_chart`) and return it for the notebook (:func:`chart_image`)."""
    return chart_image(save_chart(fig, path))


@dataclass(frozen=True)
class Inputs:
    """Loaded, validated input data and its health summary."""

    shape: str
    data_end: pd.Timestamp
    health: Any
    files: tuple[Path, ...]
    accounts: pd.DataFrame | None = None
    subscriptions: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    snapshot: pd.DataFrame | None = None


def resolve_data_end(cfg: Params) -> Params:
    """``cfg`` with ``data.as_of: auto`` replaced by the data's last day (read from the files).

    The last day is the day of the latest event timestamp or subscription start date
    (:func:`churnlab.data.last_day`); a date in the params is kept as it is. Results
    never depend on the clock: a last day after today is kept (and
    :func:`data_end_warning` says so).

    Raises
    ------
    DataError
        When the files cannot be read or hold no date.
    """
    if cfg.data.as_of != "auto" or cfg.data.shape == "snapshot":
        return cfg
    from churnlab.data import last_day

    subscriptions, events = cfg.path(cfg.data.subscriptions or ""), cfg.path(cfg.data.events or "")
    day = last_day(
        subscriptions, events, columns=cfg.data.columns.model_dump(), fmt=cfg.data.format
    )
    return cfg.with_data_end(day)


def data_end_warning(cfg: Params, today: dt.date | None = None) -> str | None:
    """A warning when the data's last day lies after today (clock or export wrong?)."""
    day = cfg.data_end()
    today = today or dt.datetime.now(dt.UTC).date()
    if day <= today:
        return None
    return (
        f"the data's last day ({day}, data.as_of) is after today ({today}): check the "
        "export's timestamps (time zone?) or the machine's clock"
    )


def input_files(cfg: Params) -> list[Path]:
    """The input data files named by the params."""
    if cfg.data.shape == "snapshot":
        return [cfg.path(cfg.data.snapshot.path or "")]
    return [cfg.path(p) for p in (cfg.data.accounts, cfg.data.subscriptions, cfg.data.events) if p]


def load_inputs(cfg: Params) -> Inputs:
    """Load and validate the configured input data (either shape).

    Raises
    ------
    DataError
        When the data breaks a rule; the message names file, column, rule and rows.
    """
    from churnlab import data as churn_data

    data_end = pd.Timestamp(cfg.data_end())
    files = tuple(input_files(cfg))
    if cfg.data.shape == "snapshot":
        snap = cfg.data.snapshot
        table, health = churn_data.load_snapshot(
            files[0],
            id_column=snap.id_column,
            label_column=snap.label_column,
            positive_value=snap.positive_value,
            negative_value=snap.negative_value,
            tenure_unit=snap.tenure_unit,
            mrr_column=snap.mrr_column,
            tenure_column=snap.tenure_column,
            numeric_columns=snap.numeric_columns,
            drop_columns=snap.drop_columns,
            fmt=cfg.data.format,
        )
        return Inputs("snapshot", data_end, health, files, snapshot=table)
    loaded, health = churn_data.load_event_logs(
        *files,
        columns=cfg.data.columns.model_dump(),
        data_end=str(cfg.data_end()),
        fmt=cfg.data.format,
        duplicate_events=cfg.data.duplicate_events,
    )
    return Inputs(
        "events",
        data_end,
        health,
        files,
        accounts=loaded.accounts,
        subscriptions=loaded.subscriptions,
        events=loaded.events,
    )


def account_names(inputs: Inputs) -> pd.DataFrame:
    """``account_id, name`` of every account (ids stand in for names in snapshots)."""
    if inputs.accounts is not None and "name" in inputs.accounts:
        return inputs.accounts[["account_id", "name"]].astype({"account_id": str})
    return pd.DataFrame(columns=["account_id", "name"])
