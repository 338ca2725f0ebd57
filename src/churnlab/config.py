"""Reading and validating ``params.yaml`` and its overlays into one frozen, typed config.

``params.yaml`` is the single source of defaults. :func:`load_params` reads it once,
layers overlay files and ``section.key=value`` overrides on top, and validates the
result. Library functions never read the YAML themselves: notebooks and the CLI pass
values from the returned :class:`Params` into them.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from churnlab.errors import ParamsError

DEFAULT_PARAMS_FILE = "params.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- data


class ColumnMaps(_Section):
    accounts: dict[str, str] = Field(default_factory=dict)
    subscriptions: dict[str, str] = Field(default_factory=dict)
    events: dict[str, str] = Field(default_factory=dict)


class SnapshotParams(_Section):
    path: str | None = None
    id_column: str = "account_id"
    label_column: str = "churned"
    positive_value: str | int | bool = "Yes"
    mrr_column: str | None = None
    tenure_column: str | None = None
    numeric_columns: list[str] = Field(default_factory=list)
    drop_columns: list[str] = Field(default_factory=list)


class DataParams(_Section):
    shape: Literal["events", "snapshot"] = "events"
    as_of: dt.date
    format: Literal["csv", "parquet"] | None = None
    accounts: str | None = None
    subscriptions: str | None = None
    events: str | None = None
    columns: ColumnMaps = Field(default_factory=ColumnMaps)
    snapshot: SnapshotParams = Field(default_factory=SnapshotParams)

    @model_validator(mode="after")
    def _paths_for_shape(self) -> DataParams:
        if self.shape == "events":
            missing = [k for k in ("accounts", "subscriptions", "events") if not getattr(self, k)]
            if missing:
                raise ValueError(f"data.shape is 'events' but data.{missing[0]} has no path")
        elif not self.snapshot.path:
            raise ValueError("data.shape is 'snapshot' but data.snapshot.path has no path")
        return self


class ObservationParams(_Section):
    as_of: dt.date | Literal["auto"] = "auto"
    grace_days: int = Field(30, ge=0, le=366)
    lead_days: int = Field(0, ge=0, le=366)
    horizon_days: int = Field(90, ge=1, le=730)
    history_months: int = Field(18, ge=1, le=120)
    renewal_checkpoint_days: int = Field(90, ge=1, le=366)


class FeatureParams(_Section):
    windows: list[int] = Field(default_factory=lambda: [7, 28, 90], min_length=1)
    event_types: list[str] | None = None
    ratios: dict[str, tuple[str, str]] = Field(default_factory=dict)
    exclude: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _positive_windows(self) -> FeatureParams:
        bad = [w for w in self.windows if w <= 0]
        if bad:
            raise ValueError(f"features.windows must be positive numbers of days, got {bad}")
        return self


class TierParams(_Section):
    low_touch_min_arr: float = Field(12_000, ge=0)
    high_touch_min_arr: float = Field(60_000, ge=0)

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
    gross_margin: float = Field(0.8, gt=0, le=1)
    onboarding_days: int = Field(60, ge=1)


class CohortParams(_Section):
    lookback_days: int = Field(365, ge=30)
    min_group: int = Field(30, ge=1)
    alpha: float = Field(0.05, gt=0, lt=1)
    bins: int = Field(10, ge=2, le=50)
    segment: str = "touch_tier"


class LogisticParams(_Section):
    C: float = Field(1.0, gt=0)


class LightGBMParams(_Section):
    num_leaves: int = Field(15, ge=2, le=1024)
    learning_rate: float = Field(0.05, gt=0, le=1)
    n_estimators: int = Field(500, ge=1, le=20_000)
    min_child_samples: int = Field(40, ge=1)
    feature_fraction: float = Field(0.8, gt=0, le=1)
    lambda_l2: float = Field(1.0, ge=0)
    early_stopping_rounds: int = Field(50, ge=1)


class ModelParams(_Section):
    seed: int = 42
    champion_metric: Literal["roc_auc", "pr_auc", "brier", "log_loss"] = "pr_auc"
    n_folds: int = Field(3, ge=2, le=12)
    calibration: Literal["isotonic", "platt"] = "isotonic"
    num_threads: int = Field(1, ge=1, le=256)
    logistic: LogisticParams = Field(default_factory=LogisticParams)
    lightgbm: LightGBMParams = Field(default_factory=LightGBMParams)


class HealthParams(_Section):
    red_below: float = Field(40, ge=0, le=100)
    green_from: float = Field(70, ge=0, le=100)
    renewal_window_days: int = Field(90, ge=1)
    early_warning_drop: float = Field(15, gt=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> HealthParams:
        if self.green_from <= self.red_below:
            raise ValueError(
                f"health.green_from ({self.green_from}) must be above health.red_below "
                f"({self.red_below})"
            )
        return self


class ExplainParams(_Section):
    top_k: int = Field(3, ge=1, le=10)
    plot_sample: int = Field(2000, ge=100)


class ReportParams(_Section):
    title: str = "Customer churn report"
    company: str = "churnlab demo"
    top_accounts: int = Field(15, ge=1, le=200)


class SmtpParams(_Section):
    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    timeout_seconds: float = Field(30, gt=0)
    username_env: str = "CHURNLAB_SMTP_USER"
    password_env: str = "CHURNLAB_SMTP_PASSWORD"


class DeliveryParams(_Section):
    recipients: list[str] = Field(default_factory=list)
    failure_recipients: list[str] = Field(default_factory=list)
    sender: str = "churnlab@localhost"
    subject: str = "Churn report {as_of}: {arr_at_risk} ARR at risk in the next {days} days"
    attach_csv: bool = True
    max_retries: int = Field(3, ge=0, le=10)
    backoff_seconds: float = Field(2.0, ge=0)
    smtp: SmtpParams = Field(default_factory=SmtpParams)


class RunParams(_Section):
    reports_dir: str = "reports"
    cache_dir: str = "data/cache"
    kernel: str = "churnlab"
    cell_timeout_seconds: int = Field(900, ge=10)


class SampleParams(_Section):
    n_accounts: int = Field(3000, ge=50, le=2_000_000)
    months: int = Field(24, ge=6, le=120)
    end_date: dt.date = dt.date(2026, 10, 31)
    seed: int = 42
    out_dir: str = "data/sample"


class Params(_Section):
    """The effective, validated churnlab parameters (frozen)."""

    data: DataParams
    observation: ObservationParams = Field(default_factory=ObservationParams)
    features: FeatureParams = Field(default_factory=FeatureParams)
    tiers: TierParams = Field(default_factory=TierParams)
    kpis: KpiParams = Field(default_factory=KpiParams)
    cohorts: CohortParams = Field(default_factory=CohortParams)
    model: ModelParams = Field(default_factory=ModelParams)
    health: HealthParams = Field(default_factory=HealthParams)
    explain: ExplainParams = Field(default_factory=ExplainParams)
    report: ReportParams = Field(default_factory=ReportParams)
    delivery: DeliveryParams = Field(default_factory=DeliveryParams)
    run: RunParams = Field(default_factory=RunParams)
    sample: SampleParams = Field(default_factory=SampleParams)

    #: Directory that relative paths are resolved against (the main params file's folder).
    root: Path = Field(default=Path("."), exclude=True)

    def path(self, relative: str | Path) -> Path:
        """Resolve a path from the params against the project root."""
        p = Path(relative)
        return p if p.is_absolute() else (self.root / p)

    def scoring_as_of(self) -> dt.date:
        """The scoring date: ``observation.as_of``, or the last month end on or before ``data.as_of``."""
        if self.observation.as_of != "auto":
            return self.observation.as_of  # type: ignore[return-value]
        return last_month_end(self.data.as_of)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of the effective params (for run manifests and printing)."""
        return self.model_dump(mode="json", exclude={"root"})

    def to_yaml(self) -> str:
        """The effective params as YAML text."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def last_month_end(day: dt.date) -> dt.date:
    """The last calendar month end on or before ``day``."""
    next_day = day + dt.timedelta(days=1)
    if next_day.month != day.month:
        return day
    return day.replace(day=1) - dt.timedelta(days=1)


# --------------------------------------------------------------------------- loading


def load_params(
    path: str | Path = DEFAULT_PARAMS_FILE,
    overlays: Sequence[str | Path] = (),
    overrides: Iterable[str] = (),
) -> Params:
    """Read ``params.yaml``, layer overlays and ``key=value`` overrides, validate.

    Parameters
    ----------
    path : str or Path
        The main params file; relative data paths are resolved against its folder.
    overlays : sequence of str or Path
        Further YAML files merged on top, in order (e.g. ``params/telco.yaml``).
    overrides : iterable of str
        ``section.key=value`` strings (values parsed as YAML scalars), applied last.

    Returns
    -------
    Params
        The frozen, validated parameters.

    Raises
    ------
    ParamsError
        For a missing or unreadable file, an unknown key (with the closest valid key
        suggested), or a value of the wrong type or range (with its dotted path).
    """
    path = Path(path)
    merged = _read_yaml(path)
    for overlay in overlays:
        merged = deep_merge(merged, _read_yaml(Path(overlay)))
    for override in overrides:
        merged = deep_merge(merged, parse_override(override))
    return validate_params(merged, root=path.resolve().parent)


def validate_params(raw: Mapping[str, Any], root: Path = Path(".")) -> Params:
    """Validate a raw params mapping into :class:`Params`, translating errors."""
    _check_no_secrets(raw)
    try:
        return Params.model_validate({**raw, "root": root})
    except ValidationError as exc:
        raise ParamsError(_explain(exc, raw)) from None


def parse_override(text: str) -> dict[str, Any]:
    """Turn ``"model.seed=7"`` into ``{"model": {"seed": 7}}`` (value parsed as YAML)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ParamsError(
            f"override {text!r} is not of the form section.key=value (e.g. model.seed=7)"
        )
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError as exc:
        raise ParamsError(f"override {text!r}: the value is not valid YAML ({exc})") from None
    node: Any = parsed
    for part in reversed(key.strip().split(".")):
        node = {part: node}
    return node


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Return a new dict: ``top`` merged into ``base`` recursively (mappings merge, others replace)."""
    out = copy.deepcopy(dict(base))
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ParamsError(
            f"params file {path} does not exist (run from the project folder or pass --params)"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(
            f"{path}: the top level must be a mapping of sections, got {type(data).__name__}"
        )
    return data


_SECRET_WORDS = ("password", "passwd", "secret", "token", "api_key", "apikey")


def _check_no_secrets(raw: Mapping[str, Any], prefix: str = "") -> None:
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        low = str(key).lower()
        if any(w in low for w in _SECRET_WORDS) and not low.endswith("_env"):
            raise ParamsError(
                f"{dotted}: credentials must not be stored in params files; put the value in an "
                "environment variable and name that variable (e.g. delivery.smtp.password_env)"
            )
        if isinstance(value, Mapping):
            _check_no_secrets(value, dotted + ".")


def _explain(exc: ValidationError, raw: Mapping[str, Any]) -> str:
    lines = ["invalid parameters:"]
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not str(p).startswith("function-after")]
        dotted = ".".join(loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            parent, key = loc[:-1], loc[-1]
            valid = _valid_keys(parent)
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
            hint = f"; did you mean '{'.'.join([*parent, close[0]])}'?" if close else ""
            lines.append(
                f"  {dotted}: unknown key{hint} (valid keys here: {', '.join(sorted(valid))})"
            )
        elif err["type"] == "value_error" and "must" in err["msg"]:
            lines.append(f"  {dotted}: {err['msg'].removeprefix('Value error, ')}")
        elif err["type"] == "missing":
            lines.append(f"  {dotted}: required but missing")
        else:
            value = _lookup(raw, loc)
            lines.append(f"  {dotted} = {value!r}: {err['msg']}")
    return "\n".join(lines)


def _valid_keys(path: Sequence[str]) -> list[str]:
    model: type[BaseModel] = Params
    for part in path:
        field = model.model_fields.get(part)
        if field is None or not (
            isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        ):
            return []
        model = field.annotation
    return [k for k in model.model_fields if k != "root"]


def _lookup(raw: Any, loc: Sequence[str]) -> Any:
    node = raw
    for part in loc:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return "<missing>"
    return node
