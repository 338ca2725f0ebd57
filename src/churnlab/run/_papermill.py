"""Running a stage's notebook with papermill, and its HTML copy for analysts.

The engine reports cell progress to a callback (for the run progress display) and starts
kernels over Unix sockets. The run's kernels (:class:`StageKernel`) are
started ahead and reused: the runner launches them before the stages that use them, has
them import the stages' modules quietly, and resets a kernel's namespace between two
notebooks, so a notebook waits neither for a kernel's start-up nor for its imports.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import papermill as pm
from papermill.engines import NBClientEngine, papermill_engines

from churnlab.run._kernels import LocalKernelManager, StageKernel

ENGINE_NAME = "churnlab"


class ProgressEngine(NBClientEngine):
    """papermill's nbclient engine, calling ``cell_callback(done, total)`` after each cell."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, cell_callback=None, **kwargs):
        callback: Callable[[int, int], None] | None = cell_callback
        if callback is not None:
            total = len(nb_man.nb.cells)
            original = nb_man.cell_complete
            state = {"done": 0}

            def cell_complete(cell, cell_index=None, **kw):
                original(cell, cell_index=cell_index, **kw)
                state["done"] += 1
                callback(state["done"], total)

            nb_man.cell_complete = cell_complete
        kwargs.setdefault("kernel_manager_class", LocalKernelManager)
        if kwargs.get("km") is None:
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
        # a kernel of the run (StageKernel): as papermill's own engine does, but the kernel
        # is left running for the run's next stage (the runner shuts it down at the end)
        from papermill.clientwrap import PapermillNotebookClient
        from papermill.log import logger
        from papermill.utils import merge_kwargs, remove_args

        execution_timeout = kwargs.pop("execution_timeout", None) or kwargs.get("timeout")
        start_timeout = kwargs.pop("start_timeout", 60)
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        final = merge_kwargs(
            kwargs,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logger,
        )
        client = PapermillNotebookClient(nb_man, **final)
        try:
            return client.execute(cleanup_kc=False)  # the kernel runs on for the next stage
        finally:
            if client.kc is not None:
                client.kc.stop_channels()


def register_engine() -> str:
    """Register the engine with papermill (idempotent) and return its name."""
    papermill_engines.register(ENGINE_NAME, ProgressEngine)
    return ENGINE_NAME


def execute_notebook(
    source: Path,
    target: Path,
    parameters: dict[str, Any],
    *,
    kernel: str,
    cwd: Path,
    timeout: int,
    on_cell: Callable[[int, int], None] | None = None,
    stage_kernel: StageKernel | None = None,
) -> None:
    """Execute ``source`` with ``parameters`` into ``target`` (kept also when a cell fails).

    ``stage_kernel``: run on this kernel of the run (it is left running) instead of starting
    one.

    Raises
    ------
    papermill.exceptions.PapermillExecutionError
        A cell raised; ``target`` holds the executed notebook with the error.
    """
    pm.execute_notebook(
        str(source),
        str(target),
        parameters=parameters,
        kernel_name=kernel,
        engine_name=register_engine(),
        cwd=str(cwd),
        progress_bar=False,
        log_output=False,
        execution_timeout=timeout,
        cell_callback=on_cell,
        **({"km": stage_kernel.km} if stage_kernel is not None else {}),
    )


#: nbconvert's lab template without the scripts it loads from a CDN.
OFFLINE_TEMPLATE = Path(__file__).with_name("templates") / "notebook_offline.html.j2"


def notebook_to_html(ipynb: Path, html: Path) -> Path:
    """Render an executed notebook to HTML without code cells (for analysts).

    The page is self-contained: its images are embedded and it loads no script from
    the internet (:data:`OFFLINE_TEMPLATE`).
    """
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        template_file=str(OFFLINE_TEMPLATE),
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nbformat.read(ipynb, as_version=4))
    html.write_text(body, encoding="utf-8")
    return html
