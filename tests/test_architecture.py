"""The house rules of ``src/churnlab``: stages as packages, no cycles, one definition of a run."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from churnlab.run import RunFolder
from tests.helpers import ROOT

SRC = ROOT / "src"
PACKAGE = SRC / "churnlab"
#: Layers below the run: they never import the report, delivery, the runner or the CLI.
ANALYSIS = (
    "data",
    "sample",
    "observations",
    "kpis",
    "cohorts",
    "modeling",
    "survival",
    "explain",
    "plots",
)


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(SRC).with_suffix("").parts)
    return name.removesuffix(".__init__")


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def import_graph() -> dict[str, set[str]]:
    """Module -> churnlab modules it imports, anywhere in the file (type-only imports too)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([base] if base else [])])
                subs = [f"{base}.{a.name}" for a in node.names]
                targets = [t for t in subs if t in graph] or [base]
            graph[name] |= {t for t in targets if t in graph and t != name}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle found by a depth-first walk (empty when the graph is acyclic)."""
    cycles: list[list[str]] = []
    done: set[str] = set()
    stack: list[str] = []

    def visit(node: str) -> None:
        if node in stack:
            cycles.append([*stack[stack.index(node) :], node])
            return
        if node in done:
            return
        stack.append(node)
        for target in sorted(graph[node]):
            visit(target)
        stack.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)
    return cycles


def test_no_import_cycle():
    assert find_cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]


def test_stages_are_packages_not_prefix_families():
    top = [p.stem for p in PACKAGE.glob("*.py")]
    prefixes = ("explain_", "delivery_", "features_", "cohort_")
    assert [m for m in top if m.startswith(prefixes)] == []
    for stage in ("observations", "cohorts", "modeling", "explain", "report", "delivery", "run"):
        assert (PACKAGE / stage / "__init__.py").is_file(), stage


def test_no_module_over_500_lines_outside_the_engine():
    big = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if "_engine" not in p.parts and (n := len(p.read_text().splitlines())) > 500
    }
    assert big == {}


def test_analysis_layers_know_nothing_of_reports_runs_or_the_cli():
    graph = import_graph()
    above = (
        "churnlab.report",
        "churnlab.delivery",
        "churnlab.export",
        "churnlab.run",
        "churnlab.cli",
    )
    wrong = {
        module: sorted(t for t in targets if t.startswith(above))
        for module, targets in graph.items()
        if module.count(".") and module.split(".")[1] in ANALYSIS
    }
    assert {m: t for m, t in wrong.items() if t} == {}
    assert [m for m, targets in graph.items() if "churnlab.cli" in targets] == []
    # the export is a delivery layer: of the run it reads only the folder, like delivery
    run_parts = {
        t for m, targets in graph.items() if m.startswith("churnlab.export") for t in targets
    }
    assert {t for t in run_parts if t.startswith("churnlab.run")} <= {"churnlab.run.folder"}
    assert not {t for t in run_parts if t.startswith(("churnlab.report", "churnlab.cli"))}


# ----------------------------------------------------------------------------- RunFolder


def run_file_names() -> set[str]:
    """The names of a run's files (those with an extension), as RunFolder declares them.

    The run's copy of its params is left out: it bears the name of the project's params
    file, ``params.yaml``, which the config module defines and error messages name.
    """
    files = RunFolder.files()
    return {f.name for key, f in files.items() if "." in f.name.lstrip(".") and key != "params"}


def _docstring_nodes(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def literal_file_names(source: str, names: set[str]) -> list[str]:
    """String literals of ``source`` (not docstrings) that spell one of ``names``."""
    tree = ast.parse(source)
    skip = _docstring_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            found += [
                n
                for n in names
                if re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w-]|\.\w)", node.value)
            ]
    return found


def test_no_run_file_name_is_spelled_outside_run_folder():
    names = run_file_names()
    assert {"scores.csv", "headline.json", "manifest.json", "report.html"} <= names
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "run" / "folder.py":
            continue
        rel = str(path.relative_to(PACKAGE))
        found += [(rel, n) for n in literal_file_names(path.read_text(), names)]
    for notebook in (ROOT / "notebooks").rglob("*.ipynb"):
        cells = json.loads(notebook.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        found += [(notebook.name, n) for n in literal_file_names(code, names)]
    assert sorted(set(found)) == []


@pytest.mark.parametrize(
    "source, expected",
    [
        ('path = run / "scores.csv"', ["scores.csv"]),
        ('path = f"{run}/headline.json"', ["headline.json"]),
        ('template = "scores.csv.j2"', []),
        ('def f():\n    """Reads scores.csv."""\n    return 1', []),
    ],
)
def test_the_file_name_check_sees_literals_but_not_docstrings(source, expected):
    assert literal_file_names(source, {"scores.csv", "headline.json"}) == expected
