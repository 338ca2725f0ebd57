"""Stage 00's steps in-process, the event log read by pandas or checked on the engine (#19).

Each mode runs in a fresh subprocess (its peak RSS is its own): load and validate the inputs,
fit the history, active periods, monthly KPIs, the observation tables (a fresh cache) and
the executive tables, the steps of ``churnlab.run.steps.data_health.run`` without the
files and charts. ``pandas`` loads the inputs as before #19
(``churnlab.run.steps.context.load_inputs``); ``engine`` is stage 00 now
(``churnlab.run.steps.data_health.load_inputs``: the events checked by DuckDB in place).

    .venv/bin/python benchmarks/bench_stage00.py --sample ~/.cache/churnlab-bench/sample-30000-seed42
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _child(sample: Path, mode: str) -> dict[str, float]:
    from churnlab.config import load_params
    from churnlab.run.steps import context, data_health, executive

    work = Path(tempfile.mkdtemp(prefix="bench-stage00-"))
    cfg = load_params(
        ROOT / "params.yaml",
        overrides=[
            f"data.accounts={sample / 'accounts.parquet'}",
            f"data.subscriptions={sample / 'subscriptions.parquet'}",
            f"data.events={sample / 'events.parquet'}",
            f"run.reports_dir={work / 'reports'}",
            f"run.cache_dir={work / 'cache'}",
        ],
    )
    cfg = context.resolve_data_end(cfg)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    load = context.load_inputs if mode == "pandas" else data_health.load_inputs
    inputs = load(cfg)
    times["load_s"] = time.perf_counter() - t0
    fit = data_health.fit_history(cfg, inputs)
    cfg = data_health.adapt(cfg, fit)
    periods = data_health.active_periods(cfg, inputs)
    kpis = data_health.kpi_table(cfg, inputs, periods)
    t1 = time.perf_counter()
    tables = data_health.observation_tables(cfg, inputs, periods, str(cfg.scoring_as_of()))
    times["features_s"] = time.perf_counter() - t1
    executive.tables(cfg, inputs, periods, str(cfg.scoring_as_of()))
    times["stage_s"] = time.perf_counter() - t0
    times["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    times["training_rows"] = len(tables.training)
    times["kpi_rows"] = len(kpis)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, required=True)
    parser.add_argument("--modes", nargs="+", default=["pandas", "engine"])
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.sample, args.child)))
        return
    for mode in args.modes:
        out = subprocess.run(
            [sys.executable, __file__, "--sample", str(args.sample), "--child", mode],
            capture_output=True,
            text=True,
            check=True,
        )
        print(mode, out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
