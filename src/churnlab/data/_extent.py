"""The last day event logs describe, read from the files (``data.as_of: auto``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from churnlab.data._io import as_dates, load_table
from churnlab.errors import DataError

__all__ = ["last_day"]


def last_day(
    subscriptions_path: str | Path,
    events_path: str | Path,
    *,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    fmt: str | None = None,
) -> dt.date:
    """The day of the latest event ``timestamp`` or subscription ``start_date`` in the files.

    Only those two columns are read. A subscription's ``end_date`` does not count: for a
    running contract it lies in the future. Values with a UTC offset count in UTC, as
    when the data is loaded; values that do not parse are left to the full check
    (``churnlab validate``).

    Parameters
    ----------
    subscriptions_path, events_path : str or Path
        The subscriptions and events files (CSV or Parquet).
    columns : mapping, optional
        Per table a mapping ``churnlab_name -> column name in the file``.
    fmt : {"csv", "parquet"}, optional
        File format; ``None`` infers it from each suffix.

    Returns
    -------
    datetime.date

    Raises
    ------
    DataError
        A file is missing or unreadable, a column is absent, or neither column holds a
        date.
    """
    columns = columns or {}
    latest: list[pd.Timestamp] = []
    for name, path, column in (
        ("subscriptions", subscriptions_path, "start_date"),
        ("events", events_path, "timestamp"),
    ):
        table = load_table(
            path, fmt=fmt, columns=columns.get(name) or {}, name=name, usecols=[column]
        )
        dates, _, _ = as_dates(table[column])
        if dates.notna().any():
            latest.append(dates.max())
    if not latest:
        raise DataError(
            f"{subscriptions_path}, {events_path}",
            "-",
            "hold no parseable start_date or timestamp to take data.as_of from",
            hint="check the files with `churnlab validate -p data.as_of=YYYY-MM-DD`, or set "
            "data.as_of to the last day the data describes",
        )
    return max(latest).normalize().date()
