"""The conda environment, the Makefile and CI describe the same set-up as pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = env["dependencies"]
    python = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert python == ["python=3.11"]
    assert project["requires-python"] == ">=3.11,<3.12"
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    # the package itself with the same extra the Makefile installs: one source of truth
    assert pip == ["-e .[dev]"]
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet -e '.[dev]'" in makefile
    assert "dev" in project["optional-dependencies"]


def test_core_packages_are_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {
        d.split("[")[0].split(">")[0].split("=")[0].strip().lower() for d in project["dependencies"]
    }
    for core in (
        "jupyterlab",
        "scikit-learn",
        "lightgbm",
        "pandas",
        "matplotlib",
        "papermill",
        "shap",
    ):
        assert core in names, core
    assert project["scripts"]["churnlab"] == "churnlab.cli:app"


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
