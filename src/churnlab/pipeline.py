"""Wiring between the typed params and the library: what the notebooks and the CLI call.

Each function takes the effective :class:`~churnlab.config.Params` and passes explicit
values into the pure library functions, so a notebook cell stays one line and the same
steps run identically from the CLI, a test or an interactive session.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churnlab.config import Params, load_params

MODEL_META_COLUMNS = ("name",)


@dataclass(frozen=True)
class Inputs:
    """Loaded, validated input data and its health summary."""

    shape: str
    data_end: pd.Timestamp
    health: Any
    files: tuple[Path, ...]
    accounts: pd.DataFrame | None = None
    subscriptions: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    snapshot: pd.DataFrame | None = None


@dataclass(frozen=True)
class ObservationTables:
    """The labelled training table, the unlabelled scoring table and their counts."""

    training: pd.DataFrame
    scoring: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def load_run_params(params_file: str | Path, project_dir: str | Path | None = None) -> Params:
    """Load a run's effective params (relative paths resolve against ``project_dir``)."""
    cfg = load_params(params_file)
    if project_dir:
        cfg = cfg.model_copy(update={"root": Path(project_dir)})
    return cfg


def load_inputs(cfg: Params) -> Inputs:
    """Load and validate the configured input data (either shape).

    Raises
    ------
    DataError
        When the data breaks a rule; the message names file, column, rule and rows.
    """
    from churnlab import data as churn_data

    data_end = pd.Timestamp(cfg.data.as_of)
    if cfg.data.shape == "snapshot":
        snap = cfg.data.snapshot
        path = cfg.path(snap.path or "")
        table, health = churn_data.load_snapshot(
            path,
            id_column=snap.id_column,
            label_column=snap.label_column,
            positive_value=snap.positive_value,
            mrr_column=snap.mrr_column,
            tenure_column=snap.tenure_column,
            numeric_columns=snap.numeric_columns,
            drop_columns=snap.drop_columns,
            fmt=cfg.data.format,
        )
        return Inputs("snapshot", data_end, health, (path,), snapshot=table)
    files = tuple(cfg.path(p) for p in (cfg.data.accounts, cfg.data.subscriptions, cfg.data.events))
    loaded, health = churn_data.load_event_logs(
        *files,
        columns=cfg.data.columns.model_dump(),
        data_end=str(cfg.data.as_of),
        fmt=cfg.data.format,
    )
    return Inputs(
        "events",
        data_end,
        health,
        files,
        accounts=loaded.accounts,
        subscriptions=loaded.subscriptions,
        events=loaded.events,
    )


def active_periods(cfg: Params, inputs: Inputs) -> pd.DataFrame | None:
    """Active periods (subscriptions joined across grace gaps); None for snapshot data."""
    from churnlab.periods import active_periods as _periods

    if inputs.shape == "snapshot":
        return None
    return _periods(inputs.subscriptions, cfg.observation.grace_days, inputs.data_end)


def kpi_table(cfg: Params, inputs: Inputs, periods: pd.DataFrame, months: int = 24) -> pd.DataFrame:
    """Monthly KPIs of the last ``months`` complete months: overall (``segment="all"``) and per tier.

    Snapshot data has no history: one row per segment at the snapshot date, with the
    share of churned accounts as the logo churn rate over the export's own churn period.
    """
    if inputs.shape == "snapshot":
        return snapshot_kpis(cfg, inputs)
    from churnlab.kpis import customer_ltv
    from churnlab.kpis import kpi_table as _kpi_table

    end = last_complete_month(inputs.data_end)
    # The data's first month has no history before it (its base is whatever the export
    # starts with), so reporting starts with the second month.
    first_sub = pd.Timestamp(inputs.subscriptions["start_date"].min()).replace(day=1)
    start = max(first_sub + pd.DateOffset(months=1), end - pd.DateOffset(months=months - 1))
    out = _kpi_table(
        inputs.subscriptions,
        periods,
        start,
        end,
        cfg.observation.grace_days,
        tier_thresholds=cfg.tiers.thresholds,
    )
    out["customer_ltv"] = customer_ltv(out, cfg.kpis.gross_margin)
    out["month"] = pd.to_datetime(out["month"]).dt.strftime("%Y-%m-%d")
    return out


