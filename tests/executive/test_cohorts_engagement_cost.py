"""Cohort retention, onboarding, engagement coverage and retention cost on hand-worked fixtures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.executive import (
    cohort_table,
    engagement_coverage,
    onboarding_table,
    retention_cost,
    touch_table,
)
from churnlab.observations.periods import active_periods
from tests.executive import subs_frame

T = pd.Timestamp
GRACE = 0
END = T("2026-04-30")

# Jan cohort: A stays at 100, B (50) churns Feb 15, C (50) expands to 80 on Mar 1;
# Feb cohort: D (40) stays; X started in December, the data's first month (left out)
SUBS = [
    ("X", "2025-12-01", None, 10),
    ("A", "2026-01-05", None, 100),
    ("B", "2026-01-10", "2026-02-15", 50),
    ("C", "2026-01-20", "2026-03-01", 50),
    ("C", "2026-03-01", None, 80),
    ("D", "2026-02-03", None, 40),
]


def _subs() -> pd.DataFrame:
    return subs_frame(SUBS)


def test_cohort_retention_by_hand():
    subs = _subs()
    table = cohort_table(subs, active_periods(subs, GRACE, END), GRACE, END).set_index(
        ["cohort", "months_since_start"]
    )
    assert T("2025-12-01") not in table.index.get_level_values("cohort")
    jan = table.loc[T("2026-01-01")]
    assert jan["accounts"].unique().tolist() == [3]
    # Feb 1: all three active; Mar 1: B gone; Apr 1 the same
    assert jan["logo_retention"].tolist() == pytest.approx([1, 1, 2 / 3, 2 / 3])
    # revenue: base 200; Feb 1 200; Mar 1 100 + 80 = 180; Apr 1 180
    assert jan["revenue_retention"].tolist() == pytest.approx([1, 1, 0.9, 0.9])
    feb = table.loc[T("2026-02-01")]
    assert feb["logo_retention"].tolist() == [1, 1, 1]  # k = 0, Mar 1, Apr 1


def test_onboarding_and_ttv_by_hand():
    subs = _subs()
    events = pd.DataFrame(
        [
            ("A", "2026-01-20", "onboarding_completed"),  # 15 days: completed
            ("B", "2026-04-01", "onboarding_completed"),  # 81 days: too late
            ("A", "2026-01-15", "first_value"),  # 10 days
            ("C", "2026-02-19", "first_value"),  # 30 days
            ("D", "2026-02-10", "onboarding_completed"),
        ],
        columns=["account_id", "timestamp", "event_type"],
    ).assign(timestamp=lambda e: pd.to_datetime(e["timestamp"]))
    table = onboarding_table(active_periods(subs, GRACE, END), events, 60, END).set_index("cohort")
    jan = table.loc[T("2026-01-01")]
    assert (jan["accounts_started"], jan["onboarding_completed"]) == (3, 1)
    assert jan["onboarding_completion_rate"] == pytest.approx(1 / 3)
    assert (jan["reached_value"], jan["median_time_to_value_days"]) == (2, 20)
    assert bool(jan["window_complete"])
    feb = table.loc[T("2026-02-01")]
    assert (feb["accounts_started"], feb["onboarding_completed"]) == (1, 1)
    assert T("2025-12-01") not in table.index


TOUCH_TYPES = {"qbr": ["qbr"], "meeting": ["csm_meeting", "call"], "webinar": ["webinar"]}
EXPECTED = {"high_touch": "qbr", "low_touch": "meeting", "tech_touch": "webinar"}
AS_OF = T("2026-04-01")


def _events() -> pd.DataFrame:
    rows = [
        ("h1", "2026-03-15", "qbr"),  # in the window
        ("h2", "2025-11-01", "qbr"),  # too old
        ("h2", "2026-03-20", "csm_meeting"),  # not the touch its tier should get
        ("l1", "2026-03-31", "call"),  # a meeting by another name
        ("l2", "2026-04-01", "csm_meeting"),  # on as_of: not before it
        ("t1", "2026-01-02", "webinar"),  # 89 days before: in
        ("t2", "2025-12-31", "webinar"),  # 91 days before: out
        ("t3", "2026-03-01", "login"),
    ]
    e = pd.DataFrame(rows, columns=["account_id", "timestamp", "event_type"])
    return e.assign(timestamp=pd.to_datetime(e["timestamp"]))


def test_touch_table_and_coverage_by_hand():
    touches = touch_table(_events(), TOUCH_TYPES, AS_OF, 90).set_index("account_id")
    assert touches.loc["h1", "last_qbr"] == T("2026-03-15")
    assert touches.loc["h2", "qbr_in_window"] == 0 and touches.loc["h2", "meeting_in_window"] == 1
    assert touches.loc["l1", "meeting_in_window"] == 1
    assert "l2" not in touches.index  # its only touch is on as_of
    assert (
        touches.loc["t1", "webinar_in_window"] == 1 and touches.loc["t2", "webinar_in_window"] == 0
    )
    scores = pd.DataFrame(
        {
            "account_id": ["h1", "h2", "l1", "l2", "t1", "t2", "t3"],
            "touch_tier": ["high_touch"] * 2 + ["low_touch"] * 2 + ["tech_touch"] * 3,
            "arr": [100_000, 80_000, 20_000, 30_000, 5_000, 4_000, 3_000],
            "health_score": [90, 40, 70, 50, 80, 60, 30],
        }
    )
    cov = engagement_coverage(touches.reset_index(), scores, EXPECTED).set_index("touch_tier")
    assert cov["covered"].tolist() == [1, 1, 1] and cov["accounts"].tolist() == [2, 2, 3]
    assert cov.loc["tech_touch", "share"] == pytest.approx(1 / 3)
    assert cov.loc["high_touch", "arr_covered"] == 100_000
    assert cov.loc["high_touch", "median_health_covered"] == 90
    assert cov.loc["tech_touch", "median_health_not_covered"] == 45


def test_no_touch_events_gives_no_kind():
    events = _events()
    none = touch_table(events[events["event_type"] == "login"], TOUCH_TYPES, AS_OF, 90)
    assert none.columns.tolist() == ["account_id"] and none.empty
    partial = touch_table(events[events["event_type"] != "webinar"], TOUCH_TYPES, AS_OF, 90)
    assert not any(c.startswith("last_webinar") for c in partial.columns)


def test_engagement_coverage_of_the_real_run_matches_the_raw_events(
    pipeline_run, pipeline_cfg, sample_dir
):
    """High-touch accounts with a QBR in the 90 days before as_of, from the sample's events."""
    events = pd.read_parquet(sample_dir / "events.parquet")
    scores = pd.read_csv(pipeline_run.scores, dtype={"account_id": str})
    as_of = T(str(scores["as_of"].iloc[0]))
    window = pipeline_cfg.engagement.window_days
    qbr = events[
        (events["event_type"] == "qbr")
        & (events["timestamp"] >= as_of - pd.Timedelta(days=window))
        & (events["timestamp"] < as_of)
    ]
    high = scores[scores["touch_tier"] == "high_touch"]
    want = high["account_id"].isin(set(qbr["account_id"].astype(str))).mean()
    touches = pd.read_csv(pipeline_run.engagement, dtype={"account_id": str})
    cov = engagement_coverage(touches, scores, pipeline_cfg.engagement.expected)
    got = cov.set_index("touch_tier").loc["high_touch", "share"]
    assert got == pytest.approx(want) and 0 < got < 1


