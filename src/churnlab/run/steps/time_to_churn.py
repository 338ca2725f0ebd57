"""Stage 03, time to churn: when each account may churn, and which lever lowers its risk most.

Notebook ``03_time_to_churn`` calls these functions cell by cell; :func:`run` calls them in
the same order without a kernel. Reads ``model/``, ``observations.parquet``,
``scoring.parquet``, ``periods.parquet``, ``scores_raw.parquet`` and ``data_health.json``;
writes ``time_to_churn.parquet`` (per scored account: ``survival_12m``,
``p_churn_before_renewal``, ``expected_lifetime_months``, ``hazard_churn_probability`` and
the lever columns ``biggest_lever``, ``lever_risk_drop``, ``lever_arr_protected``),
``retention_forecast.csv``, ``levers.csv``, ``survival_metrics.json`` (read as the
``survival`` section of the model metrics: :meth:`RunFolder.read_model_metrics`) and the
``retention_forecast`` and ``survival_by_tier`` charts.

The hazard model (:mod:`churnlab.survival`) learns from the month-end observations and
what happened after each (the active periods); a snapshot learns along tenure, and one
without a tenure column gets empty survival columns and a note. ``churn_probability``
stays the churn model's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnlab.atomic import write_json
from churnlab.config import Params
from churnlab.csvsafe import write_csv
from churnlab.run.steps.context import StageContext, chart_words, save_chart
from churnlab.vocabulary import Vocabulary

#: What the stage imports, for a kernel started ahead to import while the stage before runs.
WARM_UP = (
    "churnlab.survival",
    "churnlab.modeling",
    "churnlab.modeling.levers",
    "churnlab.plots.survival",
    "lifelines",
)

__all__ = [
    "backtest_summary",
    "forecast_summary",
    "levers_table",
    "outlook_summary",
    "OUTLOOK_MEASURES",
    "TIME_TO_CHURN_COLUMNS",
    "account_columns",
    "landmarks",
    "levers",
    "read_inputs",
    "run",
    "save_charts",
    "settings",
    "time_to_churn",
    "write",
]

#: The columns stage 04 merges into ``scores.csv`` (after ``account_id``).
TIME_TO_CHURN_COLUMNS = [
    "survival_12m",
    "p_churn_before_renewal",
    "expected_lifetime_months",
    "biggest_lever",
    "lever_risk_drop",
    "lever_arr_protected",
]


def read_inputs(
    ctx: StageContext,
) -> tuple[Any, pd.DataFrame, pd.DataFrame, pd.DataFrame | None, pd.DataFrame]:
    """``(model, observations, scoring, periods, scores_raw)`` as stages 00 and 02 wrote them.

    ``periods`` is None for snapshot data.

    Raises
    ------
    StageSkipped
        When stage 02 trained no model (its reason is in ``model_metrics.json``).
    """
    from churnlab.modeling import load_model
    from churnlab.run.steps.context import stop_without_model

    folder = ctx.folder
    stop_without_model(folder, "survival.notes.no_model")
    periods = pd.read_parquet(folder.periods) if folder.periods.exists() else None
    return (
        load_model(folder.model),
        pd.read_parquet(folder.observations),
        pd.read_parquet(folder.scoring),
        periods,
        pd.read_parquet(folder.scores_raw),
    )


def settings(cfg: Params, snapshot: bool) -> Any:
    """The hazard model's settings: ``survival`` params, the churn model's seed and classifiers.

    The LightGBM hazard learns faster than the churn model (rate 0.1, at most 150 rounds,
    stopping after 15 without gain, 63 bins): its rows are many and simple.
    """
    from churnlab.survival import SurvivalSettings

    lgb = {
        **cfg.model.lightgbm.model_dump(),
        "num_threads": cfg.model.num_threads,
        "learning_rate": 0.1,
        "n_estimators": 150,
        "early_stopping_rounds": 15,
        "max_bin": 63,
        "min_child_samples": 100,
    }
    window = None if snapshot else (cfg.observation.lead_days, cfg.observation.horizon_days)
    return SurvivalSettings(
        horizon=cfg.survival.horizon_months,
        hazard_model=cfg.survival.hazard_model,
        max_rows=cfg.survival.max_rows,
        interval=cfg.survival.interval,
        seed=cfg.model.seed,
        calibration=cfg.model.calibration,
        params={"lightgbm": lgb, "logistic": cfg.model.logistic.model_dump()},
        window=window,
    )


def landmarks(
    cfg: Params,
    observations: pd.DataFrame,
    scoring: pd.DataFrame,
    periods: pd.DataFrame | None,
) -> tuple[pd.DataFrame | None, pd.DataFrame, list[dict[str, Any]]]:
    """``(training landmarks, scoring landmarks, notes)``; no training landmarks without a time axis.

    Event-log data: the month-end observations followed through the active periods to
    ``data.as_of``. A snapshot: the accounts along their tenure (none without a tenure
    column: the note says so).
    """
    from churnlab.messages import message
    from churnlab.survival import event_landmarks, snapshot_landmarks

    if periods is not None:
        end = pd.Timestamp(cfg.data_end())
        train = event_landmarks(observations, periods, end, cfg.observation.grace_days)
        return train, scoring.assign(offset=0.0), []
    if "tenure_days" not in observations or observations["tenure_days"].isna().all():
        return None, scoring.assign(offset=0.0), [message("survival.notes.no_tenure")]
    notes = [message("survival.notes.snapshot_axis")]
    return snapshot_landmarks(observations), snapshot_landmarks(scoring, scoring=True), notes


def time_to_churn(
    cfg: Params,
    model: Any,
    train: pd.DataFrame | None,
    scoring: pd.DataFrame,
    scores_raw: pd.DataFrame,
    notes: list[dict[str, Any]],
) -> Any:
    """Backtest and fit the hazard model; per-account outlooks, forecast and metrics.

    The landmark features are the churn model's (a snapshot's tenure is the time axis,
    never a feature). Returns a :class:`churnlab.survival.SurvivalOutcome`.
    """
    from churnlab.messages import message
    from churnlab.survival import SurvivalOutcome, empty_outlook, fit_survival

    snapshot = cfg.data.shape == "snapshot"
    if train is None:
        metrics = {
            "status": "skipped",
            "reason": notes[0]["text"],
            "reason_message": notes[0],
            "notes": [m["text"] for m in notes],
            "notes_messages": notes,
        }
        return SurvivalOutcome(
            empty_outlook(scoring["account_id"]), pd.DataFrame(), pd.DataFrame(), metrics, notes
        )
    numeric = list(model.numeric_features)
    if snapshot:  # tenure is the time axis: neither it nor what measures it is a feature
        numeric, dropped = _without_tenure(train, numeric)
        if dropped:
            notes = [*notes, message("survival.notes.tenure_like", columns=dropped)]
    outcome = fit_survival(
        train,
        scoring,
        numeric,
        list(model.categorical_features),
        settings(cfg, snapshot),
        data_end=None if snapshot else pd.Timestamp(cfg.data_end()),
        classifier=scores_raw,
        renewal_dates=not snapshot,
    )
    outcome.notes[:0] = notes
    outcome.metrics["notes"] = [m["text"] for m in outcome.notes]
    outcome.metrics["notes_messages"] = list(outcome.notes)
    return outcome


#: A snapshot feature this rank-correlated with tenure measures it (total charges).
TENURE_LIKE = 0.8


#: The per-account outlook columns as notebook 03's summary names them.
OUTLOOK_MEASURES = {
    "survival_12m": "12-month survival",
    "p_churn_before_renewal": "Churn before renewal",
    "expected_lifetime_months": "Expected lifetime (months)",
    "hazard_churn_probability": "Hazard model's churn probability",
}


def outlook_summary(outlook: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The per-account outlook in five rows: the mean, the 10th, 50th and 90th percentiles.

    Returns the table (a column per outlook measure that has a value this run, named as
    :data:`OUTLOOK_MEASURES`; empty when none has) and the names of its probability columns
    (every one but the expected lifetime, which is in months).
    """
    present = [c for c in OUTLOOK_MEASURES if c in outlook and outlook[c].notna().any()]
    if not present:
        return pd.DataFrame(), []
    quantiles = (
        outlook[present]
        .quantile([0.1, 0.5, 0.9])
        .set_axis(["10th percentile", "Median", "90th percentile"])
    )
    summary = pd.concat([outlook[present].mean().to_frame("Mean").T, quantiles])
    rates = [OUTLOOK_MEASURES[c] for c in present if c != "expected_lifetime_months"]
    return summary.rename(columns=OUTLOOK_MEASURES), rates