def snapshot_kpis(cfg: Params, inputs: Inputs) -> pd.DataFrame:
    """Headline numbers of a one-row-per-account snapshot (no monthly history)."""
    table = _snapshot_training(cfg, inputs)
    rows = []
    groups = [("all", table)] + list(table.groupby("touch_tier", observed=True))
    for segment, part in groups:
        active = part[part["label"] == 0]
        mrr = float(active["mrr"].sum()) if "mrr" in part else float("nan")
        rows.append(
            {
                "month": pd.Timestamp(cfg.data.as_of).replace(day=1).strftime("%Y-%m-%d"),
                "segment_by": "touch_tier",
                "segment": segment,
                "active_accounts_start": len(part),
                "active_accounts": len(active),
                "churned_logos": int(part["label"].sum()),
                "logo_churn_rate": float(part["label"].mean()),
                "mrr": mrr,
                "arr": 12 * mrr,
                "gross_revenue_retention": float("nan"),
                "net_revenue_retention": float("nan"),
                "expansion_rate": float("nan"),
            }
        )
    return pd.DataFrame(rows)


def kpi_overview(kpis: pd.DataFrame, months: int = 6) -> pd.DataFrame:
    """The overall KPI rows of the last ``months`` months, headline columns only."""
    cols = [
        "month",
        "active_accounts",
        "arr",
        "logo_churn_rate",
        "gross_revenue_retention",
        "net_revenue_retention",
        "expansion_rate",
    ]
    overall = kpis[kpis["segment"] == "all"]
    return overall[[c for c in cols if c in overall]].tail(months)


def retention_chart(kpis: pd.DataFrame) -> Any:
    """GRR and NRR by month (None when the data has no monthly history)."""
    from churnlab.plots.kpis import plot_retention_trend

    overall = kpis[kpis["segment"] == "all"]
    if len(overall) < 2 or overall["net_revenue_retention"].isna().all():
        return None
    return plot_retention_trend(overall)


def last_complete_month(data_end: pd.Timestamp) -> pd.Timestamp:
    """First day of the last calendar month that the data covers completely."""
    nxt = data_end + pd.Timedelta(days=1)
    month_start = data_end.replace(day=1)
    return month_start if nxt.month != data_end.month else month_start - pd.DateOffset(months=1)


def observation_tables(
    cfg: Params, inputs: Inputs, periods: pd.DataFrame | None, as_of: dt.date | str
) -> ObservationTables:
    """Training observations (labelled) and the scoring table at ``as_of`` (cached on disk).

    Training rows: month ends of the ``observation.history_months`` months up to
    ``as_of`` plus renewal checkpoints in the same span; observations whose label window
    runs past the data are dropped and counted. Scoring rows: every account active at
    ``as_of``, unlabelled. Snapshot data gives one row per account.
    """
    from churnlab.cache import cached, fingerprint

    as_of_ts = pd.Timestamp(as_of)
    key_params = {
        "as_of": str(as_of_ts.date()),
        "data": cfg.data.model_dump(mode="json"),
        "observation": cfg.observation.model_dump(mode="json"),
        "features": cfg.features.model_dump(mode="json"),
        "tiers": cfg.tiers.model_dump(mode="json"),
        "code": engine_code_digest(),
    }
    key = fingerprint(list(inputs.files), key_params)
    cache_dir = cfg.path(cfg.run.cache_dir)
    summary_path = cache_dir / f"observations-{key}.summary.json"
    if inputs.shape == "snapshot":
        training = cached(cache_dir, key + "-train", lambda: _snapshot_training(cfg, inputs))
        scoring = training[training["label"] == 0].assign(label=pd.NA)
        summary = {"observations": len(training), "scored_accounts": len(scoring)}
        return ObservationTables(training, scoring.reset_index(drop=True), summary)

    state: dict[str, Any] = {}

    def build_both() -> pd.DataFrame:
        table, summary = _event_tables(cfg, inputs, periods, as_of_ts)
        state["summary"] = summary
        return table

    both = cached(cache_dir, key + "-obs", build_both)
    if "summary" in state:
        cache_dir.mkdir(parents=True, exist_ok=True)
        summary_path.write_text(json.dumps(state["summary"], default=str))
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    is_scoring = both["_scoring"].astype(bool)
    training = both[~is_scoring].drop(columns="_scoring").reset_index(drop=True)
    scoring = both[is_scoring].drop(columns="_scoring").reset_index(drop=True)
    summary["scored_accounts"] = len(scoring)
    return ObservationTables(training, scoring, summary)


