"""The words of one reason: what a feature's value says, and how it compares with peers.

Every feature gets a *phrasing* from its name (and dtype): the sample's features read as
a CSM would say them ("onboarding not completed", "1 support ticket open", "logins down
45% over the last 28 days", "12-month contract"); any other column gets a generic but
readable sentence ("Contract = Month-to-month", "Score: 12"). A missing value is never
"missing": it says what it means (no NPS answer, no login on record, not recorded).

*Topics* group the features that measure one thing (``logins_7d``, ``logins_28d``,
``logins_per_seat_28d``; ``days_to_onboard`` and ``onboarding_completed``; two columns of
the data that move together, like a count and its charge): a topic is one reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churnlab.vocabulary import Vocabulary

__all__ = [
    "PRESENT",
    "Phrasing",
    "peer_values",
    "feature_topics",
    "phrasing",
    "reason_phrase",
    "same_as_peers",
]

#: Features shown as yes/no.
BOOLEAN_FEATURES = frozenset({"onboarding_completed"})
_MONEY = re.compile(r"(^|_)(mrr|arr|revenue|ltv)(_|$)")
_SHARE = re.compile(r"(utilisation|utilization|share|rate|pct|percent)")
_WINDOW = re.compile(r"^(?P<stem>.+?)_(?P<days>\d+)d$")
_TREND = re.compile(r"^(?P<stem>.+?)_trend_(?P<days>\d+)d$")
_SINCE = re.compile(r"^days_since_last_(?P<stem>.+)$")
#: Features of one topic by name (beyond the shared stem of their windows).
_TOPICS = {
    "onboarding_completed": "onboarding",
    "days_to_onboard": "onboarding",
    "onboarding_completed_events": "onboarding",
    "onboarding_steps": "onboarding",
    "time_to_value_days": "time_to_value",
    "first_value_events": "time_to_value",
    "last_nps": "nps",
    "nps_category": "nps",
    "days_since_last_login": "logins",
    "logins_per_seat": "logins",
    "seat_utilisation": "seat_use",
    "seat_utilization": "seat_use",
}
#: Counted events with their own sentence (catalogue ``reasons.counts.<stem>``).
_COUNTED = (
    "logins",
    "active_users",
    "tickets_opened",
    "tickets_resolved",
    "csm_meetings",
    "qbrs",
    "webinars",
    "nps_responses",
    "adoption_breadth",
)
_WHAT = ("logins", "active_users", "tickets_opened", "csm_meetings", "qbrs", "webinars")
_SINCE_KNOWN = ("login", "csm_touch")
_DURATIONS = ("onboarding_days", "ttv", "tenure", "resolution", "since")
#: Suffix of the context columns holding the share of retained accounts with a value.
PRESENT = ":present"


@dataclass(frozen=True)
class Phrasing:
    """How a feature reads: its ``kind`` of sentence, the ``stem`` and window ``days``."""

    feature: str
    kind: str
    stem: str = ""
    days: int = 0


def phrasing(feature: str, values: pd.Series | None = None) -> Phrasing:
    """The phrasing of ``feature`` from its name and (for unknown columns) its dtype."""
    if feature == "onboarding_completed":
        return Phrasing(feature, "onboarding_flag")
    fixed = {
        "days_to_onboard": "onboarding_days",
        "time_to_value_days": "ttv",
        "last_nps": "nps",
        "nps_category": "nps_category",
        "open_ticket_backlog": "backlog",
        "billing_period_months": "contract",
        "tenure_days": "tenure",
        "seats": "seats",
    }
    if feature in fixed:
        return Phrasing(feature, fixed[feature])
    if values is not None and not (
        pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
    ):
        return Phrasing(feature, "category")
    if values is not None and pd.api.types.is_bool_dtype(values):
        return Phrasing(feature, "bool")
    if feature in BOOLEAN_FEATURES:
        return Phrasing(feature, "bool")
    if match := _TREND.match(feature):
        return Phrasing(feature, "trend", match["stem"], int(match["days"]))
    if match := _SINCE.match(feature):
        return Phrasing(feature, "since", match["stem"])
    if match := _WINDOW.match(feature):
        stem, days = match["stem"], int(match["days"])
        if stem == "median_resolution_days":
            return Phrasing(feature, "resolution", stem, days)
        if stem == "mrr_change":
            return Phrasing(feature, "mrr_change", stem, days)
        if stem in ("seat_utilisation", "seat_utilization"):
            return Phrasing(feature, "seat_use", stem, days)
        if stem == "logins_per_seat":
            return Phrasing(feature, "per_seat", stem, days)
        if stem in _COUNTED or stem.startswith("feature_"):
            return Phrasing(feature, "count", stem, days)
    if _MONEY.search(feature):
        return Phrasing(feature, "money")
    if _SHARE.search(feature):
        return Phrasing(feature, "share")
    return Phrasing(feature, "number")


def _topic(feature: str) -> str:
    if feature in _TOPICS:
        return _TOPICS[feature]
    for pattern in (_TREND, _WINDOW):
        if match := pattern.match(feature):
            stem = match["stem"]
            return _TOPICS.get(stem, stem)
    return feature


def feature_topics(
    features: Sequence[str],
    reference: pd.DataFrame | None = None,
    *,
    threshold: float = 0.98,
    rows: int = 5000,
) -> dict[str, str]:
    """The topic of every feature: the features that measure one thing share a topic.

    By name: a feature's windows and trend (``logins_7d``, ``logins_trend_28d``), its
    per-seat ratio, and the known pairs (``days_to_onboard`` and ``onboarding_completed``,
    ``last_nps`` and ``nps_category``). By data: numeric columns of ``reference`` whose
    correlation reaches ``threshold`` in absolute value (a count and its charge).

    Parameters
    ----------
    features : sequence of str
        The explained features.
    reference : pandas.DataFrame, optional
        Rows to measure correlations on (the first ``rows`` are used).
    threshold : float
        Absolute Pearson correlation from which two columns are one topic.
    rows : int
        Rows of ``reference`` used.

    Returns
    -------
    dict
        Feature -> topic name.
    """
    topic = {f: _topic(f) for f in features}
    if reference is None or len(reference) < 3:
        return topic
    numeric = [
        f
        for f in features
        if f in reference.columns
        and pd.api.types.is_numeric_dtype(reference[f])
        and not pd.api.types.is_bool_dtype(reference[f])
    ]
    if len(numeric) < 2:
        return topic
    corr = reference[numeric].head(rows).astype(float).corr().abs().to_numpy()
    np.fill_diagonal(corr, 0.0)
    for i, j in zip(*np.nonzero(np.nan_to_num(corr) >= threshold), strict=True):
        if i < j:
            a, b = topic[numeric[i]], topic[numeric[j]]
            if a != b:  # merge b's topic into a's
                topic = {f: (a if t == b else t) for f, t in topic.items()}
    return topic


# ---------------------------------------------------------------- equality with the peers


def _number_key(x: np.ndarray) -> np.ndarray:
    """Values rounded as :meth:`Vocabulary.number` shows them."""
    a = np.abs(x)
    out = np.where(a >= 10, np.round(x, 1), np.round(x, 2))
    small = (a < 0.1) & (a > 0)
    if small.any():
        digits = 1 - np.floor(np.log10(a[small]))
        out[small] = np.round(x[small] * 10**digits) / 10**digits
    return out


def _duration_key(days: np.ndarray) -> np.ndarray:
    unit, n = _duration_parts(days)
    return unit * 1e9 + n


def _duration_parts(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(days, dtype=float)
    unit = np.where(d < 60, 0, np.where(d < 730, 1, 2))
    n = np.where(
        unit == 0,
        np.floor(d + 0.5),
        np.where(unit == 1, np.floor(d / 30.4375 + 0.5), np.floor(d / 365.25 + 0.5)),
    )
    return unit, n


def _key(kind: str, x: np.ndarray) -> np.ndarray:
    if kind in _DURATIONS:
        return _duration_key(x)
    # half to even on the binary value, as the vocabulary's formats round
    if kind in ("share", "seat_use", "trend"):
        return np.round(100 * x)
    if kind in ("money", "mrr_change", "nps", "contract"):
        return np.round(x)
    return _number_key(x)


def same_as_peers(
    ph: Phrasing, values: pd.Series, peer: pd.Series, present: pd.Series | None = None
) -> np.ndarray:
    """Whether each value reads the same as its peers' (a comparison of equals: no reason).

    ``peer`` is the peers' median (numbers), share of yes (flags) or most common value
    (categories); ``present`` the share of peers with a value, for a missing value.
    """
    n = len(values)
    if ph.kind == "category":
        v = values.astype(object).to_numpy()
        p = peer.astype(object).to_numpy()
        return (
            np.array([a == b for a, b in zip(v, p, strict=True)], dtype=bool)
            & pd.notna(p)
            & pd.notna(v)
        )
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    m = pd.to_numeric(peer, errors="coerce").to_numpy(dtype=float)
    equal = np.zeros(n, dtype=bool)
    if ph.kind in ("bool", "onboarding_flag"):
        pct = np.round(100 * m)
        yes = x > 0.5
        return np.isfinite(m) & ~np.isnan(x) & ((yes & (pct == 100)) | (~yes & (pct == 0)))
    known = ~np.isnan(x) & ~np.isnan(m)
    if known.any():
        equal[known] = _key(ph.kind, x[known]) == _key(ph.kind, m[known])
    if present is not None:
        share = pd.to_numeric(present, errors="coerce").to_numpy(dtype=float)
        equal |= np.isnan(x) & (np.round(100 * np.nan_to_num(share, nan=-1.0)) == 0)
    return equal


# ---------------------------------------------------------------- sentences


def _plural(words: Vocabulary, key: str, count: float, **fields: Any) -> str:
    form = "one" if float(count) == 1 else "other"
    return words.text(f"{key}.{form}", **fields)


def _duration(words: Vocabulary, days: float) -> str:
    unit, n = _duration_parts(np.array([days]))
    name = ("days", "months", "years")[int(unit[0])]
    value = float(n[0])
    return _plural(words, f"reasons.units.{name}", value, n=words.number(value))


def _what(words: Vocabulary, stem: str) -> str:
    if stem in _WHAT:
        return words.text(f"reasons.what.{stem}")
    if stem.startswith("feature_") and len(stem) > 8:
        return words.text("reasons.what.feature", name=stem[8:].replace("_", " "))
    return words.feature_in_sentence(stem)


def _signed_rate(words: Vocabulary, value: float) -> str:
    sign = "+" if value > 0 else ("-" if value < 0 else "")
    return sign + words.rate(abs(value), 0)


def _statement(words: Vocabulary, ph: Phrasing, value: Any) -> str:
    """What the value says, without direction or comparison."""
    kind, f = ph.kind, ph.feature
    missing = value is None or (not isinstance(value, str) and pd.isna(value))
    if kind in ("onboarding_flag", "onboarding_days"):
        if missing or (kind == "onboarding_flag" and float(value) <= 0.5):
            return words.text("reasons.onboarding.not_completed")
        if kind == "onboarding_flag":
            return words.text("reasons.onboarding.completed")
        return words.text("reasons.onboarding.took", duration=_duration(words, value))
    if kind == "ttv":
        if missing:
            return words.text("reasons.time_to_value.not_reached")
        return words.text("reasons.time_to_value.took", duration=_duration(words, value))
    if kind == "nps":
        if missing:
            return words.text("reasons.nps.no_answer")
        score = float(value)
        category = "detractor" if score <= 6 else ("passive" if score <= 8 else "promoter")
        return words.text(
            "reasons.nps.score",
            score=words.number(score),
            category=words.text(f"reasons.nps.{category}"),
        )
    if kind == "nps_category":
        if missing:
            return words.text("reasons.nps.no_answer")
        known = str(value) in ("detractor", "passive", "promoter")
        shown = words.text(f"reasons.nps.{value}") if known else str(value)
        return words.text("reasons.nps.category", category=shown)
    if missing:
        if kind == "since":
            key = ph.stem if ph.stem in _SINCE_KNOWN else "other"
            return words.text(f"reasons.never.{key}", what=_what(words, ph.stem))
        return words.text("reasons.no_value", label=words.feature_label(f))
    if kind == "category":
        shown = words.tier_label(str(value)) if f == "touch_tier" else str(value)
        return words.text("reasons.category", label=words.feature_label(f), value=shown)
    v = float(value)
    if kind == "bool":
        shown = words.text("reasons.yes") if v > 0.5 else words.text("reasons.no")
        return words.text("reasons.value", label=words.feature_label(f), value=shown)
    if kind == "backlog":
        if v == 0:
            return words.text("reasons.tickets_open.zero")
        return _plural(words, "reasons.tickets_open", v, n=words.number(v))
    if kind == "contract":
        if v < 2:
            return words.text("reasons.contract.monthly")
        return words.text("reasons.contract.months", n=words.number(v))
    if kind == "tenure":
        return words.text("reasons.tenure", duration=_duration(words, v))
    if kind == "resolution":
        return words.text("reasons.resolution", duration=_duration(words, v), days=ph.days)
    if kind == "since":
        key = ph.stem if ph.stem in _SINCE_KNOWN else "other"
        return words.text(
            f"reasons.since.{key}", duration=_duration(words, v), what=_what(words, ph.stem)
        )
    if kind == "mrr_change":
        way = "flat" if round(v) == 0 else ("up" if v > 0 else "down")
        return words.text(f"reasons.mrr_change.{way}", amount=words.money(abs(v)), days=ph.days)
    if kind == "trend":
        way = "flat" if round(100 * v) == 0 else ("up" if v > 0 else "down")
        return words.text(
            f"reasons.trend.{way}",
            what=_what(words, ph.stem),
            change=words.rate(abs(v), 0),
            days=ph.days,
        )
    if kind == "count":
        return _plural(
            words,
            f"reasons.counts.{ph.stem if ph.stem in _COUNTED else 'other'}",
            v,
            n=words.number(v),
            days=ph.days,
            what=_what(words, ph.stem),
        )
    if kind == "seat_use":
        return words.text("reasons.seat_use", share=words.rate(v, 0), days=ph.days)
    if kind == "per_seat":
        return words.text("reasons.per_seat", n=words.number(v), days=ph.days)
    if kind == "seats":
        return _plural(words, "reasons.seats", v, n=words.number(v))
    return words.text("reasons.value", label=words.feature_label(f), value=_shown(words, ph, v))


def _shown(words: Vocabulary, ph: Phrasing, value: float) -> str:
    """One number as the reason shows it (the peers' value in the same form)."""
    kind = ph.kind
    if kind in _DURATIONS:
        return _duration(words, value)
    if kind in ("share", "seat_use"):
        return words.rate(value, 0)
    if kind == "trend":
        return _signed_rate(words, value)
    if kind == "money":
        return words.money(value)
    if kind == "mrr_change":
        return ("+" if value > 0 else ("-" if value < 0 else "")) + words.money(abs(value))
    if kind == "contract":
        return _statement(words, ph, value)
    return words.number(value)


def reason_phrase(
    words: Vocabulary,
    ph: Phrasing,
    value: Any,
    peer: Any = None,
    present: float | None = None,
    *,
    segment: bool = True,
) -> tuple[str, str]:
    """``(reason, comparison)``: the sentence without its direction, and the peers' value.

    Parameters
    ----------
    words : Vocabulary
        The report language's words and formats.
    ph : Phrasing
        The feature's phrasing.
    value : object
        The account's value (missing allowed).
    peer : object, optional
        The peers' median, share of yes, or most common value; None: no comparison.
    present : float, optional
        The share of peers with a value (for a missing value).
    segment : bool
        Whether the peers are the account's segment (tier) or all retained accounts.
    """
    reason = _statement(words, ph, value)
    peers = words.text("reasons.peers.segment" if segment else "reasons.peers.all")
    missing = value is None or (not isinstance(value, str) and pd.isna(value))
    peer_missing = peer is None or (not isinstance(peer, str) and pd.isna(peer))
    kind = ph.kind
    if kind == "onboarding_flag" or (kind == "onboarding_days" and missing):
        share = peer if kind == "onboarding_flag" else present
        if share is None or pd.isna(share):
            return reason, ""
        shown = words.rate(float(share), 0)
        return words.text(
            "reasons.compare.share_done", reason=reason, share=shown, peers=peers
        ), shown
    if missing:
        if present is None or pd.isna(present):
            return reason, ""
        key = {"ttv": "share_reached", "nps": "share_answered", "nps_category": "share_answered"}
        shown = words.rate(float(present), 0)
        template = f"reasons.compare.{key.get(kind, 'share_recorded')}"
        return words.text(template, reason=reason, share=shown, peers=peers), shown
    if peer_missing or kind == "contract":
        return reason, ""
    if kind in ("category", "nps_category"):
        shown = words.tier_label(str(peer)) if ph.feature == "touch_tier" else str(peer)
        if kind == "nps_category" and shown in ("detractor", "passive", "promoter"):
            shown = words.text(f"reasons.nps.{shown}")
        return words.text("reasons.compare.mostly", reason=reason, value=shown, peers=peers), shown
    if kind == "bool":
        shown = words.rate(float(peer), 0)
        return words.text(
            "reasons.compare.share_yes", reason=reason, share=shown, peers=peers
        ), shown
    if kind == "backlog" and float(peer) == 0:
        return words.text("reasons.compare.none_open", reason=reason, peers=peers), "0"
    shown = _shown(words, ph, float(peer))
    return words.text("reasons.compare.median", reason=reason, value=shown, peers=peers), shown


def peer_values(
    context: pd.DataFrame, feature: str, segments: np.ndarray
) -> tuple[pd.Series, pd.Series | None]:
    """The peers' value and share with a value of ``feature`` for each segment given."""
    if feature not in context.columns:
        return pd.Series([np.nan] * len(segments), dtype=object), None
    peer = context[feature].reindex(segments).reset_index(drop=True)
    column = f"{feature}{PRESENT}"
    present = (
        context[column].reindex(segments).reset_index(drop=True)
        if column in context.columns
        else None
    )
    return peer, present
