"""What a run does when the world goes wrong: signals, full disks, dead runs, the run log.

* :func:`signals_interrupt`: SIGTERM and SIGINT raise :class:`~churnlab.errors.Interrupted`
  in the runner, which records the run as ``interrupted`` and stops its kernels
  (:func:`stop_children`) before exiting.
* :func:`storage_errors`: a full disk, a read-only file system or a permission error
  becomes a :class:`~churnlab.errors.StorageError` naming the path (exit code 4).
* :func:`save_manifest`: when the disk is too full for the atomic write of the manifest,
  the manifest is rewritten in place, shortened, so the record stays true.
* :func:`mark_abandoned`: runs left ``running`` by a process that is gone (``kill -9``,
  power loss) are marked ``abandoned`` by the next run; nothing is deleted.
* :func:`run_log`: ``run.log`` in the run folder, timestamped lines in UTC.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from churnlab.atomic import write_json
from churnlab.errors import Interrupted, StorageError
from churnlab.run.folder import RunFolder, process_alive
from churnlab.run.record import STORAGE_ERRNOS, advice, utc_now

__all__ = [
    "mark_abandoned",
    "Signals",
    "run_log",
    "signals_deferred",
    "signals_interrupt",
    "stop_children",
    "storage_errors",
]

logger = logging.getLogger("churnlab.run")


@contextlib.contextmanager
def storage_errors(where: Path) -> Iterator[None]:
    """Turn storage ``OSError`` (see :data:`STORAGE_ERRNOS`) into :class:`StorageError`."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in STORAGE_ERRNOS:
            raise
        path = exc.filename or where
        raise StorageError(
            f"cannot write {path}: {STORAGE_ERRNOS[exc.errno]}. How to fix: {advice(exc.errno)}"
        ) from exc


class Signals:
    """The signal that stopped the run, if one came (see :func:`signals_interrupt`)."""

    def __init__(self) -> None:
        self.received: int | None = None

    def check(self) -> None:
        """Raise :class:`Interrupted` when a signal came (code that swallowed it goes on)."""
        if self.received is not None:
            raise Interrupted(self.received)


@contextlib.contextmanager
def signals_interrupt(
    signums: Sequence[int] = (signal.SIGTERM, signal.SIGINT),
) -> Iterator[Signals]:
    """While the block runs, SIGTERM/SIGINT stop the run (main thread only).

    The first signal is recorded, the notebook kernels are told to stop (so a notebook
    cell does not run on), and :class:`Interrupted` is raised where the runner is. A
    library that catches it (an event loop's cleanup) cannot hide it: the runner checks
    :meth:`Signals.check` after every stage. Further signals are ignored while the run
    records itself.
    """
    state = Signals()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handler(signum: int, frame: object) -> None:
        for number in signums:
            signal.signal(number, signal.SIG_IGN)
        state.received = signum
        stop_children(timeout=0)
        raise Interrupted(signum)

    before = {number: signal.signal(number, handler) for number in signums}
    try:
        yield state
    finally:
        for number, old in before.items():
            signal.signal(number, old)


@contextlib.contextmanager
def signals_deferred(signums: Sequence[int] = (signal.SIGTERM, signal.SIGINT)) -> Iterator[None]:
    """Hold SIGTERM/SIGINT back while the block runs; one that came is delivered after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, signums)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, signums)


def stop_children(timeout: float = 5.0) -> list[int]:
    """Terminate this process's children (notebook kernels), then kill what is left.

    Returns the pids that were stopped.
    """
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    if timeout <= 0:  # told to stop; the caller does not wait (a signal handler)
        return [c.pid for c in children]
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(alive, timeout=timeout)
    return [c.pid for c in children]


def mark_abandoned(runs: Sequence[Any]) -> list[str]:
    """Mark runs left ``running`` by a process that is gone as ``abandoned``.

    Called with the run lock held, so no other run of this reports folder is going
    on; a run whose process still lives (another host, or a process that kept
    running without the lock) is left alone. Nothing is deleted.

    Parameters
    ----------
    runs : sequence of RunInfo
        The runs of the reports folder (:func:`churnlab.run.lineage.scan_runs`).

    Returns
    -------
    list of str
        The runs marked.
    """
    marked = []
    for run in runs:
        manifest = run.manifest
        if manifest.get("status") != "running":
            continue
        process = manifest.get("process")
        alive = process_alive(process) if process else False
        if alive and process.get("pid") != os.getpid():
            continue
        if alive is None:  # recorded on another host: the lock says it is not running here
            logger.warning("run %s was left running on %s", run.name, process.get("host"))
        for stage in manifest.get("stages") or []:
            if stage.get("status") == "running":
                stage["status"] = "abandoned"
        manifest["status"] = "abandoned"
        manifest["abandoned_at"] = utc_now().isoformat()
        manifest["abandoned_reason"] = (
            "the process that ran it ended without recording an end (killed, or the "
            "machine stopped); marked by the next run"
        )
        write_json(run.folder.manifest, manifest)
        logger.warning("run %s: marked abandoned (its process is gone)", run.name)
        marked.append(run.name)
    return marked


class _UTCFormatter(logging.Formatter):
    converter = time.gmtime

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", self.converter(record.created))


class _QuietFileHandler(logging.FileHandler):
    """A file handler that stays silent when the disk is full (the manifest says so)."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        return


@contextlib.contextmanager
def run_log(folder: RunFolder) -> Iterator[Path]:
    """Copy churnlab's log lines into ``run.log`` of the run folder while the block runs."""
    handler = _QuietFileHandler(folder.log, encoding="utf-8", delay=True)
    handler.setFormatter(_UTCFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger("churnlab")
    previous = root.level
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        yield folder.log
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        handler.close()