def engine_code_digest() -> str:
    """sha256 of the code that builds observation tables: a code change never serves a stale cache."""
    import hashlib

    import churnlab

    package = Path(churnlab.__file__).parent
    digest = hashlib.sha256()
    for name in sorted(
        ["periods.py", "labels.py", "pipeline.py", *[p.name for p in package.glob("features*.py")]]
    ):
        path = package / name
        if path.exists():
            digest.update(name.encode() + path.read_bytes())
    return digest.hexdigest()


def _feature_kwargs(cfg: Params) -> dict[str, Any]:
    return {
        "windows": tuple(cfg.features.windows),
        "event_types": cfg.features.event_types,
        "ratios": {k: tuple(v) for k, v in cfg.features.ratios.items()},
        "touch_thresholds": cfg.tiers.thresholds,
    }


def _event_tables(
    cfg: Params, inputs: Inputs, periods: pd.DataFrame, as_of: pd.Timestamp
) -> tuple[pd.DataFrame, dict[str, Any]]:
    from churnlab.features import build_observation_table
    from churnlab.labels import (
        make_observations,
        month_end_grid,
        renewal_checkpoints,
        scoring_spine,
    )

    obs_cfg = cfg.observation
    start = as_of - pd.DateOffset(months=obs_cfg.history_months)
    grid = month_end_grid(start, as_of)
    # A churn is known only grace_days after the cover ends, so a label window must close
    # grace_days before the data does; later windows are dropped and counted, never
    # labelled 0 (and no positive is lost to a still-open grace window).
    label_end = inputs.data_end - pd.Timedelta(days=obs_cfg.grace_days)
    monthly, s1 = make_observations(
        periods, grid, obs_cfg.lead_days, obs_cfg.horizon_days, label_end
    )
    checkpoints = renewal_checkpoints(
        inputs.subscriptions, obs_cfg.renewal_checkpoint_days, start, as_of
    )
    renewal, s2 = make_observations(
        periods, checkpoints, obs_cfg.lead_days, obs_cfg.horizon_days, label_end
    )
    # One engine pass for the training rows and the scoring rows (flagged by `_scoring`).
    scoring = scoring_spine(periods, as_of)
    spine = pd.concat(
        [
            monthly.assign(_scoring=False),
            renewal.assign(_scoring=False),
            scoring.assign(_scoring=True),
        ],
        ignore_index=True,
    )
    table = build_observation_table(
        inputs.accounts, inputs.subscriptions, inputs.events, spine, **_feature_kwargs(cfg)
    )
    summary = {"month_end": _summary_dict(s1), "renewal": _summary_dict(s2)}
    summary["dropped_window_past_data"] = sum(
        s.get("n_dropped_window_past_data_end", 0) for s in summary.values() if isinstance(s, dict)
    )
    summary["observations"] = int((~table["_scoring"].astype(bool)).sum())
    return table, summary


