"""The pipeline's stages, in order: what each runs, reads and writes (declared once).

``churnlab run --only`` takes its lists from here: the files written by the stages that
do not run are taken from the latest successful run. Reads and writes name
:class:`~churnlab.run.folder.RunFolder` attributes. Every stage after 00 reads
``data_health.json``: the label window and folds stage 00 fitted to the data
(:attr:`~churnlab.run.steps.StageContext.cfg`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from churnlab.errors import RunError
from churnlab.run import steps
from churnlab.run.steps.context import StageContext

__all__ = ["NOTEBOOK_STAGES", "REPORT", "STAGES", "Stage", "select"]


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
    """

    name: str
    step: Callable[[StageContext], None]
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    charts: tuple[str, ...] = ()
    notebook: bool = True
    params: tuple[str, ...] = ()
    looks_back: bool = False

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
        writes=("data_health", "kpis", "observations", "scoring", "account_names", "periods"),
        charts=("retention_trend",),
        params=("data", "observation", "features", "tiers", "kpis", "model", "health"),
    ),
    Stage(
        "01_cohort_comparison",
        steps.cohorts.run,
        reads=("data_health", "observations", "scoring", "periods"),
        writes=("cohort_comparison",),
        charts=("cohort_effects",),
        params=("data", "observation", "features", "tiers", "model", "cohorts"),
    ),
    Stage(
        "02_churn_model",
        steps.model.run,
        reads=("data_health", "observations", "scoring", "account_names"),
        writes=("model", "model_metrics", "scores_raw"),
        charts=("calibration", "health_by_tier"),
        params=("data", "observation", "features", "tiers", "model", "health"),
    ),
    Stage(
        "03_explanations",
        steps.explanations.run,
        reads=("data_health", "model", "model_metrics", "scoring", "scores_raw", "observations"),
        writes=("scores", "renewal_map", "early_warning", "drivers"),
        charts=("drivers",),
        params=("data", "observation", "features", "tiers", "model", "health", "explain"),
    ),
    Stage(
        "04_monitoring",
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
        "model_metrics",
        "scores",
        "renewal_map",
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
    RunError
        When an item names no stage.
    """
    if not only:
        return list(NOTEBOOK_STAGES)
    chosen: set[str] = set()
    for item in only:
        matches = [s for s in NOTEBOOK_STAGES if s.matches(item)]
        if not matches:
            names = ", ".join(s.name for s in NOTEBOOK_STAGES)
            raise RunError(f"--only {item!r}: no such stage; choose from {names}")
        chosen.update(s.name for s in matches)
    return [s for s in NOTEBOOK_STAGES if s.name in chosen]
