"""The memory guard: a run over its memory budget stops before the features stage, saying why."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from churnlab.errors import ParamsError
from churnlab.run.memory import count_rows, estimate_memory, parse_size
from churnlab.run.runner import run_pipeline
from tests.helpers import sample_params


def test_a_tiny_budget_stops_the_run_with_the_estimate_and_the_params(sample_dir, tmp_path):
    cfg = sample_params(sample_dir, tmp_path, "run.memory_budget=64MB")
    result = run_pipeline(cfg, in_process=True)

    assert not result.succeeded and result.failed_stage == "00_data_health"
    error = result.stages[0]["error"]
    assert error["ename"] == "ParamsError"
    text = error["evalue"]
    estimate = result.manifest["memory"]
    assert f"about {estimate['estimate_bytes'] / 2**30:.1f} GB" in text
    assert "budget of 0.1 GB (run.memory_budget: 64MB)" in text
    for param in ("observation.history_months", "features.windows", "run.memory_budget"):
        assert param in text
    assert not result.folder.observations.exists()  # stopped before the features stage
    saved = json.loads(result.folder.manifest.read_text(encoding="utf-8"))
    assert saved["memory"]["fits"] is False and saved["memory"]["budget_bytes"] == 64 * 2**20


def test_the_estimate_counts_the_real_rows_and_errs_high(pipeline_run, pipeline_cfg):
    found = estimate_memory(pipeline_cfg)
    health = json.loads(pipeline_run.data_health.read_text(encoding="utf-8"))
    assert found.events == health["row_counts"]["events"]["read"]
    assert found.accounts == health["row_counts"]["accounts"]["read"]
    observed = len(pd.read_parquet(pipeline_run.observations, columns=["account_id"]))
    assert found.observation_rows >= observed
    manifest = json.loads(pipeline_run.manifest.read_text(encoding="utf-8"))
    assert manifest["memory"]["fits"] is True
    assert manifest["memory"]["estimate_bytes"] == found.estimate_bytes


def test_sizes_and_counts(tmp_path):
    assert parse_size("8GB") == 8 * 2**30
    assert parse_size("1.5 g") == int(1.5 * 2**30)
    assert parse_size("512MiB") == 512 * 2**20
    with pytest.raises(ParamsError, match="run.memory_budget"):
        parse_size("lots")
    csv = tmp_path / "events.csv"
    csv.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    assert count_rows(csv) == 2
    assert count_rows(tmp_path / "absent.parquet") == 0
