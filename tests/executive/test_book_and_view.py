"""Portfolio score, health bands, what changed and the report's executive view on the real run."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from churnlab.executive import book_trend, health_distribution, portfolio_score
from churnlab.report import Headline
from churnlab.report.executive import executive_view
from churnlab.run import RunFolder
from churnlab.vocabulary import vocabulary
from tests.helpers import check_self_contained


@pytest.fixture(scope="module")
def scores(pipeline_run) -> pd.DataFrame:
    return pd.read_csv(pipeline_run.scores, dtype={"account_id": str})


def test_portfolio_score_is_the_arr_weighted_health(scores):
    table = portfolio_score(scores).set_index("segment")
    want = (scores["health_score"] * scores["arr"]).sum() / scores["arr"].sum()
    assert table.loc["all", "score"] == pytest.approx(want)
    assert table.loc["all", "accounts"] == len(scores) and bool(table["weighted"].all())
    for tier, part in scores.groupby("touch_tier"):
        weighted = (part["health_score"] * part["arr"]).sum() / part["arr"].sum()
        assert table.loc[tier, "score"] == pytest.approx(weighted)
    # without revenue every account weighs the same, and the table says so
    plain = portfolio_score(scores.assign(arr=float("nan"))).set_index("segment")
    assert plain.loc["all", "score"] == pytest.approx(scores["health_score"].mean())
    assert not plain["weighted"].any()


def test_health_distribution_and_trend(scores):
    bands = health_distribution(scores).set_index("band")
    assert bands.index.tolist() == ["red", "yellow", "green"]
    assert bands["accounts"].sum() == len(scores)
    assert bands["account_share"].sum() == pytest.approx(1)
    red = scores[scores["health_band"] == "red"]
    assert bands.loc["red", "arr_share"] == pytest.approx(red["arr"].sum() / scores["arr"].sum())
    worse = scores.assign(health_score=scores["health_score"] - 5)
    trend = book_trend([("2026-09-30", worse), ("2026-10-31", scores)])
    assert trend["score"].diff().iloc[-1] == pytest.approx(5)
    assert trend["as_of"].tolist() == ["2026-09-30", "2026-10-31"]


def _earlier_copy(run: RunFolder, tmp_path, as_of: str, lower_by: float) -> RunFolder:
    """An earlier run of the same data: the scores with a lower health, an earlier as_of."""
    earlier = RunFolder(tmp_path / "earlier")
    earlier.path.mkdir()
    shutil.copy(run.manifest, earlier.manifest)
    manifest = json.loads(earlier.manifest.read_text())
    earlier.manifest.write_text(json.dumps({**manifest, "as_of": as_of}))
    scores = pd.read_csv(run.scores, dtype={"account_id": str})
    scores.assign(health_score=scores["health_score"] - lower_by).to_csv(
        earlier.scores, index=False
    )
    return earlier


def test_executive_view_of_the_real_run(pipeline_run, pipeline_cfg, tmp_path):
    words = vocabulary("en")
    earlier = _earlier_copy(pipeline_run, tmp_path, "2026-09-30", 4)
    view = executive_view(pipeline_run, pipeline_cfg, words, [earlier])
    assert 2 <= len(view["what_changed"]) <= 3
    bridge, segment, score = view["what_changed"]
    assert bridge.startswith("MRR ") and " in Oct 2026" in bridge
    assert any(words.tier_label(t) in segment for t in ("high_touch", "low_touch", "tech_touch"))
    assert "(+4 since the last run on Sep 30, 2026)" in score
    assert [r["label"] for r in view["kpis"]][:1] == ["ARR"]
    assert [r["step"] for r in view["bridge"]["rows"]][::6] == ["Start", "End"]
    assert view["portfolio"]["rows"][0]["change"] == "+4"
    assert len(view["portfolio"]["history"]) == 2 and len(view["health"]["runs"]) == 2
    assert len(view["engagement"]["rows"]) == 3 and view["onboarding"]["rows"]
    assert [r["segment"] for r in view["cost"]["rows"]][0] == "Whole book"  # demo cs_cost


def test_report_of_the_real_run_has_the_executive_view(pipeline_run, pipeline_cfg):
    soup = check_self_contained(pipeline_run.report.read_text())
    section = soup.find(id="executive")
    assert section is not None
    titles = [h.get_text() for h in section.find_all("h3")]
    for key in ("changes", "kpis", "bridge", "portfolio", "cohorts", "onboarding", "engagement"):
        assert vocabulary("en").text(f"executive.{key}.title") in titles, key
    alts = [img["alt"] for img in section.find_all("img")]
    assert alts == [vocabulary("en").chart_title(c) for c in ("mrr_bridge", "cohort_retention")]
    headline = Headline.read(pipeline_run.headline)
    assert headline.what_changed and headline.what_changed[0] in section.get_text()
    assert pipeline_cfg.report.cs_cost is not None  # the demo params give the CS cost
    assert vocabulary("en").text("executive.cost.per_account") in section.get_text()


def test_each_missing_part_leaves_a_note(pipeline_run, pipeline_cfg, tmp_path):
    """No touch events, no cs_cost, five months of KPIs, no onboarding events: notes, no gaps."""
    from churnlab.config import deep_merge, validate_params
    from tests.helpers import copy_run

    run = copy_run(pipeline_run, tmp_path / "reports", latest=False)
    pd.DataFrame({"account_id": []}).to_csv(run.engagement, index=False)
    kpis = pd.read_csv(run.kpis)
    kpis[kpis["month"] >= sorted(kpis["month"].unique())[-5]].to_csv(run.kpis, index=False)
    health = json.loads(run.data_health.read_text())
    health["event_types"] = ["login"]
    run.data_health.write_text(json.dumps(health))
    cfg = validate_params(
        deep_merge(pipeline_cfg.to_dict(), {"report": {"cs_cost": None}}), root=pipeline_cfg.root
    )
    words = vocabulary("en")
    view = executive_view(run, cfg, words)
    assert (
        view["engagement"]["rows"] == []
        and "qbr, csm_meeting, webinar" in (view["engagement"]["notes"][0])
    )
    assert view["cost"]["notes"] == [words.text("executive.cost.none")]
    assert view["bridge"]["short"] == words.text("executive.bridge.short", months=5)
    assert [r["yoy"] for r in view["kpis"]] == [words.text("changes.missing")] * 5
    assert view["onboarding"]["rows"] == [] and "onboarding_completed" in view["onboarding"]["note"]
