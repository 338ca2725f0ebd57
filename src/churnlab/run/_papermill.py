"""Running a stage's notebook with papermill, and its HTML copy for analysts.

The engine reports cell progress to a callback (for the run progress display) and starts
kernels over Unix sockets.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import papermill as pm
from jupyter_client.manager import AsyncKernelManager
from papermill.engines import NBClientEngine, papermill_engines

ENGINE_NAME = "churnlab"


class LocalKernelManager(AsyncKernelManager):
    """A kernel reached over Unix domain sockets (IPC transport) instead of localhost TCP.

    The notebooks run on this machine only: no TCP ports are opened, and
    ipykernel does not print its "running over TCP without encryption"
    warning into every (scheduled) run's log. Falls back to TCP when the
    temp directory's path is too long for a socket path, or when a caller
    asks for ``transport="tcp"``.

    The kernel dies with the runner: on Linux it gets the parent-death signal SIGKILL
    (``prctl(PR_SET_PDEATHSIG)``), so a runner killed with ``kill -9`` leaves no kernel
    writing into its run folder (ipykernel's own parent poller, which checks once a
    second, is the fallback elsewhere).
    """

    def __init__(self, **kwargs: Any) -> None:
        prefix = _ipc_prefix()
        if prefix is not None and kwargs.get("transport", "ipc") == "ipc":
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", prefix)
        super().__init__(**kwargs)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        # the signal follows the launching *thread*: only the main thread lives as long
        # as the runner process
        main = threading.current_thread() is threading.main_thread()
        if sys.platform.startswith("linux") and main:
            kw.setdefault("preexec_fn", _parent_death_hook())
        await super()._async_launch_kernel(kernel_cmd, **kw)

    _launch_kernel = _async_launch_kernel


_PR_SET_PDEATHSIG = 1


def _parent_death_hook() -> Callable[[], None]:
    """A ``preexec_fn`` that asks Linux to SIGKILL the child when the runner dies.

    ``prctl`` is looked up here, in the parent: the hook runs between fork and exec,
    where only async-signal-safe work belongs.
    """
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:  # pragma: no cover - runs in the forked child
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return hook


# a Unix socket path holds at most 107 bytes on Linux (103 on macOS)
_MAX_SOCKET_PATH = 100


def _ipc_prefix() -> str | None:
    """A unique socket-file prefix under the temp directory; None when too long (use TCP).

    jupyter_client's default prefix, ``kernel-ipc`` in the working directory, is
    shared by concurrent runs. The kernel's socket files ``<prefix>-1`` ..
    ``<prefix>-5`` are removed when the kernel is cleaned up.
    """
    prefix = str(Path(tempfile.gettempdir()) / f"churnlab-{uuid.uuid4().hex[:12]}")
    return prefix if len(prefix.encode()) + 3 <= _MAX_SOCKET_PATH else None


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
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


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
) -> None:
    """Execute ``source`` with ``parameters`` into ``target`` (kept also when a cell fails).

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
