"""Atomic file writes: a reader never sees a half-written file, a crash leaves the old one.

Every file churnlab writes for someone else to read (run records, CSV exports, the
report, cached tables, ``.eml`` files) goes through :func:`atomic_path`: the content is
written to a temporary file in the target's folder, flushed to disk, then renamed over
the target with :func:`os.replace`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "write_bytes", "write_json", "write_text"]


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    Parameters
    ----------
    target : path
        The file to write. An existing file keeps its permissions.

    Yields
    ------
    pathlib.Path
        Where to write. When the block raises, the temporary file is removed and
        ``target`` is left as it was.
    """
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    # a new file gets 0o666 minus the umask, like a normal open(); an existing file's
    # permissions are kept, so replacing it does not change who may read it
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o666
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically and return the path."""
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike[str], payload: Any) -> Path:
    """Write ``payload`` as indented JSON atomically (dates as ISO strings, ASCII escapes)."""
    return write_text(target, json.dumps(payload, indent=2, default=str))
