"""The executed notebooks read well: titles, captions, formatted tables, no housekeeping output.

The pipeline notebooks are those of the shared papermill run (``notebook_run``); the starter
is executed here, under papermill from the project root. The one account notebook 04
explains is the one ``explain_account`` explains, with the same numbers and reasons.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from churnlab.run.stages import NOTEBOOK_STAGES
from tests.helpers import ROOT

#: A number with more than four decimals, as a rendered table must never show.
LONG_FLOAT = re.compile(r"\d\.\d{5,}")
#: What a cell must not end with: a bare dict (``{}`` too), a path, a list of paths or files.
HOUSEKEEPING = re.compile(
    r"^(\{.*\}|\[\]|(Posix|Windows)?Path\(.*|\[(Posix|Windows)?Path\(.*|\['[^']*\.(csv|json|png|parquet)'.*)$",
    re.S,
)


@pytest.fixture(scope="module")
def starter(pipeline_cfg, pipeline_run, tmp_path_factory) -> Path:
    """The starter, executed by papermill from the project root on the shared sample's params."""
    import papermill as pm

    work = tmp_path_factory.mktemp("starter")
    params = work / "params.yaml"
    params.write_text(pipeline_cfg.to_yaml())
    out = work / "starter.ipynb"
    pm.execute_notebook(
        str(ROOT / "notebooks" / "exploration" / "starter.ipynb"),
        str(out),
        parameters={"params_file": str(params)},
        kernel_name="churnlab",
        cwd=str(ROOT),
        progress_bar=False,
    )
    return out


def outputs(path: Path):
    """``(cell id, output)`` of every output of an executed notebook."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            yield cell.get("id"), out


def check_reads_well(path: Path, title: str) -> list[str]:
    """Assert the rules of a notebook that reads well; returns its rendered tables' cells."""
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(title), (path.name, title)
    table_cells: list[str] = []
    for cell_id, out in outputs(path):
        assert out["output_type"] != "error", (path.name, cell_id, out.get("evalue"))
        data = out.get("data", {})
        plain = "".join(data.get("text/plain", "")).strip()
        if out["output_type"] in ("execute_result", "display_data") and plain:
            assert not HOUSEKEEPING.match(plain), (path.name, cell_id, plain[:120])
        page = "".join(data.get("text/html", ""))
        if "<table" in page:
            soup = BeautifulSoup(page, "html.parser")
            found = [td.get_text() for td in soup.find_all(["td", "th"])]
            long = [c for c in found if LONG_FLOAT.search(c)]
            assert not long, (path.name, cell_id, long[:5])
            table_cells += found
        text = "".join(out.get("text", ""))
        assert "one bin only" not in text + plain, (path.name, cell_id)
    return table_cells


#: The pipeline notebooks held to these rules.
CHECKED = ("00_data_health", "01_cohort_comparison", "02_churn_model", "03_time_to_churn",
           "04_explanations", "05_monitoring")  # fmt: skip


@pytest.mark.slow
def test_pipeline_notebooks_read_well(notebook_run):
    assert set(CHECKED) <= {s.name for s in NOTEBOOK_STAGES}
    for name in CHECKED:
        number, _, _ = name.partition("_")
        check_reads_well(notebook_run.notebook(name), f"# {number} · ")
    # every CS-lens table has its caption
    lens = nbformat.read(notebook_run.notebook("01_cohort_comparison"), as_version=4)
    lens_cell = next(c for c in lens.cells if c.get("id") == "01-12")
    captions = [
        BeautifulSoup("".join(o["data"]["text/html"]), "html.parser").caption.get_text()
        for o in lens_cell.outputs
        if "text/html" in o.get("data", {})
    ]
    assert len(captions) >= 4 and all(captions), captions
    # every table of the time-to-churn notebook has its caption and shows rates as percentages
    tables = [
        BeautifulSoup("".join(out["data"]["text/html"]), "html.parser")
        for _, out in outputs(notebook_run.notebook("03_time_to_churn"))
        if "<table" in "".join(out.get("data", {}).get("text/html", ""))
    ]
    assert len(tables) >= 3, len(tables)
    assert all(t.caption and t.caption.get_text().strip() for t in tables)
    assert any("%" in td.get_text() for t in tables for td in t.find_all("td"))


@pytest.mark.slow
def test_the_explanations_notebook_and_explain_account_agree(notebook_run):
    from churnlab.config import load_params
    from churnlab.workbench import Project

    nb = nbformat.read(notebook_run.notebook("04_explanations"), as_version=4)
    cell = next(c for c in nb.cells if c.get("id") == "03-11c")
    printed = "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")
    said = re.search(
        r"account (\S+): base value (\S+) \+ SHAP values (\S+) = log-odds (\S+)", printed
    )
    assert said, printed
    account, base, total, log_odds = said.group(1), *map(float, said.groups()[1:])
    shown = "".join("".join(o.get("data", {}).get("text/html", "")) for o in cell.outputs)

    project = Project(load_params(notebook_run.params), run=notebook_run)  # the run's params
    explained = project.explain_account(account)
    assert project.riskiest() == account
    assert explained.base_value == pytest.approx(base, abs=5e-5)
    assert explained.values.sum() == pytest.approx(total, abs=5e-5)
    assert explained.log_odds == pytest.approx(log_odds, abs=5e-5)
    for sentence in explained.reasons["reason_text"]:
        assert html.escape(sentence) in shown
    assert "data:image/png;base64," in shown  # the waterfall


@pytest.mark.slow
def test_the_starter_reads_well_and_runs_from_the_project_root(starter, pipeline_run):
    cells = check_reads_well(starter, "# Starter · ")
    assert cells, "the starter shows formatted tables"
    nb = nbformat.read(starter, as_version=4)
    by_id = {c.get("id"): c for c in nb.cells}
    said = "".join(o.get("text", "") for o in by_id["st-08"].outputs)
    assert "Quick logistic model" in said and "the run's champion" in said
    explained = [o for o in by_id["st-08"].outputs if "text/html" in o.get("data", {})]
    assert explained and "data:image/png;base64," in explained[0]["data"]["text/html"]
    what_if = json.dumps(by_id["st-10"].outputs)
    assert "What if" in what_if and "churn_probability" in what_if


def test_notebook_titles_match_their_file_names():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        first = json.loads(path.read_text())["cells"][0]
        assert "".join(first["source"]).startswith(f"# {path.name[:2]} · "), path.name
