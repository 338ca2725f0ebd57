"""Reading CSV / Parquet tables, column mapping, and typed coercion of columns."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_float_dtype,
    is_numeric_dtype,
)

from churnlab.errors import DataError

__all__ = ["load_table"]

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def load_table(
    path: str | Path,
    *,
    fmt: str | None = None,
    columns: Mapping[str, str] | None = None,
    name: str,
    text_columns: Sequence[str] = (),
    usecols: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read one CSV or Parquet table and rename the user's columns to churnlab names.

    Parameters
    ----------
    path : str or Path
        The file to read.
    fmt : {"csv", "parquet"}, optional
        File format; ``None`` infers it from the suffix (``.csv``, ``.csv.gz``,
        ``.parquet``, ``.pq``).
    columns : mapping of str to str, optional
        ``churnlab_name -> column name in the file``. Unmapped columns keep their names.
    name : str
        What the table is (``accounts``, ``snapshot``...), used in messages.
    text_columns : sequence of str
        churnlab names of columns a CSV file holds as text, never as numbers (ids:
        ``000123`` stays ``000123``). Absent columns are ignored here.
    usecols : sequence of str, optional
        Read only these columns (churnlab names; the mapping applies): a quick look at
        a large file. An absent one is an error, as for a mapped column.

    Returns
    -------
    pandas.DataFrame
        A new frame with a RangeIndex (position of the row in the file, from 0).

    Raises
    ------
    DataError
        The file is missing or unreadable, the format is unknown, or a mapped
        column is absent (the message lists the columns and the closest match).
    """
    path = Path(path)
    fmt = (fmt or _infer_format(path, name)).lower()
    if not path.is_file():
        raise DataError(
            str(path),
            "-",
            f"file of the {name} table does not exist",
            hint=f"check the path of the {name} table in params.yaml (relative paths "
            "resolve against the project directory)",
        )
    mapped = columns or {}
    text = {mapped.get(c, c): str for c in text_columns}
    wanted = None if usecols is None else [mapped.get(c, c) for c in usecols]
    try:
        if wanted is not None:
            _require_columns(path, fmt, wanted, mapped, name)
        if fmt == "csv":
            check_csv_rows(path, name)
            table = pd.read_csv(path, low_memory=False, dtype=text or None, usecols=wanted)
        elif fmt == "parquet":
            table = pd.read_parquet(path, columns=wanted)
        else:
            raise DataError(
                str(path), "-", f"has unknown format {fmt!r}", hint="use csv or parquet"
            )
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(
            str(path),
            "-",
            f"could not be read as {fmt} ({type(exc).__name__}: {exc})",
            hint=f"export the {name} table as UTF-8 CSV with a header row, or as Parquet",
        ) from exc
    if not table.index.equals(pd.RangeIndex(len(table))):
        table = table.reset_index(drop=True)  # a copy of every column: only when needed
    if fmt == "parquet":
        # Arrow keeps the buffers it read with in its pool: hand them back (about 1 GB
        # per 27M events)
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    if wanted is not None:
        mapped = {k: v for k, v in mapped.items() if v in wanted}
    return rename_columns(table, mapped, file=str(path), name=name)


#: Rows with the wrong number of fields shown in the message (all are counted).
_SHOWN_BAD_ROWS = 5


