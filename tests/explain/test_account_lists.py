"""Reasons, next steps, the renewal map, the monthly book and the ARR at risk of a real run.

All on the shared pipeline run (``pipeline_run``): the files stage 03 and the report wrote,
checked against the stage-00 scoring table and plain pandas, not against the code's own
helpers.
"""

from __future__ import annotations

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from churnlab.report import Headline
from churnlab.report.accounts import segment_tables
from churnlab.vocabulary import vocabulary

EN = vocabulary("en")
DIRECTIONS = tuple(
    EN.text(f"reasons.direction.{d}", reason="") for d in ("raises_risk", "lowers_risk")
)


def _csv(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"account_id": str, "name": str, "csm_owner": str})


@pytest.fixture(scope="module")
def scores(pipeline_run) -> pd.DataFrame:
    return _csv(pipeline_run.scores)


def test_every_reason_starts_with_its_direction_and_never_says_missing(pipeline_run, scores):
    sep = EN.text("reasons.separator")
    for path in (pipeline_run.scores, pipeline_run.renewal_map, pipeline_run.monthly_at_risk):
        table = _csv(path)
        assert {"reasons", "next_step", "csm_owner"} <= set(table.columns), path.name
        cells = table["reasons"].fillna("")
        assert cells.ne("").mean() > 0.95, path.name  # nearly every account has reasons
        parts = [p for cell in cells for p in cell.split(sep) if cell]
        assert parts and all(p.startswith(DIRECTIONS) for p in parts), path.name
        assert not cells.str.contains("missing", case=False).any(), path.name
        assert not cells.str.contains(r"\bnan\b", case=False).any(), path.name
    # one reason per topic: an account never says its logins (or onboarding) twice
    for cell in scores["reasons"].fillna(""):
        parts = cell.split(sep)
        assert sum("onboarding" in p for p in parts) <= 1, cell
        assert sum(" logins" in p or "login " in p for p in parts) <= 1, cell


def test_next_step_and_owner(pipeline_run, pipeline_cfg, scores):
    scoring = pd.read_parquet(pipeline_run.scoring)
    owners = scoring.set_index(scoring["account_id"].astype(str))["csm_owner"]
    assert scores["csm_owner"].tolist() == owners.reindex(scores["account_id"]).tolist()
    steps = {EN.text(f"playbook.{family}") for family in pipeline_cfg.playbook}
    given = scores["next_step"].dropna()
    assert set(given) <= steps and len(given) > 0.9 * len(scores)
    # the strongest risk-raising reason comes first; onboarding has a family: its step
    onboarding = (
        scores["reasons"]
        .fillna("")
        .str.startswith(
            EN.text(
                "reasons.direction.raises_risk", reason=EN.text("reasons.onboarding.not_completed")
            )
        )
    )
    assert onboarding.sum() > 10
    assert (scores.loc[onboarding, "next_step"] == EN.text("playbook.onboarding")).all()


def test_the_renewal_map_holds_only_contract_renewals_in_the_window(pipeline_run, pipeline_cfg):
    scoring = pd.read_parquet(pipeline_run.scoring)
    as_of = scoring["as_of"].iloc[0]
    window = pipeline_cfg.health.renewal_window_days
    renewing = scoring[
        (scoring["billing_period_months"] >= 2)
        & scoring["renewal_date"].between(as_of, as_of + pd.Timedelta(days=window))
    ]
    renewals = _csv(pipeline_run.renewal_map)
    assert sorted(renewals["account_id"]) == sorted(renewing["account_id"].astype(str))
    assert (renewals["billing_period_months"] >= 2).all() and len(renewals) > 0
    assert renewals["expected_arr_at_risk"].is_monotonic_decreasing
    monthly = _csv(pipeline_run.monthly_at_risk)
    book = scoring[scoring["billing_period_months"] < 2]
    assert sorted(monthly["account_id"]) == sorted(book["account_id"].astype(str))
    assert not set(monthly["account_id"]) & set(renewals["account_id"])
    assert monthly["expected_arr_at_risk"].is_monotonic_decreasing
    # the small files for the email: the top rows of each
    top = pipeline_cfg.report.top_accounts
    for full, small in (
        (pipeline_run.renewal_map, pipeline_run.renewal_map_top),
        (pipeline_run.monthly_at_risk, pipeline_run.monthly_at_risk_top),
    ):
        pd.testing.assert_frame_equal(_csv(small), _csv(full).head(top))
        assert small.stat().st_size < 20_000


