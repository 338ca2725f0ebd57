"""Benchmark: features engine (Ibis + DuckDB) vs a straightforward pandas implementation.

Usage::

    .venv/bin/python benchmarks/bench_features.py --accounts 100000 --events 60000000 \
        --pandas-accounts 5000 --threads 2 --memory-limit 6GB

Writes a synthetic event log (Parquet, generated in chunks with numpy/pyarrow,
cached under ``--data-dir``), then runs, each in its own subprocess so that the
peak memory (``ru_maxrss``) is measured separately:

* ``reference``: a fixed DuckDB ``GROUP BY`` over the same log, the speed of
  this shared machine at the time of the run (it drifts);
* ``engine``: :func:`churnlab.observations.build_observation_table` on all
  accounts x 12 month-end ``as_of`` dates, DuckDB reading the Parquet in place;
* ``spark`` (with ``--spark``): the same function on PySpark (``--spark-master``,
  ``local[2]`` by default), Spark reading the Parquet itself; its peak memory is the
  Python process plus the Spark JVM (sampled every 0.2 s), its CPU time both processes';
  every column of its table must equal the DuckDB table's (to 1e-9, nulls alike);
* ``pandas``: the same feature families in plain pandas (a loop over ``as_of``
  dates, groupby per window) on the first ``--pandas-accounts`` accounts only;
  its rate is reported per input event and extrapolated to the full log.

The columns in ``CHECKED`` (counts, active users, adoption breadth, days since
the last login) must agree on the rows both sides computed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churnlab.sample._spec import EVENT_TYPES as SAMPLE_EVENT_TYPES

EVENT_TYPES = np.array(SAMPLE_EVENT_TYPES)  # the same 16 types the sample generator writes
TYPE_P = np.array([0.6] + [0.05] * 6 + [0.1 / 9] * 9)
TYPE_P = TYPE_P / TYPE_P.sum()
T0, T1 = pd.Timestamp("2025-08-01"), pd.Timestamp("2026-11-01")
AS_OFS = pd.date_range("2025-11-30", "2026-10-31", freq="ME")
WINDOWS = (7, 28, 90)
# columns compared between the two sides on their shared rows
CHECKED = (
    "logins_28d",
    "feature_api_90d",
    *(f"active_users_{w}d" for w in WINDOWS),
    *(f"adoption_breadth_{w}d" for w in WINDOWS),
    "days_since_last_login",
)


def _ids(n: int) -> np.ndarray:
    return np.char.add("A", np.char.zfill(np.arange(n).astype(str), 6))


def generate(
    data_dir: Path, n_accounts: int, n_events: int, seed: int = 0, chunk: int = 5_000_000
) -> None:
    """Write accounts, subscriptions and events Parquet files (events in row groups of ``chunk``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = _ids(n_accounts)
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "industry": rng.choice(["retail", "tech", "health", "finance"], n_accounts),
            "region": rng.choice(["emea", "amer", "apac"], n_accounts),
            "plan": rng.choice(["starter", "growth", "enterprise"], n_accounts),
            "acquisition_channel": rng.choice(
                ["inbound", "outbound", "partner", "self_serve"], n_accounts
            ),
            "csm_owner": rng.choice(["ann", "bob", "pooled"], n_accounts),
        }
    )
    accounts.to_parquet(data_dir / "accounts.parquet", index=False)
    start = pd.Timestamp("2024-06-01") + pd.to_timedelta(rng.integers(0, 500, n_accounts), "D")
    subs = pd.DataFrame(
        {
            "subscription_id": np.char.add("S", ids),
            "account_id": ids,
            "start_date": start,
            "end_date": pd.Series(pd.NaT, index=range(n_accounts), dtype="datetime64[ns]"),
            "mrr": rng.choice([100.0, 900.0, 2000.0, 6000.0], n_accounts),
            "plan": rng.choice(["starter", "growth", "enterprise"], n_accounts),
            "seats": rng.integers(1, 40, n_accounts),
            "billing_period_months": rng.choice([1, 12], n_accounts),
        }
    )
    # microseconds: Spark cannot read Parquet timestamps in nanoseconds (pandas' default)
    subs.to_parquet(data_dir / "subscriptions.parquet", index=False, coerce_timestamps="us")
    id_dict = pa.array(ids)
    type_dict = pa.array(EVENT_TYPES)
    user_dict = pa.array([f"u{i}" for i in range(20)])
    span = int((T1 - T0).total_seconds())
    schema = pa.schema(
        [
            ("account_id", pa.dictionary(pa.int32(), pa.string())),
            ("timestamp", pa.timestamp("us")),
            ("event_type", pa.dictionary(pa.int32(), pa.string())),
            ("value", pa.float64()),
            ("user_id", pa.dictionary(pa.int32(), pa.string())),
        ]
    )
    with pq.ParquetWriter(data_dir / "events.parquet", schema) as writer:
        for lo in range(0, n_events, chunk):
            n = min(chunk, n_events - lo)
            acc = rng.integers(0, n_accounts, n).astype(np.int32)
            ts = T0.value // 1000 + rng.integers(0, span, n) * 1_000_000
            et = rng.choice(len(EVENT_TYPES), n, p=TYPE_P).astype(np.int32)
            value = np.round(rng.exponential(4.0, n), 2)
            users = rng.integers(0, 20, n).astype(np.int32)
            batch = pa.record_batch(
                [
                    pa.DictionaryArray.from_arrays(pa.array(acc), id_dict),
                    pa.array(ts, type=pa.timestamp("us")),
                    pa.DictionaryArray.from_arrays(pa.array(et), type_dict),
                    pa.array(value),
                    pa.DictionaryArray.from_arrays(pa.array(users), user_dict),
                ],
                schema=schema,
            )
            writer.write_batch(batch)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_engine(
    data_dir: Path,
    threads: int,
    memory_limit: str,
    temp_dir: str,
    out: Path,
    spark_master: str | None = None,
) -> dict:
    import ibis

    from churnlab.observations import build_observation_table

    t0 = time.perf_counter()
    if spark_master:
        from churnlab.observations._engine.backend import spark_session

        session, _ = spark_session(spark_master, {"spark.driver.memory": "6g"})
        con = ibis.pyspark.connect(session)
    else:
        con = ibis.duckdb.connect(
            threads=threads,
            memory_limit=memory_limit,
            temp_directory=temp_dir,
            preserve_insertion_order=False,
        )
    accounts = con.read_parquet(data_dir / "accounts.parquet")
    subs = con.read_parquet(data_dir / "subscriptions.parquet")
    events = con.read_parquet(data_dir / "events.parquet")
    n_events = int(con.execute(events.count()))
    ids = con.execute(accounts.select("account_id"))["account_id"].sort_values()
    spine = pd.DataFrame(
        {"account_id": np.repeat(ids.to_numpy(), len(AS_OFS)), "as_of": np.tile(AS_OFS, len(ids))}
    )
    table = build_observation_table(
        accounts,
        subs,
        events,
        spine,
        windows=WINDOWS,
        event_types=list(EVENT_TYPES),
        ratios={"logins_per_seat_28d": ("logins_28d", "seats")},
        con=con,
    )
    seconds = time.perf_counter() - t0
    table.to_parquet(out)
    return {"rows": len(table), "columns": table.shape[1], "events": n_events, "seconds": seconds}


