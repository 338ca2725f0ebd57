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
    assert "budget of 64 MB (run.memory_budget: 64MB)" in text
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


def _estimate(**kw):
    from churnlab.run.memory import MemoryEstimate

    base = {
        "events": 10**8,
        "accounts": 10**5,
        "observation_rows": 2 * 10**6,
        "feature_columns": 94,
        "estimate_bytes": 8 * 2**30,
        "budget_bytes": 18 * 2**30,
        "budget_source": "auto",
        "stage00_bytes": 6 * 2**30,
        "later_bytes": 8 * 2**30,
    }
    return MemoryEstimate(**{**base, **kw})


def test_speed_ups_only_when_they_keep_the_peak_near_what_the_run_needs(
    sample_dir, tmp_path, monkeypatch
):
    """#21: a spare kernel, two fits and two stages at once, each only where memory allows."""
    from churnlab.run import memory

    monkeypatch.setattr(memory.os, "cpu_count", lambda: 2)
    cfg = sample_params(sample_dir, tmp_path)
    small = _estimate(
        observation_rows=40_000, estimate_bytes=2**30, stage00_bytes=2**30, later_bytes=2**29
    )
    plan = memory.plan_run(cfg, small)
    assert (plan.stages_at_once, plan.spare_kernel, plan.fold_workers) == (2, True, 2)
    # 100k accounts: the second stage or fit would add gigabytes over what the run needs
    plan = memory.plan_run(cfg, _estimate())
    assert (plan.stages_at_once, plan.fold_workers) == (1, 1) and plan.spare_kernel
    assert "8.0 GB one at a time" in plan.why
    # a budget at the estimate: nothing on top of it
    plan = memory.plan_run(cfg, _estimate(budget_bytes=6 * 2**30))
    assert (plan.stages_at_once, plan.spare_kernel, plan.fold_workers) == (1, False, 1)
    # one CPU: nothing at once, however much memory
    monkeypatch.setattr(memory.os, "cpu_count", lambda: 1)
    plan = memory.plan_run(cfg, small)
    assert (plan.stages_at_once, plan.spare_kernel, plan.fold_workers) == (1, False, 1)


def test_the_params_force_the_choice(sample_dir, tmp_path, monkeypatch):
    from churnlab.run import memory

    monkeypatch.setattr(memory.os, "cpu_count", lambda: 8)
    # YAML reads a bare off/on as false/true: taken as the words
    cfg = sample_params(
        sample_dir,
        tmp_path,
        "run.parallel_stages=off",
        "model.fold_workers=3",
        "run.memory_budget=off",
    )
    assert cfg.run.parallel_stages == "off" and cfg.run.memory_budget == "off"
    plan = memory.plan_run(cfg, _estimate(observation_rows=1000, budget_bytes=None))
    assert (plan.stages_at_once, plan.fold_workers) == (1, 3)
    assert "run.parallel_stages: off" in plan.why and "model.fold_workers: 3" in plan.why
    cfg = sample_params(sample_dir, tmp_path, "run.parallel_stages=on")
    assert memory.plan_run(cfg, _estimate()).stages_at_once == 2
    with pytest.raises(ParamsError, match="fold_workers"):
        sample_params(sample_dir, tmp_path, "model.fold_workers=0")


def test_a_run_records_what_it_did_at_once(pipeline_run):
    manifest = json.loads(pipeline_run.manifest.read_text(encoding="utf-8"))
    plan = manifest["parallel"]
    assert set(plan) == {"stages_at_once", "spare_kernel", "fold_workers", "why"}
    assert "estimated peak" in plan["why"]
