"""#21: a rerun on unchanged files takes stage 00's checked inputs from the cache."""

from __future__ import annotations

import shutil
import warnings

import pandas as pd
import pytest

from churnlab.data import DataWarning
from churnlab.run.steps import event_inputs
from tests.helpers import sample_params


@pytest.fixture
def copied_sample(sample_dir, tmp_path):
    """The sample with one event repeated (an exact copy: excluded with a DataWarning)."""
    folder = tmp_path / "sample"
    shutil.copytree(sample_dir, folder)
    events = pd.read_parquet(folder / "events.parquet")
    pd.concat([events, events.iloc[[5]]], ignore_index=True).to_parquet(
        folder / "events.parquet", index=False
    )
    return folder


def _load(cfg):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inputs = event_inputs.load_inputs(cfg)
    return inputs, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def test_unchanged_files_are_not_checked_twice_and_a_changed_file_is(
    copied_sample, tmp_path, monkeypatch
):
    cfg = sample_params(copied_sample, tmp_path)
    first, said = _load(cfg)
    assert any("exact copies" in w for w in said), said
    assert len(list((tmp_path / "cache").glob("inputs-*.pickle"))) == 1

    calls = []
    real = event_inputs._load_on_engine
    monkeypatch.setattr(event_inputs, "_load_on_engine", lambda cfg: calls.append(1) or real(cfg))
    again, said_again = _load(cfg)
    assert calls == []  # from the cache
    assert said_again == said  # the data's warnings are given again
    assert again.health.to_dict() == first.health.to_dict()
    pd.testing.assert_frame_equal(again.accounts, first.accounts)
    pd.testing.assert_frame_equal(again.subscriptions, first.subscriptions)
    pd.testing.assert_frame_equal(again.events, first.events)
    kept = first.health.to_dict()["row_counts"]["events"]["kept"]
    assert again.events_source.rows == first.events_source.rows == kept

    # another params section the check depends on: checked again
    _load(sample_params(copied_sample, tmp_path, "data.duplicate_events=keep"))
    assert calls == [1]
    # the same file names, other bytes: checked again
    events = pd.read_parquet(copied_sample / "events.parquet")
    events.iloc[:-1].to_parquet(copied_sample / "events.parquet", index=False)
    fresh, said_fresh = _load(cfg)
    assert calls == [1, 1]
    assert not any("exact copies" in w for w in said_fresh)
    assert fresh.events_source.rows == first.events_source.rows


def test_a_damaged_entry_is_checked_again(sample_dir, tmp_path):
    cfg = sample_params(sample_dir, tmp_path)
    first, _ = _load(cfg)
    (entry,) = (tmp_path / "cache").glob("inputs-*.pickle")
    entry.write_bytes(b"not a pickle")
    with pytest.warns(UserWarning, match="discarding the damaged cache entry"):
        again = event_inputs.load_inputs(cfg)
    assert again.health.to_dict() == first.health.to_dict()
    assert entry.read_bytes() != b"not a pickle"