class _Sampler:
    """Peak RSS and CPU time of this process and its children (the Spark JVM), sampled."""

    def __init__(self) -> None:
        import threading

        import psutil

        self.me = psutil.Process()
        self.peak = 0
        self.cpu: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        import psutil

        while not self.stop.wait(0.2):
            total = 0
            for proc in [self.me, *self.me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                    times = proc.cpu_times()
                    self.cpu[proc.pid] = times.user + times.system
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)

    def result(self) -> tuple[float, float]:
        self.stop.set()
        self.thread.join()
        return self.peak / 2**20, sum(self.cpu.values())


def run_pandas(data_dir: Path, n_accounts: int, out: Path) -> dict:
    """Plain pandas, same feature families, a loop over as_of dates (vectorised within a date)."""
    t0 = time.perf_counter()
    keep = _ids(n_accounts).tolist()
    ev = pd.read_parquet(data_dir / "events.parquet", filters=[("account_id", "in", keep)])
    for col in ("account_id", "event_type", "user_id"):
        ev[col] = ev[col].astype(str)
    subs = pd.read_parquet(data_dir / "subscriptions.parquet")
    subs = subs[subs.account_id.isin(keep)]
    frames = []
    for as_of in AS_OFS:
        before = ev[ev.timestamp < as_of]
        age = as_of - before.timestamp
        feats = pd.DataFrame(index=pd.Index(keep, name="account_id"))
        for w in WINDOWS:
            inw = before[age <= pd.Timedelta(days=w)]
            counts = inw.groupby(["account_id", "event_type"]).size().unstack(fill_value=0)
            counts.columns = [f"{c}_{w}d" for c in counts.columns]
            feats = feats.join(counts)
            logins = inw[inw.event_type == "login"]
            feats[f"active_users_{w}d"] = logins.groupby("account_id").user_id.nunique()
            fe = inw[inw.event_type.str.startswith("feature_")]
            feats[f"adoption_breadth_{w}d"] = fe.groupby("account_id").event_type.nunique()
        prev = before[(age > pd.Timedelta(days=28)) & (age <= pd.Timedelta(days=56))]
        prev_counts = prev.groupby(["account_id", "event_type"]).size().unstack(fill_value=0)
        for et in prev_counts.columns:
            last = feats.get(f"{et}_28d", 0)
            feats[f"{et}_trend_28d"] = (last - prev_counts[et]) / (prev_counts[et] + 1)
        res = before[(before.event_type == "ticket_resolved") & (age <= pd.Timedelta(days=90))]
        feats["median_resolution_days_90d"] = res.groupby("account_id").value.median()
        last_login = before[before.event_type == "login"].groupby("account_id").timestamp.max()
        feats["days_since_last_login"] = (as_of - last_login.dt.normalize()).dt.days
        by_type = (
            before.groupby(["account_id", "event_type"])
            .timestamp.agg(["size", "min", "max"])
            .unstack()
        )
        feats["open_ticket_backlog"] = by_type["size"].get("ticket_opened", 0) - by_type[
            "size"
        ].get("ticket_resolved", 0)
        feats["onboarded_at"] = by_type["min"].get("onboarding_completed")
        feats["last_touch"] = by_type["max"][["csm_meeting", "qbr", "webinar"]].max(axis=1)
        nps = before[before.event_type == "nps_response"].sort_values("timestamp")
        feats["last_nps"] = nps.groupby("account_id").value.last()
        cur = subs[(subs.start_date < as_of) & (subs.end_date.isna() | (subs.end_date >= as_of))]
        feats = feats.join(cur.groupby("account_id")[["mrr", "seats"]].sum())
        feats["logins_per_seat_28d"] = feats.get("login_28d", 0) / feats["seats"]
        frames.append(
            feats.fillna({c: 0 for c in feats.columns if c.endswith("d")}).assign(as_of=as_of)
        )
    table = pd.concat(frames).reset_index()
    seconds = time.perf_counter() - t0
    table = table.rename(columns={"login_28d": "logins_28d"})
    table[["account_id", "as_of", *CHECKED]].to_parquet(out)
    return {"rows": len(table), "events": len(ev), "seconds": seconds}


