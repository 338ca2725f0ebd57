"""The report in Japanese: one real ``churnlab run -p report.language=ja``, read as a user would.

The run is the command itself (a subprocess, the notebooks executed by papermill kernels),
on a small generated sample so that it stays cheap. Its whole output is kept, the kernels'
stderr included (a kernel writes to the stderr it inherits from the command), and so are
the executed notebooks' outputs and ``run.log``: no "Glyph ... missing from font" warning
(nor a "findfont:" complaint about a font or weight it lacks) may appear in any of them. The report's visible text must be Japanese: no word of the
English catalogue that the Japanese one does not use, once the data's own words (account
and CSM names, plans, industries, feature column names, ids) are set aside.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from churnlab.report.headline import Headline
from churnlab.run import RunFolder
from churnlab.vocabulary import vocabulary
from tests.helpers import ROOT, check_self_contained, sample_params

#: The smallest sample that still trains, explains and scores (the run's cost is mostly the
#: five kernels starting; the data size matters little).
SMALL = {"n_accounts": 300, "months": 24, "seed": 7, "end_date": "2026-10-31"}
#: What matplotlib says when a font lacks a character (or a font it was asked for).
GLYPH = re.compile(r"Glyph \d+ .{0,80}missing from (current )?font|findfont: ", re.I)
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def ja_run(tmp_path_factory) -> tuple[RunFolder, str, float]:
    """``churnlab run -p report.language=ja`` on :data:`SMALL`: the run, its output, seconds."""
    from churnlab.sample import generate_sample, write_sample

    work = tmp_path_factory.mktemp("ja")
    sample = work / "sample"
    write_sample(generate_sample(**SMALL), sample)
    project = work / "project"
    project.mkdir()
    (project / "notebooks").symlink_to(ROOT / "notebooks")
    cfg = sample_params(sample, project)
    (project / "params.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
    command = [str(Path(sys.executable).with_name("churnlab")), "run"]
    started = time.monotonic()
    done = subprocess.run(
        [*command, "--params-file", str(project / "params.yaml"), "-p", "report.language=ja"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    return RunFolder((project / "reports" / "latest").resolve()), output, seconds


def _data_words(run: RunFolder) -> set[str]:
    """The words the data brings: names, plans, industries, the levels of its categories."""
    words: set[str] = set()
    scoring = pd.read_parquet(run.scoring)
    categories = scoring.select_dtypes(exclude="number").astype(str)
    for table in (pd.read_csv(run.scores, dtype=str), pd.read_csv(run.renewal_map, dtype=str)):
        for column in table.columns:
            if column not in ("reasons", "next_step"):  # these two are the report's words
                values = " ".join(table[column].dropna().unique()[:5000])
                words |= {w.lower() for w in re.findall(r"[A-Za-z]+", values)}
    for column in categories.columns:  # e.g. nps_category = detractor, as the data says it
        values = " ".join(categories[column].unique()[:200])
        words |= {w.lower() for w in re.findall(r"[A-Za-z]+", values)}
    names = pd.read_parquet(run.account_names)
    return words | {w.lower() for w in re.findall(r"[A-Za-z]+", " ".join(names["name"].dropna()))}


def _english_words(text: str) -> list[str]:
    """The ASCII words of a text, identifiers (``scores.csv``, ``pr_auc``) left out."""
    tokens = re.findall(r"[A-Za-z][A-Za-z0-9_.]*[A-Za-z0-9]|[A-Za-z]", text)
    return [t for t in tokens if "_" not in t and "." not in t and len(t) >= 3]


def _catalogue_words(language: str) -> set[str]:
    """Every ASCII word of a catalogue's messages (placeholders left out)."""

    def leaves(node: object) -> list[str]:
        if isinstance(node, dict):
            return [t for child in node.values() for t in leaves(child)]
        return [node] if isinstance(node, str) else []

    text = " ".join(re.sub(r"\{[^}]*\}", " ", t) for t in leaves(vocabulary(language).catalogue))
    return {w.lower() for w in _english_words(text)}


