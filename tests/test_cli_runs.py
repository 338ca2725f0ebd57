"""``churnlab runs`` (list, show, diff, prune), ``--version``, log-line progress, folder guards."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

import churnlab
from churnlab.cli import EXIT_USAGE, app
from churnlab.errors import UsageError
from churnlab.run import ReportsFolder, RunFolder
from churnlab.run.folder import MARKER
from churnlab.vocabulary import vocabulary
from tests.helpers import ROOT, copy_run

PARAMS = str(ROOT / "params.yaml")
runner = CliRunner()
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
# an earlier month of the shared sample's lineage (a copy of the full run, re-dated)
SEPTEMBER = "2026-09-30_20261001T060000Z"


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _reports_args(reports: Path) -> list[str]:
    return ["--params-file", PARAMS, "-p", f"run.reports_dir={reports}"]


def _copy_as(run: RunFolder, reports: Path, name: str, **changes) -> RunFolder:
    """Copy ``run`` into ``reports/runs/<name>`` with its manifest edited by ``changes``."""
    target = RunFolder(reports / "runs" / name)
    shutil.copytree(run.path, target.path, symlinks=True)
    manifest = {**target.read_manifest(), "run_id": name, **changes}
    target.manifest.write_text(json.dumps(manifest), encoding="utf-8")
    return target


def _manifest_only(reports: Path, name: str, manifest: dict) -> RunFolder:
    """A run folder holding just a manifest (what the index and prune read)."""
    folder = RunFolder(reports / "runs" / name)
    folder.path.mkdir(parents=True)
    folder.manifest.write_text(json.dumps({"run_id": name, **manifest}), encoding="utf-8")
    return folder


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _this_process() -> dict:
    """The process record of this (running) process."""
    started = psutil.Process().create_time()
    return {"pid": os.getpid(), "host": platform.node(), "process_started": started}


def _headline_value(run: RunFolder, key: str) -> float:
    tiles = json.loads(run.headline.read_text())["kpis"]
    return next(t["value"] for t in tiles if t["key"] == key)


def test_version_prints_the_package_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"churnlab {churnlab.__version__}"


# -- listing -------------------------------------------------------------------------------


@pytest.fixture
def two_runs(pipeline_run, tmp_path) -> tuple[Path, RunFolder, RunFolder]:
    """A reports folder with the full run and a copy of it dated a month earlier."""
    reports = tmp_path / "reports"
    september = _copy_as(
        pipeline_run,
        reports,
        SEPTEMBER,
        as_of="2026-09-30",
        started_at="2026-10-01T06:00:00+00:00",
        duration_s=12.0,
        delivery=[{"kind": "report", "status": "sent"}],
    )
    october = copy_run(pipeline_run, reports)
    return reports, september, october


def test_runs_lists_every_run_with_status_as_of_and_kpis(two_runs, pipeline_run):
    reports, september, october = two_runs
    result = invoke("runs", *_reports_args(reports))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("data set: ") and lines[0].endswith(
        "{accounts.parquet,subscriptions.parquet,events.parquet}"
    )
    first = next(line for line in lines if line.startswith(september.name)).split()
    second = next(line for line in lines if line.startswith(october.name)).split()
    assert first[1:4] == ["succeeded", "2026-09-30", "12s"] and first[-1] == "sent"
    assert second[1:3] == ["succeeded", pipeline_run.read_manifest()["as_of"]]
    assert second[-1] == "-"  # never mailed
    assert lines[1].split() == ["run", "status", "as_of", "took", "churn", "ARR", "at", "risk", "mail"]  # fmt: skip
    assert [line.split()[0] for line in lines[2:]] == [september.name, october.name]  # oldest 1st


def test_runs_json_has_one_flat_record_per_run(two_runs, pipeline_run):
    reports, september, october = two_runs
    result = invoke("runs", "--json", *_reports_args(reports))
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["run_id"] for r in rows] == [september.name, october.name]
    keys = {"run_id", "status", "as_of", "dataset", "duration_s", "delivery"}
    kpis = {"logo_churn_rate", "arr", "arr_at_risk"}
    assert all(set(r) == keys | kpis for r in rows)
    full = pipeline_run.read_manifest()
    assert rows[1]["status"] == "succeeded" and rows[1]["as_of"] == full["as_of"]
    assert rows[1]["duration_s"] == full["duration_s"] and rows[0]["duration_s"] == 12.0
    assert rows[0]["delivery"] == "sent" and rows[1]["delivery"] == "-"
    tiles = {t["key"]: t["display"] for t in json.loads(pipeline_run.headline.read_text())["kpis"]}
    assert {k: rows[1][k] for k in kpis} == {k: tiles[k] for k in kpis}
    assert rows[0]["dataset"] == rows[1]["dataset"]


def test_runs_on_an_empty_reports_folder_says_so(tmp_path):
    result = invoke("runs", *_reports_args(tmp_path / "reports"))
    assert result.exit_code == 0
    assert "no runs yet" in result.stdout
    assert json.loads(invoke("runs", "--json", *_reports_args(tmp_path)).stdout) == []


def test_a_running_run_whose_process_is_gone_shows_as_abandoned(tmp_path):
    reports = tmp_path / "reports"
    base = {"as_of": "2026-10-31", "dataset": {"id": "name:acme", "name": "acme"}}
    gone = {"pid": _dead_pid(), "host": platform.node(), "process_started": 1.0}
    _manifest_only(
        reports, "2026-10-31_a", {**base, "status": "running", "process": gone, "started_at": "1"}
    )
    alive = _this_process()
    _manifest_only(
        reports, "2026-10-31_b", {**base, "status": "running", "process": alive, "started_at": "2"}
    )
    rows = json.loads(invoke("runs", "--json", *_reports_args(reports)).stdout)
    assert [(r["run_id"], r["status"]) for r in rows] == [
        ("2026-10-31_a", "abandoned?"),
        ("2026-10-31_b", "running"),
    ]
    table = invoke("runs", *_reports_args(reports)).stdout
    assert re.search(r"^2026-10-31_a\s+abandoned\?\s+2026-10-31", table, re.MULTILINE), table
    # listing only tells: the manifest is marked by the next run, not by `churnlab runs`
    assert RunFolder(reports / "runs" / "2026-10-31_a").read_manifest()["status"] == "running"


# -- a real --only run: progress lines, show, diff -------------------------------------------


@pytest.fixture(scope="module")
def only_run(pipeline_run, pipeline_cfg, tmp_path_factory):
    """``churnlab run --in-process --only 04`` on a folder with two earlier runs of the sample.

    September (a re-dated copy of the full run, its logo churn 1 pp higher) is the previous
    run; the full run (same as_of) is the one whose files are reused.
    """
    work = tmp_path_factory.mktemp("cli-only")
    reports = work / "reports"
    september = _copy_as(
        pipeline_run, reports, SEPTEMBER, as_of="2026-09-30", started_at="2026-10-01T06:00:00Z"
    )
    headline = json.loads(september.headline.read_text())
    for tile in headline["kpis"]:
        if tile["key"] == "logo_churn_rate":
            tile["value"] += 0.01
    september.headline.write_text(json.dumps(headline))
    october = copy_run(pipeline_run, reports)
    data = [
        f"data.{t}={getattr(pipeline_cfg.data, t)}" for t in ("accounts", "subscriptions", "events")
    ]
    result = invoke(
        "run", "--in-process", "--only", "04",
        *_reports_args(reports), "-p", f"run.cache_dir={work / 'cache'}",
        *[arg for item in data for arg in ("-p", item)],
    )  # fmt: skip
    return reports, september, october, result


def test_run_without_a_terminal_prints_one_timestamped_line_per_stage(only_run):
    reports, _, _, result = only_run
    assert result.exit_code == 0, result.output
    text = result.stdout
    for stage in ("04_explanations", "report"):
        assert len(re.findall(rf"^{STAMP} stage {stage} started$", text, re.MULTILINE)) == 1, text
        done = rf"^{STAMP} stage {stage} succeeded in \d+\.\d s$"
        assert len(re.findall(done, text, re.MULTILINE)) == 1, text
    started = re.findall(rf"^{STAMP} stage (\S+) started$", text, re.MULTILINE)
    assert started == ["04_explanations", "report"]  # the reused stages do not run
    assert re.search(rf"^{STAMP} run started: .*\(2 stages\)$", text, re.MULTILINE)
    assert re.search(rf"^{STAMP} run succeeded: ", text, re.MULTILINE)
    assert "\x1b[" not in text  # no live display, no colour codes in a log


def test_the_manifest_of_a_cli_run_records_lineage_and_command(only_run, pipeline_run):
    reports, september, october, result = only_run
    assert result.exit_code == 0, result.output
    latest = ReportsFolder(reports).latest_run()
    manifest = latest.read_manifest()
    assert manifest["previous_run"] == september.name and manifest["previous_as_of"] == "2026-09-30"
    assert manifest["reused_from"]["run"] == october.name
    assert manifest["data_end"] == pipeline_run.read_manifest()["data_end"]
    command = manifest["command"]
    assert command[:4] == ["churnlab", "run", "--params-file", PARAMS]
    assert command[-1] == "--in-process"
    assert "--only" not in command and "04" not in command  # re-runs take the whole pipeline


def test_runs_show_latest_names_the_previous_run_and_the_stages(only_run):
    reports, september, october, result = only_run
    shown = invoke("runs", "show", "latest", *_reports_args(reports))
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    latest = ReportsFolder(reports).latest_run().resolve()
    assert text.startswith(f"run {latest.name}: succeeded")
    assert re.search(rf"^  previous\s+{SEPTEMBER}$", text, re.MULTILINE), text
    assert re.search(
        rf"^  reused\s+00_data_health, 01_cohort_comparison, 02_churn_model, 03_time_to_churn, "
        rf"05_monitoring "
        rf"from {october.name}$",
        text,
        re.MULTILINE,
    )
    stages = re.findall(r"^  stage (\S+)\s+(\S+)", text, re.MULTILINE)
    assert stages == [("04_explanations", "succeeded"), ("report", "succeeded")]
    # a unique prefix names a run too
    first = invoke("runs", "show", "2026-09", *_reports_args(reports))
    assert first.exit_code == 0 and first.stdout.startswith(f"run {SEPTEMBER}: succeeded")
    assert "previous    none" in first.stdout
    unknown = runner.invoke(app, ["runs", "show", "1999", *_reports_args(reports)])
    assert unknown.exit_code == EXIT_USAGE and "no run named '1999'" in unknown.output


def test_runs_diff_prints_the_kpi_changes(only_run, pipeline_run):
    reports, september, _, _ = only_run
    result = invoke("runs", "diff", SEPTEMBER, "latest", *_reports_args(reports))
    assert result.exit_code == 0, result.output
    text = result.stdout
    latest = ReportsFolder(reports).latest_run().resolve()
    assert f"{SEPTEMBER} -> {latest.name}" in text
    assert re.search(r"^KPI\s+2026-09-30\s+2026-10-31\s+change$", text, re.MULTILINE), text
    words = vocabulary()
    b = _headline_value(pipeline_run, "logo_churn_rate")
    churn = re.search(r"^Logo churn \(monthly\)\s+(\S+)\s+(\S+)\s+(.+?)$", text, re.MULTILINE)
    assert churn.groups() == (words.rate(b + 0.01), words.rate(b), "-1.0 pp")
    arr = re.search(r"^ARR\s+(\S+)\s+(\S+)\s+(\S+)$", text, re.MULTILINE)
    assert arr.group(1) == arr.group(2) and arr.group(3) == "+$0"  # unchanged
    assert re.search(r"^\s*ARR at risk, next 90 days\s", text, re.MULTILINE)
    assert re.search(r"^\d+ accounts, \d+ changed health; the largest drops:$", text, re.M)
    assert re.search(r"^account\s+name\s+health\s+band\s+probability$", text, re.M)


# -- pruning ------------------------------------------------------------------------------


@pytest.fixture
def many_runs(pipeline_run, tmp_path):
    """Runs of the sample (the newest failed, latest on an older one) and of another data set."""
    reports = tmp_path / "reports"
    dataset = pipeline_run.read_manifest()["dataset"]
    other = {"id": "name:other", "name": "other", "shape": "events", "sources": {}}
    live = _this_process()

    def run(name: str, status: str, as_of: str, started: str, data=dataset, **extra):
        manifest = {"status": status, "as_of": as_of, "started_at": started, "dataset": data}
        return _manifest_only(reports, name, {**manifest, **extra}).name

    names = {
        "running": run("2026-07-31_r0", "running", "2026-07-31", "2026-08-01", process=live),
        "old": run("2026-08-31_r1", "succeeded", "2026-08-31", "2026-09-01"),
        "latest": run("2026-09-30_r2", "succeeded", "2026-09-30", "2026-10-01"),
        "good": run("2026-10-31_r3", "succeeded", "2026-10-31", "2026-11-01"),
        "newest": run("2026-10-31_r4", "failed", "2026-10-31", "2026-11-02"),
        "other-old": run("2026-05-31_x0", "failed", "2026-05-31", "2026-06-01", data=other),
        "other": run("2026-06-30_x1", "succeeded", "2026-06-30", "2026-07-01", data=other),
    }
    ReportsFolder(reports).point_latest(RunFolder(reports / "runs" / names["latest"]))
    return reports, names


def _left(reports: Path) -> set[str]:
    return {p.name for p in (reports / "runs").iterdir()}


def test_prune_dry_run_deletes_nothing_and_says_what_it_would(many_runs):
    reports, names = many_runs
    before = _left(reports)
    result = invoke("runs", "prune", "--keep", "1", "--dry-run", *_reports_args(reports))
    assert result.exit_code == 0, result.output
    assert _left(reports) == before
    said = re.findall(r"^would delete (\S+) \((\w+)\)$", result.stdout, re.MULTILINE)
    assert sorted(said) == sorted([(names["old"], "succeeded"), (names["other-old"], "failed")])
    assert "would delete 2 run(s); 5 kept" in result.stdout


def test_prune_keeps_latest_the_latest_successful_run_and_runs_in_progress(many_runs):
    reports, names = many_runs
    result = invoke("runs", "prune", "--keep", "1", *_reports_args(reports))
    assert result.exit_code == 0, result.output
    assert "deleted 2 run(s); 5 kept" in result.stdout
    # the newest run failed: the latest successful one (by as_of) stays, and so does the
    # run `latest` points to, the run in progress and the other data set's only good run
    assert _left(reports) == {names[k] for k in ("running", "latest", "good", "newest", "other")}
    assert ReportsFolder(reports).latest_run().resolve().name == names["latest"]
    again = invoke("runs", "prune", "--keep", "1", *_reports_args(reports))
    assert "deleted 0 run(s); 5 kept" in again.stdout


def test_prune_keep_below_one_is_refused(many_runs):
    reports, _ = many_runs
    before = _left(reports)
    result = runner.invoke(app, ["runs", "prune", "--keep", "0", *_reports_args(reports)])
    assert result.exit_code == EXIT_USAGE and "--keep must be at least 1" in result.output
    assert _left(reports) == before


# -- the reports folder is churnlab's -------------------------------------------------------


def _run_args(reports: Path, data: Path) -> list[str]:
    """``churnlab run`` on data that does not exist: a guard must stop it before it reads."""
    return [
        "run", "--in-process", *_reports_args(reports),
        "-p", f"run.cache_dir={data / 'cache'}",
        "-p", f"data.accounts={data / 'accounts.csv'}",
        "-p", f"data.subscriptions={data / 'subscriptions.csv'}",
        "-p", f"data.events={data / 'events.csv'}",
    ]  # fmt: skip


def test_run_refuses_a_latest_that_is_a_regular_file(tmp_path):
    reports = ReportsFolder(tmp_path / "reports")
    reports.claim()  # churnlab's folder, but someone wrote a file named latest
    reports.latest.write_text("my notes\n")
    result = runner.invoke(app, _run_args(reports.path, tmp_path / "nodata"))
    assert result.exit_code == EXIT_USAGE, result.output
    assert "latest is not a symlink" in result.output
    assert reports.latest.read_text() == "my notes\n" and not reports.latest.is_symlink()
    assert not reports.runs.exists()


def test_run_refuses_a_foreign_folder_and_writes_nothing_into_it(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "notes.txt").write_text("quarterly notes\n")
    result = runner.invoke(app, _run_args(reports, tmp_path / "nodata"))
    assert result.exit_code == EXIT_USAGE, result.output
    assert "is not a churnlab reports folder" in result.output and "notes.txt" in result.output
    assert sorted(p.name for p in reports.iterdir()) == ["notes.txt"]
    assert (reports / "notes.txt").read_text() == "quarterly notes\n"


def test_an_unmarked_folder_of_churnlab_runs_is_adopted(pipeline_run, tmp_path):
    reports = ReportsFolder(tmp_path / "reports")
    copy_run(pipeline_run, reports.path)  # runs/ and latest, as before the marker existed
    (reports.path / "README.md").write_text("our reports\n")
    assert not reports.marker.exists()
    reports.claim()
    assert reports.marker.name == MARKER
    assert json.loads(reports.marker.read_text())["churnlab"] == "reports folder"
    assert reports.latest_run().resolve().name == pipeline_run.name  # nothing moved


def test_an_unmarked_folder_with_foreign_manifests_is_not_adopted(tmp_path):
    reports = ReportsFolder(tmp_path / "reports")
    (reports.runs / "job-1").mkdir(parents=True)
    (reports.runs / "job-1" / "manifest.json").write_text(json.dumps({"files": ["a", "b"]}))
    with pytest.raises(UsageError, match="not a churnlab reports folder"):
        reports.claim()
    assert not reports.marker.exists()
