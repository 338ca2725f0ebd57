"""Executing one stage: its notebook under papermill (on a kernel of the run), or in-process.

The runner (:mod:`churnlab.run.runner`) decides the order and records each stage; this
module runs one and fills its record: status, duration, the executed notebook and its
HTML copy, the reason of a skipped stage, the error of a failed one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from churnlab.config import Params
from churnlab.errors import RunError, StageSkipped
from churnlab.run.folder import RunFolder, notebook_file
from churnlab.run.record import clean_traceback, error_record
from churnlab.run.stages import Stage
from churnlab.run.steps.context import StageContext

__all__ = ["ProgressCallback", "run_in_process", "run_notebook", "stage_modules", "start_kernel"]

#: ``progress(event, info)``: how the runner reports a run as it goes.
ProgressCallback = Callable[[str, dict[str, Any]], None]


def stage_modules(stage: Stage) -> tuple[str, ...]:
    """What ``stage``'s notebook imports: its step module and the module's ``WARM_UP``."""
    import importlib

    module = stage.step.__module__
    return (module, *getattr(importlib.import_module(module), "WARM_UP", ()))


def start_kernel(cfg: Params, stages: Iterable[Stage] = ()) -> Any:
    """Launch a kernel of the run now; it imports the modules of ``stages`` quietly once up.

    The runner starts its kernels before the stages that use them, so the kernel's
    start-up and the heavy imports (pandas, LightGBM, SHAP…) overlap the stage before
    instead of following it. The imports run inside a function, so the notebook's
    namespace stays empty: its cells run exactly as they would on a fresh kernel.
    """
    from churnlab.run._kernels import StageKernel

    modules = [m for stage in stages for m in stage_modules(stage)]
    return StageKernel(cfg.run.kernel, cfg.root, modules)


def run_notebook(
    stage: Stage,
    nb_dir: Path,
    folder: RunFolder,
    parameters: dict[str, Any],
    cfg: Params,
    notify: ProgressCallback,
    record: dict[str, Any],
    kernel: Any = None,
) -> None:
    from papermill.exceptions import PapermillExecutionError

    from churnlab.run._papermill import execute_notebook

    source = nb_dir / notebook_file(stage.name)
    target = folder.notebook(stage.name)
    record["notebook"] = folder.relative(target)
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
            stage_kernel=kernel,
        )
        record["status"] = "succeeded"
    except PapermillExecutionError as exc:
        if exc.ename == StageSkipped.__name__:  # the notebook says there is nothing to do
            record["status"] = "skipped"
            record["reason"] = exc.evalue
            said = StageSkipped.said_in(exc.traceback)
            if said is not None:
                record["reason_message"] = said
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
    finally:
        if kernel is not None:
            kernel.ran_notebook()  # the next notebook on it starts with a reset
    record["duration_s"] = round(time.perf_counter() - t0, 2)


def export_html(stage: Stage, folder: RunFolder) -> dict[str, Any]:
    """The executed notebook of ``stage`` as HTML beside it: ``{"html": path}`` for its record.

    ``{"html_error": ...}`` when the export fails (that must not hide the notebook's own
    result), ``{}`` when the stage wrote no notebook. The scheduler runs it on a thread of
    its own, so the next stage does not wait for it.
    """
    from churnlab.run._papermill import notebook_to_html

    target = folder.notebook(stage.name)
    if not target.exists():
        return {}
    try:
        html = notebook_to_html(target, folder.notebook_html(stage.name))
        return {"html": folder.relative(html)}
    except Exception as exc:
        return {"html_error": str(exc)}


def run_in_process(stage: Stage, ctx: StageContext, record: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")  # charts are saved, never shown
    record["notebook"] = None
    t0 = time.perf_counter()
    try:
        stage.step(ctx)
        record["status"] = "succeeded"
    except StageSkipped as exc:  # nothing to do with this data: said, not failed
        record["status"] = "skipped"
        record["reason"] = str(exc)
        if exc.said is not None:
            record["reason_message"] = exc.said
    except Exception as exc:  # the stage failing fails the run, loudly, with its traceback
        record["status"] = "failed"
        record["error"] = error_record(exc, cell_index=None)
    record["duration_s"] = round(time.perf_counter() - t0, 2)
