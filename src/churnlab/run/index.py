"""The runs of a reports folder, for people: list, show, compare, prune (``churnlab runs``)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from churnlab import csvsafe
from churnlab.errors import UsageError
from churnlab.run.folder import ReportsFolder, process_alive
from churnlab.run.lineage import RunInfo, scan_runs

__all__ = ["RunRow", "diff_runs", "find_run", "list_runs", "prune_runs", "run_rows", "status"]

#: KPI columns shown per run (from ``headline.json``), by tile key.
_LISTED_KPIS = ("logo_churn_rate", "arr", "arr_at_risk")


@dataclass(frozen=True)
class RunRow:
    """One line of ``churnlab runs``."""

    run_id: str
    status: str
    as_of: str
    dataset: str
    duration_s: float | None
    kpis: dict[str, str]
    delivery: str

    def as_dict(self) -> dict[str, Any]:
        """A flat dict (the KPIs as columns)."""
        row = {k: v for k, v in vars(self).items() if k != "kpis"}
        return {**row, **self.kpis}


def list_runs(reports: ReportsFolder) -> list[RunInfo]:
    """Every readable run of ``reports``, oldest first (damaged ones skipped, logged)."""
    return scan_runs(reports)


def run_rows(runs: Sequence[RunInfo]) -> list[RunRow]:
    """The rows of ``churnlab runs`` for ``runs``."""
    return [_row(run) for run in runs]


def status(run: RunInfo) -> str:
    """The run's status for people: ``abandoned?`` for a dead run not yet marked."""
    return _status(run)


def _status(run: RunInfo) -> str:
    status = run.status
    process = run.manifest.get("process")  # none: a release that did not record it
    if status == "running" and (not process or process_alive(process) is False):
        return "abandoned?"  # the next run marks it
    return status


def _row(run: RunInfo) -> RunRow:
    kpis: dict[str, str] = {}
    headline = _read_json(run.folder.headline)
    for tile in headline.get("kpis") or []:
        if tile.get("key") in _LISTED_KPIS:
            kpis[tile["key"]] = str(tile.get("display") or "")
    return RunRow(
        run_id=run.name,
        status=_status(run),
        as_of=str(run.manifest.get("as_of") or "-"),
        dataset=run.dataset.label,
        duration_s=run.manifest.get("duration_s"),
        kpis=kpis,
        delivery=delivery_state(run.manifest),
    )


def delivery_state(manifest: dict[str, Any]) -> str:
    """``sent``, ``unknown`` (outcome not known: check the mailbox), ``-`` (never mailed)."""
    from churnlab.delivery import delivery_status

    return delivery_status(manifest) or "-"


def _read_json(path: Any) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def find_run(reports: ReportsFolder, name: str) -> RunInfo:
    """The run named ``name``: its id, ``latest``, a folder path, or a prefix such as a date.

    A prefix that several runs share (``2026-09-30``: a month with re-runs) names the
    newest successful one of them (the newest when none succeeded).

    Raises
    ------
    UsageError
        No run matches, or ``latest`` is not churnlab's link.
    """
    runs = scan_runs(reports)
    if name == "latest":
        reports.check_latest()
        target = reports.latest_run()
        if target is None:
            raise UsageError(f"{reports.latest} does not exist yet: run `churnlab run` first")
        name = target.resolve().name
    matches = [r for r in runs if r.name == name or str(r.folder.path) == name]
    matches = matches or [r for r in runs if r.name.startswith(name)]
    if not matches:
        known = ", ".join(r.name for r in runs[-5:]) or "none"
        raise UsageError(f"no run named {name!r} in {reports.runs} (the newest: {known})")
    good = [r for r in matches if r.succeeded]
    return sorted(good or matches, key=lambda r: (r.started_at, r.name))[-1]


