"""The report's what-if levers: the levers table and the renewal map's lever columns.

Built on the real levers of the shared run (its champion, scoring rows and observations),
rendered in English and Japanese from the catalogues.
"""

from __future__ import annotations

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from churnlab.modeling import load_model
from churnlab.modeling.levers import evaluate_levers
from churnlab.report.accounts import lever_context
from churnlab.report.templating import environment
from churnlab.vocabulary import vocabulary


@pytest.fixture(scope="module")
def levers(pipeline_run, pipeline_cfg):
    scoring = pd.read_parquet(pipeline_run.scoring)
    result = evaluate_levers(
        load_model(pipeline_run.model),
        scoring,
        pipeline_cfg,
        reference=pd.read_parquet(pipeline_run.observations),
    )
    # what scores.csv and the lever run file hold, read back as the report reads them
    scores = pd.concat([scoring[["account_id", "arr"]], result.per_account.iloc[:, 1:]], axis=1)
    return scores, result.by_lever


@pytest.mark.parametrize("language", ["en", "ja"])
def test_levers_table_says_association_in_the_report_language(levers, pipeline_cfg, language):
    scores, by_lever = levers
    words = vocabulary(language)
    context = lever_context(scores, by_lever, pipeline_cfg, words)
    html = environment(language).get_template("report/_levers.html.j2").render(**context)
    soup = BeautifulSoup(html, "html.parser")
    section = soup.find(id="levers")
    assert section is not None
    assert words.text("levers.caveat") in section.get_text()
    rows = section.find_all("tr")[1:]
    applied = by_lever[by_lever["applies_to"] > 0]
    assert len(rows) == len(applied) == len(context["lever_rows"]) > 0
    first = applied.iloc[0]
    cells = [c.get_text(strip=True) for c in rows[0].find_all("td")]
    assert cells[0] == words.text(f"levers.names.{first['lever']}")
    assert cells[2] == words.number(first["applies_to"])
    assert cells[3] == words.change("rate", -first["mean_risk_drop"])
    assert cells[4] == words.money(first["arr_protected"])
    if language == "ja":
        assert "Finish onboarding" not in html and "association" not in html


def test_renewal_map_rows_carry_the_biggest_lever(levers, pipeline_cfg):
    scores, by_lever = levers
    words = vocabulary("en")
    context = lever_context(scores, by_lever, pipeline_cfg, words)
    assert context["levers_shown"]
    picked = scores[scores["biggest_lever"].notna()].iloc[0]
    shown = context["account_levers"][str(picked["account_id"])]
    assert shown["lever"] == words.text(f"levers.names.{picked['biggest_lever']}")
    assert shown["arr_protected"] == pytest.approx(picked["lever_arr_protected"])
    assert len(context["account_levers"]) == scores["biggest_lever"].notna().sum()
    # a run written before the levers: no lever columns, no levers section
    old = lever_context(scores[["account_id", "arr"]], pd.DataFrame(), pipeline_cfg, words)
    assert old == {
        "account_levers": {},
        "lever_rows": [],
        "lever_skipped": [],
        "levers_shown": False,
    }
    # levers that change no account are said in a note each, not as a row of zeros
    skipped = by_lever.assign(applies_to=0, note="Lever x skipped.", note_message=None)
    context = lever_context(scores, skipped, pipeline_cfg, words)
    assert context["lever_rows"] == [] and context["lever_skipped"] == ["Lever x skipped."] * len(
        by_lever
    )
    html = environment("en").get_template("report/_levers.html.j2").render(**context)
    assert "<table" not in html and html.count("Lever x skipped.") == len(by_lever)


def test_the_real_report_shows_the_levers(pipeline_run):
    """The run's own report: stage 03's levers.csv and scores.csv lever columns, rendered."""
    words = vocabulary("en")
    soup = BeautifulSoup(pipeline_run.report.read_text(encoding="utf-8"), "html.parser")
    levers = soup.find(id="levers")
    assert levers is not None and words.text("levers.caveat") in levers.get_text()
    written = pd.read_csv(pipeline_run.levers)
    assert len(levers.find_all("tr")) == 1 + (written["applies_to"] > 0).sum()
    renewal_map = soup.find(id="renewal-map")
    headers = [th.get_text(strip=True) for th in renewal_map.find_all("th")]
    assert words.text("levers.columns.biggest_lever") in headers
    assert words.text("levers.renewal_note") in renewal_map.get_text()
    labels = {words.text(f"levers.names.{name}") for name in written["lever"]}
    cells = [tr.find_all("td")[-1] for tr in renewal_map.find_all("tr")[1:]]
    shown = [c.find(class_="lever").get_text(strip=True) for c in cells if c.find(class_="lever")]
    assert shown and set(shown) <= labels
