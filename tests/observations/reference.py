"""A plain-pandas reference of the observation-table features, and the data it is tried on.

``reference_features`` computes every feature of one observation the obvious way (loops
allowed): the features engine must agree with it exactly (``test_features.py``). When you
add a feature to the engine, add it here too (docs/adding-a-feature.md).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from churnlab.observations import build_observation_table

EVENT_TYPES = [
    "login",
    "feature_reports",
    "feature_api",
    "feature_alerts",
    "ticket_opened",
    "ticket_resolved",
    "nps_response",
    "csm_meeting",
    "qbr",
    "webinar",
    "onboarding_completed",
    "first_value",
]
WINDOWS = (7, 28, 90)
AS_OFS = pd.to_datetime(["2025-03-31", "2025-06-30", "2025-09-30", "2025-12-31"])


def synthetic(n_accounts: int, n_events: int, seed: int) -> tuple[pd.DataFrame, ...]:
    """Accounts, subscriptions (renewals, expansions, grace gaps, churn) and events."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"A{i:04d}" for i in range(n_accounts)])
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "name": "Co " + pd.Series(ids),
            "industry": rng.choice(["retail", "tech", "health"], n_accounts),
            "region": rng.choice(["emea", "amer"], n_accounts),
            "plan": rng.choice(["starter", "growth"], n_accounts),
            "acquisition_channel": rng.choice(["inbound", "partner"], n_accounts),
            "csm_owner": rng.choice(["ann", "pooled"], n_accounts),
        }
    )
    start = pd.Timestamp("2024-06-01") + pd.to_timedelta(rng.integers(0, 400, n_accounts), "D")
    mrr = rng.choice([100.0, 900.0, 2000.0, 6000.0], n_accounts)
    seats = rng.integers(0, 30, n_accounts)
    term_end = start + pd.DateOffset(months=12)
    kind = rng.integers(
        0, 4, n_accounts
    )  # 0 running, 1 churn at term end, 2 expansion, 3 grace gap
    rows = [
        pd.DataFrame(
            {
                "account_id": ids,
                "start_date": start,
                "end_date": np.where(
                    kind == 0, pd.NaT, np.where(kind == 2, start + pd.Timedelta(days=100), term_end)
                ),
                "mrr": mrr,
                "seats": seats,
                "plan": "growth",
                "billing_period_months": np.where(kind == 0, rng.choice([1, 12], n_accounts), 12),
            }
        )
    ]
    exp = kind == 2
    rows.append(
        pd.DataFrame(
            {
                "account_id": ids[exp],
                "start_date": (start + pd.Timedelta(days=100))[exp],
                "end_date": term_end[exp],
                "mrr": mrr[exp] * 1.5,
                "seats": seats[exp] + 5,
                "plan": "enterprise",
                "billing_period_months": 12,
            }
        )
    )
    gap = kind == 3
    rows.append(
        pd.DataFrame(
            {
                "account_id": ids[gap],
                "start_date": (term_end + pd.Timedelta(days=20))[gap],
                "end_date": pd.NaT,
                "mrr": mrr[gap],
                "seats": seats[gap],
                "plan": "starter",
                "billing_period_months": 1,
            }
        )
    )
    subs = pd.concat(rows, ignore_index=True).astype({"end_date": "datetime64[ns]"})
    subs.insert(0, "subscription_id", [f"S{i:05d}" for i in range(len(subs))])
    acc_idx = rng.integers(0, n_accounts, n_events)
    ts = start[acc_idx] + pd.to_timedelta(rng.integers(-20 * 86400, 600 * 86400, n_events), "s")
    etype = rng.choice(EVENT_TYPES, n_events, p=[0.5, 0.1, 0.05, 0.05] + [0.3 / 8] * 8)
    value = np.where(
        etype == "nps_response",
        rng.integers(0, 11, n_events),
        np.round(rng.exponential(4, n_events), 2),
    ).astype(float)
    events = pd.DataFrame(
        {
            "account_id": ids[acc_idx],
            "timestamp": ts,
            "event_type": etype,
            "value": value,
            "user_id": np.array([f"u{i}" for i in range(8)])[rng.integers(0, 8, n_events)],
        }
    )
    return accounts, subs, events