def forecast_summary(forecast: pd.DataFrame, words: Vocabulary) -> tuple[str, pd.DataFrame]:
    """The retained-ARR forecast's last month, as the notebook shows it.

    Returns the sentence the report's forecast section opens with (the same catalogue
    entry, ``survival.forecast.intro``) and the book and each touch tier at that month:
    accounts, ARR today, expected retained ARR with its band, and the retained share.
    """
    said = words.text
    last = forecast[forecast["month"] == forecast["month"].max()]
    book = last[last["group"] == "all"].iloc[0]
    sentence = said(
        "survival.forecast.intro",
        expected=words.money(book["expected_arr"]),
        arr=words.money(book["arr"]),
        months=words.number(book["month"]),
        retention=words.rate(book["retention"], 0),
        lower=words.money(book["arr_lower"]),
        upper=words.money(book["arr_upper"]),
    )
    names = {
        "group": "Touch tier",
        "accounts": "Accounts",
        "arr": "ARR today",
        "expected_arr": "Expected retained ARR",
        "arr_lower": "Low end",
        "arr_upper": "High end",
        "retention": "Retained share",
    }
    table = last.assign(
        group=[said("survival.chart.all") if g == "all" else g for g in last["group"]]
    )
    return sentence, table[list(names)].reset_index(drop=True).rename(columns=names)


