"""Model figures: return the figure, draw on a given axes, show the right numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from churnlab.modeling.metrics import quantile_calibration  # noqa: E402
from churnlab.plots.model import (  # noqa: E402
    plot_calibration,
    plot_health_distribution,
    plot_lift,
    plot_roc_pr,
)
from churnlab.vocabulary import vocabulary  # noqa: E402


@pytest.fixture()
def preds():
    rng = np.random.default_rng(0)
    p = rng.random(500)
    y = (rng.random(500) < p).astype(int)
    return y, p


def test_calibration_plot(preds):
    """Quantile bins: one dot per bin at its churn rate, its interval, its count on the axis."""
    y, p = preds
    curve = quantile_calibration(y, p)
    fig = plot_calibration(curve)
    ax = fig.axes[0]
    said = ax.lines[0]  # the reference: what the model predicted
    np.testing.assert_allclose(said.get_ydata(), curve["mean_predicted"])
    seen = ax.containers[0]  # the share that churned, with its Wilson interval
    np.testing.assert_allclose(seen.lines[0].get_ydata(), curve["observed_rate"])
    lows = [seg[0][1] for seg in seen.lines[2][0].get_segments()]
    np.testing.assert_allclose(lows, curve["lower"])
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == [f"{i + 1}\n{n}" for i, n in enumerate(curve["count"])]
    assert ax.get_title() == vocabulary("en").text("trust.chart.title")
    fig2, ax2 = plt.subplots()
    assert plot_calibration(curve, ax=ax2) is fig2
    plt.close("all")


def test_calibration_plot_speaks_the_report_language(preds):
    y, p = preds
    words = vocabulary("ja")
    fig = plot_calibration(quantile_calibration(y, p), words=words)
    ax = fig.axes[0]
    assert ax.get_title() == words.text("trust.chart.title")
    assert ax.get_ylabel() == words.text("trust.chart.y_label")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        words.text("trust.chart.predicted"),
        words.text("trust.chart.observed"),
    ]
    plt.close("all")


def test_lift_plot_ends_at_one(preds):
    y, p = preds
    fig = plot_lift(y, p)
    line = fig.axes[0].lines[0]
    assert line.get_ydata()[-1] == pytest.approx(1.0)
    assert line.get_ydata()[0] == 0.0
    plt.close("all")


def test_roc_pr_two_panels(preds):
    y, p = preds
    fig = plot_roc_pr(y, p)
    assert len(fig.axes) == 2
    assert fig.axes[0].get_title().startswith("ROC (AUC")
    fig2, axes = plt.subplots(1, 2)
    assert plot_roc_pr(y, p, axes=axes) is fig2
    plt.close("all")


def test_health_distribution_counts():
    scores = pd.DataFrame(
        {
            "touch_tier": ["high_touch", "low_touch", "low_touch", "tech_touch", "tech_touch"],
            "health_band": ["red", "green", "red", "yellow", "yellow"],
        }
    )
    fig = plot_health_distribution(scores)
    ax = fig.axes[0]
    widths = [patch.get_width() for patch in ax.patches]
    # 3 bands x 3 tiers (high, low, tech), band-major: red, yellow, green
    assert widths == [1, 1, 0, 0, 0, 2, 0, 1, 0]
    plt.close("all")


def test_health_distribution_speaks_the_report_language():
    scores = pd.DataFrame(
        {"touch_tier": ["high_touch", "tech_touch"], "health_band": ["red", "green"]}
    )
    words = vocabulary("ja")
    ax = plot_health_distribution(scores, words=words).axes[0]
    assert ax.get_title() == words.chart_title("health_by_tier")
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        words.tier_label("high_touch"),
        words.tier_label("tech_touch"),
    ]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        words.band_label(b) for b in ("red", "yellow", "green")
    ]
    plt.close("all")