def _summary_dict(summary: Any) -> dict[str, Any]:
    if hasattr(summary, "to_dict"):
        return summary.to_dict()
    return {k: v for k, v in vars(summary).items() if not k.startswith("_")}


def _snapshot_training(cfg: Params, inputs: Inputs) -> pd.DataFrame:
    from churnlab.data import snapshot_observations
    from churnlab.kpis import touch_tier_from_arr

    snap = cfg.data.snapshot
    table = snapshot_observations(
        inputs.snapshot,
        as_of=pd.Timestamp(cfg.data.as_of),
        id_column=snap.id_column,
        mrr_column=snap.mrr_column,
        tenure_column=snap.tenure_column,
    )
    if "account_id" not in table:
        table = table.rename(columns={snap.id_column: "account_id"})
    if "arr" not in table:
        table["arr"] = float("nan")
    if "touch_tier" not in table:
        table["touch_tier"] = touch_tier_from_arr(table["arr"], *cfg.tiers.thresholds)
    for column in ("renewal_date", "churn_date"):
        if column not in table:
            table[column] = pd.NaT
    if "days_to_renewal" not in table:
        table["days_to_renewal"] = float("nan")
    return table


def account_names(inputs: Inputs) -> pd.DataFrame:
    """``account_id, name`` of every account (ids stand in for names in snapshots)."""
    if inputs.accounts is not None and "name" in inputs.accounts:
        return inputs.accounts[["account_id", "name"]].astype({"account_id": str})
    return pd.DataFrame(columns=["account_id", "name"])


def save_chart(fig: Any, run_dir: str | Path, name: str) -> Path:
    """Save a figure as ``charts/<name>.png`` in the run directory (about 700 px wide)."""
    import matplotlib.pyplot as plt

    path = Path(run_dir) / "charts" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return path


def write_json(payload: Any, path: str | Path) -> Path:
    """Write JSON (indented, dates as ISO strings)."""
    path = Path(path)
    path.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    return path


def delivery_settings(cfg: Params) -> Any:
    """The delivery settings from ``params.yaml`` (credentials stay in the environment)."""
    from churnlab.delivery import DeliverySettings

    return DeliverySettings.from_params(cfg.delivery)


def run_folder(run_dir: str | Path, cfg: Params) -> Path:
    """The run folder a notebook writes to; ``reports/interactive`` when run by hand."""
    path = Path(run_dir) if run_dir else cfg.path(cfg.run.reports_dir) / "interactive"
    (path / "charts").mkdir(parents=True, exist_ok=True)
    return path


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a CSV export that is safe to open in Excel (formula cells neutralised)."""
    from churnlab.csvsafe import write_csv as _write

    _write(frame, Path(path))
    return Path(path)


def tier_summary(kpis: pd.DataFrame, months: int = 6) -> pd.DataFrame:
    """Average monthly logo churn, GRR and NRR per touch tier over the last ``months``."""
    recent = sorted(kpis["month"].unique())[-months:]
    part = kpis[kpis["month"].isin(recent)]
    cols = ["logo_churn_rate", "gross_revenue_retention", "net_revenue_retention", "expansion_rate"]
    table = part.groupby("segment")[cols].mean()
    table["accounts_now"] = part[part["month"] == recent[-1]].set_index("segment")[
        "active_accounts"
    ]
    return table


def write_stage_00(
    out: Path,
    cfg: Params,
    inputs: Inputs,
    periods: pd.DataFrame | None,
    kpis: pd.DataFrame,
    tables: ObservationTables,
) -> None:
    """Hand the data-health stage's results to the next notebooks (files in the run folder)."""
    health = inputs.health.to_dict() if hasattr(inputs.health, "to_dict") else {}
    health["data_end"] = str(inputs.data_end.date())
    health["observations"] = {
        "training_rows": len(tables.training),
        "scoring_rows": len(tables.scoring),
        "dropped_window_past_data": tables.summary.get("dropped_window_past_data", 0),
        "summary": tables.summary,
    }
    write_json(health, out / "data_health.json")
    write_csv(kpis, out / "kpis.csv")
    tables.training.to_parquet(out / "observations.parquet", index=False)
    tables.scoring.to_parquet(out / "scoring.parquet", index=False)
    account_names(inputs).to_parquet(out / "accounts.parquet", index=False)
    if periods is not None:
        periods.to_parquet(out / "periods.parquet", index=False)


