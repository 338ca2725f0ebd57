"""Stage 02 (the model) alone, on a copy of a finished run folder: CPU, wall, peak RSS, metrics.

The copy keeps the original run untouched. Imports the stage's libraries first (what the
kernel started ahead does), then times ``churnlab.run.steps.model.run(ctx)``; ``--profile``
prints the top of a ``cProfile`` of it. Compare code versions by putting a copy of another
``src/`` first on ``PYTHONPATH``.

Usage::

    .venv/bin/python benchmarks/bench_model_stage.py reports/latest
    .venv/bin/python benchmarks/bench_model_stage.py RUN -p model.lightgbm.learning_rate=0.1
    PYTHONPATH=/tmp/before/src .venv/bin/python benchmarks/bench_model_stage.py RUN --profile
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import shutil
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Run stage 02 once on a copy of ``run``; print its cost and its comparison table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished run folder (stage 00 written)")
    parser.add_argument("-p", "--set", action="append", default=[], help="params override")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    args = parser.parse_args(argv)

    import churnlab.modeling  # noqa: F401  (what the kernel started ahead imports)
    import churnlab.plots.model  # noqa: F401
    from churnlab.config import load_params
    from churnlab.run import RunFolder
    from churnlab.run.steps import StageContext, model

    work = Path(tempfile.mkdtemp(prefix="bench-model-")) / args.run.resolve().name
    shutil.copytree(args.run.resolve(), work)
    try:
        cfg = load_params(work / "params.yaml", overrides=args.set)
        as_of = json.loads((work / "manifest.json").read_text(encoding="utf-8"))["as_of"]
        ctx = StageContext(params=cfg, folder=RunFolder(work), as_of=as_of)
        profile = cProfile.Profile() if args.profile else None
        t0, c0 = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.runcall(model.run, ctx)
        else:
            model.run(ctx)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
        print(f"stage 02: wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {peak:,} MB")
        metrics = json.loads((work / "model_metrics.json").read_text(encoding="utf-8"))
        for row in metrics["comparison"]:
            shown = {k: round(row[k], 4) for k in ("roc_auc", "pr_auc", "brier", "ece", "lift_10")}
            spread = {k: round(v, 4) for k, v in row.items() if k.endswith("_fold_std")}
            print(f"  {row['model']}: {shown} {spread}")
        print(f"  champion {metrics['champion']}, training {metrics['training'].get('stopping')}")
        if profile is not None:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
    finally:
        shutil.rmtree(work.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
