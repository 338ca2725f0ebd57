"""The MRR bridge and the KPI table: reconciled, equal to kpis.csv, checked by hand and in plain pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.executive import kpi_changes, mrr_bridge, overall
from churnlab.kpis import kpi_table, monthly_kpis
from churnlab.observations.periods import active_periods
from tests.executive import subs_frame

T = pd.Timestamp

# account, start, end (exclusive, None = running), mrr: January 2026 worked by hand below
ROWS = [
    ("A", "2025-12-01", None, 100),  # steady
    ("B", "2025-12-01", "2026-01-15", 200),  # churns in January
    ("C", "2025-12-01", "2026-01-10", 50),  # contraction 50 -> 30
    ("C", "2026-01-10", None, 30),
    ("D", "2025-12-01", "2026-01-20", 80),  # expansion 80 -> 120
    ("D", "2026-01-20", None, 120),
    ("E", "2025-12-01", "2026-01-25", 60),  # grace gap over Feb 1 (16 days): not a churn
    ("E", "2026-02-10", None, 60),
    ("F", "2026-01-15", None, 40),  # new in January
    ("G", "2025-11-01", "2025-12-01", 10),  # churned in November ...
    ("G", "2026-01-20", None, 10),  # ... comes back in January: reactivation
    ("H", "2026-02-01", None, 70),  # starts on Feb 1: in January's end, February's start
]


def test_january_bridge_by_hand():
    subs = subs_frame(ROWS)
    periods = active_periods(subs, 30, T("2026-12-31"))
    kpis = monthly_kpis(subs, periods, "2025-12-01", "2026-02-01", 30).assign(segment="all")
    jan = mrr_bridge(kpis[kpis["month"] <= T("2026-01-01")], 1)
    # S on Jan 1: A 100, B 200, C 50, D 80, E 60 = 490 (G churned in November)
    # end on Feb 1: A 100, C 30, D 120, E 60 (grace), F 40, G 10, H 70 = 430
    assert (jan.start, jan.new, jan.reactivation) == (490, 40 + 70, 10)
    assert (jan.expansion, jan.contraction, jan.churn, jan.end) == (40, 20, 200, 430)
    assert jan.gap == 0
    trailing = mrr_bridge(kpis, 12)  # three months: Dec, Jan, Feb
    assert trailing.months == 3 and trailing.start == 490 and trailing.gap == 0
    assert trailing.end == float(kpis["closing_mrr"].iloc[-1])


def _random_subs(seed: int, n: int = 30) -> pd.DataFrame:
    """Contiguous or gapped monthly rows with MRR changes: churns, comebacks, expansions."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        day = T("2025-01-01") + pd.Timedelta(days=int(rng.integers(0, 200)))
        mrr = float(rng.integers(1, 20) * 10)
        for _ in range(int(rng.integers(1, 8))):
            length = pd.Timedelta(days=int(rng.integers(20, 120)))
            rows.append((f"a{i:02d}", day, day + length, mrr))
            day = day + length + pd.Timedelta(days=int(rng.choice([0, 0, 0, 15, 60])))
            mrr = max(10.0, mrr + float(rng.choice([-20, 0, 0, 30])))
    return subs_frame(rows)