def select_cohorts(cfg: Params, observations: pd.DataFrame, as_of: str) -> pd.DataFrame:
    """Churned vs retained accounts at their renewal milestone in the look-back window."""
    from churnlab.cohorts import select_cohorts as _select

    return _select(observations, end=as_of, lookback_days=cfg.cohorts.lookback_days)


def compare_cohorts(cfg: Params, cohort: pd.DataFrame) -> Any:
    """The ranked churned-vs-retained comparison with the params' alpha and group size."""
    from churnlab.cohorts import compare_cohorts as _compare
    from churnlab.features import feature_columns

    numeric, categorical = feature_columns(cohort)
    numeric = [c for c in numeric if c not in cfg.features.exclude and c != "cohort"]
    categorical = [c for c in categorical if c not in cfg.features.exclude and c != "cohort"]
    return _compare(
        cohort,
        numeric=numeric,
        categorical=categorical,
        alpha=cfg.cohorts.alpha,
        min_group=cfg.cohorts.min_group,
        seed=cfg.model.seed,
    )


def top_numeric_feature(comparison: Any) -> str:
    """The highest-ranked numeric feature of a comparison."""
    summary = comparison.summary
    numeric = summary[summary["kind"] == "numeric"] if "kind" in summary else summary
    return str(numeric.iloc[0]["feature"])


def survival_table(cfg: Params, out: Path) -> pd.DataFrame | None:
    """Durations and churn events per touch tier for Kaplan-Meier (None for snapshots without tenure)."""
    from churnlab.survival import survival_frame

    periods_path = out / "periods.parquet"
    observations = pd.read_parquet(out / "scoring.parquet")
    if periods_path.exists():
        periods = pd.read_parquet(periods_path)
        training = pd.read_parquet(out / "observations.parquet")
        tiers = (
            pd.concat([training, observations])
            .sort_values("as_of")
            .drop_duplicates("account_id", keep="last")[["account_id", "touch_tier"]]
        )
        frame = survival_frame(periods, tiers, pd.Timestamp(cfg.data.as_of), by="touch_tier")
        return frame.rename(columns={"duration_months": "duration"})
    training = pd.read_parquet(out / "observations.parquet")
    segment = cfg.cohorts.segment if cfg.cohorts.segment in training else "touch_tier"
    if "tenure_days" not in training:
        return None
    return pd.DataFrame(
        {
            "duration": training["tenure_days"] / 30.44,
            "churned": training["label"].astype(bool),
            "group": training[segment].astype(str),
        }
    )


# --------------------------------------------------------------------------- model stage


def compare_models(cfg: Params, table: pd.DataFrame) -> pd.DataFrame:
    """Backtest the baseline and LightGBM on the same folds; the champion by the params' metric."""
    from churnlab.modeling import compare_models as _compare

    features = model_features(cfg, table)
    return _compare(
        table,
        kinds=("logistic", "lightgbm"),
        metric=cfg.model.champion_metric,
        params=_model_params(cfg),
        n_folds=cfg.model.n_folds,
        seed=cfg.model.seed,
        calibration=cfg.model.calibration,
        lead_days=cfg.observation.lead_days,
        horizon_days=cfg.observation.horizon_days,
        **features,
    )


def model_features(cfg: Params, table: pd.DataFrame) -> dict[str, list[str]]:
    """Numeric and categorical model inputs, without the params' ``features.exclude``."""
    from churnlab.features import feature_columns

    numeric, categorical = feature_columns(table)
    drop = set(cfg.features.exclude)
    return {
        "numeric": [c for c in numeric if c not in drop],
        "categorical": [c for c in categorical if c not in drop],
    }


