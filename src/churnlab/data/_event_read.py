"""Reading and typing the events file on a backend (Ibis): the expressions of the event scan.

:func:`read_events` reads the file where it lies (DuckDB in place, with row numbers; Spark
through Ibis' readers); the helpers type its columns as the pandas loader types them
(:mod:`churnlab.data._io`): ids as trimmed text, ISO dates to tz-naive UTC, numbers to float.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from churnlab.errors import DataError

from ._io import _infer_format, missing_column_error

__all__ = ["ROW", "id_text", "numbers", "read_events", "timestamps", "whole_float_texts"]

#: The 0-based row of an event in its file (DuckDB; a constant on other backends).
ROW = "_churnlab_row"
_WHOLE_FLOAT_TEXT = r"^[+-]?\d+\.0+$"
# an ISO 8601 time followed by a UTC offset (as churnlab.data._io._OFFSET)
_OFFSET = r"[T ]\d{2}(:?\d{2}(:?\d{2}([.,]\d+)?)?)?\s*([Zz]|[+-]\d{2}(:?\d{2})?)$"


def read_events(
    con: Any, path: str | Path, *, fmt: str | None = None, columns: Mapping[str, str] | None = None
) -> ir.Table:
    """The events file as an Ibis table on ``con``, renamed, with its 0-based row number.

    Parquet is read in place (with DuckDB's ``file_row_number``); a CSV file is read as
    text (as the loader reads ids) into a temporary table whose ``rowid`` is the row.

    Raises
    ------
    DataError
        The file is missing or unreadable, or a mapped column is absent.
    """
    path = Path(path)
    fmt = (fmt or _infer_format(path, "events")).lower()
    if not path.is_file():
        raise DataError(
            str(path),
            "-",
            "file of the events table does not exist",
            hint="check the path of the events table in params.yaml (relative paths "
            "resolve against the project directory)",
        )
    name = f"_churnlab_events_{abs(hash((str(path), id(con)))):x}"
    quoted = str(path).replace("'", "''")
    try:
        if getattr(con, "name", "") != "duckdb":
            # another backend (Spark) reads the file itself; CSV as text, as DuckDB does.
            # Its rows have no reliable file order: row numbers order only the copies of
            # a row, which are alike (this path reads checked files, for the features)
            read = con.read_parquet if fmt == "parquet" else con.read_csv
            if fmt == "parquet" and _nanoseconds(path):
                path = _microsecond_copy(path)
            table = read(str(path), **({"header": True} if fmt == "csv" else {}))
            return _renamed(table.mutate(**{ROW: ibis.literal(0, "int64")}), path, columns)
        # offsets convert to UTC, and text without one is read as UTC (churnlab's dates)
        con.raw_sql("SET TimeZone = 'UTC'")
        if fmt == "parquet":
            source = f"read_parquet('{quoted}', file_row_number = true)"
            con.raw_sql(
                f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT * EXCLUDE (file_row_number), '
                f'file_row_number AS "{ROW}" FROM {source}'
            )
        elif fmt == "csv":
            from ._io import check_csv_rows

            check_csv_rows(path, "events")
            con.raw_sql(
                f'CREATE OR REPLACE TEMP TABLE "{name}_rows" AS SELECT * FROM '
                f"read_csv('{quoted}', all_varchar = true, header = true)"
            )
            con.raw_sql(
                f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT *, rowid AS "{ROW}" '
                f'FROM "{name}_rows"'
            )
        else:
            raise DataError(
                str(path), "-", f"has unknown format {fmt!r}", hint="use csv or parquet"
            )
    except DataError:
        raise
    except Exception as exc:  # the backend's own error: name the file and how to fix it
        raise DataError(
            str(path),
            "-",
            f"could not be read as {fmt} ({type(exc).__name__}: {exc})",
            hint="export the events table as UTF-8 CSV with a header row, or as Parquet",
        ) from exc
    return _renamed(con.table(name), path, columns)


def _nanoseconds(path: Path) -> dict[str, str]:
    """The columns a Parquet file stores as nanosecond timestamps (pandas' default), each
    with the DuckDB type that keeps it in microseconds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    return {
        f.name: "TIMESTAMPTZ" if f.type.tz else "TIMESTAMP"
        for f in pq.read_schema(path)
        if pa.types.is_timestamp(f.type) and f.type.unit == "ns"
    }


def _microsecond_copy(path: Path) -> Path:
    """A copy of ``path`` with microsecond timestamps, written by DuckDB (streamed).

    Spark 4 refuses Parquet timestamps in nanoseconds; DuckDB writes microseconds (its
    own precision, and Spark's). The copy lives next to DuckDB's spill files, named by
    the file's path, size and time, so a rerun on unchanged data reuses it.
    """
    import hashlib
    import tempfile

    import duckdb

    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    folder = Path(tempfile.gettempdir()) / "churnlab-spark"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{path.stem}-{key.hexdigest()[:16]}.parquet"
    if not target.exists():
        partial = target.with_suffix(".partial")
        quoted, out = str(path).replace("'", "''"), str(partial).replace("'", "''")
        casts = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in _nanoseconds(path).items())
        with duckdb.connect() as con:
            con.execute(
                f"COPY (SELECT * REPLACE ({casts}) FROM read_parquet('{quoted}')) "
                f"TO '{out}' (FORMAT parquet)"
            )
        partial.replace(target)
    return target


def _renamed(table: ir.Table, path: Path, columns: Mapping[str, str] | None) -> ir.Table:
    """``table`` with the user's columns renamed to churnlab's (a missing one named)."""
    mapped = dict(columns or {})
    header = [c for c in table.columns if c != ROW]
    for ours, theirs in mapped.items():
        if theirs not in header:
            raise missing_column_error(
                header,
                theirs,
                file=str(path),
                hint=f"fix data.columns.events.{ours} in params.yaml",
            )
    rename = {ours: theirs for ours, theirs in mapped.items() if ours != theirs}
    return table.rename(rename) if rename else table


def _text(column: ir.Column) -> ir.StringColumn:
    """Trimmed text, blank as null (integers as their digits, whole floats without .0)."""
    dtype = column.type()
    if dtype.is_floating():
        column = ibis.cases(
            (column % 1 == 0, column.cast("int64").cast("string")), else_=column.cast("string")
        )
    elif not dtype.is_string():
        column = column.cast("string")
    text = column.strip()
    return ibis.cases((text == "", ibis.null("string")), else_=text)


def whole_float_texts(raw: ir.Table, names: Iterable[str]) -> dict[str, bool]:
    """Per id column: every filled value is written ``123.0`` (the ``.0`` is dropped).

    Two ``LIMIT 1`` probes per column (a filled value that is not so written; any filled
    value): the scan stops at the first match, so a usual log costs a few rows, not a pass.
    """
    out = {}
    for n in [n for n in names if n in raw.columns and raw[n].type().is_string()]:
        text = _text(raw[n])
        other = text.notnull() & ~text.re_search(_WHOLE_FLOAT_TEXT).fill_null(False)
        out[n] = not _any(raw, other) and _any(raw, text.notnull())
    return out


#: Key suffix in the ``whole`` mapping: the id column's text needs no trimming (#21).
CLEAN = ":clean"


def clean_texts(raw: ir.Table, names: Iterable[str]) -> dict[str, bool]:
    """Per text id column, ``<name>:clean``: no value is blank or has spaces around it.

    Trimming every value and nulling the blank ones (:func:`_text`) costs a string copy
    per row in every query that reads the log (about 8 s per pass at 27M events, several
    passes); a clean column, the usual case, is read as it is. Checked on the column's
    distinct values (a few thousand ids), not on every row.
    """
    out = {}
    for n in [n for n in names if n in raw.columns and raw[n].type().is_string()]:
        values = raw.select(v=raw[n]).distinct()
        dirty = values.filter((values.v != values.v.strip()) | (values.v == ""))
        out[n + CLEAN] = not len(dirty.limit(1).to_pyarrow())
    return out


def _any(table: ir.Table, mask: ir.BooleanValue) -> bool:
    return bool(len(table.filter(mask).select(ROW).limit(1).to_pyarrow()))


def id_text(raw: ir.Table, name: str, whole: Mapping[str, bool]) -> ir.StringColumn:
    """An id column as the loader reads it: trimmed text, blank as null, whole floats
    without ``.0`` (``whole``: :func:`whole_float_texts` and :func:`clean_texts`)."""
    clean = whole.get(name + CLEAN) and raw[name].type().is_string()
    text = raw[name] if clean else _text(raw[name])
    if whole.get(name):
        text = text.re_replace(r"\.0+$", "")
    return text


def timestamps(column: ir.Column) -> tuple[ir.TimestampColumn, ir.BooleanColumn, ir.BooleanColumn]:
    """(timestamps tz-naive UTC, unparseable, converted from an offset)."""
    dtype = column.type()
    if dtype.is_timestamp():
        if dtype.timezone is not None:  # type: ignore[attr-defined]
            return column.cast("timestamp"), ibis.literal(False), column.notnull()
        return column, ibis.literal(False), ibis.literal(False)
    if dtype.is_date():
        return column.cast("timestamp"), ibis.literal(False), ibis.literal(False)
    text = _text(column)
    parsed = text.try_cast("timestamp('UTC')").cast("timestamp")
    offset = text.re_search(_OFFSET).fill_null(False)
    return parsed, text.notnull() & parsed.isnull(), offset & parsed.notnull()


def numbers(column: ir.Column) -> tuple[ir.FloatingColumn, ir.BooleanColumn]:
    dtype = column.type()
    if dtype.is_numeric() or dtype.is_boolean():
        return column.cast("float64"), ibis.literal(False)
    text = _text(column)
    values = text.try_cast("float64")
    return values, text.notnull() & values.isnull()
