"""The docs stay true: what they list exists, what they show runs, what they link is here."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import yaml

from churnlab.config import load_params
from churnlab.observations import build_observation_table
from churnlab.report import Headline, KpiTile, Renewal
from churnlab.run import RunFolder
from churnlab.run.stages import STAGES
from tests.helpers import ROOT
from tests.observations.reference import EVENT_TYPES, small_case

DOCS = ROOT / "docs"


def test_architecture_lists_every_run_file_stage_and_headline_field():
    text = (DOCS / "architecture.md").read_text()
    missing = [f.name for f in RunFolder.files().values() if f"`{f.name}" not in text]
    missing += [s.name for s in STAGES if f"`{s.name}`" not in text]
    for kind in (Headline, KpiTile, Renewal):
        missing += [f.name for f in dataclasses.fields(kind) if f"`{f.name}`" not in text]
    assert missing == []


def _yaml_blocks(path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S)


def test_the_ratio_of_the_feature_walkthrough_runs(tmp_path):
    """docs/adding-a-feature.md, part 1: the overlay loads and the engine builds the ratio."""
    (block,) = _yaml_blocks(DOCS / "adding-a-feature.md")
    overlay = tmp_path / "my-features.yaml"
    overlay.write_text(block)
    cfg = load_params(ROOT / "params.yaml", [overlay])
    ratios = {k: tuple(v) for k, v in cfg.features.ratios.items()}
    assert ratios["tickets_per_seat_90d"] == ("tickets_opened_90d", "seats")
    inputs, spine, _ = small_case()
    table = build_observation_table(*inputs, spine, event_types=EVENT_TYPES, ratios=ratios)
    seats = table["seats"].where(table["seats"] > 0)
    np.testing.assert_allclose(table["tickets_per_seat_90d"], table["tickets_opened_90d"] / seats)


def test_readme_yaml_examples_are_valid_overlays(tmp_path):
    for i, block in enumerate(_yaml_blocks(ROOT / "README.md")):
        assert isinstance(yaml.safe_load(block), dict)
        overlay = tmp_path / f"overlay{i}.yaml"
        overlay.write_text(block)
        load_params(ROOT / "params.yaml", [overlay])  # raises ParamsError when invalid


def test_links_point_inside_the_repository():
    for page in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path = (page.parent / target).resolve()
            assert path.is_relative_to(ROOT), (page.name, target)
            assert path.exists(), (page.name, target)


# -- docs/scheduling.md: the recipes run the documented command -------------------------


def _scheduled_command() -> list[str]:
    text = (DOCS / "scheduling.md").read_text()
    section = text.split("## The scheduled command", 1)[1]
    (command,) = re.findall(r"```bash\n(churnlab run [^\n]*)\n```", section)[:1]
    return command.split()


def _cron_field(text: str, low: int, high: int) -> bool:
    """A cron field: *, a number, a range, a list, each with an optional /step, in bounds."""
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return False
        if base == "*":
            continue
        bounds = base.split("-")
        if not all(b.isdigit() and low <= int(b) <= high for b in bounds) or len(bounds) > 2:
            return False
    return True


def _systemd_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file as {section: {key: [values]}} (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert current is not None and sep, f"not a unit-file line: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_the_cron_recipe_runs_the_scheduled_command():
    text = (DOCS / "scheduling.md").read_text()
    (line,) = re.findall(r"```cron\n(.*?)\n```", text, re.S)
    fields = line.split(None, 5)
    bounds = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    assert all(_cron_field(f, lo, hi) for f, (lo, hi) in zip(fields[:5], bounds, strict=True))
    command = fields[5]
    assert " ".join(_scheduled_command()[1:]) in command  # churnlab run --params ... --send
    assert re.search(r"exec \S*churnlab run ", command)
    # the cron log gets the run's own lines: stdout and stderr are appended
    assert command.rstrip().endswith(">> /var/log/churnlab/cron.log 2>&1")


def test_the_systemd_units_run_the_scheduled_command():
    text = (DOCS / "scheduling.md").read_text()
    service, timer = re.findall(r"```ini\n(.*?)```", text, re.S)
    unit = _systemd_unit(service)
    (exec_start,) = unit["Service"]["ExecStart"]
    program, *args = exec_start.split()
    assert program.endswith("/churnlab") and program.startswith("/")  # systemd needs a path
    assert args == _scheduled_command()[1:]
    assert unit["Service"]["Type"] == ["oneshot"]
    assert unit["Service"]["EnvironmentFile"] == ["/etc/churnlab/smtp.env"]
    schedule = _systemd_unit(timer)
    (calendar,) = schedule["Timer"]["OnCalendar"]
    assert re.fullmatch(r"\*-\*-\d{2} \d{2}:\d{2}:\d{2}", calendar)  # monthly, as the cron line
    assert schedule["Install"]["WantedBy"] == ["timers.target"]


def test_the_airflow_dag_compiles_and_runs_the_scheduled_command():
    import ast

    text = (DOCS / "scheduling.md").read_text()
    (source,) = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "DAG(" in b]
    tree = ast.parse(compile(source, "churnlab_dag.py", "exec", ast.PyCF_ONLY_AST))
    (call,) = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "BashOperator"
    ]
    command = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "bash_command"))
    command = re.sub(r"\{\{.*?\}\}", "TEMPLATE", command)  # Airflow fills in {{ ... }}
    program, *args = command.split()
    assert program.endswith("/churnlab")
    scheduled = _scheduled_command()[1:]
    assert args[: len(scheduled)] == scheduled
    extra = args[len(scheduled) :]  # only -p key=value pairs from the Airflow connection
    assert extra[::2] == ["-p"] * (len(extra) // 2) and len(extra) % 2 == 0
