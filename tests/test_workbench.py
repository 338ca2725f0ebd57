"""The analyst's workbench: the top-level API, the one table format, rich displays, charts.

``explain_account`` is checked on the real run of the shared sample against what the run
wrote (``scores.csv``) and against ``shap.TreeExplainer`` (an independent computation); the
formats against hand-worked values; the API's docstring examples run as doctests.
"""

from __future__ import annotations

import doctest
import importlib
import re

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from churnlab import csvsafe
from churnlab.errors import UsageError
from tests.helpers import ROOT

#: A number with more than four decimals, as a rendered table must never show.
LONG_FLOAT = re.compile(r"\d\.\d{5,}")


@pytest.fixture(scope="module")
def project(pipeline_cfg, pipeline_run):
    from churnlab.workbench import Project

    return Project(pipeline_cfg, run=pipeline_run)


def cells(html: str) -> list[str]:
    return [td.get_text() for td in BeautifulSoup(html, "html.parser").find_all(["td", "th"])]


# ------------------------------------------------------------------ explain_account, what_if


def test_explain_account_gives_the_runs_probability_reasons_and_shap_values(project, pipeline_run):
    import shap

    scores = csvsafe.read_csv(pipeline_run.scores, dtype={"account_id": str})
    # the riskiest: highest probability, ties broken by expected ARR at risk (plain pandas)
    top = scores[scores["churn_probability"] == scores["churn_probability"].max()]
    expected = top.sort_values("expected_arr_at_risk", ascending=False)["account_id"].iloc[0]
    assert project.riskiest() == expected

    e = project.explain_account(expected)
    row = scores.set_index("account_id").loc[expected]
    assert e.probability == pytest.approx(row["churn_probability"], abs=1e-12)
    assert e.health_score == row["health_score"]
    assert e.expected_arr_at_risk == pytest.approx(row["expected_arr_at_risk"], rel=1e-12)
    assert e.reasons_text == row["reasons"] and e.reasons_text
    assert e.next_step == (row["next_step"] if isinstance(row["next_step"], str) else "")
    assert set(row["reasons"].split("; ")) <= set(e.reasons["reason_text"])

    model = project.model
    scoring = pd.read_parquet(pipeline_run.scoring)
    mine = scoring[scoring["account_id"] == expected]
    assert e.log_odds == pytest.approx(model.predict_raw(mine)[0], abs=1e-9)
    assert model.kind == "lightgbm"
    independent = shap.TreeExplainer(model.booster_).shap_values(model.prepare(mine))
    np.testing.assert_allclose(e.values.to_numpy(), np.ravel(independent), atol=1e-6)

    html = e._repr_html_()
    assert "data:image/png;base64," in html  # the waterfall
    assert all(sentence in html for sentence in map(_escaped, e.reasons["reason_text"]))
    assert not any(LONG_FLOAT.search(c) for c in cells(html))
    with pytest.raises(UsageError, match="not scored"):
        project.explain_account("no-such-account")


def _escaped(text: str) -> str:
    import html

    return html.escape(text)


def test_ties_at_the_top_go_to_the_most_arr_at_risk():
    from churnlab.explain.account import rank_by_risk

    scores = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d"],
            "churn_probability": [0.9, 0.9, 0.95, 0.9],
            "expected_arr_at_risk": [100.0, 900.0, 10.0, 900.0],
        }
    )
    assert rank_by_risk(scores).tolist() == ["c", "b", "d", "a"]