def diff_runs(a: RunInfo, b: RunInfo) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What changed from run ``a`` to run ``b``: the KPIs, and the scores per account.

    Returns
    -------
    kpis : pandas.DataFrame
        ``kpi``, ``label``, ``kind`` (``rate``/``money``), ``a``, ``b``, ``change``
        (numbers from ``headline.json``).
    scores : pandas.DataFrame
        Accounts in either run's ``scores.csv``: ``account_id``, ``name``, ``health_a``,
        ``health_b``, ``health_change``, ``band_a``, ``band_b``, ``probability_change``;
        the largest health drops first. Accounts in one run only have blanks in the other.
    """
    tiles: dict[str, dict[str, Any]] = {}
    for side, run in (("a", a), ("b", b)):
        for tile in _read_json(run.folder.headline).get("kpis") or []:
            entry = tiles.setdefault(tile["key"], {"label": tile.get("label"), "kind": None})
            entry[side] = tile.get("value")
            entry["kind"] = tile.get("kind")
    kpis = pd.DataFrame(
        [{"kpi": key, **v} for key, v in tiles.items()],
        columns=["kpi", "label", "kind", "a", "b"],
    )
    kpis["change"] = pd.to_numeric(kpis["b"]) - pd.to_numeric(kpis["a"])
    cols = ["account_id", "name", "health_score", "health_band", "churn_probability"]
    frames = []
    for run in (a, b):
        path = run.folder.scores
        frame = (
            csvsafe.read_csv(path, dtype={"account_id": str}, usecols=lambda c: c in cols)
            if path.exists()
            else pd.DataFrame(columns=cols)
        )
        frames.append(frame.reindex(columns=cols))
    both = frames[0].merge(frames[1], on="account_id", how="outer", suffixes=("_a", "_b"))
    scores = pd.DataFrame(
        {
            "account_id": both["account_id"],
            "name": both["name_b"].fillna(both["name_a"]),
            "health_a": both["health_score_a"],
            "health_b": both["health_score_b"],
            "health_change": both["health_score_b"] - both["health_score_a"],
            "band_a": both["health_band_a"],
            "band_b": both["health_band_b"],
            "probability_change": both["churn_probability_b"] - both["churn_probability_a"],
        }
    )
    scores = scores.sort_values(
        ["health_change", "account_id"], ascending=[True, True], na_position="last"
    )
    return kpis, scores.reset_index(drop=True)


def prune_runs(
    reports: ReportsFolder, keep: int, *, dry_run: bool = False
) -> tuple[list[RunInfo], list[RunInfo]]:
    """Delete all but the ``keep`` newest successful runs of each data set.

    Kept as well: the run ``latest`` points to, a run still going, and failed, interrupted
    or abandoned runs newer than a data set's newest successful run (the evidence of a
    recent failure). Older unsuccessful runs go. Runs the index cannot read (no manifest)
    are left alone. The track record measures runs whose label window has closed, about
    four to five months back: keep at least six for it.

    Returns
    -------
    (removed, kept) : lists of RunInfo
        ``removed`` is what was (or, with ``dry_run``, would be) deleted.

    Raises
    ------
    UsageError
        ``keep`` is below 1.
    RunError
        Another run holds the lock.
    """
    if keep < 1:
        raise UsageError("--keep must be at least 1 (the latest successful run always stays)")
    with reports.holding_lock():
        runs = scan_runs(reports)
        latest = reports.latest_run()
        protected = {latest.resolve().name} if latest else set()
        by_dataset: dict[str, list[RunInfo]] = {}
        for run in runs:
            by_dataset.setdefault(run.dataset.id, []).append(run)
        removed: list[RunInfo] = []
        for group in by_dataset.values():
            group = sorted(group, key=lambda r: (r.started_at, r.name))
            good = [r for r in group if r.succeeded]
            protected.update(r.name for r in good[-keep:])
            newest_good = good[-1].started_at if good else ""
            for run in group:
                if run.name in protected or run.status == "running":
                    continue
                if not run.succeeded and run.started_at > newest_good:
                    continue  # a failure after the last success: kept for diagnosis
                removed.append(run)
        for run in removed if not dry_run else []:
            shutil.rmtree(run.folder.path)
        gone = {r.name for r in removed}
        return removed, [r for r in runs if r.name not in gone]