def _plain_bridge(subs: pd.DataFrame, month: pd.Timestamp) -> dict[str, float]:
    """The bridge of one month from the raw rows, grace 0, without churnlab's functions."""
    nxt = month + pd.DateOffset(months=1)

    def cover(g, day):
        rows = g[(g["start_date"] <= day) & (day < g["end_date"])]
        return len(rows) > 0, float(rows["mrr"].sum())

    out = dict.fromkeys(("start", "new", "reactivation", "expansion", "contraction", "churn"), 0.0)
    out["end"] = 0.0
    for _, g in subs.groupby("account_id"):
        in_s, m0 = cover(g, month)
        active_next, m1 = cover(g, nxt)
        out["end"] += m1 if active_next else 0.0
        churned = in_s and any(
            month < e <= nxt and not cover(g, e)[0] for e in g["end_date"].dropna()
        )
        if in_s:
            out["start"] += m0
        if in_s and churned:
            out["churn"] += m0
        elif in_s:
            out["expansion"] += max(m1 - m0, 0.0)
            out["contraction"] += max(m0 - m1, 0.0)
        if active_next and not (in_s and not churned):
            kind = "new" if g["start_date"].min() > month else "reactivation"
            out[kind] += m1
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_bridge_equals_a_plain_pandas_computation(seed):
    subs = _random_subs(seed)
    periods = active_periods(subs, 0, T("2026-06-30"))
    kpis = monthly_kpis(subs, periods, "2025-02-01", "2025-12-01", 0).assign(segment="all")
    for month in pd.to_datetime(kpis["month"]):
        got = mrr_bridge(kpis[kpis["month"] <= month], 1)
        want = _plain_bridge(subs, month)
        for step, value in want.items():
            assert getattr(got, step) == pytest.approx(value), (month, step)
        assert got.gap == pytest.approx(0, abs=1e-6)
    moved = [mrr_bridge(kpis, 1).gap, mrr_bridge(kpis, 12).gap]
    assert moved == pytest.approx([0, 0], abs=1e-6)


def test_bridge_reconciles_with_kpis_csv_of_the_real_run(pipeline_run):
    kpis = pd.read_csv(pipeline_run.kpis)
    rows = overall(kpis)
    moved = (
        rows["mrr_start"]
        + rows["new_mrr"]
        + rows["reactivation_mrr"]
        + rows["expansion_mrr"]
        - rows["contraction_mrr"]
        - rows["churned_mrr"]
    )
    np.testing.assert_allclose(moved, rows["closing_mrr"], atol=1e-6)
    # the end of a month is the start of the next: the trailing bridge chains
    np.testing.assert_allclose(rows["closing_mrr"].iloc[:-1], rows["mrr_start"].iloc[1:])
    month, year = mrr_bridge(kpis, 1), mrr_bridge(kpis, 12)
    last = rows.iloc[-1]
    assert (month.start, month.churn, month.end) == (
        last["mrr_start"],
        last["churned_mrr"],
        last["closing_mrr"],
    )
    tail = rows.tail(12)
    assert year.months == 12 and year.start == tail["mrr_start"].iloc[0]
    assert year.expansion == pytest.approx(tail["expansion_mrr"].sum())
    assert year.new > 0 and year.churn > 0 and year.gap == pytest.approx(0, abs=1e-6)
    # per tier the month reconciles too (an account's tier may change between months)
    tiers = kpis[kpis["segment"] != "all"]
    np.testing.assert_allclose(
        tiers["mrr_start"]
        + tiers["new_mrr"]
        + tiers["reactivation_mrr"]
        + tiers["expansion_mrr"]
        - tiers["contraction_mrr"]
        - tiers["churned_mrr"],
        tiers["closing_mrr"],
        atol=1e-6,
    )


def test_kpi_table_changes_come_from_kpis_csv(pipeline_run):
    kpis = pd.read_csv(pipeline_run.kpis)
    rows = overall(kpis).set_index("month")
    table = kpi_changes(kpis).set_index("key")
    month = rows.index[-1]
    for key in ("arr", "net_revenue_retention", "logo_churn_rate", "gross_revenue_churn"):
        assert table.loc[key, "value"] == rows.loc[month, key]
        assert table.loc[key, "mom"] == pytest.approx(
            rows.loc[month, key] - rows.loc[month - pd.DateOffset(months=1), key]
        )
        assert table.loc[key, "yoy"] == pytest.approx(
            rows.loc[month, key] - rows.loc[month - pd.DateOffset(months=12), key]
        )


def test_short_history_and_old_kpi_tables_degrade():
    subs = subs_frame(ROWS)
    periods = active_periods(subs, 30, T("2026-12-31"))
    kpis = kpi_table(subs, periods, "2026-01-01", "2026-02-01", 30)
    assert mrr_bridge(kpis, 12).months == 2  # the data covers two months
    assert np.isnan(kpi_changes(kpis).set_index("key").loc["arr", "yoy"])
    assert mrr_bridge(kpis.drop(columns="closing_mrr"), 1) is None  # a KPI table of old
    assert mrr_bridge(kpis.head(0), 1) is None
