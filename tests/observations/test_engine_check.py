"""`features.engine: spark` without pyspark or Java is refused before a run starts (#19).

The run must not start (no run folder, no failed stage 00): ``churnlab run`` and
``churnlab validate`` exit 2 with a message naming what is missing and how to install it.
"""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from churnlab.cli import EXIT_USAGE, app
from churnlab.observations._engine import backend
from tests.helpers import ROOT

runner = CliRunner()


def _run(tmp_path, command: str):
    reports = tmp_path / "reports"
    args = [command, "--params-file", str(ROOT / "params.yaml"), "-p", "features.engine=spark"]
    if command == "run":
        args += ["-p", f"run.reports_dir={reports}", "--in-process"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"}, terminal_width=200)
    return result, reports


@pytest.mark.parametrize("command", ["run", "validate"])
def test_spark_without_java_is_refused_before_the_run(tmp_path, monkeypatch, command):
    from pyspark.sql import SparkSession

    # a Spark session of another test (the parity test) would be used as it is: none here
    monkeypatch.setattr(SparkSession, "getActiveSession", lambda: None)
    monkeypatch.setattr(backend, "java_version", lambda: 11)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    result, reports = _run(tmp_path, command)
    assert result.exit_code == EXIT_USAGE, result.output
    text = " ".join(result.output.split())
    assert "needs Java 17 or newer, but there is java 11 on the PATH" in text
    assert "default-jre-headless" in text and "features.engine: duckdb" in text
    assert not (reports / "runs").exists()  # nothing started


def test_spark_without_pyspark_is_refused_before_the_run(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # import fails as when absent
    result, reports = _run(tmp_path, "run")
    assert result.exit_code == EXIT_USAGE, result.output
    text = " ".join(result.output.split())
    assert "pyspark is not installed" in text and "pip install 'churnlab[spark]'" in text
    assert not (reports / "runs").exists()
