"""The ``data`` section of ``params.yaml``: the input files, their shape and columns."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from churnlab.config._base import _Section

# --------------------------------------------------------------------------- data


class ColumnMaps(_Section):
    """Column renames per table: churnlab's column name -> the column name in your export."""

    accounts: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Renames for the accounts table, churnlab name: your column name, e.g. "
            "{account_id: customer_id, name: company}. churnlab names: account_id (required), "
            "name (optional: ids stand in) and descriptors (industry, region, plan, "
            "acquisition_channel, csm_owner)."
        ),
    )
    subscriptions: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Renames for the subscriptions table, churnlab name: your column name, e.g. "
            "{mrr: monthly_value}. churnlab names: account_id, start_date, end_date, mrr "
            "(required), plan, seats, billing_period_months, line_kind (plan or addon; "
            "without it, a plan value never sold alone is an add-on)."
        ),
    )
    events: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Renames for the events table, churnlab name: your column name, e.g. "
            "{timestamp: occurred_at}. churnlab names: account_id, timestamp, event_type "
            "(required), value, user_id."
        ),
    )


class SnapshotParams(_Section):
    """The one-row-per-account snapshot (data.shape: snapshot): its file and column roles."""

    path: str | None = Field(
        None,
        description=(
            "The snapshot file (CSV or Parquet), relative to the folder of the main params "
            "file. Required when data.shape is snapshot; null = no snapshot."
        ),
    )
    id_column: str = Field(
        "account_id",
        description=(
            "Column with the account identifier (unique, never empty; read as text). When the "
            "file has no column of this name and the name is the default, account_id, the "
            "accounts are numbered by their row (1, 2, ...) and the data-health summary says so."
        ),
    )
    label_column: str = Field(
        "churned", description="Column with the churn label (any values; see positive_value)."
    )
    positive_value: str | int | bool = Field(
        "Yes",
        description=(
            'The label value that means "churned" (e.g. "Yes", 1, true), compared as text '
            "(1 matches 1 and 1.0, true matches true and True). Never guessed."
        ),
    )
    negative_value: str | int | bool | None = Field(
        None,
        description=(
            'The label value that means "retained"; null = the other value, when the label '
            "column holds exactly two. Any value that is neither is an error that lists the "
            "values and their counts."
        ),
    )
    mrr_column: str | None = Field(
        None,
        description=(
            "Column with the monthly recurring revenue (>= 0; ARR = 12 x MRR); null = the file "
            "has none, so ARR is unknown (every account is then tech touch)."
        ),
    )
    tenure_column: str | None = Field(
        None,
        description="Column with the tenure (a number >= 0, see tenure_unit); null = the file has none.",
    )
    tenure_unit: Literal["months", "years", "days"] = Field(
        "months", description="Unit of the tenure column: months, years or days."
    )
    numeric_columns: list[str] = Field(
        default_factory=list,
        description=(
            "Text columns to parse as numbers. A blank cell where the tenure is 0 becomes 0 "
            "and is reported; any other blank or unparseable cell is an error."
        ),
    )
    drop_columns: list[str] = Field(
        default_factory=list,
        description="Columns removed right after loading (never used as features).",
    )


class DataParams(_Section):
    """The input data: its shape, where its files are and how its columns are named."""

    shape: Literal["events", "snapshot"] = Field(
        "events",
        description=(
            "events: subscription and event logs (data.accounts, data.subscriptions, "
            "data.events); snapshot: one row per account with a churn label (data.snapshot)."
        ),
    )
    as_of: dt.date | Literal["auto"] = Field(
        "auto",
        description='The last day of the data, e.g. "2026-10-31"; "auto" (event logs) = the day '
        "of the latest event or subscription start in the files (a scheduled run follows a "
        "growing export). A snapshot needs its date.",
    )
    format: Literal["csv", "parquet"] | None = Field(
        None,
        description="File format of every input file: csv or parquet; null = from each file's suffix.",
    )
    accounts: str | None = Field(
        None,
        description=(
            "The accounts table (one row per account), relative to the folder of the main "
            "params file. Required when data.shape is events."
        ),
    )
    subscriptions: str | None = Field(
        None,
        description=(
            "The subscriptions table (one row per contract period), relative to the folder of "
            "the main params file. Required when data.shape is events."
        ),
    )
    events: str | None = Field(
        None,
        description=(
            "The events table (one row per product event), relative to the folder of the "
            "main params file. Required when data.shape is events."
        ),
    )
    duplicate_events: Literal["exclude", "keep"] = Field(
        "exclude",
        description=(
            "Events that are exact copies of an earlier row (an export appended twice): "
            "exclude (counted in the data-health summary) or keep (counted as suspicious)."
        ),
    )
    columns: ColumnMaps = Field(
        default_factory=ColumnMaps,
        description=(
            "Map your export's column names instead of renaming your files: per table, "
            "churnlab name: your column name."
        ),
    )
    snapshot: SnapshotParams = Field(
        default_factory=SnapshotParams,
        description="The snapshot file and its column roles (used when data.shape is snapshot).",
    )

    @model_validator(mode="after")
    def _paths_for_shape(self) -> DataParams:
        if self.shape == "events":
            missing = [k for k in ("accounts", "subscriptions", "events") if not getattr(self, k)]
            if missing:
                raise ValueError(f"data.shape is 'events' but data.{missing[0]} has no path")
        elif not self.snapshot.path:
            raise ValueError("data.shape is 'snapshot' but data.snapshot.path has no path")
        elif self.as_of == "auto":
            raise ValueError(
                "data.shape is 'snapshot' but data.as_of is auto: set the snapshot's date"
            )
        return self
