"""The account-snapshot shape: one row per account with a churn label column."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from churnlab.errors import DataError
from churnlab.messages import message

from ._checks import Checks, exclude
from ._health import DataHealth, TableHealth
from ._io import as_id, as_numbers, blank, load_table

__all__ = ["DAYS_PER_MONTH", "DAYS_PER_UNIT", "load_snapshot", "snapshot_observations"]

#: Average days per month, to turn a tenure in months into ``tenure_days``.
DAYS_PER_MONTH = 30.44
#: Days per unit of the tenure column (``data.snapshot.tenure_unit``).
DAYS_PER_UNIT = {"months": DAYS_PER_MONTH, "years": 365.25, "days": 1.0}
#: The id column that, when absent, is made from the row numbers.
DEFAULT_ID_COLUMN = "account_id"
_NAME = "snapshot"
_MAX_LEVELS = 20  # label values listed in an error message


def load_snapshot(
    path: str | Path,
    *,
    id_column: str,
    label_column: str,
    positive_value: object,
    negative_value: object = None,
    mrr_column: str | None = None,
    tenure_column: str | None = None,
    tenure_unit: str = "months",
    numeric_columns: Sequence[str] = (),
    drop_columns: Sequence[str] = (),
    columns: Mapping[str, str] | None = None,
    fmt: str | None = None,
) -> tuple[pd.DataFrame, DataHealth]:
    """Load and validate a one-row-per-account snapshot with a churn label.

    Parameters
    ----------
    path : str or Path
        CSV or Parquet file.
    id_column : str
        Account identifier (unique, not empty; returned as str: a CSV column is read as
        text, integers become their decimal text, whole-number floats lose their
        ``.0``). When the file has no such column and the name is the default,
        ``account_id``, the accounts are numbered by their row (``"1"``, ``"2"``, ...)
        and a note says so; any other missing name is an error.
    label_column : str
        The churn label. Returned as column ``label`` (int 0/1): 1 where the value
        equals ``positive_value``, 0 where it equals the negative value.
    positive_value : object
        The label value that means "churned" (``"Yes"``, ``1``, ``True``,
        ``"Attrited Customer"``), compared as text whatever its type: ``True`` matches
        ``True`` and ``true``, ``1`` matches ``1`` and ``1.0``, ``"Yes"`` only ``Yes``.
        A numeric column also matches a numeric value by number.
    negative_value : object, optional
        The label value that means "retained", compared like ``positive_value``.
        ``None``: when the column holds exactly one other non-empty value, that one.
    mrr_column, tenure_column : str, optional
        Monthly revenue (>= 0; negative rows are excluded and counted) and tenure (a
        number >= 0, in ``tenure_unit``).
    tenure_unit : {"months", "years", "days"}
        Unit of the tenure column; recorded in ``snapshot.attrs["tenure_unit"]`` for
        :func:`snapshot_observations`.
    numeric_columns : sequence of str
        Text columns to parse as numbers. A blank cell in a row with tenure 0 becomes
        0.0 (nothing billed yet) and is reported; any other blank or unparseable cell
        is an error.
    drop_columns : sequence of str
        Columns removed after loading (reported in the notes).
    columns : mapping of str to str, optional
        ``churnlab_name -> column name in the file`` renames applied first.
    fmt : {"csv", "parquet"}, optional
        File format; ``None`` infers it from the suffix.

    Returns
    -------
    (pandas.DataFrame, DataHealth)
        The snapshot (original column names except ``label``) and its health summary.

    Raises
    ------
    DataError
        The file has no rows; missing column, empty or duplicate id, empty label, a
        label column that never holds ``positive_value``, label values that are
        neither the positive nor the negative value (all values are listed with their
        counts), unparseable numbers, negative tenure.
    """
    if tenure_unit not in DAYS_PER_UNIT:
        raise ValueError(f"tenure_unit must be one of {list(DAYS_PER_UNIT)}, got {tenure_unit!r}")
    file = str(path)
    raw = load_table(path, fmt=fmt, columns=columns, name=_NAME, text_columns=[id_column])
    health = DataHealth()
    checks = Checks(health)
    checks.has_rows(raw, file=file, name=_NAME)
    checks.raise_if_any()
    numbered = id_column == DEFAULT_ID_COLUMN and id_column not in raw.columns
    optional = [c for c in (mrr_column, tenure_column) if c]
    wanted = [id_column, label_column, *optional, *numeric_columns, *drop_columns]
    if numbered:
        wanted.remove(id_column)
    hint = "fix the column names under data.snapshot in params.yaml"
    checks.require(raw, list(dict.fromkeys(wanted)), file=file, name=_NAME, hint=hint)
    if label_column != "label" and "label" in raw.columns:
        checks.errors.append(
            DataError(file, "label", "is reserved for the churn label", hint="rename it")
        )
    checks.raise_if_any()

    out = raw.drop(columns=list(drop_columns))
    if drop_columns:
        health.note(message("messages.data.dropped_columns", columns=list(drop_columns)))
    if numbered:
        out.insert(0, id_column, [str(i + 1) for i in range(len(raw))])
        health.note(message("messages.data.numbered_rows", column=id_column))
    else:
        ids = checks.ids(raw, id_column, file=file, shown=raw)
        checks.rule(
            raw,
            ids.notna() & ids.duplicated(keep=False),
            file=file,
            column=id_column,
            rule="must be unique (one row per account)",
            hint="a snapshot holds one row per account: de-duplicate the export",
        )
        out[id_column] = ids.astype(object)
    labels, negative = _label(raw, label_column, positive_value, negative_value, file, checks)
    out[label_column] = labels
    tenure = None
    if tenure_column:
        tenure = checks.numbers(raw, tenure_column, file=file, shown=raw)
        checks.rule(
            raw,
            tenure < 0,
            file=file,
            column=tenure_column,
            rule=f"must be >= 0 ({tenure_unit})",
            hint=f"tenure counts {tenure_unit} since the customer started "
            "(data.snapshot.tenure_unit: months, years or days)",
        )
        out[tenure_column] = tenure
    for col in numeric_columns:
        out[col] = _numeric(raw, col, tenure, tenure_column, file, checks)
    if mrr_column:
        out[mrr_column] = checks.numbers(raw, mrr_column, file=file, shown=raw)
    checks.raise_if_any()

    if mrr_column:
        out = exclude(
            health,
            out,
            out[mrr_column] < 0,
            name=_NAME,
            file=file,
            column=mrr_column,
            reason="with negative MRR",
            show=[id_column],
        )
    out = out.rename(columns={label_column: "label"}).reset_index(drop=True)
    out.attrs["tenure_unit"] = tenure_unit
    positives = int(out["label"].sum())
    other = (
        message("messages.data.label_negative", value=repr(negative))
        if negative is not None
        else message("messages.data.label_no_negative")
    )
    health.note(
        message(
            "messages.data.label_mapping",
            column=label_column,
            value=repr(positive_value),
            positives=positives,
            other=other,
            negatives=len(out) - positives,
        )
    )
    health.tables[_NAME] = TableHealth(file, len(raw), len(out))
    return out, health


def _text_forms(value: object) -> set[str]:
    """The texts a label value stands for: ``True`` -> True/true, ``1`` -> 1/1.0."""
    if isinstance(value, bool | np.bool_):
        return {str(bool(value)), str(bool(value)).lower()}
    if isinstance(value, int | np.integer):
        return {str(int(value)), f"{int(value)}.0"}
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return {str(int(value)), f"{int(value)}.0"}
    return {str(value).strip()}


def _matches(values: pd.Series, text: pd.Series, value: object) -> pd.Series:
    """True where a label cell holds ``value`` (as text; by number in a numeric column)."""
    hit = text.isin(_text_forms(value))
    numeric = is_numeric_dtype(values) and not is_bool_dtype(values)
    if numeric and not isinstance(value, bool | np.bool_):
        number, bad = as_numbers(pd.Series([value], dtype=object))
        if not bad.iloc[0] and pd.notna(number.iloc[0]):
            hit = hit | (values == number.iloc[0]).to_numpy()
    return hit.fillna(False).astype(bool)


def _levels(text: pd.Series) -> str:
    """Every value with its count, most frequent first (at most ``_MAX_LEVELS``)."""
    seen = text.value_counts()
    shown = ", ".join(f"{v!r} ({n})" for v, n in seen.head(_MAX_LEVELS).items())
    if len(seen) > _MAX_LEVELS:
        shown += f", and {len(seen) - _MAX_LEVELS} more values"
    return shown


def _label(
    raw: pd.DataFrame,
    column: str,
    positive: object,
    negative: object,
    file: str,
    checks: Checks,
) -> tuple[pd.Series, object]:
    """The 0/1 label, and the negative value (given, or the only other one; None if none)."""
    values = raw[column]
    missing = blank(values)
    checks.rule(
        raw,
        missing,
        file=file,
        column=column,
        rule="must not be empty (the churn label)",
        hint="every account needs a label value; remove or complete these rows",
    )
    text = as_id(values).astype(object)
    is_pos = _matches(values, text, positive) & ~missing
    filled = text[~missing]
    if len(filled) and not is_pos.any():
        hint = "set data.snapshot.positive_value to the value that means churned"
        if isinstance(positive, bool):
            hint += " (YAML reads yes / no / true / false without quotes as booleans: quote it)"
        checks.errors.append(
            DataError(
                file,
                column,
                f"never holds the positive value {positive!r} (values: {_levels(filled)})",
                count=len(raw),
                hint=hint,
            )
        )
        return is_pos.astype("int64"), negative
    rest = ~missing & ~is_pos
    if negative is not None:
        if _text_forms(positive) & _text_forms(negative):
            checks.errors.append(
                DataError(
                    file,
                    column,
                    f"has the same positive and negative value ({positive!r}, {negative!r})",
                    count=0,
                    hint="set data.snapshot.negative_value to the value that means retained",
                )
            )
            return is_pos.astype("int64"), negative
        neither = rest & ~_matches(values, text, negative)
        hint = (
            f"fix or remove these rows, or set data.snapshot.positive_value / negative_value "
            f"to the values that mean churned / retained (now {positive!r} / {negative!r})"
        )
    else:
        others = text[rest].value_counts()
        if len(others) <= 1:
            return is_pos.astype("int64"), (others.index[0] if len(others) else None)
        # which one is the negative is not guessed: the rows of the rarer values are shown
        neither = rest & (text != others.index[0])
        hint = (
            f"set data.snapshot.negative_value to the value that means retained (the most "
            f"common other value is {others.index[0]!r}) and fix or remove the rows with "
            "other values; without negative_value the label must hold exactly two values"
        )
    checks.rule(
        raw,
        neither,
        file=file,
        column=column,
        rule="holds values that are neither the positive nor the negative label "
        f"(values: {_levels(filled)})",
        hint=hint,
    )
    return is_pos.astype("int64"), negative


def _numeric(
    raw: pd.DataFrame,
    column: str,
    tenure: pd.Series | None,
    tenure_column: str | None,
    file: str,
    checks: Checks,
) -> pd.Series:
    values, bad = as_numbers(raw[column])
    empty = blank(raw[column])
    fixable = empty & (tenure == 0) if tenure is not None else pd.Series(False, raw.index)
    checks.rule(
        raw,
        bad,
        file=file,
        column=column,
        rule="holds values that are not numbers",
        hint="clean the column or remove it from data.snapshot.numeric_columns",
        show=[tenure_column] if tenure_column else [],
    )
    checks.rule(
        raw,
        empty & ~fixable,
        file=file,
        column=column,
        rule="is empty in rows with tenure above 0 (only tenure 0 rows may be blank)",
        hint="fill the values in the export; blanks are set to 0 only for new customers",
        show=[tenure_column] if tenure_column else [],
    )
    n = int(fixable.sum())
    if n:
        reason = message("messages.rows.blank_set_to_zero", column=column)["text"]
        checks.health.flagged[(_NAME, reason)] = n
        checks.health.note(message("messages.data.blank_set_to_zero", n=n, column=column))
    return values.mask(fixable, 0.0)


def snapshot_observations(
    snapshot: pd.DataFrame,
    *,
    as_of: str | pd.Timestamp,
    id_column: str,
    mrr_column: str | None = None,
    tenure_column: str | None = None,
    tenure_unit: str | None = None,
) -> pd.DataFrame:
    """Turn a loaded snapshot into an observation table (``architecture.md``, "Observation table").

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The frame returned by :func:`load_snapshot` (with its ``label`` column).
    as_of : str or Timestamp
        The snapshot's observation date.
    id_column, mrr_column, tenure_column : str
        As given to :func:`load_snapshot`.
    tenure_unit : {"months", "years", "days"}, optional
        Unit of the tenure column; ``None`` = the unit :func:`load_snapshot` recorded
        in ``snapshot.attrs["tenure_unit"]``, else months.

    Returns
    -------
    pandas.DataFrame
        ``account_id, as_of, checkpoint="snapshot", label, churn_date (NaT)``, then
        ``mrr, arr`` (12 x mrr) when ``mrr_column`` is given, ``tenure_days`` (months x
        30.44, years x 365.25, or days as they are) when ``tenure_column`` is given, then
        every other column as a feature under its original name: numeric and boolean
        columns unchanged, text and categorical columns as ``object`` strings (missing
        stays missing).
    """
    if "label" not in snapshot.columns:
        raise DataError(
            "snapshot", "label", "is missing", hint="load the snapshot with load_snapshot()"
        )
    keys = pd.DataFrame(
        {
            "account_id": snapshot[id_column].astype(str).to_numpy(),
            "as_of": pd.Timestamp(as_of),
            "checkpoint": "snapshot",
            "label": snapshot["label"].astype("int64").to_numpy(),
            "churn_date": pd.NaT,
        }
    )
    keys["churn_date"] = keys["churn_date"].astype("datetime64[ns]")
    keys["as_of"] = keys["as_of"].astype("datetime64[ns]")
    if mrr_column:
        keys["mrr"] = snapshot[mrr_column].astype(float).to_numpy()
        keys["arr"] = 12.0 * keys["mrr"]
    if tenure_column:
        unit = tenure_unit or snapshot.attrs.get("tenure_unit", "months")
        if unit not in DAYS_PER_UNIT:
            raise ValueError(f"tenure_unit must be one of {list(DAYS_PER_UNIT)}, got {unit!r}")
        keys["tenure_days"] = snapshot[tenure_column].astype(float).to_numpy() * DAYS_PER_UNIT[unit]
    used = {id_column, "label", mrr_column, tenure_column}
    features = snapshot[[c for c in snapshot.columns if c not in used]].reset_index(drop=True)
    for col in features.columns:
        features[col] = _feature_dtype(features[col])
    return pd.concat([keys, features], axis=1)


def _feature_dtype(column: pd.Series) -> pd.Series:
    if is_bool_dtype(column) or is_numeric_dtype(column) or is_datetime64_any_dtype(column):
        return column
    text = column.astype("string").astype(object)
    return text.where(column.notna().to_numpy(), np.nan)
