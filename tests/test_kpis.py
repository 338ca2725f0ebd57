"""Monthly KPIs, cohorts and LTV on tiny hand-worked fixtures (formulas of domain.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.kpis import (
    annualise,
    cohort_retention,
    customer_ltv,
    monthly_kpis,
    onboarding_completion,
    time_to_value,
)
from churnlab.observations.periods import active_periods

T = pd.Timestamp
GRACE = 30
DATA_END = T("2026-12-31")

# account, start, end (exclusive, None = running), mrr
ROWS = [
    ("A", "2025-12-01", None, 100),  # steady 100
    ("B", "2025-12-01", "2026-01-15", 200),  # churns in January (last covered day Jan 14)
    ("C", "2025-12-01", "2026-01-10", 50),  # contraction 50 -> 30 in January
    ("C", "2026-01-10", None, 30),
    ("D", "2025-12-01", "2026-01-20", 80),  # expansion 80 -> 120 in January
    ("D", "2026-01-20", None, 120),
    ("E", "2025-12-01", "2026-01-25", 60),  # grace gap Jan 25 -> Feb 10 (16 days): not churn
    ("E", "2026-02-10", None, 60),
    ("F", "2026-01-15", None, 40),  # new mid-January: not in January's S
    ("G", "2025-11-01", "2025-12-01", 10),  # churned Dec 2025 ...
    ("G", "2026-01-20", None, 10),  # ... re-signs in January (gap 50 days > grace)
]


def make_subs(rows=ROWS) -> pd.DataFrame:
    s = pd.DataFrame(rows, columns=["account_id", "start_date", "end_date", "mrr"])
    return s.assign(
        start_date=pd.to_datetime(s["start_date"]),
        end_date=pd.to_datetime(s["end_date"]),
        mrr=s["mrr"].astype(float),
    )


@pytest.fixture
def subs():
    return make_subs()


@pytest.fixture
def periods(subs):
    return active_periods(subs, GRACE, DATA_END)


def test_january_overall(subs, periods):
    k = monthly_kpis(subs, periods, "2026-01-01", "2026-02-01", GRACE).set_index("month")
    jan = k.loc[T("2026-01-01")]
    # S = {A, B, C, D, E}; MRR(S) = 100 + 200 + 50 + 80 + 60 = 490
    assert jan.active_accounts_start == 5
    assert jan.mrr_start == 490
    # MRR_next: A 100, B 0 (churned), C 30, D 120, E 60 (grace gap, closing row) = 310
    assert jan.churned_logos == 1 and jan.churned_mrr == 200
    assert jan.contraction_mrr == 20 and jan.expansion_mrr == 40
    assert jan.expansion_accounts == 1
    assert jan.logo_churn_rate == pytest.approx(1 / 5)
    assert jan.gross_revenue_churn == pytest.approx(220 / 490)
    assert jan.gross_revenue_retention == pytest.approx(270 / 490)
    assert jan.net_revenue_retention == pytest.approx(310 / 490)
    assert jan.expansion_rate == pytest.approx(1 / 5)
    # new F and re-signup G are counted but never in S
    assert jan.new_accounts == 1 and jan.resignups == 1
    # Jan 31: A 100, C 30, D 120, E 60 (in grace), F 40, G 10 -> 6 accounts, 360
    assert jan.active_accounts == 6 and jan.mrr == 360 and jan.arr == 4320
    assert jan.arpa == pytest.approx(60)
    assert jan.pending_churned_logos == 0


def test_february_grace_gap_account_and_mid_month_start_enter_s(subs, periods):
    k = monthly_kpis(subs, periods, "2026-02-01", "2026-02-01", GRACE).iloc[0]
    # S = {A, C, D, E (in grace gap, MRR 60), F, G} = 360, nothing changes in February
    assert k.active_accounts_start == 6 and k.mrr_start == 360
    assert k.churned_logos == 0 and k.logo_churn_rate == 0
    assert k.net_revenue_retention == 1 and k.gross_revenue_retention == 1


def test_per_touch_tier(subs, periods):
    # thresholds ARR 600 / 1200: A 1200 high, B 2400 high, C 600 low, D 960 low,
    # E 720 low; F (not active Jan 1) 480 on Jan 31 tech, G 120 tech
    k = monthly_kpis(
        subs,
        periods,
        "2026-01-01",
        "2026-01-31",
        GRACE,
        segment="touch_tier",
        tier_thresholds=(600, 1200),
    ).set_index("touch_tier")
    assert k.loc["high_touch", "active_accounts_start"] == 2
    assert k.loc["high_touch", "logo_churn_rate"] == pytest.approx(0.5)
    assert k.loc["high_touch", "gross_revenue_retention"] == pytest.approx(100 / 300)
    assert k.loc["high_touch", "arpa"] == pytest.approx(100)
    assert k.loc["low_touch", "gross_revenue_retention"] == pytest.approx(170 / 190)
    assert k.loc["low_touch", "net_revenue_retention"] == pytest.approx(210 / 190)
    assert k.loc["low_touch", "expansion_rate"] == pytest.approx(1 / 3)
    assert k.loc["low_touch", "arpa"] == pytest.approx(70)
    assert np.isnan(k.loc["tech_touch", "logo_churn_rate"])  # empty S
    assert k.loc["tech_touch", "new_accounts"] == 1 and k.loc["tech_touch", "resignups"] == 1
    assert k.loc["tech_touch", "arpa"] == pytest.approx(25)


def test_static_segment_column(subs, periods):
    accounts = pd.DataFrame({"account_id": list("ABCDEFG"), "region": list("xxyyyxz")})
    k = monthly_kpis(
        subs, periods, "2026-01-01", "2026-01-31", GRACE, segment="region", accounts=accounts
    ).set_index("region")
    # region x: S = {A, B}: 300 -> 100; y: S = {C, D, E}: 190 -> 210; z: G re-signs
    assert k.loc["x", "net_revenue_retention"] == pytest.approx(100 / 300)
    assert k.loc["y", "net_revenue_retention"] == pytest.approx(210 / 190)
    assert k.loc["z", "resignups"] == 1
    assert k["new_accounts"].sum() == 1


def test_pending_churn_counts_as_churn_in_kpis_and_is_flagged():
    s = make_subs([("H", "2026-01-01", "2026-03-15", 10), ("I", "2026-01-01", None, 10)])
    p = active_periods(s, GRACE, "2026-03-31")
    k = monthly_kpis(s, p, "2026-03-01", "2026-03-31", GRACE).iloc[0]
    assert k.churned_logos == 1 and k.pending_churned_logos == 1
    assert k.net_revenue_retention == pytest.approx(0.5)


def test_churn_and_resignup_in_same_month_is_a_churn():
    # grace 5: gap Jan 10 -> Jan 20 (10 days) is a churn; MRR_next must be 0 (domain.md)
    s = make_subs([("J", "2025-12-01", "2026-01-10", 10), ("J", "2026-01-20", None, 10)])
    p = active_periods(s, 5, DATA_END)
    k = monthly_kpis(s, p, "2026-01-01", "2026-01-31", 5).iloc[0]
    assert k.churned_logos == 1 and k.resignups == 1
    assert k.net_revenue_retention == 0 and k.gross_revenue_retention == 0


def test_annualise_compounds():
    assert annualise(0.02) == pytest.approx(0.2153, abs=5e-5)
    assert annualise(0.0) == 0 and annualise(1.0) == 1
    got = annualise(pd.Series([0.01, 0.05]))
    assert got.tolist() == pytest.approx([1 - 0.99**12, 1 - 0.95**12])


def test_annual_columns(subs, periods):
    jan = monthly_kpis(subs, periods, "2026-01-01", "2026-01-31", GRACE).iloc[0]
    assert jan.logo_churn_rate_annual == pytest.approx(1 - 0.8**12)
    assert jan.gross_revenue_retention_annual == pytest.approx((270 / 490) ** 12)
    assert jan.net_revenue_retention_annual == pytest.approx((310 / 490) ** 12)


def _random_subs(seed: int, n_accounts: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_accounts):
        day = T("2025-10-01") + pd.Timedelta(days=int(rng.integers(0, 200)))
        for _ in range(int(rng.integers(1, 5))):
            end = day + pd.Timedelta(days=int(rng.integers(10, 120)))
            rows.append((f"R{i}", day, end, float(rng.integers(0, 5) * 25)))
            day = end + pd.Timedelta(days=int(rng.choice([0, 0, 5, 20, 45])))
    return make_subs(rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_grr_never_above_one_and_nrr_identity(seed):
    s = _random_subs(seed)
    p = active_periods(s, GRACE, "2027-06-30")
    k = monthly_kpis(s, p, "2025-11-01", "2026-10-31", GRACE)
    assert (k["gross_revenue_retention"].dropna() <= 1 + 1e-12).all()
    assert (
        k["net_revenue_retention"].dropna() >= k["gross_revenue_retention"].dropna() - 1e-12
    ).all()
    bridge = k["mrr_start"] - k["churned_mrr"] - k["contraction_mrr"] + k["expansion_mrr"]
    assert np.allclose(
        bridge / k["mrr_start"].where(k["mrr_start"] > 0),
        k["net_revenue_retention"],
        equal_nan=True,
    )


def test_plain_python_cross_check():
    """Reference: per-day cover from the raw rows, grace gaps and churns by hand-rolled loops."""
    s = _random_subs(7, n_accounts=25)
    p = active_periods(s, GRACE, "2027-06-30")
    k = monthly_kpis(s, p, "2025-11-01", "2026-06-30", GRACE).set_index("month")

    def mrr_and_active(g, day):
        rows = g.sort_values("start_date")
        cover = rows[(rows.start_date <= day) & (day < rows.end_date)]
        if len(cover):
            return cover.mrr.sum(), True
        later = rows[rows.start_date > day]
        earlier = rows[rows.start_date <= day]
        if len(later) and len(earlier):
            gap = (later.start_date.min() - earlier.end_date.max()).days
            if gap <= GRACE:
                return later[later.start_date == later.start_date.min()].mrr.sum(), True
        return 0.0, False

    def churned_between(g, m, m_next):
        rows = g.sort_values("start_date")
        for e in rows.end_date:
            if m < e <= m_next:
                nxt = rows[rows.start_date >= e - pd.Timedelta(days=0)]
                covered_later = rows[(rows.start_date <= e) & (rows.end_date > e)]
                if len(covered_later):
                    continue
                if not len(nxt) or (nxt.start_date.min() - e).days > GRACE:
                    return True
        return False

    for month in k.index:
        nxt = month + pd.DateOffset(months=1)
        start_total = next_total = churn = n_s = 0
        for _, g in s.groupby("account_id"):
            m0, a0 = mrr_and_active(g, month)
            if not a0:
                continue
            n_s += 1
            start_total += m0
            if churned_between(g, month, nxt):
                churn += 1
            else:
                next_total += mrr_and_active(g, nxt)[0]
        assert k.loc[month, "active_accounts_start"] == n_s
        assert k.loc[month, "churned_logos"] == churn
        assert k.loc[month, "mrr_start"] == pytest.approx(start_total)
        if start_total:
            assert k.loc[month, "net_revenue_retention"] == pytest.approx(next_total / start_total)


def test_inputs_not_mutated(subs, periods):
    s0, p0 = subs.copy(), periods.copy()
    monthly_kpis(subs, periods, "2026-01-01", "2026-02-28", GRACE, segment="touch_tier")
    cohort_retention(subs, periods, GRACE, "2025-12-01", "2026-03-01", kind="revenue")
    pd.testing.assert_frame_equal(subs, s0)
    pd.testing.assert_frame_equal(periods, p0)


def test_cohort_retention_matrices(subs, periods):
    logo = cohort_retention(subs, periods, GRACE, "2025-12-01", "2026-03-01", kind="logo")
    # Dec 2025 cohort {A..E}: Jan 1 all 5; Feb 1 and Mar 1: A, C, D, E (gap) -> 4/5
    assert logo.loc[T("2025-12-01")].tolist()[:4] == pytest.approx([1, 1, 0.8, 0.8])
    # Jan 2026 cohort {F}: Feb 1, Mar 1 active; Apr 1 is after end -> NaN
    jan = logo.loc[T("2026-01-01")]
    assert jan[[0, 1, 2]].tolist() == [1, 1, 1] and np.isnan(jan[3])
    assert T("2025-11-01") not in logo.index  # G's cohort is outside [start, end]
    rev = cohort_retention(subs, periods, GRACE, "2025-12-01", "2026-03-01", kind="revenue")
    # base 490; Feb 1: 100 + 30 + 120 + 60 = 310
    assert rev.loc[T("2025-12-01"), 1] == pytest.approx(1.0)
    assert rev.loc[T("2025-12-01"), 2] == pytest.approx(310 / 490)


def _events():
    return pd.DataFrame(
        {
            "account_id": ["A", "B", "A", "B", "A"],
            "timestamp": pd.to_datetime(
                ["2026-01-15", "2026-02-15", "2025-12-11", "2025-12-31", "2026-05-01"]
            ),
            "event_type": [
                "onboarding_completed",
                "onboarding_completed",
                "first_value",
                "first_value",
                "onboarding_completed",
            ],
            "value": np.nan,
        }
    )


def test_onboarding_completion_by_cohort(periods):
    out = onboarding_completion(periods, _events(), 60, DATA_END).set_index("cohort")
    dec = out.loc[T("2025-12-01")]
    # Dec cohort A..E: A done after 45 days (yes), B after 76 (no), others never -> 1/5
    assert dec.accounts_started == 5 and dec.onboarding_completed == 1
    assert dec.onboarding_completion_rate == pytest.approx(0.2)
    assert bool(dec.window_complete)
    out90 = onboarding_completion(periods, _events(), 90, DATA_END).set_index("cohort")
    assert out90.loc[T("2025-12-01"), "onboarding_completed"] == 2
    young = onboarding_completion(periods, _events(), 60, "2026-02-01").set_index("cohort")
    assert not young.loc[T("2026-01-01"), "window_complete"]


def test_time_to_value_median(periods):
    out = time_to_value(periods, _events(), DATA_END).set_index("cohort")
    # A: 10 days, B: 30 days -> median 20 over 2 of 5
    assert out.loc[T("2025-12-01"), "reached_value"] == 2
    assert out.loc[T("2025-12-01"), "median_time_to_value_days"] == pytest.approx(20)


def test_customer_ltv_and_zero_churn_guard():
    k = pd.DataFrame({"arpa": [100.0, 100.0, 50.0], "gross_revenue_churn": [0.02, 0.0, np.nan]})
    ltv = customer_ltv(k, 0.8)
    assert ltv.iloc[0] == pytest.approx(4000)
    assert ltv.iloc[1:].isna().all()
    with pytest.raises(ValueError):
        customer_ltv(k, 0)


def test_plots_return_figures_with_the_data(subs, periods):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from churnlab.plots.kpis import (
        plot_cohort_heatmap,
        plot_kpi_sparkline,
        plot_mrr_bridge,
        plot_retention_trend,
    )

    k = monthly_kpis(subs, periods, "2026-01-01", "2026-02-28", GRACE)
    fig = plot_retention_trend(k)
    nrr_line = fig.axes[0].lines[0]
    assert list(nrr_line.get_ydata()) == pytest.approx(k["net_revenue_retention"].tolist())
    spark = plot_kpi_sparkline(
        k.set_index("month")["logo_churn_rate"], title="Logo churn", percent=True, good_up=False
    )
    w, h = spark.get_size_inches()
    assert (w, h) == pytest.approx((2.2, 0.9))
    assert "0.0%" in [t.get_text() for t in spark.axes[0].texts]
    matrix = cohort_retention(subs, periods, GRACE, "2025-12-01", "2026-03-01")
    heat = plot_cohort_heatmap(matrix, kind="logo")
    assert "80%" in [t.get_text() for t in heat.axes[0].texts]
    bridge = plot_mrr_bridge(k.iloc[0])
    heights = [p.get_height() for p in bridge.axes[0].patches]
    assert heights == pytest.approx([490, 40, 20, 200, 310])
    _, ax = plt.subplots()
    assert plot_retention_trend(k, ax=ax) is ax.figure
    plt.close("all")


def test_kpi_table_stacks_overall_and_tiers(subs, periods):
    from churnlab.kpis import kpi_table

    t = kpi_table(subs, periods, "2026-01-01", "2026-01-31", GRACE, tier_thresholds=(600, 1200))
    assert t.columns[:3].tolist() == ["month", "segment_by", "segment"]
    assert sorted(t["segment"]) == ["all", "high_touch", "low_touch", "tech_touch"]
    # per-tier counts add up to the overall row
    tiers = t[t["segment"] != "all"]
    overall = t[t["segment"] == "all"].iloc[0]
    for col in ["active_accounts_start", "churned_logos", "mrr", "new_accounts", "resignups"]:
        assert tiers[col].sum() == overall[col]
