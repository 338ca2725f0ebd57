"""Executing the notebook pipeline with papermill: run directories, manifest, lock, ``latest``.

Every run writes ``reports/runs/<as_of>_<UTC timestamp>/`` and never touches an earlier
run. ``reports/latest`` moves (atomically) only to a run that succeeded. A failing
notebook keeps its executed copy with the error, and the manifest names the notebook
and the cell.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from churnlab.config import Params
from churnlab.errors import RunError

#: The pipeline, in order: (notebook stem, files it hands to the notebooks after it).
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "00_data_health",
        ("data_health.json", "kpis.csv", "observations.parquet", "scoring.parquet"),
    ),
    ("01_cohort_comparison", ("cohort_comparison.csv",)),
    ("02_churn_model", ("model_metrics.json", "model", "scores_raw.parquet")),
    ("03_explanations", ("scores.csv", "renewal_map.csv", "early_warning.csv", "drivers.csv")),
)
STAGE_NAMES = tuple(name for name, _ in STAGES)

PACKAGES = (
    "churnlab",
    "pandas",
    "numpy",
    "scikit-learn",
    "lightgbm",
    "shap",
    "duckdb",
    "ibis-framework",
    "papermill",
    "lifelines",
    "scipy",
    "matplotlib",
    "jinja2",
)

ProgressCallback = Callable[[str, dict[str, Any]], None]


@dataclass
class RunResult:
    """What a run produced: its directory, status and manifest."""

    run_dir: Path
    status: str
    manifest: dict[str, Any]
    failed_notebook: str | None = None
    report: Path | None = None
    notebooks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """True when every notebook ran and the report was written."""
        return self.status == "succeeded"


# --------------------------------------------------------------------------- helpers


def utc_now() -> dt.datetime:
    """Current UTC time (second precision)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def new_run_dir(reports_dir: Path, as_of: dt.date, now: dt.datetime) -> Path:
    """Create and return a fresh ``runs/<as_of>_<timestamp>`` folder; never reuse one."""
    runs = reports_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    base = f"{as_of.isoformat()}_{now.strftime('%Y%m%dT%H%M%SZ')}"
    for n in range(1, 1000):
        candidate = runs / (base if n == 1 else f"{base}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RunError(f"could not create a new run folder under {runs}")


@contextlib.contextmanager
def run_lock(reports_dir: Path) -> Iterator[Path]:
    """Hold ``reports/.run.lock`` for the duration of a run (released even on a crash)."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / ".run.lock"
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise RunError(
            f"another churnlab run holds the lock {path} ({holder}); wait for it to finish. "
            "The lock is released automatically when that process ends."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} since {utc_now().isoformat()}")
    handle.flush()
    try:
        yield path
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def previous_successful_run(reports_dir: Path) -> Path | None:
    """The run ``reports/latest`` points to, if any."""
    latest = reports_dir / "latest"
    if latest.is_symlink() or latest.exists():
        target = latest.resolve()
        if (target / "manifest.json").exists():
            return target
    return None


def point_latest(reports_dir: Path, run_dir: Path) -> None:
    """Atomically move the ``reports/latest`` symlink to ``run_dir``."""
    latest = reports_dir / "latest"
    tmp = reports_dir / f".latest-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run_dir.relative_to(reports_dir))
    os.replace(tmp, latest)


def write_json(path: Path, payload: Any) -> None:
    """Write JSON atomically (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str, sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of the packages a run's numbers depend on."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(root: Path) -> str | None:
    """The project's git commit (with ``-dirty`` when the tree has changes), or None."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return sha + ("-dirty" if dirty else "")


def input_files(cfg: Params) -> list[Path]:
    """The input data files named by the params."""
    if cfg.data.shape == "snapshot":
        return [cfg.path(cfg.data.snapshot.path or "")]
    return [cfg.path(p) for p in (cfg.data.accounts, cfg.data.subscriptions, cfg.data.events) if p]


def input_fingerprints(cfg: Params) -> dict[str, dict[str, Any]]:
    """sha256 and size of every input file (missing files are reported, not hidden)."""
    out: dict[str, dict[str, Any]] = {}
    for path in input_files(cfg):
        if path.exists():
            out[str(path)] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        else:
            out[str(path)] = {"sha256": None, "missing": True}
    return out


# --------------------------------------------------------------------------- execution


def _execute_notebook(
    source: Path,
    target: Path,
    parameters: dict[str, Any],
    *,
    kernel: str,
    cwd: Path,
    timeout: int,
    on_cell: Callable[[int, int], None] | None,
) -> None:
    import papermill as pm

    from churnlab._papermill_engine import register_engine

    engine = register_engine()
    pm.execute_notebook(
        str(source),
        str(target),
        parameters=parameters,
        kernel_name=kernel,
        engine_name=engine,
        cwd=str(cwd),
        progress_bar=False,
        log_output=False,
        execution_timeout=timeout,
        cell_callback=on_cell,
    )


def notebook_to_html(ipynb: Path) -> Path:
    """Render an executed notebook to HTML without code cells (for analysts)."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(nbformat.read(ipynb, as_version=4))
    out = ipynb.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def run_pipeline(
    cfg: Params,
    *,
    notebooks_dir: Path | None = None,
    only: Sequence[str] = (),
    progress: ProgressCallback | None = None,
    now: dt.datetime | None = None,
) -> RunResult:
    """Run the notebook pipeline once and keep an immutable record of it.

    Parameters
    ----------
    cfg : Params
        Effective parameters; ``cfg.scoring_as_of()`` is the run's as_of date.
    notebooks_dir : Path, optional
        Folder of the parameterised notebooks (default: ``<root>/notebooks``).
    only : sequence of str
        Run only these stages (notebook stems or their ``NN`` prefix); the files of
        the stages before them are copied from the latest successful run.
    progress : callable, optional
        ``progress(event, info)`` called on ``"start"``, ``"notebook_start"``,
        ``"cell"``, ``"notebook_end"`` and ``"end"``.
    now : datetime, optional
        The run's start time (UTC); defaults to the current time.

    Returns
    -------
    RunResult
        The run folder, its status and manifest. A failed notebook does not raise:
        check ``result.succeeded``.

    Raises
    ------
    RunError
        When another run holds the lock, or ``only`` names an unknown stage or needs
        files that no earlier successful run has.
    """
    from churnlab.report import render_report

    root = cfg.root
    nb_dir = notebooks_dir or (root / "notebooks")
    reports_dir = cfg.path(cfg.run.reports_dir)
    as_of = cfg.scoring_as_of()
    notify = progress or (lambda event, info: None)
    selected = _select_stages(only)

    with run_lock(reports_dir):
        previous = previous_successful_run(reports_dir)
        if only and len(selected) < len(STAGES) and previous is None:
            raise RunError(
                "--only needs an earlier successful run to take the other stages' files from; run the full pipeline once first"
            )
        started = now or utc_now()
        run_dir = new_run_dir(reports_dir, as_of, started)
        (run_dir / "notebooks").mkdir()
        (run_dir / "charts").mkdir()
        effective = run_dir / "params.yaml"
        effective.write_text(cfg.to_yaml(), encoding="utf-8")
        manifest: dict[str, Any] = {
            "status": "running",
            "run_id": run_dir.name,
            "as_of": as_of.isoformat(),
            "started_at": started.isoformat(),
            "finished_at": None,
            "duration_s": None,
            "previous_run": previous.name if previous else None,
            "params": cfg.to_dict(),
            "inputs": input_fingerprints(cfg),
            "row_counts": {},
            "rejected_rows": {},
            "notebooks": [],
            "packages": package_versions(),
            "git_commit": git_commit(root),
            "host": platform.node(),
            "delivery": [],
        }
        write_json(run_dir / "manifest.json", manifest)
        notify("start", {"run_dir": run_dir, "stages": [s for s, _ in selected]})

        if len(selected) < len(STAGES) and previous is not None:
            _copy_upstream(previous, run_dir, selected)

        parameters = {
            "run_dir": str(run_dir),
            "params_file": str(effective),
            "project_dir": str(root),
            "as_of": as_of.isoformat(),
            "previous_run_dir": str(previous) if previous else "",
        }
        t0 = time.perf_counter()
        failed: str | None = None
        for name, _outputs in selected:
            record = _run_stage(name, nb_dir, run_dir, parameters, cfg, notify)
            manifest["notebooks"].append(record)
            write_json(run_dir / "manifest.json", manifest)
            if record["status"] != "succeeded":
                failed = name
                break

        report_path: Path | None = None
        if failed is None:
            try:
                _collect_counts(run_dir, manifest)
                report_path = render_report(run_dir, cfg, previous_run_dir=previous)
            except Exception as exc:  # the report failing fails the run, loudly
                failed = "report"
                manifest["notebooks"].append(
                    {
                        "name": "report",
                        "status": "failed",
                        "error": {"ename": type(exc).__name__, "evalue": str(exc)},
                    }
                )
        manifest["status"] = "failed" if failed else "succeeded"
        manifest["failed_notebook"] = failed
        finished = utc_now()
        manifest["finished_at"] = finished.isoformat()
        manifest["duration_s"] = round(time.perf_counter() - t0, 2)
        write_json(run_dir / "manifest.json", manifest)
        if failed is None:
            point_latest(reports_dir, run_dir)
        result = RunResult(
            run_dir=run_dir,
            status=manifest["status"],
            manifest=manifest,
            failed_notebook=failed,
            report=report_path,
            notebooks=manifest["notebooks"],
        )
        notify("end", {"result": result})
        return result


def _select_stages(only: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    if not only:
        return list(STAGES)
    chosen = []
    for item in only:
        matches = [
            s
            for s in STAGES
            if s[0] == item or s[0].split("_", 1)[0] == item or s[0].split("_", 1)[1] == item
        ]
        if not matches:
            raise RunError(f"--only {item!r}: no such stage; choose from {', '.join(STAGE_NAMES)}")
        chosen.extend(m for m in matches if m not in chosen)
    return sorted(chosen, key=STAGES.index)


def _copy_upstream(
    previous: Path, run_dir: Path, selected: list[tuple[str, tuple[str, ...]]]
) -> None:
    for name, outputs in STAGES:
        if (name, outputs) in selected:
            continue
        for item in outputs:
            src = previous / item
            if src.is_dir():
                shutil.copytree(src, run_dir / item)
            elif src.exists():
                shutil.copy2(src, run_dir / item)
        for chart in (previous / "charts").glob("*.png"):
            if not (run_dir / "charts" / chart.name).exists():
                shutil.copy2(chart, run_dir / "charts" / chart.name)


def _run_stage(
    name: str,
    nb_dir: Path,
    run_dir: Path,
    parameters: dict[str, Any],
    cfg: Params,
    notify: ProgressCallback,
) -> dict[str, Any]:
    from papermill.exceptions import PapermillExecutionError

    source = nb_dir / f"{name}.ipynb"
    target = run_dir / "notebooks" / f"{name}.ipynb"
    record: dict[str, Any] = {
        "name": name,
        "status": "running",
        "notebook": f"notebooks/{name}.ipynb",
    }
    notify("notebook_start", {"name": name})
    t0 = time.perf_counter()
    try:
        if not source.exists():
            raise RunError(f"notebook {source} is missing")
        _execute_notebook(
            source,
            target,
            parameters,
            kernel=cfg.run.kernel,
            cwd=cfg.root,
            timeout=cfg.run.cell_timeout_seconds,
            on_cell=lambda done, total: notify(
                "cell", {"name": name, "done": done, "total": total}
            ),
        )
        record["status"] = "succeeded"
    except PapermillExecutionError as exc:
        record["status"] = "failed"
        record["error"] = {
            "cell_index": exc.cell_index,
            "execution_count": exc.exec_count,
            "ename": exc.ename,
            "evalue": exc.evalue,
            "source": (exc.source or "")[:500],
        }
    except Exception as exc:  # kernel died, missing notebook, timeout...
        record["status"] = "failed"
        record["error"] = {
            "cell_index": None,
            "ename": type(exc).__name__,
            "evalue": str(exc)[:2000],
        }
    record["duration_s"] = round(time.perf_counter() - t0, 2)
    if target.exists():
        try:
            record["html"] = str(notebook_to_html(target).relative_to(run_dir))
        except Exception as exc:  # an HTML export failure must not hide the notebook's own result
            record["html_error"] = str(exc)
    notify("notebook_end", {"name": name, "record": record})
    return record


def _collect_counts(run_dir: Path, manifest: dict[str, Any]) -> None:
    health = run_dir / "data_health.json"
    if health.exists():
        info = json.loads(health.read_text(encoding="utf-8"))
        manifest["row_counts"] = info.get("row_counts", {})
        manifest["rejected_rows"] = info.get("rejected_rows", {})
        manifest["flagged_rows"] = info.get("flagged_rows", {})
        manifest["observations"] = info.get("observations", {})
