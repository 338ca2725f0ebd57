"""The features engine reads the validated event log itself (#19): same table as from pandas.

The events are checked once on DuckDB (:func:`churnlab.data.load_event_logs` with
``events_con``); :class:`churnlab.data.EventSource` reads them again on the features
engine's backend, with the exclusions that found rows (unknown accounts, events after
``data_end``, exact copies): the same rows and values as the pandas loader's events (stage
00's observation table is built from it in every ``pipeline_run`` of the test session).
"""

from __future__ import annotations

import warnings

import ibis
import pandas as pd
import pytest

from churnlab.data import load_event_logs
from tests.observations.reference import synthetic

DATA_END = "2025-12-31"


def _files(tmp_path, fmt: str, *, broken: bool = True):
    accounts, subs, events = synthetic(n_accounts=40, n_events=4000 if broken else 300, seed=23)
    extra = pd.concat(
        [
            events.iloc[[3, 3, 10]],  # exact copies of earlier rows (one of them twice)
            events.iloc[[5]].assign(account_id="NOT_AN_ACCOUNT"),
            events.iloc[[7]].assign(timestamp=pd.Timestamp("2026-02-01 10:00")),  # after the end
        ]
    )
    if broken:
        events = pd.concat([events, extra], ignore_index=True)
    paths = {}
    for name, frame in {"accounts": accounts, "subscriptions": subs, "events": events}.items():
        paths[name] = tmp_path / f"{name}.{fmt.split('_')[0]}"
        if fmt == "csv":
            frame.to_csv(paths[name], index=False)
        else:  # parquet_ns: pandas' default, nanoseconds
            frame.to_parquet(paths[name], index=False)
    return paths


def test_the_table_from_the_event_source_equals_the_pandas_one(tmp_path):
    paths = _files(tmp_path, "csv")  # text: every column typed on the way
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, ref_health = load_event_logs(*paths.values(), data_end=DATA_END)
        scan_con = ibis.duckdb.connect()
        data, health = load_event_logs(*paths.values(), data_end=DATA_END, events_con=scan_con)
    scan_con.disconnect()  # the source reads the file again: the scan's connection is gone
    assert health.rejected == ref_health.rejected
    assert set(data.events_source.drops) == {"unknown", "late", "copies"}
    con = ibis.duckdb.connect()
    got = data.events_source.on(con).to_pyarrow().to_pandas()
    expected = ref.events.astype({"account_id": object, "event_type": object, "user_id": object})
    keys = ["account_id", "timestamp", "event_type", "user_id", "value"]
    got = got.astype({"timestamp": "datetime64[ns]"}).sort_values(keys, ignore_index=True)
    expected = expected.sort_values(keys, ignore_index=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    # the driver's few events (onboarding, touches) come back typed as the loader's
    few = data.events_source.frame(["login"])
    want = ref.events[ref.events["event_type"] == "login"].reset_index(drop=True)
    assert len(few) == len(want) and few["timestamp"].dtype == "datetime64[ns]"
    assert few["account_id"].tolist() == want["account_id"].astype(str).tolist()


@pytest.mark.xdist_group("spark")
def test_spark_reads_the_validated_events_itself(tmp_path, spark):
    # pandas writes nanosecond timestamps, which Spark 4 refuses: a microsecond copy
    # written by DuckDB is what Spark reads (the values are whole seconds: no loss). A
    # clean file (no exclusions): Spark's cost here is per query, kept to one
    paths = _files(tmp_path, "parquet_ns", broken=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data, _ = load_event_logs(
            *paths.values(), data_end=DATA_END, events_con=ibis.duckdb.connect()
        )
    on_duckdb = data.events_source.on(ibis.duckdb.connect()).to_pyarrow().to_pandas()
    on_spark = data.events_source.on(ibis.pyspark.connect(spark)).to_pyarrow().to_pandas()
    keys = ["account_id", "timestamp", "event_type", "user_id", "value"]
    pd.testing.assert_frame_equal(
        on_spark.sort_values(keys, ignore_index=True),
        on_duckdb.sort_values(keys, ignore_index=True),
        check_dtype=False,
    )
