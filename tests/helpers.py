"""Helpers shared by the test modules (the session fixtures are in ``conftest.py``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from bs4 import BeautifulSoup

from churnlab.config import Params, load_params, params_schema
from churnlab.run import ReportsFolder, RunFolder

ROOT = Path(__file__).resolve().parents[1]
#: The real IBM Telco sample, as shipped inside the repository (with its provenance note).
TELCO = ROOT / "data" / "external" / "telco" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
#: Hostile user data: an account name that is a script.
EVIL_NAME = "<script>alert(1)</script>"
#: The sections every report has, by HTML id.
SECTIONS = [
    "headline",
    "renewal-map",
    "health-by-tier",
    "churned-vs-retained",
    "model-quality",
    "appendix",
    "data-freshness",
]
#: The shared generated sample (see conftest.py): size, span and seed.
SAMPLE = {"n_accounts": 2000, "months": 24, "seed": 7, "end_date": "2026-10-31"}


def sample_params(sample_dir: Path, work: Path, *overrides: str) -> Params:
    """params.yaml pointed at a generated sample, with reports and cache under ``work``.

    ``data.as_of: auto`` is read from the sample (its last day), as ``churnlab run`` does.
    """
    from churnlab.run.steps.context import resolve_data_end

    return resolve_data_end(_sample_params(sample_dir, work, *overrides))


def _sample_params(sample_dir: Path, work: Path, *overrides: str) -> Params:
    return load_params(
        ROOT / "params.yaml",
        overrides=[
            f"data.accounts={sample_dir / 'accounts.parquet'}",
            f"data.subscriptions={sample_dir / 'subscriptions.parquet'}",
            f"data.events={sample_dir / 'events.parquet'}",
            f"run.reports_dir={work / 'reports'}",
            f"run.cache_dir={work / 'cache'}",
            *overrides,
        ],
    )


def copy_run(run: RunFolder, reports_dir: Path, *, latest: bool = True) -> RunFolder:
    """Copy a run folder into another reports folder (and point its ``latest`` at it)."""
    reports = ReportsFolder(reports_dir)
    target = reports.runs / run.name
    shutil.copytree(run.path, target, symlinks=True)
    copied = RunFolder(target)
    if latest:
        reports.point_latest(copied)
    return copied


def check_self_contained(html: str) -> BeautifulSoup:
    """Shared assertions: no script, nothing fetched from outside, every image inline."""
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("script") is None
    for tag in soup.find_all(src=True):
        assert tag["src"].startswith("data:image/png;base64,"), tag["src"][:60]
    for tag in soup.find_all(href=True):
        assert not tag["href"].startswith(("http:", "https:", "//")), tag["href"]
    assert "@import" not in html and "url(" not in html
    return soup


class EditorLoader(yaml.SafeLoader):
    """YAML as an editor reads it (YAML 1.2, no timestamp type): an unquoted date stays text.

    PyYAML turns an unquoted ``2026-10-31`` into a ``datetime.date``, which JSON Schema has
    no type for; the YAML language server of editors keeps it a string. Validating what
    this loader reads checks the files the way an editor does, quoted dates or not.
    """


EditorLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_as_editor(path: Path) -> Any:
    """A YAML file read with :class:`EditorLoader` (dates stay strings)."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=EditorLoader)  # noqa: S506


def schema_errors(document: Any, schema: dict[str, Any] | None = None) -> list[str]:
    """Every violation of the params schema by ``document``, formats (dates) checked too."""
    validator = jsonschema.Draft202012Validator(
        params_schema() if schema is None else schema,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(document)]
