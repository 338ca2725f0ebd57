"""The data-health summary: rows read and kept, date ranges, excluded and flagged rows."""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from churnlab.messages import Message, literal, message, row_reason

__all__ = ["DataHealth", "DataWarning", "TableHealth"]


class DataWarning(UserWarning):
    """Suspicious input data that churnlab kept or excluded, and counted in :class:`DataHealth`."""


@dataclass(frozen=True)
class TableHealth:
    """Row counts and date range of one input table.

    Attributes
    ----------
    file : str
        The file the table was read from.
    rows_read, rows_kept : int
        Rows in the file and rows that passed validation.
    date_column : str or None
        The column the date range is taken from.
    first_date, last_date : pandas.Timestamp or None
        Date range of the kept rows.
    """

    file: str
    rows_read: int
    rows_kept: int
    date_column: str | None = None
    first_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None


@dataclass
class DataHealth:
    """What loading found in the input data; nothing is dropped without a count here.

    Attributes
    ----------
    tables : dict of str to TableHealth
        Per input table (``accounts``, ``subscriptions``, ``events`` or ``snapshot``).
    rejected : dict of (table, reason) to int
        Rows **excluded** from the data, by table and reason.
    flagged : dict of (table, reason) to int
        Rows **kept** but suspicious or repaired (e.g. overlapping subscriptions,
        blank ``TotalCharges`` set to 0), by table and reason.
    warnings : list of str
        The messages emitted as :class:`DataWarning`.
    errors : list of str
        Rule violations (a :class:`~churnlab.errors.DataError` was raised for the first).
    notes : list of str
        Informational notes, short sentences: how the loaders adapted to the data
        (label mapping, dropped columns, a missing optional column, converted time
        zones, derived add-on lines). Recorded with :meth:`note`; shown by ``str()``,
        the rich and HTML views and :meth:`to_dict`.
    """

    tables: dict[str, TableHealth] = field(default_factory=dict)
    rejected: dict[tuple[str, str], int] = field(default_factory=dict)
    flagged: dict[tuple[str, str], int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The notes said as messages of the catalogues (``churnlab.messages``), by their text.
    note_messages: dict[str, Message] = field(default_factory=dict)

    @property
    def has_errors(self) -> bool:
        """True when the data broke a rule of the data contract."""
        return bool(self.errors)

    # -- recording (used by the loaders) ------------------------------------------------
    def note(self, message: str | Message) -> None:
        """Record a short informational sentence (once); it is neither an error nor a warning.

        ``message``: the English sentence, or a message of the catalogues
        (``churnlab.messages.message``) that the report says in its own language.
        """
        text = message if isinstance(message, str) else str(message["text"])
        if text not in self.notes:
            self.notes.append(text)
            if not isinstance(message, str):
                self.note_messages[text] = message

    def reject(self, table: str, reason: str, count: int, message: str) -> None:
        """Count ``count`` excluded rows and emit a :class:`DataWarning`."""
        self._count(self.rejected, table, reason, count)
        self._warn(message)

    def flag(self, table: str, reason: str, count: int, message: str | None = None) -> None:
        """Count ``count`` kept rows; warn when ``message`` is given."""
        self._count(self.flagged, table, reason, count)
        if message:
            self._warn(message)
        else:
            said = _flagged(table, int(count), reason)
            self.notes.append(str(said["text"]))
            self.note_messages[str(said["text"])] = said

    @staticmethod
    def _count(store: dict[tuple[str, str], int], table: str, reason: str, count: int) -> None:
        store[(table, reason)] = store.get((table, reason), 0) + int(count)

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        warnings.warn(message, DataWarning, stacklevel=4)

    # -- views ----------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """One row per table: file, rows read/kept/excluded/flagged, first and last date."""
        rows = []
        for name, t in self.tables.items():
            rows.append(
                {
                    "table": name,
                    "file": t.file,
                    "rows_read": t.rows_read,
                    "rows_kept": t.rows_kept,
                    "excluded": sum(n for (tb, _), n in self.rejected.items() if tb == name),
                    "flagged": sum(n for (tb, _), n in self.flagged.items() if tb == name),
                    "date_column": t.date_column,
                    "first_date": t.first_date,
                    "last_date": t.last_date,
                }
            )
        cols = ["table", "file", "rows_read", "rows_kept", "excluded", "flagged"]
        cols += ["date_column", "first_date", "last_date"]
        return pd.DataFrame(rows, columns=cols)

    def issues(self) -> pd.DataFrame:
        """One row per (table, reason): ``action`` is ``excluded`` or ``kept``, with the count."""
        rows = [(t, r, "excluded", n) for (t, r), n in self.rejected.items()]
        rows += [(t, r, "kept", n) for (t, r), n in self.flagged.items()]
        return pd.DataFrame(rows, columns=["table", "reason", "action", "rows"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for the run manifest and the report."""
        return {
            "files": {n: t.file for n, t in self.tables.items()},
            "row_counts": {
                n: {"read": int(t.rows_read), "kept": int(t.rows_kept)}
                for n, t in self.tables.items()
            },
            "date_ranges": {
                n: [_day(t.first_date), _day(t.last_date)]
                for n, t in self.tables.items()
                if t.date_column
            },
            "rejected_rows": {f"{t}: {r}": int(n) for (t, r), n in self.rejected.items()},
            "flagged_rows": {f"{t}: {r}": int(n) for (t, r), n in self.flagged.items()},
            "warnings": list(self.warnings),
            "errors": list(self.errors),
            "notes": list(self.notes),
            "notes_messages": [self.note_messages.get(n) or literal(n) for n in self.notes],
            "has_errors": self.has_errors,
        }

    def _display_frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        tables = self.summary().drop(columns=["file"])
        for col in ("first_date", "last_date"):
            tables[col] = tables[col].map(_day)
        return tables.fillna(""), self.issues()

    def __str__(self) -> str:
        tables, issues = self._display_frames()
        parts = ["Data health", tables.to_string(index=False) if len(tables) else "(no tables)"]
        parts.append("Excluded / flagged rows")
        parts.append(issues.to_string(index=False) if len(issues) else "none")
        parts += [f"note: {n}" for n in self.notes]
        parts += [f"ERROR: {e}" for e in self.errors]
        return "\n".join(parts)

    def __repr__(self) -> str:
        return self.__str__()

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        tables, issues = self._display_frames()
        items: list[Any] = [_rich_table(Table, "Data health", tables)]
        if len(issues):
            items.append(_rich_table(Table, "Excluded / flagged rows", issues))
        items += [Text(f"note: {n}") for n in self.notes]
        items += [Text(f"ERROR: {e}", style="bold red") for e in self.errors]
        return Group(*items)

    def _repr_html_(self) -> str:
        tables, issues = self._display_frames()
        out = ["<div class='churnlab-data-health'>", _html_table("Data health", tables)]
        out.append(
            _html_table("Excluded / flagged rows", issues)
            if len(issues)
            else "<p>Excluded / flagged rows: none</p>"
        )
        if self.notes:
            out.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes) + "</ul>")
        for e in self.errors:
            out.append(f"<pre style='color:#b00020'>{html.escape(e)}</pre>")
        out.append("</div>")
        return "\n".join(out)


def _day(value: Any) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def _rich_table(table_cls: Any, title: str, frame: pd.DataFrame) -> Any:
    table = table_cls(title=title)
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        table.add_column(str(col), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(str(v) for v in row))
    return table


def _html_table(title: str, frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return (
        f"<table><caption>{html.escape(title)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _flagged(table: str, count: int, reason: str) -> Message:
    """The note on rows kept but flagged (``reason``: the loader's words)."""
    return message(
        "messages.data.flagged_rows", table=table, count=count, reason=row_reason(reason)
    )
