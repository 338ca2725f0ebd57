"""Run records: immutable run folders, manifest, failure records, `latest`, the lock."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from churnlab.config import load_params
from churnlab.errors import RunError
from churnlab.runner import STAGE_NAMES, run_lock, run_pipeline

ROOT = Path(__file__).resolve().parents[1]


def _notebook(code: str) -> nbformat.NotebookNode:
    params = nbformat.v4.new_code_cell(
        'run_dir = ""\nparams_file = ""\nproject_dir = ""\nas_of = ""\nprevious_run_dir = ""'
    )
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {
        "name": "churnlab",
        "display_name": "churnlab",
        "language": "python",
    }
    return nb


WRITE_FIXTURES = (
    "import sys, pathlib\n"
    "sys.path.insert(0, project_dir)\n"
    "from tests.report_fixtures import make_run_dir\n"
    "import shutil\n"
    "tmp = make_run_dir(pathlib.Path(run_dir) / '_fx')\n"
    "for f in tmp.iterdir():\n"
    "    if f.is_file() and f.name != 'manifest.json':\n"
    "        shutil.copy(f, pathlib.Path(run_dir) / f.name)\n"
    "shutil.rmtree(pathlib.Path(run_dir) / '_fx')\n"
)


def _fake_pipeline(folder: Path, fail_in: str | None = None, write_fixtures: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(STAGE_NAMES):
        code = WRITE_FIXTURES if i == 0 and write_fixtures else "x = 1"
        if name == fail_in:
            code = "raise ValueError('planted failure')"
        nbformat.write(_notebook(code), folder / f"{name}.ipynb")
    return folder


@pytest.fixture
def cfg(tmp_path):
    return load_params(ROOT / "params.yaml", overrides=[f"run.reports_dir={tmp_path / 'reports'}"])


@pytest.mark.slow
def test_successful_run_then_failure_keeps_latest(cfg, tmp_path):
    reports = tmp_path / "reports"
    ok = run_pipeline(cfg, notebooks_dir=_fake_pipeline(tmp_path / "nb_ok"))
    assert ok.succeeded, ok.manifest
    manifest = json.loads((ok.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "succeeded"
    assert [n["name"] for n in manifest["notebooks"]] == list(STAGE_NAMES)
    assert all(n["duration_s"] >= 0 for n in manifest["notebooks"])
    assert manifest["params"]["model"]["seed"] == cfg.model.seed
    assert manifest["packages"]["pandas"]
    assert (ok.run_dir / "report.html").exists()
    assert (ok.run_dir / "notebooks" / "00_data_health.html").exists()
    assert (reports / "latest").resolve() == ok.run_dir.resolve()

    bad = run_pipeline(
        cfg, notebooks_dir=_fake_pipeline(tmp_path / "nb_bad", fail_in="02_churn_model")
    )
    assert not bad.succeeded
    assert bad.run_dir != ok.run_dir and ok.run_dir.exists()
    failed = json.loads((bad.run_dir / "manifest.json").read_text())
    assert failed["status"] == "failed"
    assert failed["failed_notebook"] == "02_churn_model"
    record = failed["notebooks"][-1]
    assert record["error"]["cell_index"] == 2  # papermill inserted the injected-parameters cell
    assert (
        record["error"]["ename"] == "ValueError" and "planted failure" in record["error"]["evalue"]
    )
    executed = nbformat.read(bad.run_dir / "notebooks" / "02_churn_model.ipynb", as_version=4)
    assert any(o.get("ename") == "ValueError" for c in executed.cells for o in c.get("outputs", []))
    assert not (bad.run_dir / "notebooks" / "03_explanations.ipynb").exists()
    assert (reports / "latest").resolve() == ok.run_dir.resolve()  # untouched
    assert (ok.run_dir / "report.html").exists()  # earlier run intact


def test_lock_stops_a_second_run(tmp_path):
    with run_lock(tmp_path), pytest.raises(RunError, match="holds the lock"), run_lock(tmp_path):
        pass
    with run_lock(tmp_path):  # released afterwards
        assert (tmp_path / ".run.lock").read_text().startswith(f"pid {os.getpid()}")


def test_only_needs_an_earlier_run(cfg):
    with pytest.raises(RunError, match="run the full pipeline once first"):
        run_pipeline(cfg, only=["03"])
    with pytest.raises(RunError, match="no such stage"):
        run_pipeline(cfg, only=["99_nothing"])


@pytest.mark.slow
def test_cli_run_exits_1_on_a_failing_notebook_and_keeps_latest(tmp_path):
    from typer.testing import CliRunner

    from churnlab.cli import EXIT_FAILED, app

    project = tmp_path / "project"
    _fake_pipeline(project / "notebooks", fail_in="01_cohort_comparison", write_fixtures=False)
    cfg = load_params(ROOT / "params.yaml", overrides=[f"run.reports_dir={project / 'reports'}"])
    (project / "params.yaml").write_text(cfg.to_yaml())
    latest = project / "reports" / "latest"
    (project / "reports" / "runs" / "earlier").mkdir(parents=True)
    latest.symlink_to("runs/earlier")

    result = CliRunner().invoke(app, ["run", "--params-file", str(project / "params.yaml")])
    assert result.exit_code == EXIT_FAILED, result.output
    assert "01_cohort_comparison (cell 2): ValueError: planted failure" in result.output
    assert os.readlink(latest) == "runs/earlier"  # latest untouched
    (failed,) = [p for p in (project / "reports" / "runs").iterdir() if p.name != "earlier"]
    manifest = json.loads((failed / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["failed_notebook"] == "01_cohort_comparison"


def test_kernels_use_a_unique_ipc_path_or_fall_back_to_tcp(monkeypatch, tmp_path):
    import tempfile

    from churnlab._papermill_engine import LocalKernelManager

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    first, second = LocalKernelManager(), LocalKernelManager()
    assert first.transport == second.transport == "ipc"
    assert first.ip != second.ip and first.ip.startswith(str(tmp_path))
    assert LocalKernelManager(transport="tcp").transport == "tcp"
    long_dir = tmp_path / ("x" * 120)
    monkeypatch.setattr(tempfile, "tempdir", str(long_dir))
    assert LocalKernelManager().transport == "tcp"  # too long for a Unix socket path