def levers_table(cfg: Params, by_lever: pd.DataFrame, words: Vocabulary) -> pd.DataFrame:
    """The levers that change some account, with the report's rows and column names.

    One row per lever (its label, the play's next step, the accounts it changes, the mean
    change in churn probability, the ARR it protects, the accounts it is the biggest lever
    for), from the same function as the report's levers section
    (:func:`churnlab.report.accounts.lever_context`); a lever that changes no account is
    left to the notes.
    """
    from churnlab.report.accounts import lever_context

    rows = lever_context(pd.DataFrame(), by_lever, cfg, words)["lever_rows"]
    columns = {
        "lever": "label",
        "play": "next_step",
        "applies_to": "applies_to",
        "mean_risk_drop": "mean_risk_drop_display",
        "arr_protected": "arr_protected",
        "biggest_for": "biggest_for",
    }
    return pd.DataFrame(
        {words.text(f"levers.columns.{c}"): [r[k] for r in rows] for c, k in columns.items()}
    )


def backtest_summary(metrics: dict[str, Any], words: Vocabulary) -> tuple[pd.DataFrame, list[str]]:
    """The back-test of the hazard model and its baselines, as the notebook shows it.

    Returns the comparison (Harrell's C, integrated Brier score, D-calibration p per model,
    the chosen one marked; empty without a back-test) and the sentences under it: what it
    was tested on, the gain over the better baseline, the gap to the classifier
    (:func:`churnlab.report.trust.survival_backtest_sentences`, as the report's appendix).
    """
    said, a = words.text, "survival.appendix."
    models = words.catalogue["survival"]["appendix"]["models"]
    names = [
        m for m in ("hazard_lightgbm", "hazard_logistic", "cox", "weibull_aft") if m in metrics
    ]
    if not names:
        return pd.DataFrame(), []
    chosen = metrics["hazard_model"]
    compared = pd.DataFrame(
        {
            said(a + "c_index"): [metrics[m]["c_index"] for m in names],
            said(a + "ibs"): [metrics[m]["integrated_brier_score"] for m in names],
            "p_value": [metrics[m]["d_calibration_p"] for m in names],
        },
        index=[said(a + "chosen", model=models[m]) if m == chosen else models[m] for m in names],
    ).rename(columns={"p_value": said(a + "d_cal")})
    from churnlab.report.trust import survival_backtest_sentences

    return compared, survival_backtest_sentences(metrics, words)


