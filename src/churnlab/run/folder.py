"""Every file of a run, defined once: :class:`RunFolder` and the reports folder around it.

A run keeps an immutable record in ``<reports>/runs/<as_of>_<UTC timestamp>/``. The
runner, the stage steps, the report, delivery and the notebooks reach its files through
the properties below, never by spelling a file name themselves::

    folder = RunFolder("reports/latest")
    scores = csvsafe.read_csv(folder.scores)   # the values as written (see churnlab.csvsafe)
    folder.chart("drivers")            # charts/drivers.png
    folder.notebook("02_churn_model")  # notebooks/02_churn_model.ipynb

:data:`LAYOUT_VERSION` is recorded in every manifest. Layout 1 (runs made before it was
recorded) named the account names ``accounts.parquet``; :meth:`RunFolder.layout_version`
tells which layout an existing run has.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from churnlab.atomic import write_json
from churnlab.config import DEFAULT_PARAMS_FILE
from churnlab.errors import RunError, UsageError

__all__ = [
    "CHARTS",
    "LAYOUT_VERSION",
    "MARKER",
    "ReportsFolder",
    "RunFile",
    "RunFolder",
    "process_alive",
    "process_record",
]

#: Version of the run-folder layout; recorded as ``layout_version`` in the manifest.
LAYOUT_VERSION = 2

#: The charts the stages leave in ``charts/`` (PNG, about 700 px wide), by name.
CHARTS = (
    "retention_trend",
    "mrr_bridge",
    "cohort_retention",
    "cohort_effects",
    "calibration",
    "health_by_tier",
    "retention_forecast",
    "survival_by_tier",
    "drivers",
)
_SPARKLINE_PREFIX = "spark_"
#: The file that marks a folder as churnlab's reports folder.
MARKER = ".churnlab-reports"
# names an unmarked reports folder may hold besides churnlab's own (a repo's README)
_ALLOWED_STRANGERS = ("readme", "readme.md", "readme.txt")


def process_record() -> dict[str, Any]:
    """This process: pid, host and start time (pids are reused: the start time tells apart)."""
    import platform

    import psutil

    return {
        "pid": os.getpid(),
        "host": platform.node(),
        "process_started": round(psutil.Process().create_time(), 2),
    }


def process_alive(record: dict[str, Any] | None) -> bool | None:
    """Whether the process of a :func:`process_record` still runs (None: another host)."""
    import platform

    import psutil

    if not record or record.get("host") != platform.node():
        return None
    try:
        proc = psutil.Process(int(record["pid"]))
        return abs(proc.create_time() - float(record["process_started"])) < 1.0
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


def _is_manifest(path: Path) -> bool:
    """Whether ``path`` is a churnlab manifest (a JSON object with a run status)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "status" in data and "as_of" in data


@dataclass(frozen=True)
class RunFile:
    """One file (or folder) of a run: its name and what it holds."""

    name: str
    holds: str

    def __set_name__(self, owner: type, attribute: str) -> None:
        object.__setattr__(self, "attribute", attribute)

    @overload
    def __get__(self, folder: None, owner: type) -> RunFile: ...

    @overload
    def __get__(self, folder: RunFolder, owner: type) -> Path: ...

    def __get__(self, folder: RunFolder | None, owner: type) -> RunFile | Path:
        if folder is None:
            return self  # RunFolder.scores is the declaration, folder.scores the path
        return folder.path / self.name


