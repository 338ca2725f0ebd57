"""A content-addressed Parquet cache for observation tables.

The key is a fingerprint of the input files' bytes, the parameters, the churnlab
version and the code that builds the table (:func:`engine_code_digest`), so a changed
input, parameter, release or engine module rebuilds the table.
Writes are atomic (a temporary file in the same directory, then a rename), so
a crashed or concurrent run never leaves a half-written table behind.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from churnlab import __version__
from churnlab.atomic import atomic_path, write_json

__all__ = [
    "CacheWarning",
    "cache_path",
    "cached",
    "cached_with_summary",
    "code_digest",
    "engine_code_digest",
    "fingerprint",
]

_CHUNK = 1 << 20


class CacheWarning(UserWarning):
    """A cache entry could not be read and is rebuilt."""


def _canonical(params: Mapping[str, object]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


def fingerprint(paths: Sequence[Path | str], params: Mapping[str, object]) -> str:
    """SHA-256 of the files' bytes, the canonical JSON of ``params`` and the churnlab version.

    Parameters
    ----------
    paths : sequence of path
        Input files, hashed in the given order (their names are not hashed, so
        moving an unchanged file keeps the key).
    params : mapping
        JSON-serialisable parameters (dates and paths are rendered with ``str``);
        key order does not matter.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    digest = hashlib.sha256()
    digest.update(f"churnlab {__version__}\n".encode())
    for path in paths:
        file_digest = hashlib.sha256()
        with Path(path).open("rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                file_digest.update(chunk)
        digest.update(file_digest.digest())
    digest.update(_canonical(params).encode())
    return digest.hexdigest()


def cache_path(cache_dir: Path | str, key: str) -> Path:
    """Where the observation table of ``key`` lives: ``<cache_dir>/observations-<key>.parquet``."""
    return Path(cache_dir) / f"observations-{key}.parquet"


def cached(cache_dir: Path | str, key: str, build_fn: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Read the table stored under ``key``, or build it with ``build_fn`` and store it.

    Parameters
    ----------
    cache_dir : path
        Cache folder (``run.cache_dir``, e.g. ``data/cache``); created if missing.
    key : str
        Usually :func:`fingerprint` of the inputs and parameters.
    build_fn : callable
        Builds the table when it is not cached.

    Returns
    -------
    pandas.DataFrame
        The cached or freshly built table.
    """
    target = cache_path(cache_dir, key)
    if target.exists():
        try:
            return pd.read_parquet(target)
        except Exception as exc:  # truncated or foreign file: rebuild, never block a run
            warnings.warn(
                f"discarding the damaged cache entry {target} ({type(exc).__name__}: {exc}); "
                "rebuilding it",
                CacheWarning,
                stacklevel=2,
            )
            target.unlink(missing_ok=True)
    table = build_fn()
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        table.to_parquet(tmp, index=False)
    return table


def cached_with_summary(
    cache_dir: Path | str,
    key: str,
    build_fn: Callable[[], tuple[pd.DataFrame, dict[str, Any]]],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Like :func:`cached` for a builder that also returns a JSON-able summary.

    The summary is stored beside the table (``observations-<key>.summary.json``); a
    table cached without one comes back with an empty summary.
    """
    state: dict[str, Any] = {}

    def build() -> pd.DataFrame:
        table, state["summary"] = build_fn()
        return table

    table = cached(cache_dir, key, build)
    summary_path = Path(cache_dir) / f"observations-{key}.summary.json"
    if "summary" in state:
        write_json(summary_path, state["summary"])
        return table, state["summary"]
    if summary_path.exists():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            warnings.warn(
                f"discarding the damaged cache entry {summary_path} ({exc}); rebuilding it",
                CacheWarning,
                stacklevel=2,
            )
            cache_path(cache_dir, key).unlink(missing_ok=True)
            summary_path.unlink(missing_ok=True)
            return cached_with_summary(cache_dir, key, build_fn)
        return table, summary
    return table, {}


def engine_code_digest() -> str:
    """sha256 of every churnlab module that builds observation tables.

    The modules are found by following the imports of :mod:`churnlab.observations`
    inside churnlab (the package, its engine, and what they import: errors, vocabulary),
    so moving or adding an engine module never leaves a stale cache in use.
    """
    return code_digest("churnlab.observations")


@functools.cache
def code_digest(*modules: str) -> str:
    """sha256 of the source of ``modules`` and of every churnlab module they import."""
    digest = hashlib.sha256()
    paths = set().union(*(_reachable_sources(m) for m in modules))
    for path in sorted(paths):
        digest.update(path.relative_to(_PACKAGE_ROOT.parent).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


_PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # src/churnlab


def _module_file(name: str) -> Path | None:
    parts = name.split(".")[1:]
    base = _PACKAGE_ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _reachable_sources(start: str) -> set[Path]:
    """Source files of ``start`` (and its subpackages) and of the churnlab modules they import."""
    first = _module_file(start)
    todo = [first] if first else []
    if first is not None and first.name == "__init__.py":
        todo += list(first.parent.rglob("*.py"))
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for name in names:
                target = _module_file(name) if name.startswith("churnlab.") else None
                if target is not None and target not in seen:
                    todo.append(target)
    return seen
