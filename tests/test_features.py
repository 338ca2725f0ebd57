"""Features engine vs a deliberately simple pandas reference, plus leakage properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnlab.features import build_observation_table, feature_columns

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
    top = cur.sort_values(["start_date", "mrr", "subscription_id"], ascending=False).iloc[0]
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


def _spine(subs: pd.DataFrame, dates) -> pd.DataFrame:
    """Accounts with a subscription started before each as_of (a superset of 'active')."""
    first = subs.groupby("account_id").start_date.min()
    pairs = pd.DataFrame({"account_id": first.index}).merge(
        pd.DataFrame({"as_of": dates}), how="cross"
    )
    pairs = pairs[first.loc[pairs.account_id].to_numpy() < pairs.as_of.to_numpy()]
    return pairs.assign(checkpoint="month_end").reset_index(drop=True)


RATIOS = {"logins_per_seat_28d": ("logins_28d", "seats")}


@pytest.fixture(scope="module")
def data():
    accounts, subs, events = synthetic(n_accounts=300, n_events=60_000, seed=7)
    spine = _spine(subs, AS_OFS)
    table = build_observation_table(
        accounts, subs, events, spine, windows=WINDOWS, event_types=EVENT_TYPES, ratios=RATIOS
    )
    return accounts, subs, events, spine, table


def test_engine_matches_reference_on_a_sample(data):
    accounts, subs, events, spine, table = data
    assert len(table) == len(spine)
    sample = table.sample(n=50, random_state=3)
    numeric, categorical = feature_columns(table)
    assert {"logins_28d", "days_since_last_login", "mrr_change_90d", "last_nps"} <= set(numeric)
    assert {"plan", "touch_tier", "nps_category", "industry"} <= set(categorical)
    for row in sample.itertuples(index=False):
        ref = reference_features(accounts, subs, events, row.account_id, row.as_of)
        got = row._asdict()
        for col in numeric + ["arr"]:
            np.testing.assert_allclose(
                got[col], ref[col], rtol=0, atol=1e-9, err_msg=f"{col} {row.account_id}"
            )
        for col in categorical:
            assert got[col] == ref[col], (col, row.account_id, row.as_of)
        assert (pd.isna(got["renewal_date"]) and pd.isna(ref["renewal_date"])) or got[
            "renewal_date"
        ] == ref["renewal_date"], (row.account_id, row.as_of)
        if pd.notna(ref["renewal_date"]):
            assert got["days_to_renewal"] == (ref["renewal_date"] - row.as_of).days


def test_output_sorted_keyed_and_deterministic(data):
    accounts, subs, events, spine, table = data
    assert table[["account_id", "as_of"]].duplicated().sum() == 0
    assert list(table.columns[:3]) == ["account_id", "as_of", "checkpoint"]
    assert table.equals(
        table.sort_values(["as_of", "account_id"], kind="mergesort").reset_index(drop=True)
    )
    shuffled = events.sample(frac=1.0, random_state=1)
    again = build_observation_table(
        accounts,
        subs,
        shuffled,
        spine.iloc[::-1],
        windows=WINDOWS,
        event_types=EVENT_TYPES,
        ratios=RATIOS,
    )
    pd.testing.assert_frame_equal(table, again)


def test_inputs_not_modified(data):
    accounts, subs, events, spine, _ = data
    before = events.copy()
    build_observation_table(accounts, subs, events, spine.head(5), event_types=["login"])
    pd.testing.assert_frame_equal(events, before)


# ---------------------------------------------------------------- hand-worked fixture


def test_hand_worked_fixture():
    as_of = pd.Timestamp("2026-03-31")
    accounts = pd.DataFrame({"account_id": ["A"], "industry": ["tech"]})
    subs = pd.DataFrame(
        {
            "subscription_id": ["s1", "s2"],
            "account_id": ["A", "A"],
            "start_date": pd.to_datetime(["2025-01-15", "2026-02-01"]),
            "end_date": pd.to_datetime(["2026-02-01", "2027-01-15"]),
            "mrr": [1000.0, 5500.0],
            "seats": [0, 10],
            "plan": ["growth", "enterprise"],
            "billing_period_months": [12, 12],
        }
    )
    ts = pd.to_datetime(
        [
            "2026-03-30 23:00",  # login, 1 day before as_of, user a
            "2026-03-31 00:00",  # login AT as_of: excluded
            "2026-03-10",  # login user b (in 28d)
            "2026-02-20",  # login user a (prev 28d window: [03-03 - 28d, 03-03))
            "2026-03-01",  # ticket opened
            "2026-03-02",  # ticket resolved after 3.5 days
            "2025-06-01",  # nps 6
            "2026-01-01",  # nps 8 (latest)
        ],
        format="ISO8601",
    )
    events = pd.DataFrame(
        {
            "account_id": "A",
            "timestamp": ts,
            "event_type": ["login"] * 4
            + ["ticket_opened", "ticket_resolved", "nps_response", "nps_response"],
            "value": [np.nan] * 5 + [3.5, 6.0, 8.0],
            "user_id": ["a", "a", "b", "a", None, None, None, None],
        }
    )
    spine = pd.DataFrame({"account_id": ["A"], "as_of": [as_of]})
    row = build_observation_table(
        accounts, subs, events, spine, event_types=["login"], ratios=RATIOS
    ).iloc[0]
    assert row.logins_28d == 2 and row.logins_7d == 1 and row.logins_90d == 3
    assert row.logins_trend_28d == pytest.approx((2 - 1) / (1 + 1))
    assert row.active_users_28d == 2 and row.seat_utilisation_28d == pytest.approx(0.2)
    assert row.days_since_last_login == 1
    assert row.open_ticket_backlog == 0 and row.median_resolution_days_90d == 3.5
    assert row.last_nps == 8 and row.nps_category == "passive"
    assert (
        row.mrr == 5500
        and row.arr == 66000
        and row.touch_tier == "high_touch"
        and row.plan == "enterprise"
    )
    assert row.mrr_change_90d == 4500  # 2025-12-30: only s1 (1000)
    assert row.renewal_date == pd.Timestamp("2027-01-15") and row.days_to_renewal == 290
    assert row.tenure_days == (as_of - pd.Timestamp("2025-01-15")).days
    assert row.onboarding_completed == 0 and np.isnan(row.days_to_onboard)
    assert row.logins_per_seat_28d == pytest.approx(0.2)
    assert np.isnan(row.days_since_last_csm_touch)


def test_grace_gap_uses_lapsed_contract_not_the_future_one():
    subs = pd.DataFrame(
        {
            "account_id": ["A", "A"],
            "start_date": pd.to_datetime(["2025-01-01", "2026-04-10"]),
            "end_date": pd.to_datetime(["2026-03-20", pd.NaT]),
            "mrr": [800.0, 9000.0],
        }
    )
    spine = pd.DataFrame({"account_id": ["A"], "as_of": [pd.Timestamp("2026-03-31")]})
    events = pd.DataFrame(
        {"account_id": ["A"], "timestamp": [pd.Timestamp("2026-01-01")], "event_type": ["login"]}
    )
    row = build_observation_table(pd.DataFrame({"account_id": ["A"]}), subs, events, spine).iloc[0]
    assert row.mrr == 800 and row.touch_tier == "tech_touch" and pd.isna(row.renewal_date)
    assert np.isnan(row.seats) or row.seats == 0


# ---------------------------------------------------------------- leakage properties

_SMALL = synthetic(n_accounts=12, n_events=1500, seed=11)
_AS_OF = pd.Timestamp("2025-09-30")
_SPINE = _spine(_SMALL[1], [_AS_OF])
_BASE = build_observation_table(*_SMALL, _SPINE, event_types=EVENT_TYPES)


@settings(max_examples=15, deadline=None)
@given(
    n_new=st.integers(1, 40),
    seed=st.integers(0, 10_000),
    drop_future=st.booleans(),
    max_offset_days=st.sampled_from([0, 1, 30, 400]),
)
def test_events_at_or_after_as_of_never_change_features(n_new, seed, drop_future, max_offset_days):
    accounts, subs, events = _SMALL
    rng = np.random.default_rng(seed)
    new = pd.DataFrame(
        {
            "account_id": rng.choice(accounts.account_id, n_new),
            "timestamp": _AS_OF
            + pd.to_timedelta(rng.integers(0, max_offset_days * 86400 + 1, n_new), "s"),
            "event_type": rng.choice(EVENT_TYPES, n_new),
            "value": rng.integers(0, 11, n_new).astype(float),
            "user_id": rng.choice(["u1", "new_user"], n_new),
        }
    )
    changed = events[events.timestamp < _AS_OF] if drop_future else events
    future_subs = pd.DataFrame(
        {
            "subscription_id": ["X1"],
            "account_id": [rng.choice(accounts.account_id)],
            "start_date": [_AS_OF + pd.Timedelta(days=int(rng.integers(0, 60)))],
            "end_date": [pd.NaT],
            "mrr": [99999.0],
            "seats": [500],
            "plan": ["enterprise"],
            "billing_period_months": [1],
        }
    )
    got = build_observation_table(
        accounts,
        pd.concat([subs, future_subs], ignore_index=True),
        pd.concat([changed, new], ignore_index=True),
        _SPINE,
        event_types=EVENT_TYPES,
    )
    pd.testing.assert_frame_equal(got, _BASE)


def test_property_test_can_fail():
    """An event just before as_of does change features (guards the property above)."""
    accounts, subs, events = _SMALL
    extra = pd.DataFrame(
        {
            "account_id": [_SPINE.account_id.iloc[0]],
            "timestamp": [_AS_OF - pd.Timedelta(seconds=1)],
            "event_type": ["login"],
            "value": [np.nan],
            "user_id": ["zz"],
        }
    )
    got = build_observation_table(
        accounts,
        subs,
        pd.concat([events, extra], ignore_index=True),
        _SPINE,
        event_types=EVENT_TYPES,
    )
    assert not got.equals(_BASE)


# ---------------------------------------------------------------- engine edge cases


def test_arbitrary_as_of_days_match_reference():
    """Per-account as_of days (renewal checkpoints) give other window buckets: still exact."""
    accounts, subs, events = synthetic(n_accounts=40, n_events=8000, seed=5)
    rng = np.random.default_rng(5)
    spine = pd.DataFrame(
        {
            "account_id": np.repeat(accounts.account_id.to_numpy(), 2),
            "as_of": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 400, 2 * len(accounts)), "D"),
        }
    ).drop_duplicates()
    first = subs.groupby("account_id").start_date.min()
    spine = spine[first.loc[spine.account_id].to_numpy() < spine.as_of.to_numpy()]
    table = build_observation_table(
        accounts, subs, events, spine, windows=WINDOWS, event_types=EVENT_TYPES, ratios=RATIOS
    )
    numeric, _ = feature_columns(table)
    for row in table.sample(n=25, random_state=1).itertuples(index=False):
        ref = reference_features(accounts, subs, events, row.account_id, row.as_of)
        got = row._asdict()
        for col in numeric:
            np.testing.assert_allclose(got[col], ref[col], rtol=0, atol=1e-9, err_msg=col)


def _one_subscription() -> pd.DataFrame:
    """Account A, one open subscription since 2025-01-01 at 10 MRR."""
    return pd.DataFrame(
        {
            "account_id": ["A"],
            "start_date": [pd.Timestamp("2025-01-01")],
            "end_date": [pd.NaT],
            "mrr": [10.0],
        }
    )


def _record_stages(monkeypatch, con) -> list[str]:
    """Names of the tables the engine creates on ``con`` (its stages), in order."""
    created: list[str] = []
    real_create = type(con).create_table

    def spy(self, name, *args, **kwargs):
        created.append(name)
        return real_create(self, name, *args, **kwargs)

    monkeypatch.setattr(type(con), "create_table", spy)
    return created


def test_logins_without_user_are_not_active_users():
    as_of = pd.Timestamp("2026-03-31")
    events = pd.DataFrame(
        {
            "account_id": "A",
            "timestamp": pd.to_datetime(["2026-03-30", "2026-03-29", "2026-03-01", "2026-02-01"]),
            "event_type": "login",
            "user_id": ["a", None, "b", "a"],
        }
    )
    subs = _one_subscription()
    spine = pd.DataFrame({"account_id": ["A"], "as_of": [as_of]})
    row = build_observation_table(pd.DataFrame({"account_id": ["A"]}), subs, events, spine).iloc[0]
    assert (row.active_users_7d, row.active_users_28d, row.active_users_90d) == (1, 1, 2)
    assert (row.logins_7d, row.logins_28d, row.logins_90d) == (2, 2, 4)
    # previous 28 days [03-03 - 28d, 03-03): only user a on 02-01
    assert row.active_users_trend_28d == pytest.approx((1 - 1) / (1 + 1))


def test_adoption_breadth_counts_feature_types_that_are_not_counted_columns():
    # breadth = feature_* types with an event in [as_of - w, as_of), whether or not
    # event_types asks for their count columns; repeats of one type count once
    as_of = pd.Timestamp("2026-04-01")
    events = pd.DataFrame(
        {
            "account_id": "A",
            "timestamp": pd.to_datetime(
                ["2026-03-31", "2026-03-30", "2026-03-28", "2026-03-10", "2026-01-20", "2026-04-01"]
            ),
            "event_type": [
                "feature_x",
                "feature_x",
                "feature_y",
                "feature_z",
                "feature_y",
                "feature_w",  # at as_of: not before it
            ],
            "user_id": None,
        }
    )
    subs = _one_subscription()
    spine = pd.DataFrame({"account_id": ["A"], "as_of": [as_of]})
    accounts = pd.DataFrame({"account_id": ["A"]})
    table = build_observation_table(
        accounts, subs, events, spine, windows=(3, 7, 28, 90), event_types=["feature_x"]
    )
    row = table.iloc[0]
    # 3d [03-29, 04-01): x | 7d [03-25, ...): x, y | 28d [03-04, ...): x, y, z | 90d: x, y, z
    assert (row.adoption_breadth_3d, row.adoption_breadth_7d) == (1, 2)
    assert (row.adoption_breadth_28d, row.adoption_breadth_90d) == (3, 3)
    assert (row.feature_x_7d, row.feature_x_90d) == (2, 2)
    assert not any(c.startswith(("feature_y", "feature_z", "feature_w")) for c in table.columns)


def test_no_events_and_an_empty_spine_give_plain_tables():
    # empty pandas columns of objects carry no type; the staged tables must still build
    as_of = pd.Timestamp("2026-04-01")
    none = pd.Series([], dtype=object)
    events = pd.DataFrame(
        {"account_id": none, "timestamp": pd.to_datetime([]), "event_type": none, "user_id": none}
    )
    accounts = pd.DataFrame({"account_id": ["A"]})
    spine = pd.DataFrame({"account_id": ["A"], "as_of": [as_of]})
    row = build_observation_table(
        accounts, _one_subscription(), events, spine, event_types=["login"]
    ).iloc[0]
    assert (row.logins_28d, row.active_users_28d, row.adoption_breadth_90d) == (0, 0, 0)
    assert np.isnan(row.days_since_last_login) and row.mrr == 10.0
    empty_spine = pd.DataFrame({"account_id": none, "as_of": pd.to_datetime([])})
    table = build_observation_table(accounts, _one_subscription(), events, empty_spine)
    assert len(table) == 0 and {"account_id", "as_of", "mrr"} <= set(table.columns)


def test_as_of_must_be_midnight():
    from churnlab.errors import DataError

    events = pd.DataFrame(
        {"account_id": ["A"], "timestamp": [pd.Timestamp("2026-01-01")], "event_type": ["login"]}
    )
    subs = _one_subscription()
    spine = pd.DataFrame({"account_id": ["A"], "as_of": [pd.Timestamp("2026-03-31 12:00")]})
    with pytest.raises(DataError, match="midnight"):
        build_observation_table(pd.DataFrame({"account_id": ["A"]}), subs, events, spine)


def test_default_duckdb_connection_is_bounded():
    """Without ``con`` the engine opens DuckDB with DUCKDB_CONFIG (threads, memory, spill dir)."""
    from churnlab import features

    backend = features._backend(None, [pd.DataFrame({"a": [1]})])
    threads, order, temp = backend.con.execute(
        "SELECT current_setting('threads'), current_setting('preserve_insertion_order'), "
        "current_setting('temp_directory')"
    ).fetchone()
    assert threads == features.DUCKDB_CONFIG["threads"] == 2
    assert order is False
    assert temp == features.DUCKDB_CONFIG["temp_directory"]


def _temporary_tables(con) -> list[str]:
    rows = con.con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    return [name for (name,) in rows]


def test_stage_tables_are_dropped_after_the_fetch_and_after_a_failure(monkeypatch):
    import ibis

    con = ibis.duckdb.connect()
    created = _record_stages(monkeypatch, con)
    table = build_observation_table(*_SMALL, _SPINE, event_types=EVENT_TYPES, con=con)
    assert len(table) == len(_BASE)
    # the counts, user presence, sparse events and running values were staged ...
    assert len(created) >= 4 and all(n.startswith("_churnlab_stage_") for n in created)
    # ... and none is left on the caller's connection
    assert _temporary_tables(con) == []

    # a failure in the final query, once the stages exist, drops them too
    staged_before = len(created)
    real_fetch = type(con).to_pyarrow

    def fetch(self, *args, **kwargs):
        if len(created) > staged_before:
            raise RuntimeError("fetch failed")
        return real_fetch(self, *args, **kwargs)

    monkeypatch.setattr(type(con), "to_pyarrow", fetch)
    with pytest.raises(RuntimeError, match="fetch failed"):
        build_observation_table(*_SMALL, _SPINE, event_types=EVENT_TYPES, con=con)
    assert len(created) > staged_before
    assert _temporary_tables(con) == []


def test_counts_filling_a_packed_field_decode_exactly():
    """The busiest account has 2**6 - 1 events: 6-bit fields, filled to the top, stay exact."""
    as_of = pd.Timestamp("2026-03-31")
    n = 63
    busy = pd.DataFrame(
        {
            "account_id": "A",
            "timestamp": pd.Timestamp("2026-03-24") + pd.to_timedelta(np.arange(n) % 7, "D"),
            "event_type": "login",
            "user_id": [f"u{i % 3}" for i in range(n)],
        }
    )
    quiet = pd.DataFrame(
        {
            "account_id": "B",
            "timestamp": pd.to_datetime(["2026-03-30", "2026-01-15", "2026-03-02"]),
            "event_type": ["feature_api", "feature_api", "ticket_opened"],
            "user_id": None,
        }
    )
    events = pd.concat([busy, quiet], ignore_index=True)
    subs = pd.DataFrame(
        {
            "account_id": ["A", "B"],
            "start_date": [pd.Timestamp("2025-01-01")] * 2,
            "end_date": [pd.NaT, pd.NaT],
            "mrr": [10.0, 20.0],
        }
    )
    spine = pd.DataFrame({"account_id": ["A", "B"], "as_of": [as_of, as_of]})
    accounts = pd.DataFrame({"account_id": ["A", "B"]})
    types = ["login", "feature_api", "ticket_opened"]
    table = build_observation_table(accounts, subs, events, spine, event_types=types)
    a, b = table.set_index("account_id").loc["A"], table.set_index("account_id").loc["B"]
    assert (a.logins_7d, a.logins_28d, a.logins_90d) == (63, 63, 63)
    assert (a.active_users_7d, a.active_users_90d, a.logins_trend_28d) == (3, 3, 63.0)
    assert (a.feature_api_90d, a.tickets_opened_90d, a.adoption_breadth_90d) == (0, 0, 0)
    assert (b.logins_90d, b.active_users_90d) == (0, 0)
    assert (b.feature_api_7d, b.feature_api_28d, b.feature_api_90d) == (1, 1, 2)
    assert (b.adoption_breadth_7d, b.adoption_breadth_90d, b.tickets_opened_90d) == (1, 1, 1)
    assert b.open_ticket_backlog == 1

    from churnlab.features_events import Packing

    fields = [f"c{i}" for i in range(6)] + ["au7", "au28", "au90", "br7", "br28", "br90"]
    packing = Packing(fields, max_events_per_account=n)
    assert packing.bits == 6 and len(packing.words) == 2  # 8 six-bit fields per 52-bit word


def test_a_busy_account_beyond_the_guessed_bound_rebuilds_the_counts(monkeypatch):
    # the packed fields are sized from 4x the mean events per account; one account with
    # far more overflows them, which the engine must detect from the counts and rebuild
    import ibis

    as_of = pd.Timestamp("2026-04-01")
    quiet = pd.DataFrame(
        {
            "account_id": [f"Q{i:02d}" for i in range(40)],
            "timestamp": pd.Timestamp("2026-03-20"),
            "event_type": "login",
            "user_id": "u",
        }
    )
    # mean ~245 events: a guess of 4x that, widened to 13 bits (7 fields in 2 words);
    # 9000 logins do not fit in 13 bits
    n_busy = 10000
    busy = pd.DataFrame(
        {
            "account_id": "BUSY",
            "timestamp": as_of - pd.to_timedelta(np.arange(n_busy) % 80 + 1, unit="D"),
            "event_type": np.where(np.arange(n_busy) % 10 == 0, "feature_api", "login"),
            "user_id": [f"u{i % 7}" for i in range(n_busy)],
        }
    )
    events = pd.concat([quiet, busy], ignore_index=True)
    ids = [*quiet.account_id, "BUSY"]
    accounts = pd.DataFrame({"account_id": ids})
    subs = pd.DataFrame(
        {
            "account_id": ids,
            "start_date": pd.Timestamp("2025-01-01"),
            "end_date": pd.NaT,
            "mrr": 10.0,
        }
    )
    spine = pd.DataFrame({"account_id": ids, "as_of": as_of})
    con = ibis.duckdb.connect()
    staged = _record_stages(monkeypatch, con)
    table = build_observation_table(
        accounts, subs, events, spine, event_types=["login", "feature_api"], con=con
    )
    row = table.set_index("account_id").loc["BUSY"]
    logins, api = busy.event_type.eq("login").sum(), busy.event_type.eq("feature_api").sum()
    assert (row.logins_90d, row.feature_api_90d) == (logins, api)  # 9000 and 1000
    assert (row.active_users_90d, row.adoption_breadth_90d) == (7, 1)
    assert table.set_index("account_id").loc["Q00"].logins_7d == 0  # 03-20 is 12 days back
    assert table.set_index("account_id").loc["Q00"].logins_28d == 1
    # ids, counts, counts again (rebuilt), sparse events, user presence, running values
    assert len(staged) == 6
    assert _temporary_tables(con) == []


def test_packing_fits_float64_exactly_and_refuses_what_would_not():
    from churnlab.features_events import Packing

    for bits in range(1, 53):
        packing = Packing([f"f{i}" for i in range(60)], max_events_per_account=2**bits - 1)
        assert packing.bits == bits
        assert max(packing.shift.values()) + bits <= 52
    with pytest.raises(ValueError, match="2\\*\\*52"):
        Packing(["f0"], max_events_per_account=2**52)


def test_packed_running_sums_decode_at_the_top_of_the_range():
    """13-bit fields, four to a 52-bit word, running values up to 2**13 - 1, negative deltas."""
    import ibis

    from churnlab.features_events import Packing

    top = 2**13 - 1
    fields = [f"f{i}" for i in range(8)]
    packing = Packing(fields, max_events_per_account=top)
    assert packing.bits == 13 and len(packing.words) == 2
    rng = np.random.default_rng(0)
    # per-row deltas whose running sums climb to the top of the field, then fall back
    up = rng.multinomial(top, [1 / 6] * 6, size=len(fields)).T
    deltas = np.vstack([up, -up[:3], [[0] * len(fields)]])
    running = deltas.cumsum(axis=0)
    assert running.max() == top and running.min() >= 0 and (deltas < 0).any()
    frame = pd.DataFrame(deltas, columns=fields).assign(k=np.arange(len(deltas)))
    t = ibis.memtable(frame)
    packed = t.select("k", **packing.pack({f: t[f] for f in fields}))
    window = ibis.cumulative_window(order_by="k")
    cum = packed.select(
        "k", **{w: packed[w].sum().over(window).cast("int64") for w in packing.words}
    )
    decoded = cum.select(
        "k", **{f: packing.unpack(cum[packing.word_of[f]], f) for f in fields}
    ).order_by("k")
    got = ibis.duckdb.connect().execute(decoded)[fields].to_numpy()
    np.testing.assert_array_equal(got, running)


def test_date_columns_passed_through_the_spine_stay_datetime64_ns():
    accounts, subs, events = synthetic(n_accounts=5, n_events=200, seed=2)
    spine = _spine(subs, AS_OFS[-1:])
    spine["signed"] = pd.NaT
    spine.loc[spine.index[0], "signed"] = pd.Timestamp("2024-01-02")
    table = build_observation_table(accounts, subs, events, spine, event_types=EVENT_TYPES)
    assert str(table["signed"].dtype) == "datetime64[ns]"
    assert table["signed"].notna().sum() == 1
