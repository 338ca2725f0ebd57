"""Model figures: return the figure, draw on a given axes, show the right numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from churnlab.modeling import calibration_curve  # noqa: E402
from churnlab.plots.model import (  # noqa: E402
    plot_calibration,
    plot_health_distribution,
    plot_lift,
    plot_roc_pr,
)


@pytest.fixture()
def preds():
    rng = np.random.default_rng(0)
    p = rng.random(500)
    y = (rng.random(500) < p).astype(int)
    return y, p


def test_calibration_plot(preds):
    y, p = preds
    curve = calibration_curve(y, p)
    fig = plot_calibration(curve)
    ax = fig.axes[0]
    points = ax.collections[0].get_offsets()
    assert len(points) == len(curve)
    np.testing.assert_allclose(points[:, 1], curve["observed_rate"])
    fig2, ax2 = plt.subplots()
    assert plot_calibration(curve, ax=ax2) is fig2
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
