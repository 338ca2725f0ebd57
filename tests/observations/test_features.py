"""Features engine vs a deliberately simple pandas reference, plus leakage properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnlab.errors import DataError
from churnlab.observations import build_observation_table, feature_columns
from tests.observations.reference import (
    AS_OFS,
    EVENT_TYPES,
    RATIOS,
    WINDOWS,
    one_subscription,
    reference_features,
    small_case,
    spine_of,
    synthetic,
)


@pytest.fixture(scope="module")
def data():
    accounts, subs, events = synthetic(n_accounts=300, n_events=60_000, seed=7)
    spine = spine_of(subs, AS_OFS)
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


def test_an_addon_line_never_sets_the_plan_but_counts_in_mrr():
    # A: plan line growth at 100 MRR (annual) and a meetings add-on at 300 MRR (monthly)
    #    from the same day: plan and billing period of the plan line, mrr 100 + 300 = 400
    # B: the plan line lapsed on 2026-03-01, only the add-on covers 2026-03-30: it wins
    subs = pd.DataFrame(
        {
            "subscription_id": ["a1", "a2", "b1", "b2"],
            "account_id": ["A", "A", "B", "B"],
            "start_date": pd.to_datetime(["2026-01-01", "2026-01-01", "2025-03-01", "2025-06-01"]),
            "end_date": pd.to_datetime([None, None, "2026-03-01", None]),
            "mrr": [100.0, 300.0, 50.0, 20.0],
            "seats": [10, 0, 5, 0],
            "plan": ["growth", "meetings", "starter", "meetings"],
            "billing_period_months": [12, 1, 12, 1],
            "line_kind": ["plan", "addon", "plan", "addon"],
        }
    )
    accounts = pd.DataFrame({"account_id": ["A", "B"], "industry": ["tech", "retail"]})
    events = pd.DataFrame(
        {"account_id": ["A"], "timestamp": [pd.Timestamp("2026-01-05")], "event_type": ["login"]}
    )
    as_of = pd.Timestamp("2026-03-31")
    spine = pd.DataFrame({"account_id": ["A", "B"], "as_of": [as_of, as_of]})
    table = build_observation_table(accounts, subs, events, spine, event_types=["login"])
    a, b = table.iloc[0], table.iloc[1]
    assert (a.plan, a.mrr, a.arr, a.seats, a.billing_period_months) == (
        "growth", 400.0, 4800.0, 10.0, 12.0
    )  # fmt: skip
    assert (b.plan, b.mrr, b.billing_period_months) == ("meetings", 20.0, 1.0)
    for row in (a, b):
        ref = reference_features(
            accounts.assign(region=None, acquisition_channel=None, csm_owner=None),
            subs,
            events.assign(value=np.nan, user_id=None),
            row.account_id,
            as_of,
        )
        assert (row.plan, row.mrr, row.billing_period_months) == (
            ref["plan"], ref["mrr"], ref["billing_period_months"]
        )  # fmt: skip
    # without line_kind the higher-MRR add-on would win the ranking (the old behaviour)
    plain = build_observation_table(
        accounts, subs.drop(columns="line_kind"), events, spine, event_types=["login"]
    )
    assert plain.iloc[0].plan == "meetings" and plain.iloc[0].mrr == 400.0


# ---------------------------------------------------------------- leakage properties

_SMALL, _SPINE, _BASE = small_case()
_AS_OF = _SPINE["as_of"].iloc[0]


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
    subs = one_subscription()
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
    subs = one_subscription()
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
        accounts, one_subscription(), events, spine, event_types=["login"]
    ).iloc[0]
    assert (row.logins_28d, row.active_users_28d, row.adoption_breadth_90d) == (0, 0, 0)
    assert np.isnan(row.days_since_last_login) and row.mrr == 10.0
    empty_spine = pd.DataFrame({"account_id": none, "as_of": pd.to_datetime([])})
    table = build_observation_table(accounts, one_subscription(), events, empty_spine)
    assert len(table) == 0 and {"account_id", "as_of", "mrr"} <= set(table.columns)


def test_as_of_must_be_midnight():
    from churnlab.errors import DataError

    events = pd.DataFrame(
        {"account_id": ["A"], "timestamp": [pd.Timestamp("2026-01-01")], "event_type": ["login"]}
    )
    subs = one_subscription()
    spine = pd.DataFrame({"account_id": ["A"], "as_of": [pd.Timestamp("2026-03-31 12:00")]})
    with pytest.raises(DataError, match="midnight"):
        build_observation_table(pd.DataFrame({"account_id": ["A"]}), subs, events, spine)


def test_date_columns_passed_through_the_spine_stay_datetime64_ns():
    accounts, subs, events = synthetic(n_accounts=5, n_events=200, seed=2)
    spine = spine_of(subs, AS_OFS[-1:])
    spine["signed"] = pd.NaT
    spine.loc[spine.index[0], "signed"] = pd.Timestamp("2024-01-02")
    table = build_observation_table(accounts, subs, events, spine, event_types=EVENT_TYPES)
    assert str(table["signed"].dtype) == "datetime64[ns]"
    assert table["signed"].notna().sum() == 1


def test_two_observations_of_one_day_come_back_in_a_fixed_order():
    """A month end that is also a renewal checkpoint: the order never depends on the engine."""
    inputs, spine, _ = small_case()
    twice = pd.concat([spine.assign(checkpoint="renewal"), spine], ignore_index=True)
    first = build_observation_table(*inputs, twice, event_types=EVENT_TYPES)
    again = build_observation_table(*inputs, twice.iloc[::-1], event_types=EVENT_TYPES)
    pd.testing.assert_frame_equal(first, again)
    order = first.groupby("account_id", sort=False)["checkpoint"].agg(list)
    assert (order.map(tuple) == ("month_end", "renewal")).all()


def test_a_ratio_of_absent_columns_is_left_out_with_a_note_or_refused():
    """No login events means no logins_28d: the default ratio is skipped and said so."""
    inputs, spine, _ = small_case()
    ratios = {
        "x_per_seat_28d": ("nothing_28d", "seats"),
        "logins_per_seat_28d": RATIOS["logins_per_seat_28d"],
    }
    notes: list[str] = []
    table = build_observation_table(
        *inputs, spine, event_types=EVENT_TYPES, ratios=ratios, notes=notes
    )
    assert "x_per_seat_28d" not in table and "logins_per_seat_28d" in table
    assert notes == [
        "The ratio x_per_seat_28d is left out: the data gives no column nothing_28d "
        "(features.ratios.x_per_seat_28d = ['nothing_28d', 'seats'])."
    ]
    with pytest.raises(DataError, match="x_per_seat_28d.*refers to nothing_28d"):
        build_observation_table(*inputs, spine, event_types=EVENT_TYPES, ratios=ratios)
