"""The features engine on Spark builds the same observation table as on DuckDB (#19).

One build per backend of a small generated sample plus accounts made for the corners:
duplicate timestamps, a grace gap with months without events, no events at all, events
exactly at ``as_of`` and on window boundaries. Every column must agree to 1e-9, with
nulls in the same places. The Spark tests share one session (``conftest.spark``) and one
xdist worker.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from churnlab.errors import UsageError
from churnlab.observations import build_observation_table
from churnlab.observations._engine import backend
from tests.observations.reference import EVENT_TYPES, RATIOS, small_case, spine_of, synthetic

AS_OF = pd.Timestamp("2025-09-30")
SPINE_DATES = [pd.Timestamp("2025-06-30"), AS_OF]
MID_MONTH = pd.Timestamp("2025-08-15")  # a renewal-like checkpoint: not a month end

spark_group = pytest.mark.xdist_group("spark")


def _edge_accounts() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Four accounts for the corners; their subscriptions start 2025-01-01."""
    ids = ["E_DUP", "E_GAP", "E_NONE", "E_EDGE"]
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "name": ids,
            "industry": "tech",
            "region": "emea",
            "plan": "growth",
            "acquisition_channel": "inbound",
            "csm_owner": "ann",
        }
    )
    start = pd.Timestamp("2025-01-01")
    subs = pd.DataFrame(
        {
            "account_id": ["E_DUP", "E_GAP", "E_GAP", "E_NONE", "E_EDGE"],
            "start_date": [start, start, pd.Timestamp("2025-05-20"), start, start],
            "end_date": [pd.NaT, pd.Timestamp("2025-05-01"), pd.NaT, pd.NaT, pd.NaT],
            "mrr": [500.0, 1200.0, 1300.0, 80.0, 6000.0],
            "seats": [5, 10, 10, 0, 40],
            "plan": "growth",
            "billing_period_months": [1, 12, 12, 1, 12],
        }
    )
    subs.insert(0, "subscription_id", [f"E{i}" for i in range(len(subs))])
    t = pd.Timestamp
    rows = [
        # same instant, several rows: two users and one user twice, two NPS answers
        # (the highest wins), two resolved tickets, a feature used twice
        ("E_DUP", t("2025-09-20 10:00"), "login", np.nan, "u1"),
        ("E_DUP", t("2025-09-20 10:00"), "login", np.nan, "u1"),
        ("E_DUP", t("2025-09-20 10:00"), "login", np.nan, "u2"),
        ("E_DUP", t("2025-09-20 10:00"), "nps_response", 3.0, None),
        ("E_DUP", t("2025-09-20 10:00"), "nps_response", 9.0, None),
        ("E_DUP", t("2025-09-20 10:00"), "ticket_resolved", 2.0, None),
        ("E_DUP", t("2025-09-20 10:00"), "ticket_resolved", 4.0, None),
        ("E_DUP", t("2025-09-20 10:00"), "feature_api", np.nan, "u1"),
        ("E_DUP", t("2025-09-20 10:00"), "feature_api", np.nan, "u1"),
        ("E_DUP", t("2025-03-02 08:00"), "onboarding_completed", np.nan, None),
        # long silences: events early in the year and again in September only
        ("E_GAP", t("2025-01-15 09:00"), "login", np.nan, "g1"),
        ("E_GAP", t("2025-02-01 09:00"), "ticket_opened", np.nan, None),
        ("E_GAP", t("2025-09-10 09:00"), "login", np.nan, "g2"),
        ("E_GAP", t("2025-09-10 09:00"), "qbr", np.nan, None),
        # exactly at as_of (never counted), on window boundaries, a microsecond before
        ("E_EDGE", AS_OF, "login", np.nan, "x1"),
        ("E_EDGE", AS_OF, "nps_response", 0.0, None),
        ("E_EDGE", AS_OF, "onboarding_completed", np.nan, None),
        ("E_EDGE", AS_OF - pd.Timedelta(microseconds=1), "login", np.nan, "x2"),
        ("E_EDGE", AS_OF - pd.Timedelta(days=7), "login", np.nan, "x3"),
        ("E_EDGE", AS_OF - pd.Timedelta(days=28), "login", np.nan, "x4"),
        ("E_EDGE", AS_OF - pd.Timedelta(days=90), "ticket_resolved", 5.0, None),
        ("E_EDGE", AS_OF - pd.Timedelta(days=91), "nps_response", 8.0, None),
        ("E_EDGE", MID_MONTH, "login", np.nan, "x5"),
        ("E_EDGE", t("2025-04-01"), "first_value", np.nan, None),
    ]
    events = pd.DataFrame(
        rows, columns=["account_id", "timestamp", "event_type", "value", "user_id"]
    )
    return accounts, subs, events


@functools.cache
def _case() -> tuple[tuple[pd.DataFrame, ...], pd.DataFrame]:
    """The sample (60 accounts, 5000 events) plus the corner accounts, and the spine."""
    accounts, subs, events = synthetic(n_accounts=60, n_events=5000, seed=19)
    # Spark keeps microseconds: the generator's whole seconds are exact on both
    edges = _edge_accounts()
    inputs = tuple(
        pd.concat([a, b], ignore_index=True)
        for a, b in zip((accounts, subs, events), edges, strict=True)
    )
    subs_all = inputs[1].astype({"end_date": "datetime64[ns]"})
    spine = spine_of(subs_all, SPINE_DATES)
    extra = pd.DataFrame(
        {"account_id": ["E_EDGE", "E_GAP"], "as_of": MID_MONTH, "checkpoint": "renewal"}
    )
    spine = pd.concat([spine, extra], ignore_index=True)
    return (inputs[0], subs_all, inputs[2]), spine


