"""Synthetic B2B SaaS sample data with documented churn drivers (``churnlab sample``).

>>> sample = generate_sample(n_accounts=3000, seed=42)      # doctest: +SKIP
>>> write_sample(sample, "data/sample")                      # doctest: +SKIP

Churn is caused by latent account states that also generate the events (onboarding,
usage trend, tickets, NPS, champion, adoption, time to value, touch tier); ``region``
has no effect. ``SampleData.ground_truth`` lists the drivers and their strengths.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churnlab.errors import ParamsError

from ._accounts import draw_accounts, make_calendar
from ._loop import simulate
from ._tables import account_ids, accounts_table, events_table, subscriptions_table
from ._truth import driver_features, ground_truth, readme

__all__ = ["SampleData", "driver_features", "generate_sample", "write_sample"]


@dataclass(frozen=True)
class SampleData:
    """A generated sample: the three input tables and the ground truth behind them.

    Attributes
    ----------
    accounts, subscriptions, events : pandas.DataFrame
        Tables exactly as in ``docs/architecture.md``, "Input tables". ``events`` holds
        ``account_id``, ``event_type`` and ``user_id`` as ``category`` (memory).
    ground_truth : dict
        Drivers (name, description, primary ``feature``, ``features`` (every observable
        measure of the driver's latent state, primary first; ``{w}`` = any window),
        log-odds, rank, ``strong``), ``irrelevant_attributes``,
        the generator parameters and realised counts (see ``ground_truth.json``).
    """

    accounts: pd.DataFrame
    subscriptions: pd.DataFrame
    events: pd.DataFrame
    ground_truth: dict


def _check(n_accounts: int, months: int, end_date: str, thresholds: tuple[float, float]) -> None:
    if int(n_accounts) < 1:
        raise ParamsError(f"sample.n_accounts must be at least 1, got {n_accounts}")
    if not 1 <= int(months) <= 240:
        raise ParamsError(f"sample.months must be between 1 and 240, got {months}")
    try:
        dt.date.fromisoformat(str(end_date))
    except ValueError as exc:
        raise ParamsError(
            f"sample.end_date must be an ISO date like 2026-10-31, got {end_date!r}"
        ) from exc
    low, high = thresholds
    if not 0 <= low <= high:
        raise ParamsError(
            f"touch_thresholds must be (low_touch_min_arr, high_touch_min_arr) with "
            f"0 <= low <= high, got {thresholds}"
        )


def generate_sample(
    n_accounts: int = 3000,
    months: int = 24,
    end_date: str = "2026-10-31",
    seed: int = 42,
    touch_thresholds: tuple[float, float] = (12_000.0, 60_000.0),
) -> SampleData:
    """Generate a synthetic B2B SaaS sample (accounts, subscriptions, events, ground truth).

    Parameters
    ----------
    n_accounts : int
        Accounts that sign up during the window (30% in its first three months, the rest
        steadily, growing 3% a month).
    months : int
        Length of the data window in months; it ends on ``end_date`` (inclusive).
    end_date : str
        The data end (ISO date). Nothing after it exists; subscription rows running past
        it keep their contractual end date (the next renewal date).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives identical data.
    touch_thresholds : tuple of float
        ``(low_touch_min_arr, high_touch_min_arr)``: ARR from which an account is low /
        high touch (below: tech touch). Drives CSM assignment, touches and churn.

    Returns
    -------
    SampleData
    """
    _check(n_accounts, months, end_date, touch_thresholds)
    thresholds = (float(touch_thresholds[0]), float(touch_thresholds[1]))
    rng = np.random.default_rng(seed)
    cal = make_calendar(str(end_date), int(months))
    acc = draw_accounts(rng, int(n_accounts), cal)
    sim = simulate(rng, acc, cal, thresholds)
    ids = account_ids(int(n_accounts))
    first_start = cal.month_start[acc.signup_month] + acc.day - 1
    accounts = accounts_table(acc, ids, first_start, thresholds)
    subscriptions = subscriptions_table(sim, ids)
    events = events_table(sim, ids)
    params = {
        "n_accounts": int(n_accounts),
        "months": int(months),
        "end_date": str(end_date),
        "seed": int(seed),
        "touch_thresholds": list(thresholds),
    }
    realised = {
        "accounts": len(accounts),
        "subscriptions": len(subscriptions),
        "events": len(events),
        "resignups": sim.n_resignups,
        "grace_gaps": sim.n_grace_gaps,
    }
    return SampleData(accounts, subscriptions, events, ground_truth(params, realised))


def _write_parquet(frame: pd.DataFrame, path: Path, chunk_rows: int = 4 * 2**20) -> None:
    """Write in slices (bounded memory); categoricals become Parquet dictionaries."""
    first = pa.Table.from_pandas(frame.iloc[:chunk_rows], preserve_index=False)
    with pq.ParquetWriter(path, first.schema, compression="zstd", use_dictionary=True) as writer:
        writer.write_table(first)
        del first
        for lo in range(chunk_rows, len(frame), chunk_rows):
            part = frame.iloc[lo : lo + chunk_rows]
            writer.write_table(
                pa.Table.from_pandas(part, schema=writer.schema, preserve_index=False)
            )


def write_sample(sample: SampleData, out_dir: str | Path) -> dict[str, Path]:
    """Write the sample as Parquet (dictionary-encoded ids), ``ground_truth.json`` and a README.

    Existing files are overwritten (the CLI decides whether that is allowed). The same
    sample gives byte-identical files.

    Returns
    -------
    dict of str to Path
        ``accounts``, ``subscriptions``, ``events``, ``ground_truth`` and ``readme`` paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.parquet" for name in ("accounts", "subscriptions", "events")}
    for name, path in paths.items():
        _write_parquet(getattr(sample, name), path)
    paths["ground_truth"] = out / "ground_truth.json"
    paths["ground_truth"].write_text(json.dumps(sample.ground_truth, indent=2) + "\n")
    paths["readme"] = out / "README.md"
    paths["readme"].write_text(readme(sample.ground_truth))
    return paths
