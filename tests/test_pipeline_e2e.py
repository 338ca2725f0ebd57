"""End to end: the real notebooks, executed by papermill on a small generated sample."""

from __future__ import annotations

import json
from email import policy
from email.parser import BytesParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from papermill.translators import PythonTranslator
from typer.testing import CliRunner

from churnlab.cli import app
from churnlab.config import load_params
from churnlab.runner import STAGE_NAMES, run_pipeline
from tests.report_fixtures import EVIL_NAME
from tests.test_report import SECTIONS, check_self_contained

ROOT = Path(__file__).resolve().parents[1]
RUN_FILES = [
    "manifest.json",
    "kpis.csv",
    "cohort_comparison.csv",
    "model_metrics.json",
    "scores.csv",
    "renewal_map.csv",
    "early_warning.csv",
    "report.html",
    "headline.json",
]


@pytest.fixture(scope="module")
def small_sample(tmp_path_factory) -> Path:
    from churnlab.sample import generate_sample, write_sample

    folder = tmp_path_factory.mktemp("sample")
    write_sample(generate_sample(n_accounts=700, months=24, seed=7), folder)
    accounts = pd.read_parquet(folder / "accounts.parquet")
    accounts.loc[accounts.index[0], "name"] = EVIL_NAME  # hostile user data
    accounts.to_parquet(folder / "accounts.parquet", index=False)
    return folder


def _cfg(sample: Path, tmp: Path):
    return load_params(
        ROOT / "params.yaml",
        overrides=[
            f"data.accounts={sample / 'accounts.parquet'}",
            f"data.subscriptions={sample / 'subscriptions.parquet'}",
            f"data.events={sample / 'events.parquet'}",
            f"run.reports_dir={tmp / 'reports'}",
            f"run.cache_dir={tmp / 'cache'}",
            "cohorts.min_group=10",
        ],
    )


@pytest.mark.slow
def test_full_pipeline_writes_a_complete_run_record(small_sample, tmp_path):
    cfg = _cfg(small_sample, tmp_path)
    result = run_pipeline(cfg)
    assert result.succeeded, json.dumps(result.manifest["notebooks"], indent=1)[:3000]
    run = result.run_dir
    for name in RUN_FILES:
        assert (run / name).exists(), name
    for stage in STAGE_NAMES:
        assert (run / "notebooks" / f"{stage}.ipynb").exists()
        html = (run / "notebooks" / f"{stage}.html").read_text()
        assert "load_run_params" not in html  # code cells are left out of the analysts' HTML

    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "succeeded"
    assert set(manifest["inputs"]) == {
        str(small_sample / f)
        for f in ("accounts.parquet", "subscriptions.parquet", "events.parquet")
    }
    assert all(v["sha256"] for v in manifest["inputs"].values())
    assert manifest["row_counts"], "row counts from the data-health stage"
    assert "rejected_rows" in manifest
    assert [n["name"] for n in manifest["notebooks"]] == list(STAGE_NAMES)

    scores = pd.read_csv(run / "scores.csv")
    expected = {
        "account_id",
        "name",
        "churn_probability",
        "health_score",
        "health_band",
        "touch_tier",
        "arr",
        "renewal_date",
        "expected_arr_at_risk",
        "reasons",
    }
    assert expected <= set(scores.columns)
    assert scores["churn_probability"].between(0, 1).all()
    assert (
        scores["expected_arr_at_risk"] - scores["churn_probability"] * scores["arr"]
    ).abs().max() < 1e-6
    renewal = pd.read_csv(run / "renewal_map.csv")
    assert renewal["expected_arr_at_risk"].is_monotonic_decreasing

    html = (run / "report.html").read_text()
    soup = check_self_contained(html)
    for section in SECTIONS:
        assert soup.find(id=section) is not None, section
    assert EVIL_NAME not in html
    assert len((run / "report.html").read_bytes()) <= 2 * 1024 * 1024
    assert (tmp_path / "reports" / "latest").resolve() == run.resolve()

    # the CLI's dry run writes the email the scheduler would send, without sending it
    sent = CliRunner().invoke(
        app,
        ["send", str(run), "--dry-run", "--params-file", str(ROOT / "params.yaml"),
         "-p", "delivery.recipients=[vp-cs@example.com]"],
    )  # fmt: skip
    assert sent.exit_code == 0, sent.output
    (eml,) = run.glob("email-*.eml")
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert message["To"] == "vp-cs@example.com"
    assert message.get_body(preferencelist=("html",)) is not None

    # a second run keeps the first, and reports the change since it
    again = run_pipeline(cfg)
    assert again.succeeded and again.run_dir != run and run.exists()
    headline = json.loads((again.run_dir / "headline.json").read_text())
    assert all(t["change_display"] != "first run" for t in headline["kpis"])
    assert json.loads((again.run_dir / "manifest.json").read_text())["previous_run"] == run.name

    # --only reruns one stage on the other stages' files from the latest successful run
    only = run_pipeline(cfg, only=["03"])
    assert only.succeeded, json.dumps(only.manifest["notebooks"], indent=1)[:3000]
    assert [n["name"] for n in only.manifest["notebooks"]] == ["03_explanations"]
    assert (only.run_dir / "report.html").exists() and (only.run_dir / "kpis.csv").exists()


