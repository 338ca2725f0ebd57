"""The memory guard: estimate what a run needs before the features stage, stop when it won't fit.

A run that needs more memory than the machine has is killed by the operating system
part-way, with no word on why. Before stage 00 starts, :func:`estimate_memory` counts the
rows cheaply (Parquet metadata; a line count for CSV) and estimates the run's peak
resident memory from them; :func:`check_memory` compares it with ``run.memory_budget``
and raises :class:`~churnlab.errors.ParamsError` naming the estimate, the budget and the
params that shrink the run. The estimate is recorded in the manifest (``memory``).

The model (calibrated on ``churnlab run`` peaks measured by ``benchmarks/bench_pipeline.py``,
see ``benchmarks/README.md``)::

    peak = BASE + EVENT_BYTES x events + CELL_BYTES x observation rows x feature columns

with observation rows = accounts x ``observation.history_months`` (one per month end, plus
renewal checkpoints: :data:`CHECKPOINT_SHARE`) and feature columns from the windows and the
event types. It errs on the high side: the accounts file counts every account ever seen,
not only those active at each month end. Measured against it (November 2026, the built-in
sample, ``churnlab run``): 3,000 accounts / 2.7M events estimated 1.39 GB, measured
1.39 GB (the process tree of a notebook run); 30,000 / 27.0M estimated 6.4 GB, measured
6.3 GB (``--in-process``); 100,000 / 88.8M estimated 19.3 GB, measured 15.3 GB.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from churnlab.config import Params
from churnlab.errors import ParamsError

#: Fixed cost of a run: the runner and a kernel with its imports (pandas, LightGBM...).
BASE = 2**30
#: Bytes of peak memory per input event in stage 00 (DuckDB checking the log and building
#: the features), up to DuckDB's memory limit (``features.duckdb.memory_limit``).
EVENT_BYTES = 100
#: Bytes of stage 00's peak per observation-table cell (the fetched table and its copy).
CELL_BYTES = 8
#: Extra observation rows from the renewal checkpoints, as a share of the month-end rows.
CHECKPOINT_SHARE = 0.1
#: Feature columns that do not depend on the event types (plan, MRR, tenure, ratios...).
FIXED_FEATURES = 30
#: Event types assumed when params do not list them (reading them would cost a pass).
ASSUMED_EVENT_TYPES = 16
#: Share of the machine's memory ``run.memory_budget: auto`` allows.
AUTO_SHARE = 0.8

_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class MemoryEstimate:
    """What the run is estimated to need, from what, and what it may use.

    Attributes
    ----------
    events, accounts : int
        Rows of the event log and of the accounts (snapshot data: the snapshot's rows).
    observation_rows, feature_columns : int
        The estimated observation table.
    estimate_bytes : int
        Estimated peak resident memory of the run, one stage and one fit at a time: the
        larger of ``stage00_bytes`` (loading and the features) and ``later_bytes`` (the
        model stage).
    budget_bytes : int or None
        What the run may use (None: ``run.memory_budget: off``).
    budget_source : str
        ``auto`` (a share of the machine's memory) or the size given in params.
    """

    events: int
    accounts: int
    observation_rows: int
    feature_columns: int
    estimate_bytes: int
    budget_bytes: int | None
    budget_source: str
    stage00_bytes: int = 0
    later_bytes: int = 0

    @property
    def estimate_gb(self) -> float:
        """The estimate in GB (2**30 bytes)."""
        return self.estimate_bytes / 2**30

    @property
    def fits(self) -> bool:
        """True when there is no budget or the estimate is within it."""
        return self.budget_bytes is None or self.estimate_bytes <= self.budget_bytes

    def to_dict(self) -> dict[str, Any]:
        """The manifest's ``memory`` record (sizes also in GB, rounded)."""
        out = asdict(self)
        out["estimate_gb"] = round(self.estimate_bytes / 2**30, 2)
        out["budget_gb"] = (
            None if self.budget_bytes is None else round(self.budget_bytes / 2**30, 2)
        )
        out["fits"] = self.fits
        return out


def parse_size(text: str) -> int:
    """Bytes of a size such as ``8GB``, ``512 MB``, ``1.5G`` or ``16GiB`` (powers of 1024).

    Raises
    ------
    ParamsError
        When ``text`` is not a size.
    """
    found = _SIZE.match(text)
    if not found:
        raise ParamsError(
            f"run.memory_budget: {text!r} is not a size; write auto, off, or a size such as "
            "8GB or 512MB"
        )
    return int(float(found.group(1)) * _UNITS[found.group(2).lower()])


def machine_memory() -> int:
    """Bytes of memory this process may use: physical RAM, or a lower container limit."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return total


def budget(setting: str) -> tuple[int | None, str]:
    """``(bytes, source)`` of ``run.memory_budget`` (``auto``, ``off`` or a size)."""
    value = setting.strip().lower()
    if value == "off":
        return None, "off"
    if value == "auto":
        return int(AUTO_SHARE * machine_memory()), "auto"
    return parse_size(setting), setting.strip()


def count_rows(path: Path) -> int:
    """Rows of a Parquet file or folder of Parquet files (metadata only), or lines of a text file.

    A missing file counts 0 rows: reading the data says what is wrong with it.
    """
    import pyarrow.parquet as pq

    if path.is_dir():
        return sum(count_rows(p) for p in sorted(path.rglob("*.parquet")))
    if not path.is_file():
        return 0
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            return int(pq.read_metadata(path).num_rows)
        except (OSError, ValueError):  # not Parquet after all: loading the data says so
            return 0
    lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0)  # the header


def estimate_memory(cfg: Params) -> MemoryEstimate:
    """Estimate the run's peak memory from the row counts (see the module docstring)."""
    data = cfg.data
    if data.shape == "snapshot":
        snapshot = data.snapshot.path
        events, accounts = 0, count_rows(cfg.path(snapshot)) if snapshot else 0
        rows = accounts
    else:
        events = count_rows(cfg.path(data.events)) if data.events else 0
        accounts = count_rows(cfg.path(data.accounts)) if data.accounts else 0
        months = cfg.observation.history_months
        rows = math.ceil(accounts * months * (1 + CHECKPOINT_SHARE))
    types = len(cfg.features.event_types or []) or (ASSUMED_EVENT_TYPES if events else 0)
    columns = FIXED_FEATURES + types * (len(cfg.features.windows) + 1)
    engine = min(EVENT_BYTES * events, duckdb_limit(cfg))
    stage00 = BASE + engine + CELL_BYTES * rows * columns
    later = BASE + STAGE_CELL_BYTES * rows * columns
    allowed, source = budget(cfg.run.memory_budget)
    return MemoryEstimate(
        events,
        accounts,
        rows,
        columns,
        int(max(stage00, later)),
        allowed,
        source,
        stage00_bytes=int(stage00),
        later_bytes=int(later),
    )


def duckdb_limit(cfg: Params) -> int:
    """Bytes DuckDB may use in stage 00 (``features.duckdb.memory_limit`` or its default)."""
    from churnlab.observations._engine.backend import default_duckdb_settings

    duck = cfg.features.duckdb
    return parse_size(default_duckdb_settings(duck.threads, duck.memory_limit)["memory_limit"])


#: Memory of one more kernel with its imports (the spare kernel warmed during stage 00).
KERNEL_BYTES = 700 * 2**20
#: Peak bytes per observation-table cell of a stage after 00 fitting one model at a time
#: (the model stage: the table, a fold's copy, the model's feature frame and LightGBM's
#: datasets).
STAGE_CELL_BYTES = 39
#: What a second fit at once adds per cell (``model.fold_workers``).
FIT_CELL_BYTES = 12
#: Peak bytes per cell of a stage run beside the model stage (the cohorts, the monitoring).
SIDE_CELL_BYTES = 12
#: How far the optional speed-ups (a spare kernel, two stages or two fits at once) may
#: raise the run's peak over what it needs without them: 20 %, at least this much.
SLACK_SHARE = 0.2
SLACK_BYTES = 3 * 2**29


@dataclass(frozen=True)
class RunPlan:
    """What a run does at once (``run.parallel_stages``, ``model.fold_workers``) and why.

    Attributes
    ----------
    stages_at_once : int
        Notebook stages that may run at the same time (1 or 2).
    spare_kernel : bool
        Whether a second kernel imports the later stages' modules while stage 00 runs.
    fold_workers : int
        Backtest fits at once in the model stage.
    why : str
        The reasons, in words (for the manifest and the log).
    """

    stages_at_once: int
    spare_kernel: bool
    fold_workers: int
    why: str

    def to_dict(self) -> dict[str, Any]:
        """The manifest's ``parallel`` record."""
        return asdict(self)


def plan_run(cfg: Params, found: MemoryEstimate | None = None) -> RunPlan:
    """Decide the run's concurrency from the CPU count and the memory estimate.

    ``auto`` (``run.parallel_stages``, ``model.fold_workers``) turns each speed-up on when
    the machine has 2 CPUs or more and the run's estimated peak with it stays within
    ``run.memory_budget`` and within 20 % (at least 1.5 GB) of the peak the run needs
    anyway (:func:`estimate_memory`): concurrency may make a run faster, never much
    larger. Decided from the machine and the data, never from the machine's momentary
    load; ``on``/``off`` and a number force the choice.
    """
    found = found or estimate_memory(cfg)
    cells = found.observation_rows * found.feature_columns
    cpus = os.cpu_count() or 1
    need = found.estimate_bytes
    allowed = max(int(need * (1 + SLACK_SHARE)), need + SLACK_BYTES)
    if found.budget_bytes is not None:
        allowed = min(allowed, found.budget_bytes)
    said = [
        f"{cpus} CPU(s); estimated peak {_gb(need)} one at a time, {_gb(allowed)} allowed "
        "with the speed-ups"
    ]

    def affordable(peak: int) -> bool:
        return cpus >= 2 and peak <= allowed

    # the spare kernel lives through stage 00 beside the stage's own peak
    spare = affordable(found.stage00_bytes + KERNEL_BYTES)
    setting = cfg.model.fold_workers
    if setting != "auto":
        fits = int(setting)
        said.append(f"model.fold_workers: {fits}")
    else:
        fits = 2 if affordable(found.later_bytes + FIT_CELL_BYTES * cells) else 1
    later = found.later_bytes + (fits - 1) * FIT_CELL_BYTES * cells
    setting = cfg.run.parallel_stages
    if setting != "auto":
        stages = 2 if setting == "on" else 1
        said.append(f"run.parallel_stages: {setting}")
    else:
        # beside the model stage: the cohorts or the monitoring, on their own kernel
        stages = 2 if affordable(later + KERNEL_BYTES + SIDE_CELL_BYTES * cells) else 1
    return RunPlan(stages, spare or stages > 1, fits, "; ".join(said))


def fold_workers(cfg: Params) -> int:
    """Backtest fits at once in the model stage (``model.fold_workers``; see :func:`plan_run`)."""
    return plan_run(cfg).fold_workers


def _gb(n: int) -> str:
    """A size as people read it: GB from 1 GB up, MB below (``1MB`` is not "0.0 GB")."""
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:,.0f} MB"


def memory_error(cfg: Params, found: MemoryEstimate) -> ParamsError:
    """The error for an estimate over budget: both sizes, and the params that shrink the run."""
    allowed = found.budget_bytes or 0
    source = (
        f"{AUTO_SHARE:.0%} of this machine's {_gb(machine_memory())}"
        if found.budget_source == "auto"
        else found.budget_source
    )
    return ParamsError(
        f"this run needs about {_gb(found.estimate_bytes)} of memory, more than the budget of "
        f"{_gb(allowed)} (run.memory_budget: {source}); estimated from "
        f"{found.events:,} events, {found.accounts:,} accounts and an observation table of "
        f"{found.observation_rows:,} rows x {found.feature_columns} feature columns. "
        "How to fix: shorten the history (observation.history_months, now "
        f"{cfg.observation.history_months}), use fewer feature windows (features.windows, now "
        f"{list(cfg.features.windows)}) or event types (features.event_types), run on a "
        "sample of the accounts, or, on a machine with more memory, raise "
        "run.memory_budget (off turns the check off)"
    )


def check_memory(cfg: Params) -> MemoryEstimate:
    """The estimate, when it fits ``run.memory_budget``.

    Raises
    ------
    ParamsError
        When the estimate exceeds the budget (see :func:`memory_error`).
    """
    found = estimate_memory(cfg)
    if not found.fits:
        raise memory_error(cfg, found)
    return found
