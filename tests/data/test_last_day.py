"""``data.as_of: auto``: the data's last day, read from the event-log files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from churnlab.cli import app
from churnlab.config import load_params
from churnlab.data import last_day
from churnlab.errors import DataError
from churnlab.run.steps.context import data_end_warning, resolve_data_end

ROOT = Path(__file__).resolve().parents[2]
GOOD = Path(__file__).parent / "fixtures" / "data" / "good"
SUBSCRIPTIONS = "subscription_id,account_id,start_date,end_date,mrr\n"


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _files(tmp_path: Path, subscriptions: str, events: str) -> tuple[Path, Path]:
    return (
        _csv(tmp_path / "subscriptions.csv", subscriptions),
        _csv(tmp_path / "events.csv", events),
    )


def test_timestamps_with_an_offset_count_in_utc(tmp_path):
    subs, events = _files(
        tmp_path,
        SUBSCRIPTIONS + "S1,A1,2026-01-01,,100\n",
        "account_id,timestamp\n"
        "A1,2026-10-30 12:00:00\n"
        "A1,2026-10-31T23:30:00-02:00\n"  # 2026-11-01 01:30 in UTC
        "A1,2026-10-31T10:00:00Z\n",
    )
    assert last_day(subs, events) == dt.date(2026, 11, 1)
    _csv(events, "account_id,timestamp\nA1,2026-11-01T01:00:00+02:00\nA1,2026-10-30\n")
    assert last_day(subs, events) == dt.date(2026, 10, 31)  # 2026-10-31 23:00 in UTC


def test_a_later_subscription_start_wins_and_end_dates_do_not_count(tmp_path):
    subs, events = _files(
        tmp_path,
        SUBSCRIPTIONS + "S1,A1,2026-01-01,2027-12-31,100\nS2,A2,2026-11-15,2028-01-01,50\n",
        "account_id,timestamp\nA1,2026-10-31 08:00:00\nA2,2026-11-02 08:00:00\n",
    )
    assert last_day(subs, events) == dt.date(2026, 11, 15)
    _csv(subs, SUBSCRIPTIONS + "S1,A1,2026-01-01,2099-12-31,100\n")  # a contract running on
    assert last_day(subs, events) == dt.date(2026, 11, 2)


def test_mapped_column_names_are_read(tmp_path):
    subs, events = _files(
        tmp_path,
        "id,customer,begin,stop,mrr\nS1,A1,2026-03-01,,100\n",
        "customer,ts,kind\nA1,2026-04-30 22:00:00,login\nA1,2026-02-01 10:00:00,login\n",
    )
    columns = {
        "subscriptions": {"start_date": "begin", "account_id": "customer"},
        "events": {"timestamp": "ts", "account_id": "customer"},
        "accounts": {},
    }
    assert last_day(subs, events, columns=columns) == dt.date(2026, 4, 30)


def test_a_missing_column_names_the_file_and_the_closest_column(tmp_path):
    subs, events = _files(
        tmp_path,
        SUBSCRIPTIONS + "S1,A1,2026-03-01,,100\n",
        "account_id,time_stamp\nA1,2026-04-30\n",
    )
    with pytest.raises(DataError) as info:
        last_day(subs, events)
    error = info.value
    assert error.file == str(events) and error.column == "timestamp"
    assert "did you mean 'time_stamp'?" in str(error)
    assert "data.columns.events.timestamp" in str(error)
    # a mapping that names a column the file does not have
    with pytest.raises(DataError) as info:
        last_day(subs, events, columns={"events": {"timestamp": "time_stmp"}})
    assert info.value.file == str(events) and info.value.column == "time_stmp"
    assert "did you mean 'time_stamp'?" in str(info.value)
    assert "fix data.columns.events.timestamp" in str(info.value)


def test_unparseable_cells_are_left_to_the_full_check(tmp_path):
    subs, events = _files(
        tmp_path,
        SUBSCRIPTIONS + "S1,A1,someday,,100\nS2,A1,2026-02-01,,100\n",
        "account_id,timestamp\n"
        "A1,2026-09-30 10:00:00\n"
        "A1,not a date\n"
        "A1,12/31/2026\n"  # not ISO 8601: never guessed
        "A1,2026-13-45\n"
        "A1,\n",
    )
    assert last_day(subs, events) == dt.date(2026, 9, 30)


def test_files_without_any_date_are_an_error(tmp_path):
    subs, events = _files(
        tmp_path,
        SUBSCRIPTIONS + "S1,A1,soon,,100\n",
        "account_id,timestamp\nA1,yesterday\n",
    )
    with pytest.raises(DataError, match="hold no parseable start_date or timestamp"):
        last_day(subs, events)
    with pytest.raises(DataError, match="does not exist"):
        last_day(tmp_path / "missing.csv", events)


def test_parquet_with_time_zone_aware_timestamps(tmp_path):
    pd.DataFrame({"account_id": ["A1"], "start_date": pd.to_datetime(["2026-05-01"])}).to_parquet(
        tmp_path / "subscriptions.parquet"
    )
    pd.DataFrame(
        {
            "account_id": ["A1", "A1"],
            "timestamp": pd.to_datetime(["2026-06-30 23:30", "2026-06-01 00:00"]).tz_localize(
                "America/Sao_Paulo"
            ),
        }
    ).to_parquet(tmp_path / "events.parquet")
    got = last_day(tmp_path / "subscriptions.parquet", tmp_path / "events.parquet")
    assert got == dt.date(2026, 7, 1)  # 23:30 at UTC-3 is 02:30 UTC the next day


# -- the params side: resolve_data_end and data_end_warning ----------------------------------


def _good_params(*overrides: str):
    return load_params(
        ROOT / "params.yaml",
        overrides=[
            f"data.accounts={GOOD / 'accounts.csv'}",
            f"data.subscriptions={GOOD / 'subscriptions.csv'}",
            f"data.events={GOOD / 'events.csv'}",
            *overrides,
        ],
    )


def test_resolve_data_end_reads_the_day_from_the_files():
    cfg = _good_params()
    assert cfg.data.as_of == "auto"
    resolved = resolve_data_end(cfg)
    assert resolved.data.as_of == dt.date(2026, 6, 10)  # the good fixture's latest event
    assert resolved.data_end() == dt.date(2026, 6, 10)
    assert resolved.scoring_as_of() == dt.date(2026, 5, 31)  # observation.as_of auto
    assert cfg.data.as_of == "auto"  # a copy: the params given are not changed
    assert resolve_data_end(resolved) == resolved


def test_resolve_data_end_keeps_a_date_given_and_reads_no_file(tmp_path):
    cfg = load_params(
        ROOT / "params.yaml",
        overrides=[
            f"data.subscriptions={tmp_path / 'missing.csv'}",
            f"data.events={tmp_path / 'missing.csv'}",
            "data.as_of=2026-03-15",
        ],
    )
    assert resolve_data_end(cfg).data.as_of == dt.date(2026, 3, 15)


def test_resolve_data_end_names_an_unreadable_file(tmp_path):
    cfg = _good_params(f"data.events={tmp_path / 'missing.csv'}")
    with pytest.raises(DataError, match="missing.csv"):
        resolve_data_end(cfg)


def test_a_last_day_after_today_is_kept_and_warned_about():
    cfg = resolve_data_end(_good_params())
    message = data_end_warning(cfg, today=dt.date(2026, 6, 9))
    assert message is not None
    assert "2026-06-10" in message and "2026-06-09" in message and "clock" in message
    assert data_end_warning(cfg, today=dt.date(2026, 6, 10)) is None  # the same day is fine
    assert data_end_warning(cfg, today=dt.date(2026, 7, 1)) is None
    assert cfg.data_end() == dt.date(2026, 6, 10)  # results never depend on the clock


def test_validate_reads_data_as_of_from_the_files():
    args = ["validate", "--params-file", str(ROOT / "params.yaml")]
    for table in ("accounts", "subscriptions", "events"):
        args += ["-p", f"data.{table}={GOOD / f'{table}.csv'}"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "data ends on 2026-06-10 (data.as_of, auto" in result.stdout
    assert "scoring date 2026-05-31" in result.stdout
    explicit = CliRunner().invoke(app, [*args, "-p", "data.as_of=2026-06-15"])
    assert explicit.exit_code == 0, explicit.output
    assert "data ends on 2026-06-15 (data.as_of, set)" in explicit.stdout
    # weeks after the files end: each table is said to end early
    later = CliRunner().invoke(app, [*args, "-p", "data.as_of=2026-06-30"])
    assert later.exit_code == 0, later.output
    assert "warning: The events table ends on" in later.stdout
    # a date well after the files end would read the days between as silence: refused
    beyond = CliRunner().invoke(app, [*args, "-p", "data.as_of=2026-08-15"])
    assert beyond.exit_code == 2, beyond.output
    assert "data.as_of = 2026-08-15 is after the data" in beyond.output
    assert "the latest event or subscription start in the files is on 2026-06-10" in beyond.output


def test_a_table_that_ends_early_is_a_warning(tmp_path):
    """A failed export job: the events stop weeks before the subscriptions."""
    import pandas as pd

    events = pd.read_csv(GOOD / "events.csv", dtype=str)
    subs = pd.read_csv(GOOD / "subscriptions.csv", dtype=str)
    late = subs.iloc[[0]].assign(subscription_id="S99", start_date="2026-07-20", end_date="")
    pd.concat([subs, late]).to_csv(tmp_path / "subscriptions.csv", index=False)
    events.to_csv(tmp_path / "events.csv", index=False)
    args = ["validate", "--params-file", str(ROOT / "params.yaml")]
    args += ["-p", f"data.accounts={GOOD / 'accounts.csv'}"]
    args += ["-p", f"data.subscriptions={tmp_path / 'subscriptions.csv'}"]
    args += ["-p", f"data.events={tmp_path / 'events.csv'}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    latest_event = pd.to_datetime(events["timestamp"], format="ISO8601", utc=True).max()
    gap = (pd.Timestamp("2026-07-20") - latest_event.tz_localize(None).normalize()).days
    assert f"warning: The events table ends on {latest_event.date()}, {gap} days before" in (
        " ".join(result.stdout.split())
    )
