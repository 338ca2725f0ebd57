"""Trust in plain words, on the real run: the figures recomputed from the saved held-out
predictions, the statistics only in the appendix, and a plain note when there is nothing
to trust."""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from scipy.stats import binomtest

from churnlab.report.trust import frequency, trust_context
from churnlab.vocabulary import vocabulary

STATISTICS = ("ROC AUC", "ECE", "log-odds", "Cliff", "SHAP", "Brier")


@pytest.fixture(scope="module")
def metrics(pipeline_run) -> dict:
    return json.loads(pipeline_run.model_metrics.read_text())


def test_top_decile_churn_equals_plain_pandas_on_the_saved_predictions(pipeline_run, metrics):
    held_out = pd.read_parquet(pipeline_run.backtest_predictions)
    trust = metrics["trust"]
    assert trust["status"] == "ok" and trust["n"] == len(held_out) >= 50
    riskiest = held_out.sort_values("churn_probability", ascending=False, kind="mergesort")
    top = riskiest.head(math.ceil(0.1 * len(held_out)))
    assert trust["top_n"] == len(top)
    assert trust["top_rate"] == pytest.approx(top["label"].mean())
    assert trust["base_rate"] == pytest.approx(held_out["label"].mean())
    # the same held-out rows as the backtest's pooled metrics: the lift of the appendix
    champion = next(r for r in metrics["comparison"] if r["model"] == metrics["champion"])
    assert trust["top_lift"] == pytest.approx(champion["lift_10"])
    assert trust["horizon_days"] == metrics["horizon_days"] == 90
    assert (trust["tested_from"], trust["tested_to"]) == (
        held_out["as_of"].min().date().isoformat(),
        held_out["as_of"].max().date().isoformat(),
    )


def test_calibration_bins_hold_equal_counts_with_scipys_wilson_interval(pipeline_run, metrics):
    bins = pd.DataFrame(metrics["trust"]["bins"])
    assert len(bins) == 10 and bins["count"].sum() == metrics["trust"]["n"]
    assert bins["count"].max() - bins["count"].min() <= 1
    for row in bins.itertuples():
        ci = binomtest(row.churned, row.count).proportion_ci(method="wilson")
        assert (row.lower, row.upper) == pytest.approx((ci.low, ci.high))
    riskiest = metrics["trust"]["calibration"]
    assert riskiest["observed_rate"] == pytest.approx(bins["observed_rate"].iloc[-1])
    assert riskiest["within"] == (riskiest["direction"] == "close")
    assert pipeline_run.chart("calibration").exists()


def test_the_report_body_speaks_plain_words_and_the_appendix_holds_the_statistics(
    pipeline_run, metrics
):
    soup = BeautifulSoup(pipeline_run.report.read_text(), "html.parser")
    section = soup.find(id="model-quality")
    words = vocabulary("en")
    expected = trust_context(metrics, words)["trust"]
    text = " ".join(section.get_text(" ").split())
    for sentence in expected["sentences"]:
        assert sentence in text
    assert "in 10" in expected["sentences"][0] or "1 in" in expected["sentences"][0]
    assert f"within {metrics['horizon_days']} days" in expected["sentences"][0]
    assert section.find("img")["alt"] == expected["chart_alt"]
    appendix = soup.find(id="appendix").extract()
    assert "ROC AUC" in appendix.get_text() and "ECE" in appendix.get_text()
    assert "Cliff's delta" in appendix.get_text()
    for img in soup.find_all("img"):
        img["src"] = ""  # the charts' data, not words
    body = soup.get_text(" ")
    found = [w for w in STATISTICS if re.search(re.escape(w), body)]
    assert found == [], f"statistics outside the appendix: {found}"


def test_the_figures_in_japanese(metrics):
    trust = trust_context(metrics, vocabulary("ja"))["trust"]
    assert len(trust["sentences"]) == 3 and "解約" in trust["sentences"][0]
    assert not re.search(r"[A-Za-z]{3,}", " ".join(trust["sentences"]))  # no English left


@pytest.mark.parametrize(
    ("rate", "said"),
    [(0.0, "none"), (0.07, "1 in 14"), (0.1408, "1 in 7"), (0.15, "2 in 10"), (0.43, "4 in 10"),
     (0.949, "9 in 10"), (0.96, "nearly all")],
)  # fmt: skip
def test_frequencies_read_naturally(rate, said):
    assert frequency(rate, vocabulary("en")) == said


def _figures(**changes) -> dict:
    base = {
        "status": "ok", "n": 400, "churned": 40, "base_rate": 0.1, "held_out": "accounts",
        "horizon_days": 60, "snapshot": False, "min_rows": 50, "top_fraction": 0.1,
        "top_n": 40, "top_churned": 16, "top_rate": 0.4, "top_lift": 4.0, "n_bins": 10,
        "bins_within": 9, "calibration": {
            "bin": 9, "share": 0.1, "count": 40, "churned": 16, "mean_predicted": 0.38,
            "observed_rate": 0.4, "lower": 0.26, "upper": 0.55, "within": True,
            "direction": "close",
        },
    }  # fmt: skip
    return {**base, **changes}


def test_every_case_without_figures_is_a_plain_note():
    words = vocabulary("en")
    cases = {
        "skipped": {"status": "skipped", "reason": "no labelled observation churned"},
        "old run": {"status": "trained"},
        "too few": {"status": "trained", "trust": _figures(status="too_few", n=31)},
        "no churner": {"status": "trained", "trust": _figures(status="no_churner", n=80)},
    }
    notes = {name: trust_context(m, words)["trust"] for name, m in cases.items()}
    assert all(n["note"] and not n["sentences"] for n in notes.values())
    assert "no labelled observation churned" in notes["skipped"]["note"]
    assert "31" in notes["too few"]["note"] and "50" in notes["too few"]["note"]
    assert "80" in notes["no churner"]["note"]


def test_held_out_accounts_and_snapshots_are_said_as_such():
    words = vocabulary("en")
    accounts = trust_context({"trust": _figures()}, words)["trust"]
    assert accounts["sentences"][0] == (
        "Of the held-out accounts the model rated riskiest (top 10%), 4 in 10 (40%) churned "
        "within 60 days — 4× the average of 10.0%."
    )
    assert accounts["sentences"][1].startswith("When it says 38%, about that many churn")
    snapshot = trust_context({"trust": _figures(snapshot=True, horizon_days=None)}, words)
    assert "had churned" in snapshot["trust"]["sentences"][0]
    assert "days" not in " ".join(snapshot["trust"]["sentences"])
    over = _figures(calibration={**_figures()["calibration"], "direction": "over"})
    assert "run high" in trust_context({"trust": over}, words)["trust"]["sentences"][1]
