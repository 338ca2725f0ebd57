"""Running the pipeline: run folders, manifest, lock, ``latest``, the stages in order.

Every run writes ``<reports>/runs/<as_of>_<UTC timestamp>/`` and never touches an earlier
run. ``<reports>/latest`` moves (atomically) only to a run that succeeded. The notebook
stages run with papermill (each executed notebook is kept, with the error when a cell
fails) or, with ``in_process=True``, as the steps' ``run(ctx)`` in this process; the
report always runs in this process. A failure is recorded in the manifest with its
traceback, and logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from churnlab.atomic import write_json, write_text
from churnlab.config import Params
from churnlab.errors import RunError, StageSkipped
from churnlab.run.folder import LAYOUT_VERSION, ReportsFolder, RunFolder, notebook_file
from churnlab.run.record import (
    clean_traceback,
    error_record,
    git_commit,
    input_fingerprints,
    package_versions,
    utc_now,
)
from churnlab.run.stages import NOTEBOOK_STAGES, REPORT, Stage, select
from churnlab.run.steps.context import StageContext, input_files

__all__ = ["ProgressCallback", "RunResult", "run_pipeline"]

logger = logging.getLogger("churnlab.run")

ProgressCallback = Callable[[str, dict[str, Any]], None]


@dataclass
class RunResult:
    """What a run produced: its folder, status and manifest."""

    folder: RunFolder
    status: str
    manifest: dict[str, Any]
    failed_stage: str | None = None
    stages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_dir(self) -> Path:
        """The run folder's path."""
        return self.folder.path

    @property
    def report(self) -> Path | None:
        """``report.html`` when the run succeeded."""
        return self.folder.report if self.succeeded else None

    @property
    def succeeded(self) -> bool:
        """True when every stage ran and the report was written."""
        return self.status == "succeeded"


def run_pipeline(
    cfg: Params,
    *,
    notebooks_dir: Path | None = None,
    only: Sequence[str] = (),
    progress: ProgressCallback | None = None,
    now: dt.datetime | None = None,
    in_process: bool = False,
) -> RunResult:
    """Run the pipeline once and keep an immutable record of it.

    Parameters
    ----------
    cfg : Params
        Effective parameters; ``cfg.scoring_as_of()`` is the run's as_of date.
    notebooks_dir : Path, optional
        Folder of the parameterised notebooks (default: ``<root>/notebooks``).
    only : sequence of str
        Run only these stages (notebook stems or their ``NN`` prefix); the files the
        other stages write (as declared in :mod:`churnlab.run.stages`) are copied from
        the latest successful run. The report always runs.
    progress : callable, optional
        ``progress(event, info)`` called on ``"start"``, ``"stage_start"``, ``"cell"``,
        ``"stage_end"`` and ``"end"``.
    now : datetime, optional
        The run's start time (UTC); defaults to the current time.
    in_process : bool
        Run the notebook stages' steps in this process instead of executing the
        notebooks (no kernels, no executed notebooks; the same data files).

    Returns
    -------
    RunResult
        The run folder, its status and manifest. A failed stage does not raise:
        check ``result.succeeded``.

    Raises
    ------
    RunError
        When another run holds the lock, or ``only`` names an unknown stage or needs
        files that no earlier successful run has.
    """
    reports = ReportsFolder(cfg.path(cfg.run.reports_dir))
    nb_dir = notebooks_dir or (cfg.root / "notebooks")
    as_of = cfg.scoring_as_of()
    notify = progress or (lambda event, info: None)
    selected = select(only)
    partial = len(selected) < len(NOTEBOOK_STAGES)

    with reports.holding_lock():
        previous = reports.latest_run()
        if partial and previous is None:
            raise RunError(
                "--only needs an earlier successful run to take the other stages' files from; "
                "run the full pipeline once first"
            )
        started = now or utc_now()
        folder = reports.new_run(as_of, started)
        write_text(folder.params, cfg.to_yaml())
        manifest: dict[str, Any] = {
            "status": "running",
            "run_id": folder.name,
            "layout_version": LAYOUT_VERSION,
            "as_of": as_of.isoformat(),
            "started_at": started.isoformat(),
            "finished_at": None,
            "duration_s": None,
            "previous_run": previous.name if previous else None,
            "executor": "in_process" if in_process else "papermill",
            "only": [s.name for s in selected] if partial else None,
            "params": cfg.to_dict(),
            "inputs": input_fingerprints(cfg, input_files(cfg)),
            "row_counts": {},
            "rejected_rows": {},
            "stages": [],
            "packages": package_versions(),
            "git_commit": git_commit(cfg.root),
            "host": platform.node(),
            "delivery": [],
        }
        write_json(folder.manifest, manifest)
        notify("start", {"run_dir": folder.path, "stages": [s.name for s in (*selected, REPORT)]})
        if partial and previous is not None:
            _copy_other_stages(previous, folder, selected)

        ctx = StageContext(params=cfg, folder=folder, as_of=as_of.isoformat(), previous=previous)
        parameters = {
            "run_dir": str(folder.path),
            "params_file": str(folder.params),
            "project_dir": str(cfg.root),
            "as_of": as_of.isoformat(),
            "previous_run_dir": str(previous.path) if previous else "",
        }
        t0 = time.perf_counter()
        failed: str | None = None
        for stage in [*selected, REPORT]:
            if stage is REPORT:
                _collect_counts(folder, manifest)
            if stage.notebook and not in_process:
                record = _run_notebook(stage, nb_dir, folder, parameters, cfg, notify)
            else:
                record = _run_in_process(stage, ctx, notify)
            manifest["stages"].append(record)
            write_json(folder.manifest, manifest)
            if record["status"] == "failed":
                failed = stage.name
                break

        manifest["status"] = "failed" if failed else "succeeded"
        manifest["failed_stage"] = failed
        manifest["finished_at"] = utc_now().isoformat()
        manifest["duration_s"] = round(time.perf_counter() - t0, 2)
        write_json(folder.manifest, manifest)
        if failed is None:
            reports.point_latest(folder)
        result = RunResult(
            folder=folder,
            status=manifest["status"],
            manifest=manifest,
            failed_stage=failed,
            stages=manifest["stages"],
        )
        notify("end", {"result": result})
        return result