def _without_tenure(train: pd.DataFrame, numeric: list[str]) -> tuple[list[str], list[str]]:
    """``numeric`` without ``tenure_days`` and the columns that track it (|Spearman| > 0.8)."""
    tenure = pd.to_numeric(train["tenure_days"], errors="coerce")
    dropped = []
    for column in numeric:
        if column == "tenure_days":
            continue
        values = pd.to_numeric(train[column], errors="coerce")
        rho = values.corr(tenure, method="spearman")
        if pd.notna(rho) and abs(rho) > TENURE_LIKE:
            dropped.append(column)
    return [c for c in numeric if c != "tenure_days" and c not in dropped], dropped


def levers(cfg: Params, model: Any, scoring: pd.DataFrame, observations: pd.DataFrame) -> Any:
    """What-if levers (:func:`churnlab.modeling.levers.evaluate_levers`) on the scored accounts."""
    from churnlab.modeling.levers import evaluate_levers

    return evaluate_levers(model, scoring, cfg, reference=observations)


def account_columns(outcome: Any, lever_result: Any) -> pd.DataFrame:
    """One row per scored account: the survival columns beside the lever columns."""
    per_account = outcome.per_account.reset_index(drop=True)
    lever_cols = lever_result.per_account.reset_index(drop=True)
    out = per_account.copy()
    for column in ("biggest_lever", "lever_risk_drop", "lever_arr_protected"):
        out[column] = lever_cols[column].to_numpy() if column in lever_cols else np.nan
    return out


def save_charts(ctx: StageContext, outcome: Any) -> list[str]:
    """The ``retention_forecast`` and ``survival_by_tier`` charts (none without a model)."""
    from churnlab.plots.survival import plot_retention_forecast, plot_survival_by_tier

    if outcome.forecast.empty:
        return []
    words = chart_words(ctx.cfg)
    save_chart(
        plot_retention_forecast(outcome.forecast, words=words),
        ctx.folder.chart("retention_forecast"),
    )
    save_chart(
        plot_survival_by_tier(outcome.tier_curves, words=words),
        ctx.folder.chart("survival_by_tier"),
    )
    return ["retention_forecast", "survival_by_tier"]


def _summary(outcome: Any) -> dict[str, Any]:
    """The forecast's last month for the book and each tier (what the report says)."""
    forecast = outcome.forecast
    if forecast.empty:
        return {}
    last = forecast[forecast["month"] == forecast["month"].max()]
    return {
        str(row["group"]): {
            k: (float(row[k]) if k != "month" else int(row[k]))
            for k in ("month", "arr", "expected_arr", "arr_lower", "arr_upper", "retention")
        }
        for _, row in last.iterrows()
    }


def write(ctx: StageContext, columns: pd.DataFrame, outcome: Any, lever_result: Any) -> list[str]:
    """Hand the stage's results on: per-account columns, forecast, levers, survival metrics."""
    folder = ctx.folder
    metrics = {**outcome.metrics, "forecast": _summary(outcome)}
    lever_notes = list(getattr(lever_result, "notes", []) or [])
    metrics["lever_notes"] = [m["text"] for m in lever_notes]
    metrics["lever_notes_messages"] = lever_notes
    columns.to_parquet(folder.time_to_churn, index=False)
    written = [
        folder.time_to_churn,
        write_csv(outcome.forecast, folder.retention_forecast),
        write_csv(lever_result.by_lever, folder.levers),
        write_json(folder.survival_metrics, _plain(metrics)),
    ]
    return sorted(p.name for p in written)


def _plain(value: Any) -> Any:
    """JSON-ready: NaN and inf as None, numpy numbers as Python ones."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def run(ctx: StageContext) -> None:
    """The whole stage, as notebook ``03_time_to_churn`` runs it."""
    cfg = ctx.cfg
    model, observations, scoring, periods, scores_raw = read_inputs(ctx)
    train, scoring_landmarks, notes = landmarks(cfg, observations, scoring, periods)
    outcome = time_to_churn(cfg, model, train, scoring_landmarks, scores_raw, notes)
    save_charts(ctx, outcome)
    lever_result = levers(cfg, model, scoring, observations)
    write(ctx, account_columns(outcome, lever_result), outcome, lever_result)
