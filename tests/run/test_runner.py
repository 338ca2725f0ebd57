"""Run records: immutable run folders, manifest, failure records, `latest`, the lock."""

from __future__ import annotations

import json
import os
from email import policy
from email.parser import BytesParser
from pathlib import Path

import nbformat
import pytest

from churnlab.config import load_params
from churnlab.errors import RunError, UsageError
from churnlab.run import ReportsFolder, RunFolder
from churnlab.run.runner import run_pipeline
from churnlab.run.stages import NOTEBOOK_STAGES
from tests.helpers import ROOT

STAGE_NAMES = [s.name for s in NOTEBOOK_STAGES]


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


def _copy_files_of(run: RunFolder) -> str:
    """Notebook code that copies the files of a real run into the run folder."""
    return (
        "import shutil, pathlib\n"
        f"source = pathlib.Path({str(run.path)!r})\n"
        "for f in source.iterdir():\n"
        "    target = pathlib.Path(run_dir) / f.name\n"
        "    if f.is_dir() and f.name != 'notebooks':\n"
        "        shutil.copytree(f, target, dirs_exist_ok=True)\n"
        "    elif f.is_file() and f.name != 'manifest.json':\n"
        "        shutil.copy(f, target)\n"
    )


def _fake_pipeline(
    folder: Path, fail_in: str | None = None, source: RunFolder | None = None
) -> Path:
    """Notebooks that do nothing (the first copies a real run's files), one may fail."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(STAGE_NAMES):
        code = _copy_files_of(source) if i == 0 and source is not None else "x = 1"
        if name == fail_in:
            code = "raise ValueError('planted failure')"
        nbformat.write(_notebook(code), folder / f"{name}.ipynb")
    return folder


@pytest.fixture
def cfg(tmp_path):
    """params.yaml with a pinned data.as_of: the fake notebooks read no data (a clean clone
    has no data/sample), so nothing needs to be read to date the run."""
    overrides = [f"run.reports_dir={tmp_path / 'reports'}", "data.as_of=2026-10-31"]
    return load_params(ROOT / "params.yaml", overrides=overrides)


@pytest.mark.slow
def test_successful_run_then_failure_keeps_latest(cfg, tmp_path, pipeline_run):
    reports = tmp_path / "reports"
    ok = run_pipeline(cfg, notebooks_dir=_fake_pipeline(tmp_path / "nb_ok", source=pipeline_run))
    assert ok.succeeded, ok.manifest
    manifest = json.loads((ok.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "succeeded" and manifest["layout_version"] == 2
    assert [n["name"] for n in manifest["stages"]] == [*STAGE_NAMES, "report"]
    assert all(n["duration_s"] >= 0 for n in manifest["stages"])
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
    assert failed["failed_stage"] == "02_churn_model"
    record = failed["stages"][-1]
    assert record["error"]["cell_index"] == 2  # papermill inserted the injected-parameters cell
    assert (
        record["error"]["ename"] == "ValueError" and "planted failure" in record["error"]["evalue"]
    )
    # the evidence is kept: the whole traceback, without the terminal's colour codes
    assert "planted failure" in record["error"]["traceback"]
    assert "\x1b[" not in record["error"]["traceback"]
    executed = nbformat.read(bad.run_dir / "notebooks" / "02_churn_model.ipynb", as_version=4)
    assert any(o.get("ename") == "ValueError" for c in executed.cells for o in c.get("outputs", []))
    assert not (bad.run_dir / "notebooks" / "04_explanations.ipynb").exists()
    assert (reports / "latest").resolve() == ok.run_dir.resolve()  # untouched
    assert (ok.run_dir / "report.html").exists()  # earlier run intact


def test_lock_stops_a_second_run(tmp_path):
    reports = ReportsFolder(tmp_path)
    with (
        reports.holding_lock(),
        pytest.raises(RunError, match="holds the lock"),
        reports.holding_lock(),
    ):
        pass
    with reports.holding_lock():  # released afterwards; the holder is recorded
        holder = json.loads(reports.lock.read_text())
        assert holder["pid"] == os.getpid() and holder["process_started"] > 0


def test_only_needs_an_earlier_run(cfg):
    with pytest.raises(UsageError, match="run the whole pipeline once first"):
        run_pipeline(cfg, only=["04"])
    with pytest.raises(UsageError, match="no such stage"):
        run_pipeline(cfg, only=["99_nothing"])


@pytest.mark.slow
def test_cli_run_exits_1_on_a_failing_notebook_and_keeps_latest(tmp_path):
    from typer.testing import CliRunner

    from churnlab.cli import EXIT_FAILED, app

    project = tmp_path / "project"
    _fake_pipeline(project / "notebooks", fail_in="01_cohort_comparison")
    reports_dir = f"run.reports_dir={project / 'reports'}"  # the fake notebooks read no data
    cfg = load_params(ROOT / "params.yaml", overrides=[reports_dir, "data.as_of=2026-10-31"])
    (project / "params.yaml").write_text(cfg.to_yaml())
    latest = project / "reports" / "latest"
    (project / "reports" / "runs" / "earlier").mkdir(parents=True)
    latest.symlink_to("runs/earlier")

    overlay = project / "production.yaml"
    overlay.write_text("delivery:\n  failure_recipients: [data-team@example.com]\n")
    params = ["--params-file", str(project / "params.yaml"), "--params", str(overlay)]
    result = CliRunner().invoke(app, ["run", *params, "-p", "model.seed=7"])
    assert result.exit_code == EXIT_FAILED, result.output
    assert "01_cohort_comparison (cell 2): ValueError: planted failure" in result.output
    assert os.readlink(latest) == "runs/earlier"  # latest untouched
    (failed,) = [p for p in (project / "reports" / "runs").iterdir() if p.name != "earlier"]
    manifest = json.loads((failed / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["failed_stage"] == "01_cohort_comparison"
    # the failure notice says how to re-run that month with the same params
    notice = CliRunner().invoke(
        app, ["send", str(failed), "--failure-notice", "--dry-run", *params]
    )
    assert notice.exit_code == 0, notice.output
    (eml,) = failed.glob("failure-notice-*.eml")
    body = BytesParser(policy=policy.default).parsebytes(eml.read_bytes()).get_content()
    rerun = (
        f"churnlab run --params-file {project / 'params.yaml'} --params {overlay} "
        "-p model.seed=7 --as-of 2026-10-31 --send"
    )
    assert rerun in " ".join(body.split())


def test_kernels_use_a_unique_ipc_path_or_fall_back_to_tcp(monkeypatch, tmp_path):
    import tempfile

    from churnlab.run._kernels import LocalKernelManager

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    first, second = LocalKernelManager(), LocalKernelManager()
    assert first.transport == second.transport == "ipc"
    assert first.ip != second.ip and first.ip.startswith(str(tmp_path))
    assert LocalKernelManager(transport="tcp").transport == "tcp"
    long_dir = tmp_path / ("x" * 120)
    monkeypatch.setattr(tempfile, "tempdir", str(long_dir))
    assert LocalKernelManager().transport == "tcp"  # too long for a Unix socket path


def test_an_in_process_failure_keeps_its_traceback_in_the_manifest_and_the_log(
    cfg, tmp_path, caplog
):
    import logging

    missing = tmp_path / "nowhere"
    files = {t: str(missing / f"{t}.parquet") for t in ("accounts", "subscriptions", "events")}
    broken = cfg.model_copy(update={"data": cfg.data.model_copy(update=files)})
    with caplog.at_level(logging.ERROR, logger="churnlab.run"):
        result = run_pipeline(broken, in_process=True)
    assert not result.succeeded and result.failed_stage == "00_data_health"
    record = json.loads(result.folder.manifest.read_text())["stages"][0]
    assert record["status"] == "failed" and record["notebook"] is None
    error = record["error"]
    assert str(missing) in error["evalue"]
    assert error["traceback"].startswith("Traceback") and "load_inputs" in error["traceback"]
    assert "00_data_health failed" in caplog.text and "load_inputs" in caplog.text
    assert not (tmp_path / "reports" / "latest").exists()
    # with data.as_of auto the files are read first, to date the run: the same failure
    auto = broken.model_copy(update={"data": broken.data.model_copy(update={"as_of": "auto"})})
    undated = run_pipeline(auto, in_process=True)
    assert undated.folder.name.startswith("undated_") and undated.failed_stage == "00_data_health"
    error = undated.stages[0]["error"]
    assert error["during"] == "reading data.as_of (auto) from the data"
    assert str(missing) in error["evalue"] and "last_day" in error["traceback"]


def test_a_failed_run_with_send_and_no_failure_recipients_says_so(cfg, tmp_path):
    # #22 item 7: it exited 1 and said nothing, while the docs said a notice went out
    from typer.testing import CliRunner

    from churnlab.cli import EXIT_FAILED, app

    missing = tmp_path / "nowhere"
    project = tmp_path / "project"
    project.mkdir()
    (project / "params.yaml").write_text(cfg.to_yaml())
    sets = [f"data.{t}={missing / t}.parquet" for t in ("accounts", "subscriptions", "events")]
    sets += ["delivery.recipients=[vp@example.com]", f"run.reports_dir={project / 'reports'}"]
    args = ["run", "--in-process", "--send", "--params-file", str(project / "params.yaml")]
    result = CliRunner().invoke(app, [*args, *[x for s in sets for x in ("-p", s)]])
    assert result.exit_code == EXIT_FAILED, result.output
    assert "no failure notice: set delivery.failure_recipients" in result.output
    (failed,) = (project / "reports" / "runs").iterdir()
    manifest = json.loads((failed / "manifest.json").read_text())
    (record,) = manifest["delivery"]
    assert record["kind"] == "failure_notice" and record["status"] == "not_sent"
    assert "failure_recipients" in record["reason"]
