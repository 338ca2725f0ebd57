"""A year of monthly operation: the export grows, each run advances, compares and looks back.

The generated sample is cut at 12 successive month ends as a real export would be on that
day: the subscriptions that had started by then (with their contractual end dates, also
when these lie in the future), the events up to that day, the accounts that had signed
up. The same files are overwritten each month, as a scheduled export does, and the
pipeline runs on them with the same params and ``data.as_of: auto``. A Telco run in the
same reports folder, in the middle of the year, must change nothing in the sample's runs.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from churnlab.config import load_params
from churnlab.run.runner import run_pipeline
from tests.helpers import ROOT

#: A small sample: 24 months to 2026-10-31; the runs score its last 12 month ends.
YEAR = {"n_accounts": 300, "months": 24, "seed": 11, "end_date": "2026-10-31"}
MONTHS = pd.date_range("2025-11-30", "2026-10-31", freq="ME")


def export(data, day: pd.Timestamp, folder: Path) -> None:
    """Write the export as it would have looked at the end of ``day``."""
    started = data.subscriptions[data.subscriptions["start_date"] <= day]
    accounts = data.accounts[data.accounts["account_id"].isin(started["account_id"])]
    events = data.events[data.events["timestamp"] < day + pd.Timedelta(days=1)]
    folder.mkdir(parents=True, exist_ok=True)
    accounts.to_parquet(folder / "accounts.parquet", index=False)
    started.to_parquet(folder / "subscriptions.parquet", index=False)
    events.to_parquet(folder / "events.parquet", index=False)


def telco_run(work: Path) -> str:
    """A run of the Telco snapshot (a slice of it) into the same reports folder."""
    cfg = load_params(
        ROOT / "params.yaml",
        [ROOT / "params" / "telco.yaml"],
        [f"run.reports_dir={work / 'reports'}", f"run.cache_dir={work / 'cache'}"],
    )
    full = pd.read_csv(cfg.path(cfg.data.snapshot.path or ""), dtype=str)
    part = work / "telco.csv"
    full.head(1500).to_csv(part, index=False)
    cfg = load_params(
        ROOT / "params.yaml",
        [ROOT / "params" / "telco.yaml"],
        [
            f"data.snapshot.path={part}",
            f"run.reports_dir={work / 'reports'}",
            f"run.cache_dir={work / 'cache'}",
        ],
    )
    result = run_pipeline(cfg, in_process=True)
    assert result.succeeded, [s.get("error") for s in result.stages]
    return result.folder.name


@pytest.mark.slow
def test_a_year_of_monthly_runs_advances_compares_and_keeps_a_track_record(tmp_path):
    from churnlab.sample import generate_sample

    data = generate_sample(**YEAR)
    export_dir = tmp_path / "export"
    overrides = [
        f"data.accounts={export_dir / 'accounts.parquet'}",
        f"data.subscriptions={export_dir / 'subscriptions.parquet'}",
        f"data.events={export_dir / 'events.parquet'}",
        f"run.reports_dir={tmp_path / 'reports'}",
        f"run.cache_dir={tmp_path / 'cache'}",
    ]
    cfg = load_params(ROOT / "params.yaml", overrides=overrides)
    assert cfg.data.as_of == "auto"  # the same params every month
    runs: list[dict] = []
    telco = None
    for number, day in enumerate(MONTHS):
        if number == 6:
            telco = telco_run(tmp_path)
        export(data, day, export_dir)
        result = run_pipeline(cfg, in_process=True)
        assert result.succeeded, [s.get("error") for s in result.stages]
        manifest = result.manifest
        runs.append(manifest)
        # the run scores the month the export has reached, later than the one before
        assert manifest["as_of"] == manifest["data_end"] == day.date().isoformat()
        assert dt.date.fromisoformat(manifest["as_of"]) > (
            dt.date.fromisoformat(runs[-2]["as_of"]) if number else dt.date.min
        )
        # ... compares with exactly the run before (never with the Telco run)
        assert manifest["previous_run"] == (runs[-2]["run_id"] if number else None)
        assert manifest["dataset"]["id"] == runs[0]["dataset"]["id"]
        # ... and measures every earlier run whose label window has closed
        monitoring = json.loads(result.folder.monitoring.read_text())
        assert monitoring["measured_runs"] == closed_runs(runs[:-1], day, tmp_path)
        table = pd.read_csv(result.folder.track_record, dtype={"run_id": str})
        assert list(dict.fromkeys(table["run_id"])) == monitoring["measured_runs"]
        assert len(monitoring["track_record"]) == len(monitoring["measured_runs"])
    assert telco is not None
    telco_manifest = json.loads(
        (tmp_path / "reports" / "runs" / telco / "manifest.json").read_text()
    )
    assert telco_manifest["previous_run"] is None  # nothing of the sample's lineage
    assert telco_manifest["dataset"]["id"] != runs[0]["dataset"]["id"]
    measured = [
        json.loads((tmp_path / "reports" / "runs" / r["run_id"] / "monitoring.json").read_text())
        for r in runs
    ]
    assert all(telco not in m["measured_runs"] for m in measured)
    # by the end of the year, the runs of the first months have been measured
    assert len(measured[-1]["measured_runs"]) >= 6


def closed_runs(earlier: list[dict], data_end: pd.Timestamp, work: Path) -> list[str]:
    """The earlier runs whose label window closed by ``data_end`` (their own horizon)."""
    closed = []
    for manifest in earlier:
        folder = work / "reports" / "runs" / manifest["run_id"]
        horizon = json.loads((folder / "model_metrics.json").read_text()).get("horizon_days")
        obs = manifest["params"]["observation"]
        end = pd.Timestamp(manifest["as_of"]) + pd.Timedelta(
            days=obs["lead_days"] + (horizon or 0) + obs["grace_days"]
        )
        if horizon and end <= data_end:
            closed.append(manifest["run_id"])
    return closed
