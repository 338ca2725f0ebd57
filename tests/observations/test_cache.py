"""Parquet cache: keys change with inputs and params, writes are atomic, hits skip the build."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from churnlab.observations.cache import cache_path, cached, fingerprint


@pytest.fixture
def inputs(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x\n1\n")
    b.write_text("y\n2\n")
    return [a, b]


def test_fingerprint_stable_and_sensitive(inputs):
    params = {"horizon_days": 90, "windows": [7, 28]}
    key = fingerprint(inputs, params)
    assert len(key) == 64 and key == fingerprint(inputs, {"windows": [7, 28], "horizon_days": 90})
    assert fingerprint(inputs, {**params, "horizon_days": 60}) != key
    inputs[1].write_text("y\n3\n")
    assert fingerprint(inputs, params) != key


def test_cached_builds_once_and_reads_back(tmp_path):
    calls = []

    def build():
        calls.append(1)
        return pd.DataFrame(
            {"account_id": ["A", "B"], "as_of": pd.to_datetime(["2026-01-31"] * 2), "x": [1.5, 2.0]}
        )

    first = cached(tmp_path / "cache", "k1", build)
    second = cached(tmp_path / "cache", "k1", build)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(first, second, check_dtype=False)
    assert cache_path(tmp_path / "cache", "k1").name == "observations-k1.parquet"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["observations-k1.parquet"]


def test_failed_build_leaves_nothing(tmp_path):
    def boom():
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        cached(tmp_path, "k2", boom)
    assert list(tmp_path.iterdir()) == []


def test_engine_digest_covers_every_module_that_builds_the_table():
    """The key follows the imports of churnlab.observations: a moved module still counts."""
    from churnlab.observations import cache

    package = Path(cache.__file__).resolve().parents[1]
    covered = {
        p.relative_to(package).as_posix() for p in cache._reachable_sources("churnlab.observations")
    }
    engine = {p.relative_to(package).as_posix() for p in (package / "observations").rglob("*.py")}
    assert engine <= covered
    assert {"vocabulary.py", "errors.py"} <= covered  # the tier rule lives in the vocabulary
    assert not any(name.startswith(("report/", "run/", "delivery/")) for name in covered)
    assert cache.engine_code_digest() == cache.engine_code_digest()
