"""The whole time-to-churn analysis of one run, from landmarks to per-account outlooks.

:func:`fit_survival` backtests the hazard models against the baselines, fits the chosen
hazard model on every landmark and turns its curves into the per-account columns, the
retained-ARR forecast and the ``survival`` metrics. It takes plain frames and values; the
stage (``churnlab.run.steps.time_to_churn``) reads and writes the files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churnlab.messages import Message, message
from churnlab.survival._curves import (
    churn_before,
    restricted_mean,
    retention_forecast,
    survival_at,
)
from churnlab.survival._evaluate import (
    backtest_split,
    relative_error,
    score_curves,
    supported_horizon,
)
from churnlab.survival._landmarks import MONTH_DAYS, thin_landmarks

__all__ = [
    "OUTLOOK_COLUMNS",
    "SurvivalSettings",
    "SurvivalOutcome",
    "empty_outlook",
    "fit_survival",
]

#: The per-account columns of the time-to-churn model (``time_to_churn.parquet``).
OUTLOOK_COLUMNS = [
    "survival_12m",
    "p_churn_before_renewal",
    "expected_lifetime_months",
    "hazard_churn_probability",
]
#: The months ``survival_12m`` looks ahead.
YEAR = 12
#: Fewest churned landmarks to learn a hazard from.
MIN_CHURNED = 10


@dataclass(frozen=True)
class SurvivalSettings:
    """What the time-to-churn model is fitted with (from ``survival`` and ``model`` params)."""

    horizon: int = 12
    hazard_model: str = "auto"
    max_rows: int = 60000
    interval: float = 0.9
    seed: int = 42
    calibration: str = "isotonic"
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The classifier's label window ``(lead_days, horizon_days)``; None for a snapshot.
    window: tuple[int, int] | None = None


@dataclass
class SurvivalOutcome:
    """What the stage writes: per-account columns, curves, forecast, metrics and notes."""

    per_account: pd.DataFrame
    forecast: pd.DataFrame
    tier_curves: pd.DataFrame
    metrics: dict[str, Any]
    notes: list[Message]
    hazard: Any = None


def empty_outlook(account_ids: pd.Series) -> pd.DataFrame:
    """The per-account columns, all empty (no time-to-churn model on this data)."""
    out = pd.DataFrame({"account_id": account_ids.astype(str).to_numpy()})
    for column in OUTLOOK_COLUMNS:
        out[column] = np.nan
    return out


def _empty(scoring: pd.DataFrame, notes: list[Message], reason: Message) -> SurvivalOutcome:
    metrics = {
        "status": "skipped",
        "reason": reason["text"],
        "reason_message": reason,
        "notes": [m["text"] for m in notes],
        "notes_messages": notes,
    }
    return SurvivalOutcome(
        empty_outlook(scoring["account_id"]), pd.DataFrame(), pd.DataFrame(), metrics, notes
    )


def _backtest(
    split: Any,
    numeric: list[str],
    categorical: list[str],
    settings: SurvivalSettings,
    kinds: list[str],
) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray], list[Message], list[str]]:
    from churnlab.errors import ModelError
    from churnlab.survival._baselines import fit_baselines
    from churnlab.survival._hazard import fit_hazard

    metrics: dict[str, dict[str, float]] = {}
    curves: dict[str, np.ndarray] = {}
    notes: list[Message] = []
    horizon = split.horizon
    train = split.train  # thinned to settings.max_rows by backtest_split
    strongest: list[str] = []
    for kind in kinds:
        try:
            model = fit_hazard(
                train,
                numeric,
                categorical,
                kind=kind,
                params=settings.params.get(kind, {}),
                seed=settings.seed,
                horizon=None if split.scheme == "accounts" else horizon,
                calibration=settings.calibration,
            )
        except ModelError as exc:
            notes.append(
                message("survival.notes.model_failed", model=f"hazard_{kind}", reason=str(exc))
            )
            continue
        s = model.survival(split.test, horizon)
        curves[f"hazard_{kind}"] = s
        metrics[f"hazard_{kind}"] = score_curves(s, split.test, horizon)
        if not strongest:
            ranked = [c for c in model.importance().index if c in set(numeric) | set(categorical)]
            strongest = ranked[:BASELINE_FEATURES]
    if not strongest:
        strongest = [*numeric, *categorical][:BASELINE_FEATURES]
    base_num = [c for c in strongest if c in numeric]
    base_cat = [c for c in strongest if c in categorical]
    baselines, failed = fit_baselines(train, base_num, base_cat, settings.seed)
    for name, why in failed.items():
        notes.append(message("survival.notes.model_failed", model=name, reason=why))
    for name, baseline in baselines.items():
        s = baseline.survival(split.test, horizon)
        curves[name] = s
        metrics[name] = score_curves(s, split.test, horizon)
    return metrics, curves, notes, strongest


#: Features the baselines get: the hazard model's strongest (by gain) of the landmark's.
BASELINE_FEATURES = 10


def _champion(metrics: dict[str, dict[str, float]], wanted: str) -> str | None:
    hazards = [m for m in metrics if m.startswith("hazard_")]
    if wanted != "auto" and f"hazard_{wanted}" in metrics:
        return f"hazard_{wanted}"
    scored = [m for m in hazards if np.isfinite(metrics[m]["integrated_brier_score"])]
    if not scored:
        return hazards[0] if hazards else None
    return min(scored, key=lambda m: metrics[m]["integrated_brier_score"])


def fit_survival(
    landmarks: pd.DataFrame,
    scoring: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    settings: SurvivalSettings,
    *,
    data_end: pd.Timestamp | None,
    classifier: pd.DataFrame | None = None,
    renewal_dates: bool = True,
) -> SurvivalOutcome:
    """Backtest, fit and apply the hazard model (see the module docstring).

    Parameters
    ----------
    landmarks : pandas.DataFrame
        Training landmarks (``duration``, ``event``, ``offset``, features).
    scoring : pandas.DataFrame
        The accounts to look ahead for, as landmarks (``offset``; ``days_to_renewal``).
    numeric, categorical : list of str
        The landmark features the models get.
    settings : SurvivalSettings
    data_end : Timestamp, optional
        The data's last day (event-log data: the time split); None for a snapshot.
    classifier : pandas.DataFrame, optional
        ``account_id, churn_probability`` of the stage-02 classifier, for the gap.
    renewal_dates : bool
        Whether the data has renewal dates (snapshots have none).
    """
    notes: list[Message] = []
    churned = int(landmarks["event"].sum()) if len(landmarks) else 0
    if churned < MIN_CHURNED or churned == len(landmarks):
        reason = message("survival.notes.too_few_churned", churned=churned, needed=MIN_CHURNED)
        return _empty(scoring, notes, reason)
    supported = supported_horizon(landmarks, settings.horizon)
    if data_end is None:  # a snapshot's time axis is tenure: the curve runs on from it
        supported = settings.horizon
    if supported < 1:
        reason = message("survival.notes.no_follow_up")
        return _empty(scoring, notes, reason)
    split = backtest_split(
        landmarks, data_end, supported, settings.seed, max_rows=settings.max_rows
    )
    kinds = ["lightgbm", "logistic"] if settings.hazard_model == "auto" else [settings.hazard_model]
    metrics, curves, fit_notes, strongest = _backtest(split, numeric, categorical, settings, kinds)
    notes += fit_notes
    champion = _champion(metrics, settings.hazard_model)
    if champion is None:
        reason = message("survival.notes.no_hazard_model")
        return _empty(scoring, notes, reason)
    from churnlab.survival._hazard import fit_hazard

    train = thin_landmarks(
        landmarks, supported if data_end is not None else None, settings.max_rows, settings.seed
    )
    if len(train) < len(landmarks):
        notes.append(message("survival.notes.thinned", landmarks=len(train), total=len(landmarks)))
    kind = champion.removeprefix("hazard_")
    hazard = fit_hazard(
        train,
        numeric,
        categorical,
        kind=kind,
        params=settings.params.get(kind, {}),
        seed=settings.seed,
        horizon=supported if data_end is not None else None,
        calibration=settings.calibration,
    )
    s = hazard.survival(scoring, supported)
    per_account = pd.DataFrame({"account_id": scoring["account_id"].astype(str).to_numpy()})
    per_account["survival_12m"] = s[:, YEAR - 1] if supported >= YEAR else np.nan
    if supported < YEAR:
        notes.append(message("survival.notes.short_history", months=supported))
    if renewal_dates and "days_to_renewal" in scoring:
        days = pd.to_numeric(scoring["days_to_renewal"], errors="coerce").to_numpy(dtype=float)
        per_account["p_churn_before_renewal"] = churn_before(s, days / MONTH_DAYS)
        beyond = int((np.isfinite(days) & (np.ceil(days / MONTH_DAYS) > supported)).sum())
        if beyond:
            notes.append(message("survival.notes.renewal_beyond", n=beyond, months=supported))
    else:
        per_account["p_churn_before_renewal"] = np.nan
        notes.append(message("survival.notes.no_renewal_dates"))
    per_account["expected_lifetime_months"] = restricted_mean(s, supported)
    notes.append(message("survival.notes.lifetime", months=supported))
    gap: dict[str, Any] = {}
    if settings.window is not None:
        lead, days_ahead = settings.window
        start, stop = lead / MONTH_DAYS, (lead + days_ahead) / MONTH_DAYS
        if stop <= supported:
            p = survival_at(s, np.full(len(s), start)) - survival_at(s, np.full(len(s), stop))
            per_account["hazard_churn_probability"] = p
            gap = _gap(per_account, classifier, lead, days_ahead)
        else:
            per_account["hazard_churn_probability"] = np.nan
    else:
        per_account["hazard_churn_probability"] = np.nan
    arr = pd.to_numeric(scoring.get("arr"), errors="coerce")
    money = arr.to_numpy(dtype=float) if arr is not None else np.zeros(len(scoring))
    tiers = scoring["touch_tier"].to_numpy(dtype=object) if "touch_tier" in scoring else None
    # the model's own error: the larger back-test error of the two hazard models, month by month
    errors = [
        relative_error(c, split.test, split.horizon)
        for m, c in curves.items()
        if m.startswith("hazard_")
    ]
    error = _model_error(np.max(errors, axis=0), supported)
    forecast = retention_forecast(s, money, tiers, level=settings.interval, model_error=error)
    tier_curves = _tier_curves(s, tiers)
    best_baseline = _best_baseline(metrics)
    survival_metrics: dict[str, Any] = {
        "status": "trained",
        "hazard_model": champion,
        "hazard": dict(metrics[champion]),
        **{name: values for name, values in metrics.items()},
        "horizon_months": supported,
        "backtest": {
            "scheme": split.scheme,
            "test_as_of": split.test_as_of,
            "horizon_months": split.horizon,
            "train_landmarks": split.train_landmarks,
            "test_landmarks": int(len(split.test)),
            "test_churned": int(split.test["event"].sum()),
        },
        "baseline_features": strongest,
        "better_baseline": best_baseline,
        "ibs_improvement": _improvement(metrics, champion, best_baseline),
        "classifier_gap": gap,
        "interval": settings.interval,
        "model_error": [float(x) for x in error],
        "training": hazard.training,
        "notes": [m["text"] for m in notes],
        "notes_messages": notes,
    }
    return SurvivalOutcome(per_account, forecast, tier_curves, survival_metrics, notes, hazard)


def _model_error(error: np.ndarray, months: int) -> np.ndarray:
    """The backtest's relative error per month, carried on linearly past its last month."""
    out = np.zeros(months)
    n = min(len(error), months)
    out[:n] = error[:n]
    if n and months > n:
        out[n:] = error[n - 1] * np.arange(n + 1, months + 1) / n
    return out


