"""What a run records about itself in ``manifest.json``: inputs, versions, commit, stage results."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import platform
import re
import signal
import subprocess
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from churnlab.atomic import write_json
from churnlab.config import Params
from churnlab.errors import Interrupted, StorageError
from churnlab.run.folder import RunFolder

__all__ = [
    "PACKAGES",
    "STORAGE_ERRNOS",
    "RunRecord",
    "advice",
    "error_record",
    "git_commit",
    "input_fingerprints",
    "package_versions",
    "save_manifest",
    "sha256_file",
    "stage_records",
    "storage_cause",
    "utc_now",
]

#: The packages a run's numbers depend on (their versions go into the manifest).
PACKAGES = (
    "churnlab",
    "pandas",
    "numpy",
    "scikit-learn",
    "lightgbm",
    "shap",
    "duckdb",
    "ibis-framework",
    "papermill",
    "lifelines",
    "scipy",
    "matplotlib",
    "jinja2",
    "babel",
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TRACEBACK_CHARS = 20_000
logger = logging.getLogger("churnlab.run")


def utc_now() -> dt.datetime:
    """Current UTC time (second precision)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of the packages a run's numbers depend on."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(root: Path) -> str | None:
    """The project's git commit (with ``-dirty`` when the tree has changes), or None."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return sha + ("-dirty" if dirty else "")


def input_fingerprints(cfg: Params, files: list[Path]) -> dict[str, dict[str, Any]]:
    """sha256 and size of every input file (missing files are reported, not hidden)."""
    out: dict[str, dict[str, Any]] = {}
    for path in files:
        if path.exists():
            out[str(path)] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        else:
            out[str(path)] = {"sha256": None, "missing": True}
    return out


def error_record(exc: BaseException, **extra: Any) -> dict[str, Any]:
    """The manifest's record of a failure: name, message and the whole traceback."""
    text = "".join(traceback.format_exception(exc))
    return {
        **extra,
        "ename": type(exc).__name__,
        "evalue": str(exc)[:2000],
        "traceback": _clip(text),
    }


def clean_traceback(lines: list[str] | str | None) -> str:
    """A notebook's traceback as plain text (ANSI colours removed, length capped)."""
    if not lines:
        return ""
    text = lines if isinstance(lines, str) else "\n".join(lines)
    return _clip(_ANSI.sub("", text))


def _clip(text: str) -> str:
    return text if len(text) <= _TRACEBACK_CHARS else "...\n" + text[-_TRACEBACK_CHARS:]


