"""Shared validation steps: collect rule violations, exclude and count suspicious rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from churnlab.errors import DataError
from churnlab.messages import message

from ._health import DataHealth
from ._io import (
    as_dates,
    as_id,
    as_numbers,
    blank,
    missing_column_error,
    no_rows_error,
    offending_rows,
)


class Checks:
    """Collects the DataErrors of one load so that all of them are reported together."""

    def __init__(self, health: DataHealth) -> None:
        self.health = health
        self.errors: list[DataError] = []

    def has_rows(self, table: pd.DataFrame, *, file: str, name: str) -> bool:
        """Record an error when ``table`` has a header but no rows; True when it has rows."""
        if len(table):
            return True
        self.errors.append(no_rows_error(file, name))
        return False

    def require(
        self,
        table: pd.DataFrame,
        columns: Sequence[str],
        *,
        file: str,
        name: str,
        hint: str | None = None,
    ) -> bool:
        """Record an error per absent required column; True when all are present."""
        ok = True
        for col in columns:
            if col not in table.columns:
                fix = hint or (
                    f"rename the column in your export or map it with "
                    f"data.columns.{name}.{col}: <your column> in params.yaml"
                )
                self.errors.append(missing_column_error(table.columns, col, file=file, hint=fix))
                ok = False
        return ok

    def rule(
        self,
        table: pd.DataFrame,
        mask: pd.Series,
        *,
        file: str,
        column: str,
        rule: str,
        hint: str,
        show: Iterable[str] = (),
    ) -> None:
        """Record an error when ``mask`` holds for any row."""
        mask = mask.fillna(False).astype(bool) if mask.dtype != bool else mask
        count = int(mask.sum())
        if count:
            rows = offending_rows(table, mask, [*show, column])
            self.errors.append(DataError(file, column, rule, rows=rows, count=count, hint=hint))

    def ids(self, table: pd.DataFrame, column: str, *, file: str, shown: pd.DataFrame) -> pd.Series:
        """Identifiers as strings; missing ids are an error."""
        ids = as_id(table[column])
        self.rule(
            shown,
            ids.isna(),
            file=file,
            column=column,
            rule="must not be empty",
            hint=f"every row needs a value in {column}; remove or complete these rows",
            show=[str(c) for c in shown.columns[:4]],
        )
        return ids

    def dates(
        self,
        table: pd.DataFrame,
        column: str,
        *,
        file: str,
        required: bool,
        shown: pd.DataFrame,
        name: str | None = None,
    ) -> pd.Series:
        """Dates as datetime64[ns]; unparseable cells (and empty ones if required) are errors.

        Values with a time-zone offset are converted to UTC and made tz-naive; a note
        in the health summary says how many (``name``: the table, for the note).
        """
        dates, bad, converted = as_dates(table[column])
        if converted:
            self.health.note(
                message(
                    "messages.data.time_zone_converted",
                    table=name or file,
                    n=int(converted),
                    column=column,
                )
            )
        self.rule(
            shown,
            bad,
            file=file,
            column=column,
            rule="holds values that are not ISO dates",
            hint="write dates as YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (ISO 8601), e.g. 2026-01-31; "
            "other layouts like 01/02/2026 are ambiguous",
        )
        if required:
            self.rule(
                shown,
                dates.isna() & ~bad,
                file=file,
                column=column,
                rule="must not be empty",
                hint=f"every row needs a value in {column}",
            )
        return dates

    def numbers(
        self,
        table: pd.DataFrame,
        column: str,
        *,
        file: str,
        shown: pd.DataFrame,
        required: bool = True,
        whole: bool = False,
    ) -> pd.Series:
        """Numbers as float; unparseable (and, if required, empty) cells are errors."""
        values, bad = as_numbers(table[column])
        self.rule(
            shown,
            bad,
            file=file,
            column=column,
            rule="holds values that are not numbers",
            hint="use plain numbers with a dot as decimal separator and no currency signs",
        )
        if required:
            self.rule(
                shown,
                values.isna() & ~bad,
                file=file,
                column=column,
                rule="must not be empty",
                hint=f"every row needs a value in {column}",
            )
        if whole:
            self.rule(
                shown,
                values.notna() & (values % 1 != 0),
                file=file,
                column=column,
                rule="must hold whole numbers",
                hint=f"{column} counts something: use integers",
            )
        return values

    def raise_if_any(self) -> None:
        """Raise the first error (mentioning the others); all are kept in ``health.errors``."""
        if not self.errors:
            return
        self.health.errors.extend(str(e) for e in self.errors)
        first = self.errors[0]
        hint = first.hint or ""
        if len(self.errors) > 1:
            others = "; ".join(f"{e.file} '{e.column}' {_short(e.rule)}" for e in self.errors[1:])
            hint += f"\n  {len(self.errors) - 1} more problem(s): {others}"
        err = DataError(first.file, first.column, first.rule, first.rows, first.count, hint)
        err.health = self.health  # type: ignore[attr-defined]
        raise err


def _short(rule: str) -> str:
    return rule.split(" (available columns")[0]


def exclude(
    health: DataHealth,
    table: pd.DataFrame,
    mask: pd.Series,
    *,
    name: str,
    file: str,
    column: str,
    reason: str,
    show: Iterable[str] = (),
) -> pd.DataFrame:
    """Drop the rows where ``mask`` holds, counting them and warning with examples."""
    mask = mask.fillna(False).astype(bool)
    count = int(mask.sum())
    if not count:
        return table
    health.reject(
        name, reason, count, _message(table, mask, file, column, reason, show, "excluded")
    )
    return table.loc[~mask.to_numpy()]


def flag(
    health: DataHealth,
    table: pd.DataFrame,
    mask: pd.Series,
    *,
    name: str,
    file: str,
    column: str,
    reason: str,
    show: Iterable[str] = (),
) -> None:
    """Count (and warn about) suspicious rows that are kept."""
    mask = mask.fillna(False).astype(bool)
    count = int(mask.sum())
    if not count:
        return
    health.flag(name, reason, count, _message(table, mask, file, column, reason, show, "kept"))


def _message(
    table: pd.DataFrame,
    mask: pd.Series,
    file: str,
    column: str,
    reason: str,
    show: Iterable[str],
    action: str,
) -> str:
    """The warning text for rows under ``mask``: file, column, count, reason, first rows."""
    rows = offending_rows(table, mask, [*show, column])
    return rows_message(rows, int(mask.sum()), file, column, reason, action)


def rows_message(
    rows: pd.DataFrame, count: int, file: str, column: str, reason: str, action: str
) -> str:
    """The warning text for ``count`` rows: file, column, reason, the first ``rows``."""
    return (
        f"{file}: column '{column}': {count} row(s) {reason}; {action}\n"
        f"  first rows:\n    " + rows.to_string().replace("\n", "\n    ")
    )


__all__ = ["Checks", "blank", "exclude", "flag", "rows_message"]
