"""The account-snapshot shape: one row per account with a churn label column."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from churnlab.errors import DataError

from ._checks import Checks, exclude
from ._health import DataHealth, TableHealth
from ._io import as_id, as_numbers, blank, load_table

__all__ = ["DAYS_PER_MONTH", "load_snapshot", "snapshot_observations"]

#: Average days per month, to turn a tenure in months into ``tenure_days``.
DAYS_PER_MONTH = 30.44
_NAME = "snapshot"


def load_snapshot(
    path: str | Path,
    *,
    id_column: str,
    label_column: str,
    positive_value: object,
    mrr_column: str | None = None,
    tenure_column: str | None = None,
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
        Account identifier (unique, not empty; returned as str).
    label_column : str
        The churn label. Returned as column ``label`` (int 0/1): 1 where the value
        equals ``positive_value`` (compared as trimmed text, or as a number for a
        numeric column), 0 for every other value.
    positive_value : object
        The label value that means "churned" (``"Yes"``, ``1``, ``"Attrited Customer"``).
    mrr_column, tenure_column : str, optional
        Monthly revenue (>= 0; negative rows are excluded and counted) and tenure in
        months (a number >= 0).
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
        Missing column, empty or duplicate id, empty label, a label column that never
        holds ``positive_value``, unparseable numbers, negative tenure.
    """
    file = str(path)
    raw = load_table(path, fmt=fmt, columns=columns, name=_NAME)
    health = DataHealth()
    checks = Checks(health)
    optional = [c for c in (mrr_column, tenure_column) if c]
    wanted = [id_column, label_column, *optional, *numeric_columns, *drop_columns]
    hint = "fix the column names under data.snapshot in params.yaml"
    checks.require(raw, list(dict.fromkeys(wanted)), file=file, name=_NAME, hint=hint)
    if label_column != "label" and "label" in raw.columns:
        checks.errors.append(
            DataError(file, "label", "is reserved for the churn label", hint="rename it")
        )
    checks.raise_if_any()

    out = raw.drop(columns=list(drop_columns))
    if drop_columns:
        health.notes.append(f"dropped columns: {', '.join(drop_columns)}")
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
    out[label_column] = _label(raw, label_column, positive_value, file, checks)
    tenure = None
    if tenure_column:
        tenure = checks.numbers(raw, tenure_column, file=file, shown=raw)
        checks.rule(
            raw,
            tenure < 0,
            file=file,
            column=tenure_column,
            rule="must be >= 0 (months)",
            hint="tenure counts months since the customer started",
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
    positives = int(out["label"].sum())
    health.notes.append(
        f"label {label_column} = {positive_value!r} -> 1 ({positives} rows), "
        f"any other value -> 0 ({len(out) - positives} rows)"
    )
    health.tables[_NAME] = TableHealth(file, len(raw), len(out))
    return out, health


def _label(
    raw: pd.DataFrame, column: str, positive: object, file: str, checks: Checks
) -> pd.Series:
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
    is_pos = text == str(positive).strip()
    if is_numeric_dtype(values) and not is_bool_dtype(values):
        number, bad = as_numbers(pd.Series([positive]))
        if not bad.iloc[0] and pd.notna(number.iloc[0]):
            is_pos = is_pos | (values == number.iloc[0])
    if not missing.all() and not is_pos.any():
        seen = values[~missing].astype(str).value_counts().head(10)
        levels = ", ".join(f"{v!r} ({n})" for v, n in seen.items())
        checks.errors.append(
            DataError(
                file,
                column,
                f"never holds the positive value {positive!r} (values: {levels})",
                count=len(raw),
                hint="set data.snapshot.positive_value to the value that means churned",
            )
        )
    return is_pos.astype("int64")


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
        reason = f"blank {column} set to 0 (tenure 0)"
        checks.health.flagged[(_NAME, reason)] = n
        checks.health.notes.append(f"{n} {reason}")
    return values.mask(fixable, 0.0)


def snapshot_observations(
    snapshot: pd.DataFrame,
    *,
    as_of: str | pd.Timestamp,
    id_column: str,
    mrr_column: str | None = None,
    tenure_column: str | None = None,
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

    Returns
    -------
    pandas.DataFrame
        ``account_id, as_of, checkpoint="snapshot", label, churn_date (NaT)``, then
        ``mrr, arr`` (12 x mrr) when ``mrr_column`` is given, ``tenure_days``
        (months x 30.44) when ``tenure_column`` is given, then every other column as a
        feature under its original name: numeric and boolean columns unchanged, text
        and categorical columns as ``object`` strings (missing stays missing).
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
        keys["tenure_days"] = snapshot[tenure_column].astype(float).to_numpy() * DAYS_PER_MONTH
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
