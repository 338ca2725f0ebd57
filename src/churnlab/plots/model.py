"""Model figures: calibration, lift/gains, ROC and PR curves, health distribution.

Every function takes ``ax=None`` (or ``axes=None`` for two panels), draws with
churnlab's style, returns the figure, and never shows or saves it.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from churnlab.plots.style import COLORS, RC, churnlab_style, new_axes
from churnlab.vocabulary import BANDS, TIERS, Vocabulary, vocabulary


def plot_calibration(curve: pd.DataFrame, ax=None, *, words: Vocabulary | None = None):
    """Predicted and actual churn per risk group, from ``metrics.quantile_calibration``.

    One column per equal-count bin, lowest risk on the left, its row count under the
    group number. The open diamonds joined by a dashed line are what the model predicted
    on average (the reference: a calibrated model's dots sit on it); the dots are the share
    that churned with its 95% Wilson interval. Every word comes from ``words`` (the
    catalogue's ``trust.chart``; default English).
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    words = words or vocabulary()
    fig, ax = new_axes(ax, language=words.language)
    x = np.arange(len(curve))
    said = curve["mean_predicted"].to_numpy(dtype=float)
    seen = curve["observed_rate"].to_numpy(dtype=float)
    low = curve["lower"].to_numpy(dtype=float)
    high = curve["upper"].to_numpy(dtype=float)
    with churnlab_style(words.language):
        ax.plot(
            x,
            said,
            ls="--",
            lw=1.2,
            color=COLORS["neutral"],
            marker="D",
            markersize=7,
            markerfacecolor="white",
            markeredgewidth=1.5,
            label=words.text("trust.chart.predicted"),
            zorder=2,
        )
        ax.errorbar(
            x,
            seen,
            yerr=[np.clip(seen - low, 0, None), np.clip(high - seen, 0, None)],
            fmt="o",
            markersize=7,
            color=COLORS["accent"],
            ecolor=COLORS["accent"],
            elinewidth=1.5,
            capsize=4,
            label=words.text("trust.chart.observed"),
            zorder=3,
        )
        ax.set_xticks(
            x,
            [
                f"{words.number(i + 1)}\n{words.number(int(n))}"
                for i, n in enumerate(curve["count"])
            ],
        )
        top = float(np.nanmax(np.concatenate([said, high, [0.05]]))) if len(curve) else 0.05
        ax.set_ylim(0, min(1.0, top * 1.12))
        ax.set_xlim(-0.6, max(len(curve) - 0.4, 0.6))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _percent(words, v)))
        ax.set_xlabel(words.text("trust.chart.x_label"))
        ax.set_ylabel(words.text("trust.chart.y_label"))
        ax.set_title(words.text("trust.chart.title"))
        ax.grid(axis="x", visible=False)
        ax.legend(loc="upper left")
    return fig


def _percent(words: Vocabulary, value: float) -> str:
    """A tick as a percentage, with one decimal only when the tick needs it (0.5%)."""
    whole = abs(100 * value - round(100 * value)) < 1e-9
    return words.rate(value, 0 if whole else 1)


def plot_lift(
    y_true,
    proba,
    ax=None,
    *,
    marks: tuple[float, ...] = (0.1, 0.2),
    words: Vocabulary | None = None,
):
    """Cumulative gains: share of churners found vs share of accounts contacted.

    The dotted diagonal is random ordering; vertical marks show the top 10% / 20%. Every
    word comes from ``words`` (the catalogue's ``chart_text.lift``; default English).
    """
    from churnlab.plots._ticks import percent_axis

    words = words or vocabulary()
    text = functools.partial(words.chart_text, "lift")
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(proba, dtype=float)
    order = np.argsort(-p, kind="mergesort")
    captured = np.concatenate([[0.0], np.cumsum(y[order]) / max(y.sum(), 1)])
    share = np.linspace(0, 1, len(y) + 1)
    fig, ax = new_axes(ax, language=words.language)
    with churnlab_style(words.language):
        ax.plot(share, captured, color=COLORS["accent"], lw=2, label=text("model"))
        ax.plot([0, 1], [0, 1], ls=":", color=COLORS["neutral"], label=text("random"))
        for m in marks:
            i = int(np.ceil(m * len(y) - 1e-9))
            ax.axvline(m, color=COLORS["neutral"], lw=0.8, ls="--")
            ax.annotate(
                text("mark", top=words.rate(m, 0), captured=words.rate(captured[i], 0)),
                (m, captured[i]),
                xytext=(6, -14),
                textcoords="offset points",
                fontsize=9,
            )
        percent_axis(ax.xaxis, words)
        percent_axis(ax.yaxis, words)
        ax.set_xlabel(text("x_axis"))
        ax.set_ylabel(text("y_axis"))
        ax.set_title(text("title"))
        ax.legend(loc="lower right")
    return fig


