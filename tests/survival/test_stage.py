"""Stage 03 on the shared pipeline run: the survival metrics, the columns of scores.csv,
the forecast, and the report's forecast section and appendix table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab import csvsafe
from churnlab.run.steps.time_to_churn import TIME_TO_CHURN_COLUMNS


def test_model_metrics_have_the_survival_section(pipeline_run):
    survival = pipeline_run.read_model_metrics()["survival"]
    assert survival["status"] == "trained"
    for model in ("hazard", "cox", "weibull_aft"):
        figures = survival[model]
        assert 0.5 < figures["c_index"] <= 1, model
        assert 0 < figures["integrated_brier_score"] < 0.25, model
        assert 0 <= figures["d_calibration_p"] <= 1, model
    best = min(survival[m]["integrated_brier_score"] for m in ("cox", "weibull_aft"))
    assert survival["ibs_improvement"] == 1 - survival["hazard"]["integrated_brier_score"] / best
    assert survival["hazard"]["integrated_brier_score"] < best  # better than both baselines
    gap = survival["classifier_gap"]
    assert gap["accounts"] > 0 and 0 < gap["mean_hazard"] < 1 and gap["rank_correlation"] > 0.3


def test_scores_csv_has_the_survival_and_lever_columns(pipeline_run):
    scores = csvsafe.read_csv(pipeline_run.scores, dtype={"account_id": str})
    assert set(TIME_TO_CHURN_COLUMNS) <= set(scores.columns)
    assert scores["survival_12m"].between(0, 1).all()
    assert scores["expected_lifetime_months"].between(0, 12).all()
    p = scores["p_churn_before_renewal"].dropna()
    assert len(p) > 0.9 * len(scores) and p.between(0, 1).all()
    # a renewal within the year: churning before it is no likelier than churning within the year
    soon = scores["days_to_renewal"].le(365) & scores["p_churn_before_renewal"].notna()
    assert (
        scores.loc[soon, "p_churn_before_renewal"] <= 1 - scores.loc[soon, "survival_12m"] + 1e-9
    ).all()
    # the lifetime over 12 months is at least 12 x the 12-month survival (the curve only falls)
    assert (scores["expected_lifetime_months"] >= 12 * scores["survival_12m"] - 1e-9).all()
    renewals = csvsafe.read_csv(pipeline_run.renewal_map, dtype={"account_id": str})
    assert {"biggest_lever", "lever_arr_protected"} <= set(renewals.columns)


def test_the_forecast_falls_month_by_month_inside_its_band(pipeline_run):
    forecast = pd.read_csv(pipeline_run.retention_forecast)
    book = forecast[forecast["group"] == "all"].sort_values("month")
    assert book["month"].tolist() == list(range(1, 13))
    assert (np.diff(book["expected_arr"]) <= 1e-6).all()
    assert (book["arr_lower"] <= book["expected_arr"]).all()
    assert (book["expected_arr"] <= book["arr_upper"]).all()
    tiers = forecast[forecast["group"] != "all"].groupby("month")["expected_arr"].sum()
    np.testing.assert_allclose(tiers.to_numpy(), book["expected_arr"].to_numpy())
    scores = csvsafe.read_csv(pipeline_run.scores, dtype={"account_id": str})
    expected = (scores["arr"] * scores["survival_12m"]).sum()
    assert (
        book["expected_arr"].iloc[-1] == np.float64(expected)
        or abs(book["expected_arr"].iloc[-1] - expected) < 1e-6 * expected
    )


def test_the_report_shows_the_forecast_and_the_survival_table(pipeline_run):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(pipeline_run.report.read_text(encoding="utf-8"), "html.parser")
    forecast = soup.find(id="forecast")
    assert forecast is not None and len(forecast.find_all("img")) == 2
    appendix = soup.find(id="appendix").get_text(" ", strip=True)
    for name in (
        "Hazard model (LightGBM)",
        "Cox proportional hazards",
        "Weibull AFT",
        "Harrell's C",
    ):
        assert name in appendix


def test_the_notebook_reads_the_forecast_and_the_levers_as_the_report_does(pipeline_run):
    from churnlab.config import load_params
    from churnlab.report.accounts import lever_context
    from churnlab.run.steps.time_to_churn import forecast_summary, levers_table
    from churnlab.vocabulary import vocabulary

    words = vocabulary()
    forecast = pd.read_csv(pipeline_run.retention_forecast)
    intro, by_tier = forecast_summary(forecast, words)
    book = forecast[(forecast["group"] == "all") & (forecast["month"] == 12)].iloc[0]
    assert words.money(book["expected_arr"]) in intro and words.money(book["arr"]) in intro
    assert by_tier["Touch tier"].iloc[0] == words.text("survival.chart.all")
    tiers = by_tier.iloc[1:]
    assert len(tiers) == forecast["group"].nunique() - 1
    assert abs(tiers["Expected retained ARR"].sum() - book["expected_arr"]) < 1e-6 * book["arr"]
    # the levers table: one row per lever the report lists, in the report's words and order
    cfg = load_params(pipeline_run.params)
    levers = csvsafe.read_csv(pipeline_run.levers)
    shown = levers_table(cfg, levers, words)
    rows = lever_context(pd.DataFrame(), levers, cfg, words)["lever_rows"]
    assert len(shown) == len(rows) == int((levers["applies_to"] > 0).sum()) > 0
    assert shown.iloc[:, 0].tolist() == [r["label"] for r in rows]
    assert shown.columns[2] == words.text("levers.columns.applies_to")
    assert shown.iloc[:, 2].tolist() == levers.loc[levers["applies_to"] > 0, "applies_to"].tolist()
