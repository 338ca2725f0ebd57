"""The pipeline's stages, in order: what each runs, reads and writes (declared once).

``churnlab run --only`` takes its lists from here: the files written by the stages that
do not run are taken from the latest successful run. Reads and writes name
:class:`~churnlab.run.folder.RunFolder` attributes. Every stage after 00 reads
``data_health.json``: the label window and folds stage 00 fitted to the data
(:attr:`~churnlab.run.steps.StageContext.cfg`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from churnlab.errors import UsageError
from churnlab.run import steps
from churnlab.run.lineage import DatasetIdentity, RunInfo, runs_of
from churnlab.run.steps.context import StageContext

__all__ = ["NOTEBOOK_STAGES", "REPORT", "STAGES", "Stage", "reusable_run", "select"]


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline.

    Attributes
    ----------
    name : str
        ``NN_name`` for a notebook stage (the notebook's file stem), ``report`` for the last.
    step : callable
        ``step(ctx)`` runs the whole stage in-process (the notebook runs the same calls).
    reads, writes : tuple of str
        :class:`~churnlab.run.folder.RunFolder` attributes the stage reads and writes.
    charts : tuple of str
        The charts it saves (names of :data:`~churnlab.run.folder.CHARTS`).
    notebook : bool
        Whether papermill runs the stage as a notebook (else always in-process).
    params : tuple of str
        The params sections its results depend on (``--only`` reuses a stage's files
        only from a run with the same values in them; a test checks the list).
    looks_back : bool
        Whether it reads the earlier runs of the data set (``StageContext.earlier``; the
        notebook gets them as the ``earlier_run_dirs`` parameter).
    parallel_fits : bool
        Whether it fits models on ``model.fold_workers`` threads: the runner then starts no
        other stage beside it while those threads fill the CPUs (``run.parallel_stages``).
    """

    name: str
    step: Callable[[StageContext], None]
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    charts: tuple[str, ...] = ()
    notebook: bool = True
    params: tuple[str, ...] = ()
    looks_back: bool = False
    parallel_fits: bool = False

    @property
    def number(self) -> str:
        """The ``NN`` prefix of a notebook stage (the name itself for ``report``)."""
        return self.name.split("_", 1)[0]

    def matches(self, text: str) -> bool:
        """True when ``text`` names this stage: ``02``, ``02_churn_model`` or ``churn_model``."""
        return text in (self.name, self.number, self.name.split("_", 1)[-1])


NOTEBOOK_STAGES: tuple[Stage, ...] = (
    Stage(
        "00_data_health",
        steps.data_health.run,
        writes=(
            "data_health",
            "kpis",
            "observations",
            "scoring",
            "account_names",
            "periods",
            "cohort_retention",
            "onboarding",
            "engagement",
        ),
        charts=("retention_trend", "mrr_bridge", "cohort_retention"),
        params=(
            "data",
            "observation",
            "features",
            "tiers",
            "kpis",
            "model",
            "health",
            "engagement",
            "report",
        ),
    ),
    Stage(
        "01_cohort_comparison",
        steps.cohorts.run,
        reads=("data_health", "observations", "scoring", "periods"),
        writes=("cohort_comparison",),
        charts=("cohort_effects",),
        params=("data", "observation", "features", "tiers", "model", "cohorts", "report"),
    ),
    Stage(
        "02_churn_model",
        steps.model.run,
        reads=("data_health", "observations", "scoring", "account_names"),
        writes=("model", "model_metrics", "scores_raw", "backtest_predictions"),
        charts=("calibration", "health_by_tier"),
        params=("data", "observation", "features", "tiers", "model", "health", "report"),
        parallel_fits=True,
    ),
    Stage(
        "03_time_to_churn",
        steps.time_to_churn.run,
        reads=(
            "data_health",
            "model",
            "model_metrics",
            "observations",
            "scoring",
            "periods",
            "scores_raw",
        ),
        writes=("time_to_churn", "retention_forecast", "levers", "survival_metrics"),
        charts=("retention_forecast", "survival_by_tier"),
        params=(
            "data",
            "observation",
            "features",
            "tiers",
            "model",
            "survival",
            "levers",
            "playbook",
            "report",
        ),
    ),
    Stage(
        "04_explanations",
        steps.explanations.run,
        reads=(
            "data_health",
            "model",
            "model_metrics",
            "scoring",
            "scores_raw",
            "observations",
            "time_to_churn",
        ),
        writes=(
            "scores",
            "renewal_map",
            "monthly_at_risk",
            "renewal_map_top",
            "monthly_at_risk_top",
            "early_warning",
            "drivers",
        ),
        charts=("drivers",),
        params=(
            "data",
            "observation",
            "features",
            "tiers",
            "model",
            "health",
            "explain",
            "playbook",
            "report",
            "cohorts",
        ),
    ),
    Stage(
        "05_monitoring",
        steps.monitoring.run,
        reads=(
            "data_health",
            "observations",
            "scoring",
            "scores_raw",
            "model",
            "periods",
        ),
        writes=("drift", "track_record", "monitoring"),
        params=("data", "observation", "features", "tiers", "model", "health", "monitoring"),
        looks_back=True,
    ),
)
REPORT = Stage(
    "report",
    steps.report.run,
    reads=(
        "manifest",
        "data_health",
        "kpis",
        "cohort_comparison",
        "cohort_retention",
        "onboarding",
        "engagement",
        "model_metrics",
        "survival_metrics",
        "levers",
        "scores",
        "renewal_map",
        "monthly_at_risk",
        "early_warning",
        "drivers",
        "track_record",
        "monitoring",
    ),
    writes=("headline", "report"),
    notebook=False,
)
#: Every stage in order; the report always runs last.
STAGES: tuple[Stage, ...] = (*NOTEBOOK_STAGES, REPORT)


