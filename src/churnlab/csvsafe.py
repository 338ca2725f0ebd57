"""CSV exports that are safe to open in a spreadsheet.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is run as a formula by Excel, LibreOffice and Google Sheets ("CSV
injection", OWASP). Account names and CSM notes are user data, so every CSV
churnlab writes goes through :func:`write_csv`, which prefixes such cells with a
single quote ``'`` (the spreadsheet then shows the text as typed).

Only text cells are touched: numeric columns, and numbers inside mixed
(object) columns, stay numbers, so a negative MRR is still ``-120.5``.

The escape can be undone exactly: a text that already starts with quotes before such a
character (``'=x``) gets one more, so :func:`read_csv` (the way churnlab reads its own
CSV files back: the report, the email, later runs) removes one quote and gets every
value as it was (``=HYPERLINK(...)``, ``-Minus Co``, ``'=x``), never the spreadsheet's
escape.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
from pandas.api.types import is_object_dtype, is_string_dtype

from churnlab.atomic import write_bytes

#: Leading characters that make a spreadsheet evaluate a cell (OWASP CSV injection).
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_PATTERN = r"^'*[=+\-@\t\r]"
#: An escaped text: one quote more than the original had before the formula character.
_ESCAPED_PATTERN = r"^'+[=+\-@\t\r]"

__all__ = ["FORMULA_PREFIXES", "neutralise_formulas", "read_csv", "restore_formulas", "write_csv"]


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` whose text cells cannot run as spreadsheet formulas.

    Every string cell (and string column label) that starts with one of
    :data:`FORMULA_PREFIXES` gets a leading single quote ``'``. Numeric cells are
    never changed, also inside object columns that mix numbers and text.

    Parameters
    ----------
    df : pandas.DataFrame
        The frame to export. It is not modified.

    Returns
    -------
    pandas.DataFrame
        A new frame with the same shape, dtypes and index.

    Examples
    --------
    >>> neutralise_formulas(pd.DataFrame({"name": ["=1+1", "Acme"], "mrr": [-5.0, 3.0]}))
        name  mrr
    0  '=1+1 -5.0
    1   Acme  3.0
    """
    out = df.copy()
    for position in range(out.shape[1]):
        out.isetitem(position, _neutralise_series(out.iloc[:, position]))
    out.columns = out.columns.map(_neutralise_label)
    return out


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Neutralise formulas in ``df`` and write it as a UTF-8 CSV, atomically.

    The file is written to a temporary name in the same directory and moved
    over ``path`` with :func:`os.replace`, so a reader never sees a half-written
    file and a failed write leaves any previous file untouched.

    Parameters
    ----------
    df : pandas.DataFrame
        The frame to export (not modified). The index is not written.
    path : str or path-like
        Destination file; its directory must exist.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    target = Path(path)
    data = neutralise_formulas(df).to_csv(index=False, lineterminator="\n").encode("utf-8")
    return write_bytes(target, data)


def restore_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`neutralise_formulas`: the text cells and labels as they were.

    Parameters
    ----------
    df : pandas.DataFrame
        A frame read from a CSV file churnlab wrote. It is not modified.

    Returns
    -------
    pandas.DataFrame
        A new frame whose escaped text cells (and column labels) lost their added quote.
    """
    out = df.copy()
    for position in range(out.shape[1]):
        out.isetitem(position, _restore_series(out.iloc[:, position]))
    out.columns = out.columns.map(_restore_label)
    return out


def read_csv(path: str | os.PathLike[str], **kwargs: object) -> pd.DataFrame:
    """Read a CSV file written by :func:`write_csv`, with every value as it was written.

    ``kwargs`` go to :func:`pandas.read_csv` (``dtype``, ``usecols`` ...).
    """
    return restore_formulas(pd.read_csv(path, **kwargs))  # type: ignore[call-overload]


def _restore_series(values: pd.Series) -> pd.Series:
    if not (is_object_dtype(values.dtype) or is_string_dtype(values.dtype)):
        return values
    try:
        text = values.str
    except AttributeError:
        return values
    escaped = text.contains(_ESCAPED_PATTERN, regex=True, na=False).astype(bool)
    if not escaped.any():
        return values
    out = values.copy()
    out[escaped] = values[escaped].astype(str).str.slice(1)
    return out


def _restore_label(label: object) -> object:
    if isinstance(label, str) and re.match(_ESCAPED_PATTERN, label):
        return label[1:]
    return label


def _neutralise_series(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        if not (is_object_dtype(categories.dtype) or is_string_dtype(categories.dtype)):
            return values
        fixed = _neutralise_series(pd.Series(categories, dtype=categories.dtype))
        return values.cat.rename_categories(pd.Index(fixed, dtype=categories.dtype))
    if not (is_object_dtype(values.dtype) or is_string_dtype(values.dtype)):
        return values
    try:
        text = values.str
    except AttributeError:  # an object column without any string cell
        return values
    # .str yields NA for the non-string cells of a mixed column: those are never touched.
    risky = text.contains(_FORMULA_PATTERN, regex=True, na=False).astype(bool)
    if not risky.any():
        return values
    out = values.copy()
    out[risky] = "'" + values[risky].astype(str)
    return out


def _neutralise_label(label: object) -> object:
    if isinstance(label, str) and re.match(_FORMULA_PATTERN, label):
        return "'" + label
    return label
