"""The executive view of the report: every figure of ``_executive.html.j2``, ready to print.

:func:`executive_view` reads the run's files (``kpis.csv``, ``scores.csv`` and the
executive files stage 00 wrote) and the scores of the earlier runs of the data set,
computes with :mod:`churnlab.executive`, and formats every number with the report's
:class:`~churnlab.vocabulary.Vocabulary`, so the template only places text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from churnlab import csvsafe
from churnlab import executive as ex
from churnlab.config import Params
from churnlab.run.folder import RunFolder
from churnlab.vocabulary import BANDS, Vocabulary

__all__ = ["TREND_RUNS", "executive_view"]

#: Runs shown in the trends (this one and the earlier ones of the data set).
TREND_RUNS = 8


def _csv(path: Any, **kwargs: Any) -> pd.DataFrame:
    try:
        return csvsafe.read_csv(path, dtype={"account_id": str}, **kwargs)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame()


def _json(path: Any) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _good(change: float, good_up: bool) -> bool | None:
    if not _finite(change) or abs(change) < 1e-12:
        return None
    return (change > 0) == good_up


def _kpi_rows(kpis: pd.DataFrame, words: Vocabulary) -> list[dict[str, Any]]:
    table = ex.kpi_changes(kpis)
    rows = []
    for r in table.itertuples(index=False):
        show = words.money if r.kind == "money" else words.rate
        rows.append(
            {
                "label": words.text(f"executive.kpis.{r.key}"),
                "value": show(r.value),
                "mom": words.change(r.kind, r.mom),
                "yoy": words.change(r.kind, r.yoy),
                "mom_good": _good(r.mom, r.good_up),
                "yoy_good": _good(r.yoy, r.good_up),
            }
        )
    return rows


def _bridge(kpis: pd.DataFrame, words: Vocabulary) -> dict[str, Any] | None:
    month, trailing = ex.mrr_bridge(kpis, 1), ex.mrr_bridge(kpis, 12)
    if month is None or trailing is None:
        return None
    rows = []
    for (name, a), (_, b) in zip(month.steps(), trailing.steps(), strict=True):
        total = name in ("start", "end")
        rows.append(
            {
                "step": words.text(f"executive.bridge.steps.{name}"),
                "total": total,
                "month": words.money(a) if total else words.change("money", a),
                "trailing": words.money(b) if total else words.change("money", b),
            }
        )
    return {
        "rows": rows,
        "month": words.text("executive.bridge.month", month=words.month(month.last_month.date())),
        "trailing": words.text(
            "executive.bridge.trailing",
            first=words.month(trailing.first_month.date()),
            last=words.month(trailing.last_month.date()),
            months=trailing.months,
        ),
        "short": words.text("executive.bridge.short", months=trailing.months)
        if trailing.months < 12
        else None,
    }


def _runs(
    folder: RunFolder, as_of: str, earlier: Sequence[RunFolder]
) -> list[tuple[str, pd.DataFrame]]:
    """``(as_of, scores)`` of the last earlier runs that have scores, then this run."""
    found = []
    for run in list(earlier)[-(TREND_RUNS - 1) :]:
        scores = _csv(run.scores)
        day = str(_json(run.manifest).get("as_of") or "")
        if not scores.empty and day and day < as_of:
            found.append((day, scores))
    return [*found, (as_of, _csv(folder.scores))]


def _portfolio(
    scores: pd.DataFrame, trend: pd.DataFrame, words: Vocabulary
) -> dict[str, Any] | None:
    table = ex.portfolio_score(scores)
    if table.empty:
        return None
    before = trend.iloc[-2] if len(trend) > 1 else None
    rows = []
    for r in table.itertuples(index=False):
        column = "score" if r.segment == "all" else f"score_{r.segment}"
        change = float(r.score) - float(before[column]) if before is not None else float("nan")
        rows.append(
            {
                "segment": words.text("executive.portfolio.all")
                if r.segment == "all"
                else words.tier_label(r.segment),
                "all": r.segment == "all",
                "accounts": words.number(r.accounts),
                "arr": words.money(r.arr),
                "score": words.number(round(r.score)),
                "change": (("+" if round(change) > 0 else "") + words.number(round(change)))
                if _finite(change)
                else words.text("changes.no_comparable_run"),
                "good": _good(round(change) if _finite(change) else float("nan"), True),
            }
        )
    history = [
        {"as_of": words.date(r.as_of), "score": words.number(round(r.score))}
        for r in trend.itertuples(index=False)
        if _finite(r.score)
    ]
    return {
        "rows": rows,
        "weighted": bool(table["weighted"].all()),
        "history": history if len(history) > 1 else [],
    }


def _health(scores: pd.DataFrame, trend: pd.DataFrame, words: Vocabulary) -> dict[str, Any] | None:
    table = ex.health_distribution(scores)
    if table.empty:
        return None
    rows = [
        {
            "band": r.band,
            "label": words.band_label(r.band),
            "accounts": words.number(r.accounts),
            "account_share": words.rate(r.account_share),
            "arr": words.money(r.arr),
            "arr_share": words.rate(r.arr_share),
        }
        for r in table.itertuples(index=False)
    ]
    runs = [words.date(str(day)) for day in trend["as_of"]]
    history = [
        {
            "band": band,
            "label": words.band_label(band),
            "shares": [
                words.text("executive.health.trend_cell", accounts=words.rate(a), arr=words.rate(r))
                for a, r in zip(trend[f"accounts_{band}"], trend[f"arr_{band}"], strict=True)
            ],
        }
        for band in BANDS
    ]
    return {"rows": rows, "runs": runs if len(runs) > 1 else [], "history": history}


def _onboarding(
    table: pd.DataFrame, event_types: Sequence[str], days: int, words: Vocabulary
) -> dict[str, Any]:
    missing = [e for e in ("onboarding_completed", "first_value") if e not in set(event_types)]
    if table.empty or len(missing) == 2:
        events = ", ".join(missing) or "onboarding_completed, first_value"
        return {"rows": [], "note": words.text("executive.onboarding.no_events", events=events)}
    rows = []
    for r in table.itertuples(index=False):
        rate = words.rate(r.onboarding_completion_rate, 0)
        ttv = r.median_time_to_value_days
        rows.append(
            {
                "cohort": words.month(str(r.cohort)[:10]),
                "started": words.number(r.accounts_started),
                "completed": rate
                if str(r.window_complete).lower() == "true"
                else words.text("executive.onboarding.open", rate=rate),
                "ttv": words.text("executive.onboarding.days", days=words.number(round(ttv)))
                if _finite(ttv)
                else words.text("changes.missing"),
            }
        )
    return {"rows": rows, "note": words.text("executive.onboarding.note", days=days)}


def _engagement(
    touches: pd.DataFrame,
    scores: pd.DataFrame,
    cfg: Params,
    snapshot: bool,
    as_of: str,
    words: Vocabulary,
) -> dict[str, Any]:
    eng = cfg.engagement
    if snapshot:
        return {"rows": [], "notes": [words.text("executive.engagement.snapshot")]}
    kinds = [c[: -len("_in_window")] for c in touches.columns if c.endswith("_in_window")]
    if not kinds:
        events = ", ".join(name for names in eng.touch_types.values() for name in names)
        return {"rows": [], "notes": [words.text("executive.engagement.none", events=events)]}
    if scores.empty:
        return {"rows": [], "notes": [words.text("executive.portfolio.none")]}
    table = ex.engagement_coverage(touches, scores, eng.expected)
    rows = []
    for r in table.itertuples(index=False):
        rows.append(
            {
                "tier": words.tier_label(r.touch_tier),
                "touch": _kind_label(r.kind, words),
                "covered": words.text(
                    "executive.engagement.share",
                    share=words.rate(r.share, 0),
                    covered=words.number(r.covered),
                    accounts=words.number(r.accounts),
                ),
                "arr_covered": words.money(r.arr_covered),
                "health_covered": words.number(round(r.median_health_covered))
                if _finite(r.median_health_covered)
                else words.text("changes.missing"),
                "health_not": words.number(round(r.median_health_not_covered))
                if _finite(r.median_health_not_covered)
                else words.text("changes.missing"),
            }
        )
    notes = [
        words.text(
            "executive.engagement.missing_kind",
            tier=words.tier_label(tier),
            kind=_kind_label(kind, words),
        )
        for tier, kind in eng.expected.items()
        if kind not in kinds
    ]
    notes.append(
        words.text("executive.engagement.note", days=eng.window_days, as_of=words.date(as_of))
    )
    return {"rows": rows, "notes": notes}


def _kind_label(kind: str, words: Vocabulary) -> str:
    try:
        return words.text(f"executive.engagement.kinds.{kind}")
    except KeyError:  # a kind the user named in engagement.touch_types
        return kind.replace("_", " ")


def _cost(kpis: pd.DataFrame, cfg: Params, snapshot: bool, words: Vocabulary) -> dict[str, Any]:
    cost = cfg.report.cs_cost
    if cost is None:
        return {"rows": [], "notes": [words.text("executive.cost.none")]}
    table = ex.retention_cost(kpis, cost)
    if table.empty:
        return {"rows": [], "notes": [words.text("executive.cost.no_history")]}
    unit = words.money(1000)
    rows = [
        {
            "segment": words.text("executive.portfolio.all")
            if r.segment == "all"
            else words.tier_label(r.segment),
            "monthly_cost": words.money(r.monthly_cost),
            "retained_accounts": words.number(r.retained_accounts),
            "retained_arr": words.money(r.retained_arr),
            "per_account": words.money(r.cost_per_account),
            "per_arr": words.money(r.cost_per_1k_arr),
        }
        for r in table.itertuples(index=False)
    ]
    notes = [
        words.text(
            "executive.cost.note", month=words.month(table["month"].iloc[0].date()), unit=unit
        )
    ]
    if isinstance(cost, dict) and "all" not in set(table["segment"]):
        notes.append(words.text("executive.cost.partial"))
    return {"rows": rows, "notes": notes, "unit": unit}


def executive_view(
    folder: RunFolder,
    cfg: Params,
    words: Vocabulary,
    earlier: Sequence[RunFolder] = (),
) -> dict[str, Any]:
    """Everything the executive view shows, formatted (the template's ``executive``).

    Parameters
    ----------
    folder : RunFolder
        The run (its stages have written their files).
    cfg : Params
        Effective params (``engagement``, ``report.cs_cost``, ``kpis.onboarding_days``).
    words : Vocabulary
        The report's language and currency.
    earlier : sequence of RunFolder
        The earlier successful runs of the data set, oldest first (the trends).

    Returns
    -------
    dict
        ``what_changed`` (list of sentences, also in the headline), ``snapshot``,
        ``kpis``, ``kpi_month``, ``bridge``, ``portfolio``, ``health``, ``cohorts``
        (whether the heatmap has cells), ``onboarding``, ``engagement``, ``cost``;
        a part that cannot be shown is None or comes with the note that says why.
    """
    kpis = _csv(folder.kpis)
    scores = _csv(folder.scores)
    health = _json(folder.data_health)
    manifest = _json(folder.manifest)
    snapshot = cfg.data.shape == "snapshot"
    as_of = str(manifest.get("as_of") or cfg.scoring_as_of())[:10]
    trend = ex.book_trend(_runs(folder, as_of, earlier))
    bridge = None if snapshot or kpis.empty else ex.mrr_bridge(kpis, 1)
    month = ex.overall(kpis)["month"].iloc[-1] if not kpis.empty else None
    return {
        "snapshot": snapshot,
        "what_changed": ex.what_changed(
            bridge, kpis if not snapshot else kpis.head(0), trend, words
        ),
        "kpis": [] if snapshot or kpis.empty else _kpi_rows(kpis, words),
        "kpi_month": words.month(month.date()) if month is not None else "",
        "bridge": None if snapshot or kpis.empty else _bridge(kpis, words),
        "portfolio": _portfolio(scores, trend, words),
        "health": _health(scores, trend, words),
        "cohorts": not snapshot and not _csv(folder.cohort_retention).empty,
        "onboarding": _onboarding(
            _csv(folder.onboarding),
            health.get("event_types") or [],
            cfg.kpis.onboarding_days,
            words,
        )
        if not snapshot
        else None,
        "engagement": _engagement(_csv(folder.engagement), scores, cfg, snapshot, as_of, words),
        "cost": _cost(kpis, cfg, snapshot, words),
    }
