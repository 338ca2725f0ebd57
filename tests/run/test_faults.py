"""Faults leave a true record: signals, kill -9, full disks, unwritable folders, damaged files.

Each case ends with a true manifest status, a documented exit code, a one-line message and
no process left behind, and the next run succeeds. The runs killed by a signal execute
real notebooks (papermill, real kernels) in a ``churnlab run`` subprocess; the test polls
the manifest until the stage has started (no sleeps) and then signals the runner.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from typer.testing import CliRunner

from churnlab.cli import EXIT_STORAGE, app
from churnlab.report import Headline
from churnlab.run import ReportsFolder, RunFolder
from churnlab.run.runner import run_pipeline
from tests.helpers import ROOT, sample_params

#: The stage during which the runner is signalled.
STAGE = "01_cohort_comparison"
#: Seconds to wait for a process to start or end before the test fails (no fixed sleeps).
PATIENCE = 120


@pytest.fixture(scope="module")
def small_sample(tmp_path_factory) -> Path:
    """A small generated sample: the killed runs only need to reach stage 01."""
    from churnlab.sample import generate_sample, write_sample

    folder = tmp_path_factory.mktemp("faults-sample")
    write_sample(generate_sample(n_accounts=300, months=24, end_date="2026-10-31", seed=5), folder)
    return folder


def _params_file(sample: Path, work: Path) -> Path:
    """The params of a project in ``work`` (its notebooks are the repository's)."""
    cfg = sample_params(sample, work)
    path = work / "params.yaml"
    path.write_text(cfg.to_yaml())
    (work / "notebooks").symlink_to(ROOT / "notebooks")
    return path


def _wait(condition, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the run ended before {what}: {out}\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)  # polling interval, not a wait for something to happen


def _manifest(reports: Path) -> dict:
    runs = sorted((reports / "runs").glob("*/manifest.json")) if (reports / "runs").exists() else []
    if not runs:
        return {}
    try:
        return json.loads(runs[-1].read_text())
    except ValueError:  # caught between the temporary file and the rename: read again
        return {}


def _stage_started(reports: Path) -> bool:
    stages = _manifest(reports).get("stages") or []
    return any(s["name"] == STAGE and s["status"] == "running" for s in stages)


def _start_run(params: Path, cwd: Path) -> subprocess.Popen:
    churnlab = Path(sys.executable).with_name("churnlab")
    return subprocess.Popen(
        [str(churnlab), "run", "--params-file", str(params)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the test signals the runner alone, as systemd would
    )


def _kernels(runner: psutil.Process) -> list[psutil.Process]:
    try:
        return [p for p in runner.children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]
    except psutil.Error:
        return []


def _signal_during_stage(sample: Path, work: Path, signum: int):
    params = _params_file(sample, work)
    reports = work / "reports"
    proc = _start_run(params, ROOT)
    runner = psutil.Process(proc.pid)
    _wait(lambda: _stage_started(reports) and _kernels(runner), f"{STAGE} to start a kernel", proc)
    kernels = _kernels(runner)
    os.kill(proc.pid, signum)
    out, err = proc.communicate(timeout=PATIENCE)
    # no process is left writing into the run folder
    _wait(lambda: not any(k.is_running() and k.status() != "zombie" for k in kernels), "kernels")
    return proc.returncode, out, err, _manifest(reports), params


@pytest.mark.slow
def test_sigterm_records_the_run_as_interrupted_and_stops_its_kernel(small_sample, tmp_path):
    code, out, err, manifest, params = _signal_during_stage(small_sample, tmp_path, signal.SIGTERM)
    assert code == 128 + signal.SIGTERM, (out, err)
    assert manifest["status"] == "interrupted" and manifest["signal"] == "SIGTERM"
    stage = next(s for s in manifest["stages"] if s["name"] == STAGE)
    assert stage["status"] == "interrupted"
    assert manifest["finished_at"] is not None
    assert "run interrupted by SIGTERM" in out and out.count("\n") < 20
    assert not (tmp_path / "reports" / "latest").exists()
    log = (tmp_path / "reports" / "runs" / manifest["run_id"] / "run.log").read_text()
    assert "stopped by SIGTERM" in log
    # the next run succeeds and does not compare with the interrupted one
    again = run_pipeline(sample_params(small_sample, tmp_path), in_process=True)
    assert again.succeeded and again.manifest["previous_run"] is None


@pytest.mark.slow
def test_kill_9_leaves_no_kernel_and_the_next_run_marks_the_run_abandoned(small_sample, tmp_path):
    code, _, _, manifest, params = _signal_during_stage(small_sample, tmp_path, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert manifest["status"] == "running"  # nothing could record the end ...
    again = run_pipeline(sample_params(small_sample, tmp_path), in_process=True)
    assert again.succeeded
    killed = RunFolder(tmp_path / "reports" / "runs" / manifest["run_id"]).read_manifest()
    assert killed["status"] == "abandoned"  # ... so the next run did, keeping the folder
    assert next(s for s in killed["stages"] if s["name"] == STAGE)["status"] == "abandoned"
    assert "marked by the next run" in killed["abandoned_reason"]


def _failing_writes(monkeypatch, code: int, name: str) -> None:
    """Every atomic write of a file called ``name`` fails with ``code`` (errno)."""
    import churnlab.atomic as atomic

    real = atomic.atomic_path

    def failing(target):
        if Path(target).name == name:
            raise OSError(code, os.strerror(code), str(target))
        return real(target)

    monkeypatch.setattr(atomic, "atomic_path", failing)  # write_bytes, _text, _json use it


@pytest.mark.slow
def test_a_full_disk_fails_the_run_with_exit_4_and_a_true_record(
    small_sample, tmp_path, monkeypatch
):
    params = _params_file(small_sample, tmp_path)
    _failing_writes(monkeypatch, errno.ENOSPC, "scores.csv")
    result = CliRunner().invoke(app, ["run", "--in-process", "--params-file", str(params)])
    assert result.exit_code == EXIT_STORAGE, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("run failed")]
    assert "no space left on the device" in line
    manifest = _manifest(tmp_path / "reports")
    assert manifest["status"] == "failed" and manifest["error_kind"] == "storage"
    assert manifest["failed_stage"] == "04_explanations"
    monkeypatch.undo()
    again = CliRunner().invoke(app, ["run", "--in-process", "--params-file", str(params)])
    assert again.exit_code == 0, again.output


def _root_mounts_allowed(path: Path) -> bool:
    if os.geteuid() != 0:
        return False
    path.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)])
    if probe.returncode != 0:
        return False
    subprocess.run(["umount", str(path)], check=True)
    return True


