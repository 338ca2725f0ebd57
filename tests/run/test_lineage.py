"""Run lineage: data-set identity, params fingerprint, previous run, what ``--only`` reuses."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
from pathlib import Path

import pytest

from churnlab.config import load_params
from churnlab.errors import UsageError
from churnlab.run import ReportsFolder, RunFolder
from churnlab.run.lineage import (
    RunInfo,
    dataset_identity,
    params_fingerprint,
    previous_run,
    runs_of,
    scan_runs,
)
from churnlab.run.runner import run_pipeline
from churnlab.run.stages import reusable_run, select
from tests.helpers import ROOT, copy_run, sample_params

PARAMS = ROOT / "params.yaml"
FILES = [
    "data.accounts=/data/export/accounts.csv",
    "data.subscriptions=/data/export/subscriptions.csv",
    "data.events=/data/export/events.csv",
]
OTHER_FILES = [
    "data.accounts=/elsewhere/a.parquet",
    "data.subscriptions=/elsewhere/s.parquet",
    "data.events=/elsewhere/e.parquet",
]


def _params(*overrides: str, overlays: tuple[Path, ...] = ()):
    return load_params(PARAMS, overlays=list(overlays), overrides=list(overrides))


# -- data-set identity ---------------------------------------------------------------------


def test_same_files_give_the_same_data_set_and_other_files_another():
    first = dataset_identity(_params(*FILES))
    again = dataset_identity(_params(*FILES, "model.seed=7", "report.title=Other"))
    other = dataset_identity(_params(*OTHER_FILES))
    assert first.id.startswith("files:") and first.name is None and first.shape == "events"
    assert again == first
    assert other.id != first.id
    assert first.sources == {
        "accounts": "/data/export/accounts.csv",
        "subscriptions": "/data/export/subscriptions.csv",
        "events": "/data/export/events.csv",
    }
    assert first.label == "/data/export/{accounts.csv,subscriptions.csv,events.csv}"


def test_run_name_is_the_data_set_whatever_the_files():
    named = dataset_identity(_params(*FILES, "run.name=acme"))
    moved = dataset_identity(_params(*OTHER_FILES, "run.name=acme"))
    assert named.id == moved.id == "name:acme"
    assert named.label == "acme"
    assert dataset_identity(_params(*FILES, "run.name=globex")).id != named.id


def test_a_snapshot_is_another_data_set():
    events = dataset_identity(_params())
    telco = dataset_identity(_params(overlays=(ROOT / "params" / "telco.yaml",)))
    assert telco.shape == "snapshot" and list(telco.sources) == ["snapshot"]
    assert telco.sources["snapshot"].endswith("WA_Fn-UseC_-Telco-Customer-Churn.csv")
    assert telco.id != events.id


def test_an_old_manifest_without_dataset_gets_it_from_its_params(tmp_path):
    cfg = _params(*FILES)
    old = RunInfo(RunFolder(tmp_path / "r"), {"status": "succeeded", "params": cfg.to_dict()})
    assert old.dataset == dataset_identity(cfg)
    assert old.fingerprint == params_fingerprint(cfg)
    recorded = RunInfo(RunFolder(tmp_path / "r"), {"dataset": {"id": "name:acme", "name": "acme"}})
    assert recorded.dataset.id == "name:acme" and recorded.dataset.shape == "events"


# -- params fingerprint ------------------------------------------------------------------


def test_fingerprint_changes_with_results_not_with_wording_mail_folders_or_dates():
    base = params_fingerprint(_params(*FILES))
    assert params_fingerprint(_params(*FILES)) == base  # stable
    seed = params_fingerprint(_params(*FILES, "model.seed=7"))
    assert seed["all"] != base["all"]
    changed = [k for k in base["sections"] if base["sections"][k] != seed["sections"][k]]
    assert changed == ["model"]
    for override in (
        "report.title=Board pack",
        "report.company=Acme",
        "report.cs_cost=50000",
        "delivery.recipients=[cs@example.com]",
        "run.reports_dir=/somewhere/else",
        "data.as_of=2026-09-30",
        "observation.as_of=2026-08-31",
    ):
        assert params_fingerprint(_params(*FILES, override)) == base, override
    assert not {"delivery", "run", "sample"} & set(base["sections"])
    # the report's language and currency are the words and money the stages write
    for override in ("report.language=ja", "report.currency=EUR", "report.top_accounts=5"):
        changed_words = params_fingerprint(_params(*FILES, override))["sections"]
        assert [k for k in base["sections"] if base["sections"][k] != changed_words[k]] == [
            "report"
        ], override


def test_fingerprint_of_a_recorded_params_dict_equals_that_of_the_params():
    cfg = _params(*FILES, "model.seed=3")
    assert params_fingerprint(cfg.to_dict()) == params_fingerprint(cfg)


# -- previous run ------------------------------------------------------------------------

A, B = "files:aaaa", "files:bbbb"


def _info(name: str, as_of: str, status: str = "succeeded", dataset: str = A, started: str = ""):
    manifest = {
        "status": status,
        "as_of": as_of,
        "started_at": started or f"{as_of}T06:00:00+00:00",
        "dataset": {"id": dataset, "name": None, "shape": "events", "sources": {}},
    }
    return RunInfo(RunFolder(Path("/reports/runs") / name), manifest)


def _identity(ident: str):
    return _info("x", "2026-01-31", dataset=ident).dataset


def test_previous_run_is_the_latest_successful_earlier_run_of_the_same_data_set():
    runs = [
        _info("aug", "2026-08-31"),
        _info("sep-first", "2026-09-30", started="2026-10-01T06:00:00+00:00"),
        _info("sep-rerun", "2026-09-30", started="2026-10-05T06:00:00+00:00"),
        _info("oct-failed", "2026-10-15", status="failed"),
        _info("oct-other-data", "2026-10-20", dataset=B),
        _info("oct-same-day", "2026-10-31"),
        _info("nov", "2026-11-30"),
        _info("undated-failure", "", status="failed"),
    ]
    random.Random(0).shuffle(runs)  # the order of the list does not matter
    found = previous_run(runs, _identity(A), dt.date(2026, 10, 31))
    assert found is not None and found.name == "sep-rerun"
    assert found.as_of == dt.date(2026, 9, 30)
    assert previous_run(runs, _identity(A), dt.date(2026, 8, 31)) is None  # nothing earlier
    assert previous_run(runs, _identity(B), dt.date(2026, 10, 20)) is None  # same day only
    assert previous_run(runs, _identity(B), dt.date(2026, 12, 31)).name == "oct-other-data"
    assert previous_run(runs, _identity("name:nobody"), dt.date(2026, 12, 31)) is None
    assert previous_run([], _identity(A), dt.date(2026, 10, 31)) is None


def test_runs_of_keeps_successful_runs_of_the_data_set_in_date_order():
    runs = [
        _info("nov", "2026-11-30", started="2026-12-01T06:00:00+00:00"),
        _info("sep", "2026-09-30", started="2026-12-02T06:00:00+00:00"),  # a late backfill
        _info("failed", "2026-10-31", status="failed"),
        _info("other", "2026-10-31", dataset=B),
    ]
    assert [r.name for r in runs_of(runs, _identity(A))] == ["sep", "nov"]


# -- scanning the reports folder -------------------------------------------------------


def test_scan_runs_skips_damaged_runs_with_a_warning_and_keeps_the_others(tmp_path, caplog):
    reports = ReportsFolder(tmp_path)
    manifests = {
        "2026-09-30_b": {"status": "succeeded", "as_of": "2026-09-30", "started_at": "2026-10-01"},
        "2026-10-31_a": {"status": "failed", "as_of": "2026-10-31", "started_at": "2026-11-01"},
    }
    for name, manifest in manifests.items():
        (reports.runs / name).mkdir(parents=True)
        (reports.runs / name / "manifest.json").write_text(json.dumps(manifest))
    (reports.runs / "garbage").mkdir()
    (reports.runs / "garbage" / "manifest.json").write_text('{"status": "succ')
    (reports.runs / "a-list").mkdir()
    (reports.runs / "a-list" / "manifest.json").write_text("[1, 2]")
    (reports.runs / "no-manifest").mkdir()
    (reports.runs / "stray-file.txt").write_text("not a run")

    with caplog.at_level(logging.WARNING, logger="churnlab.run"):
        runs = scan_runs(reports)

    assert [r.name for r in runs] == ["2026-09-30_b", "2026-10-31_a"]  # by start time
    assert [r.status for r in runs] == ["succeeded", "failed"]
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    for name in ("garbage", "a-list", "no-manifest"):
        assert f"skipping run {name}" in warned
    assert "stray-file" not in warned
    assert scan_runs(ReportsFolder(tmp_path / "nothing-yet")) == []


# -- what --only may reuse ---------------------------------------------------------------


def test_only_refuses_a_run_whose_data_end_differs(tmp_path):
    """Stage 00 labels and censors churn up to data.as_of: its files depend on it."""
    first = _params(*FILES, "data.as_of=2026-10-31")
    again = _params(*FILES, "data.as_of=2026-11-20")  # the same scoring month end
    assert first.scoring_as_of() == again.scoring_as_of() == dt.date(2026, 10, 31)
    inputs = {"/data/export/events.csv": {"sha256": "1" * 64}}
    manifest = {
        "status": "succeeded",
        "as_of": "2026-10-31",
        "data_end": "2026-10-31",
        "started_at": "2026-11-01T06:00:00+00:00",
        "dataset": dataset_identity(first).to_dict(),
        "params_fingerprint": params_fingerprint(first),
        "inputs": inputs,
    }
    full = RunInfo(RunFolder(tmp_path / "runs" / "full"), manifest)
    with pytest.raises(UsageError, match=r"data ends on 2026-10-31 \(data.as_of\)"):
        reusable_run(
            [full],
            dataset_identity(again),
            again.scoring_as_of(),
            params_fingerprint(again),
            inputs,
            select(["04"]),
            data_end=again.data_end().isoformat(),
        )


@pytest.fixture
def copied(pipeline_run, tmp_path) -> RunFolder:
    """The shared full run, copied into ``tmp_path/work/reports`` (the run --only reuses)."""
    return copy_run(pipeline_run, tmp_path / "work" / "reports")


def _edit_manifest(run: RunFolder, **changes) -> None:
    manifest = run.read_manifest()
    manifest.update(changes)
    run.manifest.write_text(json.dumps(manifest), encoding="utf-8")


def _only_03(sample_dir, tmp_path, *overrides):
    cfg = sample_params(sample_dir, tmp_path / "work", *overrides)
    with pytest.raises(UsageError) as info:
        run_pipeline(cfg, only=["04"], in_process=True)
    return str(info.value)


def _run_names(tmp_path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "work" / "reports" / "runs").iterdir())


def test_only_refuses_a_run_with_other_model_params(copied, sample_dir, tmp_path, pipeline_cfg):
    message = _only_03(sample_dir, tmp_path, f"model.seed={pipeline_cfg.model.seed + 1}")
    assert f"would reuse the files of run {copied.name}" in message
    assert "its params differ in model" in message
    assert "00_data_health" in message and "02_churn_model" in message  # the stages reading it
    assert "as_of" not in message and "input files" not in message
    assert _run_names(tmp_path) == [copied.name]  # refused before a run folder was made


def test_only_refuses_a_run_of_another_as_of(copied, sample_dir, tmp_path, pipeline_run):
    as_of = pipeline_run.read_manifest()["as_of"]
    earlier = dt.date.fromisoformat(as_of).replace(day=1) - dt.timedelta(days=1)
    message = _only_03(sample_dir, tmp_path, f"observation.as_of={earlier}")
    assert f"its as_of is {as_of}, this run's is {earlier}" in message
    assert "params differ" not in message  # observation.as_of is compared on its own
    assert _run_names(tmp_path) == [copied.name]


def test_only_refuses_when_the_input_files_changed(copied, sample_dir, tmp_path):
    inputs = copied.read_manifest()["inputs"]
    first = next(iter(inputs))
    _edit_manifest(copied, inputs={**inputs, first: {**inputs[first], "sha256": "0" * 64}})
    message = _only_03(sample_dir, tmp_path)
    assert "the input files changed since" in message
    assert "as_of is" not in message and "params differ" not in message


def test_only_names_every_difference_at_once(copied, sample_dir, tmp_path, pipeline_cfg):
    inputs = {k: {**v, "sha256": "0" * 64} for k, v in copied.read_manifest()["inputs"].items()}
    _edit_manifest(copied, inputs=inputs)
    message = _only_03(
        sample_dir,
        tmp_path,
        "observation.as_of=2026-06-30",
        f"model.seed={pipeline_cfg.model.seed + 1}",
        "explain.top_k=5",  # read by 03 only, which runs: no reason to refuse
    )
    assert "its as_of is" in message and "this run's is 2026-06-30" in message
    assert "the input files changed since" in message
    assert "its params differ in model (" in message and "explain" not in message


def test_only_refuses_when_the_runs_are_of_another_data_set(copied, sample_dir, tmp_path):
    message = _only_03(sample_dir, tmp_path, "run.name=somebody-else")
    assert "needs an earlier successful run of this data set (somebody-else)" in message
    assert f"the latest successful run, {copied.name}" in message


@pytest.mark.slow
def test_only_reuses_a_run_whose_differences_change_no_result(
    copied, sample_dir, tmp_path, pipeline_run
):
    """A new report title changes no number: --only 04 takes the rest from the full run."""
    cfg = sample_params(sample_dir, tmp_path / "work", "report.title=Board pack")
    result = run_pipeline(cfg, only=["04"], in_process=True)
    assert result.succeeded, [s.get("error") for s in result.stages]
    manifest = json.loads(result.folder.manifest.read_text())
    full = pipeline_run.read_manifest()
    assert manifest["reused_from"] == {
        "run": copied.name,
        "stages": [
            "00_data_health",
            "01_cohort_comparison",
            "02_churn_model",
            "03_time_to_churn",
            "05_monitoring",
        ],
    }
    assert manifest["only"] == ["04_explanations"]
    assert [s["name"] for s in manifest["stages"]] == ["04_explanations", "report"]
    assert manifest["dataset"] == full["dataset"]
    assert manifest["params_fingerprint"] == full["params_fingerprint"]
    assert manifest["params"]["report"]["title"] == "Board pack"
    # the copied run has the same as_of: it is reused, but it is no *previous* run
    assert manifest["previous_run"] is None and manifest["previous_as_of"] is None
    assert manifest["as_of"] == full["as_of"] and manifest["data_end"] == full["data_end"]
    assert manifest["command"] is None  # not started from the command line
    assert (result.folder.path / "observations.parquet").read_bytes() == (
        pipeline_run.observations.read_bytes()
    )
    assert "Board pack" in result.folder.report.read_text(encoding="utf-8")
    latest = ReportsFolder(tmp_path / "work" / "reports").latest_run()
    assert latest is not None and latest.name == result.folder.name


def test_dated_export_files_get_a_hint_to_name_the_lineage():
    from churnlab.run.runner import _lineage_hint

    september = _info("sep", "2026-09-30", dataset=B)
    october = dataset_identity(_params(*FILES))
    hint = _lineage_hint([september], october, dt.date(2026, 10, 31))
    assert (
        hint is not None and "set run.name" in hint["text"] and "1 earlier run(s)" in hint["text"]
    )
    assert hint["key"] == "messages.lineage.other_files"  # said in the report's language
    # a named lineage, or no earlier run of another data set: nothing to suggest
    named = dataset_identity(_params(*FILES, "run.name=acme"))
    assert _lineage_hint([september], named, dt.date(2026, 10, 31)) is None
    assert _lineage_hint([], october, dt.date(2026, 10, 31)) is None


def test_a_change_of_champion_since_the_previous_run_is_said(tmp_path):
    import json

    from churnlab.run.steps.context import StageContext
    from churnlab.run.steps.monitoring import champion_change

    before, now = RunFolder(tmp_path / "before"), RunFolder(tmp_path / "now")
    for folder, champion in ((before, "logistic"), (now, "lightgbm")):
        folder.prepare()
        folder.model_metrics.write_text(json.dumps({"champion": champion}))
    ctx = StageContext(params=_params(*FILES), folder=now, as_of="2026-10-31", previous=before)
    note = champion_change(ctx)
    assert note is not None and "(logistic then, lightgbm now)" in note
    before.model_metrics.write_text(json.dumps({"champion": "lightgbm"}))
    assert champion_change(ctx) is None
    assert champion_change(StageContext(params=ctx.params, folder=now, as_of="2026-10-31")) is None
