"""The churnlab command: help, params, sample, validate and their exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from churnlab.cli import EXIT_FAILED, EXIT_USAGE, app
from churnlab.config import SCHEMA_FILE, ObservationParams, describe_params, load_params
from tests.helpers import read_as_editor, schema_errors

ROOT = Path(__file__).resolve().parents[1]
PARAMS = str(ROOT / "params.yaml")
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_help_lists_only_working_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("sample", "validate", "params", "run", "send"):
        assert command in result.output
    for command in ("sample", "validate", "params", "run", "send"):
        sub = invoke(command, "--help")
        assert sub.exit_code == 0 and "--params" in sub.output, command


def test_params_prints_effective_values_with_overrides():
    result = invoke("params", "--params-file", PARAMS, "-p", "model.seed=7")
    assert result.exit_code == 0
    effective = yaml.safe_load(result.output)
    assert effective["model"]["seed"] == 7
    assert effective["observation"]["grace_days"] == 30


def test_bad_parameter_exits_2_with_suggestion():
    result = runner.invoke(app, ["params", "--params-file", PARAMS, "-p", "modle.seed=7"])
    assert result.exit_code == EXIT_USAGE
    assert "did you mean 'model'" in result.output


def test_params_schema_prints_the_shipped_schema_which_validates_params_yaml():
    result = invoke("params", "--schema")
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert result.output == (ROOT / SCHEMA_FILE).read_text(encoding="utf-8")
    assert schema_errors(read_as_editor(Path(PARAMS)), schema) == []
    assert schema_errors({"model": {"seeed": 7}}, schema)


def test_params_explain_gives_type_value_and_meaning_of_every_key():
    result = invoke("params", "--params-file", PARAMS, "--explain")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    horizon = ObservationParams.model_fields["horizon_days"].description
    assert "observation.horizon_days = 90 integer in [1, 730]" in text
    assert horizon in text
    for doc in describe_params(load_params(PARAMS)):
        assert doc.path in text and doc.description in text, doc.path


def test_params_explain_shows_effective_values_and_their_defaults():
    result = invoke(
        "params", "--params-file", PARAMS, "--explain", "-p", "observation.horizon_days=60"
    )
    assert result.exit_code == 0, result.output
    assert "observation.horizon_days = 60" in result.output
    assert "(default 90)" in result.output


def test_params_help_names_schema_and_explain():
    result = invoke("params", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.replace("│", " ").split())  # rich draws a box around options
    assert "--schema" in text and "JSON Schema" in text
    assert "--explain" in text and "effective value" in text


def test_params_schema_and_explain_together_exit_2():
    result = runner.invoke(app, ["params", "--schema", "--explain"])
    assert result.exit_code == EXIT_USAGE
    assert "not both" in result.output


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "sample"
    result = invoke(
        "sample", "--params-file", PARAMS, "--accounts", "120", "--months", "12", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    return out


def _data_overrides(folder: Path) -> list[str]:
    return [
        "-p", f"data.accounts={folder / 'accounts.parquet'}",
        "-p", f"data.subscriptions={folder / 'subscriptions.parquet'}",
        "-p", f"data.events={folder / 'events.parquet'}",
    ]  # fmt: skip


def test_sample_writes_files_and_never_overwrites(sample_dir):
    assert {p.name for p in sample_dir.glob("*.parquet")} == {
        "accounts.parquet",
        "subscriptions.parquet",
        "events.parquet",
    }
    before = (sample_dir / "events.parquet").stat().st_mtime_ns
    again = invoke("sample", "--params-file", PARAMS, "--accounts", "50", "--out", str(sample_dir))
    assert again.exit_code == 0 and "--force" in again.output
    assert (sample_dir / "events.parquet").stat().st_mtime_ns == before


def test_validate_prints_health_and_exits_0(sample_dir):
    result = invoke("validate", "--params-file", PARAMS, *_data_overrides(sample_dir))
    assert result.exit_code == 0, result.output
    assert "accounts" in result.output and "events" in result.output


def test_validate_names_the_broken_rule_and_exits_1(sample_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("accounts", "subscriptions", "events"):
        frame = pd.read_parquet(sample_dir / f"{name}.parquet")
        if name == "accounts":
            frame = pd.concat([frame, frame.head(2)])  # duplicate account ids
        frame.to_parquet(broken / f"{name}.parquet", index=False)
    result = runner.invoke(app, ["validate", "--params-file", PARAMS, *_data_overrides(broken)])
    assert result.exit_code == EXIT_FAILED
    assert "accounts.parquet" in result.output and "account_id" in result.output