KPIS = pd.DataFrame(
    {
        "month": ["2026-03-01"] * 4,
        "segment": ["all", "high_touch", "low_touch", "tech_touch"],
        "active_accounts_start": [110, 10, 40, 60],
        "churned_logos": [10, 0, 4, 6],
        "mrr_start": [31_000.0, 20_000.0, 8_000.0, 3_000.0],
        "churned_mrr": [1_000.0, 0.0, 600.0, 400.0],
        "contraction_mrr": [500.0, 500.0, 0.0, 0.0],
    }
)


def test_retention_cost_arithmetic():
    total = retention_cost(KPIS, 50_000).set_index("segment").loc["all"]
    assert total["retained_accounts"] == 100
    assert total["retained_arr"] == 12 * 29_500
    assert total["cost_per_account"] == 500
    assert total["cost_per_1k_arr"] == pytest.approx(12 * 50_000 / (12 * 29_500) * 1000)
    per = retention_cost(KPIS, {"high_touch": 30_000, "low_touch": 15_000, "tech_touch": 5_000})
    per = per.set_index("segment")
    assert per.loc["all", "monthly_cost"] == 50_000 and per.loc["all", "cost_per_account"] == 500
    assert per.loc["high_touch", "cost_per_account"] == 3_000
    assert per.loc["low_touch", "cost_per_1k_arr"] == pytest.approx(15_000 / 7_400 * 1000)
    some = retention_cost(KPIS, {"high_touch": 30_000})
    assert some["segment"].tolist() == ["high_touch"]  # no whole-book figure
    assert retention_cost(KPIS, None).empty
    assert retention_cost(KPIS[["month", "segment"]], 1.0).empty  # snapshot KPIs
    nobody = KPIS.assign(active_accounts_start=KPIS["churned_logos"], churned_mrr=KPIS["mrr_start"])
    assert np.isnan(retention_cost(nobody, 10.0)["cost_per_account"].iloc[0])


def test_the_executive_package_is_an_analysis_layer():
    from tests.test_architecture import import_graph

    above = ("churnlab.report", "churnlab.delivery", "churnlab.run", "churnlab.cli")
    graph = import_graph()
    mine = {
        m: t for m, t in graph.items() if m.startswith(("churnlab.executive", "churnlab.plots"))
    }
    assert mine and all(not t.startswith(above) for ts in mine.values() for t in ts)