def _copy_other_stages(previous: RunFolder, folder: RunFolder, selected: list[Stage]) -> None:
    """Copy what the stages that do not run wrote, from the previous successful run."""
    for stage in NOTEBOOK_STAGES:
        if stage in selected:
            continue
        paths = [getattr(previous, name) for name in stage.writes]
        paths += [previous.chart(name) for name in stage.charts]
        for src in paths:
            dst = folder.path / previous.relative(src)
            if src.is_dir():
                shutil.copytree(src, dst)
            elif src.exists():
                shutil.copy2(src, dst)


def _run_notebook(
    stage: Stage,
    nb_dir: Path,
    folder: RunFolder,
    parameters: dict[str, Any],
    cfg: Params,
    notify: ProgressCallback,
) -> dict[str, Any]:
    from papermill.exceptions import PapermillExecutionError

    from churnlab.run._papermill import execute_notebook, notebook_to_html

    source = nb_dir / notebook_file(stage.name)
    target = folder.notebook(stage.name)
    record: dict[str, Any] = {
        "name": stage.name,
        "status": "running",
        "notebook": folder.relative(target),
    }
    notify("stage_start", {"name": stage.name})
    t0 = time.perf_counter()
    try:
        if not source.exists():
            raise RunError(f"notebook {source} is missing")
        execute_notebook(
            source,
            target,
            parameters,
            kernel=cfg.run.kernel,
            cwd=cfg.root,
            timeout=cfg.run.cell_timeout_seconds,
            on_cell=lambda done, total: notify(
                "cell", {"name": stage.name, "done": done, "total": total}
            ),
        )
        record["status"] = "succeeded"
    except PapermillExecutionError as exc:
        if exc.ename == StageSkipped.__name__:  # the notebook says there is nothing to do
            record["status"] = "skipped"
            record["reason"] = exc.evalue
        else:
            record["status"] = "failed"
            record["error"] = {
                "cell_index": exc.cell_index,
                "execution_count": exc.exec_count,
                "ename": exc.ename,
                "evalue": exc.evalue,
                "source": (exc.source or "")[:500],
                "traceback": clean_traceback(exc.traceback),
            }
    except Exception as exc:  # kernel died, missing notebook, timeout...
        record["status"] = "failed"
        record["error"] = error_record(exc, cell_index=None)
    record["duration_s"] = round(time.perf_counter() - t0, 2)
    if target.exists():
        try:
            html = notebook_to_html(target, folder.notebook_html(stage.name))
            record["html"] = folder.relative(html)
        except Exception as exc:  # an HTML export failure must not hide the notebook's own result
            record["html_error"] = str(exc)
    _log_failure(folder, record)
    notify("stage_end", {"name": stage.name, "record": record})
    return record


def _run_in_process(stage: Stage, ctx: StageContext, notify: ProgressCallback) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")  # charts are saved, never shown
    record: dict[str, Any] = {"name": stage.name, "status": "running", "notebook": None}
    notify("stage_start", {"name": stage.name})
    t0 = time.perf_counter()
    try:
        stage.step(ctx)
        record["status"] = "succeeded"
    except StageSkipped as exc:  # nothing to do with this data: said, not failed
        record["status"] = "skipped"
        record["reason"] = str(exc)
    except Exception as exc:  # the stage failing fails the run, loudly, with its traceback
        record["status"] = "failed"
        record["error"] = error_record(exc, cell_index=None)
    record["duration_s"] = round(time.perf_counter() - t0, 2)
    _log_failure(ctx.folder, record)
    notify("stage_end", {"name": stage.name, "record": record})
    return record


def _log_failure(folder: RunFolder, record: dict[str, Any]) -> None:
    if record["status"] == "succeeded":
        return
    error = record.get("error") or {}
    logger.error(
        "run %s: stage %s failed: %s: %s\n%s",
        folder.name,
        record["name"],
        error.get("ename"),
        error.get("evalue"),
        error.get("traceback", ""),
    )


def _collect_counts(folder: RunFolder, manifest: dict[str, Any]) -> None:
    """Row counts, notes and warnings of the stages, for the manifest (before the report)."""
    import json

    notes: list[str] = []
    if folder.data_health.exists():
        info = json.loads(folder.data_health.read_text(encoding="utf-8"))
        manifest["row_counts"] = info.get("row_counts", {})
        manifest["rejected_rows"] = info.get("rejected_rows", {})
        manifest["flagged_rows"] = info.get("flagged_rows", {})
        manifest["observations"] = info.get("observations", {})
        manifest["adapted"] = info.get("adapted", {})
        notes += info.get("notes", [])
    manifest["warnings"] = []
    if folder.model_metrics.exists():
        metrics = json.loads(folder.model_metrics.read_text(encoding="utf-8"))
        notes += metrics.get("notes", [])
        if metrics.get("warning"):
            manifest["warnings"].append(metrics["warning"])
            logger.warning("run %s: %s", folder.name, metrics["warning"])
    manifest["notes"] = notes