def test_a_japanese_font_draws_japanese_and_the_default_font_would_not():
    """The check below can fail: DejaVu Sans lacks kana, and says so; IPAexGothic has them."""
    import matplotlib.pyplot as plt

    from churnlab.plots.style import new_axes

    for language, expect_warning in (("en", True), ("ja", False)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig, ax = new_axes(language=language)
            ax.set_title("ハイタッチ・ヘルススコア")
            fig.canvas.draw()
            plt.close(fig)
        said = [str(w.message) for w in caught if GLYPH.search(str(w.message))]
        assert bool(said) == expect_warning, (language, said)


@pytest.mark.slow
def test_churnlab_run_in_japanese(ja_run):
    run, output, seconds = ja_run
    print(f"churnlab run -p report.language=ja on {SMALL['n_accounts']} accounts: {seconds:.0f} s")
    # no glyph warning anywhere: the command's output (kernels' stderr included), the
    # executed notebooks' outputs, the run log
    assert not GLYPH.search(output), GLYPH.search(output)
    assert not GLYPH.search(run.log.read_text(encoding="utf-8"))
    notebooks = sorted(run.path.glob("notebooks/*.ipynb"))
    assert len(notebooks) == 6  # 00 ... 05, with 03_time_to_churn
    for notebook in notebooks:
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            for out in cell.get("outputs", []):
                text = "".join(out.get("text", "")) + json.dumps(
                    out.get("data", {}).get("text/plain", "")
                )
                assert not GLYPH.search(text), (notebook.name, text[:300])

    headline = Headline.read(run.headline)
    words = vocabulary("ja")
    assert (headline.language, headline.currency) == ("ja", "JPY")
    assert headline.title == words.text("report.title")
    assert headline.arr_at_risk_display == words.money(headline.arr_at_risk)
    assert headline.arr_at_risk_display.endswith("円")

    html = run.report.read_text(encoding="utf-8")
    soup = check_self_contained(html)
    assert soup.html["lang"] == "ja"
    body = soup.body.get_text(" ", strip=True)
    assert words.text("report.title") in body and words.tier_label("high_touch") in body
    assert words.date(headline.as_of) in body  # 2026年10月31日
    english = _catalogue_words("en") - _catalogue_words("ja") - _data_words(run)
    assert {"renewal", "retained", "churned", "accounts"} <= english  # the check can fail
    leaked = sorted({w for w in _english_words(body) if w.lower() in english})
    assert not leaked, leaked
    # every image says what it shows in Japanese
    for image in soup.find_all("img"):
        assert JAPANESE.search(image.get("alt", "")), image.get("alt")

    # CSV column names are a machine contract; their text values follow the language
    scores = pd.read_csv(run.scores, dtype=str)
    assert all(c.isascii() for c in scores.columns)
    reasons = scores["reasons"].dropna()
    assert len(reasons) and reasons.map(lambda r: bool(JAPANESE.search(r))).all()


def test_templates_and_code_hold_no_words_of_their_own():
    """Every word a reader sees comes from a catalogue: none in a template, no Japanese in code.

    A template keeps, outside its ``{{ }}``/``{% %}`` expressions, tags and CSS, no word (and
    no ``alt``/``title`` text); Python code has no Japanese string literal (docstrings may
    show examples).
    """
    import ast

    templates = ROOT / "src" / "churnlab" / "report" / "templates"
    for path in sorted(templates.glob("**/*.j2")):
        text = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", path.read_text(), flags=re.S)
        attributes = re.findall(r'\b(?:alt|title|aria-label)="([^"]*)"', text)
        text = re.sub(r"<style>.*?</style>|<[^>]*>|&#?\w+;", " ", text, flags=re.S)
        words = re.findall(r"[A-Za-z\u3040-\u30ff\u4e00-\u9fff]{2,}", " ".join([text, *attributes]))
        assert not words, (path.name, words[:10])
    for path in sorted((ROOT / "src" / "churnlab").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        literals = [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and JAPANESE.search(node.value)
        ]
        assert not literals, (path.name, literals[:3])
