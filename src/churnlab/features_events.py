"""Event-log feature blocks of the observation table (Ibis expressions, run on DuckDB).

Every block takes the spine ``S`` (``account_id``, ``as_of``) and the events
table ``E`` (``account_id``, ``timestamp``, ``event_type``, ``value``,
``user_id``; timestamps cast to ``timestamp``) and returns an Ibis table keyed
by ``(account_id, as_of)``. Only events with ``timestamp < as_of`` are used.

A window of ``w`` days is ``[as_of - w days, as_of)``; the window before it is
``[as_of - 2w days, as_of - w days)``. Day counts are calendar-day differences
(``DATE_DIFF('day', earlier, later)``), so an event at 15:00 on the day
before ``as_of`` is 1 day old.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

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


def window_block(
    spine: ir.Table,
    events: ir.Table,
    *,
    windows: Sequence[int],
    trend_windows: Sequence[int],
    event_types: Sequence[str],
) -> ir.Table:
    """Windowed counts, trends, active users, adoption breadth and ticket resolution.

    Columns: ``<count_name>_<w>d`` per event type and window,
    ``<count_name>_trend_<w>d`` per event type and trend window,
    ``active_users_<w>d`` (distinct ``user_id`` of ``login`` events),
    ``active_users_trend_<w>d``, ``adoption_breadth_<w>d`` (distinct
    ``feature_*`` types) and ``median_resolution_days_<W>d`` (median ``value``
    of ``ticket_resolved`` events, ``W`` = the largest window).
    """
    lookback = max(max(windows), 2 * max(trend_windows, default=0))
    keys = spine.select("account_id", "as_of")

    def joined_with(evs: ir.Table) -> ir.Table:
        j = keys.join(
            evs,
            [
                keys.account_id == evs.account_id,
                evs.timestamp < keys.as_of,
                evs.timestamp >= keys.as_of - ibis.interval(days=lookback),
            ],
        )
        # as_of is a date (midnight): ts >= as_of - w days  <=>  age <= w
        return j.mutate(age=j.as_of.delta(j.timestamp, unit="day"))

    # 1. counts per (observation, event type): one cheap pass, then a pivot of a small table
    j = joined_with(events)
    per_type = j.group_by(["account_id", "as_of", "event_type"]).aggregate(
        **{f"n{w}": (j.age <= w).sum() for w in windows},
        **{f"p{w}": ((j.age > w) & (j.age <= 2 * w)).sum() for w in trend_windows},
        **{f"n{w}": (j.age <= w).sum() for w in trend_windows if w not in windows},
    )
    etype = per_type.event_type
    is_feature = etype.startswith(FEATURE_PREFIX)
    aggs: dict[str, ir.Scalar] = {}
    for et in event_types:
        name = count_name(et)
        for w in windows:
            aggs[f"{name}_{w}d"] = per_type[f"n{w}"].sum(where=etype == et).cast("int64")
        for w in trend_windows:
            aggs[f"_prev_{name}_{w}d"] = per_type[f"p{w}"].sum(where=etype == et).cast("int64")
            if w not in windows:
                aggs[f"_last_{name}_{w}d"] = per_type[f"n{w}"].sum(where=etype == et).cast("int64")
    for w in windows:
        aggs[f"adoption_breadth_{w}d"] = (is_feature & (per_type[f"n{w}"] > 0)).sum().cast("int64")
    counts = per_type.group_by(["account_id", "as_of"]).aggregate(**aggs)

    # 2. active users: the youngest login of each user, then count users per window
    lj = joined_with(events.filter(events.event_type == LOGIN))
    per_user = lj.group_by(["account_id", "as_of", lj.user_id]).aggregate(
        youngest=lj.age.min(),
        **{f"youngest_after{w}": lj.age.min(where=lj.age > w) for w in trend_windows},
    )
    users = per_user.group_by(["account_id", "as_of"]).aggregate(
        **{f"active_users_{w}d": (per_user.youngest <= w).sum().cast("int64") for w in windows},
        **{
            f"_prev_active_users_{w}d": (per_user[f"youngest_after{w}"] <= 2 * w)
            .sum()
            .cast("int64")
            for w in trend_windows
        },
        **{
            f"_last_active_users_{w}d": (per_user.youngest <= w).sum().cast("int64")
            for w in trend_windows
            if w not in windows
        },
    )

    # 3. median resolution time over the largest window (sparse events only)
    top = max(windows)
    rj = joined_with(events.filter(events.event_type == TICKET_RESOLVED))
    rj = rj.filter(rj.age <= top)
    resolution = rj.group_by(["account_id", "as_of"]).aggregate(
        **{f"median_resolution_days_{top}d": rj.value.median()}
    )
    out = keys
    for block in (counts, users, resolution):
        joined = out.left_join(block, ["account_id", "as_of"])
        out = joined.select(
            *[out[c] for c in out.columns],
            *[block[c] for c in block.columns if c not in keys.columns],
        )
    return out


def finish_window_columns(
    table: ir.Table,
    *,
    windows: Sequence[int],
    trend_windows: Sequence[int],
    event_types: Sequence[str],
) -> ir.Table:
    """Fill empty windows with 0, add the trend columns and drop helper columns."""
    keep_null = ("account_id", "as_of")
    table = table.mutate(
        **{
            c: table[c].fill_null(0)
            for c in table.columns
            if c not in keep_null and not c.startswith("median_resolution")
        }
    )
    trends: dict[str, ir.Value] = {}
    for w in trend_windows:
        for stem in [count_name(et) for et in event_types] + ["active_users"]:
            last = table[f"{stem}_{w}d"] if w in windows else table[f"_last_{stem}_{w}d"]
            trends[f"{stem}_trend_{w}d"] = trend(last, table[f"_prev_{stem}_{w}d"])
    table = table.mutate(**trends)
    return table.drop(*[c for c in table.columns if c.startswith("_")])


def last_login_block(spine: ir.Table, events: ir.Table) -> ir.Table:
    """``days_since_last_login`` (NaN when the account never logged in before ``as_of``).

    Uses a DuckDB ASOF join (the latest login strictly before ``as_of``), so
    the unbounded look-back does not multiply the login rows.
    """
    logins = events.filter(events.event_type == LOGIN).select(
        account_id=events.account_id, last_login=events.timestamp
    )
    keys = spine.select("account_id", "as_of")
    joined = keys.asof_join(logins, on=keys.as_of > logins.last_login, predicates="account_id")
    return joined.select(
        "account_id",
        "as_of",
        days_since_last_login=joined.as_of.delta(joined.last_login, unit="day").cast("float64"),
    )


def history_block(spine: ir.Table, events: ir.Table) -> ir.Table:
    """Features over the whole history before ``as_of`` from the sparse event types.

    Columns: ``tickets_opened_total``, ``tickets_resolved_total`` (helpers for
    the backlog), ``onboarded_at``, ``first_value_at``, ``last_csm_touch_at``,
    ``last_nps`` (the latest ``nps_response`` value; ties at the same
    timestamp resolve to the highest value).
    """
    sparse_types = [
        TICKET_OPENED,
        TICKET_RESOLVED,
        NPS,
        ONBOARDING_COMPLETED,
        FIRST_VALUE,
        *CSM_TOUCH_TYPES,
    ]
    sparse = events.filter(events.event_type.isin(sparse_types))
    keys = spine.select("account_id", "as_of")
    j = keys.join(sparse, [keys.account_id == sparse.account_id, sparse.timestamp < keys.as_of])
    et = j.event_type
    agg = j.group_by(["account_id", "as_of"]).aggregate(
        tickets_opened_total=(et == TICKET_OPENED).sum().cast("int64"),
        tickets_resolved_total=(et == TICKET_RESOLVED).sum().cast("int64"),
        onboarded_at=j.timestamp.min(where=et == ONBOARDING_COMPLETED),
        first_value_at=j.timestamp.min(where=et == FIRST_VALUE),
        last_csm_touch_at=j.timestamp.max(where=et.isin(list(CSM_TOUCH_TYPES))),
        last_nps_at=j.timestamp.max(where=et == NPS),
    )
    nps = j.filter(et == NPS).select("account_id", "as_of", "timestamp", "value")
    latest = nps.join(
        agg.select("account_id", "as_of", "last_nps_at"),
        [
            nps.account_id == agg.account_id,
            nps.as_of == agg.as_of,
            nps.timestamp == agg.last_nps_at,
        ],
    )
    last_nps = latest.group_by(["account_id", "as_of"]).aggregate(last_nps=latest.value.max())
    joined = agg.left_join(last_nps, ["account_id", "as_of"])
    return joined.select(*[agg[c] for c in agg.columns if c != "last_nps_at"], last_nps.last_nps)