def select(only: Sequence[str]) -> list[Stage]:
    """The notebook stages ``only`` names (all when empty), in pipeline order.

    Raises
    ------
    UsageError
        When an item names no stage (exit code 2).
    """
    if not only:
        return list(NOTEBOOK_STAGES)
    chosen: set[str] = set()
    for item in only:
        matches = [s for s in NOTEBOOK_STAGES if s.matches(item)]
        if not matches:
            names = ", ".join(s.name for s in NOTEBOOK_STAGES)
            raise UsageError(f"--only {item!r}: no such stage; choose from {names}")
        chosen.update(s.name for s in matches)
    return [s for s in NOTEBOOK_STAGES if s.name in chosen]


def reusable_run(
    runs: Sequence[RunInfo],
    dataset: DatasetIdentity,
    as_of: dt.date | None,
    fingerprint: Mapping[str, Any],
    inputs: Mapping[str, Any],
    selected: Sequence[Stage],
    data_end: str | None = None,
) -> RunInfo:
    """The run whose files ``--only`` may take for the stages that do not run.

    The latest successful run of the same data set (of the same ``as_of`` when there is
    one); it must match this run's ``as_of``, data end (``data.as_of``), input files, and
    params in every section the reused stages depend on (``Stage.params``).

    Raises
    ------
    UsageError
        No such run, or it differs (the message names every difference).
    """
    names = ", ".join(s.name for s in selected)
    mine = runs_of(runs, dataset)
    if not mine:
        others = [r for r in runs if r.succeeded]
        other = (
            f"; the latest successful run, {others[-1].name}, is of {others[-1].dataset.label}"
            if others
            else ""
        )
        raise UsageError(
            f"--only {names} needs an earlier successful run of this data set ({dataset.label}) "
            f"to take the other stages' files from{other}. How to fix: run the whole pipeline "
            "once first (without --only)"
        )
    same_day = [r for r in mine if r.as_of == as_of]
    source = (same_day or mine)[-1]
    problems = []
    if source.as_of != as_of:
        problems.append(f"its as_of is {source.as_of}, this run's is {as_of}")
    theirs_end = source.manifest.get("data_end")
    if data_end and theirs_end and theirs_end != data_end:
        problems.append(f"its data ends on {theirs_end} (data.as_of), this run's on {data_end}")
    if _digests(source.manifest.get("inputs")) != _digests(inputs):
        problems.append("the input files changed since")
    reused = [s for s in NOTEBOOK_STAGES if s not in selected]
    sections = sorted({p for s in reused for p in s.params})
    theirs = source.fingerprint.get("sections", {})
    ours = fingerprint.get("sections", {})
    changed = [p for p in sections if theirs.get(p) != ours.get(p)]
    if changed:
        problems.append(
            "its params differ in "
            + ", ".join(changed)
            + " (read by "
            + ", ".join(s.name for s in reused if set(s.params) & set(changed))
            + ")"
        )
    if problems:
        raise UsageError(
            f"--only {names} would reuse the files of run {source.name}, but "
            + "; ".join(problems)
            + ". How to fix: run the whole pipeline (without --only), or use that run's "
            f"params ({source.folder.params}) and data"
        )
    return source


def _digests(inputs: Any) -> list[str | None]:
    """The input files' sha256 digests, in a stable order (paths may be spelled apart)."""
    if not isinstance(inputs, Mapping):
        return []
    return sorted(str((v or {}).get("sha256")) for v in inputs.values())
