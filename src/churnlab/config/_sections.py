"""The sections of ``params.yaml`` from the data to the health bands (pydantic models)."""

from __future__ import annotations

import datetime as dt
import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator


class _Section(BaseModel):
    """A section of ``params.yaml``: unknown keys are errors, values are frozen.

    A boolean is never read as a number (``horizon_days: true`` is not 1 day).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            kinds = typing.get_args(annotation) or (annotation,)
            if bool not in kinds and any(k in (int, float) for k in kinds):
                raise ValueError("a number is expected, not true/false")
        return value


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


class ObservationParams(_Section):
    """When accounts are observed and scored, and how churn is labelled."""

    as_of: dt.date | Literal["auto"] = Field(
        "auto",
        description='The scoring date, e.g. "2026-10-31"; "auto" = the last month end on or '
        "before data.as_of (the data's last day).",
    )
    grace_days: int = Field(
        30,
        ge=0,
        le=366,
        description=(
            "Days: a gap of at most this many days between two subscriptions is not churn "
            "(they form one active period); a churn is confirmed once this grace has passed."
        ),
    )
    lead_days: int = Field(
        0,
        ge=0,
        le=366,
        description=(
            "Days between an observation date and the start of its label window "
            "(0 = the window starts right away)."
        ),
    )
    horizon_days: int = Field(
        90,
        ge=1,
        le=730,
        description=(
            "Days the label window lasts: the churn probability is the chance to churn "
            "within this many days (after lead_days)."
        ),
    )
    history_months: int = Field(
        18,
        ge=1,
        le=120,
        description=(
            "Months of history used for training: one observation per account and month end "
            "in the last this many months up to the scoring date."
        ),
    )
    renewal_checkpoint_days: int = Field(
        90,
        ge=1,
        le=366,
        description=(
            "Days before each renewal date at which an extra training observation is made "
            "(the renewal checkpoints)."
        ),
    )


class FeatureParams(_Section):
    """Which features are built from the event logs and which are kept from the models."""

    windows: list[int] = Field(
        default_factory=lambda: [7, 28, 90],
        min_length=1,
        description=(
            "Window lengths in days (positive): event counts, active users and seat "
            "utilisation are computed over each."
        ),
    )
    event_types: list[str] | None = Field(
        None,
        description="Event types to count, e.g. [login, export]; null = every event type in the data.",
    )
    ratios: dict[str, tuple[str, str]] = Field(
        default_factory=lambda: {"logins_per_seat_28d": ("logins_28d", "seats")},
        description=(
            "Extra ratio features, name: [numerator, denominator] (two feature columns; a zero "
            "denominator gives a missing value). Remove one in an overlay with name: null."
        ),
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Feature columns never given to the models nor compared between cohorts.",
    )
    include: list[str] = Field(
        default_factory=list,
        description=(
            "Feature columns given to the models and compared even when churnlab would leave "
            "them out (id-like, more than max_categories levels); constant and empty columns "
            "are always left out."
        ),
    )
    max_categories: int = Field(
        30,
        ge=2,
        description=(
            "A text column with more distinct values than this is left out of the models and "
            "the cohort comparison (with a note), as is one that is unique per row (an id)."
        ),
    )

    @model_validator(mode="after")
    def _positive_windows(self) -> FeatureParams:
        bad = [w for w in self.windows if w <= 0]
        if bad:
            raise ValueError(f"features.windows must be positive numbers of days, got {bad}")
        return self


class TierParams(_Section):
    """Customer-success touch tiers by annual recurring revenue (ARR, in your data's currency)."""

    low_touch_min_arr: float = Field(
        12_000,
        ge=0,
        description="ARR from which an account is low touch (below: tech touch).",
    )
    high_touch_min_arr: float = Field(
        60_000,
        ge=0,
        description="ARR from which an account is high touch; at least low_touch_min_arr.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> TierParams:
        if self.high_touch_min_arr < self.low_touch_min_arr:
            raise ValueError(
                "tiers.high_touch_min_arr must be >= tiers.low_touch_min_arr "
                f"(got {self.high_touch_min_arr} < {self.low_touch_min_arr})"
            )
        return self

    @property
    def thresholds(self) -> tuple[float, float]:
        """``(low_touch_min_arr, high_touch_min_arr)`` as the library functions take them."""
        return (self.low_touch_min_arr, self.high_touch_min_arr)


class KpiParams(_Section):
    """Assumptions of the business KPIs."""

    gross_margin: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Gross margin as a fraction (0.8 = 80%), for the simple customer LTV.",
    )
    onboarding_days: int = Field(
        60,
        ge=1,
        description="Days after its first start within which an account's onboarding counts as completed.",
    )


class CohortParams(_Section):
    """The comparison of churned and retained accounts."""

    lookback_days: int = Field(
        365,
        ge=30,
        description="Days: compare the accounts whose renewal fell in the last this many days.",
    )
    min_group: int = Field(
        30,
        ge=1,
        description="Groups with fewer accounts are flagged as too small, never reported as findings.",
    )
    alpha: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="Significance level after the Benjamini-Hochberg correction (0 < alpha < 1).",
    )
    bins: int = Field(
        10,
        ge=2,
        le=50,
        description="Quantile bins of a metric for its churn-rate chart (10 = deciles).",
    )
    segment: str = Field(
        "touch_tier",
        description=(
            "Column that groups the survival (Kaplan-Meier) curves of snapshot data, e.g. "
            "Contract; a column the data lacks falls back to touch_tier (event logs: always)."
        ),
    )