# ---------------------------------------------------------------- reference implementation


def _ref_anniversary(start: pd.Timestamp, bpm: int, as_of: pd.Timestamp) -> pd.Timestamp:
    k = 1
    while start + pd.DateOffset(months=k * bpm) < as_of:
        k += 1
    return start + pd.DateOffset(months=k * bpm)


def reference_features(accounts, subs, events, account_id: str, as_of: pd.Timestamp) -> dict:
    """Every feature of one observation, written the obvious way (loops allowed here)."""
    out: dict = {}
    ev = events[(events.account_id == account_id) & (events.timestamp < as_of)]
    names = {
        "login": "logins",
        "ticket_opened": "tickets_opened",
        "ticket_resolved": "tickets_resolved",
    }
    names |= {"nps_response": "nps_responses", "csm_meeting": "csm_meetings", "qbr": "qbrs"}
    names |= {"webinar": "webinars", "onboarding_completed": "onboarding_completed_events"}
    names |= {"first_value": "first_value_events"}

    def win(lo, hi=0):
        return ev[
            (ev.timestamp >= as_of - pd.Timedelta(days=lo))
            & (ev.timestamp < as_of - pd.Timedelta(days=hi))
        ]

    for et in EVENT_TYPES:
        stem = names.get(et, et)
        for w in WINDOWS:
            out[f"{stem}_{w}d"] = float((win(w).event_type == et).sum())
        last, prev = (win(28).event_type == et).sum(), (win(56, 28).event_type == et).sum()
        out[f"{stem}_trend_28d"] = (last - prev) / (prev + 1)
    for w in WINDOWS:
        logins = win(w)[win(w).event_type == "login"]
        out[f"active_users_{w}d"] = float(logins.user_id.nunique())
        feats = win(w)[win(w).event_type.str.startswith("feature_")]
        out[f"adoption_breadth_{w}d"] = float(feats.event_type.nunique())
    prev_users = win(56, 28)[win(56, 28).event_type == "login"].user_id.nunique()
    out["active_users_trend_28d"] = (out["active_users_28d"] - prev_users) / (prev_users + 1)
    resolved = win(90)[win(90).event_type == "ticket_resolved"]
    out["median_resolution_days_90d"] = resolved.value.median() if len(resolved) else np.nan
    logins = ev[ev.event_type == "login"]
    out["days_since_last_login"] = (
        float((as_of - logins.timestamp.max().normalize()).days) if len(logins) else np.nan
    )
    out["open_ticket_backlog"] = float(
        (ev.event_type == "ticket_opened").sum() - (ev.event_type == "ticket_resolved").sum()
    )
    nps = ev[ev.event_type == "nps_response"]
    if len(nps):
        out["last_nps"] = nps[nps.timestamp == nps.timestamp.max()].value.max()
        out["nps_category"] = (
            "promoter"
            if out["last_nps"] >= 9
            else "passive"
            if out["last_nps"] >= 7
            else "detractor"
        )
    else:
        out["last_nps"], out["nps_category"] = np.nan, "none"
    touches = ev[ev.event_type.isin(["csm_meeting", "qbr", "webinar"])]
    out["days_since_last_csm_touch"] = (
        float((as_of - touches.timestamp.max().normalize()).days) if len(touches) else np.nan
    )
    # contract
    s = subs[(subs.account_id == account_id) & (subs.start_date < as_of)].copy()
    first_start = s.start_date.min()
    d0 = as_of - pd.Timedelta(days=1)
    end = s.end_date.fillna(pd.Timestamp("2262-01-01"))
    covers = (s.start_date <= d0) & (end > d0)
    current = covers if covers.any() else end == end.max()
    cur = s[current]
    out["mrr"] = float(cur.mrr.sum())
    out["arr"] = out["mrr"] * 12
    out["seats"] = float(cur.seats.sum())
    # plan lines win over add-on lines (line_kind "addon"); without line_kind all are plans
    kind = cur["line_kind"] if "line_kind" in cur else pd.Series("plan", index=cur.index)
    ranked = cur.assign(_is_plan=kind.fillna("plan").str.lower() != "addon")
    top = ranked.sort_values(
        ["_is_plan", "start_date", "mrr", "subscription_id"], ascending=False
    ).iloc[0]
    out["plan"] = top.plan
    out["billing_period_months"] = float(top.billing_period_months)
    d90 = as_of - pd.Timedelta(days=91)
    cov90 = (s.start_date <= d90) & (end > d90)
    out["mrr_change_90d"] = out["mrr"] - s[cov90].mrr.sum() if cov90.any() else np.nan
    out["tenure_days"] = float((as_of - first_start).days)
    renewals = [
        r.end_date
        if pd.notna(r.end_date)
        else _ref_anniversary(r.start_date, int(r.billing_period_months), as_of)
        for r in s[covers].itertuples()
    ]
    out["renewal_date"] = min(renewals) if renewals else pd.NaT
    out["touch_tier"] = (
        "high_touch"
        if out["arr"] >= 60000
        else "low_touch"
        if out["arr"] >= 12000
        else "tech_touch"
    )
    for col, et in (("onboarding", "onboarding_completed"), ("ttv", "first_value")):
        first = ev[ev.event_type == et].timestamp.min()
        out[col] = (
            np.nan if pd.isna(first) else float((first.normalize() - first_start.normalize()).days)
        )
    out["onboarding_completed"] = float(not np.isnan(out["onboarding"]))
    out["days_to_onboard"], out["time_to_value_days"] = out.pop("onboarding"), out.pop("ttv")
    for w in WINDOWS:
        out[f"seat_utilisation_{w}d"] = (
            out[f"active_users_{w}d"] / out["seats"] if out["seats"] else np.nan
        )
    out["logins_per_seat_28d"] = out["logins_28d"] / out["seats"] if out["seats"] else np.nan
    acc = accounts.set_index("account_id").loc[account_id]
    out |= {c: acc[c] for c in ("industry", "region", "acquisition_channel", "csm_owner")}
    return out