def _build(con=None) -> pd.DataFrame:
    inputs, spine = _case()
    return build_observation_table(*inputs, spine, event_types=EVENT_TYPES, ratios=RATIOS, con=con)


@functools.cache
def _duckdb_table() -> pd.DataFrame:
    return _build()


@spark_group
def test_spark_builds_the_duckdb_table_column_for_column(spark):
    import ibis

    duck = _duckdb_table()
    on_spark = _build(ibis.pyspark.connect(spark))
    # the same rows in the same canonical order, the same columns and dtypes
    assert list(on_spark.columns) == list(duck.columns)
    pd.testing.assert_frame_equal(
        on_spark[["as_of", "account_id", "checkpoint"]], duck[["as_of", "account_id", "checkpoint"]]
    )
    # every column to 1e-9, nulls exactly where DuckDB has them
    for column in duck.columns:
        left, right = on_spark[column], duck[column]
        assert left.isna().equals(right.isna()), f"{column}: nulls differ"
        if pd.api.types.is_float_dtype(right):
            diff = np.abs(left.to_numpy() - right.to_numpy())
            assert np.nanmax(diff, initial=0.0) <= 1e-9, f"{column}: differs by {np.nanmax(diff)}"
    pd.testing.assert_frame_equal(on_spark, duck, check_exact=False, rtol=0, atol=1e-9)
    # no staged view is left in the session
    assert not [t for t in spark.catalog.listTables() if t.name.startswith("_churnlab_stage_")]


def test_the_corner_accounts_have_the_values_worked_by_hand():
    """What the parity above compares is right on DuckDB (hand-worked, not from the engine)."""
    table = _duckdb_table().set_index(["account_id", "as_of"])
    dup = table.loc[("E_DUP", AS_OF)]
    assert dup["logins_28d"] == 3 and dup["active_users_28d"] == 2
    assert dup["last_nps"] == 9 and dup["nps_category"] == "promoter"
    assert dup["median_resolution_days_90d"] == 3.0 and dup["feature_api_7d"] == 0
    assert dup["feature_api_28d"] == 2 and dup["adoption_breadth_28d"] == 1
    edge = table.loc[("E_EDGE", AS_OF)]
    # as_of itself is out; as_of - 7 days is the first day of the 7-day window
    assert edge["logins_7d"] == 2 and edge["logins_28d"] == 3 and edge["logins_90d"] == 4
    assert edge["days_since_last_login"] == 1
    assert edge["last_nps"] == 8 and edge["onboarding_completed"] == 0
    assert edge["median_resolution_days_90d"] == 5.0
    assert edge["time_to_value_days"] == 90
    mid = table.loc[("E_EDGE", MID_MONTH)]
    assert mid["logins_7d"] == 0 and mid["checkpoint"] == "renewal"
    none = table.loc[("E_NONE", AS_OF)]
    assert none["logins_90d"] == 0 and np.isnan(none["days_since_last_login"])
    assert np.isnan(none["last_nps"]) and none["nps_category"] == "none"
    assert np.isnan(none["seat_utilisation_28d"])  # no seats: no utilisation
    gap = table.loc[("E_GAP", pd.Timestamp("2025-06-30"))]
    assert gap["logins_90d"] == 0 and gap["days_since_last_login"] == 166
    assert gap["open_ticket_backlog"] == 1


def test_spark_without_pyspark_or_java_is_refused_by_name(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyspark(name, *args, **kwargs):
        if name == "pyspark" or name.startswith("pyspark."):
            raise ImportError("No module named 'pyspark'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    with pytest.raises(UsageError, match=r"pyspark is not installed.*churnlab\[spark\]"):
        backend.spark_session("local[1]", {})
    monkeypatch.setattr(builtins, "__import__", real_import)

    from pyspark.sql import SparkSession

    monkeypatch.setattr(SparkSession, "getActiveSession", staticmethod(lambda: None))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(backend, "java_version", lambda: None)
    with pytest.raises(UsageError, match=r"Java 17 or newer.*no java on the PATH"):
        backend.spark_session("local[1]", {})
    monkeypatch.setenv("JAVA_HOME", "/opt/no-such-jdk")
    with pytest.raises(UsageError, match=r"no java under JAVA_HOME \(/opt/no-such-jdk\)"):
        backend.spark_session("local[1]", {})
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setattr(backend, "java_version", lambda: 11)
    with pytest.raises(UsageError, match=r"java 11 on the PATH.*default-jre-headless"):
        backend.spark_session("local[1]", {})


def test_the_duckdb_settings_are_bounded_and_reported():
    settings = backend.default_duckdb_settings()
    limit_gb = float(settings["memory_limit"].removesuffix("GB"))
    assert 0 < limit_gb <= backend.MAX_DUCKDB_MEMORY_GB
    assert 1 <= settings["threads"] <= 2
    with backend.open_engine("duckdb", duckdb={"threads": 1, "memory_limit": "1GB"}) as (con, used):
        threads, memory = con.con.execute(
            "SELECT current_setting('threads'), current_setting('memory_limit')"
        ).fetchone()
    assert threads == 1 and used["threads"] == 1
    assert used["memory_limit"] == "1GB" and memory.startswith("953")  # 1 GB in MiB
    assert used["engine"] == "duckdb" and used["temp_directory"]


def test_the_unpacked_variant_gives_the_packed_table(monkeypatch):
    """``Engine.packed = False`` (one word per count: no shifts, no masks) changes nothing."""
    inputs, spine, packed = small_case()
    monkeypatch.setattr(backend.DuckDBEngine, "packed", False)
    unpacked = build_observation_table(*inputs, spine, event_types=EVENT_TYPES)
    pd.testing.assert_frame_equal(unpacked, packed, check_exact=True)