def test_what_if_moves_what_measures_the_same_thing_and_rescores(project, pipeline_run):
    from churnlab.modeling.levers import apply_edits

    account = project.riskiest()
    change = project.what_if(account, logins_28d="tier_median")
    moved = set(change.features.index)
    assert "logins_28d" in moved and {"logins_7d", "logins_90d"} & moved
    # the same edit and prediction, done by hand
    scoring = pd.read_parquet(pipeline_run.scoring)
    observations = pd.read_parquet(pipeline_run.observations)
    row = scoring[scoring["account_id"] == account]
    edited = apply_edits(
        row,
        {"logins_28d": "tier_median"},
        reference=observations[observations["label"] == 0],
        ratios=dict(project.cfg.features.ratios),
    )
    assert change.probability_after == pytest.approx(project.model.predict_proba(edited)[0])
    assert change.probability_before == pytest.approx(project.model.predict_proba(row)[0])
    assert "<table" in change._repr_html_()
    with pytest.raises(UsageError, match="no such feature"):
        project.what_if(account, no_such_feature=1)


def test_find_params_looks_in_the_working_folder_and_above(tmp_path):
    from churnlab.workbench import find_params

    assert find_params(ROOT / "notebooks" / "exploration") == ROOT / "params.yaml"
    with pytest.raises(UsageError, match="--cwd notebooks/exploration"):
        find_params(tmp_path)


@pytest.fixture(scope="module")
def examples_tmp(tmp_path_factory):
    """The system temporary folder of the doctests: their sample is generated there, once."""
    return tmp_path_factory.mktemp("examples")


