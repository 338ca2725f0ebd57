"""Benchmark: ``churnlab export`` of 100k scored accounts to PostgreSQL, DuckDB and SQLite.

Builds a run of ``--rows`` accounts from a real run's ``scores.csv`` (default
``reports/latest``, from ``make demo``): its rows repeated with new account ids, written
with ``churnlab.csvsafe`` like the stage does, beside the run's manifest and headline.
Then, per database (a fresh file, or a throw-away PostgreSQL server started like the
tests' one):

1. the first export (``rows`` into the history table, ``rows`` into the current table);
2. the same export again (must add nothing);
3. a newer run of the data set (``rows`` more history, the current rows replaced).

Usage::

    .venv/bin/python benchmarks/bench_export.py [--rows 100000] [--run reports/latest]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.export.pgserver

from churnlab import csvsafe  # noqa: E402
from churnlab.export import export_run, parse_target  # noqa: E402
from churnlab.run import RunFolder  # noqa: E402
from tests.export.pgserver import running_server  # noqa: E402


def big_run(source: RunFolder, rows: int, folder: Path, run_id: str, finished: str) -> RunFolder:
    """A run of ``rows`` accounts made of ``source``'s scores, repeated with new ids."""
    run = RunFolder(folder / run_id)
    run.path.mkdir(parents=True)
    scores = csvsafe.read_csv(source.scores, dtype={"account_id": str})
    repeats = -(-rows // len(scores))
    big = pd.concat([scores] * repeats, ignore_index=True).head(rows)
    big["account_id"] = [f"B{i:07d}" for i in range(rows)]
    csvsafe.write_csv(big, run.scores)
    shutil.copy2(source.headline, run.headline)
    manifest = source.read_manifest()
    manifest.update(run_id=run_id, finished_at=finished, status="succeeded")
    manifest.pop("exports", None)
    run.manifest.write_text(json.dumps(manifest), encoding="utf-8")
    return run


def count(url: str, table: str) -> int:
    engine = parse_target(url).engine()
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar()
    engine.dispose()
    return int(n or 0)


def bench(name: str, url: str, first: RunFolder, newer: RunFolder, rows: int) -> None:
    target = parse_target(url)
    for label, run in (("first export", first), ("same run again", first), ("newer run", newer)):
        started, cpu = time.perf_counter(), time.process_time()
        result = export_run(run.path, target)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        written = result.history_added + (rows if result.current == "replaced" else 0)
        rate = f"{written / wall:,.0f}" if written else "-"
        print(
            f"| {name} | {label} | {wall:.2f} | {cpu:.2f} | {result.history_added:,} | "
            f"{result.current} | {written:,} | {rate} |",
            flush=True,
        )
    assert count(url, "churn_scores_history") == 2 * rows
    assert count(url, "churn_scores_current") == rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--run", default="reports/latest", help="a run whose scores to repeat")
    parser.add_argument("--only", nargs="*", default=["postgresql", "duckdb", "sqlite"])
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} (the 2 cores of this machine are shared)")
    source = RunFolder(args.run).resolve()
    with tempfile.TemporaryDirectory(prefix="churnlab-bench-export-") as tmp:
        folder = Path(tmp)
        first = big_run(source, args.rows, folder, "2026-10-31_bench1", "2026-11-01T06:00:00+00:00")
        newer = big_run(source, args.rows, folder, "2026-10-31_bench2", "2026-11-02T06:00:00+00:00")
        size = first.scores.stat().st_size / 1e6
        print(f"{args.rows:,} rows, scores.csv {size:.1f} MB, from {source.path}\n")
        print(
            "| database | export | wall s | client CPU s | history rows added | current | "
            "rows written | rows/s (wall) |"
        )
        print("|---|---|---:|---:|---:|---|---:|---:|")
        if "postgresql" in args.only:
            with running_server() as server:
                os.environ["PGPASSFILE"] = str(server.passfile)
                bench("PostgreSQL 15 (psycopg 3)", server.url, first, newer, args.rows)
        if "duckdb" in args.only:
            bench("DuckDB (file)", f"duckdb:///{folder}/scores.duckdb", first, newer, args.rows)
        if "sqlite" in args.only:
            bench("SQLite (file)", f"sqlite:///{folder}/scores.sqlite", first, newer, args.rows)


if __name__ == "__main__":
    main()
