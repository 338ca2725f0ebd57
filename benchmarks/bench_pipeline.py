"""The whole ``churnlab run`` as a user waits for it: time, CPU and memory per stage.

For each size asked for, the script generates the built-in sample with ``churnlab sample``
(kept in ``--cache`` between benchmark runs: the sample is deterministic for its seed), then
runs ``churnlab run`` in a subprocess on it, cold (a fresh observation cache) and, with
``--warm``, a second time on the same cache (what a rerun or a scheduled run of unchanged data
costs). While the run goes, a sampler walks the run's process tree (the runner and the kernels
papermill starts) every ``--interval`` seconds with psutil and records the summed RSS and CPU
time of the tree. A stage's window is the time between the run's own ``stage ... started`` and
``stage ... succeeded`` lines, stamped as they arrive. Per stage it reports the wall time, the
CPU seconds the tree spent in the window and the peak RSS of the tree in it; for the run, the
wall time, CPU time and peak RSS of the whole tree.

A ``reference`` line first times a fixed LightGBM fit and a fixed pandas group-by, each in a
fresh subprocess: this machine's speed drifts (shared cores), so compare runs made at different
times through it.

Usage::

    .venv/bin/python benchmarks/bench_pipeline.py                       # the demo, cold + warm
    .venv/bin/python benchmarks/bench_pipeline.py --accounts 30000 100000 --no-warm
    .venv/bin/python benchmarks/bench_pipeline.py --accounts 3000 -p model.backtest.folds=2

Results print as a Markdown table (paste into ``benchmarks/README.md``) and are written as
JSON to ``--json`` when given.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
CHURNLAB = str(Path(sys.executable).with_name("churnlab"))
STAGE_LINE = re.compile(r"stage (\S+) (started|succeeded|failed|skipped)")

REFERENCE = """
import time, numpy as np, pandas as pd, lightgbm as lgb
rng = np.random.default_rng(0)
X = rng.normal(size=(200_000, 20)); y = (X[:, 0] + rng.normal(size=200_000) > 1).astype(int)
t = time.perf_counter()
lgb.LGBMClassifier(n_estimators=100, num_leaves=31, n_jobs=2, verbose=-1).fit(X, y)
fit = time.perf_counter() - t
df = pd.DataFrame({"k": rng.integers(0, 100_000, 5_000_000), "v": rng.normal(size=5_000_000)})
t = time.perf_counter()
df.groupby("k")["v"].agg(["sum", "mean", "max"])
print(fit, time.perf_counter() - t)
"""


@dataclass
class Sample:
    """One reading of the run's process tree."""

    t: float
    rss: int
    cpu: float


