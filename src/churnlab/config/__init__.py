"""Reading and validating ``params.yaml`` and its overlays into one frozen, typed config.

``params.yaml`` is the single source of defaults. :func:`load_params` reads it once,
layers overlay files and ``section.key=value`` overrides on top, and validates the
result. Library functions never read the YAML themselves: notebooks and the CLI pass
values from the returned :class:`Params` into them.

- ``_sections`` and ``_params``: the pydantic models, one per section, every field with
  its description; :class:`Params` is the whole effective config.
- ``_loading``: :func:`load_params` (overlays, ``-p key=value``, null removal).
- ``_schema``: the JSON Schema of ``params.yaml`` (:func:`params_schema`, shipped as
  ``params.schema.json``) and :func:`describe_params` (``churnlab params --explain``).
"""

from churnlab.config._database import DatabaseParams, redact_url, url_secret_problem
from churnlab.config._loading import (
    DEFAULT_PARAMS_FILE,
    deep_merge,
    load_params,
    parse_override,
    validate_params,
)
from churnlab.config._params import (
    DeliveryParams,
    ExplainParams,
    Params,
    ReportParams,
    RunParams,
    SampleParams,
    SmtpParams,
    last_month_end,
)
from churnlab.config._schema import (
    NO_DEFAULT,
    SCHEMA_DIALECT,
    SCHEMA_FILE,
    ParamDoc,
    describe_params,
    params_schema,
)
from churnlab.config._sections import (
    CohortParams,
    ColumnMaps,
    DataParams,
    FeatureParams,
    HealthParams,
    KpiParams,
    LightGBMParams,
    LogisticParams,
    ModelParams,
    ObservationParams,
    SnapshotParams,
    TierParams,
)

__all__ = [
    "DEFAULT_PARAMS_FILE",
    "NO_DEFAULT",
    "SCHEMA_DIALECT",
    "SCHEMA_FILE",
    "CohortParams",
    "ColumnMaps",
    "DataParams",
    "DatabaseParams",
    "DeliveryParams",
    "ExplainParams",
    "FeatureParams",
    "HealthParams",
    "KpiParams",
    "LightGBMParams",
    "LogisticParams",
    "ModelParams",
    "ObservationParams",
    "ParamDoc",
    "Params",
    "ReportParams",
    "RunParams",
    "SampleParams",
    "SmtpParams",
    "SnapshotParams",
    "TierParams",
    "deep_merge",
    "describe_params",
    "last_month_end",
    "load_params",
    "params_schema",
    "parse_override",
    "redact_url",
    "url_secret_problem",
    "validate_params",
]