@pytest.mark.slow
def test_a_real_full_tmpfs_ends_with_exit_4_and_the_next_run_succeeds(small_sample, tmp_path):
    reports = tmp_path / "reports"
    if not _root_mounts_allowed(reports):
        pytest.skip(
            "needs root with mount rights (CI runs as root): the injected ENOSPC test covers the rest"
        )
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(reports)], check=True)
    try:
        params = _params_file(small_sample, tmp_path)
        result = CliRunner().invoke(app, ["run", "--in-process", "--params-file", str(params)])
        assert result.exit_code == EXIT_STORAGE, result.output
        manifest = _manifest(reports)
        assert manifest["status"] == "failed" and manifest["error_kind"] == "storage"
        subprocess.run(["mount", "-o", "remount,size=64m", str(reports)], check=True)
        again = CliRunner().invoke(app, ["run", "--in-process", "--params-file", str(params)])
        assert again.exit_code == 0, again.output
        assert _manifest(reports)["status"] == "succeeded"
    finally:
        subprocess.run(["umount", "-l", str(reports)], check=False)


@pytest.mark.slow
def test_an_unwritable_reports_folder_is_exit_4_with_one_line(small_sample, tmp_path, monkeypatch):
    params = _params_file(small_sample, tmp_path)
    _failing_writes(monkeypatch, errno.EROFS, ".churnlab-reports")
    result = CliRunner().invoke(app, ["run", "--in-process", "--params-file", str(params)])
    assert result.exit_code == EXIT_STORAGE, result.output
    assert result.output.count("\n") == 1 and "read-only" in result.output
    assert not (tmp_path / "reports" / "runs").exists()  # nothing ran, nothing half-written
    monkeypatch.undo()
    # a real read-only bind mount where the tests may mount (root in CI)
    reports = tmp_path / "reports"
    if _root_mounts_allowed(tmp_path / "probe"):
        reports.mkdir(exist_ok=True)
        subprocess.run(["mount", "--bind", str(reports), str(reports)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(reports)], check=True)
            result = CliRunner().invoke(app, ["run", "--in-process", "--params-file", str(params)])
            assert result.exit_code == EXIT_STORAGE, result.output
            assert "read-only" in result.output
        finally:
            subprocess.run(["umount", "-l", str(reports)], check=False)
    again = CliRunner().invoke(app, ["run", "--in-process", "--params-file", str(params)])
    assert again.exit_code == 0, again.output


@pytest.mark.slow
def test_a_truncated_cache_file_is_rebuilt_with_a_warning(small_sample, tmp_path):
    from churnlab.observations.cache import CacheWarning

    cfg = sample_params(small_sample, tmp_path)
    assert run_pipeline(cfg, in_process=True).succeeded
    cached = sorted((tmp_path / "cache").glob("observations-*.parquet"))
    assert cached
    for path in cached:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.warns(CacheWarning, match="damaged cache entry"):
        again = run_pipeline(cfg.model_copy(), in_process=True)
    assert again.succeeded
    assert all(len(p.read_bytes()) > 1000 for p in cached)  # rebuilt whole


@pytest.mark.slow
def test_a_damaged_earlier_run_is_skipped_with_a_warning(small_sample, tmp_path, caplog):
    earlier = run_pipeline(
        sample_params(small_sample, tmp_path, "observation.as_of=2026-09-30"), in_process=True
    )
    assert earlier.succeeded
    broken = RunFolder(tmp_path / "reports" / "runs" / "2026-08-31_20260901T000000Z")
    broken.prepare()
    broken.manifest.write_text('{"status": "succ')  # a run killed while writing (old release)
    # the previous run's own files are damaged too
    earlier.folder.scores.write_text("\x00\x01 not a csv")
    earlier.folder.headline.write_text("{")
    earlier.folder.scoring.write_bytes(b"PAR1 truncated")
    with caplog.at_level("WARNING", logger="churnlab.run"), pytest.warns(UserWarning) as seen:
        again = run_pipeline(sample_params(small_sample, tmp_path), in_process=True)
    assert again.succeeded, [s.get("error") for s in again.stages]
    assert "skipping run 2026-08-31_20260901T000000Z" in caplog.text
    assert again.manifest["previous_run"] == earlier.folder.name
    said = " ".join(str(w.message) for w in seen)
    assert "cannot be read" in said and "previous run" in said
    # nothing to compare with: no early warnings, no change of the ARR at risk
    assert len(pd.read_csv(again.folder.early_warning)) == 0
    headline = Headline.read(again.folder.headline)
    assert headline.kpi("arr_at_risk").change_display == "no comparable earlier run"
    assert ReportsFolder(tmp_path / "reports").latest.resolve() == again.folder.path