@dataclass
class Tree:
    """Samples the process tree of ``root`` until stopped; remembers dead processes' CPU."""

    root: int
    interval: float
    samples: list[Sample] = field(default_factory=list)
    _cpu: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        """Start sampling in a daemon thread."""
        thread = threading.Thread(target=self._loop, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()

    def _loop(self) -> None:
        try:
            root = psutil.Process(self.root)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            rss = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            for proc in procs:
                try:
                    with proc.oneshot():
                        rss += proc.memory_info().rss
                        times = proc.cpu_times()
                        self._cpu[proc.pid] = times.user + times.system
                except psutil.Error:
                    continue  # ended between the listing and the reading: its last CPU is kept
            self.samples.append(Sample(time.perf_counter(), rss, sum(self._cpu.values())))
            self._stop.wait(self.interval)

    def window(self, start: float, end: float) -> tuple[float, int]:
        """CPU seconds and peak RSS (bytes) of the tree between ``start`` and ``end``."""
        inside = [s for s in self.samples if start <= s.t <= end]
        before = [s for s in self.samples if s.t < start]
        if not inside:
            return 0.0, 0
        first = before[-1].cpu if before else inside[0].cpu
        return inside[-1].cpu - first, max(s.rss for s in inside)


def reference() -> dict[str, float]:
    """A fixed LightGBM fit and pandas group-by, timed in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", REFERENCE], check=True, capture_output=True, text=True
    ).stdout.split()
    return {"lightgbm_fit_s": round(float(out[0]), 2), "pandas_groupby_s": round(float(out[1]), 2)}


def ensure_sample(accounts: int, cache: Path, seed: int) -> tuple[Path, float | None]:
    """The sample of ``accounts`` accounts under ``cache`` (generated when absent)."""
    folder = cache / f"sample-{accounts}-seed{seed}"
    if (folder / "events.parquet").exists():
        return folder, None
    t0 = time.perf_counter()
    subprocess.run(
        [
            CHURNLAB,
            "sample",
            "--accounts",
            str(accounts),
            "--seed",
            str(seed),
            "--out",
            str(folder),
        ],
        check=True,
        cwd=ROOT,
    )
    return folder, round(time.perf_counter() - t0, 1)


def run_once(
    data: Path | None, work: Path, extra: list[str], interval: float, label: str
) -> dict[str, Any]:
    """``churnlab run`` once in a subprocess; its stages' and its whole tree's figures."""
    sets = [f"run.reports_dir={work / 'reports'}", f"run.cache_dir={work / 'cache'}"]
    if data is not None:
        sets += [
            f"data.{name}={data / (name + '.parquet')}"
            for name in ("accounts", "subscriptions", "events")
        ]
    command = [CHURNLAB, "run", *[a for s in sets + extra for a in ("-p", s)]]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    tree = Tree(proc.pid, interval)
    tree.start()
    marks: dict[str, list[float]] = {}
    log: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        log.append(line)
        found = STAGE_LINE.search(line)
        if found:
            marks.setdefault(found.group(1), []).append(time.perf_counter())
        print(f"  [{label}] {line}", end="", flush=True)
    code = proc.wait()
    wall = time.perf_counter() - t0
    tree.stop()
    if code != 0:
        raise SystemExit(f"churnlab run exited {code}:\n{''.join(log[-30:])}")
    stages = []
    for name, (start, *rest) in marks.items():
        end = rest[-1] if rest else start
        cpu, peak = tree.window(start, end)
        stages.append(
            {
                "stage": name,
                "wall_s": round(end - start, 1),
                "cpu_s": round(cpu, 1),
                "peak_rss_mb": peak >> 20,
            }
        )
    cpu_all, peak_all = tree.window(t0, t0 + wall + 1)
    return {
        "label": label,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu_all, 1),
        "peak_rss_mb": peak_all >> 20,
        "stages": stages,
        "run_dir": next(
            (line.split(": ", 1)[1].strip() for line in log if line.startswith("run succeeded in")),
            None,
        ),
    }


def markdown(results: list[dict[str, Any]]) -> str:
    """One table row per run: stage wall times (CPU, peak RSS) and the whole run."""
    names: list[str] = []
    for result in results:
        for stage in result["stages"]:
            if stage["stage"] not in names:
                names.append(stage["stage"])
    head = ["run", "accounts", "sample s", *names, "total s", "CPU s", "peak RSS"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        by = {s["stage"]: s for s in r["stages"]}
        cells = [
            r["label"],
            f"{r['accounts']:,}",
            "" if r.get("sample_s") is None else f"{r['sample_s']}",
            *[
                f"{by[n]['wall_s']} ({by[n]['cpu_s']} CPU, {by[n]['peak_rss_mb']:,} MB)"
                if n in by
                else "-"
                for n in names
            ],
            f"**{r['wall_s']}**",
            f"{r['cpu_s']}",
            f"{r['peak_rss_mb']:,} MB",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def champion_metrics(reports: Path) -> dict[str, Any]:
    """The latest run's model comparison: per model ROC AUC, PR AUC (and its fold spread),
    Brier, ECE and lift@10 of the backtest, and which model is the champion."""
    latest = sorted((reports / "runs").glob("*/model_metrics.json"))[-1]
    metrics = json.loads(latest.read_text(encoding="utf-8"))
    out: dict[str, Any] = {"champion": metrics.get("champion")}
    for row in metrics.get("comparison", []):
        out[row["model"]] = {
            k: round(float(row[k]), 4)
            for k in ("roc_auc", "pr_auc", "pr_auc_fold_std", "brier", "ece", "lift_10")
            if row.get(k) is not None
        }
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the Markdown table (and write JSON when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--accounts", type=int, nargs="+", default=[0],
        help="sample sizes; 0 = the project's own sample (data/sample, what `make demo` runs)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "churnlab-bench")
    parser.add_argument("--warm", action=argparse.BooleanOptionalAction, default=True,
                        help="also time a second run on the same observation cache")  # fmt: skip
    parser.add_argument("--interval", type=float, default=0.1, help="sampling interval, seconds")
    parser.add_argument(
        "-p", "--set", action="append", default=[], help="extra -p for churnlab run"
    )
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument(
        "--metrics", action="store_true",
        help="also print each run's model metrics (the champion's backtest, from model_metrics.json)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    ref = reference()
    print(f"reference: {ref} (load average {os.getloadavg()[0]:.2f})", flush=True)
    results = []
    for accounts in args.accounts:
        data, sample_s = (
            (None, None) if accounts == 0 else ensure_sample(accounts, args.cache, args.seed)
        )
        work = Path(tempfile.mkdtemp(prefix=f"bench-run-{accounts}-"))
        try:
            labels = ["cold", "warm"] if args.warm else ["cold"]
            for label in labels:
                result = run_once(
                    data, work, args.set, args.interval, f"{accounts or 'demo'} {label}"
                )
                result.update(
                    accounts=accounts or 3000, sample_s=sample_s if label == "cold" else None
                )
                if args.metrics:
                    result["metrics"] = champion_metrics(work / "reports")
                    print(f"  model metrics: {result['metrics']}", flush=True)
                results.append(result)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps({"reference": ref, "runs": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