def spine_of(subs: pd.DataFrame, dates) -> pd.DataFrame:
    """Accounts with a subscription started before each as_of (a superset of 'active')."""
    first = subs.groupby("account_id").start_date.min()
    pairs = pd.DataFrame({"account_id": first.index}).merge(
        pd.DataFrame({"as_of": dates}), how="cross"
    )
    pairs = pairs[first.loc[pairs.account_id].to_numpy() < pairs.as_of.to_numpy()]
    return pairs.assign(checkpoint="month_end").reset_index(drop=True)


RATIOS = {"logins_per_seat_28d": ("logins_28d", "seats")}


def one_subscription() -> pd.DataFrame:
    """Account A, one open subscription since 2025-01-01 at 10 MRR."""
    return pd.DataFrame(
        {
            "account_id": ["A"],
            "start_date": [pd.Timestamp("2025-01-01")],
            "end_date": [pd.NaT],
            "mrr": [10.0],
        }
    )


@functools.cache
def small_case() -> tuple[tuple[pd.DataFrame, ...], pd.DataFrame, pd.DataFrame]:
    """12 accounts and 1500 events, one as_of: ``(inputs, spine, observation table)``."""
    inputs = synthetic(n_accounts=12, n_events=1500, seed=11)
    spine = spine_of(inputs[1], [pd.Timestamp("2025-09-30")])
    return inputs, spine, build_observation_table(*inputs, spine, event_types=EVENT_TYPES)