def _model_params(cfg: Params) -> dict[str, dict[str, Any]]:
    lgb = cfg.model.lightgbm.model_dump()
    lgb["num_threads"] = cfg.model.num_threads
    return {"lightgbm": lgb, "logistic": cfg.model.logistic.model_dump()}


def fit_champion(cfg: Params, table: pd.DataFrame, kind: str) -> Any:
    """Fit the champion on all labelled rows and calibrate it on the latest held-out slice."""
    from churnlab.modeling import fit_churn_model

    # A snapshot's label has no horizon of its own: its probability maps to health as is.
    snapshot = "checkpoint" in table and (table["checkpoint"] == "snapshot").all()
    return fit_churn_model(
        table,
        kind=kind,
        params=_model_params(cfg)[kind],
        seed=cfg.model.seed,
        calibration=cfg.model.calibration,
        lead_days=cfg.observation.lead_days,
        horizon_days=365 if snapshot else cfg.observation.horizon_days,
        **model_features(cfg, table),
    )


def score(cfg: Params, model: Any, scoring: pd.DataFrame, names: pd.DataFrame) -> pd.DataFrame:
    """Churn probability, health score and band, tier, ARR at risk for every active account."""
    from churnlab.modeling import score_accounts

    scores = score_accounts(
        model,
        scoring,
        bands=(cfg.health.red_below, cfg.health.green_from),
        touch_thresholds=cfg.tiers.thresholds,
    )
    if len(names):
        scores = scores.merge(names, on="account_id", how="left")
    if "name" not in scores:
        scores["name"] = scores["account_id"]
    scores["name"] = scores["name"].fillna(scores["account_id"])
    return scores


