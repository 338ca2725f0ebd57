"""One consistent matplotlib style, legible at email width (about 700 px)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib as mpl

#: Width of a figure in inches that renders at about 700 px at ``DPI``.
EMAIL_WIDTH_IN = 7.0
DPI = 100

#: Colours of health bands and cohorts, used everywhere.
COLORS = {
    "churned": "#c0392b",
    "retained": "#2e86c1",
    "red": "#c0392b",
    "yellow": "#f1c40f",
    "green": "#27ae60",
    "neutral": "#7f8c8d",
    "accent": "#8e44ad",
}
PALETTE = ["#2e86c1", "#c0392b", "#27ae60", "#f39c12", "#8e44ad", "#16a085", "#7f8c8d"]

RC = {
    "figure.figsize": (EMAIL_WIDTH_IN, 4.0),
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
}


@contextmanager
def churnlab_style() -> Iterator[None]:
    """Context manager applying churnlab's rcParams."""
    with mpl.rc_context(RC):
        yield


def new_axes(ax=None, figsize: tuple[float, float] | None = None):
    """Return ``(fig, ax)``: the given axes' figure, or a new email-width figure.

    Parameters
    ----------
    ax : matplotlib.axes.Axes, optional
        Axes to draw on. When None a new figure is created.
    figsize : tuple of float, optional
        Size of the new figure in inches; defaults to email width x 4 in.
    """
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    with mpl.rc_context(RC):
        fig, ax = plt.subplots(figsize=figsize or RC["figure.figsize"])
    return fig, ax
