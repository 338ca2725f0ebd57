"""The rows of one run for the score tables, and their bulk insert into each database.

:func:`score_frame` reads ``scores.csv`` (with :func:`churnlab.csvsafe.read_csv`: every
value as it was written) into a frame of the tables' columns, typed; :func:`bulk_insert`
writes such a frame with the fastest path each database offers: ``COPY ... FROM STDIN``
through psycopg on PostgreSQL, one ``INSERT ... SELECT`` from the frame registered as an
Arrow table on DuckDB, SQLAlchemy's batched executemany on SQLite.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pandas as pd

from churnlab import csvsafe
from churnlab.export._schema import COLUMNS, SCHEMA_VERSION
from churnlab.run.folder import RunFolder

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["bulk_insert", "score_frame"]

_TEXT = [c.source for c in COLUMNS if c.kind == "text" and c.source]
_VIEW = "churnlab_export_rows"


def score_frame(
    folder: RunFolder, manifest: dict[str, Any], *, exported_at: dt.datetime
) -> pd.DataFrame:
    """The rows of both tables for one run: ``scores.csv`` plus what the run records.

    Text stays text exactly as written (``NA`` and ``None`` are names, not missing
    values; an empty cell is NULL); a column the run's ``scores.csv`` lacks (the lever
    columns of older runs, a renewal date of snapshot data) is NULL.

    Parameters
    ----------
    folder : RunFolder
        The run.
    manifest : dict
        Its manifest (``run_id``, ``dataset``, ``as_of``, ``finished_at``, ``params``).
    exported_at : datetime
        The export's time (UTC), written into every row.

    Returns
    -------
    pandas.DataFrame
        One row per account, the columns of :data:`~churnlab.export.COLUMNS` in order:
        text as object (None for NULL), numbers as float64 / Int64, dates as
        ``datetime.date`` objects, timestamps as UTC ``datetime64``.
    """
    scores = csvsafe.read_csv(
        folder.scores,
        dtype=dict.fromkeys(_TEXT, str),
        keep_default_na=False,
        na_values={c.source: [""] for c in COLUMNS if c.source and c.kind != "text"},
    )
    n = len(scores)
    dataset = manifest.get("dataset") or {}
    as_of = manifest.get("as_of") or (scores["as_of"].iloc[0] if n and "as_of" in scores else None)
    fixed: dict[str, Any] = {
        "dataset_id": str(dataset.get("id") or "unknown"),
        "dataset_name": dataset.get("name"),
        "run_id": str(manifest.get("run_id") or folder.name),
        "as_of": None if as_of is None else dt.date.fromisoformat(str(as_of)[:10]),
        "run_finished_at": pd.Timestamp(manifest["finished_at"]).tz_convert("UTC"),
        "horizon_days": _horizon(folder),
        "language": ((manifest.get("params") or {}).get("report") or {}).get("language"),
        "schema_version": SCHEMA_VERSION,
        "exported_at": pd.Timestamp(exported_at).tz_convert("UTC"),
    }
    out: dict[str, pd.Series] = {}
    for column in COLUMNS:
        if column.source is None:
            values = pd.Series([fixed[column.name]] * n, index=scores.index, dtype=object)
        elif column.source in scores:
            values = scores[column.source]
        else:
            values = pd.Series([None] * n, index=scores.index, dtype=object)
        out[column.name] = _typed(values, column.kind)
    return pd.DataFrame(out, index=scores.index).reset_index(drop=True)


def _typed(values: pd.Series, kind: str) -> pd.Series:
    """``values`` in the column's type (missing: None, NaN, NA or NaT)."""
    if kind == "text":
        text = values.astype(object)
        return text.where(text.notna() & text.ne(""), None)
    if kind == "date":
        days = pd.to_datetime(values, errors="coerce", format="ISO8601")
        return days.dt.date.astype(object).where(days.notna(), None)
    if kind == "timestamp":
        return pd.to_datetime(values, utc=True)
    numbers = pd.to_numeric(values, errors="coerce")
    if kind == "int":
        return numbers.round().astype("Int64")
    return numbers.astype("float64")


def _horizon(folder: RunFolder) -> int | None:
    """The horizon of the run's churn probabilities (its headline's ``horizon_days``)."""
    try:
        value = json.loads(folder.headline.read_text(encoding="utf-8")).get("horizon_days")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int | float) else None


def _python_rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """The frame's rows as tuples of Python values, None for every missing value."""
    columns = []
    for name in frame.columns:
        values = frame[name]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            cells = [None if pd.isna(v) else v.to_pydatetime() for v in values]
        else:
            cells = [None if v is None or v is pd.NA or v != v else v for v in values.tolist()]
        columns.append(cells)
    return list(zip(*columns, strict=True))


def bulk_insert(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Insert every row of ``frame`` (from :func:`score_frame`) into ``table``, in bulk.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside the export's transaction.
    table : sqlalchemy.Table
        The history or the current table.
    frame : pandas.DataFrame
        The rows, in the columns of :data:`~churnlab.export.COLUMNS`.
    """
    if frame.empty:
        return
    dialect = conn.dialect.name
    if dialect == "duckdb":
        _insert_duckdb(conn, table, frame)
    elif dialect == "postgresql":
        _copy_postgresql(conn, table, frame)
    else:  # SQLite: executemany of one compiled INSERT
        names = list(frame.columns)
        conn.execute(
            table.insert(), [dict(zip(names, row, strict=True)) for row in _python_rows(frame)]
        )


def _insert_duckdb(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Register the rows as an Arrow table and copy them with one ``INSERT ... SELECT``.

    duckdb-engine would execute an executemany row by row.
    """
    import pyarrow as pa
    import sqlalchemy as sa

    types = {
        "text": pa.string(),
        "float": pa.float64(),
        "int": pa.int64(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    schema = pa.schema([(c.name, types[c.kind]) for c in COLUMNS])
    rows = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    raw: Any = conn.connection.driver_connection
    raw.register(_VIEW, rows)
    try:
        names = list(frame.columns)
        source = sa.select(*(sa.column(n) for n in names)).select_from(sa.table(_VIEW))
        conn.execute(table.insert().from_select(names, source))
    finally:
        raw.unregister(_VIEW)


def _copy_postgresql(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """``COPY table (columns) FROM STDIN`` through psycopg, the statement composed by psycopg."""
    from psycopg import sql

    parts = [table.schema, table.name] if table.schema else [table.name]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(*parts), sql.SQL(", ").join(sql.Identifier(n) for n in frame.columns)
    )
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in _python_rows(frame):
            copy.write_row(row)
