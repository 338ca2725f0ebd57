"""Comparing the files two runs wrote (what ``--only`` and the notebooks must reproduce)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from churnlab.run import RunFolder


def differences(a: RunFolder, b: RunFolder, names: list[str]) -> list[str]:
    """The declared files (RunFolder attribute names) that differ between two runs.

    CSV, JSON and text files must be byte-identical; Parquet files equal as frames (their
    metadata records the writing library); folders file by file.
    """
    out = []
    for name in names:
        left, right = getattr(a, name), getattr(b, name)
        if not left.exists() and not right.exists():
            continue
        pairs = _pairs(left, right)
        if pairs is None:
            out.append(f"{name}: present in one run only")
            continue
        out += [f"{name}: {p.name} differs" for p, q in pairs if not _same(p, q)]
    return out


def _pairs(left: Path, right: Path) -> list[tuple[Path, Path]] | None:
    if left.exists() != right.exists() or left.is_dir() != right.is_dir():
        return None
    if not left.is_dir():
        return [(left, right)]
    files = sorted(p.relative_to(left) for p in left.rglob("*") if p.is_file())
    if files != sorted(p.relative_to(right) for p in right.rglob("*") if p.is_file()):
        return None
    return [(left / f, right / f) for f in files]


def _same(left: Path, right: Path) -> bool:
    if left.suffix == ".parquet":
        try:
            pd.testing.assert_frame_equal(pd.read_parquet(left), pd.read_parquet(right))
        except AssertionError:
            return False
        return True
    return left.read_bytes() == right.read_bytes()
