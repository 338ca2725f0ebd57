"""How a table reads in a notebook: the one formatting helper, and the rich-display blocks.

Every table a notebook shows goes through :func:`format_table`: rates as percentages,
money in the one money format, days as days, an infinite median as "not reached", tiny
p-values as "< 0.0001", tiers and health bands in words, column names readable. The raw
frame stays available (``Table.raw``) for further work::

    from churnlab.display import format_table

    format_table(kpis.tail(3), caption="The last three months")

The ``_repr_html_`` methods of churnlab's result objects (``Params``, ``ChurnModel``,
``ShapResult``, observation tables, account explanations) build their HTML with
:func:`html_block`. Every word comes from the ``workbench`` catalogue
(``locales/<language>/workbench.yaml``) and the formats from :class:`~churnlab.vocabulary.Vocabulary`.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from churnlab.vocabulary import BANDS, TIERS, Vocabulary, vocabulary

__all__ = ["Table", "column_kind", "format_table", "format_value", "header", "html_block", "show"]

_RATE = re.compile(
    r"(rate|share|retention|probability|^survival|^capture_|_churn(_annual)?$|^(grr|nrr)$|coverage)"
)
_MONEY = re.compile(r"(^|_)(arr|mrr|arpa|ltv)(_|$)")
_DAYS = re.compile(r"(^days_|_days$|_days_)")
_P_VALUE = re.compile(r"^p_(value|adjusted)$|^p$")
#: Smallest p-value written as a number; below it the table says "< 0.0001".
P_FLOOR = 1e-4


def column_kind(name: str, values: pd.Series, columns: Sequence[str] = ()) -> str:
    """How a column is shown, from its name and values.

    Returns
    -------
    str
        ``"rate"`` (a share: ``churn_rate``, ``net_revenue_retention``, the ``ci_low`` /
        ``ci_high`` of a rate table), ``"money"`` (``arr``, ``mrr_start``,
        ``expected_arr_at_risk``), ``"days"`` (``time_to_value_days``), ``"p_value"``,
        ``"date"``, ``"bool"``, ``"number"`` or ``"text"``.
    """
    key = str(name).lower()
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date"
    if not pd.api.types.is_numeric_dtype(values):
        return "text"
    if _P_VALUE.search(key):
        return "p_value"
    rate_table = any(_RATE.search(str(c).lower()) for c in columns if str(c) != name)
    if _RATE.search(key) or (key in ("ci_low", "ci_high") and rate_table):
        return "rate"
    if _MONEY.search(key):
        return "money"
    if _DAYS.search(key):
        return "days"
    return "number"


def format_value(value: Any, kind: str, words: Vocabulary | None = None) -> str:
    """One value as a table shows it (see :func:`column_kind` for the kinds).

    Examples
    --------
    >>> format_value(0.01491, "rate"), format_value(69763380.0, "money")
    ('1.5%', '$69.76M')
    >>> format_value(float("inf"), "number"), format_value(3e-28, "p_value")
    ('not reached', '< 0.0001')
    """
    words = words or vocabulary()
    said = words.text
    if value is None or (not isinstance(value, str) and _is_na(value)):
        return said("workbench.missing")
    if kind == "bool" or isinstance(value, bool | np.bool_):
        return said("workbench.yes" if bool(value) else "workbench.no")
    if kind == "date" or isinstance(value, pd.Timestamp):
        return words.date(pd.Timestamp(value).date())
    if kind == "text" or isinstance(value, str):
        text = str(value)
        if text in TIERS:
            return words.tier_label(text)
        if text in BANDS:
            return words.band_label(text)
        return text
    number = float(value)
    if math.isinf(number):
        return said("workbench.not_reached")
    if kind == "rate":
        return words.rate(number, 1)
    if kind == "money":
        return words.money(number)
    if kind == "days":
        return said("workbench.days", n=_short(number, words))
    if kind == "p_value":
        if number < P_FLOOR:
            return said("workbench.below", value=words.fixed(P_FLOOR, 4))
        return words.fixed(number, 4)
    return _short(number, words)


def _short(number: float, words: Vocabulary) -> str:
    """A number with at most four decimals (those under 0.001 in scientific notation)."""
    if number != 0 and abs(number) < 1e-3:
        return f"{number:.1e}"
    return words.number(number)


def _is_na(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


class Table:
    """A formatted table with its caption: what a notebook cell shows.

    Attributes
    ----------
    frame : pandas.DataFrame
        The values as text, columns named in words.
    raw : pandas.DataFrame
        The table as it was given (for further work).
    caption : str
        Shown above the table; may be empty.
    """

    def __init__(self, frame: pd.DataFrame, raw: pd.DataFrame, caption: str = "") -> None:
        self.frame, self.raw, self.caption = frame, raw, caption

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        body = self.frame.to_string(index=self._show_index())
        return f"{self.caption}\n{body}" if self.caption else body

    def _show_index(self) -> bool:
        return not isinstance(self.raw.index, pd.RangeIndex)

    def _repr_html_(self) -> str:
        table = self.frame.to_html(index=self._show_index(), escape=True, border=0)
        if self.caption:
            caption = (
                f"<caption style='text-align:left'><b>{html.escape(self.caption)}</b></caption>"
            )
            table = table.replace(">", ">" + caption, 1)
        return table


def format_table(
    frame: pd.DataFrame | pd.Series,
    *,
    caption: str = "",
    words: Vocabulary | None = None,
    rate: Iterable[str] = (),
    money: Iterable[str] = (),
    days: Iterable[str] = (),
    number: Iterable[str] = (),
    labels: bool = True,
) -> Table:
    """A table as a reader should see it: every value formatted, columns in words.

    Parameters
    ----------
    frame : pandas.DataFrame or pandas.Series
        The table (a Series is shown as one column).
    caption : str
        A title above the table.
    words : Vocabulary, optional
        Language and currency (default English, USD).
    rate, money, days, number : iterable of str
        Columns of that kind, where the name does not say it (:func:`column_kind`).
    labels : bool
        Name the columns in words (``churn_rate`` -> "Churn rate").

    The ``*_message`` columns of run files (a sentence as JSON, for other languages) are
    left out: the sentence itself is in the column beside them.

    Returns
    -------
    Table
        ``frame`` as text, with ``raw`` (the given frame) and ``caption``.

    Examples
    --------
    >>> t = pd.DataFrame({"group": ["high_touch"], "churn_rate": [0.0149], "arr": [69763380.0],
    ...                   "median_months": [float("inf")]})
    >>> format_table(t).frame.iloc[0].tolist()
    ['High touch', '1.5%', '$69.76M', 'not reached']
    """
    words = words or vocabulary()
    raw = frame.to_frame() if isinstance(frame, pd.Series) else frame
    machine = [c for c in raw.columns if str(c).endswith(("_message", "_messages"))]
    shown = raw.drop(columns=machine)
    forced = {
        **{c: "rate" for c in rate},
        **{c: "money" for c in money},
        **{c: "days" for c in days},
        **{c: "number" for c in number},
    }
    columns = [str(c) for c in shown.columns]
    out = pd.DataFrame(index=shown.index)
    for position, column in enumerate(shown.columns):
        values = shown.iloc[:, position]
        kind = forced.get(str(column)) or column_kind(str(column), values, columns)
        if str(column) == "feature" and kind == "text":
            out[position] = [words.feature_label(str(v)) for v in values.tolist()]
            continue
        out[position] = [format_value(v, kind, words) for v in values.tolist()]
    out.columns = [header(c, words) if labels else c for c in columns]
    if not isinstance(raw.index, pd.RangeIndex):
        out.index = [format_value(v, "text", words) for v in raw.index.astype(str)]
        out.index.name = raw.index.name
    return Table(out, raw, caption)


def header(column: str, words: Vocabulary | None = None) -> str:
    """A column's name in words: the catalogue's (``workbench.columns``), else its feature label."""
    words = words or vocabulary()
    known = words.catalogue["workbench"]["columns"]
    return str(known[column]) if column in known else words.feature_label(column)


def html_block(
    title: str,
    rows: Sequence[Sequence[str]],
    notes: Sequence[str] = (),
    header: Sequence[str] = (),
) -> str:
    """A titled HTML table of text rows (label, value, ...) and notes under it, escaped.

    The building block of churnlab's ``_repr_html_`` methods: the first cell of a row is
    its heading; a row of one cell is a sub-heading across the table.
    """
    width = max([len(header), *(len(r) for r in rows)], default=1)

    def cells(row: Sequence[str]) -> str:
        if len(row) == 1 and width > 1:
            return f"<th colspan='{width}' style='text-align:left'>{html.escape(row[0])}</th>"
        first = f"<th style='text-align:left'>{html.escape(row[0])}</th>"
        rest = "".join(f"<td style='text-align:left'>{html.escape(v)}</td>" for v in row[1:])
        return first + rest

    head = (
        "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead>"
        if header
        else ""
    )
    body = "".join(f"<tr>{cells(r)}</tr>" for r in rows)
    listed = "".join(f"<li>{html.escape(n)}</li>" for n in notes if n)
    return (
        f"<div><table><caption style='text-align:left'><b>{html.escape(title)}</b></caption>"
        f"{head}<tbody>{body}</tbody></table>{f'<ul>{listed}</ul>' if listed else ''}</div>"
    )


def show(fig: Any) -> None:
    """Show a figure in the notebook once, then close it.

    A figure made with pyplot is also shown by Jupyter's inline backend at the end of the
    cell; closing it after showing it here keeps it to one copy, in the cell's order.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)
