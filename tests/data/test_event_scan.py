"""The event log checked on the backend (#19): same rules, counts and messages as pandas.

Each case loads the same files twice, with pandas (the reference: ``tests/data/test_data.py``
pins its behaviour) and with ``events_con`` (the events read and checked by DuckDB through
Ibis, never a pandas frame), and requires the same health summary, the same warnings and
errors word for word, and the same kept events.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import ibis
import pandas as pd
import pytest

from churnlab.data import load_event_logs
from churnlab.errors import DataError

FIX = Path(__file__).parent / "fixtures" / "data"
GOOD = {t: FIX / "good" / f"{t}.csv" for t in ("accounts", "subscriptions", "events")}
WARN = {t: FIX / "warn" / f"{t}.csv" for t in ("accounts", "subscriptions", "events")}


def _both(paths: dict[str, Path], **kw):
    """(pandas result, engine result) of loading ``paths``; warnings silenced."""
    out = []
    for con in (None, ibis.duckdb.connect()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out.append(load_event_logs(*paths.values(), events_con=con, **kw))
    return out


def assert_same(reference, engine) -> None:
    (d1, h1), (d2, h2) = reference, engine
    assert isinstance(d2.events, ibis.Table)  # never a pandas frame
    assert h2.tables == h1.tables
    assert h2.rejected == h1.rejected and h2.flagged == h1.flagged
    assert sorted(h2.warnings) == sorted(h1.warnings)  # word for word
    assert h2.notes == h1.notes
    events = d2.events.to_pandas()
    expected = d1.events.reset_index(drop=True)
    assert list(events.columns) == list(expected.columns)
    events["timestamp"] = events["timestamp"].astype("datetime64[ns]")
    for column in ("account_id", "event_type", "user_id"):  # categorical in, text out
        expected[column] = expected[column].astype(object)
    pd.testing.assert_frame_equal(events, expected, check_dtype=False)
    pd.testing.assert_frame_equal(d2.accounts, d1.accounts)
    pd.testing.assert_frame_equal(d2.subscriptions, d1.subscriptions)


@pytest.mark.parametrize(
    ("paths", "kw"),
    [(GOOD, {"data_end": "2026-10-31"}), (WARN, {}), (WARN, {"data_end": "2026-06-30"})],
    ids=["good", "warn", "warn-data-end"],
)
def test_fixtures_give_the_same_health_and_events(paths, kw):
    assert_same(*_both(paths, **kw))


def test_kept_copies_are_flagged_the_same(tmp_path):
    events = pd.read_csv(GOOD["events"], dtype=str)
    events = pd.concat([events, events.iloc[[1, 3]]], ignore_index=True)
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    for keep in ("keep", "exclude"):
        reference, engine = _both({**GOOD, "events": path}, duplicate_events=keep)
        assert_same(reference, engine)
        reason = ("events", "exact copies of an earlier row")
        assert (reference[1].flagged if keep == "keep" else reference[1].rejected)[reason] == 2


@pytest.mark.parametrize(
    "fixture", ["events_bad_timestamp", "events_nps_out_of_range", "events_missing_account"]
)
def test_each_broken_rule_raises_the_same_message(fixture):
    paths = {**GOOD, "events": FIX / "bad" / f"{fixture}.csv"}
    errors = []
    for con in (None, ibis.duckdb.connect()):
        with pytest.raises(DataError) as info:
            load_event_logs(*paths.values(), events_con=con)
        errors.append(info.value)
    assert str(errors[1]) == str(errors[0])
    assert errors[1].count == errors[0].count
    assert errors[1].rows.index.tolist() == errors[0].rows.index.tolist()


def test_typed_parquet_with_offsets_integer_ids_and_a_mapped_column(tmp_path):
    events = pd.DataFrame(
        {
            "acct": pd.array([1, 2, 2, 1], dtype="Int64"),
            "timestamp": [
                "2026-03-01T10:00:00+02:00",
                "2026-03-02 09:30:00",
                "2026-03-03T00:00:00Z",
                "2026-03-04",
            ],
            "event_type": ["login", "nps_response", "login", "login"],
            "value": [None, 9.0, None, None],
        }
    )
    frames = {
        "accounts": pd.DataFrame({"account_id": ["1", "2"], "name": ["A", "B"]}),
        "subscriptions": pd.DataFrame(
            {
                "account_id": ["1", "2"],
                "start_date": ["2026-01-01"] * 2,
                "end_date": [None] * 2,
                "mrr": [10.0, 5.0],
            }
        ),  # fmt: skip
        "events": events,
    }
    paths = {}
    for name, frame in frames.items():
        paths[name] = tmp_path / f"{name}.parquet"
        frame.to_parquet(paths[name], index=False)
    reference, engine = _both(paths, columns={"events": {"account_id": "acct"}})
    assert_same(reference, engine)
    assert engine[1].notes  # the time-zone note, as pandas words it


def test_a_missing_required_column_is_named_the_same(tmp_path):
    events = pd.read_csv(GOOD["events"], dtype=str).drop(columns="event_type")
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    errors = []
    for con in (None, ibis.duckdb.connect()):
        with pytest.raises(DataError) as info:
            load_event_logs(*{**GOOD, "events": path}.values(), events_con=con)
        errors.append(str(info.value))
    assert errors[1] == errors[0] and "event_type" in errors[0]


def test_stage_00_checks_the_sample_on_duckdb_as_written(pipeline_run, sample_dir):
    # stage 00 loads with the events on DuckDB (churnlab.run.steps.event_inputs); the
    # pandas loader keeps every row of the sample (test_generated_sample_loads_cleanly),
    # so must the engine, with the file's own numbers (read apart, without the loader)
    import json

    health = json.loads(pipeline_run.data_health.read_text())
    written = pd.read_parquet(sample_dir / "events.parquet", columns=["event_type"])
    assert health["row_counts"]["events"] == {"read": len(written), "kept": len(written)}
    assert not health["rejected_rows"] and not health["errors"]
    assert health["event_types"] == sorted(written["event_type"].astype(str).unique())


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_padded_and_blank_ids_are_trimmed_the_same_and_clean_ones_read_as_they_are(
    tmp_path, suffix
):
    """#21: id columns are trimmed only when a value needs it (``clean_texts``)."""
    from churnlab.data._event_read import CLEAN, clean_texts, read_events

    events = pd.read_csv(GOOD["events"], dtype=str)
    events.loc[0, "account_id"] = f" {events.loc[0, 'account_id']} "
    events.loc[1, "event_type"] = f"{events.loc[1, 'event_type']}\t"
    events.loc[2, "user_id"] = ""
    events.loc[3, "user_id"] = "   "
    paths = {}
    for name, path in GOOD.items():
        frame = events if name == "events" else pd.read_csv(path, dtype=str)
        paths[name] = tmp_path / f"{name}.{suffix}"
        if suffix == "csv":
            frame.to_csv(paths[name], index=False)
        else:
            frame.to_parquet(paths[name], index=False)
    assert_same(*_both(paths, data_end="2026-10-31"))
    con = ibis.duckdb.connect()
    found = clean_texts(read_events(con, paths["events"]), ["account_id", "event_type", "user_id"])
    assert found == {f"{c}{CLEAN}": False for c in ("account_id", "event_type", "user_id")}
    found = clean_texts(read_events(con, GOOD["events"]), ["account_id", "event_type", "user_id"])
    assert all(found.values())
