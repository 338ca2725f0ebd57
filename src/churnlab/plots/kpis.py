"""Figures of the subscription KPIs: retention trend, sparklines, cohort heatmaps, MRR bridge.

Every function takes ``ax=None``, returns the figure and never shows or saves it.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from churnlab.plots.style import COLORS, churnlab_style, new_axes
from churnlab.vocabulary import Vocabulary, vocabulary

#: Size of a first-screen sparkline in inches (about 220 x 90 px).
SPARKLINE_SIZE = (2.2, 0.9)


def _percent_axis(ax, words: Vocabulary | None = None) -> None:
    """Round percent steps on the y axis, each tick with the decimals it needs."""
    from churnlab.plots._ticks import percent_axis

    percent_axis(ax.yaxis, words)


def _month_axis(ax, words: Vocabulary, months: int) -> None:
    """Month ticks in the language's form (``Jan 2026``, ``2026年1月``): every month of a
    short history, every quarter of two years, every half year beyond."""
    import matplotlib.dates as mdates
    from matplotlib.ticker import FuncFormatter

    interval = 1 if months <= 8 else 3 if months <= 30 else 6
    ax.xaxis.set_major_locator(mdates.MonthLocator(interval=interval))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: words.month(mdates.num2date(x).date())))


def plot_retention_trend(kpis: pd.DataFrame, ax=None, words: Vocabulary | None = None):
    """Gross and net revenue retention per month, with the 100% line.

    Parameters
    ----------
    kpis : pandas.DataFrame
        Overall output of ``churnlab.kpis.monthly_kpis`` (one row per month).
    ax : matplotlib.axes.Axes, optional
    words : Vocabulary, optional
        The language of the chart's text (default English).

    Returns
    -------
    matplotlib.figure.Figure
    """
    words = words or vocabulary()
    text = functools.partial(words.chart_text, "retention_trend")
    fig, ax = new_axes(ax, language=words.language)
    with churnlab_style(words.language):
        months = pd.to_datetime(kpis["month"])
        ax.plot(
            months,
            kpis["net_revenue_retention"],
            marker="o",
            color=COLORS["retained"],
            label=text("nrr"),
        )
        ax.plot(
            months,
            kpis["gross_revenue_retention"],
            marker="o",
            color=COLORS["churned"],
            label=text("grr"),
        )
        ax.axhline(1.0, color=COLORS["neutral"], linewidth=1, linestyle="--")
        _percent_axis(ax, words)
        _month_axis(ax, words, len(months))
        ax.set_title(text("title"))
        ax.set_ylabel(text("y_axis"))
        ax.legend(loc="lower left", frameon=False)
        fig.autofmt_xdate()
    return fig


def plot_kpi_sparkline(
    series: pd.Series,
    ax=None,
    title: str | None = None,
    percent: bool = False,
    good_up=True,
    words: Vocabulary | None = None,
):
    """A small trend line for the report's first screen (about 2.2 x 0.9 in).

    Parameters
    ----------
    series : pandas.Series
        Values indexed by month (or in order).
    ax : matplotlib.axes.Axes, optional
    title : str, optional
        Short title drawn above the line.
    percent : bool
        Label the last value as a percentage.
    good_up : bool
        Whether a rise is good (colours the last point green or red).
    words : Vocabulary, optional
        The language of the last value's label (default English).

    Returns
    -------
    matplotlib.figure.Figure
    """
    words = words or vocabulary()
    fig, ax = new_axes(ax, figsize=SPARKLINE_SIZE, language=words.language)
    values = pd.Series(series).astype(float).reset_index(drop=True)
    with churnlab_style(words.language):
        ax.plot(values.index, values, color=COLORS["neutral"], linewidth=1.5)
        finite = values.dropna()
        if len(finite):
            last = finite.iloc[-1]
            rising = len(finite) > 1 and last >= finite.iloc[-2]
            good = rising == bool(good_up)
            ax.scatter(
                [finite.index[-1]],
                [last],
                s=18,
                zorder=3,
                color=COLORS["green"] if good else COLORS["red"],
            )
            label = words.rate(last, 1) if percent else words.number(round(last))
            ax.annotate(
                label,
                (finite.index[-1], last),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
        ax.set_axis_off()
        if title:
            ax.set_title(title, fontsize=8, loc="left", fontweight="normal")
        ax.margins(x=0.15, y=0.25)
    return fig


def plot_cohort_heatmap(
    matrix: pd.DataFrame, ax=None, kind: str = "logo", *, words: Vocabulary | None = None
):
    """Heatmap of a signup-cohort retention matrix.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Output of ``churnlab.kpis.cohort_retention`` (rows = start cohorts,
        columns = months since start, NaN = not observed yet).
    ax : matplotlib.axes.Axes, optional
    kind : {"logo", "revenue"}
        Only changes the title and colour range (revenue can exceed 100%).
    words : Vocabulary, optional
        Title, axes (``chart_text.cohort_heatmap``), months and percentages; default English.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.ticker import FuncFormatter

    if kind not in ("logo", "revenue"):
        raise ValueError(f"kind must be 'logo' or 'revenue', got {kind!r}")
    words = words or vocabulary()
    text = functools.partial(words.chart_text, "cohort_heatmap")
    n_rows, n_cols = matrix.shape
    fig, ax = new_axes(ax, figsize=(7.0, 1.2 + 0.28 * max(n_rows, 1)), language=words.language)
    values = matrix.to_numpy(dtype=float)
    vmax = 1.0 if kind == "logo" else max(1.0, float(np.nanmax(values)) if values.size else 1.0)
    with churnlab_style(words.language):
        image = ax.imshow(
            np.ma.masked_invalid(values), aspect="auto", cmap="Blues", vmin=0, vmax=vmax
        )
        ax.grid(False)
        ax.set_xticks(range(n_cols), [words.number(c) for c in matrix.columns])
        labels = [words.month(pd.Timestamp(i).date()) for i in matrix.index]
        ax.set_yticks(range(n_rows), labels)
        if n_rows * n_cols <= 400:  # annotate when readable
            for (r, c), v in np.ndenumerate(values):
                if np.isfinite(v):
                    ax.text(
                        c,
                        r,
                        words.rate(v, 0),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if v > 0.6 * vmax else "black",
                    )
        ax.set_xlabel(text("x_axis"))
        ax.set_ylabel(text("y_axis"))
        ax.set_title(text(f"title_{kind}"))
        fig.colorbar(
            image, ax=ax, format=FuncFormatter(lambda x, _: words.rate(x, 0)), fraction=0.04
        )
    return fig


