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

from churnlab.atomic import write_text
from churnlab.config import Params
from churnlab.errors import ChurnlabError, Interrupted
from churnlab.messages import message
from churnlab.run._ahead import kernel_ahead, warm_up_report
from churnlab.run._execute import ProgressCallback, run_in_process
from churnlab.run.faults import (
    mark_abandoned,
    run_log,
    signals_deferred,
    signals_interrupt,
    stop_children,
    storage_errors,
)
from churnlab.run.folder import (
    LAYOUT_VERSION,
    ReportsFolder,
    RunFolder,
    process_record,
)
from churnlab.run.lineage import (
    RunInfo,
    dataset_identity,
    params_fingerprint,
    previous_run,
    runs_of,
    scan_runs,
)
from churnlab.run.record import (
    RunRecord,
    git_commit,
    input_fingerprints,
    package_versions,
    utc_now,
)
from churnlab.run.schedule import run_notebooks
from churnlab.run.stages import NOTEBOOK_STAGES, REPORT, Stage, reusable_run, select
from churnlab.run.steps.context import (
    StageContext,
    data_end_warning,
    input_files,
    resolve_data_end,
)

__all__ = ["ProgressCallback", "RunResult", "run_pipeline"]

logger = logging.getLogger("churnlab.run")


@dataclass
class RunResult:
    """What a run produced: its folder, status and manifest."""

    folder: RunFolder
    status: str
    manifest: dict[str, Any]
    failed_stage: str | None = None
    stages: list[dict[str, Any]] = field(default_factory=list)
    signal: int | None = None

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
    command: Sequence[str] = (),
) -> RunResult:
    """Run the pipeline once and keep an immutable record of it.

    Parameters
    ----------
    cfg : Params
        Effective parameters. ``data.as_of: auto`` is read from the data
        (:func:`~churnlab.run.steps.resolve_data_end`); ``cfg.scoring_as_of()`` of the
        result is the run's as_of date.
    notebooks_dir : Path, optional
        Folder of the parameterised notebooks (default: ``<root>/notebooks``).
    only : sequence of str
        Run only these stages (notebook stems or their ``NN`` prefix); the files the
        other stages write (as declared in :mod:`churnlab.run.stages`) are copied from
        the latest successful run of the same data set, as_of, input files and params
        (else :class:`~churnlab.errors.UsageError`). The report always runs.
    progress : callable, optional
        ``progress(event, info)`` called on ``"start"``, ``"stage_start"``, ``"cell"``,
        ``"stage_end"`` and ``"end"``.
    now : datetime, optional
        The run's start time (UTC); defaults to the current time.
    in_process : bool
        Run the notebook stages' steps in this process instead of executing the
        notebooks (no kernels, no executed notebooks; the same data files).
    command : sequence of str
        The command that started the run, without ``--as-of`` and ``--only``
        (``churnlab run --params overlay.yaml``); recorded as ``command`` so that the
        failure notice can say how to re-run the same period with the same params.

    Returns
    -------
    RunResult
        The run folder, its status and manifest. A failed stage does not raise:
        check ``result.succeeded``. SIGTERM and SIGINT end the run with status
        ``interrupted`` (``result.signal`` names the signal).

    Raises
    ------
    RunError
        When another run holds the lock, or ``only`` names an unknown stage.
    UsageError
        When ``only`` has no run to reuse, or the reports folder or its ``latest`` is
        not churnlab's.
    StorageError
        When the reports folder cannot be written (disk full, read-only, permission).
    """
    reports = ReportsFolder(cfg.path(cfg.run.reports_dir))
    nb_dir = notebooks_dir or (cfg.root / "notebooks")
    notify = progress or (lambda event, info: None)
    selected = select(only)
    partial = len(selected) < len(NOTEBOOK_STAGES)

    with (
        storage_errors(reports.path),
        reports.holding_lock(),
        kernel_ahead(cfg, selected, in_process) as ahead,
    ):
        reports.check_latest()
        runs = scan_runs(reports)
        mark_abandoned(runs)
        started = now or utc_now()
        try:
            cfg = resolve_data_end(cfg)
            problem: ChurnlabError | None = None
        except ChurnlabError as exc:  # unreadable data: recorded as stage 00's failure
            problem = exc
        as_of = _as_of(cfg)
        dataset = dataset_identity(cfg)
        fingerprint = params_fingerprint(cfg)
        inputs = input_fingerprints(cfg, input_files(cfg))
        previous = previous_run(runs, dataset, as_of) if as_of else None
        earlier = [r for r in runs_of(runs, dataset) if as_of and r.as_of and r.as_of < as_of]
        source = None
        if partial:
            if problem is not None:
                raise problem
            source = reusable_run(
                runs, dataset, as_of, fingerprint, inputs, selected, data_end=_data_end(cfg)
            )
        folder = reports.new_run(as_of, started)
        write_text(folder.params, cfg.to_yaml())
        manifest: dict[str, Any] = {
            "status": "running",
            "run_id": folder.name,
            "layout_version": LAYOUT_VERSION,
            "as_of": as_of.isoformat() if as_of else None,
            "data_end": _data_end(cfg),
            "started_at": started.isoformat(),
            "finished_at": None,
            "duration_s": None,
            "dataset": dataset.to_dict(),
            "params_fingerprint": fingerprint,
            "previous_run": previous.name if previous else None,
            "previous_as_of": previous.as_of.isoformat() if previous and previous.as_of else None,
            "reused_from": _reused(source, selected),
            "executor": "in_process" if in_process else "papermill",
            "command": list(command) or None,
            "only": [s.name for s in selected] if partial else None,
            "process": process_record(),
            "params": cfg.to_dict(),
            "inputs": inputs,
            "row_counts": {},
            "rejected_rows": {},
            "stages": [],
            "warnings": [],
            "packages": package_versions(),
            "git_commit": git_commit(cfg.root),
            "host": platform.node(),
            "delivery": [],
        }
        record = RunRecord(folder, manifest)
        record.order = [s.name for s in (*NOTEBOOK_STAGES, REPORT)]
        record.save()
        with run_log(folder):
            logger.info(
                "run %s started: as_of %s, data set %s, previous run %s",
                folder.name,
                manifest["as_of"],
                dataset.label,
                manifest["previous_run"] or "none (no comparable earlier run)",
            )
            if problem is None and (warning := data_end_warning(cfg)):
                manifest["warnings"].append(warning)
                logger.warning("run %s: %s", folder.name, warning)
            if previous is None and (hint := _lineage_hint(runs, dataset, as_of)):
                manifest["lineage_note"] = hint["text"]
                manifest["lineage_note_message"] = hint
                logger.info("run %s: %s", folder.name, hint["text"])
            names = [s.name for s in (*selected, REPORT)]
            notify("start", {"run_dir": folder.path, "stages": names})
            signum = None
            t0 = time.perf_counter()
            try:
                with signals_interrupt() as signals:
                    if source is not None:
                        _copy_other_stages(source.folder, folder, selected)
                    ctx = StageContext(
                        params=cfg,
                        folder=folder,
                        as_of=manifest["as_of"] or "",
                        previous=previous.folder if previous else None,
                        earlier=tuple(r.folder for r in earlier),
                    )
                    during = "reading data.as_of (auto) from the data"
                    if problem is None and NOTEBOOK_STAGES[0] in selected:
                        problem = _memory_guard(cfg, manifest)
                        during = "estimating the memory the run needs (run.memory_budget)"
                    if problem is not None:
                        record.stage_failed(NOTEBOOK_STAGES[0].name, problem, notify, during)
                    else:
                        stages = [*selected, REPORT]
                        plan = _plan(cfg, manifest)
                        workers = 1 if in_process else plan.stages_at_once
                        _run_stages(
                            stages,
                            ctx,
                            record,
                            nb_dir,
                            cfg,
                            in_process,
                            notify,
                            signals.check,
                            workers=workers,
                            fit_threads=plan.fold_workers,
                            spare_kernel=plan.spare_kernel,
                            first_kernel=ahead[0] if ahead else None,
                        )
                    signals.check()
            except Interrupted as exc:
                signum = exc.signum
                stop_children()
                record.interrupted(exc)
            with signals_deferred():  # the record is finished before a signal may end us
                record.finish(time.perf_counter() - t0)
                if manifest["status"] == "succeeded":
                    reports.point_latest(folder)
            logger.info(
                "run %s %s in %.1f s", folder.name, manifest["status"], manifest["duration_s"]
            )
        result = RunResult(
            folder=folder,
            status=manifest["status"],
            manifest=manifest,
            failed_stage=manifest.get("failed_stage"),
            stages=manifest["stages"],
            signal=signum,
        )
        notify("end", {"result": result})
        return result


