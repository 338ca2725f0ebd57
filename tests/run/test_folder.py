"""RunFolder and ReportsFolder: every file of a run named once; runs never reused."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from churnlab.errors import RunError
from churnlab.run import CHARTS, LAYOUT_VERSION, ReportsFolder, RunFolder

NOW = dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.UTC)


def test_every_file_has_one_name_and_a_description():
    files = RunFolder.files()
    names = [f.name for f in files.values()]
    assert len(names) == len(set(names))
    assert all(f.holds for f in files.values())
    folder = RunFolder("/runs/r1")
    assert folder.scores.as_posix() == "/runs/r1/scores.csv"
    assert RunFolder.scores.name == "scores.csv"  # the class attribute is the declaration


def test_charts_and_notebooks_live_in_their_folders():
    folder = RunFolder("/runs/r1")
    assert folder.relative(folder.chart("drivers")) == "charts/drivers.png"
    assert folder.relative(folder.sparkline("arr")) == "charts/spark_arr.png"
    assert folder.relative(folder.notebook("02_churn_model")) == "notebooks/02_churn_model.ipynb"
    assert set(CHARTS) == {
        "retention_trend", "mrr_bridge", "cohort_retention", "cohort_effects", "calibration",
        "health_by_tier", "drivers", "retention_forecast", "survival_by_tier",
    }  # fmt: skip
    with pytest.raises(RunError, match="unknown chart"):
        folder.chart("pie")


def test_new_runs_are_never_reused_and_latest_moves_atomically(tmp_path):
    reports = ReportsFolder(tmp_path)
    assert reports.latest_run() is None
    first = reports.new_run(dt.date(2026, 10, 31), NOW)
    second = reports.new_run(dt.date(2026, 10, 31), NOW)
    assert first.name == "2026-10-31_20261101T060000Z"
    assert second.name == "2026-10-31_20261101T060000Z-2"
    assert first.charts.is_dir() and first.notebooks.is_dir()
    first.manifest.write_text(json.dumps({"status": "succeeded"}))
    reports.point_latest(first)
    assert reports.latest_run() == first.resolve()
    assert reports.latest.is_symlink()


def test_eml_names_count_up_and_layout_versions_are_told(tmp_path):
    folder = RunFolder(tmp_path)
    first = folder.new_eml("report", NOW)
    first.write_text("x")
    assert first.name == "email-20261101T060000Z.eml"
    assert folder.new_eml("report", NOW).name == "email-20261101T060000Z-2.eml"
    assert folder.new_eml("failure_notice", NOW).name.startswith("failure-notice-")
    assert folder.emls() == [first]
    folder.manifest.write_text(json.dumps({"status": "succeeded"}))  # a round-1 run
    assert folder.layout_version() == 1
    folder.manifest.write_text(json.dumps({"layout_version": LAYOUT_VERSION}))
    assert folder.layout_version() == LAYOUT_VERSION