def check_csv_rows(path: Path, name: str) -> None:
    """Refuse a CSV file whose rows do not all have as many fields as its header.

    A line break inside an unquoted value (often a bare carriage return) splits a row in
    two, an unquoted separator adds a field: pandas would shift the columns of such rows
    or fill them with blanks silently. The rows are found by pyarrow's CSV reader (all
    columns read as text, streamed, one thread so that line numbers are known).

    Raises
    ------
    DataError
        Naming the file, the line numbers, the number of fields and the count.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    bad: list[tuple[int | None, int, str]] = []
    count = 0

    def invalid(row: Any) -> str:
        nonlocal count
        count += 1
        if len(bad) < _SHOWN_BAD_ROWS:
            bad.append((row.number, row.actual_columns, row.text))
        return "skip"

    header = pd.read_csv(path, nrows=0).columns
    batches = pacsv.open_csv(  # streamed: the file is never held in memory as a whole
        path,
        read_options=pacsv.ReadOptions(use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=invalid, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())),
    )
    for _ in batches:
        pass
    if not count:
        return
    shown = "; ".join(
        f"line {number if number is not None else '?'}: {fields} fields {text[:80]!r}"
        for number, fields, text in bad
    )
    raise DataError(
        str(path),
        "-",
        f"{count} row(s) do not have the header's number of fields ({len(header)}): {shown}",
        count=count,
        hint=(
            f"a line break inside an unquoted value (often a bare carriage return, \\r) splits "
            f"a row, an unquoted comma adds a field: quote such values in the {name} export, "
            "or export it as Parquet"
        ),
    )


def _require_columns(
    path: Path, fmt: str, wanted: Sequence[str], mapped: Mapping[str, str], name: str
) -> None:
    """Raise the missing-column DataError when the file's header lacks one of ``wanted``."""
    if fmt == "csv":
        header = pd.read_csv(path, nrows=0).columns
    else:
        import pyarrow.parquet as pq

        header = pd.Index(pq.read_schema(path).names)
    by_user = {v: k for k, v in mapped.items()}
    for column in wanted:
        if column not in header:
            ours = by_user.get(column, column)
            hint = (
                f"fix data.columns.{name}.{ours} in params.yaml"
                if ours in mapped
                else f"map your column with data.columns.{name}.{ours} in params.yaml"
            )
            raise missing_column_error(header, column, file=str(path), hint=hint)


def _infer_format(path: Path, name: str) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    for suffix in reversed(suffixes):
        if suffix in _FORMATS:
            return _FORMATS[suffix]
    raise DataError(
        str(path),
        "-",
        f"has a suffix that names no known format for the {name} table",
        hint="name the file .csv or .parquet, or set data.format: csv | parquet",
    )


def rename_columns(
    table: pd.DataFrame, columns: Mapping[str, str], *, file: str, name: str
) -> pd.DataFrame:
    """Rename ``columns`` (churnlab name -> file column) in a copy of ``table``."""
    for churnlab_name, user_name in columns.items():
        if user_name not in table.columns:
            raise missing_column_error(
                table.columns,
                user_name,
                file=file,
                hint=f"fix data.columns.{name}.{churnlab_name} in params.yaml",
            )
    rename = {user: ours for ours, user in columns.items() if user != ours}
    # a new frame with the same column arrays (the loaders replace columns, never edit them)
    return table.rename(columns=rename, copy=False)


def missing_column_error(
    available: Iterable[object], column: str, *, file: str, hint: str
) -> DataError:
    """A DataError for an absent column, listing the columns and the closest match."""
    names = [str(c) for c in available]
    close = difflib.get_close_matches(column, names, n=1, cutoff=0.5)
    if not close:  # case / separator differences count as close too
        folded = {n.lower().replace("_", "").replace(" ", ""): n for n in names}
        key = column.lower().replace("_", "").replace(" ", "")
        close = [folded[key]] if key in folded else []
    suggestion = f"did you mean '{close[0]}'? " if close else ""
    return DataError(
        file,
        column,
        f"is missing (available columns: {', '.join(names)})",
        count=0,
        hint=suggestion + hint,
    )


# -- offending rows ---------------------------------------------------------------------


def no_rows_error(file: str, name: str) -> DataError:
    """A DataError for a table that has a header but no data rows."""
    return DataError(
        file,
        "-",
        "has no rows (only a header)",
        count=0,
        hint=f"the {name} table must hold at least one row: check the export's filters "
        "and date range and export it again",
    )


def offending_rows(table: pd.DataFrame, mask: pd.Series, columns: Iterable[str]) -> pd.DataFrame:
    """The first few rows where ``mask`` holds, indexed by their 1-based row in the file."""
    cols = [c for c in dict.fromkeys(columns) if c in table.columns]
    rows = table.loc[mask.to_numpy(), cols].head(5).copy()
    rows.index = pd.Index(rows.index.to_numpy() + 1, name="row")
    return rows


# -- typed coercion ---------------------------------------------------------------------