def test_arr_at_risk_is_the_whole_book_and_its_parts_add_up(pipeline_run, pipeline_cfg, scores):
    headline = Headline.read(pipeline_run.headline)
    book = (scores["churn_probability"] * scores["arr"]).sum()
    assert headline.arr_at_risk == pytest.approx(book, rel=1e-9)
    renewals = _csv(pipeline_run.renewal_map)
    monthly = _csv(pipeline_run.monthly_at_risk)
    assert headline.arr_at_risk_renewals == pytest.approx(renewals["expected_arr_at_risk"].sum())
    assert headline.arr_at_risk_monthly == pytest.approx(monthly["expected_arr_at_risk"].sum())
    later = scores[~scores["account_id"].isin({*renewals["account_id"], *monthly["account_id"]})]
    assert (later["billing_period_months"] >= 2).all()  # contracts renewing after the window
    assert headline.arr_at_risk_other == pytest.approx(later["expected_arr_at_risk"].sum())
    parts = headline.arr_at_risk_renewals + headline.arr_at_risk_monthly
    assert headline.arr_at_risk == pytest.approx(parts + headline.arr_at_risk_other)
    assert headline.accounts_scored == len(scores)
    assert headline.renewals_in_window == len(renewals)
    assert headline.monthly_accounts == len(monthly) and headline.other_accounts == len(later)
    top = pipeline_cfg.report.top_accounts
    assert [r.account_id for r in headline.top_renewals] == renewals["account_id"].head(
        top
    ).tolist()
    assert [r.account_id for r in headline.top_monthly] == monthly["account_id"].head(top).tolist()
    assert headline.top_renewals[0].next_step == renewals["next_step"].iloc[0]


def test_the_report_shows_both_lists_and_the_segment_views(pipeline_run, pipeline_cfg, scores):
    soup = BeautifulSoup(pipeline_run.report.read_text(), "html.parser")
    headline = Headline.read(pipeline_run.headline)
    for section, rows in (("renewal-map", headline.top_renewals), ("monthly-at-risk", headline.top_monthly)):  # fmt: skip
        table = soup.find(id=section).find("table")
        assert len(table.find_all("tr")) == len(rows) + 1, section
    segments = soup.find(id="segments")
    assert segments is not None and len(segments.find_all("table")) == 2  # CSM owner, tier
    # the CSM table against plain pandas
    tables = segment_tables(scores, pipeline_cfg, EN)
    owner = next(t for t in tables if t["column"] == "csm_owner")
    by = scores.groupby("csm_owner")
    risk = by["expected_arr_at_risk"].sum().sort_values(ascending=False)
    assert [r["value"] for r in owner["rows"]] == risk.index[:10].tolist()
    first = owner["rows"][0]
    assert first["accounts"] == by.size()[first["value"]]
    assert (
        first["red"]
        == (scores.loc[scores["csm_owner"] == first["value"], "health_band"] == "red").sum()
    )
    assert first["arr_at_risk"] == pytest.approx(risk.iloc[0])


def test_a_segment_column_the_data_lacks_is_a_note(pipeline_cfg, scores):
    cfg = pipeline_cfg.model_copy(
        update={"report": pipeline_cfg.report.model_copy(update={"segments": ["region", "plan"]})}
    )
    tables = segment_tables(scores.drop(columns=["csm_owner"]), cfg, EN)
    assert [t["note"] for t in tables] == [
        EN.text("accounts.segments.absent", column="region"),
        EN.text("accounts.segments.absent", column="plan"),
    ]
    # by default: the CSM owner only when the data has one
    default = segment_tables(scores.drop(columns=["csm_owner"]), pipeline_cfg, EN)
    assert [t["column"] for t in default] == ["touch_tier"]
