"""The sections of ``params.yaml`` from the observations to the health bands (pydantic models).

The ``data`` section lives in ``_data.py``, the base of every section in ``_base.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator, model_validator

from churnlab.config._base import _Section
from churnlab.config._data import ColumnMaps, DataParams, SnapshotParams

__all__ = [
    "CohortParams",
    "ColumnMaps",
    "DataParams",
    "DuckDBSettings",
    "FeatureParams",
    "HealthParams",
    "KpiParams",
    "LightGBMParams",
    "LogisticParams",
    "ModelParams",
    "ObservationParams",
    "SnapshotParams",
    "SurvivalParams",
    "TierParams",
    "_Section",
]


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


class DuckDBSettings(_Section):
    """The embedded DuckDB the features engine runs on (features.engine: duckdb)."""

    threads: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="Worker threads; null = the machine's CPU count, at most 2.",
    )
    memory_limit: str | None = Field(
        None,
        pattern=r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$",
        description=(
            'DuckDB\'s memory limit, e.g. "4GB" (it spills to temp_dir beyond it); null = '
            "40% of the machine's RAM, at most 4GB. The process needs more than this: the "
            "loaded tables and the observation table come on top."
        ),
    )
    temp_dir: str | None = Field(
        None,
        description=(
            "Where DuckDB spills when the memory limit is reached; null = churnlab-duckdb "
            "under the system temp directory."
        ),
    )


class SparkSettings(_Section):
    """The Spark cluster the features engine runs on (features.engine: spark)."""

    master: str = Field(
        "local[*]",
        min_length=1,
        description=(
            "spark.master: local[*] (this machine), spark://host:7077, yarn, k8s://...; an "
            "already running Spark session (Databricks) is used as it is."
        ),
    )
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description=(
            "Spark settings, e.g. {spark.executor.memory: 8g, spark.sql.shuffle.partitions: "
            "400}. Never credentials: give those to Spark through its environment."
        ),
    )


class FeatureParams(_Section):
    """Which features are built from the event logs and which are kept from the models."""

    engine: Literal["duckdb", "spark"] = Field(
        "duckdb",
        description=(
            "Where the observation table is built: duckdb (embedded, this machine) or spark "
            "(features.spark.master; needs churnlab[spark] and Java 17+). Same numbers on both."
        ),
    )
    duckdb: DuckDBSettings = Field(
        default_factory=DuckDBSettings, description="Settings of the embedded DuckDB."
    )
    spark: SparkSettings = Field(
        default_factory=SparkSettings, description="Settings of the Spark session."
    )

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
        0.1, gt=0, le=1, description="Shrinkage applied to every tree (0 < rate <= 1)."
    )
    n_estimators: int = Field(
        250,
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
    fold_workers: int | Literal["auto"] = Field(
        "auto",
        description=(
            "Backtest fits run at once, each on its own thread (each model on each fold is "
            'one fit; the champion\'s fit on all rows runs in the same pool). "auto" = 2 when '
            "the machine has 2 CPUs or more and the estimated peak memory with it stays "
            "within run.memory_budget and within 20% (at least 1.5 GB) of what the run needs "
            "one fit at a time, else 1; or a number. The numbers do not depend on it."
        ),
    )

    @field_validator("fold_workers")
    @classmethod
    def _at_least_one(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("model.fold_workers must be auto or a number of 1 or more")
        return value

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


class SurvivalParams(_Section):
    """The time-to-churn model: a discrete-time hazard model, its forecast and backtest."""

    horizon_months: int = Field(
        12,
        ge=1,
        le=36,
        description=(
            "Months the survival curves, the expected lifetime and the retained-ARR forecast "
            "look ahead (fewer when the data follows accounts for less; stated)."
        ),
    )
    hazard_model: Literal["auto", "lightgbm", "logistic"] = Field(
        "lightgbm",
        description=(
            "The hazard classifier: lightgbm or logistic; auto back-tests both and keeps the "
            "one with the lower integrated Brier score (one more fit: slower)."
        ),
    )
    max_rows: int = Field(
        20000,
        ge=1000,
        description=(
            "Most account-months the hazard model learns from; beyond, fewer month ends and "
            "then a seeded sample of observations are used (stated), to keep the stage fast."
        ),
    )
    interval: float = Field(
        0.9,
        gt=0,
        lt=1,
        description="Coverage of the retained-ARR forecast's band (0.9 = 90% likely range).",
    )
