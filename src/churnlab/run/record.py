"""What a run records about itself in ``manifest.json``: inputs, versions, commit, stage results."""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
import re
import subprocess
import traceback
from importlib import metadata
from pathlib import Path
from typing import Any

from churnlab.config import Params

__all__ = [
    "PACKAGES",
    "error_record",
    "git_commit",
    "input_fingerprints",
    "package_versions",
    "sha256_file",
    "stage_records",
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
