"""Per-account reasons in plain language, built from SHAP values.

"Raises risk: onboarding not completed (86% of retained accounts in this tier completed
it)", "Lowers risk: 12-month contract": each reason starts with its direction (the sign of
its SHAP contribution), says what the account's value means (``_phrases``) and how it
compares with the retained accounts of the same touch tier (from a reference table with
labels). The features that measure one thing (a topic: ``logins_28d`` and
``logins_per_seat_28d``) are one reason, with their contributions summed; a reason whose
value reads the same as its peers' is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from churnlab.errors import DataError
from churnlab.explain._phrases import (
    PRESENT,
    feature_topics,
    peer_values,
    phrasing,
    reason_phrase,
    same_as_peers,
)
from churnlab.vocabulary import Vocabulary, vocabulary

if TYPE_CHECKING:  # pragma: no cover
    from churnlab.explain.result import ShapResult

DIRECTIONS = ("raises_risk", "lowers_risk")


def reason_context(
    reference_table: pd.DataFrame,
    by: str = "touch_tier",
    *,
    features: list[str] | None = None,
    label: str = "label",
) -> pd.DataFrame:
    """What retained accounts look like, per segment: the context of reason sentences.

    Parameters
    ----------
    reference_table : pandas.DataFrame
        A labelled observation table (label 0 = retained).
    by : str
        Segment column, e.g. ``touch_tier``.
    features : list of str, optional
        Features to summarise; default every column except the label and ``by``.
    label : str
        Label column.

    Returns
    -------
    pandas.DataFrame
        Index = segment, one column per feature: the median among retained accounts
        (for yes/no features the share of "yes", for categories the most common value),
        ``<feature>:present`` (the share with a value) for features with missing
        values, plus ``n_retained``.
    """
    for col in (by, label):
        if col not in reference_table.columns:
            raise DataError("reference table", col, "is required for reason context")
    is_retained = pd.to_numeric(reference_table[label], errors="coerce").eq(0).fillna(False)
    retained = reference_table[is_retained.astype(bool)]
    if features is None:
        features = [c for c in retained.columns if c not in (label, by)]
    features = [f for f in features if f in retained.columns]
    groups = retained.groupby(by, observed=True, sort=True)
    kinds = {f: phrasing(f, retained[f]).kind for f in features}
    flags = [f for f in features if kinds[f] in ("bool", "onboarding_flag")]
    cats = [f for f in features if kinds[f] in ("category", "nps_category")]
    nums = [f for f in features if f not in flags and f not in cats]
    out = groups[nums].median() if nums else pd.DataFrame(index=groups.size().index)
    for f in flags:
        out[f] = groups[f].apply(lambda s: s.astype(float).mean())
    for f in cats:
        out[f] = groups[f].agg(_mode)
    gaps = [f for f in features if retained[f].isna().any()]
    present = groups[gaps].count().div(groups.size(), axis=0).astype(float)
    present.columns = [f + PRESENT for f in gaps]
    out = pd.concat([out[features], present], axis=1)
    out["n_retained"] = groups.size()
    return out


def _mode(values: pd.Series) -> object:
    counts = values.dropna().astype(str).value_counts(sort=False)
    if counts.empty:
        return np.nan
    top = counts[counts == counts.max()]
    return sorted(top.index)[0]  # ties: the first by name, deterministic


def top_reasons(
    shap: ShapResult,
    table: pd.DataFrame,
    *,
    k: int = 3,
    context: pd.DataFrame | None = None,
    by: str = "touch_tier",
    topics: Mapping[str, str] | None = None,
    words: Vocabulary | None = None,
) -> pd.DataFrame:
    """The top ``k`` risk-raising and risk-lowering reasons of every account.

    Parameters
    ----------
    shap : ShapResult
        Values for the rows of ``table`` (same index).
    table : pandas.DataFrame
        The scored table: feature values are shown from it (falling back to
        ``shap.data``), plus ``account_id`` / ``as_of`` and the ``by`` column.
    k : int
        Reasons per direction; only strictly positive (raising) or negative (lowering)
        contributions of a topic are listed.
    context : pandas.DataFrame, optional
        ``reason_context(reference_table)``: adds the comparison with retained accounts,
        and drops a reason whose value reads the same as theirs.
    by : str
        Segment column of ``table`` matching ``context``'s index.
    topics : mapping, optional
        Feature -> topic (:func:`feature_topics`); default: by the features' names.
    words : Vocabulary, optional
        The language of the sentences; default English.

    Returns
    -------
    pandas.DataFrame
        One row per (account, direction, rank), indexed by ``table``'s index:
        ``account_id``/``as_of`` (when present), ``direction``
        (``raises_risk``/``lowers_risk``), ``rank``, ``topic``, ``feature`` (the
        topic's strongest feature in that direction), ``label``, ``value``,
        ``value_display`` (what the value says), ``contribution`` (the topic's summed
        log-odds), ``context_display`` (the peers' value, empty without one) and
        ``reason_text`` (the sentence, starting with its direction).
    """
    if not shap.values.index.equals(table.index):
        raise DataError("table", "index", "must match the index of the explained rows")
    words = words or vocabulary()
    features = list(shap.features)
    topic_of = dict(topics) if topics is not None else feature_topics(features)
    names = list(dict.fromkeys(topic_of.get(f, f) for f in features))
    members = [[j for j, f in enumerate(features) if topic_of.get(f, f) == t] for t in names]
    S = shap.values.to_numpy(dtype=float)
    n, g = S.shape[0], len(names)
    T = np.zeros((n, g))
    rep = np.zeros((n, g), dtype=int)
    for t, cols in enumerate(members):
        block = S[:, cols]
        T[:, t] = block.sum(axis=1)
        strongest = np.argmax(block * np.sign(T[:, [t]]), axis=1)
        rep[:, t] = np.asarray(cols)[strongest]

    # every (account, topic) with a contribution is a candidate, strongest first
    order_up = np.argsort(-T, axis=1, kind="stable")
    order_down = np.argsort(T, axis=1, kind="stable")
    row = np.tile(np.repeat(np.arange(n), g), 2)
    topic = np.concatenate([order_up.ravel(), order_down.ravel()])
    direction = np.repeat([0, 1], n * g)
    position = np.tile(np.arange(g), 2 * n)
    contrib = T[row, topic]
    keep = np.where(direction == 0, contrib > 0, contrib < 0)
    row, topic, direction, position, contrib = (
        a[keep] for a in (row, topic, direction, position, contrib)
    )
    col = rep[row, topic]

    use_context = context is not None and by in table.columns and len(context)
    segment = table[by].to_numpy()[row] if use_context else None
    sources = {f: (table[f] if f in table.columns else shap.data[f]) for f in features}
    if use_context:
        assert context is not None and segment is not None
        equal = np.zeros(len(row), dtype=bool)
        for j in np.unique(col):
            at = np.flatnonzero(col == j)
            f = features[j]
            vals = sources[f].iloc[row[at]].reset_index(drop=True)
            peer, present = peer_values(context, f, segment[at])
            equal[at] = same_as_peers(phrasing(f, sources[f]), vals, peer, present)
        row, topic, direction, position, contrib, col, segment = (
            a[~equal] for a in (row, topic, direction, position, contrib, col, segment)
        )
    sort = np.lexsort((position, direction, row))
    row, topic, direction, contrib, col = (a[sort] for a in (row, topic, direction, contrib, col))
    if segment is not None:
        segment = segment[sort]
    # rank within (account, direction); keep the first k
    start = np.r_[True, (row[1:] != row[:-1]) | (direction[1:] != direction[:-1])]
    group = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    rank = np.arange(len(row)) - first[group] + 1
    kk = max(0, k)
    top = rank <= kk
    row, topic, direction, contrib, col, rank = (
        a[top] for a in (row, topic, direction, contrib, col, rank)
    )
    if segment is not None:
        segment = segment[top]

    value = np.empty(len(row), dtype=object)
    shown = np.empty(len(row), dtype=object)
    peer_shown = np.full(len(row), "", dtype=object)
    text = np.empty(len(row), dtype=object)
    several = bool(use_context and context is not None and len(context.index) > 1)
    for j in np.unique(col):
        at = np.flatnonzero(col == j)
        f = features[j]
        ph = phrasing(f, sources[f])
        vals = sources[f].iloc[row[at]].to_numpy(dtype=object)
        if segment is not None and context is not None:
            peer, present = peer_values(context, f, segment[at])
            peers = peer.to_numpy(dtype=object)
            shares = present.to_numpy(dtype=object) if present is not None else None
        else:
            peers, shares = np.full(len(at), None, dtype=object), None
        memo: dict[tuple[object, ...], tuple[str, str, str]] = {}
        for i, (v, p) in enumerate(zip(vals, peers, strict=True)):
            s = shares[i] if shares is not None else None
            d = int(direction[at[i]])
            key = (_hashable(v), _hashable(p), _hashable(s), d)
            if key not in memo:
                bare = reason_phrase(words, ph, v, segment=several)[0]
                sentence, compared = reason_phrase(words, ph, v, p, s, segment=several)
                full = words.text(f"reasons.direction.{DIRECTIONS[d]}", reason=sentence)
                memo[key] = (bare, compared, full)
            value[at[i]] = v
            shown[at[i]], peer_shown[at[i]], text[at[i]] = memo[key]

    out = pd.DataFrame(index=table.index[row])
    for key in ("account_id", "as_of"):
        if key in table.columns:
            out[key] = table[key].to_numpy()[row]
    feature_names = np.asarray(features, dtype=object)
    out["direction"] = np.asarray(DIRECTIONS, dtype=object)[direction]
    out["rank"] = rank
    out["topic"] = np.asarray(names, dtype=object)[topic]
    out["feature"] = feature_names[col]
    out["label"] = [words.feature_label(f) for f in feature_names[col]]
    out["value"] = value
    out["value_display"] = shown
    out["contribution"] = contrib
    out["context_display"] = peer_shown
    out["reason_text"] = text
    return out


def _hashable(value: object) -> object:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def reasons_summary(
    reasons: pd.DataFrame,
    *,
    k: int = 3,
    direction: str | None = None,
    sep: str = "; ",
) -> pd.Series:
    """One line per account: its ``k`` strongest reasons joined, for CSV and report cells.

    Parameters
    ----------
    reasons : pandas.DataFrame
        Output of ``top_reasons``.
    k : int
        Reasons per account.
    direction : {"raises_risk", "lowers_risk"}, optional
        Only reasons of this direction; None: the ``k`` strongest of both (by absolute
        contribution), those that raise the risk first.
    sep : str
        Separator between reasons (the catalogue's ``reasons.separator``).

    Returns
    -------
    pandas.Series
        Text per account, indexed like the explained table (accounts without such a
        reason are absent).
    """
    sel = reasons if direction is None else reasons[reasons["direction"] == direction]
    if sel.empty:
        return pd.Series(dtype=object, name="reasons")
    frame = pd.DataFrame(
        {
            "at": np.arange(len(sel)),
            "key": sel.index,
            "strength": sel["contribution"].abs().to_numpy(),
            "raises": (sel["direction"] == DIRECTIONS[0]).to_numpy(),
            "text": sel["reason_text"].to_numpy(),
        }
    )
    frame["order"] = frame.groupby("key", sort=False)["strength"].rank(
        ascending=False, method="first"
    )
    frame = frame[frame["order"] <= k]
    frame = frame.sort_values(["raises", "strength", "at"], ascending=[False, False, True])
    joined = frame.groupby("key", sort=False)["text"].agg(sep.join)
    order = pd.unique(sel.index)
    return joined.reindex([i for i in order if i in joined.index]).rename("reasons")