class RunFolder:
    """The files of one run, as paths (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The run folder (``reports/runs/<as_of>_<timestamp>`` or ``reports/latest``).
    """

    manifest = RunFile("manifest.json", "status, effective params, inputs, stages, delivery")
    params = RunFile(DEFAULT_PARAMS_FILE, "the effective params of the run")
    data_health = RunFile("data_health.json", "rows read, kept and excluded; observation counts")
    kpis = RunFile("kpis.csv", "monthly KPIs, overall and per touch tier")
    observations = RunFile("observations.parquet", "labelled training observations")
    scoring = RunFile("scoring.parquet", "the accounts to score at as_of, with features")
    account_names = RunFile("account_names.parquet", "account_id and name of every account")
    periods = RunFile("periods.parquet", "active periods (event-log data only)")
    cohort_retention = RunFile(
        "cohort_retention.csv", "logo and revenue retention by start cohort and months since start"
    )
    onboarding = RunFile(
        "onboarding.csv", "onboarding completion and median time to value by start cohort"
    )
    engagement = RunFile(
        "engagement.csv", "per account: the last CSM touch of each kind, touches in the window"
    )
    cohort_comparison = RunFile("cohort_comparison.csv", "churned vs retained, ranked")
    model = RunFile("model", "the champion model (folder)")
    model_metrics = RunFile("model_metrics.json", "backtest metrics, champion, calibration")
    scores_raw = RunFile("scores_raw.parquet", "scores before reasons are attached")
    backtest_predictions = RunFile(
        "backtest_predictions.parquet", "the champion's backtest predictions on held-out rows"
    )
    time_to_churn = RunFile(
        "time_to_churn.parquet",
        "per scored account: survival, churn before renewal, expected lifetime, biggest lever",
    )
    retention_forecast = RunFile(
        "retention_forecast.csv", "expected retained ARR per month with its interval, by tier"
    )
    survival_metrics = RunFile(
        "survival_metrics.json", "the time-to-churn models' backtest (model_metrics' survival)"
    )
    levers = RunFile("levers.csv", "one row per what-if lever: the play, accounts, ARR protected")
    scores = RunFile("scores.csv", "every active account: probability, health, reasons")
    renewal_map = RunFile(
        "renewal_map.csv", "contract renewals in the window, by expected ARR at risk"
    )
    monthly_at_risk = RunFile(
        "monthly_at_risk.csv", "the monthly book (no contract), by expected ARR at risk"
    )
    renewal_map_top = RunFile(
        "renewal_map_top.csv", "the top report.top_accounts rows of renewal_map.csv (email)"
    )
    monthly_at_risk_top = RunFile(
        "monthly_at_risk_top.csv", "the top report.top_accounts rows of monthly_at_risk.csv (email)"
    )
    early_warning = RunFile("early_warning.csv", "accounts that entered red or lost health")
    drivers = RunFile("drivers.csv", "global drivers of churn risk (mean |SHAP|)")
    headline = RunFile("headline.json", "the report's first screen as data (Headline)")
    report = RunFile("report.html", "the self-contained executive report")
    charts = RunFile("charts", "PNG charts (folder)")
    notebooks = RunFile("notebooks", "the executed notebooks and their HTML (folder)")
    log = RunFile("run.log", "the run's log: timestamped lines per stage, warnings, tracebacks")
    drift = RunFile("drift.csv", "population stability of the features and the score")
    track_record = RunFile("track_record.csv", "earlier runs' predictions against what happened")
    monitoring = RunFile("monitoring.json", "drift warning, track-record sentences, notes")
    delivery_lock = RunFile(".delivery.lock", "held while the run is being mailed")

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunFolder) and self.path == other.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def name(self) -> str:
        """The run id: the folder's name (``<as_of>_<UTC timestamp>``)."""
        return self.path.name

    def resolve(self) -> RunFolder:
        """The same run with symlinks (``latest``) resolved."""
        return RunFolder(self.path.resolve())

    def read_model_metrics(self) -> dict[str, Any]:
        """``model_metrics.json`` (stage 02) with stage 03's ``survival_metrics.json`` as ``survival``.

        Each stage writes its own file (``--only`` reruns either alone); readers get one
        dict. Empty when stage 02 wrote nothing; no ``survival`` key without stage 03's file.
        """
        metrics: dict[str, Any] = {}
        if self.model_metrics.exists():
            metrics = json.loads(self.model_metrics.read_text(encoding="utf-8"))
        if self.survival_metrics.exists():
            metrics["survival"] = json.loads(self.survival_metrics.read_text(encoding="utf-8"))
        return metrics

    @classmethod
    def files(cls) -> dict[str, RunFile]:
        """Every declared file, by attribute name (charts and notebooks are folders)."""
        return {k: v for k, v in vars(cls).items() if isinstance(v, RunFile)}

    # ----------------------------------------------------------------- charts and notebooks

    def chart(self, name: str) -> Path:
        """``charts/<name>.png`` for a chart of :data:`CHARTS`."""
        if name not in CHARTS:
            raise RunError(f"unknown chart {name!r}; the run folder declares {', '.join(CHARTS)}")
        return self.charts / f"{name}.png"

    def sparkline(self, kpi: str) -> Path:
        """``charts/spark_<kpi>.png``: the trend line of one KPI tile."""
        return self.charts / f"{_SPARKLINE_PREFIX}{kpi}.png"

    def notebook(self, stage: str) -> Path:
        """``notebooks/<stage>.ipynb``: the executed notebook of a stage."""
        return self.notebooks / notebook_file(stage)

    def notebook_html(self, stage: str) -> Path:
        """``notebooks/<stage>.html``: the executed notebook without code, for analysts."""
        return self.notebooks / f"{stage}.html"

    def relative(self, path: Path) -> str:
        """``path`` relative to the run folder, as the manifest and headline record it."""
        return path.relative_to(self.path).as_posix()

    def new_eml(self, kind: str, now: dt.datetime) -> Path:
        """A fresh ``email-<UTC stamp>.eml`` (``failure-notice-...`` for failure notices)."""
        stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        prefix = "failure-notice" if kind == "failure_notice" else "email"
        path = self.path / f"{prefix}-{stamp}.eml"
        counter = 1
        while path.exists():
            counter += 1
            path = self.path / f"{prefix}-{stamp}-{counter}.eml"
        return path

    def emls(self) -> list[Path]:
        """The ``.eml`` files dry runs wrote, oldest first."""
        return sorted(self.path.glob("*.eml"))

    # ----------------------------------------------------------------- reading

    def read_manifest(self) -> dict[str, Any]:
        """The manifest as a dict (empty when the run has none)."""
        if not self.manifest.exists():
            return {}
        return json.loads(self.manifest.read_text(encoding="utf-8"))

    def layout_version(self) -> int:
        """The layout this run was written with (1 for runs that predate the record)."""
        return int(self.read_manifest().get("layout_version", 1))

    def prepare(self) -> RunFolder:
        """Create the folder and its ``charts/`` and ``notebooks/`` subfolders."""
        self.charts.mkdir(parents=True, exist_ok=True)
        self.notebooks.mkdir(parents=True, exist_ok=True)
        return self


