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

from churnlab.plots._ticks import percent_axis
from churnlab.plots.style import COLORS, PALETTE, churnlab_style, new_axes, style_rc
from churnlab.vocabulary import TIERS, Vocabulary, vocabulary


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


def churn_by_metric(
    table: pd.DataFrame,
    feature: str,
    *,
    bins: int = 10,
    max_levels: int = 6,
    label: str = "label",
    words: Vocabulary | None = None,
) -> pd.DataFrame:
    """Churn rate per sensible group of a numeric metric, with Wilson 95% intervals.

    A yes/no flag or a metric with at most ``max_levels`` values gets one group per value
    (a 0/1 flag reads "no" / "yes"); any other metric gets quantile bins
    (:func:`churnlab.cohorts.churn_by_bins`). When one value holds so many accounts that the
    quantiles collapse into fewer than three bins (most accounts have no ticket), that
    value is a group of its own and the others are binned by their quantiles.

    Returns
    -------
    pandas.DataFrame
        ``feature``, ``group`` and the columns of :func:`churnlab.cohorts.churn_rate_table`
        (plus ``lower`` / ``upper`` for quantile bins); ``attrs["binning"]``: ``"values"``,
        ``"quantiles"`` or ``"value_and_quantiles"``.
    """
    from churnlab.cohorts import churn_by_bins, churn_rate_table

    words = words or vocabulary()
    x = pd.to_numeric(table[feature], errors="coerce") if feature in table else None
    levels = np.sort(x.dropna().unique()) if x is not None else np.array([])
    if 0 < len(levels) <= max_levels:
        flag = set(levels.tolist()) <= {0.0, 1.0}
        names = {
            v: words.text("workbench.yes" if v else "workbench.no") if flag else words.number(v)
            for v in levels.tolist()
        }
        assert x is not None
        out = churn_rate_table(table, x.map(names), label=label, order=list(names.values()))
        out.insert(0, "feature", feature)
        out.attrs["binning"] = "values"
        return out
    out = churn_by_bins(table, feature, bins=bins, label=label)
    out.attrs["binning"] = "quantiles"
    if x is None or len(out[~out["group"].isin(["missing", "outside the bins"])]) >= 3:
        return out
    mode = float(x.mode().iloc[0])
    rest = x.where(x != mode).dropna()
    edges = pd.qcut(rest, max(bins - 1, 2), retbins=True, duplicates="drop")[1]
    codes = pd.cut(x.where(x != mode), edges, include_lowest=True, labels=False)
    named = [
        f"{'[' if i == 0 else '('}{words.number(lo)}, {words.number(hi)}]"
        for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    ]
    alone = words.text("workbench.charts.equal_to", value=words.number(mode))
    picked = np.asarray(named, dtype=object)[codes.fillna(0).astype(int).to_numpy()]
    groups = pd.Series(picked, index=x.index).where(x != mode, alone).where(x.notna())
    order = list(named)
    order = [alone, *order] if mode <= float(rest.min()) else [*order, alone]
    out = churn_rate_table(table, groups, label=label, order=order)
    out.insert(0, "feature", feature)
    out.attrs["binning"] = "value_and_quantiles"
    return out


def plot_churn_by_bins(
    bins_table: pd.DataFrame,
    ax=None,
    overall_rate: float | None = None,
    words: Vocabulary | None = None,
):
    """Churn rate per bin (or value) of a metric with Wilson 95% intervals.

    Parameters
    ----------
    bins_table : pandas.DataFrame
        Output of :func:`churn_by_metric`, ``churnlab.cohorts.churn_by_bins`` or
        ``churn_rate_table`` (with a ``feature`` column).
    ax : matplotlib.axes.Axes, optional
    overall_rate : float, optional
        Draws the overall churn rate as a reference line.
    words : Vocabulary, optional
        The language of the chart (default English).

    Returns
    -------
    matplotlib.figure.Figure
        A single bar compares nothing: the chart then says so instead.
    """
    words = words or vocabulary()
    fig, ax = new_axes(ax, language=words.language)
    feature = bins_table["feature"].iloc[0] if "feature" in bins_table and len(bins_table) else ""
    name = words.feature_label(str(feature)) if feature else ""
    title = words.text("workbench.charts.bins_title", feature=name.lower() or "…")
    real = (
        bins_table[bins_table["group"].astype(str) != "missing"] if len(bins_table) else bins_table
    )
    if bins_table.empty:
        reason = _reason(bins_table.attrs.get("note"), "no bins")
        return _nothing_to_show(fig, ax, reason, title, words)
    if len(real) < 2:
        reason = words.text("workbench.charts.one_bar", feature=name)
        return _nothing_to_show(fig, ax, reason, title, words)
    with churnlab_style(words.language):
        _rate_bars(ax, bins_table, vertical=True, words=words)
        if overall_rate is not None:
            said = words.text("workbench.charts.overall", rate=words.rate(overall_rate))
            ax.axhline(overall_rate, color=COLORS["neutral"], linestyle="--", label=said)
            ax.legend(loc="best")
        ax.set_title(title)
        ax.set_xlabel(name)
        ax.set_ylabel(words.text("workbench.charts.churn_rate"))
        fig.tight_layout()
    return fig


