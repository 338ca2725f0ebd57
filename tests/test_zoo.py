"""The data zoo through ``validate`` and the real pipeline: no case ends in a traceback.

Every case of :mod:`tests.zoo` ends in one of three ways: it runs end to end with a report
that fits the data; it runs with a partial report whose skipped parts are stated (no
churner, everyone churned: KPIs and cohorts, no model); or ``validate`` stops it with a
named data error. ``validate`` and ``run`` agree: what validate lets through, run finishes.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from churnlab.config import load_params
from churnlab.errors import ChurnlabError, DataError
from churnlab.report import Headline
from churnlab.run.runner import run_pipeline
from churnlab.run.steps.data_health import check
from churnlab.run.steps.model import REFERENCE
from tests.helpers import ROOT, check_self_contained
from tests.zoo import CASES, PARTIAL, REFUSED, RUNS, Case


def _params(case: Case, work: Path):
    overlay = case.make(work / "data")
    path = work / "overlay.yaml"
    path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    return load_params(
        ROOT / "params.yaml",
        [path],
        [f"run.reports_dir={work / 'reports'}", f"run.cache_dir={work / 'cache'}"],
    )


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_case_runs_partly_runs_or_is_refused_by_name(case: Case, tmp_path):
    cfg = _params(case, tmp_path)
    if case.expect == REFUSED:
        with pytest.raises(DataError) as info:
            check(cfg)
        assert case.rule in info.value.rule, info.value
        assert info.value.hint, "a refusal says how to fix it"
        result = run_pipeline(cfg, in_process=True)
        assert not result.succeeded  # run refuses what validate refuses, with the same error
        error = result.stages[0]["error"]
        assert error["ename"] == "DataError" and case.rule in error["evalue"]
        return

    check(cfg)  # validate lets it through ...
    result = run_pipeline(cfg, in_process=True)  # ... and run finishes it
    assert result.succeeded, json.dumps(result.stages, indent=1, default=str)[:3000]
    folder = result.folder
    metrics = json.loads(folder.model_metrics.read_text())
    html = folder.report.read_text()
    check_self_contained(html)
    headline = Headline.read(folder.headline)
    if case.expect == PARTIAL:
        assert metrics["status"] == "skipped" and metrics["reason"] in html
        assert [s["status"] for s in result.stages][2:4] == ["skipped", "skipped"]
        assert not folder.scores.exists()
        assert headline.kpi("arr_at_risk") is None  # no "$0 at risk" without scores
        return

    assert case.expect == RUNS
    assert metrics["status"] == "trained"
    scores = pd.read_csv(folder.scores)
    assert scores["churn_probability"].between(0, 1).all() and len(scores)
    comparison = {row["model"]: row for row in metrics["comparison"]}
    champion, metric = comparison[metrics["champion"]], metrics["champion_metric"]
    if REFERENCE in comparison:  # event logs: the champion is at least the plain reference
        assert champion[metric] >= comparison[REFERENCE][metric]
        assert any("plain reference" in note for note in metrics["notes"])
    for column, reason in metrics["excluded_features"].items():
        assert column not in pd.read_csv(folder.drivers)["feature"].tolist(), reason
    if cfg.data.shape == "snapshot":
        assert "Logo churn (monthly)" not in html and "Churned in this data set" in html


def test_the_zoo_covers_the_cases_the_issue_names():
    names = {c.name for c in CASES}
    assert {
        "no_names", "no_seats", "custom_events_no_logins", "no_cs_events", "one_plan_one_tier",
        "addon_lines", "integer_ids_csv", "zero_padded_ids_parquet", "four_months",
        "one_account", "no_churner", "everyone_churned", "header_only", "odd_column_names",
        "empty_optional_columns", "snapshot_no_id", "snapshot_labels_outside_pair",
        "snapshot_zero_one_label", "snapshot_tenure_years", "id_types_differ",
        "mixed_time_zones",
    } <= names  # fmt: skip
    assert {c.expect for c in CASES} == {RUNS, PARTIAL, REFUSED}


def test_an_error_outside_the_zoo_is_still_a_churnlab_error(tmp_path):
    """A broken mapping: the column a user names does not exist."""
    case = next(c for c in CASES if c.name == "sample")
    overlay = case.make(tmp_path / "data")
    overlay["data"]["columns"] = {"events": {"event_type": "no such column"}}
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump(overlay))
    cfg = load_params(ROOT / "params.yaml", [path])
    with pytest.raises(ChurnlabError, match="no such column"):
        check(cfg)


def test_a_scoring_date_outside_the_data_is_refused_before_the_run(tmp_path):
    from churnlab.errors import ParamsError

    case = next(c for c in CASES if c.name == "sample")
    cfg = _params(case, tmp_path)
    late = cfg.model_copy(
        update={"observation": cfg.observation.model_copy(update={"as_of": dt.date(2030, 1, 31)})}
    )
    with pytest.raises(ParamsError, match="observation.as_of = 2030-01-31 is outside the data"):
        check(late)
    result = run_pipeline(late, in_process=True)
    assert not result.succeeded and result.stages[0]["error"]["ename"] == "ParamsError"
