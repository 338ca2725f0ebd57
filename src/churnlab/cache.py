"""A content-addressed Parquet cache for observation tables.

The key is a fingerprint of the input files' bytes, the parameters and the
churnlab version, so a changed input, parameter or release rebuilds the table.
Writes are atomic (a temporary file in the same directory, then a rename), so
a crashed or concurrent run never leaves a half-written table behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from churnlab import __version__

__all__ = ["cache_path", "cached", "fingerprint"]

_CHUNK = 1 << 20


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
        return pd.read_parquet(target)
    table = build_fn()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        table.to_parquet(tmp, index=False)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return table