def _rate_bars(ax, table: pd.DataFrame, vertical: bool, words: Vocabulary | None = None) -> None:
    words = words or vocabulary()
    pos = np.arange(len(table))
    rate = table["churn_rate"].to_numpy(float)
    err = np.vstack([rate - table["ci_low"], table["ci_high"] - rate])
    names = [_group_name(g, words) for g in table["group"].astype(str)]
    if vertical:
        ax.bar(pos, rate, color=COLORS["retained"], alpha=0.85)
        ax.errorbar(pos, rate, yerr=err, fmt="none", ecolor="black", capsize=3, linewidth=1)
        ax.set_xticks(
            pos,
            names,
            rotation=35 if len(names) > 5 else 0,
            ha="right" if len(names) > 5 else "center",
        )
        percent_axis(ax.yaxis, words)
        ax.set_ylim(bottom=0)
    else:
        ax.barh(pos, rate, color=COLORS["retained"], alpha=0.85)
        ax.errorbar(rate, pos, xerr=err, fmt="none", ecolor="black", capsize=3, linewidth=1)
        counts = [words.number(n) for n in table["n"]]
        ax.set_yticks(pos, [f"{g} (n={n})" for g, n in zip(names, counts, strict=True)])
        ax.invert_yaxis()
        percent_axis(ax.xaxis, words)
        ax.set_xlim(left=0)


def _group_name(group: str, words: Vocabulary) -> str:
    """A group as a reader says it: tiers and snake_case values in words."""
    if group in TIERS:
        return words.tier_label(group)
    return group.replace("_", " ")


def plot_lens(
    lens_table: pd.DataFrame, ax=None, title: str | None = None, words: Vocabulary | None = None
):
    """Churn rate per group of a CS lens (``churnlab.cohorts.cs_lenses``), Wilson 95% CIs.

    Returns
    -------
    matplotlib.figure.Figure
    """
    words = words or vocabulary()
    fig, ax = new_axes(ax, figsize=(7.0, 1.4 + 0.45 * len(lens_table)), language=words.language)
    title = title or lens_table.attrs.get("title") or words.text("workbench.charts.lens_title")
    if lens_table.empty:
        reason = _reason(
            lens_table.attrs.get("note"), words.text("workbench.charts.no_cohort_accounts")
        )
        return _nothing_to_show(fig, ax, reason, title, words)
    with churnlab_style(words.language):
        _rate_bars(ax, lens_table, vertical=False, words=words)
        ax.set_xlabel(words.text("workbench.charts.churn_rate"))
        ax.set_title(title)
        fig.tight_layout()
    return fig


def plot_km(
    durations: Sequence[float] | pd.Series,
    events: Sequence[bool] | pd.Series,
    groups: Sequence[str] | pd.Series | None = None,
    ax=None,
    ci: bool = True,
    words: Vocabulary | None = None,
    unknown: str | None = "unknown",
):
    """Kaplan-Meier curves (share of accounts still active) per group, months on the x axis.

    Touch tiers are named in words and drawn largest first. Accounts of the ``unknown``
    group (event-log data: those that left before the observation window, so no tier was
    ever computed for them) are left out of the curves and counted in a note under them.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from lifelines import KaplanMeierFitter

    from churnlab.cohorts.survival import _as_arrays

    words = words or vocabulary()
    d, e, g = _as_arrays(durations, events, groups)
    left_out = int((g == unknown).sum()) if unknown is not None else 0
    if left_out:
        keep = g != unknown
        d, e, g = d[keep], e[keep], g[keep]
    fig, ax = new_axes(ax, language=words.language)
    title = words.text("workbench.charts.km_title")
    if not len(d):
        return _nothing_to_show(fig, ax, words.text("workbench.charts.no_accounts"), title, words)
    present = [str(x) for x in pd.unique(g)]
    order = [t for t in TIERS if t in present] + sorted(x for x in present if x not in TIERS)
    with churnlab_style(words.language):
        for i, name in enumerate(order):
            mask = g == name
            label = words.text(
                "workbench.charts.km_group",
                group=_group_name(name, words),
                n=words.number(int(mask.sum())),
            )
            kmf = KaplanMeierFitter().fit(d[mask], e[mask], label=label)
            kmf.plot_survival_function(ax=ax, ci_show=ci, color=PALETTE[i % len(PALETTE)])
        ax.set_ylim(0, 1.02)
        percent_axis(ax.yaxis, words)
        ax.set_xlabel(words.text("workbench.charts.km_x"))
        ax.set_ylabel(words.text("workbench.charts.km_y"))
        ax.set_title(title)
        ax.legend(loc="lower left")
        if left_out:
            note = words.text("workbench.charts.km_left_out", n=words.number(left_out))
            fig.text(0.01, -0.02, note, fontsize=8, color=COLORS["neutral"], wrap=True)
        fig.tight_layout()
    return fig