def plot_roc_pr(y_true, proba, axes=None, *, words: Vocabulary | None = None):
    """ROC curve (left) and precision-recall curve (right) with their areas.

    Parameters
    ----------
    axes : sequence of two matplotlib Axes, optional
        Where to draw; a new 2-panel email-width figure when None.
    words : Vocabulary, optional
        Titles and axes (the catalogue's ``chart_text.roc_pr``) and numbers; default English.
    """
    import matplotlib.pyplot as plt

    words = words or vocabulary()
    text = functools.partial(words.chart_text, "roc_pr")
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(proba, dtype=float)
    if axes is None:
        with churnlab_style(words.language):
            fig, axes = plt.subplots(1, 2, figsize=(RC["figure.figsize"][0], 3.6))
    else:
        fig = axes[0].figure
    ax_roc, ax_pr = axes
    with churnlab_style(words.language):
        fpr, tpr, _ = roc_curve(y, p)
        ax_roc.plot(fpr, tpr, color=COLORS["accent"], lw=2)
        ax_roc.plot([0, 1], [0, 1], ls=":", color=COLORS["neutral"])
        ax_roc.set_title(text("roc_title", auc=words.fixed(roc_auc_score(y, p), 2)))
        ax_roc.set_xlabel(text("fpr"))
        ax_roc.set_ylabel(text("tpr"))
        precision, recall, _ = precision_recall_curve(y, p)
        ax_pr.step(recall, precision, where="post", color=COLORS["accent"], lw=2)
        ax_pr.axhline(y.mean(), ls=":", color=COLORS["neutral"])
        ax_pr.set_title(text("pr_title", ap=words.fixed(average_precision_score(y, p), 2)))
        ax_pr.set_xlabel(text("recall"))
        ax_pr.set_ylabel(text("precision"))
        ax_pr.set_ylim(0, 1.02)
        fig.tight_layout()
    return fig


def plot_health_distribution(scores: pd.DataFrame, ax=None, *, words: Vocabulary | None = None):
    """Accounts per touch tier, stacked by health band (red / yellow / green).

    ``scores`` is ``modeling.score_accounts`` output (``touch_tier``, ``health_band``);
    tier and band names, axis and title come from ``words`` (default English).
    """
    words = words or vocabulary()
    counts = pd.crosstab(scores["touch_tier"], scores["health_band"])
    counts = counts.reindex(
        index=[t for t in TIERS if t in counts.index], columns=BANDS, fill_value=0
    )
    fig, ax = new_axes(ax, language=words.language)
    with churnlab_style(words.language):
        left = np.zeros(len(counts))
        labels = [words.tier_label(t) for t in counts.index]
        for band in BANDS:
            values = counts[band].to_numpy()
            ax.barh(
                labels,
                values,
                left=left,
                color=COLORS[band],
                label=words.band_label(band),
                edgecolor="white",
            )
            for i, v in enumerate(values):
                if v > 0.06 * counts.to_numpy().sum(axis=1).max():
                    ax.text(
                        left[i] + v / 2, i, words.number(v), ha="center", va="center", fontsize=9
                    )
            left += values
        ax.invert_yaxis()
        ax.set_xlabel(words.text("health_chart.x_label"))
        ax.set_title(words.chart_title("health_by_tier"))
        ax.legend(loc="lower right", ncols=3)
        ax.grid(axis="y", visible=False)
    return fig
