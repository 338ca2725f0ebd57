"""One consistent matplotlib style, legible at email width (about 700 px).

Chart text follows the report language: a language whose script matplotlib's default
font (DejaVu Sans) lacks draws with a font that has it, shipped with the Python install
(Japanese: IPAexGothic from ``matplotlib-fontja``), registered only when a chart in that
language is drawn. Pass the language to :func:`churnlab_style` and :func:`new_axes`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

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


@functools.cache
def _japanese_font() -> str:
    """Register IPAexGothic (bundled by ``matplotlib-fontja``); its family name.

    Importing ``matplotlib_fontja`` also makes the font the global default: the global
    rcParams are kept as they were, only the charts drawn in Japanese use it.
    """
    with mpl.rc_context():
        import matplotlib_fontja

    return str(matplotlib_fontja.matplotlib_fontja.FONT_NAME)


#: Languages whose charts need a font of their own: language -> its font family.
_FONT_LANGUAGES: dict[str, Callable[[], str]] = {"ja": _japanese_font}


def style_rc(language: str = "en") -> dict[str, Any]:
    """churnlab's rcParams for charts in ``language`` (with the fonts its script needs).

    Parameters
    ----------
    language : str
        The report language (``"en"``, ``"ja"``).
    """
    if language not in _FONT_LANGUAGES:
        return RC
    family = _FONT_LANGUAGES[language]()
    # the script's font first, DejaVu Sans for any glyph it lacks; the font has no bold
    # weight, so titles are drawn in its regular weight (as Japanese charts usually are)
    return {**RC, "font.family": [family, "DejaVu Sans"], "axes.titleweight": "normal"}


@contextmanager
def churnlab_style(language: str = "en") -> Iterator[None]:
    """Context manager applying churnlab's rcParams (and the fonts of ``language``)."""
    with mpl.rc_context(style_rc(language)):
        yield


def new_axes(ax=None, figsize: tuple[float, float] | None = None, language: str = "en"):
    """Return ``(fig, ax)``: the given axes' figure, or a new email-width figure.

    Parameters
    ----------
    ax : matplotlib.axes.Axes, optional
        Axes to draw on. When None a new figure is created.
    figsize : tuple of float, optional
        Size of the new figure in inches; defaults to email width x 4 in.
    language : str
        The language of the chart's text (its fonts).
    """
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    with mpl.rc_context(style_rc(language)):
        fig, ax = plt.subplots(figsize=figsize or RC["figure.figsize"])
    return fig, ax
