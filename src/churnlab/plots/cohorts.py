"""Figures of the churned-vs-retained comparison, metric cohorts, survival and CS lenses.

Every function takes ``ax=None``, returns the figure and never shows or saves it. With
nothing to draw (an empty comparison, bin or lens table, no account) the figure keeps its
title and says "nothing to show: <reason>" instead of raising.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnlab.plots.style import COLORS, PALETTE, churnlab_style, new_axes
from churnlab.vocabulary import feature_label


def _nothing_to_show(fig, ax, reason: str, title: str):
    """Draw "nothing to show: <reason>" on a bare axes under ``title``; returns the figure."""
    with churnlab_style():
        ax.set_axis_off()
        ax.set_title(title)
        ax.text(
            0.5,
            0.5,
            f"nothing to show: {reason}",
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


def _readable(feature: str) -> str:
    """The feature's label ("Logins in the last 7 days")."""
    return feature_label(feature)


def _forest_rows(summary: pd.DataFrame, top: int) -> pd.DataFrame:
    s = summary.loc[~summary["small_group"]].head(top)
    is_cat = s["kind"].eq("categorical") & s["risk_difference"].notna()
    names = s["feature"].map(_readable)
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


def plot_effect_sizes(comparison, top: int = 12, ax=None):
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

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = _forest_rows(comparison.summary, top)
    fig, ax = new_axes(ax, figsize=(7.0, 1.2 + 0.38 * max(len(rows), 1)))
    if rows.empty:
        if comparison.summary.empty:
            notes = getattr(comparison, "notes", ())
            reason = _reason(notes[0] if notes else None, "no feature to compare")
        else:
            reason = f"too few accounts to compare (groups under {comparison.min_group})"
        return _nothing_to_show(fig, ax, reason, "Churned vs retained: biggest differences")
    with churnlab_style():
        y = np.arange(len(rows))
        colors = np.where(rows["value"] > 0, COLORS["churned"], COLORS["retained"])
        ax.hlines(y, rows["low"], rows["high"], colors=colors, linewidth=2)
        face = np.where(rows["significant"], colors, "white")
        ax.scatter(rows["value"], y, s=45, c=face, edgecolors=colors, zorder=3, linewidths=1.5)
        ax.axvline(0, color=COLORS["neutral"], linewidth=1)
        ax.set_yticks(y, [str(s)[:44] for s in rows["label"]])
        ax.set_xlim(-1.02, 1.02)
        ax.set_xlabel("churned minus retained (Cliff's delta or risk difference)")
        fig.suptitle(
            "Churned vs retained: biggest differences",
            x=0.02,
            ha="left",
            fontsize=13,
            fontweight="bold",
        )
        fig.text(
            0.02,
            1 - 0.55 / fig.get_figheight(),
            f"{comparison.n_churned} churned vs {comparison.n_retained} retained; red = "
            "higher if churned; hollow = not significant",
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
