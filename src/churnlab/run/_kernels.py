"""The run's Jupyter kernels: started ahead, over Unix sockets, reused from notebook to notebook.

Only :mod:`jupyter_client` is imported here (not papermill): the runner launches its kernels
first thing, and papermill is imported by the thread that runs the first notebook while the
kernels start.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager

__all__ = ["LocalKernelManager", "StageKernel"]


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

    async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        """jupyter_client's shutdown without the SIGINT it sends first.

        That interrupt reaches a kernel still handling a message (the end of a notebook)
        as a KeyboardInterrupt, which ipykernel logs on stderr as an error ("KeyboardInterrupt
        caught in kernel") into every run's log. The shutdown request goes over the control
        channel, which a busy kernel answers too; a kernel that does not stop in time is
        killed (``now`` kills at once), as jupyter_client does.
        """
        if not self.owns_kernel:
            return
        self.shutting_down = True  # as jupyter_client: the restarter must not restart it
        self.stop_restarter()
        if now:
            await self._async_kill_kernel()
        else:
            await self._async_request_shutdown(restart=restart)
            await self._async_finish_shutdown(restart=restart)
        await self._async_cleanup_resources(restart=restart)

    shutdown_kernel = _async_shutdown_kernel


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


#: Run in a used kernel before its next notebook: what a fresh kernel would have. The user
#: namespace, ``Out`` and the execution count start anew (``reset(new_session=True)``), open
#: figures are closed, the working directory is the project's, and memory freed by the last
#: notebook goes back to the system (``malloc_trim``). Imported modules stay: that is the gain.
RESET = """
def _churnlab_reset(cwd):
    import gc, os, sys
    get_ipython().reset(new_session=True)
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    os.chdir(cwd)
    gc.collect()
    if "pyarrow" in sys.modules:  # Arrow's own allocator keeps freed buffers otherwise
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        import ctypes
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:
            pass
_churnlab_reset({cwd!r})
del _churnlab_reset
"""

#: Imports a kernel runs quietly, inside a function (the namespace stays empty).
WARM_UP = """
def _churnlab_warm_up():
    import importlib
    for name in {modules!r}:
        importlib.import_module(name)
_churnlab_warm_up()
del _churnlab_warm_up
"""


class StageKernel:
    """A kernel of the run: it runs stage notebooks one after another, started ahead.

    The kernel is launched at once (the launch returns without waiting for it to be ready)
    in ``cwd``, the directory papermill would start it in, and imports ``modules`` quietly
    (``silent``: no output, no execution count; an error is ignored, the notebook meets it
    again and reports it). papermill runs a notebook on it and leaves it running; before
    the next notebook, :meth:`prepare` resets it to what a fresh kernel has (:data:`RESET`)
    except the modules already imported, so a run pays for a kernel's start-up and the
    heavy imports (pandas, LightGBM, SHAP...) once per kernel, not once per notebook.
    :meth:`close` shuts it down.

    Parameters
    ----------
    kernel_name : str
        The Jupyter kernel to launch.
    cwd : Path
        Its working directory.
    modules : iterable of str
        Modules to import before the first notebook.
    """

    def __init__(self, kernel_name: str, cwd: Path, modules: Iterable[str] = ()) -> None:
        from jupyter_core.utils import run_sync

        self.kernel_name = kernel_name
        self.cwd = Path(cwd)
        self.km = LocalKernelManager(kernel_name=kernel_name)
        run_sync(self.km.start_kernel)(cwd=str(self.cwd))
        self._client: Any = None
        self._closed = False
        self.imported: set[str] = set()
        #: True once a notebook ran on it (the next one needs :data:`RESET` first).
        self.used = False
        self.prepare(modules)

    def _send(self, code: str) -> None:
        if self._client is None:
            from jupyter_client import BlockingKernelClient

            client = BlockingKernelClient()
            client.load_connection_info(self.km.get_connection_info())
            client.start_channels()
            self._client = client  # open until the notebook ran: a closed socket drops it
        self._client.execute(code, silent=True, store_history=False, allow_stdin=False)

    def prepare(self, modules: Iterable[str] = ()) -> None:
        """Queue a reset (after a notebook ran) and the imports not done yet; returns at once.

        The kernel runs requests in order: the next notebook's first cell waits for these.
        """
        code = ""
        if self.used:
            code += RESET.format(cwd=str(self.cwd))
            self.used = False
        new = [m for m in dict.fromkeys(modules) if m not in self.imported]
        if new:
            code += WARM_UP.format(modules=tuple(new))
            self.imported.update(new)
        if code:
            self._send(code)

    def alive(self) -> bool:
        """True while the kernel process runs."""
        from jupyter_core.utils import run_sync

        return bool(self.km.has_kernel and run_sync(self.km.is_alive)())

    def ran_notebook(self) -> None:
        """Note that a notebook ran (the next :meth:`prepare` resets the kernel first)."""
        self.used = True
        if self._client is not None:
            self._client.stop_channels()
            self._client = None

    def close(self) -> None:
        """Stop the warm-up channels; shut the kernel down when it still runs (once)."""
        from jupyter_core.utils import run_sync

        if self._closed:
            return
        self._closed = True
        if self._client is not None:
            self._client.stop_channels()
            self._client = None
        if self.km.has_kernel:
            with contextlib.suppress(RuntimeError):  # already gone
                run_sync(self.km.shutdown_kernel)(now=True)
        run_sync(self.km.cleanup_resources)()
