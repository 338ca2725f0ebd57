"""What-if levers: how much a CS action would lower each account's churn risk, by the model.

A lever (``params.yaml`` ``levers``) is a set of feature edits a CS team can cause, pulled
by one family of the ``playbook`` (``onboarding: {play: onboarding, set:
{onboarding_completed: true}}``). :func:`evaluate_levers` recomputes every scored account's
calibrated churn probability (the one ``scores.csv`` shows) with each lever that applies to
it, one prediction per lever over all accounts, and names the lever with the largest drop.
Each figure is a model-based estimate of association, not a proven effect: the model
learned which accounts churned, not what happens when a CSM acts.

:func:`apply_edits` makes the edited copy of a feature table. Features that measure the
same thing move together, by the feature engine's definitions
(:mod:`churnlab.observations._engine.build`):

* the other windows of a windowed count (``logins_7d``, ``logins_90d`` with
  ``logins_28d``): a median target sets each window to its own median; a number moves
  them by the same ratio (in proportion to their length when the count was 0);
* its trend ``<stem>_trend_<w>d``: a raised count no longer declines (``max(trend, 0)``),
  a lowered one no longer grows (``min(trend, 0)``);
* ``active_users_<w>d`` never exceeds ``seats``; ``seat_utilisation_<w>d`` =
  active users / seats; ratio features (``features.ratios``) are recomputed;
* raised logins: ``days_since_last_login`` at most its median;
* ``onboarding_completed`` raised to 1: completed at ``as_of`` (a missing
  ``days_to_onboard`` becomes ``tenure_days``, a missing ``time_to_value_days`` the same
  day, the ``onboarding_completed_events_<w>d`` windows at least 1, their trend not
  negative);
* ``open_ticket_backlog`` lowered: the tickets closed count as resolved in every
  ``tickets_resolved_<w>d`` window.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from churnlab.errors import UsageError
from churnlab.messages import Message, message

if TYPE_CHECKING:
    from churnlab.modeling.model import ChurnModel

__all__ = ["LEVER_COLUMNS", "LeverResult", "apply_edits", "evaluate_levers"]

#: Targets that are a reference median rather than a value (``config.LEVER_TARGETS``).
MEDIAN_TARGETS = ("tier_median", "median")
#: Columns of ``LeverResult.per_account`` (those ``scores.csv`` gets, after ``account_id``).
LEVER_COLUMNS = ("biggest_lever", "lever_risk_drop", "lever_arr_protected")
#: Distinct counts: their other windows take the same value, not one in proportion to length.
_DISTINCT = ("active_users", "adoption_breadth", "seat_utilisation")
#: A tier needs this many reference rows for its own median (else the overall one).
_MIN_TIER_ROWS = 20
_WINDOWED = re.compile(r"(?P<stem>.+?)_(?P<w>\d+)d")


@dataclass
class LeverResult:
    """What each lever would change, per account and per lever.

    Attributes
    ----------
    per_account : pandas.DataFrame
        Index-aligned with the scoring table: ``account_id``, ``biggest_lever`` (the lever
        with the largest drop, None when no lever lowers the account's risk),
        ``lever_risk_drop`` (probability points, 0..1) and ``lever_arr_protected``
        (drop x ARR).
    by_lever : pandas.DataFrame
        One row per lever of params: ``lever``, ``play``, ``applies_to`` (accounts it
        changes), ``mean_risk_drop`` (over those accounts), ``arr_protected`` (sum of drop x
        ARR over them; levers overlap, so the rows do not add up), ``biggest_for``
        (accounts whose biggest lever it is), ``note`` (the association caveat, or why the
        lever was skipped) and ``note_message`` (the note as a message, JSON text).
    notes : list of dict
        :mod:`churnlab.messages` messages: the caveat first, then each skipped lever.
    """

    per_account: pd.DataFrame
    by_lever: pd.DataFrame
    notes: list[Message] = field(default_factory=list)


class _Medians:
    """Medians of reference columns, overall and per touch tier (retained rows when labelled)."""

    def __init__(self, reference: pd.DataFrame, tier_column: str = "touch_tier") -> None:
        # the retained rows as a mask, not a copy: the reference is the whole training table
        rows = np.ones(len(reference), dtype=bool)
        if "label" in reference.columns:
            retained = pd.to_numeric(reference["label"], errors="coerce").eq(0).to_numpy()
            rows = retained if retained.any() else rows
        self.reference = reference
        self._rows = None if rows.all() else rows
        self.tier_column = tier_column if tier_column in reference.columns else None
        self._cache: dict[tuple[str, bool], Any] = {}

    def _column(self, column: str) -> pd.Series:
        values = self.reference[column]
        return values if self._rows is None else values[self._rows]

    def overall(self, column: str) -> float:
        key = (column, False)
        if column not in self.reference.columns:
            return np.nan
        if key not in self._cache:
            values = pd.to_numeric(self._column(column), errors="coerce")
            self._cache[key] = float(values.median()) if values.notna().any() else np.nan
        return self._cache[key]

    def per_row(
        self, column: str, index: pd.Index, tiers: pd.Series | None, tiered: bool
    ) -> pd.Series:
        """The median for each row of ``index`` (overall where a tier is missing or small)."""
        overall = self.overall(column)
        if not tiered or tiers is None or self.tier_column is None or np.isnan(overall):
            return pd.Series(overall, index=index, dtype=float)
        key = (column, True)
        if key not in self._cache:
            values = pd.to_numeric(self._column(column), errors="coerce")
            groups = values.groupby(self._column(self.tier_column).astype(object))
            counts = groups.count()
            self._cache[key] = groups.median()[counts >= _MIN_TIER_ROWS]
        by_tier = self._cache[key]
        per_row = tiers.astype(object).map(by_tier).astype(float).fillna(overall)
        return pd.Series(per_row.to_numpy(), index=index)


def _numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def _move(current: pd.Series, target: pd.Series, only: str | None) -> pd.Series:
    """``current`` moved to ``target`` (raise: only up; lower: only down; missing moves)."""
    current = current.astype(float)
    target = target.astype(float)
    if only == "raise":
        moved = np.fmax(current, target)
    elif only == "lower":
        moved = np.fmin(current, target)
    else:
        moved = target
    return moved.where(target.notna(), current)


def _changed(before: pd.Series, after: pd.Series) -> pd.Series:
    if _numeric(before) and _numeric(after):
        a, b = before.astype(float), after.astype(float)
        return ~(np.isclose(a, b, rtol=0, atol=1e-9) | (a.isna() & b.isna()))
    a, b = before.astype(object), after.astype(object)
    return ~((a == b) | (a.isna() & b.isna()))


def _rows_changed(before: pd.DataFrame, after: pd.DataFrame, model: ChurnModel) -> np.ndarray:
    """Rows where any model input differs (numerics compared as one float block)."""
    numeric = list(model.numeric_features)
    a = before[numeric].to_numpy(dtype=float)
    b = after[numeric].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        same = (np.abs(a - b) <= 1e-9) | (np.isnan(a) & np.isnan(b)) | (a == b)
    changed = ~same.all(axis=1)
    for feature in model.categorical_features:
        changed |= _changed(before[feature], after[feature]).to_numpy()
    return changed


def _siblings(columns: Sequence[str], stem: str, skip: str) -> list[tuple[str, int]]:
    out = []
    for column in columns:
        match = _WINDOWED.fullmatch(column)
        if column != skip and match and match["stem"] == stem:
            out.append((column, int(match["w"])))
    return out


def _link_windows(
    out: pd.DataFrame,
    before: pd.DataFrame,
    feature: str,
    value: Any,
    moved: pd.Series,
    medians: _Medians,
    tiers: pd.Series | None,
    edited: Sequence[str],
) -> None:
    """Move the other windows and the trends of a windowed count with it (in place)."""
    match = _WINDOWED.fullmatch(feature)
    if not match or "_trend_" in feature:
        return
    stem, w = match["stem"], int(match["w"])
    old, new = before[feature].astype(float), out[feature].astype(float)
    raised, lowered = moved & (new > old.fillna(-np.inf)), moved & (new < old.fillna(np.inf))
    for sibling, w2 in _siblings(list(out.columns), stem, feature):
        if sibling in edited or not _numeric(out[sibling]):
            continue
        current = out[sibling].astype(float)
        if isinstance(value, str):
            target = medians.per_row(sibling, out.index, tiers, value == "tier_median")
        else:
            ratio = new / old.where(old > 0)
            scaled = new if stem in _DISTINCT else new * (w2 / w)
            target = (current * ratio).where(old > 0, scaled)
        out[sibling] = current.where(~raised, _move(current, target, "raise"))
        out[sibling] = out[sibling].where(~lowered, _move(current, target, "lower"))
    for trend, _ in _siblings(list(out.columns), f"{stem}_trend", ""):
        if trend in edited:
            continue
        t = out[trend].astype(float)
        out[trend] = t.where(~raised, t.clip(lower=0)).where(~lowered, t.clip(upper=0))
    if (
        stem == "logins"
        and "days_since_last_login" in out
        and "days_since_last_login" not in edited
    ):
        recency = out["days_since_last_login"].astype(float)
        cap = medians.per_row("days_since_last_login", out.index, tiers, True)
        out["days_since_last_login"] = recency.where(~raised, _move(recency, cap, "lower"))


def _link_onboarding(out: pd.DataFrame, before: pd.DataFrame, medians, tiers) -> None:
    """Onboarding completed at as_of: its days, time to value and completion events."""
    done = (out["onboarding_completed"].astype(float) >= 1) & ~(
        before["onboarding_completed"].astype(float) >= 1
    )
    if not done.any():
        return
    if "days_to_onboard" in out:
        days = out["days_to_onboard"].astype(float)
        now = (
            out["tenure_days"].astype(float)
            if "tenure_days" in out
            else pd.Series(np.nan, index=out.index)
        )
        now = now.fillna(medians.per_row("days_to_onboard", out.index, tiers, True))
        out["days_to_onboard"] = days.where(~(done & days.isna()), now)
        if "time_to_value_days" in out:
            ttv = out["time_to_value_days"].astype(float)
            out["time_to_value_days"] = ttv.where(~(done & ttv.isna()), out["days_to_onboard"])
    for column, _ in _siblings(list(out.columns), "onboarding_completed_events", ""):
        out[column] = out[column].astype(float).where(~done, out[column].clip(lower=1))
    for column, _ in _siblings(list(out.columns), "onboarding_completed_events_trend", ""):
        out[column] = out[column].astype(float).where(~done, out[column].clip(lower=0))


def _link_backlog(out: pd.DataFrame, before: pd.DataFrame) -> None:
    """Tickets taken off the backlog were resolved now: in every resolved-count window."""
    closed = (before["open_ticket_backlog"].astype(float) - out["open_ticket_backlog"]).clip(
        lower=0
    )
    closed = closed.fillna(0.0)
    for column, _ in _siblings(list(out.columns), "tickets_resolved", ""):
        out[column] = out[column].astype(float) + closed
    for column, _ in _siblings(list(out.columns), "tickets_resolved_trend", ""):
        trend = out[column].astype(float)
        out[column] = trend.where(closed <= 0, trend.clip(lower=0))


def _recompute(
    out: pd.DataFrame, before: pd.DataFrame, ratios: Mapping[str, Sequence[str]] | None
) -> None:
    """Derived features from the moved ones: active users within seats, utilisation, ratios."""
    seats = out["seats"].astype(float) if "seats" in out else None
    for column, w in _siblings(list(out.columns), "active_users", ""):
        if seats is None or not _changed(before[column], out[column]).any():
            continue
        users = out[column].astype(float)
        users = users.where(~(seats > 0), np.fmin(users, seats))
        out[column] = users
        if f"seat_utilisation_{w}d" in out:
            out[f"seat_utilisation_{w}d"] = users / seats.where(seats > 0)
    for name, parts in (ratios or {}).items():
        if parts is None or name not in out or any(p not in out for p in parts):
            continue
        numerator, denominator = (out[p].astype(float) for p in parts)
        if any(_changed(before[p], out[p]).any() for p in parts):
            out[name] = numerator / denominator.where(denominator != 0)


def apply_edits(
    features: pd.DataFrame,
    edits: Mapping[str, Any],
    *,
    reference: pd.DataFrame | None = None,
    tiers: pd.Series | None = None,
    only: str | None = None,
    ratios: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """A copy of ``features`` with ``edits`` applied and what measures the same thing moved.

    Parameters
    ----------
    features : pandas.DataFrame
        Feature rows (a scoring or observation table); never modified.
    edits : mapping
        Feature -> value: a number, a bool (1/0), a category level, ``"tier_median"`` (the
        median of the retained reference rows of the row's touch tier; the overall one for
        a tier with fewer than 20) or ``"median"`` (of all retained reference rows).
    reference : pandas.DataFrame, optional
        Where medians come from: the training observations (their retained rows, label 0);
        default ``features`` itself.
    tiers : pandas.Series, optional
        Touch tier of each row of ``features``; default its ``touch_tier`` column.
    only : {"raise", "lower"}, optional
        Move a numeric feature only up (or only down) to its target; None: set it.
    ratios : mapping, optional
        ``features.ratios`` of params (name -> [numerator, denominator]) to recompute.

    Returns
    -------
    pandas.DataFrame
        The edited copy (same index and columns). The linked moves are listed in the
        module docstring.

    Raises
    ------
    UsageError
        A feature is not a column of ``features``, or a numeric feature is given text
        other than a median target.
    """
    out = features.copy()
    if tiers is None and "touch_tier" in features.columns:
        tiers = features["touch_tier"]
    medians = _Medians(reference if reference is not None else features)
    edited = list(edits)
    for feature, value in edits.items():
        if feature not in out.columns:
            raise UsageError(
                f"what-if edit {feature!r}: no such feature column (features include "
                f"{', '.join(list(out.columns)[:8])}, ...); name a column of the scoring table"
            )
        current = out[feature]
        if not _numeric(current):
            out[feature] = pd.Series([value] * len(out), index=out.index, dtype=object)
            continue
        if isinstance(value, str) and value not in MEDIAN_TARGETS:
            raise UsageError(
                f"what-if edit {feature}={value!r}: {feature} is numeric; give a number, "
                f"true/false, or one of {', '.join(MEDIAN_TARGETS)}"
            )
        if isinstance(value, str):
            target = medians.per_row(feature, out.index, tiers, value == "tier_median")
        else:
            target = pd.Series(float(value), index=out.index)
        out[feature] = _move(current.astype(float), target, only)
        moved = _changed(features[feature], out[feature])
        _link_windows(out, features, feature, value, moved, medians, tiers, edited)
    if "onboarding_completed" in edits:
        _link_onboarding(out, features, medians, tiers)
    if "open_ticket_backlog" in edits:
        _link_backlog(out, features)
    _recompute(out, features, ratios)
    return out


def _lever_changes(
    scoring: pd.DataFrame, lever: Any, model_features: Sequence[str]
) -> tuple[dict[str, Any], Message | None]:
    """The lever's edits the model can see, or why the lever is skipped (a message)."""
    name = str(getattr(lever, "name", ""))
    edits = dict(lever.set)
    missing = [f for f in edits if f not in scoring.columns or scoring[f].isna().all()]
    if len(scoring) == 0:
        return {}, message("levers.no_accounts", lever=name)
    if missing:
        return {}, message("levers.skipped_missing", lever=name, features=missing)
    for feature, value in edits.items():
        numeric = _numeric(scoring[feature])
        median = isinstance(value, str) and value in MEDIAN_TARGETS
        if (numeric and isinstance(value, str) and not median) or (not numeric and median):
            return {}, message("levers.skipped_value", lever=name, feature=feature, value=value)
    if not any(f in model_features for f in edits):
        return {}, message("levers.skipped_unused", lever=name, features=list(edits))
    return edits, None


def _row(name: str, lever: Any, note: Message, applies: int = 0, **figures: float) -> dict:
    return {
        "lever": name,
        "play": lever.play,
        "applies_to": applies,
        "mean_risk_drop": figures.get("mean_risk_drop", np.nan),
        "arr_protected": figures.get("arr_protected", 0.0),
        "biggest_for": 0,
        "note": note["text"],
        "note_message": json.dumps(note, ensure_ascii=False),
    }


class _Named:
    """A lever of params with its name (for the messages)."""

    def __init__(self, name: str, lever: Any) -> None:
        self.name, self.play, self.set = name, lever.play, lever.set
        self.direction = getattr(lever, "direction", "set")


def evaluate_levers(
    model: ChurnModel, scoring: pd.DataFrame, cfg: Any, *, reference: pd.DataFrame
) -> LeverResult:
    """Each scored account's churn risk with each applicable lever pulled, and the biggest.

    Parameters
    ----------
    model : ChurnModel
        The champion as loaded from the run folder; its calibrated probability
        (``predict_proba``, the one ``scores.csv`` shows) is recomputed.
    scoring : pandas.DataFrame
        The scoring rows (one per active account at as_of: features, ``arr``,
        ``touch_tier``).
    cfg : Params
        Its ``levers`` (checked against ``playbook`` when params were loaded) and
        ``features.ratios``.
    reference : pandas.DataFrame
        The training observations: tier medians come from their retained rows (label 0).

    Returns
    -------
    LeverResult
        Per account the biggest lever (the largest drop; ties go to the lever listed first
        in params), its drop in probability points and drop x ARR; per lever how many
        accounts it changes, their mean drop and the ARR it protects; the notes. An account
        a lever leaves unchanged (already met) is not counted for it; an account no lever
        lowers has no biggest lever (drop 0).
    """
    levers = [_Named(name, lever) for name, lever in (getattr(cfg, "levers", None) or {}).items()]
    ratios = dict(getattr(getattr(cfg, "features", None), "ratios", None) or {})
    caveat = message("levers.caveat")
    notes: list[Message] = [caveat]
    index = scoring.index
    arr = (
        scoring["arr"].astype(float) if "arr" in scoring.columns else pd.Series(np.nan, index=index)
    )
    drops = np.full((len(scoring), len(levers)), np.nan)
    rows = []
    base = model.predict_proba(scoring) if levers and len(scoring) else np.array([])
    for j, lever in enumerate(levers):
        edits, skipped = _lever_changes(scoring, lever, model.features)
        if skipped is not None:
            notes.append(skipped)
            rows.append(_row(lever.name, lever, skipped))
            continue
        name = lever.name
        only = lever.direction if lever.direction in ("raise", "lower") else None
        edited = apply_edits(scoring, edits, reference=reference, only=only, ratios=ratios)
        changed = _rows_changed(scoring, edited, model)
        if changed.any():
            after = model.predict_proba(edited.loc[changed])
            drops[changed, j] = base[changed] - after
        drop = drops[changed, j]
        protected = drop * arr.to_numpy()[changed]
        rows.append(
            _row(
                name,
                lever,
                message("levers.note") if changed.any() else message("levers.all_met", lever=name),
                int(changed.sum()),
                mean_risk_drop=float(drop.mean()) if len(drop) else np.nan,
                arr_protected=float(np.nansum(protected))
                if np.isfinite(protected).any()
                else np.nan,
            )
        )
    if not levers:
        notes.append(message("levers.none"))
    best = np.where(np.isnan(drops), -np.inf, np.round(drops, 12))
    pick = best.argmax(axis=1) if levers else np.zeros(len(scoring), dtype=int)
    top = best[np.arange(len(scoring)), pick] if levers else np.full(len(scoring), -np.inf)
    has = top > 0
    names = np.array([lever.name for lever in levers] or [""], dtype=object)
    risk_drop = np.where(has, top, 0.0)
    per_account = pd.DataFrame(
        {
            "account_id": scoring["account_id"].to_numpy()
            if "account_id" in scoring.columns
            else index.to_numpy(),
            "biggest_lever": np.where(has, names[pick], None),
            "lever_risk_drop": risk_drop,
            "lever_arr_protected": risk_drop * arr.to_numpy(),
        },
        index=index,
    )
    by_lever = pd.DataFrame(
        rows,
        columns=[
            "lever",
            "play",
            "applies_to",
            "mean_risk_drop",
            "arr_protected",
            "biggest_for",
            "note",
            "note_message",
        ],
    )
    counts = per_account["biggest_lever"].value_counts()
    by_lever["biggest_for"] = by_lever["lever"].map(counts).fillna(0).astype(int)
    return LeverResult(per_account=per_account, by_lever=by_lever, notes=notes)