def _lineage_hint(
    runs: Sequence[RunInfo], dataset: Any, as_of: dt.date | None
) -> dict[str, Any] | None:
    """Why there is no previous run when earlier runs read other files of the same shape."""
    others = [
        r
        for r in runs
        if r.succeeded
        and r.dataset.id != dataset.id
        and r.dataset.shape == dataset.shape
        and as_of
        and r.as_of
        and r.as_of < as_of
    ]
    if not others or dataset.name:
        return None
    return message(
        "messages.lineage.other_files",
        dataset=dataset.label,
        n=len(others),
        latest=others[-1].dataset.label,
    )


def _memory_guard(cfg: Params, manifest: dict[str, Any]) -> ChurnlabError | None:
    """The memory estimate, in the manifest; the error when it exceeds ``run.memory_budget``."""
    from churnlab.run.memory import estimate_memory, memory_error

    found = estimate_memory(cfg)
    manifest["memory"] = found.to_dict()
    logger.info("run %s: estimated peak memory %.1f GB", manifest["run_id"], found.estimate_gb)
    return None if found.fits else memory_error(cfg, found)


def _plan(cfg: Params, manifest: dict[str, Any]) -> Any:
    """What the run does at once (:func:`~churnlab.run.memory.plan_run`), in the manifest."""
    from churnlab.run.memory import MemoryEstimate, estimate_memory, plan_run

    recorded = manifest.get("memory")
    found = (
        MemoryEstimate(**{k: recorded[k] for k in MemoryEstimate.__dataclass_fields__})
        if recorded
        else estimate_memory(cfg)
    )
    plan = plan_run(cfg, found)
    manifest["parallel"] = plan.to_dict()
    logger.info(
        "run %s: up to %d stage(s) and %d backtest fit(s) at once, %s (%s)",
        manifest["run_id"],
        plan.stages_at_once,
        plan.fold_workers,
        "a spare kernel" if plan.spare_kernel else "one kernel",
        plan.why,
    )
    return plan


