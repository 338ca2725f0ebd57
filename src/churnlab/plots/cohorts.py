"""Figures of the churned-vs-retained comparison, metric cohorts, survival and CS lenses.

Every function takes ``ax=None``, returns the figure and never shows or saves it. With
nothing to draw (an empty comparison, bin or lens table, no account) the figure keeps its
title and says "nothing to show: <reason>" instead of raising.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnlab.plots.style import COLORS, PALETTE, churnlab_style, new_axes, style_rc
from churnlab.vocabulary import Vocabulary, vocabulary


def _nothing_to_show(fig, ax, reason: str, title: str, words: Vocabulary | None = None):
    """Draw "nothing to show: <reason>" on a bare axes under ``title``; returns the figure."""
    words = words or vocabulary()
    with churnlab_style(words.language):
        ax.set_axis_off()
        ax.set_title(title)
        ax.text(
            0.5,
            0.5,
            words.text("chart_text.nothing_to_show", reason=reason),
            transform=ax.transAxes,
            ha="center",
            va="center",
            color=COLORS["neutral"],
        )
        fig.tight_layout()
    return fig


def _reason(note: str | None, default: str) -> str:
    """The reason inside a note: "no X: nothing to compare" -> "no X"."""
    if not note:
        return default
    for affix in (": nothing to compare", "nothing to bin: "):
        note = note.replace(affix, "")
    return note


def _forest_rows(summary: pd.DataFrame, top: int, words: Vocabulary) -> pd.DataFrame:
    s = summary.loc[~summary["small_group"]].head(top)
    is_cat = s["kind"].eq("categorical") & s["risk_difference"].notna()
    names = s["feature"].map(words.feature_label)
    label = np.where(is_cat, names + " = " + s["level"].astype(str), names)
    return pd.DataFrame(
        {
            "label": label,
            "value": np.where(is_cat, s["risk_difference"], s["effect"]),
            "low": np.where(is_cat, s["rd_low"], s["effect_low"]),
            "high": np.where(is_cat, s["rd_high"], s["effect_high"]),
            "significant": s["significant"].to_numpy(bool),
        }
    ).iloc[::-1]


def plot_effect_sizes(comparison, top: int = 12, ax=None, words: Vocabulary | None = None):
    """Forest plot of the top-ranked differences between churned and retained accounts.

    Numeric features show Cliff's delta, categoricals the risk difference of
    their most different level (both: churned minus retained, -1..1), with 95%
    CIs. Red = higher among churned, blue = higher among retained; hollow
    markers are not significant after correction. Small-group features are left out.

    Parameters
    ----------
    comparison : churnlab.cohorts.CohortComparison
    top : int
        Number of features to show.
    ax : matplotlib.axes.Axes, optional
    words : Vocabulary, optional
        The language of the chart's text and feature labels (default English).

    Returns
    -------
    matplotlib.figure.Figure
    """
    words = words or vocabulary()
    text = functools.partial(words.chart_text, "cohort_effects")
    rows = _forest_rows(comparison.summary, top, words)
    fig, ax = new_axes(ax, figsize=(7.0, 1.2 + 0.38 * max(len(rows), 1)), language=words.language)
    if rows.empty:
        if comparison.summary.empty:
            notes = getattr(comparison, "notes", ())
            english = words.language == "en"  # the comparison's notes are in English
            reason = _reason(notes[0] if notes and english else None, text("no_feature"))
        else:
            reason = text("too_few", min_group=comparison.min_group)
        return _nothing_to_show(fig, ax, reason, text("title"), words)
    with churnlab_style(words.language):
        y = np.arange(len(rows))
        colors = np.where(rows["value"] > 0, COLORS["churned"], COLORS["retained"])
        ax.hlines(y, rows["low"], rows["high"], colors=colors, linewidth=2)
        face = np.where(rows["significant"], colors, "white")
        ax.scatter(rows["value"], y, s=45, c=face, edgecolors=colors, zorder=3, linewidths=1.5)
        ax.axvline(0, color=COLORS["neutral"], linewidth=1)
        ax.set_yticks(y, [str(s)[:44] for s in rows["label"]])
        ax.set_xlim(-1.02, 1.02)
        ax.set_xlabel(text("x_axis"))
        fig.suptitle(
            text("title"),
            x=0.02,
            ha="left",
            fontsize=13,
            fontweight=style_rc(words.language)["axes.titleweight"],
        )
        fig.text(
            0.02,
            1 - 0.55 / fig.get_figheight(),
            text(
                "legend",
                churned=words.number(comparison.n_churned),
                retained=words.number(comparison.n_retained),
            ),
            fontsize=9,
            color=COLORS["neutral"],
        )
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / fig.get_figheight()))
    return fig


def plot_churn_by_bins(bins_table: pd.DataFrame, ax=None, overall_rate: float | None = None):
    """Churn rate per bin of a metric with Wilson 95% intervals.

    Parameters
    ----------
    bins_table : pandas.DataFrame
        Output of ``churnlab.cohorts.churn_by_bins`` (or ``churn_rate_table``).
    ax : matplotlib.axes.Axes, optional
    overall_rate : float, optional
        Draws the overall churn rate as a reference line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax)
    if bins_table.empty:
        reason = _reason(bins_table.attrs.get("note"), "no bins")
        return _nothing_to_show(fig, ax, reason, "Churn rate by bin")
    with churnlab_style():
        _rate_bars(ax, bins_table, vertical=True)
        if overall_rate is not None:
            ax.axhline(overall_rate, color=COLORS["neutral"], linestyle="--", label="overall")
            ax.legend(loc="upper right")
        feature = bins_table["feature"].iloc[0] if "feature" in bins_table else "metric"
        ax.set_title(f"Churn rate by {feature}")
        ax.set_xlabel(f"{feature} bin")
        ax.set_ylabel("churn rate")
        fig.tight_layout()
    return fig