def notebook_file(stage: str) -> str:
    """The file name of a stage's notebook, in ``notebooks/`` of the project and of a run."""
    return f"{stage}.ipynb"


class ReportsFolder:
    """The reports folder (``run.reports_dir``): ``runs/``, ``latest`` and the run lock.

    Parameters
    ----------
    path : str or Path
        The reports folder, e.g. ``reports``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def runs(self) -> Path:
        """``runs/``: one folder per run."""
        return self.path / "runs"

    @property
    def latest(self) -> Path:
        """``latest``: a symlink to the newest successful run."""
        return self.path / "latest"

    @property
    def lock(self) -> Path:
        """``.run.lock``: held by the run in progress."""
        return self.path / ".run.lock"

    @property
    def interactive(self) -> RunFolder:
        """``interactive/``: where a notebook run by hand writes its files."""
        return RunFolder(self.path / "interactive")

    @property
    def marker(self) -> Path:
        """``.churnlab-reports``: marks the folder as churnlab's reports folder."""
        return self.path / MARKER

    def claim(self) -> None:
        """Make sure churnlab may write here: create, recognise or adopt the folder.

        A missing or empty folder (hidden files and a README aside) is created and
        marked; a marked folder is churnlab's; an unmarked one whose ``runs/*/`` hold
        churnlab manifests (an install from before the marker) is adopted and marked.

        Raises
        ------
        UsageError
            The folder holds something else: churnlab writes nothing into it.
        """
        if self.marker.exists():
            return
        self.path.mkdir(parents=True, exist_ok=True)
        foreign = [
            p.name
            for p in sorted(self.path.iterdir())
            if not p.name.startswith(".")
            and p.name.lower() not in _ALLOWED_STRANGERS
            and not (p.name in ("runs", "latest", "interactive") and self._ours(p))
        ]
        if foreign:
            raise UsageError(
                f"{self.path} is not a churnlab reports folder: it has no {MARKER} marker and "
                f"holds {', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}. "
                "churnlab writes nothing into it. How to fix: point run.reports_dir at a new "
                f"or empty folder (or, if it is churnlab's, create the file {self.marker})"
            )
        write_json(self.marker, {"churnlab": "reports folder", "layout_version": LAYOUT_VERSION})

    def _ours(self, path: Path) -> bool:
        """Whether ``runs``, ``latest`` or ``interactive`` look like churnlab's own."""
        if path.name == "latest":
            return path.is_symlink() and self._points_into_runs(path)
        if path.name == "interactive":
            return path.is_dir()
        if not path.is_dir():
            return False
        # run folders only; one without a manifest is a crash's leftover, a foreign one is not
        entries = list(path.iterdir())
        if any(not d.is_dir() for d in entries):
            return False
        manifests = [d / RunFolder.manifest.name for d in entries]
        return all(_is_manifest(m) for m in manifests if m.exists())

    def _points_into_runs(self, link: Path) -> bool:
        target = Path(os.path.normpath(link.parent / os.readlink(link)))
        return target.parent == Path(os.path.normpath(self.runs))

    def new_run(self, as_of: dt.date | None, now: dt.datetime) -> RunFolder:
        """Create and return a fresh ``runs/<as_of>_<timestamp>`` folder; never reuse one.

        ``as_of`` None (the run failed before its date was known) names it ``undated_...``.
        """
        self.runs.mkdir(parents=True, exist_ok=True)
        day = as_of.isoformat() if as_of else "undated"
        base = f"{day}_{now.strftime('%Y%m%dT%H%M%SZ')}"
        for n in range(1, 1000):
            candidate = self.runs / (base if n == 1 else f"{base}-{n}")
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            return RunFolder(candidate).prepare()
        raise RunError(f"could not create a new run folder under {self.runs}")

    def latest_run(self) -> RunFolder | None:
        """The run ``latest`` points to, if it exists and has a manifest."""
        if self.latest.is_symlink() or self.latest.exists():
            target = RunFolder(self.latest.resolve())
            if target.manifest.exists():
                return target
        return None

    def check_latest(self) -> None:
        """Refuse a ``latest`` that churnlab did not create (a file, or a link elsewhere).

        Raises
        ------
        UsageError
            ``latest`` is not a symlink into ``runs/``: churnlab never replaces it.
        """
        link = self.latest
        if not (link.exists() or link.is_symlink()):
            return
        if link.is_symlink() and self._points_into_runs(link):
            return
        what = f"a link to {os.readlink(link)}" if link.is_symlink() else "not a symlink"
        raise UsageError(
            f"{link} is {what}: churnlab did not create it and will not replace it. How to "
            f"fix: move it away (churnlab keeps {link.name} as a symlink to the newest "
            "successful run under runs/)"
        )

    def point_latest(self, run: RunFolder) -> None:
        """Atomically move the ``latest`` symlink to ``run`` (see :meth:`check_latest`)."""
        self.check_latest()
        tmp = self.path / f".latest-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(run.path.relative_to(self.path))
        os.replace(tmp, self.latest)

    @contextlib.contextmanager
    def holding_lock(self) -> Iterator[Path]:
        """Hold the run lock for the duration of a run (released even on a crash).

        The lock file records the holder (:func:`process_record`); the operating system
        releases the lock when the holder dies, however it dies.
        """
        import fcntl

        self.claim()
        handle = self.lock.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunError(
                f"another churnlab run holds the lock {self.lock} ({holder}); wait for it to "
                "finish. The lock is released automatically when that process ends."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(process_record()))
        handle.flush()
        try:
            yield self.lock
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
