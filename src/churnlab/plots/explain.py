"""SHAP figures: global importance bars and dependence plots.

Drawn with matplotlib in churnlab's style at email width (no global state, nothing shown
or saved); every function takes ``ax=None`` and returns the figure. For shap's own plots
(beeswarm, waterfall) use ``ShapResult.to_explanation()``.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from churnlab.explain import ShapResult, global_importance
from churnlab.plots.style import COLORS, EMAIL_WIDTH_IN, churnlab_style, new_axes
from churnlab.vocabulary import Vocabulary, vocabulary


def _is_categorical(values: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values))


def _sample(n: int, size: int | None, seed: int) -> np.ndarray:
    if size is None or n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def plot_importance_bar(
    shap: ShapResult, *, top: int = 15, ax=None, words: Vocabulary | None = None
):
    """Horizontal bars of mean |SHAP| (log-odds) for the ``top`` features, strongest on top.

    Parameters
    ----------
    shap : ShapResult
    top : int
        Features shown.
    ax : matplotlib.axes.Axes, optional
    words : Vocabulary, optional
        The language of the chart's text and feature labels (default English).
    """
    words = words or vocabulary()
    ranking = global_importance(shap).head(top).iloc[::-1]
    labels = ranking["feature"].map(words.feature_label)
    with churnlab_style(words.language):
        own = ax is None
        fig, ax = new_axes(
            ax, figsize=(EMAIL_WIDTH_IN, 0.35 * len(ranking) + 1.4), language=words.language
        )
        if own:
            fig.set_layout_engine("constrained")
        ax.barh(labels, ranking["mean_abs_shap"], color=COLORS["retained"])
        for y, (value, share) in enumerate(
            zip(ranking["mean_abs_shap"], ranking["share"], strict=True)
        ):
            ax.text(
                value,
                y,
                " " + words.rate(share, 0),
                va="center",
                fontsize=9,
                color=COLORS["neutral"],
            )
        ax.set_xlabel(words.chart_text("drivers", "x_axis"))
        ax.set_title(words.chart_text("drivers", "title"))
        ax.grid(axis="y", visible=False)
        ax.set_xlim(0, float(ranking["mean_abs_shap"].max()) * 1.15 if len(ranking) else 1)
    return fig


def plot_dependence(
    shap: ShapResult,
    feature: str,
    *,
    sample: int | None = 5000,
    seed: int = 0,
    ax=None,
    words: Vocabulary | None = None,
):
    """SHAP value of ``feature`` against its value (categories: jittered columns).

    Parameters
    ----------
    shap : ShapResult
    feature : str
    sample : int, optional
        Accounts drawn at random (seeded); None = all.
    seed : int
    ax : matplotlib.axes.Axes, optional
    words : Vocabulary, optional
        The language of the chart's text (``chart_text.dependence``) and the feature's
        label (default English).
    """
    words = words or vocabulary()
    text = functools.partial(words.chart_text, "dependence")
    if feature not in shap.values.columns:
        raise KeyError(
            f"feature {feature!r} is not in the SHAP values; choose one of {shap.features[:8]}"
        )
    rows = _sample(len(shap.values), sample, seed)
    y = shap.values[feature].to_numpy()[rows]
    raw = shap.data[feature].iloc[rows]
    with churnlab_style(words.language):
        own = ax is None
        fig, ax = new_axes(ax, language=words.language)
        if own:
            fig.set_layout_engine("constrained")
        if _is_categorical(raw):
            missing = text("missing_level")
            levels = pd.Series(raw.astype(object).where(raw.notna(), missing).astype(str))
            names = sorted(levels.unique())
            pos = levels.map({v: i for i, v in enumerate(names)}).to_numpy(dtype=float)
            jitter = np.random.default_rng(seed).uniform(-0.25, 0.25, len(pos))
            ax.scatter(pos + jitter, y, s=8, color=COLORS["neutral"], alpha=0.6, linewidths=0)
            ax.set_xticks(range(len(names)), names)
        else:
            x = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
            ok = ~np.isnan(x)
            ax.scatter(x[ok], y[ok], s=8, color=COLORS["retained"], alpha=0.5, linewidths=0)
            if (~ok).any():
                ax.text(0.99, 0.02, text("not_shown", n=words.number(int((~ok).sum()))),
                        transform=ax.transAxes,
                        ha="right", fontsize=9, color=COLORS["neutral"])  # fmt: skip
        ax.axhline(0, color="#555555", lw=0.8)
        ax.set_xlabel(words.feature_label(feature))
        ax.set_ylabel(text("y_axis"))
        ax.set_title(text("title", feature=words.feature_in_sentence(feature)))
    return fig