@pytest.mark.xdist_group("workbench_doctests")
@pytest.mark.parametrize("module", ["churnlab", "churnlab.workbench", "churnlab.display"])
def test_the_api_examples_run(module, examples_tmp, monkeypatch):
    """The docstring examples of the top-level API, on the built-in sample (doctest)."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(examples_tmp))
    found = doctest.DocTestFinder().find(importlib.import_module(module))
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in found:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 2 and result.failed == 0


def test_import_churnlab_stays_light():
    import subprocess
    import sys

    code = "import sys, churnlab; print('pandas' in sys.modules, churnlab.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "0.1.0"]


# ------------------------------------------------------------------ the one table format


def test_format_table_by_hand():
    from churnlab.display import format_table

    raw = pd.DataFrame(
        {
            "segment": ["high_touch", "tech_touch"],
            "logo_churn_rate": [0.014910, 0.0026],
            "arr": [69763380.0, 9500.0],
            "median_months": [float("inf"), 14.0],
            "time_to_value_days": [12.0, np.nan],
            "p_adjusted": [1.5e-26, 0.04321],
            "effect": [-0.294439478, 0.1],
        }
    )
    table = format_table(raw, caption="by hand")
    assert table.frame.to_dict("list") == {
        "Segment": ["High touch", "Tech touch"],
        "Logo churn rate": ["1.5%", "0.3%"],
        "ARR": ["$69.76M", "$9,500"],
        "Median months": ["not reached", "14"],
        "Time to value (days)": ["12 days", "–"],
        "p-value (BH-adjusted)": ["< 0.0001", "0.0432"],
        "Effect": ["-0.29", "0.10"],
    }
    html = table._repr_html_()
    assert "<caption" in html and "by hand" in html
    assert table.raw is raw


def test_every_run_table_formats_without_long_floats(pipeline_run):
    from churnlab.display import format_table

    for path in (pipeline_run.kpis, pipeline_run.cohort_comparison, pipeline_run.drift):
        frame = csvsafe.read_csv(path)
        text = cells(format_table(frame)._repr_html_())
        assert text and not [c for c in text if LONG_FLOAT.search(c)], path.name


# ------------------------------------------------------------------ rich displays


def test_rich_displays_say_what_an_analyst_needs(pipeline_cfg, pipeline_run, project):
    from churnlab.explain import explain_model
    from churnlab.observations import ObservationTables

    html = pipeline_cfg._repr_html_()
    assert "observation.horizon_days" in html and "Effective parameters" in html
    tables = ObservationTables(
        pd.read_parquet(pipeline_run.observations), pd.read_parquet(pipeline_run.scoring)
    )
    rate = tables.training["label"].astype(float).mean()
    html = tables._repr_html_()
    assert f"{100 * rate:.1f}%" in html and "training (labelled)" in html
    model = project.model
    html = model._repr_html_()
    assert "training window" in html and "validation log loss" in html
    shap_html = explain_model(model, tables.scoring.head(50))._repr_html_()
    assert "exact TreeSHAP" in shap_html
    for shown in (html, shap_html, tables._repr_html_()):
        assert not [c for c in cells(shown) if LONG_FLOAT.search(c)]


def test_the_run_says_how_early_stopping_went(pipeline_run):
    import json

    from churnlab.modeling.train import learning_curve

    metrics = json.loads(pipeline_run.model_metrics.read_text())
    training = metrics["training"]
    assert training["rounds_run"] >= training["best_iteration"]
    assert training["valid_loss_best"] <= training["valid_loss_first"]
    assert metrics["learning_curve"] and "early stopping" in metrics["learning_curve"]
    if training["best_iteration"] == training["n_estimators"]:
        assert "never triggered" in metrics["learning_curve"]
    report = BeautifulSoup(pipeline_run.report.read_text(), "html.parser").get_text(" ")
    assert metrics["learning_curve"] in " ".join(report.split())  # in the appendix
    assert learning_curve([0.3, 0.2], 500, 500, 50)["stopping"] == "never"
    assert learning_curve([0.3] * 60, 1, 500, 50)["stopping"] == "at_once"
    assert learning_curve([0.3, 0.2, 0.1] * 30, 60, 500, 50)["stopping"] == "stopped"


# ------------------------------------------------------------------ charts


def test_charts_choose_sensible_bins(observations):
    from churnlab.plots.cohorts import churn_by_metric, plot_churn_by_bins

    flag = churn_by_metric(observations, "onboarding_completed")
    assert flag["group"].tolist()[:2] == ["no", "yes"] and flag.attrs["binning"] == "values"
    done = observations["onboarding_completed"] == 1
    assert flag.set_index("group").loc["yes", "churn_rate"] == pytest.approx(
        observations.loc[done, "label"].astype(float).mean()
    )
    # the starter's candidate: most accounts have no ticket, quantiles alone give one bin
    per_seat = observations["tickets_opened_90d"] / observations["seats"].clip(lower=1)
    table = observations.assign(tickets_per_seat_90d=per_seat)
    bins = churn_by_metric(table, "tickets_per_seat_90d", bins=5)
    assert bins.attrs["binning"] == "value_and_quantiles" and len(bins) >= 3
    assert bins["group"].iloc[0] == "= 0"
    assert bins.set_index("group").loc["= 0", "n"] == int((per_seat == 0).sum())
    assert bins["n"].sum() == len(table)
    fig = plot_churn_by_bins(bins, overall_rate=0.05)
    assert len(fig.axes[0].patches) == len(bins) >= 3  # never a single bar
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][0] == "= 0"
    assert "tickets_per_seat" not in fig.axes[0].get_title()


def test_percent_ticks_say_their_value():
    from churnlab.plots._ticks import PercentTicks

    ticks = PercentTicks()
    for locs, said in (
        ([0, 0.05, 0.1, 0.15], ["0%", "5%", "10%", "15%"]),
        ([0, 0.025, 0.05], ["0.0%", "2.5%", "5.0%"]),
        ([0.01, 0.015, 0.02], ["1.0%", "1.5%", "2.0%"]),
    ):
        ticks.set_locs(locs)
        assert [ticks(v) for v in locs] == said


def test_km_names_tiers_and_explains_the_accounts_without_one():
    from churnlab.plots.cohorts import plot_km

    fig = plot_km(
        [1, 2, 3, 4, 5], [1, 0, 1, 0, 1], ["high_touch"] * 2 + ["tech_touch", "unknown", "unknown"]
    )
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["High touch (n=2)", "Tech touch (n=1)"]
    notes = [t.get_text() for t in fig.texts]
    assert any("2 accounts without a touch tier" in n for n in notes)
