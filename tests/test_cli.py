"""The churnlab command: help, params, sample, validate and their exit codes."""

from __future__ import annotations

import json
import re
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


def _all_help_pages() -> dict[str, str]:
    pages = {}
    for command in (
        "",
        "sample",
        "validate",
        "params",
        "run",
        "send",
        "export",
        "runs",
        "runs show",
        "runs diff",
        "runs prune",
    ):
        args = [*command.split(), "--help"]
        result = runner.invoke(app, args, env={"COLUMNS": "100"}, terminal_width=100)
        assert result.exit_code == 0, command
        pages[command or "churnlab"] = result.output
    return pages


def test_help_has_no_type_metavars_and_no_orphan_words():
    # #22 item 12: `<bool>`, `<list[Path]>` and words left alone on a line by a hard-wrapped
    # docstring made the help look broken.
    for command, page in _all_help_pages().items():
        assert "<bool>" not in page and "<list[" not in page and "<str>" not in page, command
        description = page.split("╭")[0].splitlines()
        for line, following in zip(description, description[1:], strict=False):
            # a line of a paragraph (the next line goes on) is filled to the width, not
            # cut after a word or two
            if line.strip() and following.strip() and not line.lstrip().startswith("Usage"):
                assert len(line.rstrip()) > 60, f"{command}: short line {line.strip()!r}"


def _codes(text: str) -> set[int]:
    after = re.split(r"Exit codes?:?", " ".join(text.split()), maxsplit=1)
    assert len(after) == 2, "no exit codes in the help"
    return {int(c) for c in re.findall(r"\b(\d{1,3})\b", after[1]) if int(c) in EXIT_CODES_DOC}


EXIT_CODES_DOC = {0, 1, 2, 3, 4, 5, 130, 143}


def test_exit_codes_in_help_match_the_docs_and_the_code():
    # #22 item 6: the codes `--help` names are the documented ones, and the code uses them
    table = (ROOT / "docs" / "scheduling.md").read_text(encoding="utf-8")
    documented = {
        int(code)
        for row in re.finditer(r"^\| (\d+)(?:, (\d+))? \|", table, re.M)
        for code in row.groups()
        if code
    }
    assert documented == EXIT_CODES_DOC
    pages = _all_help_pages()
    assert _codes(pages["run"]) == EXIT_CODES_DOC
    assert _codes(pages["send"]) <= EXIT_CODES_DOC and {0, 2, 3} <= _codes(pages["send"])
    assert _codes(pages["validate"]) == {1, 2}
    assert _codes(pages["export"]) == {0, 2, 5}
    for command, page in pages.items():  # every command says its exit codes
        assert "Exit code" in " ".join(page.split()) and _codes(page) <= EXIT_CODES_DOC, command
    from churnlab.cli import EXIT_DELIVERY, EXIT_FAILED, EXIT_OK, EXIT_STORAGE, EXIT_USAGE
    from churnlab.cli._common import EXIT_EXPORT

    codes = {EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DELIVERY, EXIT_STORAGE, EXIT_EXPORT}
    assert codes == {0, 1, 2, 3, 4, 5}


def test_usage_mistakes_exit_2(tmp_path):
    # #22 item 6: a folder that is not a run, a stage that does not exist: usage errors
    not_a_run = tmp_path / "not-a-run"
    not_a_run.mkdir()
    result = runner.invoke(app, ["send", str(not_a_run), "--params-file", PARAMS])
    assert result.exit_code == 2 and "is not a run folder" in result.output
    result = runner.invoke(app, ["run", "--only", "07", "--params-file", PARAMS])
    assert result.exit_code == 2 and "no such stage" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--as-of", "2026-13-01"],
        ["run", "-p", "data.as_of=2026-02-30"],
        ["validate", "-p", "observation.as_of=2026-13-01"],
    ],
)
def test_an_impossible_date_is_a_params_error_exit_2(args):
    # #22 item 1: a PyYAML or pandas traceback with exit 1 before
    result = runner.invoke(app, [*args, "--params-file", PARAMS])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "ParamsError" in result.output and "Traceback" not in result.output