def _as_of(cfg: Params) -> dt.date | None:
    """The run's scoring date; None when the data's last day could not be read."""
    try:
        return cfg.scoring_as_of()
    except ChurnlabError:
        return None


def _data_end(cfg: Params) -> str | None:
    return None if cfg.data.as_of == "auto" else cfg.data_end().isoformat()


def _reused(source: RunInfo | None, selected: list[Stage]) -> dict[str, Any] | None:
    if source is None:
        return None
    stages = [s.name for s in NOTEBOOK_STAGES if s not in selected]
    return {"run": source.name, "stages": stages}


def _run_stages(
    stages: list[Stage],
    ctx: StageContext,
    record: RunRecord,
    nb_dir: Path,
    cfg: Params,
    in_process: bool,
    notify: ProgressCallback,
    check: Callable[[], None] = lambda: None,
    workers: int = 1,
    fit_threads: int = 1,
    spare_kernel: bool = True,
    first_kernel: Any = None,
) -> None:
    """Run ``stages`` until one fails; each is recorded as it starts and ends.

    Notebook stages run on the run's kernels (:func:`_run_notebooks`), up to ``workers``
    at a time; in-process stages one after another. The report runs last, in-process.
    ``check()`` raises when a signal came during the stage (also when a library caught
    the exception the signal raised).
    """
    notebooks = [s for s in stages if s.notebook and not in_process]
    warming: list[Any] = []  # the report's warm-up thread, started with the last notebook
    if notebooks and not run_notebooks(
        notebooks,
        ctx,
        record,
        nb_dir,
        cfg,
        notify,
        check,
        workers,
        fit_threads,
        spare_kernel,
        first_kernel=first_kernel,
        last_started=(lambda: warming.append(warm_up_report(cfg))) if REPORT in stages else None,
    ):
        return
    for stage in stages:
        if stage in notebooks:
            continue
        if stage is REPORT:
            for thread in warming:  # never two threads importing the same modules at once
                thread.join()
            _collect_counts(ctx.folder, record.manifest)
        entry = record.stage_started(stage.name)
        notify("stage_start", {"name": stage.name})
        run_in_process(stage, ctx, entry)
        check()
        record.stage_ended(entry)
        notify("stage_end", {"name": stage.name, "record": entry})
        if entry["status"] == "failed":
            break


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
        # the features engine and its settings (DuckDB threads, memory limit, spill folder;
        # Spark master) that built the observation table (also when it came from the cache)
        summary = manifest["observations"].get("summary") or {}
        manifest["features_engine"] = summary.get("engine")
        manifest["adapted"] = info.get("adapted", {})
        notes += info.get("notes", [])
        for warning in info.get("warnings", []):
            manifest.setdefault("warnings", []).append(warning)
            logger.warning("run %s: %s", folder.name, warning)
    manifest.setdefault("warnings", [])
    if folder.model_metrics.exists():
        metrics = json.loads(folder.model_metrics.read_text(encoding="utf-8"))
        notes += metrics.get("notes", [])
        if metrics.get("warning") and metrics["warning"] not in manifest["warnings"]:
            manifest["warnings"].append(metrics["warning"])
            logger.warning("run %s: %s", folder.name, metrics["warning"])
    if folder.monitoring.exists():
        monitoring = json.loads(folder.monitoring.read_text(encoding="utf-8"))
        if monitoring.get("champion_change"):
            notes.append(monitoring["champion_change"])
        warning = monitoring.get("drift_warning")
        if warning and warning not in manifest["warnings"]:
            manifest["warnings"].append(warning)
            logger.warning("run %s: %s", folder.name, warning)
    manifest["notes"] = notes