def blank(series: pd.Series) -> pd.Series:
    """True where a cell is missing or holds only whitespace."""
    if is_numeric_dtype(series) or is_datetime64_any_dtype(series):
        return series.isna()
    text = series.astype("string").str.strip()
    return (text.isna() | (text == "")).fillna(True).astype(bool)


def as_id(series: pd.Series) -> pd.Series:
    """Identifiers as strings (categoricals keep their dtype with string categories).

    Integers become their decimal text (``123``); whole-number floats (ids read from a
    column with gaps) lose their ``.0``, also when they come as text and every id of
    the column is written that way (``123.0`` -> ``123``). Text is kept as written,
    trimmed (``000123`` stays ``000123``). Missing or blank ids become ``NA``.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = pd.Index(_id_text(pd.Series(series.cat.categories)).tolist())
        if cats.is_unique and cats.notna().all():
            return series.cat.rename_categories(cats)
        series = series.astype(object)
    missing = blank(series)
    text = _id_text(series)
    return text.where(~missing, None)


_WHOLE_FLOAT_TEXT = r"[+-]?\d+\.0+"


def _id_text(series: pd.Series) -> pd.Series:
    """The trimmed text of ids (object dtype), whole-number floats without ``.0``."""
    if is_float_dtype(series) and np.all(np.mod(series.dropna(), 1) == 0):
        series = series.astype("Int64")
    text = series.astype("string").str.strip()
    filled = text.dropna()
    filled = filled[filled != ""]
    if (
        len(filled)
        and re.fullmatch(_WHOLE_FLOAT_TEXT, filled.iloc[0])
        and filled.str.fullmatch(_WHOLE_FLOAT_TEXT).all()
    ):
        text = text.str.replace(r"\.0+$", "", regex=True)
    return text.astype(object)


# an ISO 8601 time followed by a UTC offset: Z, +HH, +HHMM or +HH:MM (space allowed before)
_OFFSET = r"[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


def as_dates(series: pd.Series) -> tuple[pd.Series, pd.Series, int]:
    """Parse ISO 8601 text to tz-naive UTC ``datetime64[ns]``.

    Values with a UTC offset (``2026-03-01T10:00:00+02:00``, ``...Z``) and tz-aware
    columns are converted to UTC and made tz-naive; values without an offset are taken
    as UTC already. Returns (dates, unparseable mask, number of values converted from
    an offset).
    """
    if is_datetime64_any_dtype(series):
        out, converted = series, 0
        if getattr(series.dt, "tz", None) is not None:
            out = series.dt.tz_convert("UTC").dt.tz_localize(None)
            converted = int(series.notna().sum())
        return out.astype("datetime64[ns]"), pd.Series(False, index=series.index), converted
    # Arrow strings: the offset search runs in Arrow's regex engine (fast on millions of rows)
    text = series.astype("string[pyarrow]").str.strip()
    missing = (text.isna() | (text == "")).fillna(True).astype(bool)
    text = text.where(~missing)
    with_offset = text.str.contains(_OFFSET, regex=True).fillna(False).astype(bool)
    # ISO 8601 only: 01/02/2026 is January 2 or February 1 depending on the exporter,
    # and churnlab never guesses silently. Values with and without an offset are parsed
    # apart: in one call pandas gives a naive value the offset of the value before it.
    out = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    for part in (with_offset, ~with_offset):
        if part.any():
            parsed = pd.to_datetime(text[part], errors="coerce", format="ISO8601", utc=True)
            out[part] = parsed.dt.tz_localize(None).astype("datetime64[ns]")
    bad = out.isna() & ~missing
    return out, bad, int((with_offset & out.notna()).sum())


def as_numbers(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse to float; returns (numbers, unparseable mask). Blank cells become NaN."""
    if is_bool_dtype(series):
        series = series.astype(float)
    if is_numeric_dtype(series):
        return series.astype(float), pd.Series(False, index=series.index)
    missing = blank(series)
    text = series.astype("string").str.strip().where(~missing)
    out = pd.to_numeric(text, errors="coerce").astype(float)
    return out, out.isna() & ~missing
