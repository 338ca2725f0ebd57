"""Active periods and MRR on days: tiny hand-worked fixtures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.errors import DataError
from churnlab.observations.periods import active_periods, coverage_intervals, mrr_on

T = pd.Timestamp
NaT = pd.NaT


def subs(rows):
    return pd.DataFrame(rows, columns=["account_id", "start_date", "end_date", "mrr"]).assign(
        start_date=lambda d: pd.to_datetime(d["start_date"]),
        end_date=lambda d: pd.to_datetime(d["end_date"]),
    )


def test_gap_within_grace_is_one_period_and_not_churn():
    # A: Jan, then a 9-day gap (Feb 1 -> Feb 10), then Feb 10 -> Mar 1. grace 30 -> one period,
    # churn date Mar 1 (Mar 1 + 30 = Mar 31 <= data_end Oct 31 -> churned).
    s = subs([("A", "2026-01-01", "2026-02-01", 100), ("A", "2026-02-10", "2026-03-01", 120)])
    p = active_periods(s, grace_days=30, data_end="2026-10-31")
    assert len(p) == 1
    row = p.iloc[0]
    assert row.period_number == 1
    assert row.start_date == T("2026-01-01")
    assert row.end_date == T("2026-03-01")
    assert bool(row.churned)
    # with grace 5 the 9-day gap is a churn and the Feb 10 row is a re-signup (period 2)
    p5 = active_periods(s, grace_days=5, data_end="2026-10-31")
    assert p5["period_number"].tolist() == [1, 2]
    assert p5["end_date"].tolist() == [T("2026-02-01"), T("2026-03-01")]
    assert p5["churned"].tolist() == [True, True]


def test_gap_exactly_grace_days_joins():
    # gap Feb 1 -> Mar 3 = 30 days = grace -> joins ("at most grace_days")
    s = subs([("A", "2026-01-01", "2026-02-01", 1), ("A", "2026-03-03", "2026-04-01", 1)])
    assert len(active_periods(s, 30, "2026-12-31")) == 1
    assert len(active_periods(s, 29, "2026-12-31")) == 2


def test_resignup_new_period_and_earlier_churn_counts():
    s = subs([("A", "2026-01-01", "2026-02-01", 100), ("A", "2026-06-01", None, 50)])
    p = active_periods(s, 30, "2026-10-31")
    assert p["period_number"].tolist() == [1, 2]
    assert p["churned"].tolist() == [True, False]
    assert p["end_date"].iloc[0] == T("2026-02-01")
    assert pd.isna(p["end_date"].iloc[1]) and pd.isna(p["last_end_date"].iloc[1])


def test_overlapping_expansion_rows_merge():
    # B: base row all Q1, expansion line Jan 15 -> Feb 1 inside it
    s = subs([("B", "2026-01-15", "2026-02-01", 5), ("B", "2026-01-01", "2026-04-01", 10)])
    p = active_periods(s, 0, "2026-10-31")
    assert len(p) == 1 and p.iloc[0].end_date == T("2026-04-01")
    assert p.iloc[0].start_date == T("2026-01-01")


def test_pending_and_future_end_are_not_churn_yet():
    s = subs(
        [
            ("P", "2026-09-01", "2026-10-15", 7),  # ended, Oct 15 + 30 > Oct 31: pending
            ("F", "2026-01-01", "2027-01-01", 9),  # contractual end after data_end
            ("E", "2026-01-01", "2026-10-01", 3),  # Oct 1 + 30 = Oct 31 <= data_end: churned
        ]
    )
    p = active_periods(s, 30, T("2026-10-31")).set_index("account_id")
    assert not p.loc["P", "churned"] and p.loc["P", "pending_churn"]
    assert pd.isna(p.loc["P", "end_date"]) and p.loc["P", "last_end_date"] == T("2026-10-15")
    assert not p.loc["F", "churned"] and not p.loc["F", "pending_churn"]
    assert pd.isna(p.loc["F", "end_date"]) and p.loc["F", "last_end_date"] == T("2027-01-01")
    assert p.loc["E", "churned"] and p.loc["E", "end_date"] == T("2026-10-01")


def test_input_not_mutated_and_unsorted_input():
    s = subs([("A", "2026-02-10", "2026-03-01", 120), ("A", "2026-01-01", "2026-02-01", 100)])
    before = s.copy()
    active_periods(s, 30, "2026-10-31")
    mrr_on(s, ["2026-01-05"], 30)
    pd.testing.assert_frame_equal(s, before)


def test_end_before_start_is_a_data_error():
    s = subs([("A", "2026-02-10", "2026-02-01", 1)])
    with pytest.raises(DataError, match="end_date"):
        active_periods(s, 30, "2026-10-31")


def test_mrr_on_sums_cover_and_uses_closing_mrr_in_grace_gap():
    s = subs(
        [
            ("A", "2026-01-01", "2026-02-01", 100),
            ("A", "2026-02-10", "2026-03-01", 120),  # closes the gap Feb 1 -> Feb 10
            ("A", "2026-02-10", "2026-03-01", 30),  # second line starting the same day
            ("B", "2026-01-01", "2026-03-01", 10),
            ("B", "2026-01-15", "2026-02-01", 5),
        ]
    )
    out = mrr_on(s, ["2026-01-20", "2026-02-05", "2026-03-01"], grace_days=30)
    got = out.set_index(["account_id", "date"])
    assert got.loc[("A", T("2026-01-20")), "mrr"] == 100
    assert got.loc[("A", T("2026-02-05")), "mrr"] == 150  # grace gap: 120 + 30
    assert bool(got.loc[("A", T("2026-02-05")), "active"])
    assert got.loc[("A", T("2026-03-01")), "mrr"] == 0  # end exclusive
    assert not got.loc[("A", T("2026-03-01")), "active"]
    assert got.loc[("B", T("2026-01-20")), "mrr"] == 15
    assert got.loc[("B", T("2026-02-05")), "mrr"] == 10


def test_gap_beyond_grace_has_no_grace_interval():
    s = subs([("A", "2026-01-01", "2026-02-01", 100), ("A", "2026-06-01", None, 50)])
    iv = coverage_intervals(s, 30)
    assert (iv["kind"] == "grace").sum() == 0
    out = mrr_on(s, ["2026-02-15", "2030-01-01"], 30)
    assert out["mrr"].tolist() == [0.0, 50.0]


def test_plain_pandas_cross_check_random():
    rng = np.random.default_rng(0)
    n = 60
    acc = rng.choice(list("ABCDEFGH"), n)
    start = T("2026-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    end = start + pd.to_timedelta(rng.integers(1, 90, n), unit="D")
    s = pd.DataFrame({"account_id": acc, "start_date": start, "end_date": end, "mrr": 1.0})
    grace = 10
    p = active_periods(s, grace, "2027-06-01")
    # naive per-day reference: days covered per account, merged across gaps <= grace
    for a, g in s.groupby("account_id"):
        days = sorted(
            set().union(
                *[
                    set(pd.date_range(r.start_date, r.end_date - pd.Timedelta(days=1)))
                    for r in g.itertuples()
                ]
            )
        )
        n_periods = 1 + sum(
            (b - a_).days - 1 > grace for a_, b in zip(days, days[1:], strict=False)
        )
        assert (p["account_id"] == a).sum() == n_periods
        assert p.loc[p["account_id"] == a, "end_date"].max() == days[-1] + pd.Timedelta(days=1)