def plot_mrr_bridge(kpis_row: pd.Series, ax=None, *, words: Vocabulary | None = None):
    """Waterfall from MRR(S) at the start of a month to MRR(S) at the next month start.

    Bars: starting MRR, + expansion, - contraction, - churned MRR, = ending MRR
    of the same accounts (new accounts and re-signups are not part of S).

    Parameters
    ----------
    kpis_row : pandas.Series
        One row of ``churnlab.kpis.monthly_kpis``.
    ax : matplotlib.axes.Axes, optional
    words : Vocabulary, optional
        Step names (``executive.bridge.steps.*``, as the executive bridge), title and axis
        (``chart_text.mrr_bridge``), month and money; default English.

    Returns
    -------
    matplotlib.figure.Figure
    """
    words = words or vocabulary()
    start = float(kpis_row["mrr_start"])
    steps = [
        ("expansion", float(kpis_row["expansion_mrr"]), COLORS["green"]),
        ("contraction", -float(kpis_row["contraction_mrr"]), COLORS["yellow"]),
        ("churn", -float(kpis_row["churned_mrr"]), COLORS["churned"]),
    ]
    end = start + sum(v for _, v, _ in steps)
    fig, ax = new_axes(ax, language=words.language)
    with churnlab_style(words.language):
        ax.bar(0, start, color=COLORS["retained"])
        level = start
        for i, (_, value, color) in enumerate(steps, start=1):
            ax.bar(i, abs(value), bottom=min(level, level + value), color=color)
            level += value
        ax.bar(len(steps) + 1, end, color=COLORS["retained"])
        keys = ["start", *(n for n, _, _ in steps), "end"]
        ax.set_xticks(range(len(keys)), [words.text(f"executive.bridge.steps.{k}") for k in keys])
        ax.set_ylabel(words.chart_text("mrr_bridge", "y_axis"))
        ax.yaxis.set_major_formatter(lambda v, _pos: words.money(v))
        month = pd.Timestamp(kpis_row.get("month", pd.NaT))
        ax.set_title(
            words.chart_text("mrr_bridge", "title_month", month=words.month(month.date()))
            if pd.notna(month)
            else words.chart_text("mrr_bridge", "title")
        )
    return fig
