"""Labels, observation spines and renewal checkpoints on hand-made fixtures."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnlab.observations.labels import (
    make_observations,
    month_end_grid,
    renewal_checkpoints,
    scoring_spine,
)

T = pd.Timestamp
DATA_END = T("2026-10-31")


def periods(rows):
    """rows: (account_id, start, churn date or None, last_end or None)."""
    return pd.DataFrame(
        {
            "account_id": [r[0] for r in rows],
            "period_number": 1,
            "start_date": pd.to_datetime([r[1] for r in rows]),
            "end_date": pd.to_datetime([r[2] for r in rows]),
            "last_end_date": pd.to_datetime([r[3] if len(r) > 3 else r[2] for r in rows]),
        }
    )


def test_month_end_grid():
    grid = month_end_grid("2026-01-31", "2026-04-15")
    assert list(grid) == [T("2026-01-31"), T("2026-02-28"), T("2026-03-31")]


def test_labels_on_hand_made_fixture():
    per = periods(
        [
            ("in_window", "2025-01-01", "2026-03-15"),  # churn 2026-03-15 in (01-31, 05-01] -> 1
            ("window_end", "2025-01-01", "2026-05-01"),  # exactly at window end -> 1
            ("after", "2025-01-01", "2026-05-02"),  # one day after window end -> 0
            ("running", "2025-01-01", None),  # still active -> 0
            ("at_as_of", "2025-01-01", "2026-01-31"),  # churned on as_of -> not observed
            ("new", "2026-01-31", None),  # starts on as_of -> not observed
        ]
    )
    obs, summary = make_observations(
        per, [T("2026-01-31")], lead_days=0, horizon_days=90, data_end=DATA_END
    )
    labels = dict(zip(obs.account_id, obs.label, strict=True))
    assert labels == {"in_window": 1, "window_end": 1, "after": 0, "running": 0}
    assert obs.loc[obs.account_id == "in_window", "churn_date"].iloc[0] == T("2026-03-15")
    assert obs.loc[obs.account_id == "after", "churn_date"].isna().all()
    assert str(obs.label.dtype) == "Int64" and set(obs.checkpoint) == {"month_end"}
    assert summary.n_labelled == 4 and summary.n_positive == 2


def test_churn_before_lead_is_never_labelled_one():
    per = periods([("lead", "2025-01-01", "2026-02-10"), ("win", "2025-01-01", "2026-03-10")])
    obs, summary = make_observations(
        per, [T("2026-01-31")], lead_days=30, horizon_days=60, data_end=DATA_END
    )
    assert list(obs.account_id) == ["win"] and list(obs.label) == [1]
    assert summary.n_dropped_churned_in_lead == 1


def test_window_past_data_end_is_dropped_and_counted():
    per = periods([("a", "2025-01-01", None), ("b", "2025-01-01", "2026-09-10")])
    dates = month_end_grid("2026-06-30", "2026-08-31")  # windows end 09-28, 10-29, 11-29
    obs, summary = make_observations(per, dates, lead_days=0, horizon_days=90, data_end=DATA_END)
    assert set(obs.as_of) == {T("2026-06-30"), T("2026-07-31")}
    assert summary.n_dropped_window_past_data_end == 2  # both accounts at 08-31
    assert summary.n_labelled == 4 and summary.n_candidates == 6
    assert summary.dropped["observation_window_past_data_end"] == 2
    assert dict(zip(obs.account_id + obs.as_of.astype(str), obs.label, strict=True)) == {
        "a2026-06-30": 0,
        "b2026-06-30": 1,
        "a2026-07-31": 0,
        "b2026-07-31": 1,
    }


def test_pending_churn_in_window_is_dropped_not_labelled_zero():
    # cover ended 10-20 but the grace window is still open at data_end: end_date NaT
    per = periods([("p", "2025-01-01", None, "2026-10-20")])
    obs, summary = make_observations(
        per, [T("2026-08-31")], lead_days=0, horizon_days=60, data_end=DATA_END
    )
    assert obs.empty and summary.n_dropped_churn_pending == 1
    # and an account whose cover already ended (grace gap) before as_of is not observed
    obs2, _ = make_observations(
        per, [T("2026-10-25")], lead_days=0, horizon_days=1, data_end=DATA_END
    )
    assert obs2.empty


def test_spine_input_counts_inactive_rows():
    per = periods([("a", "2025-01-01", None), ("b", "2025-01-01", "2025-06-01")])
    spine = pd.DataFrame(
        {"account_id": ["a", "b", "zz"], "as_of": pd.to_datetime(["2026-01-31"] * 3)}
    )
    obs, summary = make_observations(per, spine, lead_days=0, horizon_days=30, data_end=DATA_END)
    assert list(obs.account_id) == ["a"] and list(obs.checkpoint) == ["renewal"]
    assert summary.n_not_active == 2


def test_scoring_spine_unlabelled():
    per = periods(
        [("b", "2025-01-01", None), ("a", "2025-01-01", None), ("c", "2025-01-01", "2025-12-01")]
    )
    spine = scoring_spine(per, "2026-10-31")
    assert list(spine.account_id) == ["a", "b"] and spine.label.isna().all()
    assert str(spine.label.dtype) == "Int64" and spine.churn_date.isna().all()


def test_renewal_checkpoints_exact_dates():
    subs = pd.DataFrame(
        {
            "account_id": ["A", "A", "A", "B", "B", "C", "D"],
            "start_date": pd.to_datetime(
                [
                    "2025-01-15",
                    "2026-01-15",
                    "2026-05-01",
                    "2025-03-31",
                    "2025-04-30",
                    "2025-06-01",
                    "2026-01-01",
                ]
            ),
            "end_date": pd.to_datetime(
                [
                    "2026-01-15",
                    "2026-05-01",
                    "2027-01-15",
                    "2025-04-30",
                    "2025-05-31",
                    None,
                    "2026-06-10",
                ]
            ),
            "billing_period_months": [12, 12, 12, 1, 1, 12, 12],
        }
    )
    # A: term end 2026-01-15 is a renewal; 2026-05-01 is an expansion cut (not); 2027-01-15 is after the range
    # B: monthly rows, month-end clipping 03-31 -> 04-30 is a full month; 04-30 -> 05-31 too
    # C: running; D: cancelled mid-term (not a whole term)
    got = renewal_checkpoints(subs, days_before=30, start="2025-01-01", end="2026-12-31")
    expected = pd.DataFrame(
        {
            "account_id": ["B", "B", "A", "A"],
            "as_of": pd.to_datetime(["2025-03-31", "2025-05-01", "2025-12-16", "2026-12-16"]),
            "renewal_date": pd.to_datetime(
                ["2025-04-30", "2025-05-31", "2026-01-15", "2027-01-15"]
            ),
        }
    )
    pd.testing.assert_frame_equal(got, expected)


@settings(max_examples=30, deadline=None)
@given(
    churn_offset=st.integers(1, 400),
    earlier_shift=st.integers(-300, 0),
    lead=st.integers(0, 30),
    horizon=st.integers(1, 120),
)
def test_label_depends_only_on_churn_date_relative_to_window(
    churn_offset, earlier_shift, lead, horizon
):
    """Changing everything but the churn date (period start, other periods) never changes the label."""
    as_of = T("2025-12-31")
    churn = as_of + pd.Timedelta(days=churn_offset)
    base = periods([("a", "2025-01-01", churn)])
    moved = pd.concat(
        [
            periods(
                [("a", str((T("2025-01-01") + pd.Timedelta(days=earlier_shift)).date()), churn)]
            ),
            periods([("a", "2020-01-01", "2021-01-01")]),  # an earlier, churned period
        ],
        ignore_index=True,
    )
    data_end = T("2027-06-30")
    obs1, _ = make_observations(base, [as_of], lead, horizon, data_end)
    obs2, _ = make_observations(moved, [as_of], lead, horizon, data_end)
    pd.testing.assert_frame_equal(obs1, obs2)
    window_start = as_of + pd.Timedelta(days=lead)
    if churn <= window_start:
        assert obs1.empty
    else:
        assert obs1.label.iloc[0] == int(churn <= window_start + pd.Timedelta(days=horizon))


def test_rejects_bad_window():
    with pytest.raises(ValueError):
        make_observations(periods([("a", "2025-01-01", None)]), [T("2026-01-31")], 0, 0, DATA_END)
