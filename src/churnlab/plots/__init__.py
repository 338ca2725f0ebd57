"""Every churnlab figure: matplotlib, ``ax=None``, returns the figure, never shows or saves."""

from churnlab.plots.style import COLORS, DPI, EMAIL_WIDTH_IN, churnlab_style, new_axes

__all__ = ["COLORS", "DPI", "EMAIL_WIDTH_IN", "churnlab_style", "new_axes"]
