"""Model figures: calibration, lift/gains, ROC and PR curves, health distribution.

Every function takes ``ax=None`` (or ``axes=None`` for two panels), draws with
churnlab's style, returns the figure, and never shows or saves it.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from churnlab.plots.style import COLORS, RC, new_axes
from churnlab.vocabulary import BANDS, TIERS


def plot_calibration(curve: pd.DataFrame, ax=None, *, label: str = "model"):
    """Reliability diagram from ``metrics.calibration_curve`` output.

    Marker area grows with the bin's row count; the diagonal is perfect calibration.
    """
    fig, ax = new_axes(ax)
    with mpl.rc_context(RC):
        ax.plot([0, 1], [0, 1], ls="--", color=COLORS["neutral"], lw=1, label="perfect")
        sizes = 20 + 200 * curve["count"] / max(curve["count"].max(), 1)
        ax.plot(curve["mean_predicted"], curve["observed_rate"], color=COLORS["accent"], lw=1.5)
        ax.scatter(
            curve["mean_predicted"],
            curve["observed_rate"],
            s=sizes,
            color=COLORS["accent"],
            label=label,
            zorder=3,
        )
        top = float(max(curve["mean_predicted"].max(), curve["observed_rate"].max(), 0.05))
        lim = min(1.0, top * 1.1)
        ax.set_xlim(0, lim)
        ax.set_ylim(0, lim)
        ax.set_xlabel("Predicted churn probability")
        ax.set_ylabel("Observed churn rate")
        ax.set_title("Calibration on held-out data")
        ax.legend(loc="upper left")
    return fig


def plot_lift(y_true, proba, ax=None, *, marks: tuple[float, ...] = (0.1, 0.2)):
    """Cumulative gains: share of churners found vs share of accounts contacted.

    The dotted diagonal is random ordering; vertical marks show the top 10% / 20%.
    """
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(proba, dtype=float)
    order = np.argsort(-p, kind="mergesort")
    captured = np.concatenate([[0.0], np.cumsum(y[order]) / max(y.sum(), 1)])
    share = np.linspace(0, 1, len(y) + 1)
    fig, ax = new_axes(ax)
    with mpl.rc_context(RC):
        ax.plot(share, captured, color=COLORS["accent"], lw=2, label="model")
        ax.plot([0, 1], [0, 1], ls=":", color=COLORS["neutral"], label="random")
        for m in marks:
            i = int(np.ceil(m * len(y) - 1e-9))
            ax.axvline(m, color=COLORS["neutral"], lw=0.8, ls="--")
            ax.annotate(
                f"top {m:.0%}: {captured[i]:.0%} of churners",
                (m, captured[i]),
                xytext=(6, -14),
                textcoords="offset points",
                fontsize=9,
            )
        ax.set_xlabel("Share of accounts, riskiest first")
        ax.set_ylabel("Share of churners captured")
        ax.set_title("Cumulative gains")
        ax.legend(loc="lower right")
    return fig


def plot_roc_pr(y_true, proba, axes=None):
    """ROC curve (left) and precision-recall curve (right) with their areas.

    Parameters
    ----------
    axes : sequence of two matplotlib Axes, optional
        Where to draw; a new 2-panel email-width figure when None.
    """
    import matplotlib.pyplot as plt

    y = np.asarray(y_true, dtype=int)
    p = np.asarray(proba, dtype=float)
    if axes is None:
        with mpl.rc_context(RC):
            fig, axes = plt.subplots(1, 2, figsize=(RC["figure.figsize"][0], 3.6))
    else:
        fig = axes[0].figure
    ax_roc, ax_pr = axes
    with mpl.rc_context(RC):
        fpr, tpr, _ = roc_curve(y, p)
        ax_roc.plot(fpr, tpr, color=COLORS["accent"], lw=2)
        ax_roc.plot([0, 1], [0, 1], ls=":", color=COLORS["neutral"])
        ax_roc.set_title(f"ROC (AUC {roc_auc_score(y, p):.2f})")
        ax_roc.set_xlabel("False positive rate")
        ax_roc.set_ylabel("True positive rate")
        precision, recall, _ = precision_recall_curve(y, p)
        ax_pr.step(recall, precision, where="post", color=COLORS["accent"], lw=2)
        ax_pr.axhline(y.mean(), ls=":", color=COLORS["neutral"])
        ax_pr.set_title(f"Precision-recall (AP {average_precision_score(y, p):.2f})")
        ax_pr.set_xlabel("Recall")
        ax_pr.set_ylabel("Precision")
        ax_pr.set_ylim(0, 1.02)
        fig.tight_layout()
    return fig


def plot_health_distribution(scores: pd.DataFrame, ax=None):
    """Accounts per touch tier, stacked by health band (red / yellow / green).

    ``scores`` is ``modeling.score_accounts`` output (``touch_tier``, ``health_band``).
    """
    counts = pd.crosstab(scores["touch_tier"], scores["health_band"])
    counts = counts.reindex(
        index=[t for t in TIERS if t in counts.index], columns=BANDS, fill_value=0
    )
    fig, ax = new_axes(ax)
    with mpl.rc_context(RC):
        left = np.zeros(len(counts))
        labels = [t.replace("_", " ") for t in counts.index]
        for band in BANDS:
            values = counts[band].to_numpy()
            ax.barh(labels, values, left=left, color=COLORS[band], label=band, edgecolor="white")
            for i, v in enumerate(values):
                if v > 0.06 * counts.to_numpy().sum(axis=1).max():
                    ax.text(left[i] + v / 2, i, str(v), ha="center", va="center", fontsize=9)
            left += values
        ax.invert_yaxis()
        ax.set_xlabel("Accounts")
        ax.set_title("Health band by touch tier")
        ax.legend(loc="lower right", ncols=3)
        ax.grid(axis="y", visible=False)
    return fig
