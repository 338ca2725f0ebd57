"""Charts of the time-to-churn model: the retained-ARR forecast and survival by tier.

Both take the frames :func:`churnlab.survival.fit_survival` returns; words come from the
report language's catalogue (``survival.chart.*``), amounts through ``Vocabulary.money``.
"""

from __future__ import annotations

import pandas as pd

from churnlab.plots.style import COLORS, PALETTE, churnlab_style, new_axes
from churnlab.vocabulary import TIERS, Vocabulary, vocabulary

__all__ = ["plot_retention_forecast", "plot_survival_by_tier"]


def plot_retention_forecast(forecast: pd.DataFrame, ax=None, *, words: Vocabulary | None = None):
    """Expected retained ARR of the whole book per month, with its likely range.

    ``forecast``: ``retention_forecast`` rows (``group == "all"`` is drawn), month 0 is
    today's ARR.
    """
    words = words or vocabulary()
    book = forecast[forecast["group"] == "all"].sort_values("month")
    fig, ax = new_axes(ax, language=words.language)
    with churnlab_style(words.language):
        if book.empty:
            return fig
        arr = float(book["arr"].iloc[0])
        months = [0, *book["month"].tolist()]
        expected = [arr, *book["expected_arr"].tolist()]
        lower = [arr, *book["arr_lower"].tolist()]
        upper = [arr, *book["arr_upper"].tolist()]
        level = words.rate(float(book.get("level", pd.Series([0.9])).iloc[0]), 0)
        ax.fill_between(
            months,
            lower,
            upper,
            color=COLORS["retained"],
            alpha=0.2,
            label=words.text("survival.chart.band", level=level),
        )
        ax.plot(
            months,
            expected,
            color=COLORS["retained"],
            marker="o",
            markersize=3,
            label=words.text("survival.chart.expected"),
        )
        ax.set_xlabel(words.text("survival.chart.month"))
        ax.set_ylabel(words.text("survival.chart.arr"))
        ax.set_xticks(months)
        ax.yaxis.set_major_formatter(_money_formatter(words))
        ax.set_ylim(bottom=0.9 * min(lower))
        ax.set_title(words.text("survival.chart.forecast_title"))
        ax.legend(loc="lower left")
    return fig


def plot_survival_by_tier(curves: pd.DataFrame, ax=None, *, words: Vocabulary | None = None):
    """The mean share of accounts still customers per month, one line per touch tier."""
    words = words or vocabulary()
    fig, ax = new_axes(ax, language=words.language)
    with churnlab_style(words.language):
        if curves.empty:
            return fig
        groups = [t for t in TIERS if t in set(curves["group"])]
        for i, group in enumerate(["all", *groups]):
            rows = curves[curves["group"] == group].sort_values("month")
            label = words.text("survival.chart.all") if group == "all" else words.tier_label(group)
            ax.plot(
                rows["month"],
                rows["survival"],
                color=COLORS["neutral"] if group == "all" else PALETTE[i % len(PALETTE)],
                linestyle="--" if group == "all" else "-",
                linewidth=1.5 if group == "all" else 2,
                label=label,
            )
        ax.set_xlabel(words.text("survival.chart.month"))
        ax.set_ylabel(words.text("survival.chart.share"))
        ax.yaxis.set_major_formatter(_rate_formatter(words))
        ax.set_ylim(top=1.0)
        ax.set_title(words.text("survival.chart.tiers_title"))
        ax.legend(loc="lower left")
    return fig


def _money_formatter(words: Vocabulary):  # type: ignore[no-untyped-def]
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: words.money(value))


def _rate_formatter(words: Vocabulary):  # type: ignore[no-untyped-def]
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: words.rate(value, 0))
