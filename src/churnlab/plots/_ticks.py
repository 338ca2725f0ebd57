"""Percent axes that read right: round steps (1, 2, 5 x 10^k) and as many decimals as they need.

``PercentFormatter(decimals=0)`` on matplotlib's default ticks rounds 2.5-point steps into
18%, 15%, 12%, 10%: here the steps are round and each tick says its value exactly (``0.5%``
only when the step needs the decimal), in the language's percent format.
"""

from __future__ import annotations

from typing import Any

from matplotlib.ticker import Formatter, MaxNLocator

from churnlab.vocabulary import Vocabulary, vocabulary

__all__ = ["PercentTicks", "percent_axis"]


class PercentTicks(Formatter):
    """Ticks of a share (0.05) as percentages (``5%``), decimals from the tick step."""

    def __init__(self, words: Vocabulary | None = None) -> None:
        self.words = words or vocabulary()
        self.digits = 0

    def set_locs(self, locs: Any) -> None:
        """Choose the fewest decimals (up to 3) that say every tick exactly."""
        super().set_locs(locs)
        points = [100 * float(v) for v in locs]
        self.digits = next(
            (d for d in range(4) if all(abs(p * 10**d - round(p * 10**d)) < 1e-6 for p in points)),
            3,
        )

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self.words.rate(x, self.digits)


def percent_axis(axis: Any, words: Vocabulary | None = None, nbins: int = 6) -> None:
    """Give ``axis`` (``ax.yaxis``) round percent steps and their labels."""
    axis.set_major_locator(MaxNLocator(nbins=nbins, steps=[1, 2, 5, 10]))
    axis.set_major_formatter(PercentTicks(words))