def stage_records(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The stage records of a manifest (``stages``; ``notebooks`` in layout-1 runs)."""
    return list(manifest.get("stages") or manifest.get("notebooks") or [])


#: The errors of the storage, not of churnlab: no space, quota, read-only, no permission.
STORAGE_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
_ERRNO_TEXT = re.compile(r"\[Errno (\d+)\]")


def advice(code: int) -> str:
    """How to fix a storage error of ``code`` (an errno of :data:`STORAGE_ERRNOS`)."""
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "free space there (earlier runs can go with `churnlab runs prune --keep N`)"
    return "make the folder writable for this user, or point run.reports_dir elsewhere"


def storage_cause(error: dict[str, Any]) -> str | None:
    """The storage cause of a stage's recorded error (``[Errno 28] ...``), or None."""
    found = _ERRNO_TEXT.search(f"{error.get('evalue', '')}")
    if found and int(found.group(1)) in STORAGE_ERRNOS:
        code = int(found.group(1))
        return f"{STORAGE_ERRNOS[code]} ({error.get('evalue')}). How to fix: {advice(code)}"
    return None


def save_manifest(folder: RunFolder, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically; on a full disk, shortened in place, then raise.

    The atomic write needs room for a second copy. When there is none, the manifest is
    truncated and rewritten with the essentials (status, stages, the storage error),
    which fit in the blocks the old copy freed, and :class:`StorageError` is raised.
    """
    try:
        write_json(folder.manifest, manifest)
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        cause = exc
    manifest["status"] = "failed" if manifest.get("status") == "running" else manifest["status"]
    manifest["error_kind"] = "storage"
    manifest["storage_error"] = f"{STORAGE_ERRNOS[cause.errno]} writing {folder.manifest}"
    manifest["finished_at"] = manifest.get("finished_at") or utc_now().isoformat()
    keep = ("status", "run_id", "layout_version", "as_of", "started_at", "finished_at")
    short = {k: manifest.get(k) for k in keep}
    short.update(
        error_kind="storage",
        storage_error=manifest["storage_error"],
        stages=[{k: s.get(k) for k in ("name", "status")} for s in manifest.get("stages", [])],
        dataset=manifest.get("dataset"),
        process=manifest.get("process"),
    )
    with contextlib.suppress(OSError), folder.manifest.open("r+", encoding="utf-8") as fh:
        fh.truncate(0)
        fh.write(json.dumps(short))
        fh.flush()
        os.fsync(fh.fileno())
    raise StorageError(
        f"cannot write {folder.manifest}: {STORAGE_ERRNOS[cause.errno]}; the run is recorded "
        f"as failed. How to fix: {advice(cause.errno)}"
    ) from cause


class RunRecord:
    """The run's manifest as it is kept on disk while the run goes on (the runner's record)."""

    def __init__(self, folder: RunFolder, manifest: dict[str, Any]) -> None:
        self.folder = folder
        self.manifest = manifest
        self.current: dict[str, Any] | None = None  # the stage started and not yet recorded
        #: Stage names in pipeline order: ``stages`` stays in this order when stages run at once.
        self.order: list[str] = []

    def save(self) -> None:
        """Write the manifest (atomically; see :func:`save_manifest` for a full disk)."""
        save_manifest(self.folder, self.manifest)

    def stage_started(self, name: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": name,
            "status": "running",
            "started_at": utc_now().isoformat(),
        }
        self.manifest["stages"].append(entry)
        if self.order:
            rank = {n: i for i, n in enumerate(self.order)}
            self.manifest["stages"].sort(key=lambda e: rank.get(e["name"], len(rank)))
        self.current = entry
        self.save()
        logger.info("run %s: stage %s started", self.folder.name, name)
        return entry

    def stage_ended(self, entry: dict[str, Any]) -> None:
        self.save()
        self.current = None
        _log_stage(self.folder, entry)

    def stage_failed(
        self,
        name: str,
        exc: BaseException,
        notify: Callable[[str, dict[str, Any]], None],
        during: str,
    ) -> None:
        """Record stage ``name`` as failed by ``exc`` before it could start (``during``)."""
        entry = self.stage_started(name)
        notify("stage_start", {"name": name})
        error = error_record(exc, cell_index=None, during=during)
        entry.update(status="failed", notebook=None, duration_s=0.0, error=error)
        self.stage_ended(entry)
        notify("stage_end", {"name": name, "record": entry})

    def interrupted(self, exc: Interrupted) -> None:
        """Record the signal: the stage going on (also one between its end and its record)."""
        entries = self.manifest["stages"]
        for entry in entries:
            if entry.get("status") == "running" or entry is self.current:
                entry["status"] = "interrupted"
        self.manifest["status"] = "interrupted"
        self.manifest["signal"] = signal.Signals(exc.signum).name
        logger.warning("run %s: %s", self.folder.name, exc)

    def finish(self, seconds: float) -> None:
        m = self.manifest
        failed = next((e for e in m["stages"] if e.get("status") == "failed"), None)
        if m["status"] == "running":
            m["status"] = "failed" if failed else "succeeded"
        m["failed_stage"] = failed["name"] if failed else None
        if failed is not None and (cause := storage_cause(failed.get("error") or {})):
            m["error_kind"] = "storage"
            m["storage_error"] = cause
        m["finished_at"] = utc_now().isoformat()
        m["duration_s"] = round(seconds, 2)
        self.save()


def _log_stage(folder: RunFolder, record: dict[str, Any]) -> None:
    status = record["status"]
    if status in ("succeeded", "skipped"):
        reason = f": {record['reason']}" if record.get("reason") else ""
        logger.info(
            "run %s: stage %s %s in %.1f s%s",
            folder.name,
            record["name"],
            status,
            record.get("duration_s", 0.0),
            reason,
        )
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