def _tier_curves(s: np.ndarray, tiers: np.ndarray | None) -> pd.DataFrame:
    """The mean survival curve of each touch tier (and of all accounts), month 0 = 1."""
    groups = [("all", np.ones(len(s), dtype=bool))]
    if tiers is not None:
        groups += [(str(t), tiers == t) for t in pd.unique(tiers[pd.notna(tiers)])]
    rows = []
    for name, mask in groups:
        if not mask.any():
            continue
        curve = np.concatenate([[1.0], s[mask].mean(axis=0)])
        rows += [
            {"group": name, "month": m, "survival": float(v), "accounts": int(mask.sum())}
            for m, v in enumerate(curve)
        ]
    return pd.DataFrame(rows)


def _best_baseline(metrics: dict[str, dict[str, float]]) -> str | None:
    base = [m for m in ("cox", "weibull_aft") if m in metrics]
    base = [m for m in base if np.isfinite(metrics[m]["integrated_brier_score"])]
    return min(base, key=lambda m: metrics[m]["integrated_brier_score"]) if base else None


def _improvement(
    metrics: dict[str, dict[str, float]], champion: str, baseline: str | None
) -> float | None:
    """How much lower the hazard model's integrated Brier score is (share of the baseline's)."""
    if baseline is None:
        return None
    ours = metrics[champion]["integrated_brier_score"]
    theirs = metrics[baseline]["integrated_brier_score"]
    return float(1.0 - ours / theirs) if theirs > 0 else None


def _gap(
    per_account: pd.DataFrame, classifier: pd.DataFrame | None, lead: int, days: int
) -> dict[str, Any]:
    """The hazard model's churn probability in the classifier's window against the classifier's."""
    if classifier is None or "churn_probability" not in classifier:
        return {}
    both = (
        per_account[["account_id", "hazard_churn_probability"]]
        .merge(
            classifier[["account_id", "churn_probability"]].astype({"account_id": str}),
            on="account_id",
        )
        .dropna()
    )
    if len(both) < 2:
        return {}
    h, c = both["hazard_churn_probability"], both["churn_probability"]
    return {
        "lead_days": lead,
        "horizon_days": days,
        "accounts": int(len(both)),
        "mean_hazard": float(h.mean()),
        "mean_classifier": float(c.mean()),
        "mean_difference": float((h - c).mean()),
        "mean_absolute_difference": float((h - c).abs().mean()),
        "rank_correlation": float(h.corr(c, method="spearman")),
    }
