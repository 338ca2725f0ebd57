"""Every word of a chart comes from the report language's catalogue: no English left in Japanese.

Drawn on the shared run's own files (KPIs, cohorts, back-test predictions, the retained-ARR
forecast); the survival curves per tier are a small hand-made frame (the stage keeps only
the chart of them).
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from churnlab.vocabulary import vocabulary

#: Latin words a Japanese chart may keep: acronyms a Japanese CS team uses as they are.
KEPT = {"ARR", "MRR", "ROC", "AUC", "CSM", "NRR", "GRR", "SHAP"}
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def texts(fig) -> list[str]:
    """Every text a reader sees in ``fig``: titles, axis labels, ticks, legends, annotations."""
    fig.canvas.draw()
    found = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    return [t for t in found if t.strip()]


def charts(run, words) -> dict:
    from churnlab.explain import ShapResult
    from churnlab.plots.explain import plot_dependence, plot_importance_bar
    from churnlab.plots.kpis import plot_cohort_heatmap, plot_kpi_sparkline, plot_mrr_bridge
    from churnlab.plots.model import plot_lift, plot_roc_pr
    from churnlab.plots.survival import plot_retention_forecast, plot_survival_by_tier

    kpis = pd.read_csv(run.kpis)
    book = kpis[kpis["segment"] == "all"].reset_index(drop=True)
    cohorts = pd.read_csv(run.cohort_retention)
    matrix = cohorts.pivot(index="cohort", columns="months_since_start", values="logo_retention")
    held_out = pd.read_parquet(run.backtest_predictions)
    forecast = pd.read_csv(run.retention_forecast)
    curves = pd.DataFrame(
        {
            "group": ["all"] * 3 + ["high_touch"] * 3,
            "month": [1, 2, 3] * 2,
            "survival": [0.98, 0.95, 0.93, 0.99, 0.98, 0.97],
        }
    )
    y, p = held_out["label"], held_out["churn_probability"]
    data = pd.DataFrame(
        {
            "logins_28d": [3.0, None, 12.0, 40.0],
            "plan": ["p1", None, "p2", "p2"],
        }  # plan levels are data
    )
    shap = ShapResult(
        values=pd.DataFrame({"logins_28d": [0.4, 0.0, -0.1, -0.5], "plan": [0.1, 0.2, -0.1, -0.1]}),
        base_value=-2.0,
        data=data,
        method="tree",
    )
    return {
        "lift": plot_lift(y, p, words=words),
        "roc_pr": plot_roc_pr(y, p, words=words),
        "heatmap": plot_cohort_heatmap(matrix.tail(8), kind="revenue", words=words),
        "bridge": plot_mrr_bridge(book.iloc[-1], words=words),
        "sparkline": plot_kpi_sparkline(
            book["logo_churn_rate"], title="x", percent=True, words=words
        ),
        "forecast": plot_retention_forecast(forecast, words=words),
        "tiers": plot_survival_by_tier(curves, words=words),
        "drivers": plot_importance_bar(shap, words=words),
        "dependence": plot_dependence(shap, "logins_28d", words=words),
        "dependence_levels": plot_dependence(shap, "plan", words=words),
    }


def test_japanese_charts_have_no_english_words(pipeline_run):
    words = vocabulary("ja")
    drawn = charts(pipeline_run, words)
    try:
        for name, fig in drawn.items():
            english = [t for t in texts(fig) if set(LATIN_WORD.findall(t)) - KEPT]
            assert not english, (name, english)
        lift = drawn["lift"].axes[0]
        assert lift.get_title() == words.chart_text("lift", "title") == "累積ゲイン"
        assert lift.get_xlabel() == words.chart_text("lift", "x_axis")
        bridge = drawn["bridge"].axes[0]
        assert [t.get_text() for t in bridge.get_xticklabels()][0] == words.text(
            "executive.bridge.steps.start"
        )
        assert "万円" in " ".join(t.get_text() for t in bridge.get_yticklabels())
        levels = drawn["dependence_levels"].axes[0].get_xticklabels()
        assert words.chart_text("dependence", "missing_level") in [t.get_text() for t in levels]
    finally:
        plt.close("all")


def test_english_charts_say_their_numbers_in_the_vocabulary(pipeline_run):
    words = vocabulary("en")
    drawn = charts(pipeline_run, words)
    try:
        roc = drawn["roc_pr"].axes[0].get_title()
        assert re.fullmatch(r"ROC \(AUC 0\.\d\d\)", roc), roc
        marks = [t.get_text() for t in drawn["lift"].axes[0].texts]
        assert [m.split(":")[0] for m in marks] == ["top 10%", "top 20%"]
        assert all(re.search(r"\d+% of churners$", m) for m in marks), marks
        ticks = [t.get_text() for t in drawn["lift"].axes[0].get_yticklabels()]
        assert "100%" in ticks
    finally:
        plt.close("all")


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_chart_keys_exist_in_both_catalogues(language):
    words = vocabulary(language)
    for chart, keys in {
        "lift": ("title", "model", "random", "x_axis", "y_axis"),
        "roc_pr": ("fpr", "tpr", "recall", "precision"),
        "cohort_heatmap": ("title_logo", "title_revenue", "x_axis", "y_axis"),
        "mrr_bridge": ("title", "y_axis"),
        "dependence": ("y_axis", "missing_level"),
    }.items():
        for key in keys:
            assert words.chart_text(chart, key)