def model_metrics(cfg: Params, comparison: pd.DataFrame, model: Any) -> dict[str, Any]:
    """The ``model_metrics.json`` payload: comparison, champion, a one-line summary."""
    champion = comparison.attrs["champion"]
    best = comparison.loc[champion]
    rows = []
    for name, row in comparison.iterrows():
        rows.append({"model": name, **{k: _plain(v) for k, v in row.items()}})
    scheme = str(best.get("scheme", ""))
    scheme_text = (
        "rolling-origin backtest: trained on earlier as-of dates, tested on the following period"
        if scheme == "rolling_origin"
        else "stratified cross-validation (snapshot data has no time order)"
    )
    summary = (
        f"The {champion} model ranks a churning account above a renewing one "
        f"{100 * best['roc_auc']:.0f}% of the time (ROC AUC {best['roc_auc']:.2f}); the 10% of "
        f"accounts it rates riskiest churn {best['lift_10']:.1f}× as often as average; predicted "
        f"probabilities are off by {100 * best['ece']:.1f} points on average (ECE), measured by "
        f"{scheme_text}."
    )
    return {
        "champion": champion,
        "champion_metric": comparison.attrs.get("metric"),
        "summary": summary,
        "scheme": scheme,
        "scheme_description": f"Metrics pooled over the folds of a {scheme_text}.",
        "comparison": rows,
        "training": {k: _plain(v) for k, v in getattr(model, "training", {}).items()},
    }


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def calibration_on_holdout(cfg: Params, comparison: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Calibration curve of a model's backtest predictions (data it never saw)."""
    from churnlab.modeling import calibration_curve

    predictions = comparison.attrs["backtests"][kind].predictions
    return calibration_curve(predictions["label"].astype(int), predictions["churn_probability"])


def write_stage_02(out: Path, model: Any, metrics: dict[str, Any], scores: pd.DataFrame) -> None:
    """Hand the model stage's results on: the model (text + JSON), metrics, raw scores."""
    from churnlab.modeling import save_model

    save_model(model, out / "model")
    write_json(metrics, out / "model_metrics.json")
    scores.to_parquet(out / "scores_raw.parquet", index=False)


# --------------------------------------------------------------------------- explanation stage

SCORE_COLUMNS = [
    "account_id",
    "name",
    "as_of",
    "touch_tier",
    "arr",
    "churn_probability",
    "health_score",
    "health_band",
    "renewal_date",
    "days_to_renewal",
    "expected_arr_at_risk",
    "reasons",
]


def account_reasons(
    cfg: Params, shap: Any, scoring: pd.DataFrame, observations: pd.DataFrame
) -> pd.DataFrame:
    """Top risk-raising and risk-lowering reasons per account, with retained-peer context.

    The context is the median of retained accounts (label 0) in the same touch tier, taken
    from the latest three as-of dates of the training observations.
    """
    from churnlab.explain import reason_context, top_reasons

    recent_dates = sorted(observations["as_of"].unique())[-3:]
    reference = observations[observations["as_of"].isin(recent_dates)]
    context = reason_context(reference, by="touch_tier")
    return top_reasons(shap, scoring, k=cfg.explain.top_k, context=context)


def attach_reasons(
    cfg: Params, scores: pd.DataFrame, reasons: pd.DataFrame, scoring: pd.DataFrame
) -> pd.DataFrame:
    """Scores with a one-line ``reasons`` column: each account's top risk-raising drivers."""
    from churnlab.explain import reasons_summary

    summary = reasons_summary(reasons, k=cfg.explain.top_k)
    frame = pd.DataFrame(
        {
            "account_id": scoring.loc[summary.index, "account_id"].astype(str).to_numpy(),
            "reasons": summary.to_numpy(),
        }
    )
    merged = scores.drop(columns=["reasons"], errors="ignore").merge(
        frame, on="account_id", how="left"
    )
    merged["reasons"] = merged["reasons"].fillna("")
    return merged


def renewals_and_warnings(
    cfg: Params, scores: pd.DataFrame, as_of: str, previous_run_dir: str | Path | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The renewal map (next N days) and the early-warning list against the previous run."""
    from churnlab.modeling import early_warning, renewal_map

    renewals = renewal_map(scores, as_of=as_of, days=cfg.health.renewal_window_days)
    previous = None
    if previous_run_dir and (Path(previous_run_dir) / "scores.csv").exists():
        previous = pd.read_csv(Path(previous_run_dir) / "scores.csv", dtype={"account_id": str})
    warnings = early_warning(scores, previous, drop_points=int(cfg.health.early_warning_drop))
    extra = scores[["account_id", "name", "touch_tier", "reasons"]]
    warnings = warnings.rename(columns={"reason": "warning"}).merge(
        extra, on="account_id", how="left"
    )
    return renewals[[c for c in SCORE_COLUMNS if c in renewals]], warnings


def write_stage_03(
    out: Path,
    scores: pd.DataFrame,
    renewals: pd.DataFrame,
    warnings: pd.DataFrame,
    drivers: pd.DataFrame,
) -> None:
    """Write the CSV exports for CSMs (Excel-safe) and the global drivers."""
    ordered = scores[
        [c for c in SCORE_COLUMNS if c in scores] + [c for c in scores if c not in SCORE_COLUMNS]
    ]
    write_csv(ordered, out / "scores.csv")
    write_csv(renewals, out / "renewal_map.csv")
    write_csv(warnings, out / "early_warning.csv")
    write_csv(drivers, out / "drivers.csv")


def explain(cfg: Params, model: Any, scoring: pd.DataFrame, observations: pd.DataFrame) -> Any:
    """Exact SHAP values of every scored account (log-odds).

    The linear baseline is explained against a seeded sample of the training
    observations as background (interventional linear SHAP); TreeSHAP needs none.
    """
    from churnlab.explain import explain_model

    background = None
    if getattr(model, "kind", "") == "logistic":
        size = min(len(observations), 5000)
        background = observations.sample(n=size, random_state=cfg.model.seed)
    return explain_model(model, scoring, background=background)