def test_pipeline_notebooks_follow_the_papermill_conventions():
    for stage in STAGE_NAMES:
        nb = nbformat.read(ROOT / "notebooks" / f"{stage}.ipynb", as_version=4)
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
        }
        assert all(p.help for p in parsed), "every parameter has a comment"


@pytest.mark.slow
def test_exploration_starter_notebook_runs(small_sample, tmp_path):
    import papermill as pm

    cfg = _cfg(small_sample, tmp_path)
    effective = tmp_path / "params.yaml"
    effective.write_text(cfg.to_yaml())
    out = tmp_path / "starter.ipynb"
    pm.execute_notebook(
        str(ROOT / "notebooks" / "exploration" / "starter.ipynb"),
        str(out),
        parameters={"params_file": str(effective), "project_dir": str(ROOT)},
        kernel_name="churnlab",
        cwd=str(ROOT),
        progress_bar=False,
    )
    executed = nbformat.read(out, as_version=4)
    last = executed.cells[-1]
    assert last.outputs, "the last cell shows the scored account"
    text = json.dumps(last.outputs)
    assert "churn_probability" in text and "health_score" in text


@pytest.mark.slow
def test_pipeline_runs_on_the_telco_snapshot(tmp_path):
    """The real IBM Telco data, given only the column-mapping overlay, goes through every stage."""
    cfg = load_params(
        ROOT / "params.yaml",
        [ROOT / "params" / "telco.yaml"],
        [f"run.reports_dir={tmp_path / 'reports'}", f"run.cache_dir={tmp_path / 'cache'}"],
    )
    result = run_pipeline(cfg)
    assert result.succeeded, json.dumps(result.manifest["notebooks"], indent=1)[:3000]
    run = result.run_dir
    metrics = json.loads((run / "model_metrics.json").read_text())
    assert metrics["scheme"] == "stratified_kfold"  # snapshot data: no time order, and it says so
    assert "stratified cross-validation" in metrics["summary"]
    champion = next(r for r in metrics["comparison"] if r["model"] == metrics["champion"])
    assert champion["roc_auc"] >= 0.83
    comparison = pd.read_csv(run / "cohort_comparison.csv")
    assert {"tenure_days", "Contract"} <= set(comparison["feature"].head(3))
    scores = pd.read_csv(run / "scores.csv")
    assert len(scores) == 5174  # every retained customer is scored
    health = json.loads((run / "data_health.json").read_text())
    assert health["row_counts"]
    assert "11" in json.dumps(health)  # the blank TotalCharges are reported
