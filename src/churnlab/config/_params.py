"""The output sections of ``params.yaml`` and :class:`Params`, the whole effective config."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationInfo, field_validator
from pydantic.json_schema import SkipJsonSchema

from churnlab.config._database import DatabaseParams
from churnlab.config._practice import (
    EngagementParams,
    Lever,
    Play,
    check_levers,
    default_levers,
    default_playbook,
)
from churnlab.config._sections import (
    CohortParams,
    DataParams,
    FeatureParams,
    HealthParams,
    KpiParams,
    ModelParams,
    ObservationParams,
    SurvivalParams,
    TierParams,
    _Section,
)
from churnlab.errors import ParamsError


class ExplainParams(_Section):
    """Per-account explanations of the churn probability."""

    top_k: int = Field(
        3,
        ge=1,
        le=10,
        description="Reasons listed per account, both raising and lowering its risk.",
    )
    plot_sample: int = Field(
        2000, ge=100, description="Rows drawn on the beeswarm plots (a random sample)."
    )


class ReportParams(_Section):
    """The HTML report."""

    title: str | None = Field(
        None,
        description="Title of the report; null: the report language's (catalogue report.title).",
    )
    company: str = Field(
        "churnlab demo", description="Company name shown in the report and the email subject."
    )
    top_accounts: int = Field(
        15,
        ge=1,
        le=200,
        description=(
            "Rows of the renewal map and the at-risk tables in the report and in the CSV "
            "files attached to the email (the full lists stay in the run folder)."
        ),
    )
    language: Literal["en", "ja"] = Field(
        "en",
        description=(
            "Language of the report, the email and the charts (en, ja); the analysts' "
            "notebooks stay in English and CSV column names never change."
        ),
    )
    currency: str | None = Field(
        None,
        description=(
            "ISO 4217 code of the money shown (USD, JPY, EUR); null: the language's "
            "(USD for en, JPY for ja). Only the display changes, amounts are not converted."
        ),
    )
    cs_cost: float | dict[str, float] | None = Field(
        None,
        description=(
            "Monthly cost of the CS team, in total (a number) or per touch tier "
            "({high_touch: 60000, ...}); gives the retention cost of the executive view. "
            "null: no retention cost."
        ),
    )
    segments: list[str] | None = Field(
        None,
        description=(
            "Account columns the report breaks risk down by (per-CSM and per-segment views); "
            "null: the CSM owner and cohorts.segment, those the data has."
        ),
    )

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from babel.numbers import list_currencies

        code = value.strip().upper()
        if code not in list_currencies():
            raise ValueError(
                f"report.currency: {value!r} is not an ISO 4217 currency code (USD, JPY, EUR)"
            )
        return code

    @field_validator("cs_cost")
    @classmethod
    def _cost_per_tier(
        cls, value: float | dict[str, float] | None
    ) -> float | dict[str, float] | None:
        from churnlab.vocabulary import TIERS

        if isinstance(value, dict):
            unknown = sorted(set(value) - set(TIERS))
            if unknown:
                raise ValueError(
                    f"report.cs_cost: unknown touch tiers {unknown}; tiers are {list(TIERS)}"
                )
            if any(v < 0 for v in value.values()):
                raise ValueError("report.cs_cost: a cost cannot be negative")
        elif value is not None and value < 0:
            raise ValueError("report.cs_cost: a cost cannot be negative")
        return value


class SmtpParams(_Section):
    """The SMTP server; credentials come from environment variables, never from params."""

    host: str = Field("localhost", description="SMTP server host name.")
    port: int = Field(
        587, ge=1, le=65535, description="SMTP server port (587 for starttls, 465 for ssl)."
    )
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls",
        description=(
            "starttls: upgrade a plain connection (fails if the server cannot); ssl: implicit "
            "TLS; none: clear text, local relays only (credentials are then refused)."
        ),
    )
    timeout_seconds: float = Field(
        30,
        gt=0,
        description=(
            "Seconds before an SMTP operation times out (connect, EHLO, STARTTLS, AUTH, "
            "MAIL, RCPT, DATA); the message data itself uses data_timeout_seconds."
        ),
    )
    data_timeout_seconds: float = Field(
        600,
        gt=0,
        description=(
            "Seconds to send the message data and wait for the server's reply to it (the "
            "final 250 after DATA; RFC 5321 allows 10 minutes). A timeout there is not "
            "retried: the server may have stored the message, so the delivery is recorded "
            "as unknown."
        ),
    )
    username_env: str = Field(
        "CHURNLAB_SMTP_USER",
        description="Name of the environment variable holding the SMTP user.",
    )
    password_env: str = Field(
        "CHURNLAB_SMTP_PASSWORD",
        description=(
            "Name of the environment variable holding the SMTP password (when neither "
            "variable is set, mail is sent without login)."
        ),
    )
    ca_file: str | None = Field(
        None,
        description=(
            "PEM file of the certificate authority that signed the SMTP server's certificate "
            "(a company CA), relative to the main params file's folder; null: the system's "
            "trusted CAs (or the file named by the SSL_CERT_FILE environment variable)."
        ),
    )


class DeliveryParams(_Section):
    """Mailing the report of a run (churnlab send)."""

    recipients: list[str] = Field(
        default_factory=list,
        description="Addresses that receive the report, e.g. [vp-cs@example.com].",
    )
    failure_recipients: list[str] = Field(
        default_factory=list,
        description="Addresses that receive a short notice instead when a run fails.",
    )
    sender: str = Field("churnlab@localhost", description="The From address.")
    subject: str | None = Field(
        None,
        description=(
            "Subject template; null: the report language's (catalogue email.subject). "
            "Placeholders {as_of}, {arr_at_risk} (the whole book's), {days} (the model's "
            "horizon), {run_id}, {company}, {headline_kpi} (the first KPI tile). A run without "
            "an ARR at risk (snapshot data, no model) is sent with the catalogue's "
            "email.subject_no_risk ('Churn report {as_of}: {headline_kpi}')."
        ),
    )
    attach_csv: bool = Field(
        True,
        description=(
            "Attach the top report.top_accounts rows of the renewal map and of the monthly "
            "accounts at risk as CSV files (the full lists stay in the run folder)."
        ),
    )
    max_retries: int = Field(
        3,
        ge=0,
        le=10,
        description=(
            "Retries after a transient failure before the message data was sent (4xx reply, "
            "refused or dropped connection, timeout); never after it."
        ),
    )
    backoff_seconds: float = Field(
        2.0, ge=0, description="Seconds before the first retry; doubles with every further one."
    )
    smtp: SmtpParams = Field(default_factory=SmtpParams, description="The SMTP server.")
    database: DatabaseParams = Field(
        default_factory=DatabaseParams,
        description="The database the scores are exported to (churnlab export, run --export).",
    )


class MonitoringParams(_Section):
    """How a run watches its model: drift of the population, and its track record."""

    drift_warn_psi: float = Field(
        0.25,
        gt=0,
        description=(
            "Population stability index (PSI) at which a shift of a model feature or of the "
            "score, between the training rows and this run's accounts, warns that the model "
            "may need retraining (0.1-0.25 moderate, 0.25 and more major, by the usual rule)."
        ),
    )
    drift_bins: int = Field(
        10, ge=2, le=50, description="Quantile bins of a numeric feature for its PSI."
    )
    drift_ignore: list[str] = Field(
        default_factory=lambda: ["tenure_days"],
        description=(
            "Features whose shift does not warn (the drift table still lists them): tenure grows "
            "by the months between the training rows and today, so its shift says the "
            "accounts aged, not that they changed."
        ),
    )


class RunParams(_Section):
    """Where churnlab run writes and how it executes the notebooks."""

    name: str | None = Field(
        None,
        description=(
            "The name of the data set's lineage: runs with the same name compare with each "
            "other (change since the last run, early warnings, track record). Set it when "
            "the export's file names carry dates; null = the input files and data.shape "
            "name the lineage."
        ),
    )
    reports_dir: str = Field(
        "reports",
        description="Folder of the run folders and reports, relative to the main params file's folder.",
    )
    cache_dir: str = Field(
        "data/cache",
        description=(
            "Folder of the cached observation tables, relative to the main params file's "
            "folder (safe to delete)."
        ),
    )
    kernel: str = Field(
        "churnlab",
        description="Jupyter kernel that papermill runs the notebooks with (registered by make setup).",
    )
    cell_timeout_seconds: int = Field(
        900, ge=10, description="Seconds a notebook cell may run before the run fails."
    )
    memory_budget: str = Field(
        "auto",
        pattern=r"(?i)^\s*(auto|off|\d+(\.\d+)?\s*[kmgt]?i?b?)\s*$",
        description=(
            "Memory the run may use: before the features stage the run estimates what it "
            "needs from the row counts and stops with the params to change when the estimate "
            'is larger. "auto" = 80% of the machine\'s memory (or of its container limit), a '
            'size such as "8GB" or "512MB", or "off" (no check).'
        ),
    )
    parallel_stages: Literal["auto", "on", "off"] = Field(
        "auto",
        description=(
            "Run notebook stages that do not need each other's files at the same time, each "
            "on its own kernel (the cohorts and the monitoring beside the time-to-churn "
            'stage). "auto" = when the machine has 2 CPUs or more and the estimated peak '
            "memory with it stays within run.memory_budget and within 20% (at least 1.5 GB) "
            'of what the run needs one stage at a time; "on"; "off" (one stage at a time). '
            "The numbers are the same either way; the manifest's parallel says what a run did."
        ),
    )

    @field_validator("memory_budget", "parallel_stages", mode="before")
    @classmethod
    def _yaml_switch(cls, value: Any) -> Any:
        """YAML reads a bare ``off`` / ``on`` as false / true: take them as the words."""
        if isinstance(value, bool):
            return "on" if value else "off"
        return value


class SampleParams(_Section):
    """The built-in synthetic SaaS sample (churnlab sample)."""

    n_accounts: int = Field(
        3000, ge=50, le=2_000_000, description="Accounts that sign up during the window."
    )
    months: int = Field(
        24, ge=6, le=120, description="Length of the data window in months, ending on end_date."
    )
    end_date: dt.date = Field(
        dt.date(2026, 10, 31),
        description='Last day of the sample data, an ISO date in quotes, e.g. "2026-10-31".',
    )
    seed: int = Field(42, description="Random seed; the same seed gives identical data.")
    out_dir: str = Field(
        "data/sample",
        description="Folder the sample is written to, relative to the main params file's folder.",
    )


class Params(_Section):
    """The effective, validated churnlab parameters (frozen)."""

    data: DataParams = Field(description="The input data: its shape, files and columns.")
    observation: ObservationParams = Field(
        default_factory=ObservationParams,
        description="Observation and scoring dates, and the churn label window.",
    )
    features: FeatureParams = Field(
        default_factory=FeatureParams, description="Features built from the event logs."
    )
    tiers: TierParams = Field(default_factory=TierParams, description="Touch tiers by ARR.")
    kpis: KpiParams = Field(default_factory=KpiParams, description="Business KPI assumptions.")
    cohorts: CohortParams = Field(
        default_factory=CohortParams, description="Churned versus retained comparison."
    )
    model: ModelParams = Field(
        default_factory=ModelParams, description="The churn models and their backtest."
    )
    health: HealthParams = Field(
        default_factory=HealthParams, description="Health bands, renewals and early warnings."
    )
    survival: SurvivalParams = Field(
        default_factory=SurvivalParams,
        description="The time-to-churn model: survival, lifetime and the retained-ARR forecast.",
    )
    explain: ExplainParams = Field(
        default_factory=ExplainParams, description="Per-account explanations."
    )
    monitoring: MonitoringParams = Field(
        default_factory=MonitoringParams,
        description="Drift of the scored population and the track record of earlier runs.",
    )
    playbook: dict[str, Play] = Field(
        default_factory=default_playbook,
        description=(
            "Reason families and the CSM's next step for each (onboarding, support, nps, "
            "usage, csm_touch, commercial); the one definition the reasons and the levers use."
        ),
    )
    levers: dict[str, Lever] = Field(
        default_factory=default_levers,
        description=(
            "What-if levers: feature edits a CS team can cause, each pulled by a playbook "
            "family (play). Every scored account's churn probability is recomputed with each "
            "lever that applies: a model-based estimate of association, not a proven effect. "
            "Remove one in an overlay with name: null; levers whose features the data lacks "
            "are skipped with a note."
        ),
    )
    engagement: EngagementParams = Field(
        default_factory=EngagementParams,
        description="CSM touches: which events are touches, and which touch each tier should get.",
    )
    report: ReportParams = Field(default_factory=ReportParams, description="The HTML report.")
    delivery: DeliveryParams = Field(
        default_factory=DeliveryParams, description="Mailing the report."
    )
    run: RunParams = Field(default_factory=RunParams, description="Run folders and notebooks.")
    sample: SampleParams = Field(
        default_factory=SampleParams, description="The built-in synthetic sample."
    )

    #: Directory that relative paths are resolved against (the main params file's folder).
    root: SkipJsonSchema[Path] = Field(
        default=Path("."),
        exclude=True,
        description=(
            "Folder that relative paths are resolved against (the main params file's folder); "
            "set by load_params, never read from a params file."
        ),
    )

    @field_validator("levers")
    @classmethod
    def _levers_use_the_playbook(
        cls, value: dict[str, Lever], info: ValidationInfo
    ) -> dict[str, Lever]:
        check_levers(value, info.data.get("playbook") or {})
        return value

    def path(self, relative: str | Path) -> Path:
        """Resolve a path from the params against the project root."""
        p = Path(relative)
        return p if p.is_absolute() else (self.root / p)

    def scoring_as_of(self) -> dt.date:
        """The scoring date: ``observation.as_of``, or the last month end on or before ``data.as_of``.

        Raises
        ------
        ParamsError
            When both are ``auto``: the data's last day is read from the data first
            (:func:`churnlab.run.steps.resolve_data_end` does it, and :meth:`with_data_end`
            records it).
        """
        if self.observation.as_of != "auto":
            return self.observation.as_of  # type: ignore[return-value]
        return last_month_end(self.data_end())

    def data_end(self) -> dt.date:
        """``data.as_of``: the last day the data describes, once it is a date.

        Raises
        ------
        ParamsError
            When ``data.as_of`` is still ``auto`` (not read from the data yet).
        """
        if self.data.as_of == "auto":
            raise ParamsError(
                "data.as_of is auto and has not been read from the data yet: call "
                "churnlab.run.steps.resolve_data_end(cfg) (churnlab run and validate do), or set "
                "data.as_of to a date, e.g. -p data.as_of=2026-10-31"
            )
        return self.data.as_of  # type: ignore[return-value]

    def with_data_end(self, day: dt.date) -> Params:
        """A copy whose ``data.as_of`` is ``day`` (the day read from the data)."""
        data = self.data.model_copy(update={"as_of": day})
        return self.model_copy(update={"data": data})

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
