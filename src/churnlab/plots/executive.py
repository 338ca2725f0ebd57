"""Figures of the executive view: the MRR bridges (waterfalls) and the cohort retention heatmaps.

Every function takes its words from a :class:`~churnlab.vocabulary.Vocabulary` (titles,
axes, step names, money), returns the figure and never shows or saves it. Drawn for a
600 px email column: 7 inches at 100 dpi, fonts of 10 points and more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from churnlab.plots.style import COLORS, EMAIL_WIDTH_IN, churnlab_style
from churnlab.vocabulary import Vocabulary

__all__ = ["plot_cohort_retention", "plot_mrr_bridges"]

_STEP_COLORS = {
    "start": COLORS["retained"],
    "new": COLORS["green"],
    "reactivation": "#16a085",
    "expansion": "#52be80",
    "contraction": "#e67e22",
    "churn": COLORS["churned"],
    "end": COLORS["retained"],
}


def _waterfall(ax: Any, steps: Sequence[tuple[str, float]], words: Vocabulary, title: str) -> None:
    """One waterfall: totals as bars, movements floating; the axis starts near the lowest level.

    Movements of a month are small beside the book, so the value axis is cut below the
    lowest level the bridge reaches (its tick labels say where it starts).
    """
    levels, level = [], 0.0
    for name, value in steps:
        level = value if name in ("start", "end") else level + value
        levels.append(level)
    low, high = min(levels), max(levels)
    span = max(high - low, 0.02 * max(abs(high), 1.0))
    floor = max(0.0, low - span)
    level = 0.0
    for i, (name, value) in enumerate(steps):
        total = name in ("start", "end")
        bottom = floor if total else (level if value >= 0 else level + value)
        height = value - floor if total else abs(value)
        ax.bar(i, height, bottom=bottom, color=_STEP_COLORS[name], width=0.7)
        sign = "" if total else ("+" if value >= 0 else "-")
        ax.text(
            i,
            bottom + height + 0.03 * span,
            sign + words.money(abs(value)),
            ha="center",
            va="bottom",
            fontsize=10,
        )
        level = value if total else level + value
    names = [words.text(f"executive.bridge.steps.{name}") for name, _ in steps]
    ax.set_xticks(range(len(steps)), names, fontsize=10)
    ax.tick_params(axis="x", labelrotation=0)
    ax.set_title(title, loc="left", fontsize=12)
    ax.yaxis.set_major_formatter(lambda v, _pos: words.money(v))
    ax.set_ylim(floor, high + 0.35 * span)
    ax.grid(axis="x", visible=False)


def plot_mrr_bridges(
    bridges: Sequence[tuple[str, Sequence[tuple[str, float]]]], words: Vocabulary
) -> Any:
    """The MRR bridges as waterfalls, one panel each, stacked (the month, then 12 months).

    Parameters
    ----------
    bridges : sequence of (str, sequence of (str, float))
        ``(panel title, steps)`` with the steps of
        :meth:`churnlab.executive.MrrBridge.steps` (``start`` ... ``end``, signed).
    words : Vocabulary
        Step names (``executive.bridge.steps.*``) and money.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    with churnlab_style(words.language):
        fig, axes = plt.subplots(
            len(bridges), 1, figsize=(EMAIL_WIDTH_IN, 3.2 * len(bridges)), squeeze=False
        )
        for ax, (title, steps) in zip(axes[:, 0], bridges, strict=True):
            _waterfall(ax, steps, words, title)
        fig.tight_layout()
    return fig


def plot_cohort_retention(cohorts: pd.DataFrame, words: Vocabulary) -> Any:
    """Logo and revenue retention of the start cohorts as two heatmaps, stacked.

    Parameters
    ----------
    cohorts : pandas.DataFrame
        :func:`churnlab.executive.cohort_table` (``cohort``, ``months_since_start``,
        ``logo_retention``, ``revenue_retention``).
    words : Vocabulary
        Titles, axes and months.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize, TwoSlopeNorm

    kinds = ("logo_retention", "revenue_retention")
    mats = [
        cohorts.pivot(index="cohort", columns="months_since_start", values=kind) for kind in kinds
    ]
    n_rows, n_cols = mats[0].shape
    with churnlab_style(words.language):
        fig, axes = plt.subplots(
            2, 1, figsize=(EMAIL_WIDTH_IN, 2 * (1.0 + 0.3 * max(n_rows, 1))), squeeze=False
        )
        for ax, kind, mat in zip(axes[:, 0], kinds, mats, strict=True):
            values = mat.to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            low = min(0.8, float(finite.min(initial=1.0)))
            high = max(1.0 + (1.0 - low) / 2, float(finite.max(initial=1.0)))
            # logo retention never exceeds 100% (green); revenue is centred on 100%
            norm = (
                Normalize(vmin=low, vmax=1.0)
                if kind == "logo_retention"
                else TwoSlopeNorm(vmin=low, vcenter=1.0, vmax=high)
            )
            ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap="RdYlGn", norm=norm)
            ax.grid(False)
            ax.set_xticks(range(n_cols), [str(c) for c in mat.columns], fontsize=10)
            ax.set_yticks(
                range(n_rows), [words.month(pd.Timestamp(i).date()) for i in mat.index], fontsize=9
            )
            for (r, c), v in np.ndenumerate(values):
                if np.isfinite(v):
                    shade = float(norm(v))
                    ax.text(
                        c,
                        r,
                        words.number(round(100 * v)),
                        ha="center",
                        va="center",
                        fontsize=9,
                        color="white" if shade < 0.15 or shade > 0.85 else "black",
                    )
            ax.set_xlabel(words.text("executive.cohorts.x_axis"), fontsize=10)
            ax.set_title(words.text(f"executive.cohorts.{kind}"), loc="left", fontsize=12)
        fig.tight_layout()
    return fig
