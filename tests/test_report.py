"""The executive report: self-contained, escaped, every section present, within budget."""

from __future__ import annotations

import json
from pathlib import Path

from bs4 import BeautifulSoup

from churnlab.config import load_params
from churnlab.report import render_report
from tests.report_fixtures import EVIL_NAME, make_run_dir

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = [
    "headline",
    "renewal-map",
    "health-by-tier",
    "churned-vs-retained",
    "model-quality",
    "appendix",
    "data-freshness",
]


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


def test_report_is_self_contained_and_escaped(tmp_path):
    cfg = load_params(ROOT / "params.yaml")
    run = make_run_dir(tmp_path)
    out = render_report(run, cfg)
    html = out.read_text()
    soup = check_self_contained(html)
    for section in SECTIONS:
        assert soup.find(id=section) is not None, section
    assert EVIL_NAME not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert len(out.read_bytes()) <= 2 * 1024 * 1024
    assert len(soup.find_all("img")) >= 3  # sparklines for the rate tiles


def test_headline_numbers_and_change_since_previous_run(tmp_path):
    cfg = load_params(ROOT / "params.yaml")
    first = make_run_dir(tmp_path, "2026-09-30_20261001T060000Z")
    render_report(first, cfg)
    second = make_run_dir(tmp_path)
    render_report(second, cfg, previous_run_dir=first)
    headline = json.loads((second / "headline.json").read_text())
    tiles = {t["key"]: t for t in headline["kpis"]}
    # renewals within 90 days: A1, A2 and A3 -> 50,000 + 5,000 + 600
    assert headline["arr_at_risk"] == 55_600.0
    assert tiles["arr_at_risk"]["display"] == "$55.6k"
    assert tiles["logo_churn_rate"]["display"] == "3.1%"  # last month: 0.02 + 0.011
    assert tiles["logo_churn_rate"]["change_display"] == "+0.0 pp"
    first_tiles = {t["key"]: t for t in json.loads((first / "headline.json").read_text())["kpis"]}
    assert first_tiles["net_revenue_retention"]["change_display"] == "first run"
    assert [r["account_id"] for r in headline["top_renewals"]] == ["A1", "A2", "A3"]
