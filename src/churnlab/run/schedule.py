"""The order and overlap of a run's notebook stages, on the run's kernels (#21).

:func:`run_notebooks` starts a stage once the stages that write what it reads have ended,
up to ``workers`` at a time, each on a kernel of the run
(:class:`~churnlab.run._kernels.StageKernel`, reset between notebooks). The runner
(:mod:`churnlab.run.runner`) records the run; ``run/memory.py`` ``plan_run`` decides how
much runs at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from churnlab.config import Params
from churnlab.run._execute import ProgressCallback, export_html, run_notebook, start_kernel
from churnlab.run.record import RunRecord
from churnlab.run.stages import Stage
from churnlab.run.steps.context import StageContext

__all__ = ["run_notebooks"]


def run_notebooks(
    stages: list[Stage],
    ctx: StageContext,
    record: RunRecord,
    nb_dir: Path,
    cfg: Params,
    notify: ProgressCallback,
    check: Callable[[], None],
    workers: int,
    fit_threads: int = 1,
    spare_kernel: bool = True,
    first_kernel: Any = None,
    last_started: Callable[[], None] | None = None,
) -> bool:
    """Run the notebook stages on the run's kernels; False when one failed.

    A stage starts once the stages that write what it reads (``Stage.reads`` /
    ``Stage.writes``) have ended, on an idle kernel, while fewer than ``workers`` run; the
    ready stage with the longest chain of stages after it goes first (the model before
    the cohorts). Two kernels are started at once: one for the first stage, one that
    imports the modules of all the others while it runs (without ``spare_kernel``, when
    memory is short and one stage runs at a time, the first kernel runs them all); after
    a notebook a kernel is
    reset (:class:`~churnlab.run._kernels.StageKernel`) and runs the next. With
    ``workers=1`` the stages run one at a time in pipeline order. An executed notebook is
    exported to HTML on a thread of its own while the next stage runs (its record gets
    ``html`` before this returns). A stage that fits
    models on threads (``Stage.parallel_fits``) counts as ``fit_threads`` of the
    ``workers``: nothing starts beside it while its fits fill the CPUs. After a failure
    no stage starts; those running end first. ``first_kernel``: the first stage's kernel,
    already started (the runner launches it before its bookkeeping); it is closed here
    with the others. ``last_started`` is called once the last stage has started: what
    follows the notebooks can get ready on the CPUs the finished stages left.
    """
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from churnlab.run._execute import stage_modules

    parameters = {
        "run_dir": str(ctx.folder.path),
        "params_file": str(ctx.folder.params),
        "project_dir": str(cfg.root),
        "as_of": ctx.as_of,
        "previous_run_dir": str(ctx.previous.path) if ctx.previous else "",
    }
    earlier = "\n".join(str(f.path) for f in ctx.earlier)
    after = _dependencies(stages)
    chain = _chain_lengths(stages, after)
    order = {s.name: i for i, s in enumerate(stages)}
    kernels = [first_kernel or start_kernel(cfg, stages[:1])]
    if len(stages) > 1 and (spare_kernel or workers > 1):
        kernels.append(start_kernel(cfg, stages[1:]))
    idle = list(kernels)
    pending, done, failed = list(stages), set(), False
    running: dict[Any, tuple[Stage, Any, dict[str, Any]]] = {}
    pool = ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="churnlab-stage")
    exports = ThreadPoolExecutor(max_workers=1, thread_name_prefix="churnlab-html")
    exported: dict[Any, dict[str, Any]] = {}  # export future -> the stage's record entry
    try:
        while pending or running:
            if not failed:
                ready = [s for s in pending if after[s.name] <= done]
                if workers > 1:
                    ready.sort(key=lambda s: (-chain[s.name], order[s.name]))
                else:
                    ready = [s for s in ready if s is pending[0]]
                for stage in ready:
                    used = sum(_weight(s, workers, fit_threads) for s, *_ in running.values())
                    if not idle or (
                        running and used + _weight(stage, workers, fit_threads) > workers
                    ):
                        break
                    wanted = set(stage_modules(stage))
                    kernel = min(idle, key=lambda k: len(wanted - k.imported))
                    idle.remove(kernel)
                    if not kernel.alive():  # died in the stage before: a fresh one
                        kernel.close()
                        kernels.append(kernel := start_kernel(cfg))
                    kernel.prepare(wanted)
                    pending.remove(stage)
                    entry = record.stage_started(stage.name)
                    notify("stage_start", {"name": stage.name})
                    given = (
                        {**parameters, "earlier_run_dirs": earlier}
                        if stage.looks_back
                        else parameters
                    )
                    result: dict[str, Any] = {}
                    future = pool.submit(
                        run_notebook, stage, nb_dir, ctx.folder, given, cfg, notify, result, kernel
                    )
                    running[future] = (stage, kernel, entry, result)
                    if not pending and last_started is not None:
                        last_started()
            if not running:
                break
            finished, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            check()
            for future in sorted(finished, key=lambda f: order[running[f][0].name]):
                stage, kernel, entry, result = running.pop(future)
                future.result()  # run_notebook records its errors; this raises only on a bug
                entry.update(result)
                record.stage_ended(entry)
                notify("stage_end", {"name": stage.name, "record": entry})
                done.add(stage.name)
                failed = failed or entry["status"] == "failed"
                idle.append(kernel)
                exported[exports.submit(export_html, stage, ctx.folder)] = entry
                # past the first stage a spare kernel beyond ``workers`` only holds memory:
                # the idle one with the fewest imports is shut down
                while len(kernels) > max(workers, 1) and len(idle) > 1:
                    surplus = min(idle, key=lambda k: len(k.imported))
                    idle.remove(surplus)
                    kernels.remove(surplus)
                    surplus.close()
                if pending and not failed and kernel in kernels:
                    kernel.prepare(m for s in pending for m in stage_modules(s))  # reset, import
        for future in exported:  # the entries are updated here, never while being saved
            exported[future].update(future.result())
        record.save()
        return not failed
    finally:
        exports.shutdown(wait=False, cancel_futures=True)
        pool.shutdown(wait=False, cancel_futures=True)
        for kernel in kernels:  # a failed or stopped run leaves no kernel behind
            kernel.close()


def _weight(stage: Stage, workers: int, fit_threads: int) -> int:
    """The CPUs a stage keeps busy: its fit threads (``Stage.parallel_fits``) or one."""
    return min(workers, fit_threads) if stage.parallel_fits else 1


def _dependencies(stages: Sequence[Stage]) -> dict[str, set[str]]:
    """For each stage, the earlier stages of ``stages`` that write a file it reads."""
    out: dict[str, set[str]] = {}
    for i, stage in enumerate(stages):
        out[stage.name] = {s.name for s in stages[:i] if set(s.writes) & set(stage.reads)}
    return out


def _chain_lengths(stages: Sequence[Stage], after: dict[str, set[str]]) -> dict[str, int]:
    """For each stage, the most stages in a chain that starts with it (itself included)."""
    out: dict[str, int] = {}
    for stage in reversed(stages):
        later = [out[s.name] for s in stages if stage.name in after[s.name]]
        out[stage.name] = 1 + max(later, default=0)
    return out
