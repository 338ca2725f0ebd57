"""The event log checked where it lies: Ibis expressions on a backend, never a pandas frame.

:func:`scan_events` applies the event rules of :func:`churnlab.data.load_event_logs`
(``docs/architecture.md``, "Input tables") to the events file **in place**: DuckDB reads
the Parquet or CSV file itself, every rule is an Ibis expression, and only small results
come back (counts, the date range, the event types, the first offending rows of a broken
rule). The rules, their order, their counts and the text of their messages are those of
the pandas loader (``tests/data/test_event_scan.py`` compares the two).

What comes back is :class:`EventScan`: the health numbers and the validated events as an
Ibis table on the same connection (typed as the loader types them: ids as text,
timestamps tz-naive UTC, ``value`` float), which the features engine can read as it is.

Differences from the pandas loader, documented in ``docs/scale-out.md``: ISO dates are
parsed by the backend (DuckDB's ``TIMESTAMPTZ`` cast: ``2026-03`` and ``20260301``, which
pandas accepts, are refused here as not ISO dates); the rows of a CSV file are staged in a
DuckDB temporary table (in DuckDB's storage, spilling to disk) to know their line numbers.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from churnlab.errors import DataError

from ._checks import Checks, rows_message
from ._event_read import ROW as _ROW
from ._event_read import clean_texts, id_text, numbers, read_events, timestamps, whole_float_texts
from ._health import DataHealth, TableHealth
from ._io import _infer_format, missing_column_error, no_rows_error

__all__ = [
    "EventScan",
    "EventSource",
    "count_rows",
    "finish_events",
    "read_events",
    "scan_events",
]

_NPS = "nps_response"
_SHOWN = 5
_REQUIRED = ("account_id", "timestamp", "event_type")
_TYPED = ("account_id", "timestamp", "event_type", "value", "user_id")


@dataclass
class EventSource:
    """How the validated events are read again on any backend (the features engine's).

    The checks ran once (:func:`scan_events`, :func:`finish_events`); :meth:`on` builds
    the same typed, filtered events on another connection (DuckDB or Spark reading the
    file itself) without checking or counting again: only the exclusions that found
    rows are applied.

    Attributes
    ----------
    path, fmt, columns
        The events file, its format (None: from the suffix) and the column mapping.
    whole : dict of str to bool
        Id columns whose every value is written ``123.0`` (the ``.0`` is dropped).
    known : tuple of str
        The account ids of the accounts table.
    end : pandas.Timestamp or None
        The first day after ``data_end``.
    duplicate_events : {"exclude", "keep"}
    drops : set of str
        The exclusions that found rows (``unknown``, ``late``, ``copies``).
    event_types, rows, first_date, last_date
        What the kept events hold (filled by :func:`finish_events`).
    """

    path: str
    fmt: str | None
    columns: dict[str, str]
    whole: dict[str, bool]
    known: tuple[str, ...]
    end: pd.Timestamp | None
    duplicate_events: Literal["exclude", "keep"] = "exclude"
    drops: set[str] = field(default_factory=set)
    event_types: list[str] = field(default_factory=list)
    rows: int = 0
    first_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None

    def on(self, con: Any) -> ir.Table:
        """The kept events as an Ibis table on ``con`` (the file read there, in place)."""
        return self._kept(con).drop(_ROW)

    def frame(self, event_types: Iterable[str]) -> pd.DataFrame:
        """The kept events of ``event_types`` as pandas, in file order: the few the
        driver's KPIs read (onboarding milestones, CS touches), typed as the loader's."""
        con = ibis.duckdb.connect(threads=1)
        try:
            table = self._kept(con)
            table = table.filter(table.event_type.isin(sorted(set(map(str, event_types)))))
            out = table.order_by(_ROW).drop(_ROW).to_pyarrow().to_pandas()
        finally:
            con.disconnect()
        out["timestamp"] = out["timestamp"].astype("datetime64[ns]")
        return out

    def _kept(self, con: Any) -> ir.Table:
        table = _typed(read_events(con, self.path, fmt=self.fmt, columns=self.columns), self.whole)
        if "unknown" in self.drops:
            table = table.filter(table.account_id.isin(_known(self).account_id))
        if "late" in self.drops and self.end is not None:
            table = table.filter(table.timestamp < self.end.to_pydatetime())
        if "copies" in self.drops:
            marked = table.mutate(_churnlab_copy=_copies(table))
            table = marked.filter(~marked._churnlab_copy).drop("_churnlab_copy")
        return table


@dataclass
class EventScan:
    """The validated events on the scan's connection, and how to read them elsewhere.

    Attributes
    ----------
    table : ibis.Table
        The kept events (``account_id``, ``timestamp``, ``event_type``, ``value``,
        ``user_id`` and the file's other columns) in file order, on the scan's connection.
    source : EventSource
        The recipe for another backend, with the counts, date range and event types.
    """

    table: ir.Table
    source: EventSource


class _Rules:
    """Count each rule's rows in one query; fetch the first offending rows of the broken."""

    def __init__(self, table: ir.Table, *, text: bool = False) -> None:
        self.table = table
        self.text = text  # the table is a CSV file's text: shown as pandas would type it
        self.masks: dict[str, ir.BooleanColumn] = {}

    def add(self, key: str, mask: ir.BooleanValue) -> None:
        if isinstance(mask, ir.Scalar):  # a constant (typed columns): as a column
            mask = self.table[_ROW].notnull() & mask
        self.masks[key] = mask

    def counts(self) -> dict[str, int]:
        if not self.masks:
            return {}
        aggs = {k: m.fill_null(False).cast("int64").sum() for k, m in self.masks.items()}
        row = self.table.aggregate(**aggs).to_pyarrow().to_pylist()[0]
        return {k: int(v or 0) for k, v in row.items()}

    def rows(self, key: str, shown: ir.Table, columns: Sequence[str]) -> pd.DataFrame:
        """The first offending rows, indexed by their 1-based row in the file."""
        cols = [c for c in dict.fromkeys(columns) if c in shown.columns]
        mask = self.masks[key].fill_null(False)
        picked = shown.filter(mask).order_by(_ROW).select(_ROW, *cols).limit(_SHOWN)
        frame = picked.to_pyarrow().to_pandas()
        if self.text:  # a few rows: typed by pandas' CSV reader, as the pandas loader shows them
            frame = pd.read_csv(io.StringIO(frame.to_csv(index=False)), dtype={"account_id": str})
            frame.index = pd.RangeIndex(len(frame))
        frame.index = pd.Index(frame.pop(_ROW).to_numpy() + 1, name="row")
        return frame


def count_rows(raw: ir.Table, *, file: str, checks: Checks) -> int:
    """The rows of the events file; a file without rows is an error recorded in ``checks``."""
    n_rows = int(raw.count().to_pyarrow().as_py())
    if not n_rows:
        checks.errors.append(no_rows_error(file, "events"))
    return n_rows


def scan_events(
    raw: ir.Table, *, file: str, checks: Checks, fmt: str | None = None
) -> tuple[ir.Table, dict[str, bool]] | None:
    """Check the events file's own rules on the backend (first phase of the loader).

    ``raw`` comes from :func:`read_events`. Records every broken rule in ``checks`` (no
    raise: the loader raises after all three tables are checked, as for pandas). Returns
    the typed table, or None when a required column is missing.
    """
    header = [c for c in raw.columns if c != _ROW]
    missing = [c for c in _REQUIRED if c not in header]
    for col in missing:
        fix = (
            f"rename the column in your export or map it with "
            f"data.columns.events.{col}: <your column> in params.yaml"
        )
        checks.errors.append(missing_column_error(header, col, file=file, hint=fix))
    if missing:
        return None
    ids = ["account_id", "event_type", "user_id"]
    whole = {**whole_float_texts(raw, ids), **clean_texts(raw, ids)}
    account_id = id_text(raw, "account_id", whole)
    timestamp, bad_ts, converted = timestamps(raw["timestamp"])
    event_type = id_text(raw, "event_type", whole)
    if "value" in header:
        value, bad_value = numbers(raw["value"])
    else:
        value, bad_value = ibis.null("float64"), ibis.literal(False)
    nps = (event_type == _NPS).fill_null(False)
    text = (fmt or _infer_format(Path(file), "events")).lower() == "csv"
    rules = _Rules(raw, text=text)
    rules.add("account_id", account_id.isnull())
    rules.add("converted", converted)
    rules.add("bad_ts", bad_ts)
    rules.add("empty_ts", timestamp.isnull() & ~bad_ts)
    rules.add("event_type", event_type.isnull())
    rules.add("bad_value", bad_value)
    rules.add("nps", nps & ~value.between(0, 10).fill_null(False))
    found = rules.counts()
    if found["converted"]:
        from churnlab.messages import message

        checks.health.note(
            message(
                "messages.data.time_zone_converted",
                table="events",
                n=found["converted"],
                column="timestamp",
            )
        )
    ts_hint = (
        "write dates as YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (ISO 8601), e.g. 2026-01-31; "
        "other layouts like 01/02/2026 are ambiguous"
    )
    first_four = header[:4]
    for key, column, rule, hint, show in (
        (
            "account_id",
            "account_id",
            "must not be empty",
            "every row needs a value in account_id; remove or complete these rows",
            first_four,
        ),
        ("bad_ts", "timestamp", "holds values that are not ISO dates", ts_hint, ()),
        ("empty_ts", "timestamp", "must not be empty", "every row needs a value in timestamp", ()),
        (
            "event_type",
            "event_type",
            "must not be empty",
            "every event needs a type (login, feature_<name>, nps_response, ...)",
            (),
        ),
        (
            "bad_value",
            "value",
            "holds values that are not numbers",
            "use plain numbers with a dot as decimal separator and no currency signs",
            (),
        ),
        (
            "nps",
            "value",
            f"must be an NPS score 0-10 for {_NPS} events",
            "NPS answers are whole numbers from 0 (detractor) to 10 (promoter)",
            ("account_id", "event_type"),
        ),
    ):
        if found[key]:
            rows = rules.rows(key, raw, [*show, column])
            checks.errors.append(
                DataError(file, column, rule, rows=rows, count=found[key], hint=hint)
            )
    return _typed(raw, whole), whole


def _typed(raw: ir.Table, whole: Mapping[str, bool]) -> ir.Table:
    """The events typed as the loader types them (ids text, timestamps UTC, value float)."""
    header = [c for c in raw.columns if c != _ROW]
    value = numbers(raw["value"])[0] if "value" in header else ibis.null("float64")
    user_id = id_text(raw, "user_id", whole) if "user_id" in header else ibis.null("string")
    extras = [c for c in header if c not in _TYPED]
    return raw.select(
        _ROW,
        account_id=id_text(raw, "account_id", whole),
        timestamp=timestamps(raw["timestamp"])[0],
        event_type=id_text(raw, "event_type", whole),
        value=value,
        user_id=user_id,
        **{c: raw[c] for c in extras},
    )


def finish_events(
    typed: ir.Table,
    *,
    source: EventSource,
    health: DataHealth,
    rows_read: int,
) -> EventScan:
    """Exclude and count as the loader does (second phase): unknown accounts, events after
    the data's end, exact copies; returns the :class:`EventScan`.

    One grouped query over the log counts all three (identical rows share their
    exclusions, so the copies among the kept rows are the copies of kept rows), with the
    kept rows' date range and event types; the first offending rows of an exclusion that
    found some are fetched apart.
    """
    file = source.path
    unknown = ~typed.account_id.isin(_known(source).account_id).fill_null(False)
    end = source.end
    late = typed.timestamp >= end.to_pydatetime() if end is not None else ibis.literal(False)
    flagged = typed.mutate(_u=unknown, _l=late.fill_null(False))
    data_cols = [c for c in typed.columns if c != _ROW]
    kept = ~flagged._u & ~flagged._l
    found = (
        flagged.aggregate(
            unknown=flagged._u.cast("int64").sum(),
            late=(~flagged._u & flagged._l).cast("int64").sum(),
            rows=kept.cast("int64").sum(),
            first=flagged.timestamp.min(where=kept),
            last=flagged.timestamp.max(where=kept),
            types=flagged.event_type.collect(where=kept, distinct=True),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    found["copies"] = _count_copies(flagged.filter(kept), data_cols)
    steps = [
        ("unknown", flagged._u, "account_id", "of accounts not in the accounts table", ["event_type"]),
        ("late", ~flagged._u & flagged._l, "timestamp", "after data_end", ["account_id", "event_type"]),
    ]  # fmt: skip
    for key, mask, column, reason, show in steps:
        if found[key]:
            source.drops.add(key)
            _report(health, flagged, mask, int(found[key]), file, column, reason, show)
    rows = int(found["rows"] or 0)
    table = flagged
    if found["late"] or found["unknown"]:
        table = flagged.filter(~flagged._u & ~flagged._l)
    table = table.drop("_u", "_l")
    if found["copies"]:
        keep = source.duplicate_events == "keep"
        marked = table.mutate(_churnlab_copy=_copies(table))
        reason = "exact copies of an earlier row"
        shown = ["account_id", "event_type"]
        copies = int(found["copies"])
        _report(
            health, marked, marked._churnlab_copy, copies, file, "timestamp", reason, shown, keep
        )
        if not keep:
            source.drops.add("copies")
            rows -= copies
            table = marked.filter(~marked._churnlab_copy).drop("_churnlab_copy")
    first = pd.Timestamp(found["first"]) if found["first"] is not None else None
    last = pd.Timestamp(found["last"]) if found["last"] is not None else None
    health.tables["events"] = TableHealth(file, rows_read, rows, "timestamp", first, last)
    source.event_types = sorted(str(t) for t in found["types"] or [] if t is not None)
    source.rows = rows
    source.first_date, source.last_date = first, last
    return EventScan(table.order_by(_ROW).drop(_ROW), source)


def _count_copies(table: ir.Table, columns: list[str]) -> int:
    """Rows of ``table`` that repeat an earlier row in every one of ``columns``.

    Each row is first reduced to a 64-bit hash (a hash aggregation of 8-byte keys, not of
    every column: a fraction of the memory on a large log); only rows whose hash repeats
    are compared exactly, so a collision can only add a candidate, never a copy (as
    :func:`churnlab.data._event_logs.exact_copies` does in pandas).
    """
    hashed = table.mutate(_h=ibis.struct({c: table[c] for c in columns}).hash())
    by_hash = hashed.group_by("_h").aggregate(_n=hashed.count())
    repeated = by_hash.filter(by_hash._n > 1)
    candidates = int(repeated.count().to_pyarrow().as_py())
    if not candidates:
        return 0
    rows = hashed.filter(hashed._h.isin(repeated._h))
    groups = rows.group_by(columns).aggregate(_n=rows.count())
    return int((groups._n - 1).sum().to_pyarrow().as_py() or 0)


def _copies(table: ir.Table) -> ir.BooleanColumn:
    """True for a row that repeats an earlier row (file order) in every column."""
    columns = [table[c] for c in table.columns if c != _ROW]
    return ibis.row_number().over(group_by=columns, order_by=table[_ROW]) > 0


def _known(source: EventSource) -> ir.Table:
    return ibis.memtable(pd.DataFrame({"account_id": list(source.known)}, dtype=object))


def _report(
    health: DataHealth,
    table: ir.Table,
    mask: ir.BooleanValue,
    count: int,
    file: str,
    column: str,
    reason: str,
    show: Sequence[str],
    keep: bool = False,
) -> None:
    """Count the ``count`` rows under ``mask`` as excluded (or flagged, ``keep``), worded as
    :func:`churnlab.data._checks.exclude` / ``flag`` word it, with the first rows."""
    rules = _Rules(table)
    rules.add("m", mask)
    rows = rules.rows("m", table, [*show, column])
    text = rows_message(rows, count, file, column, reason, "kept" if keep else "excluded")
    if keep:
        health.flag("events", reason, count, text)
    else:
        health.reject("events", reason, count, text)
