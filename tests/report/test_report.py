"""The executive report on the real output of the stages: self-contained, escaped, true figures."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from churnlab.errors import RunError
from churnlab.report import HEADLINE_SCHEMA_VERSION, Headline, render_report
from churnlab.vocabulary import vocabulary
from tests.helpers import EVIL_NAME, SECTIONS, check_self_contained, copy_run


def test_report_is_self_contained_escaped_and_complete(pipeline_run, pipeline_cfg, tmp_path):
    run = copy_run(pipeline_run, tmp_path / "reports")
    # hostile user data in the real renewal map: the name of the riskiest renewal
    renewals = pd.read_csv(run.renewal_map, dtype={"account_id": str})
    renewals.loc[0, "name"] = EVIL_NAME
    renewals.to_csv(run.renewal_map, index=False)
    html = render_report(run, pipeline_cfg).read_text()
    soup = check_self_contained(html)
    for section in SECTIONS:
        assert soup.find(id=section) is not None, section
    assert EVIL_NAME not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert len(run.report.read_bytes()) <= 2 * 1024 * 1024
    assert len(soup.find_all("img")) >= 3  # sparklines for the rate tiles


def test_headline_carries_the_figures_of_the_real_files(pipeline_run, pipeline_cfg):
    """The headline's numbers, recomputed from the CSV files the stages wrote."""
    headline = Headline.read(pipeline_run.headline)
    assert headline.schema_version == HEADLINE_SCHEMA_VERSION
    scores = pd.read_csv(pipeline_run.scores, dtype={"account_id": str})
    window = pipeline_cfg.health.renewal_window_days
    # the contract renewals in the window (billing period of two months or more)
    renewing = scores[
        scores["days_to_renewal"].between(0, window) & (scores["billing_period_months"] >= 2)
    ]
    assert headline.renewals_in_window == len(renewing) > 0
    # the ARR at risk sums the whole book (tests/explain/test_account_lists.py: its parts)
    book = (scores["churn_probability"] * scores["arr"]).sum()
    assert headline.arr_at_risk == pytest.approx(book)
    assert headline.arr_at_risk_renewals == pytest.approx(renewing["expected_arr_at_risk"].sum())
    words = vocabulary()
    assert headline.arr_at_risk_display == words.money(headline.arr_at_risk)
    kpis = pd.read_csv(pipeline_run.kpis)
    last = kpis[kpis["segment"] == "all"].sort_values("month").iloc[-1]
    tile = headline.kpi("logo_churn_rate")
    assert tile.value == pytest.approx(last["logo_churn_rate"])
    assert tile.display == words.rate(last["logo_churn_rate"])
    # month over month, from the KPI series itself (vocabulary "changes.vs_month")
    before = kpis[kpis["segment"] == "all"].sort_values("month").iloc[-2]
    change = last["logo_churn_rate"] - before["logo_churn_rate"]
    points = f"{100 * change:+.1f} pp"
    assert tile.change_display == f"{points} vs {pd.Timestamp(before['month']):%b %Y}"
    assert tile.change_basis == "month" and tile.good == (change < 0)
    year = kpis[kpis["segment"] == "all"].sort_values("month").iloc[-13]
    yoy = f"{100 * (last['logo_churn_rate'] - year['logo_churn_rate']):+.1f} pp"
    assert tile.yoy_display == f"{yoy} vs {pd.Timestamp(year['month']):%b %Y}"
    # a model output compares with the previous run of the data set: there is none
    risk = headline.kpi("arr_at_risk")
    assert risk.display == headline.arr_at_risk_display
    assert risk.change_display == "no comparable earlier run" and risk.change_basis == "run"
    top = renewing.sort_values(
        ["expected_arr_at_risk", "renewal_date", "account_id"], ascending=[False, True, True]
    )
    expected = top["account_id"].head(pipeline_cfg.report.top_accounts).tolist()
    assert [r.account_id for r in headline.top_renewals] == expected
    html = pipeline_run.report.read_text()
    assert headline.arr_at_risk_display in html


def test_change_since_the_previous_run_reads_its_headline(pipeline_run, pipeline_cfg, tmp_path):
    first = copy_run(pipeline_run, tmp_path / "a")
    again = copy_run(pipeline_run, tmp_path / "b")
    alone = Headline.read(pipeline_run.headline)
    render_report(again, pipeline_cfg, previous=first)
    headline = Headline.read(again.headline)
    # the KPIs change month over month whatever ran before; ARR at risk since that run
    assert headline.kpis[:-1] == alone.kpis[:-1]
    date = vocabulary().date(alone.as_of)
    assert headline.kpi("arr_at_risk").change_display == f"+$0 since the last run ({date})"
    assert f"+$0 since the last run ({date})" in again.report.read_text()


def test_headlines_of_earlier_runs_are_read_and_newer_ones_refused(tmp_path):
    """Round-1 headlines had no schema_version (and the docs named the key arr_at_risk_90d)."""
    old = {"as_of": "2026-09-30", "run_id": "r1", "arr_at_risk_90d": 1234.0, "kpis": [
        {"key": "arr", "label": "ARR", "kind": "money", "value": 5.0, "display": "$5",
         "change_display": "first run", "good": None, "series": [1.0], "retired": 1}
    ]}  # fmt: skip
    path = tmp_path / "headline.json"
    path.write_text(json.dumps(old))
    headline = Headline.read(path)
    assert headline.arr_at_risk == 1234.0 and headline.kpi("arr").value == 5.0
    path.write_text(json.dumps({**old, "schema_version": HEADLINE_SCHEMA_VERSION + 1}))
    with pytest.raises(RunError, match="newer"):
        Headline.read(path)
    with pytest.raises(RunError, match="missing"):
        Headline.read(tmp_path / "nothing.json")
