"""What the runner gets ready ahead of the stages that need it (#21).

The first notebook's kernel starts before the runner's bookkeeping, and the report's imports
and templates are made ready on a thread while the last notebook runs: the work is the same,
it only overlaps other work instead of following it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from churnlab.config import Params
from churnlab.run.stages import Stage

__all__ = ["kernel_ahead", "warm_up_report"]


@contextlib.contextmanager
def kernel_ahead(cfg: Params, selected: Sequence[Stage], in_process: bool) -> Iterator[list[Any]]:
    """The first notebook's kernel, launched before the run's bookkeeping (#21).

    Scanning the earlier runs, reading the data's last day, hashing the inputs and
    estimating the memory take about a second of the demo's 20; the kernel's start and
    imports (about as long) overlap them instead of following them. The kernel is shut
    down on the way out, whether a stage ran on it or the run ended before its first
    stage (:meth:`~churnlab.run._kernels.StageKernel.close` is idempotent).
    """
    kernels: list[Any] = []
    first = next((s for s in selected if s.notebook), None)
    try:
        if first is not None and not in_process:
            from churnlab.run._execute import start_kernel

            kernels.append(start_kernel(cfg, [first]))
        yield kernels
    finally:
        for kernel in kernels:
            kernel.close()


def warm_up_report(cfg: Params) -> Any:
    """Start the report's imports and templates on a thread, while the last notebook runs.

    Returns the thread: the report joins it before it starts.
    """
    import threading

    from churnlab.run.steps.report import warm_up

    def work() -> None:
        with contextlib.suppress(Exception):  # the report meets the error and records it
            warm_up(cfg)

    thread = threading.Thread(target=work, name="churnlab-report-warm-up", daemon=True)
    thread.start()
    return thread
