"""Event-log feature block of the observation table (Ibis expressions, run on DuckDB).

:func:`event_block` takes the spine keys ``S`` (``account_id``, ``as_of``,
``as_of`` at midnight) and the events table ``E`` (``account_id``,
``timestamp``, ``event_type``, ``value``, ``user_id``; timestamps cast to
``timestamp``) and returns one row per key. Only events with
``timestamp < as_of`` are used.

A window of ``w`` days is ``[as_of - w days, as_of)``; the window before it is
``[as_of - 2w days, as_of - w days)``. Day counts are calendar-day differences
(``DATE_DIFF('day', earlier, later)``), so an event at 15:00 on the day
before ``as_of`` is 1 day old. As ``as_of`` is midnight,
``timestamp < as_of - k days`` holds exactly when the event's calendar day is
before ``as_of - k``: every window is a range of whole days.

How it stays cheap (no join of events against observations):

* **markers**: the days ``as_of - o`` for every window boundary offset ``o``
  (``0``, each ``w``, ``2w`` for trends) of every observation; ``M`` = their
  distinct values over the whole spine (a few dozen for month-end spines).
* **buckets**: an event on day ``d`` counts for marker ``X`` exactly when
  ``d < X``; it is summed into the bucket of the smallest marker ``> d``
  (a hash join with a small calendar table). One hash aggregation turns the
  event log into per-``(account, bucket)`` counts, first/last timestamps.
* **distinct users / feature types**: the buckets an entity (a user, a
  feature type) was seen in; each such bucket ``m`` contributes ``+1`` from
  marker ``m`` on and ``-1`` from ``min(next bucket, m + w)`` on, so a running
  sum at marker ``X`` counts entities seen in ``[X - w, X)`` exactly (``X`` and
  ``X - w`` are both markers).
* a running sum / min / max per account over the buckets (one window pass over
  a table of at most accounts x markers rows) gives every cumulative value at
  every marker; a window count is ``C(as_of) - C(as_of - w)``.

Sparse features with no additive form use small direct steps: the median
ticket resolution time (a range join of ``ticket_resolved`` events only) and
the last NPS answer (an ASOF join of the NPS answers).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

LOGIN = "login"
FEATURE_PREFIX = "feature_"
TICKET_OPENED = "ticket_opened"
TICKET_RESOLVED = "ticket_resolved"
NPS = "nps_response"
ONBOARDING_COMPLETED = "onboarding_completed"
FIRST_VALUE = "first_value"
CSM_TOUCH_TYPES = ("csm_meeting", "qbr", "webinar")

_COUNT_NAMES = {
    "login": "logins",
    "ticket_opened": "tickets_opened",
    "ticket_resolved": "tickets_resolved",
    "nps_response": "nps_responses",
    "csm_meeting": "csm_meetings",
    "qbr": "qbrs",
    "webinar": "webinars",
    "onboarding_step": "onboarding_steps",
    "onboarding_completed": "onboarding_completed_events",
    "first_value": "first_value_events",
}
_EPOCH = ibis.date(1970, 1, 1)
_KEYS = ["account_id", "as_of"]


def count_name(event_type: str) -> str:
    """Readable column stem for counts of an event type (``login`` -> ``logins``)."""
    if event_type in _COUNT_NAMES:
        return _COUNT_NAMES[event_type]
    return re.sub(r"[^0-9a-z]+", "_", event_type.lower()).strip("_") or "events"


def trend(last: ir.NumericValue, previous: ir.NumericValue) -> ir.FloatingValue:
    """Trend of a count: ``(last - previous) / (previous + 1)``.

    Defined for every pair of non-negative counts (0 when both are 0, ``last``
    when the previous window was empty, -1 < trend when usage drops).
    """
    return (last - previous).cast("float64") / (previous + 1).cast("float64")


def day_number(value: ir.TimestampValue) -> ir.IntegerValue:
    """Calendar day of a timestamp as days since 1970-01-01 (exact for any date)."""
    return value.date().delta(_EPOCH, unit="day")


def marker_offsets(windows: Sequence[int], trend_windows: Sequence[int]) -> list[int]:
    """Day offsets ``o`` of the window boundaries ``as_of - o`` every observation needs."""
    return sorted({0, *windows, *trend_windows, *(2 * w for w in trend_windows)})


def marker_calendar(as_of_days: np.ndarray, offsets: Sequence[int]) -> pd.DataFrame:
    """``key -> bucket`` (smallest marker ``>= key``) for every day between the markers.

    ``as_of_days`` are the distinct ``as_of`` day numbers of the spine. Keys
    before the first marker belong to the first marker (clamp them); keys after
    the last marker belong to no bucket.
    """
    days = np.asarray(as_of_days, dtype="int64")
    markers = np.unique((days[:, None] - np.asarray(offsets, dtype="int64")[None, :]).ravel())
    keys = np.arange(markers[0], markers[-1] + 1, dtype="int64")
    return pd.DataFrame({"key": keys, "bucket": markers[np.searchsorted(markers, keys)]})


def _bucketed(table: ir.Table, key: ir.IntegerValue, calendar: ir.Table, first: int) -> ir.Table:
    """``table`` plus column ``b``: the bucket of ``key`` (rows after the last marker dropped)."""
    t = table.mutate(_key=ibis.greatest(key, ibis.literal(first, "int64")))
    joined = t.join(calendar, t._key == calendar.key)
    return joined.select(*[t[c] for c in table.columns if c != "b"], b=calendar.bucket)


def _presence_deltas(
    seen: ir.Table, windows: Sequence[int], prefix: str, calendar: ir.Table, first: int
) -> ir.Table:
    """``+1``/``-1`` rows (``account_id``, ``b``, ``<prefix>_plus``, ``<prefix>_minus<w>``).

    ``seen`` holds distinct ``(account_id, entity, b)``: the buckets an entity
    was seen in. A running sum of ``plus - minus<w>`` at marker ``X`` is the
    number of entities seen in a bucket ``m`` with ``X - w < m <= X``.
    """
    nxt = seen.b.lead().over(group_by=["account_id", "entity"], order_by="b")
    seen = seen.mutate(nxt=nxt)
    plus = seen.select("account_id", k=seen.b, kind=ibis.literal(-1, "int64"))
    parts = [plus]
    for w in windows:
        end = ibis.least(seen.nxt, seen.b + w).fill_null(seen.b + w)
        parts.append(seen.select("account_id", k=end, kind=ibis.literal(w, "int64")))
    rows = ibis.union(*parts, distinct=False)
    rows = _bucketed(rows, rows.k, calendar, first)
    return rows.group_by(["account_id", "b"]).aggregate(
        **{f"{prefix}_plus": rows.count(where=rows.kind == -1).cast("float64")},
        **{f"{prefix}_minus{w}": rows.count(where=rows.kind == w).cast("float64") for w in windows},
    )


def _pad(table: ir.Table, schema: dict[str, str]) -> ir.Table:
    """All ``schema`` columns (typed nulls for the missing ones), in that order."""
    return table.select(
        *[
            table[c].cast(t) if c in table.columns else ibis.null(t).name(c)
            for c, t in schema.items()
        ]
    )


def event_block(
    keys: ir.Table,
    events: ir.Table,
    *,
    windows: Sequence[int],
    trend_windows: Sequence[int],
    event_types: Sequence[str],
    as_of_days: np.ndarray,
) -> ir.Table:
    """Every event feature per ``(account_id, as_of)``.

    Columns: ``<count_name>_<w>d`` per event type and window,
    ``_prev_<stem>_<w>d`` / ``_last_<stem>_<w>d`` trend helpers,
    ``active_users_<w>d`` (distinct non-null ``user_id`` of ``login``
    events), ``adoption_breadth_<w>d`` (distinct ``feature_*`` types),
    ``median_resolution_days_<W>d`` (median ``value`` of ``ticket_resolved``
    events, ``W`` = the largest window), ``days_since_last_login``,
    ``tickets_opened_total``, ``tickets_resolved_total``, ``onboarded_at``,
    ``first_value_at``, ``last_csm_touch_at`` and ``last_nps`` (the latest
    ``nps_response`` value; ties at the same timestamp resolve to the highest).
    ``as_of_days``: the distinct ``as_of`` day numbers (:func:`day_number`).
    """
    offsets = marker_offsets(windows, trend_windows)
    cal_df = marker_calendar(as_of_days, offsets)
    first = int(cal_df.key.iloc[0])
    calendar = ibis.memtable(cal_df)
    user_windows = sorted({*windows, *trend_windows})
    ctypes = list(dict.fromkeys([*event_types, TICKET_OPENED, TICKET_RESOLVED]))

    ev = events.mutate(dn=day_number(events.timestamp))
    ev = _bucketed(ev, ev.dn + 1, calendar, first)
    et = ev.event_type
    counts = ev.group_by(["account_id", "b"]).aggregate(
        **{f"c{i}": ev.count(where=et == t).cast("float64") for i, t in enumerate(ctypes)},
        login_day=ev.dn.max(where=et == LOGIN),
        onboarded_at=ev.timestamp.min(where=et == ONBOARDING_COMPLETED),
        first_value_at=ev.timestamp.min(where=et == FIRST_VALUE),
        last_csm_touch_at=ev.timestamp.max(where=et.isin(list(CSM_TOUCH_TYPES))),
    )
    logins = ev.filter((et == LOGIN) & ev.user_id.notnull())
    users = logins.select("account_id", entity=logins.user_id, b=logins.b).distinct()
    feats = ev.filter(et.startswith(FEATURE_PREFIX))
    used = feats.select("account_id", entity=feats.event_type, b=feats.b).distinct()
    au = _presence_deltas(users, user_windows, "au", calendar, first)
    br = _presence_deltas(used, windows, "br", calendar, first)

    obs = keys.select("account_id", "as_of", day=day_number(keys.as_of))
    probes = obs.cross_join(ibis.memtable(pd.DataFrame({"o": offsets})))
    probes = probes.mutate(b=probes.day - probes.o)
    markers = probes.select("account_id", "b").distinct()

    sums = [f"c{i}" for i in range(len(ctypes))] + [
        c for c in (*au.columns, *br.columns) if c.startswith(("au_", "br_"))
    ]
    # float64 running sums: exact for counts below 2**53 and cheaper than int128 sums
    schema = {"account_id": "string", "b": "int64", **dict.fromkeys(sums, "float64")}
    schema |= {"login_day": "int64"}
    schema |= dict.fromkeys(["onboarded_at", "first_value_at", "last_csm_touch_at"], "timestamp")
    rows = ibis.union(*[_pad(t, schema) for t in (markers, counts, au, br)], distinct=False)
    per = rows.group_by(["account_id", "b"]).aggregate(
        **{c: rows[c].sum() for c in sums},
        login_day=rows.login_day.max(),
        onboarded_at=rows.onboarded_at.min(),
        first_value_at=rows.first_value_at.min(),
        last_csm_touch_at=rows.last_csm_touch_at.max(),
    )
    run = ibis.cumulative_window(group_by="account_id", order_by="b")
    cum = per.select(
        "account_id",
        "b",
        **{c: per[c].sum().over(run).fill_null(0) for c in sums},
        login_day=per.login_day.max().over(run),
        onboarded_at=per.onboarded_at.min().over(run),
        first_value_at=per.first_value_at.min().over(run),
        last_csm_touch_at=per.last_csm_touch_at.max().over(run),
    )
    j = probes.join(cum, [probes.account_id == cum.account_id, probes.b == cum.b])
    out = j.group_by(_KEYS).aggregate(**_pivot(j, ctypes, event_types, windows, trend_windows))
    out = out.mutate(
        **{f"adoption_breadth_{w}d": out[f"__br{w}"] for w in windows},
        **{f"active_users_{w}d": out[f"__au{w}"] for w in windows},
        days_since_last_login=(out.day - out.login_day).cast("float64"),
    )
    out = out.drop("day", "login_day", *[c for c in out.columns if c.startswith("__")])
    for block in (_median_resolution(keys, events, max(windows)), _last_nps(keys, events)):
        joined = out.left_join(block, _KEYS)
        out = joined.select(
            *[out[c] for c in out.columns], *[block[c] for c in block.columns if c not in _KEYS]
        )
    return out


def _pivot(
    j: ir.Table,
    ctypes: Sequence[str],
    event_types: Sequence[str],
    windows: Sequence[int],
    trend_windows: Sequence[int],
) -> dict[str, ir.Value]:
    """Aggregations turning one row per (observation, marker offset) into the feature columns."""

    def at(column: str, o: int) -> ir.Value:
        return j[column].max(where=j.o == o)

    def count(i: int, lo: int, hi: int) -> ir.Value:  # events in [as_of - lo, as_of - hi)
        return (at(f"c{i}", hi) - at(f"c{i}", lo)).cast("int64")

    aggs: dict[str, ir.Value] = {"day": j.day.max(), "login_day": at("login_day", 0)}
    for i, et in enumerate(ctypes):
        name = count_name(et)
        if et in event_types:
            for w in windows:
                aggs[f"{name}_{w}d"] = count(i, w, 0)
            for w in trend_windows:
                aggs[f"_prev_{name}_{w}d"] = count(i, 2 * w, w)
                if w not in windows:
                    aggs[f"_last_{name}_{w}d"] = count(i, w, 0)
        if et in (TICKET_OPENED, TICKET_RESOLVED):
            aggs[f"{name}_total"] = at(f"c{i}", 0).cast("int64")
    for w in sorted({*windows, *trend_windows}):
        aggs[f"__au{w}"] = (at("au_plus", 0) - at(f"au_minus{w}", 0)).cast("int64")
    for w in trend_windows:
        aggs[f"_prev_active_users_{w}d"] = (at("au_plus", w) - at(f"au_minus{w}", w)).cast("int64")
        if w not in windows:
            aggs[f"_last_active_users_{w}d"] = aggs[f"__au{w}"]
    for w in windows:
        aggs[f"__br{w}"] = (at("br_plus", 0) - at(f"br_minus{w}", 0)).cast("int64")
    for c in ("onboarded_at", "first_value_at", "last_csm_touch_at"):
        aggs[c] = at(c, 0)
    return aggs


def _median_resolution(keys: ir.Table, events: ir.Table, top: int) -> ir.Table:
    """``median_resolution_days_<top>d``: a range join of the sparse ``ticket_resolved`` rows."""
    res = events.filter(events.event_type == TICKET_RESOLVED).select(
        "account_id", "timestamp", "value"
    )
    j = keys.join(
        res,
        [
            keys.account_id == res.account_id,
            res.timestamp < keys.as_of,
            res.timestamp >= keys.as_of - ibis.interval(days=top),
        ],
    )
    return j.group_by(_KEYS).aggregate(**{f"median_resolution_days_{top}d": j.value.median()})


def _last_nps(keys: ir.Table, events: ir.Table) -> ir.Table:
    """``last_nps``: ASOF join on the latest NPS timestamp before ``as_of`` (ties: highest)."""
    nps = events.filter(events.event_type == NPS)
    nps = nps.group_by(["account_id", "timestamp"]).aggregate(last_nps=nps.value.max())
    joined = keys.asof_join(nps, on=keys.as_of > nps.timestamp, predicates="account_id")
    return joined.select("account_id", "as_of", "last_nps")


def finish_window_columns(
    table: ir.Table,
    *,
    windows: Sequence[int],
    trend_windows: Sequence[int],
    event_types: Sequence[str],
) -> ir.Table:
    """Add the trend columns and drop helper columns."""
    trends: dict[str, ir.Value] = {}
    for w in trend_windows:
        for stem in [count_name(et) for et in event_types] + ["active_users"]:
            last = table[f"{stem}_{w}d"] if w in windows else table[f"_last_{stem}_{w}d"]
            trends[f"{stem}_trend_{w}d"] = trend(last, table[f"_prev_{stem}_{w}d"])
    table = table.mutate(**trends)
    return table.drop(*[c for c in table.columns if c.startswith("_")])
