"""The features engine's internals: bounded DuckDB, staged tables, packed counts.

Behaviour against the plain-pandas reference is tested in ``tests/observations/test_features.py``;
these tests pin how the fenced engine (``churnlab.observations._engine``) gets there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.observations import build_observation_table
from churnlab.observations._engine import build as engine
from tests.observations.reference import EVENT_TYPES, small_case

_SMALL, _SPINE, _BASE = small_case()


def _record_stages(monkeypatch, con) -> list[str]:
    """Names of the tables the engine creates on ``con`` (its stages), in order."""
    created: list[str] = []
    real_create = type(con).create_table

    def spy(self, name, *args, **kwargs):
        created.append(name)
        return real_create(self, name, *args, **kwargs)

    monkeypatch.setattr(type(con), "create_table", spy)
    return created


def test_default_duckdb_connection_is_bounded():
    """Without ``con`` the engine opens DuckDB with DUCKDB_CONFIG (threads, memory, spill dir)."""
    backend = engine._backend(None, [pd.DataFrame({"a": [1]})])
    threads, order, temp = backend.con.execute(
        "SELECT current_setting('threads'), current_setting('preserve_insertion_order'), "
        "current_setting('temp_directory')"
    ).fetchone()
    # features.duckdb.threads defaults to the CPU count, at most 2
    assert threads == engine.DUCKDB_CONFIG["threads"] and 1 <= threads <= 2
    assert order is False
    assert temp == engine.DUCKDB_CONFIG["temp_directory"]


def _temporary_tables(con) -> list[str]:
    rows = con.con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    return [name for (name,) in rows]


def test_stage_tables_are_dropped_after_the_fetch_and_after_a_failure(monkeypatch):
    import ibis

    con = ibis.duckdb.connect()
    created = _record_stages(monkeypatch, con)
    table = build_observation_table(*_SMALL, _SPINE, event_types=EVENT_TYPES, con=con)
    assert len(table) == len(_BASE)
    # the counts, user presence, sparse events and running values were staged ...
    assert len(created) >= 4 and all(n.startswith("_churnlab_stage_") for n in created)
    # ... and none is left on the caller's connection
    assert _temporary_tables(con) == []

    # a failure in the final query, once the stages exist, drops them too
    staged_before = len(created)
    real_fetch = type(con).to_pyarrow

    def fetch(self, *args, **kwargs):
        if len(created) > staged_before:
            raise RuntimeError("fetch failed")
        return real_fetch(self, *args, **kwargs)

    monkeypatch.setattr(type(con), "to_pyarrow", fetch)
    with pytest.raises(RuntimeError, match="fetch failed"):
        build_observation_table(*_SMALL, _SPINE, event_types=EVENT_TYPES, con=con)
    assert len(created) > staged_before
    assert _temporary_tables(con) == []


def test_counts_filling_a_packed_field_decode_exactly():
    """The busiest account has 2**6 - 1 events: 6-bit fields, filled to the top, stay exact."""
    as_of = pd.Timestamp("2026-03-31")
    n = 63
    busy = pd.DataFrame(
        {
            "account_id": "A",
            "timestamp": pd.Timestamp("2026-03-24") + pd.to_timedelta(np.arange(n) % 7, "D"),
            "event_type": "login",
            "user_id": [f"u{i % 3}" for i in range(n)],
        }
    )
    quiet = pd.DataFrame(
        {
            "account_id": "B",
            "timestamp": pd.to_datetime(["2026-03-30", "2026-01-15", "2026-03-02"]),
            "event_type": ["feature_api", "feature_api", "ticket_opened"],
            "user_id": None,
        }
    )
    events = pd.concat([busy, quiet], ignore_index=True)
    subs = pd.DataFrame(
        {
            "account_id": ["A", "B"],
            "start_date": [pd.Timestamp("2025-01-01")] * 2,
            "end_date": [pd.NaT, pd.NaT],
            "mrr": [10.0, 20.0],
        }
    )
    spine = pd.DataFrame({"account_id": ["A", "B"], "as_of": [as_of, as_of]})
    accounts = pd.DataFrame({"account_id": ["A", "B"]})
    types = ["login", "feature_api", "ticket_opened"]
    table = build_observation_table(accounts, subs, events, spine, event_types=types)
    a, b = table.set_index("account_id").loc["A"], table.set_index("account_id").loc["B"]
    assert (a.logins_7d, a.logins_28d, a.logins_90d) == (63, 63, 63)
    assert (a.active_users_7d, a.active_users_90d, a.logins_trend_28d) == (3, 3, 63.0)
    assert (a.feature_api_90d, a.tickets_opened_90d, a.adoption_breadth_90d) == (0, 0, 0)
    assert (b.logins_90d, b.active_users_90d) == (0, 0)
    assert (b.feature_api_7d, b.feature_api_28d, b.feature_api_90d) == (1, 1, 2)
    assert (b.adoption_breadth_7d, b.adoption_breadth_90d, b.tickets_opened_90d) == (1, 1, 1)
    assert b.open_ticket_backlog == 1

    from churnlab.observations._engine.events import Packing

    fields = [f"c{i}" for i in range(6)] + ["au7", "au28", "au90", "br7", "br28", "br90"]
    packing = Packing(fields, max_events_per_account=n)
    assert packing.bits == 6 and len(packing.words) == 2  # 8 six-bit fields per 52-bit word


def test_a_busy_account_far_beyond_the_mean_is_counted_in_one_pass(monkeypatch):
    # the packed fields are sized from the busiest account's event count; one account
    # with far more events than the mean must still be counted exactly
    import ibis

    as_of = pd.Timestamp("2026-04-01")
    quiet = pd.DataFrame(
        {
            "account_id": [f"Q{i:02d}" for i in range(40)],
            "timestamp": pd.Timestamp("2026-03-20"),
            "event_type": "login",
            "user_id": "u",
        }
    )
    # mean ~245 events: a guess of 4x that, widened to 13 bits (7 fields in 2 words);
    # 9000 logins do not fit in 13 bits
    n_busy = 10000
    busy = pd.DataFrame(
        {
            "account_id": "BUSY",
            "timestamp": as_of - pd.to_timedelta(np.arange(n_busy) % 80 + 1, unit="D"),
            "event_type": np.where(np.arange(n_busy) % 10 == 0, "feature_api", "login"),
            "user_id": [f"u{i % 7}" for i in range(n_busy)],
        }
    )
    events = pd.concat([quiet, busy], ignore_index=True)
    ids = [*quiet.account_id, "BUSY"]
    accounts = pd.DataFrame({"account_id": ids})
    subs = pd.DataFrame(
        {
            "account_id": ids,
            "start_date": pd.Timestamp("2025-01-01"),
            "end_date": pd.NaT,
            "mrr": 10.0,
        }
    )
    spine = pd.DataFrame({"account_id": ids, "as_of": as_of})
    con = ibis.duckdb.connect()
    staged = _record_stages(monkeypatch, con)
    table = build_observation_table(
        accounts, subs, events, spine, event_types=["login", "feature_api"], con=con
    )
    row = table.set_index("account_id").loc["BUSY"]
    logins, api = busy.event_type.eq("login").sum(), busy.event_type.eq("feature_api").sum()
    assert (row.logins_90d, row.feature_api_90d) == (logins, api)  # 9000 and 1000
    assert (row.active_users_90d, row.adoption_breadth_90d) == (7, 1)
    assert table.set_index("account_id").loc["Q00"].logins_7d == 0  # 03-20 is 12 days back
    assert table.set_index("account_id").loc["Q00"].logins_28d == 1
    # ids, counts, sparse events, user presence, running values: the bound of the packed
    # counts is the busiest account's exact count (#21), so the counts are not built twice
    # (a guess of 4x the mean, 13 bits, would not hold its 9000 logins)
    assert len(staged) == 5
    assert _temporary_tables(con) == []


def test_packing_fits_float64_exactly_and_refuses_what_would_not():
    from churnlab.observations._engine.events import Packing

    for bits in range(1, 53):
        packing = Packing([f"f{i}" for i in range(60)], max_events_per_account=2**bits - 1)
        assert packing.bits == bits
        assert max(packing.shift.values()) + bits <= 52
    with pytest.raises(ValueError, match="2\\*\\*52"):
        Packing(["f0"], max_events_per_account=2**52)


def test_packed_running_sums_decode_at_the_top_of_the_range():
    """13-bit fields, four to a 52-bit word, running values up to 2**13 - 1, negative deltas."""
    import ibis

    from churnlab.observations._engine.events import Packing

    top = 2**13 - 1
    fields = [f"f{i}" for i in range(8)]
    packing = Packing(fields, max_events_per_account=top)
    assert packing.bits == 13 and len(packing.words) == 2
    rng = np.random.default_rng(0)
    # per-row deltas whose running sums climb to the top of the field, then fall back
    up = rng.multinomial(top, [1 / 6] * 6, size=len(fields)).T
    deltas = np.vstack([up, -up[:3], [[0] * len(fields)]])
    running = deltas.cumsum(axis=0)
    assert running.max() == top and running.min() >= 0 and (deltas < 0).any()
    frame = pd.DataFrame(deltas, columns=fields).assign(k=np.arange(len(deltas)))
    t = ibis.memtable(frame)
    packed = t.select("k", **packing.pack({f: t[f] for f in fields}))
    window = ibis.cumulative_window(order_by="k")
    cum = packed.select(
        "k", **{w: packed[w].sum().over(window).cast("int64") for w in packing.words}
    )
    decoded = cum.select(
        "k", **{f: packing.unpack(cum[packing.word_of[f]], f) for f in fields}
    ).order_by("k")
    got = ibis.duckdb.connect().execute(decoded)[fields].to_numpy()
    np.testing.assert_array_equal(got, running)
