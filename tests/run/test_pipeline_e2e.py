"""End to end: the real notebooks, executed by papermill, give the steps' run folder."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest
from papermill.translators import PythonTranslator

from churnlab.config import load_params
from churnlab.messages import render_message
from churnlab.run.folder import notebook_file
from churnlab.run.runner import run_pipeline
from churnlab.run.stages import NOTEBOOK_STAGES
from churnlab.vocabulary import vocabulary
from tests.helpers import ROOT, SECTIONS, check_self_contained
from tests.run.compare import differences

STAGE_NAMES = [s.name for s in NOTEBOOK_STAGES]


@pytest.mark.slow
def test_notebooks_write_the_run_folder_the_steps_write(pipeline_run, notebook_run, sample_dir):
    """The papermill run of the notebooks and the in-process run of their steps agree."""
    run = notebook_run
    written = [name for stage in NOTEBOOK_STAGES for name in stage.writes]
    assert differences(run, pipeline_run, written) == []
    for stage in STAGE_NAMES:
        assert run.notebook(stage).exists()
        html = run.notebook_html(stage).read_text()
        assert "open_stage" not in html  # code cells are left out of the analysts' HTML

    manifest = run.read_manifest()
    assert manifest["status"] == "succeeded" and manifest["executor"] == "papermill"
    assert set(manifest["inputs"]) == {
        str(sample_dir / f) for f in ("accounts.parquet", "subscriptions.parquet", "events.parquet")
    }
    assert all(v["sha256"] for v in manifest["inputs"].values())
    assert manifest["row_counts"], "row counts from the data-health stage"
    assert "rejected_rows" in manifest
    assert [s["name"] for s in manifest["stages"]] == [*STAGE_NAMES, "report"]

    scores = pd.read_csv(run.scores)
    assert scores["churn_probability"].between(0, 1).all()
    assert (
        scores["expected_arr_at_risk"] - scores["churn_probability"] * scores["arr"]
    ).abs().max() < 1e-6
    assert pd.read_csv(run.renewal_map)["expected_arr_at_risk"].is_monotonic_decreasing
    html = run.report.read_text()
    soup = check_self_contained(html)
    for section in SECTIONS:
        assert soup.find(id=section) is not None, section
    assert (run.path.parent.parent / "latest").resolve() == run.path.resolve()


def test_pipeline_notebooks_follow_the_papermill_conventions():
    looks_back = {s.name for s in NOTEBOOK_STAGES if s.looks_back}
    assert looks_back == {"05_monitoring"}
    for stage in STAGE_NAMES:
        nb = nbformat.read(ROOT / "notebooks" / notebook_file(stage), as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, stage
        assert nb.metadata["kernelspec"]["name"] == "churnlab"
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), stage
        parsed = PythonTranslator.inspect(tagged[0])
        assert {p.name for p in parsed} == {
            "run_dir",
            "params_file",
            "project_dir",
            "as_of",
            "previous_run_dir",
            *(["earlier_run_dirs"] if stage in looks_back else []),
        }
        assert all(p.help for p in parsed), "every parameter has a comment"


@pytest.mark.slow
def test_pipeline_runs_on_the_telco_snapshot(tmp_path):
    """The real IBM Telco data, given only the column-mapping overlay, goes through every stage."""
    cfg = load_params(
        ROOT / "params.yaml",
        [ROOT / "params" / "telco.yaml"],
        [f"run.reports_dir={tmp_path / 'reports'}", f"run.cache_dir={tmp_path / 'cache'}"],
    )
    result = run_pipeline(cfg, in_process=True)
    assert result.succeeded, json.dumps(result.stages, indent=1)[:3000]
    run = result.folder
    metrics = json.loads(run.model_metrics.read_text())
    assert metrics["scheme"] == "stratified_kfold"  # snapshot data: no time order, and it says so
    assert "stratified cross-validation" in metrics["summary"]
    champion = next(r for r in metrics["comparison"] if r["model"] == metrics["champion"])
    assert champion["roc_auc"] >= 0.83
    comparison = pd.read_csv(run.cohort_comparison)
    assert {"tenure_days", "Contract"} <= set(comparison["feature"].head(3))
    scores = pd.read_csv(run.scores)
    assert len(scores) == 5174  # every retained customer is scored
    # time to churn along tenure; a snapshot has no renewal dates: that column stays empty
    assert scores["survival_12m"].between(0, 1).all()
    assert scores["expected_lifetime_months"].between(0, 12).all()
    assert scores["p_churn_before_renewal"].isna().all() and "biggest_lever" in scores
    survival = run.read_model_metrics()["survival"]
    assert survival["status"] == "trained" and "TotalCharges" in " ".join(survival["notes"])
    health = json.loads(run.data_health.read_text())
    assert health["row_counts"]
    assert "11" in json.dumps(health)  # the blank TotalCharges are reported
    assert not run.periods.exists()  # a snapshot has no active periods


@pytest.mark.slow
def test_notebooks_stop_with_a_reason_when_no_model_can_be_trained(tmp_path):
    """The zoo's "no churner" case through papermill: 02 and 03 end as skipped, the run not."""
    import yaml

    from tests.zoo import CASES

    case = next(c for c in CASES if c.name == "no_churner")
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump(case.make(tmp_path / "data")))
    cfg = load_params(
        ROOT / "params.yaml",
        [overlay],
        [f"run.reports_dir={tmp_path / 'reports'}", f"run.cache_dir={tmp_path / 'cache'}"],
    )
    result = run_pipeline(cfg)
    assert result.succeeded, json.dumps(result.stages, indent=1)[:3000]
    status = {s["name"]: s["status"] for s in result.stages}
    assert status == {
        "00_data_health": "succeeded",
        "01_cohort_comparison": "succeeded",
        "02_churn_model": "skipped",
        "03_time_to_churn": "skipped",
        "04_explanations": "skipped",
        "05_monitoring": "succeeded",  # nothing scored: no drift; earlier runs: none
        "report": "succeeded",
    }
    reasons = {s["name"]: s.get("reason", "") for s in result.stages}
    assert "no churner to learn from" in reasons["02_churn_model"]
    # the notebook hands its reason back as a message, so a Japanese report says it in Japanese
    said = {s["name"]: s.get("reason_message") for s in result.stages}
    assert said["02_churn_model"]["key"] == "messages.stages.no_model"
    assert said["04_explanations"]["key"] == "messages.stages.nothing_to_explain"
    japanese = render_message(said["02_churn_model"], vocabulary("ja"))
    assert "解約モデル" in japanese and "no churner" not in japanese
    assert result.folder.notebook("02_churn_model").exists()  # the executed notebook says why
    assert "no churner to learn from" in result.folder.report.read_text()
