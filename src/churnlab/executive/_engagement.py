"""Engagement coverage: which accounts got the CSM touch their touch tier should get.

Stage 00 reduces the event log to a small table per account (:func:`touch_table`, the
``engagement.csv`` of a run: the last touch of each kind and the touches in the window);
the report joins it with the scores (:func:`engagement_coverage`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from churnlab.vocabulary import TIERS

__all__ = ["engagement_coverage", "touch_kinds", "touch_table"]

_COVERAGE_COLUMNS = [
    "touch_tier",
    "kind",
    "accounts",
    "covered",
    "share",
    "arr",
    "arr_covered",
    "median_health_covered",
    "median_health_not_covered",
]


def touch_kinds(touch_types: Mapping[str, Sequence[str]], event_types: Sequence[str]) -> list[str]:
    """The kinds of touch whose event types the data has, in the order of the params.

    Parameters
    ----------
    touch_types : mapping of str to list of str
        ``engagement.touch_types``: kind -> event types.
    event_types : sequence of str
        The event types of the data.

    Returns
    -------
    list of str
    """
    present = set(map(str, event_types))
    return [kind for kind, names in touch_types.items() if present & set(map(str, names))]


def touch_table(
    events: pd.DataFrame,
    touch_types: Mapping[str, Sequence[str]],
    as_of,
    window_days: int,
) -> pd.DataFrame:
    """Per account, the last touch of each kind before ``as_of`` and the touches in the window.

    Parameters
    ----------
    events : pandas.DataFrame
        ``account_id``, ``timestamp``, ``event_type``.
    touch_types : mapping of str to list of str
        ``engagement.touch_types``.
    as_of : date-like
        The scoring date; touches strictly before it count, as for the features.
    window_days : int
        ``engagement.window_days``: a touch in ``[as_of - window_days, as_of)`` covers.

    Returns
    -------
    pandas.DataFrame
        ``account_id`` and, for each kind the data has (:func:`touch_kinds`),
        ``last_<kind>`` (date) and ``<kind>_in_window`` (count); accounts with no touch
        at all are absent. Only ``account_id`` when the data has none of the events.
    """
    as_of = pd.Timestamp(as_of)
    kinds = touch_kinds(touch_types, events["event_type"].dropna().unique())
    out = pd.DataFrame({"account_id": pd.Series(dtype=str)})
    if not kinds:
        return out
    kind_of = {str(name): kind for kind in kinds for name in touch_types[kind]}
    touch = events[events["event_type"].isin(list(kind_of))]
    hits = pd.DataFrame(
        {
            "account_id": touch["account_id"].astype(str),
            "kind": touch["event_type"].astype(str).map(kind_of),
            "ts": pd.to_datetime(touch["timestamp"]),
        }
    )
    hits = hits[hits["ts"] < as_of]
    since = as_of - pd.Timedelta(days=int(window_days))
    last = hits.groupby(["account_id", "kind"])["ts"].max().dt.normalize().unstack("kind")
    inside = hits[hits["ts"] >= since].groupby(["account_id", "kind"]).size().unstack("kind")
    table = pd.DataFrame(index=last.index)
    for kind in kinds:
        table[f"last_{kind}"] = last.get(kind, pd.Series(dtype="datetime64[ns]"))
        counts = inside.get(kind, pd.Series(dtype=float)) if not inside.empty else None
        table[f"{kind}_in_window"] = (
            counts.reindex(table.index).fillna(0).astype(int) if counts is not None else 0
        )
    return table.reset_index().sort_values("account_id").reset_index(drop=True)


def engagement_coverage(
    touches: pd.DataFrame, scores: pd.DataFrame, expected: Mapping[str, str]
) -> pd.DataFrame:
    """Share of each touch tier's accounts that got their expected touch in the window.

    Parameters
    ----------
    touches : pandas.DataFrame
        :func:`touch_table` (``engagement.csv``).
    scores : pandas.DataFrame
        The scored accounts (``account_id``, ``touch_tier``, ``arr``, ``health_score``).
    expected : mapping of str to str
        ``engagement.expected``: touch tier -> kind of touch.

    Returns
    -------
    pandas.DataFrame
        One row per tier that has accounts and whose expected kind the data has, tiers
        in order: ``touch_tier``, ``kind``, ``accounts``, ``covered``, ``share``, ``arr``,
        ``arr_covered``, ``median_health_covered``, ``median_health_not_covered``.
    """
    rows = []
    if scores.empty or "touch_tier" not in scores.columns:
        return pd.DataFrame(columns=_COVERAGE_COLUMNS)
    book = scores.assign(account_id=scores["account_id"].astype(str))
    counts = touches.assign(account_id=touches["account_id"].astype(str)).set_index("account_id")
    for tier in TIERS:
        kind = expected.get(tier)
        column = f"{kind}_in_window"
        part = book[book["touch_tier"] == tier]
        if kind is None or column not in counts.columns or part.empty:
            continue
        covered = counts[column].reindex(part["account_id"]).fillna(0).to_numpy() > 0
        health = part["health_score"].astype(float) if "health_score" in part else None
        arr = (
            part["arr"].astype(float).fillna(0.0)
            if "arr" in part
            else pd.Series(0.0, index=part.index)
        )
        rows.append(
            {
                "touch_tier": tier,
                "kind": kind,
                "accounts": len(part),
                "covered": int(covered.sum()),
                "share": float(covered.mean()),
                "arr": float(arr.sum()),
                "arr_covered": float(arr[covered].sum()),
                "median_health_covered": float(health[covered].median())
                if health is not None
                else float("nan"),
                "median_health_not_covered": float(health[~covered].median())
                if health is not None
                else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=_COVERAGE_COLUMNS)