def _rate_bars(ax, table: pd.DataFrame, vertical: bool) -> None:
    pos = np.arange(len(table))
    rate = table["churn_rate"].to_numpy(float)
    err = np.vstack([rate - table["ci_low"], table["ci_high"] - rate])
    names = table["group"].astype(str).tolist()
    if vertical:
        ax.bar(pos, rate, color=COLORS["retained"], alpha=0.85)
        ax.errorbar(pos, rate, yerr=err, fmt="none", ecolor="black", capsize=3, linewidth=1)
        ax.set_xticks(
            pos,
            names,
            rotation=35 if len(names) > 5 else 0,
            ha="right" if len(names) > 5 else "center",
        )
        ax.yaxis.set_major_formatter(_percent())
    else:
        ax.barh(pos, rate, color=COLORS["retained"], alpha=0.85)
        ax.errorbar(rate, pos, xerr=err, fmt="none", ecolor="black", capsize=3, linewidth=1)
        ax.set_yticks(pos, [f"{g} (n={n})" for g, n in zip(names, table["n"], strict=True)])
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(_percent())


def _percent():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)


def plot_lens(lens_table: pd.DataFrame, ax=None, title: str | None = None):
    """Churn rate per group of a CS lens (``churnlab.cohorts.cs_lenses``), Wilson 95% CIs.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax, figsize=(7.0, 1.4 + 0.45 * len(lens_table)))
    title = title or lens_table.attrs.get("title", "Churn rate by group")
    if lens_table.empty:
        reason = _reason(lens_table.attrs.get("note"), "no accounts in the cohort table")
        return _nothing_to_show(fig, ax, reason, title)
    with churnlab_style():
        _rate_bars(ax, lens_table, vertical=False)
        ax.set_xlabel("churn rate")
        ax.set_title(title)
        fig.tight_layout()
    return fig


def plot_km(
    durations: Sequence[float] | pd.Series,
    events: Sequence[bool] | pd.Series,
    groups: Sequence[str] | pd.Series | None = None,
    ax=None,
    ci: bool = True,
):
    """Kaplan-Meier curves (share of accounts still active) per group, months on the x axis.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from lifelines import KaplanMeierFitter

    from churnlab.cohorts.survival import _as_arrays

    d, e, g = _as_arrays(durations, events, groups)
    fig, ax = new_axes(ax)
    if not len(d):
        return _nothing_to_show(fig, ax, "no accounts", "Survival by group (Kaplan-Meier)")
    with churnlab_style():
        for i, name in enumerate(pd.unique(g)):
            mask = g == name
            kmf = KaplanMeierFitter().fit(d[mask], e[mask], label=f"{name} (n={mask.sum()})")
            kmf.plot_survival_function(ax=ax, ci_show=ci, color=PALETTE[i % len(PALETTE)])
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(_percent())
        ax.set_xlabel("months since start")
        ax.set_ylabel("still active")
        ax.set_title("Survival by group (Kaplan-Meier)")
        ax.legend(loc="lower left")
        fig.tight_layout()
    return fig
