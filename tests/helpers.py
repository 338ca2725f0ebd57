"""Helpers shared by the test modules (the session fixtures are in ``conftest.py``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from bs4 import BeautifulSoup

from churnlab.config import Params, load_params
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
    """params.yaml pointed at a generated sample, with reports and cache under ``work``."""
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