class LogisticParams(_Section):
    """The logistic regression baseline."""

    C: float = Field(
        1.0, gt=0, description="Inverse regularisation strength (smaller = stronger, > 0)."
    )


class LightGBMParams(_Section):
    """The LightGBM gradient-boosting model (LightGBM's parameters of the same names)."""

    num_leaves: int = Field(
        15, ge=2, le=1024, description="Maximum number of leaves per tree (model complexity)."
    )
    learning_rate: float = Field(
        0.05, gt=0, le=1, description="Shrinkage applied to every tree (0 < rate <= 1)."
    )
    n_estimators: int = Field(
        500,
        ge=1,
        le=20_000,
        description="Maximum number of boosting rounds (early stopping usually ends sooner).",
    )
    min_child_samples: int = Field(
        40, ge=1, description="Minimum number of training rows in a leaf."
    )
    feature_fraction: float = Field(
        0.8, gt=0, le=1, description="Fraction of the features tried for each tree (0 < x <= 1)."
    )
    lambda_l2: float = Field(1.0, ge=0, description="L2 regularisation of the leaf values (>= 0).")
    early_stopping_rounds: int = Field(
        50,
        ge=1,
        description="Stop when the validation score has not improved for this many rounds.",
    )


class ModelParams(_Section):
    """Training, backtesting and calibration of the churn models."""

    seed: int = Field(
        42,
        description="Random seed of training, bootstrap and plot sampling (same seed, same results).",
    )
    champion_metric: Literal["roc_auc", "pr_auc", "brier", "log_loss"] = Field(
        "pr_auc",
        description=(
            "Backtest metric that picks the champion model: roc_auc or pr_auc (higher is "
            "better), brier or log_loss (lower is better)."
        ),
    )
    n_folds: int = Field(
        3,
        ge=1,
        le=12,
        description=(
            "Number of rolling-origin backtest folds (in time order); fewer when the history "
            "is too short for them (stated in the report)."
        ),
    )
    backtest: Literal["time", "accounts"] = Field(
        "time",
        description=(
            "How models are tested: time = trained on earlier dates, tested on the period "
            "after (rolling origin); accounts = cross-validated across accounts, for a history "
            "too short for a backtest in time (chosen automatically then, and stated)."
        ),
    )
    min_useful_auc: float = Field(
        0.55,
        ge=0.5,
        lt=1,
        description=(
            "A champion whose backtest ROC AUC is below this gets a warning in the report, the "
            "email and the manifest: its scores do not rank churners better than chance."
        ),
    )
    calibration: Literal["isotonic", "platt"] = Field(
        "isotonic",
        description="How probabilities are calibrated: isotonic or platt (a logistic fit).",
    )
    num_threads: int = Field(
        1,
        ge=1,
        le=256,
        description="LightGBM threads; more only helps on an idle machine with large data.",
    )
    logistic: LogisticParams = Field(
        default_factory=LogisticParams, description="Logistic regression settings."
    )
    lightgbm: LightGBMParams = Field(
        default_factory=LightGBMParams, description="LightGBM settings."
    )


class HealthParams(_Section):
    """Health score bands (0-100, higher is healthier), renewals and early warnings."""

    red_below: float = Field(
        40, ge=0, le=100, description="Health score below this is red (0-100)."
    )
    green_from: float = Field(
        70,
        ge=0,
        le=100,
        description="Health score from this up is green (0-100, above red_below); between: yellow.",
    )
    renewal_window_days: int = Field(
        90,
        ge=1,
        description=(
            "Days ahead: the renewal map and the headline's ARR at risk cover the renewals "
            "in the next this many days ({days} in the email subject)."
        ),
    )
    early_warning_drop: float = Field(
        15,
        gt=0,
        le=100,
        description=(
            "Health points: an account whose health fell by at least this much since the "
            "previous run gets an early warning."
        ),
    )

    @model_validator(mode="after")
    def _ordered(self) -> HealthParams:
        if self.green_from <= self.red_below:
            raise ValueError(
                f"health.green_from ({self.green_from}) must be above health.red_below "
                f"({self.red_below})"
            )
        return self