def run_reference(data_dir: Path, threads: int, memory_limit: str) -> dict:
    """A fixed DuckDB query over the same log: how fast this machine is right now.

    The 2 cores of this machine are shared with other virtual machines and its speed
    drifts (the same query took 11-16 s on one evening); engine runs from different
    times compare through this number.
    """
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit})
    events = (data_dir / "events.parquet").as_posix()
    (n,) = con.execute(
        "SELECT count(*) FROM (SELECT account_id, date_trunc('week', timestamp) AS w, "
        "count(*) AS n, max(timestamp) AS t, sum(epoch(timestamp)) AS s "
        f"FROM read_parquet('{events}') GROUP BY ALL)"
    ).fetchone()
    return {"groups": n, "seconds": time.perf_counter() - t0}


def _child(args: argparse.Namespace) -> None:
    out = Path(args.data_dir) / f"result-{args.child}.parquet"
    if args.child == "reference":
        result = run_reference(Path(args.data_dir), args.threads, args.memory_limit)
    elif args.child == "engine":
        result = run_engine(
            Path(args.data_dir), args.threads, args.memory_limit, args.temp_dir, out
        )
    elif args.child == "spark":
        sampler = _Sampler()
        result = run_engine(
            Path(args.data_dir), args.threads, args.memory_limit, args.temp_dir, out,
            spark_master=args.spark_master,
        )  # fmt: skip
        result["peak_rss_mb"], result["cpu_seconds"] = sampler.result()
        print(json.dumps(result))
        return
    else:
        result = run_pandas(Path(args.data_dir), args.pandas_accounts, out)
    result["peak_rss_mb"] = _peak_mb()
    result["cpu_seconds"] = _cpu_seconds()
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=60_000_000)
    parser.add_argument("--pandas-accounts", type=int, default=5_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="6GB")
    parser.add_argument("--data-dir", default="/tmp/churnlab-bench")
    parser.add_argument("--temp-dir", default="/tmp/churnlab-bench-duckdb-tmp")
    parser.add_argument(
        "--spark", action="store_true", help="also run the engine on Spark (needs churnlab[spark])"
    )
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas side")
    parser.add_argument(
        "--child", choices=["reference", "engine", "spark", "pandas"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    data_dir = Path(args.data_dir) / f"{args.accounts}-{args.events}"
    if not (data_dir / "events.parquet").exists():
        t0 = time.perf_counter()
        generate(data_dir, args.accounts, args.events)
        print(
            f"generated {args.events:,} events in {time.perf_counter() - t0:.0f} s -> {data_dir}",
            flush=True,
        )
    results = {}
    children = ["reference", "engine", *(["spark"] if args.spark else [])]
    children += [] if args.no_pandas else ["pandas"]
    for child in children:
        cmd = [sys.executable, __file__, "--child", child, "--data-dir", str(data_dir)]
        cmd += ["--threads", str(args.threads), "--memory-limit", args.memory_limit]
        cmd += ["--temp-dir", args.temp_dir, "--spark-master", args.spark_master]
        cmd += ["--pandas-accounts", str(args.pandas_accounts)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results[child] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = results[child]
        if child == "reference":
            print(
                f"reference: a fixed DuckDB GROUP BY over the same log ({r['groups']:,} groups) "
                f"took {r['seconds']:.1f} s, CPU {r['cpu_seconds']:.1f} s (machine speed now)",
                flush=True,
            )
            continue
        print(
            f"{child:7s} {r['events']:>12,} events {r['seconds']:8.1f} s "
            f"{r['events'] / r['seconds']:>14,.0f} events/s  CPU {r['cpu_seconds']:8.1f} s "
            f"({r['events'] / r['cpu_seconds']:,.0f} events/CPU-s)  peak RSS {r['peak_rss_mb']:,.0f} MB",
            flush=True,
        )
    eng = pd.read_parquet(data_dir / "result-engine.parquet")
    if args.spark:
        on_spark = pd.read_parquet(data_dir / "result-spark.parquet")
        pd.testing.assert_frame_equal(on_spark, eng, check_exact=False, rtol=0, atol=1e-9)
        print(
            f"spark = duckdb: all {eng.shape[1]} columns of {len(eng):,} rows (1e-9, nulls alike)"
        )
        ratio = results["spark"]["seconds"] / results["engine"]["seconds"]
        print(f"spark / duckdb wall time: {ratio:.1f}x")
    if args.no_pandas:
        return
    pan = pd.read_parquet(data_dir / "result-pandas.parquet")
    both = pan.merge(eng, on=["account_id", "as_of"], suffixes=("_pandas", "_engine"))
    # counts are 0 on the pandas side where a group is empty; a missing value (no login
    # yet) must be missing on both sides
    diffs = {
        c: float((both[f"{c}_pandas"].fillna(-1) - both[f"{c}_engine"].fillna(-1)).abs().max())
        for c in CHECKED
    }
    speedup = (results["engine"]["events"] / results["engine"]["seconds"]) / (
        results["pandas"]["events"] / results["pandas"]["seconds"]
    )
    pandas_full = (
        results["pandas"]["seconds"] * results["engine"]["events"] / results["pandas"]["events"]
    )
    print(f"agreement on {len(both):,} shared rows, max |pandas - engine|: {diffs}")
    cpu_speedup = (results["engine"]["events"] / results["engine"]["cpu_seconds"]) / (
        results["pandas"]["events"] / results["pandas"]["cpu_seconds"]
    )
    print(
        f"engine / pandas events per second: {speedup:.1f}x wall, {cpu_speedup:.1f}x per CPU second"
    )
    print(f"pandas extrapolated to the full log: {pandas_full:,.0f} s (per-event rate x events)")


if __name__ == "__main__":
    main()
