"""Loading and validation of input data (churnlab.data) on hand-made fixtures and Telco."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnlab.data import (
    DataHealth,
    DataWarning,
    TableHealth,
    load_event_logs,
    load_snapshot,
    load_table,
    overlapping,
    snapshot_observations,
)
from churnlab.errors import DataError
from tests.helpers import ROOT, SAMPLE, TELCO

FIX = Path(__file__).parent / "fixtures" / "data"
GOOD = {t: FIX / "good" / f"{t}.csv" for t in ("accounts", "subscriptions", "events")}
WARN = {t: FIX / "warn" / f"{t}.csv" for t in ("accounts", "subscriptions", "events")}
TELCO_SHA256 = "16320c9c1ec72448db59aa0a26a0b95401046bef5d02fd3aeb906448e3055e91"
SNAP_KW = {
    "id_column": "id",
    "label_column": "Churn",
    "positive_value": "Yes",
    "mrr_column": "MonthlyCharges",
    "tenure_column": "tenure",
    "numeric_columns": ["TotalCharges"],
}


def _load(paths: dict[str, Path], **kw):
    return load_event_logs(paths["accounts"], paths["subscriptions"], paths["events"], **kw)


# -- good fixture: types -----------------------------------------------------------------


def test_good_fixture_loads_with_contract_dtypes():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        data, health = _load(GOOD, data_end="2026-10-31")
    acc, subs, ev = data.accounts, data.subscriptions, data.events
    assert acc["account_id"].tolist() == ["A1", "A2", "A3"]
    assert acc["signup_date"].dtype == "datetime64[ns]"
    assert acc["name"].tolist() == ["Acme <Corp>", "Beta, Inc.", "Gamma"]
    assert subs["start_date"].dtype == "datetime64[ns]"
    assert subs["end_date"].dtype == "datetime64[ns]"
    assert subs["end_date"].isna().tolist() == [False, False, False, False, True]
    assert subs["mrr"].dtype == float and subs["mrr"].tolist() == [100, 100, 500.5, 1000, 1500]
    assert subs["seats"].dtype == "int64" and subs["billing_period_months"].dtype == "int64"
    assert ev["timestamp"].dtype == "datetime64[ns]"
    # "2026-01-03T10:30:00Z" is UTC and comes back tz-naive
    assert ev.loc[1, "timestamp"] == pd.Timestamp("2026-01-03 10:30:00")
    assert ev.loc[2, "timestamp"] == pd.Timestamp("2026-02-20")
    assert ev["value"].dtype == float and ev["value"].isna().sum() == 4
    assert ev["user_id"].tolist()[:2] == ["u1", "u1"] and ev["user_id"].iloc[2] is None
    assert all(isinstance(v, str) for v in subs["account_id"])
    # the expansion (S4 ends the day S5 starts) is not an overlap; nothing rejected
    assert health.rejected == {} and health.flagged == {} and health.warnings == []
    assert not health.has_errors
    assert health.tables["events"].rows_read == 7 and health.tables["events"].rows_kept == 7
    assert health.tables["subscriptions"].first_date == pd.Timestamp("2026-01-01")
    assert health.tables["events"].last_date == pd.Timestamp("2026-06-10 08:00")


def test_inputs_are_not_modified_and_frames_are_fresh():
    data, _ = _load(GOOD)
    assert isinstance(data.events.index, pd.RangeIndex)
    with pytest.raises(AttributeError):
        data.accounts = None  # frozen dataclass


def test_csv_and_parquet_give_the_same_tables(tmp_path):
    paths = {}
    for table, csv in GOOD.items():
        paths[table] = tmp_path / f"{table}.parquet"
        pd.read_csv(csv).to_parquet(paths[table])
    from_csv, _ = _load(GOOD)
    from_parquet, health = _load(paths)
    for table in GOOD:
        pd.testing.assert_frame_equal(getattr(from_csv, table), getattr(from_parquet, table))
    assert health.tables["accounts"].file.endswith("accounts.parquet")


def test_parquet_with_tz_aware_and_categorical_columns(tmp_path):
    ev = pd.read_csv(GOOD["events"]).iloc[[0, 5]]
    ev["timestamp"] = pd.to_datetime(["2026-01-02 10:00+01:00", "2026-03-05 08:00+00:00"], utc=True)
    ev["event_type"] = ev["event_type"].astype("category")
    path = tmp_path / "events.pq"
    ev.to_parquet(path)
    data, _ = load_event_logs(GOOD["accounts"], GOOD["subscriptions"], path)
    assert data.events["timestamp"].tolist() == [
        pd.Timestamp("2026-01-02 09:00"),
        pd.Timestamp("2026-03-05 08:00"),
    ]
    assert isinstance(data.events["event_type"].dtype, pd.CategoricalDtype)


def test_numeric_ids_are_strings_without_decimal_suffix(tmp_path):
    acc = tmp_path / "accounts.csv"
    acc.write_text("account_id,name\n1001,A\n1002,B\n")
    subs = tmp_path / "subscriptions.csv"
    subs.write_text("account_id,start_date,end_date,mrr\n1001,2026-01-01,,10\n1002,2026-01-01,,5\n")
    ev = tmp_path / "events.csv"  # a float column: one account id would be read as 1001.0
    ev.write_text("account_id,timestamp,event_type,value\n1001,2026-01-02,login,\n")
    data, health = load_event_logs(acc, subs, ev)
    assert data.accounts["account_id"].tolist() == ["1001", "1002"]
    assert data.events["account_id"].tolist() == ["1001"]
    assert health.rejected == {}
    # missing optional columns: ids are made, signup derived, user_id added
    assert data.subscriptions["subscription_id"].tolist() == ["S0000001", "S0000002"]
    assert data.accounts["signup_date"].tolist() == [pd.Timestamp("2026-01-01")] * 2
    assert data.events["user_id"].tolist() == [None]


# -- bad fixtures: every rule names file, column, rule and rows --------------------------

BAD_CASES = [
    # (table, fixture, column, rule text, offending values, 1-based rows, count)
    ("accounts", "accounts_duplicate_id", "account_id", "must be unique", ["A2"], [2, 3], 2),
    ("accounts", "accounts_missing_id", "account_id", "must not be empty", ["Nameless"], [2], 1),
    ("subscriptions", "subscriptions_bad_date", "start_date", "not ISO dates", ["soon", "2026-13-01"],
     [2, 3], 2),
    ("subscriptions", "subscriptions_end_before_start", "end_date", "must be after start_date",
     ["S2", "S3"], [2, 3], 2),
    ("subscriptions", "subscriptions_bad_mrr", "mrr", "not numbers", ["$500"], [2], 1),
    ("events", "events_bad_timestamp", "timestamp", "not ISO dates", ["yesterday"], [2], 1),
    ("events", "events_nps_out_of_range", "value", "NPS score 0-10", ["11", "-1"], [2, 3, 4], 3),
    ("events", "events_missing_account", "account_id", "must not be empty", ["login"], [2], 1),
]  # fmt: skip


@pytest.mark.parametrize(("table", "fixture", "column", "rule", "values", "rows", "count"),
                         BAD_CASES, ids=[c[1] for c in BAD_CASES])  # fmt: skip
def test_each_rule_has_a_bad_fixture_with_a_clear_message(
    table, fixture, column, rule, values, rows, count
):
    paths = {**GOOD, table: FIX / "bad" / f"{fixture}.csv"}
    with pytest.raises(DataError) as info:
        _load(paths)
    err = info.value
    msg = str(err)
    assert f"{fixture}.csv" in msg
    assert f"column '{column}'" in msg
    assert rule in msg
    assert f"({count} offending row(s))" in msg
    assert "how to fix:" in msg
    for value in values:
        assert value in msg
    assert err.rows.index.name == "row" and err.rows.index.tolist() == rows
    assert err.count == count and err.column == column
    assert err.health.has_errors


def test_missing_required_column_suggests_the_closest_name():
    paths = {**GOOD, "accounts": FIX / "bad" / "accounts_missing_column.csv"}
    with pytest.raises(DataError) as info:
        _load(paths)
    msg = str(info.value)
    assert "accounts_missing_column.csv" in msg and "column 'account_id' is missing" in msg
    assert "acount_id, name, industry" in msg  # available columns
    assert "did you mean 'acount_id'?" in msg
    assert "data.columns.accounts.account_id" in msg


def test_ambiguous_date_layouts_are_not_guessed(tmp_path):
    path = tmp_path / "subscriptions.csv"
    path.write_text(
        "account_id,start_date,end_date,mrr\nA1,01/02/2026,,10\nA2,2026-02-01,,10\n"
        "A3,13/02/2026,,10\n"
    )
    with pytest.raises(DataError) as info:
        load_event_logs(GOOD["accounts"], path, GOOD["events"])
    assert info.value.rows.index.tolist() == [1, 3]
    assert "01/02/2026" in str(info.value) and "ambiguous" in str(info.value)


def test_several_problems_are_all_reported():
    paths = {
        "accounts": FIX / "bad" / "accounts_duplicate_id.csv",
        "subscriptions": FIX / "bad" / "subscriptions_bad_mrr.csv",
        "events": FIX / "bad" / "events_bad_timestamp.csv",
    }
    with pytest.raises(DataError) as info:
        _load(paths)
    assert "2 more problem(s)" in str(info.value)
    assert "subscriptions_bad_mrr.csv 'mrr'" in str(info.value)
    assert len(info.value.health.errors) == 3
    assert "yesterday" in info.value.health.errors[2]


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_table(tmp_path / "nope.csv", name="accounts")
    odd = tmp_path / "accounts.xlsx"
    odd.write_text("x")
    with pytest.raises(DataError, match="no known format"):
        load_table(odd, name="accounts")
    assert len(load_table(GOOD["accounts"], fmt="CSV", name="accounts")) == 3


# -- column mapping --------------------------------------------------------------------


def test_column_mapping_renames_user_columns(tmp_path):
    acc = pd.read_csv(GOOD["accounts"]).rename(columns={"account_id": "Customer ID"})
    subs = pd.read_csv(GOOD["subscriptions"]).rename(columns={"mrr": "Monthly Revenue"})
    paths = {**GOOD, "accounts": tmp_path / "a.csv", "subscriptions": tmp_path / "s.csv"}
    acc.to_csv(paths["accounts"], index=False)
    subs.to_csv(paths["subscriptions"], index=False)
    columns = {
        "accounts": {"account_id": "Customer ID"},
        "subscriptions": {"mrr": "Monthly Revenue"},
        "events": {},
    }
    data, _ = _load(paths, columns=columns)
    assert "account_id" in data.accounts and "Customer ID" not in data.accounts
    assert data.subscriptions["mrr"].sum() == pytest.approx(3200.5)


def test_wrong_mapping_names_the_closest_column(tmp_path):
    path = tmp_path / "a.csv"
    pd.read_csv(GOOD["accounts"]).rename(columns={"account_id": "Customer ID"}).to_csv(
        path, index=False
    )
    with pytest.raises(DataError) as info:
        load_table(path, columns={"account_id": "CustomerID"}, name="accounts")
    msg = str(info.value)
    assert "a.csv" in msg and "column 'CustomerID' is missing" in msg
    assert "did you mean 'Customer ID'?" in msg
    assert "data.columns.accounts.account_id" in msg


# -- warnings: excluded or kept, always counted ----------------------------------------


def test_suspicious_rows_are_counted_and_warned():
    with pytest.warns(DataWarning) as record:
        data, health = _load(WARN, data_end="2026-10-31")
    assert health.rejected == {
        ("subscriptions", "with negative MRR"): 1,
        ("subscriptions", "of accounts not in the accounts table"): 1,
        ("events", "of accounts not in the accounts table"): 2,
        ("events", "after data_end"): 2,
    }
    assert health.flagged == {
        ("subscriptions", "starting after data_end"): 1,
        ("subscriptions", "overlapping an earlier row of the same plan line"): 2,
    }
    assert len(record) == 6 == len(health.warnings)
    assert sorted(data.subscriptions["subscription_id"]) == sorted(
        ["S1", "S3", "S4", "S5", "S6", "S7", "S8", "S10"]
    )
    # the event at 23:00 on data_end is inside the data; midnight after it is not
    assert data.events["timestamp"].tolist() == [
        pd.Timestamp("2026-01-02 09:00"),
        pd.Timestamp("2026-10-31 23:00"),
    ]
    t = health.tables
    assert (t["subscriptions"].rows_read, t["subscriptions"].rows_kept) == (10, 8)
    assert (t["events"].rows_read, t["events"].rows_kept) == (6, 2)
    neg = next(w for w in health.warnings if "negative MRR" in w)
    assert "subscriptions.csv" in neg and "column 'mrr'" in neg and "-100" in neg
    d = health.to_dict()
    assert d["rejected_rows"]["events: after data_end"] == 2
    assert sum(d["rejected_rows"].values()) == 6
    assert d["row_counts"]["events"] == {"read": 6, "kept": 2}


def test_without_data_end_future_rows_are_kept():
    with pytest.warns(DataWarning):
        data, health = _load(WARN)
    assert ("events", "after data_end") not in health.rejected
    assert len(data.events) == 4


def test_overlapping_by_hand():
    subs = pd.DataFrame(
        {
            "account_id": ["a", "a", "a", "b", "b", "c", "c"],
            "plan": ["x", "x", "x", "x", "y", "x", "x"],
            "start_date": pd.to_datetime(
                ["2026-01-01", "2026-02-01", "2026-01-15", "2026-01-01", "2026-01-10",
                 "2026-01-01", "2026-03-01"]
            ),
            "end_date": pd.to_datetime(
                ["2026-02-01", "2026-03-01", "2026-01-20", None, "2026-02-01",
                 None, "2026-04-01"]
            ),
        },
        index=[10, 11, 12, 13, 14, 15, 16],
    )  # fmt: skip
    # a: row 12 starts inside row 10 (Jan 1 - Feb 1); row 11 starts on row 10's end: fine
    # b: different plans never overlap; c: row 16 starts while row 15 is open-ended
    assert overlapping(subs).tolist() == [False, False, True, False, False, False, True]
    assert overlapping(subs.drop(columns="plan")).tolist() == [
        False, False, True, False, True, False, True
    ]  # fmt: skip


# -- snapshot ----------------------------------------------------------------------------


def test_snapshot_loads_labels_and_repairs_blank_charges():
    snap, health = load_snapshot(FIX / "snapshot_good.csv", drop_columns=["note"], **SNAP_KW)
    assert snap["label"].tolist() == [1, 0, 0, 1, 0]
    assert snap["TotalCharges"].tolist() == [0.0, 606.0, 0.0, 726.0, 135.0]
    assert snap["id"].tolist() == ["C1", "C2", "C3", "C4", "C5"]
    assert "note" not in snap and "Churn" not in snap
    assert health.flagged == {("snapshot", "blank TotalCharges set to 0 (tenure 0)"): 2}
    assert "2 blank TotalCharges set to 0 (tenure 0)" in health.notes
    assert health.tables["snapshot"].rows_kept == 5


def test_snapshot_numeric_label_and_boolean_label(tmp_path):
    path = tmp_path / "s.parquet"
    pd.DataFrame({"id": ["a", "b", "c"], "churned": [1, 0, 1], "x": [1.0, 2.0, 3.0]}).to_parquet(
        path
    )
    snap, _ = load_snapshot(path, id_column="id", label_column="churned", positive_value="1")
    assert snap["label"].tolist() == [1, 0, 1]
    pd.DataFrame({"id": ["a", "b"], "churned": [True, False]}).to_parquet(path)
    snap, _ = load_snapshot(path, id_column="id", label_column="churned", positive_value=True)
    assert snap["label"].tolist() == [1, 0]


def test_snapshot_column_mapping():
    kw = {**SNAP_KW, "id_column": "account_id", "label_column": "churned"}
    snap, _ = load_snapshot(
        FIX / "snapshot_good.csv", columns={"account_id": "id", "churned": "Churn"}, **kw
    )
    assert snap["account_id"].tolist()[:2] == ["C1", "C2"] and snap["label"].sum() == 2
    with pytest.raises(DataError, match="did you mean 'Churn'"):
        load_snapshot(FIX / "snapshot_good.csv", columns={"churned": "churn"}, **kw)


def test_snapshot_positive_value_never_guessed():
    with pytest.raises(DataError) as info:
        load_snapshot(FIX / "snapshot_good.csv", **{**SNAP_KW, "positive_value": "yes"})
    msg = str(info.value)
    assert "column 'Churn' never holds the positive value 'yes'" in msg
    assert "'No' (3)" in msg and "'Yes' (2)" in msg and "snapshot_good.csv" in msg


def test_snapshot_blank_numbers_with_tenure_are_errors():
    with pytest.raises(DataError) as info:
        load_snapshot(FIX / "snapshot_blank_with_tenure.csv", **SNAP_KW)
    err = info.value
    # 'ten' does not parse (row 3); the blank in row 2 has tenure 12 (listed as a second problem)
    assert "column 'TotalCharges' holds values that are not numbers" in str(err)
    assert err.rows.index.tolist() == [3] and "ten" in str(err)
    assert "1 more problem(s)" in str(err) and "tenure above 0" in str(err)


def test_snapshot_duplicate_ids_and_missing_columns():
    with pytest.raises(DataError, match=r"column 'id' must be unique \(one row per account\)"):
        load_snapshot(FIX / "snapshot_duplicate_id.csv", id_column="id", label_column="Churn",
                      positive_value="Yes")  # fmt: skip
    with pytest.raises(DataError) as info:
        load_snapshot(FIX / "snapshot_good.csv", **{**SNAP_KW, "mrr_column": "monthly_charges"})
    assert "did you mean 'MonthlyCharges'?" in str(info.value)
    assert "data.snapshot" in str(info.value)


def test_snapshot_negative_mrr_is_excluded_and_counted(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("id,MonthlyCharges,Churn\na,10,Yes\nb,-5,No\nc,7,No\n")
    with pytest.warns(DataWarning, match="negative MRR"):
        snap, health = load_snapshot(path, id_column="id", label_column="Churn",
                                     positive_value="Yes", mrr_column="MonthlyCharges")  # fmt: skip
    assert snap["id"].tolist() == ["a", "c"]
    assert health.rejected == {("snapshot", "with negative MRR"): 1}
    assert health.to_dict()["row_counts"]["snapshot"] == {"read": 3, "kept": 2}


def test_snapshot_observations_shape():
    snap, _ = load_snapshot(FIX / "snapshot_good.csv", **SNAP_KW)
    before = snap.copy()
    obs = snapshot_observations(
        snap, as_of="2026-10-31", id_column="id", mrr_column="MonthlyCharges",
        tenure_column="tenure",
    )  # fmt: skip
    pd.testing.assert_frame_equal(snap, before)  # input not modified
    assert obs.columns[:8].tolist() == [
        "account_id", "as_of", "checkpoint", "label", "churn_date", "mrr", "arr", "tenure_days"
    ]  # fmt: skip
    assert obs["account_id"].tolist() == ["C1", "C2", "C3", "C4", "C5"]
    assert (obs["as_of"] == pd.Timestamp("2026-10-31")).all()
    assert (obs["checkpoint"] == "snapshot").all() and obs["churn_date"].isna().all()
    assert obs["arr"].tolist() == [240.0, 606.0, 960.0, 363.0, 540.0]
    assert obs["tenure_days"].tolist() == pytest.approx([0, 365.28, 0, 730.56, 91.32])
    for dropped in ("id", "MonthlyCharges", "tenure", "Churn"):
        assert dropped not in obs
    assert obs["SeniorCitizen"].dtype == "int64" and obs["TotalCharges"].dtype == float
    assert obs["Contract"].tolist()[:2] == ["Month-to-month", "One year"]
    assert pd.isna(obs.loc[3, "note"])


# -- DataHealth rendering --------------------------------------------------------------


def _evil_health() -> DataHealth:
    h = DataHealth(tables={"<script>alert(1)</script>": TableHealth("x.csv", 3, 2, "d",
                                                                   pd.Timestamp("2026-01-01"),
                                                                   pd.Timestamp("2026-02-01"))})  # fmt: skip
    h.rejected[("<script>alert(1)</script>", "bad & <b>")] = 1
    h.notes.append("<script>alert(2)</script>")
    return h


def test_health_renders_as_text_rich_and_escaped_html():
    h = _evil_health()
    text = str(h)
    assert "rows_read" in text and "2026-02-01" in text and "bad & <b>" in text
    html = h._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "bad &amp; &lt;b&gt;" in html
    from rich.console import Console

    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(h)
    out = console.file.getvalue()
    assert "Data health" in out and "excluded" in out
    summary = h.summary()
    assert summary.loc[0, "excluded"] == 1 and summary.loc[0, "rows_kept"] == 2
    assert h.issues().to_dict("records") == [
        {"table": "<script>alert(1)</script>", "reason": "bad & <b>", "action": "excluded",
         "rows": 1}
    ]  # fmt: skip


def test_health_to_dict_is_json_ready():
    import json

    _, health = _load(GOOD, data_end="2026-10-31")
    d = json.loads(json.dumps(health.to_dict()))
    assert d["date_ranges"]["subscriptions"] == ["2026-01-01", "2026-06-01"]
    assert d["row_counts"]["accounts"] == {"read": 3, "kept": 3}
    assert d["has_errors"] is False and d["rejected_rows"] == {}


# -- Telco -------------------------------------------------------------------------------


def test_telco_loads_with_known_numbers():
    assert hashlib.sha256(TELCO.read_bytes()).hexdigest() == TELCO_SHA256
    import yaml

    params = yaml.safe_load((ROOT / "params" / "telco.yaml").read_text())["data"]
    snap_cfg = params["snapshot"]
    snap, health = load_snapshot(ROOT / snap_cfg.pop("path"), **{k: v for k, v in snap_cfg.items()})
    assert len(snap) == 7043 and snap["label"].sum() == 1869
    assert round(100 * snap["label"].mean(), 1) == 26.5
    assert health.flagged == {("snapshot", "blank TotalCharges set to 0 (tenure 0)"): 11}
    assert "11 blank TotalCharges set to 0 (tenure 0)" in str(health)
    assert snap["TotalCharges"].dtype == float and snap["TotalCharges"].notna().all()
    obs = snapshot_observations(
        snap, as_of=params["as_of"], id_column="customerID", mrr_column="MonthlyCharges",
        tenure_column="tenure",
    )  # fmt: skip
    from churnlab.observations import feature_columns

    numeric, categorical = feature_columns(obs)
    assert "customerID" not in numeric + categorical and "Churn" not in obs
    assert {"Contract", "InternetService", "PaymentMethod"} <= set(categorical)
    assert {"SeniorCitizen", "TotalCharges", "mrr", "tenure_days"} <= set(numeric)
    raw = pd.read_csv(TELCO)
    assert obs["mrr"].sum() == pytest.approx(raw["MonthlyCharges"].sum())
    assert np.array_equal(obs["account_id"], raw["customerID"])


# -- the synthetic sample ----------------------------------------------------------------


def test_generated_sample_loads_cleanly(sample_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # no suspicious rows expected
        data, health = load_event_logs(
            sample_dir / "accounts.parquet",
            sample_dir / "subscriptions.parquet",
            sample_dir / "events.parquet",
            data_end=SAMPLE["end_date"],
        )
    assert not health.has_errors and health.rejected == {} and health.flagged == {}
    for table in ("accounts", "subscriptions", "events"):
        written = pd.read_parquet(sample_dir / f"{table}.parquet")
        assert len(getattr(data, table)) == len(written)
        assert health.tables[table].rows_kept == health.tables[table].rows_read
    assert data.subscriptions["seats"].dtype == "int64"
    assert data.events["timestamp"].dtype == "datetime64[ns]"
    assert health.tables["events"].last_date <= pd.Timestamp("2026-11-01")
    # nothing to adapt: no notes, no derived add-on lines, ids and columns as written
    assert health.notes == [] and "line_kind" not in data.subscriptions
    for table in ("accounts", "subscriptions", "events"):
        written = pd.read_parquet(sample_dir / f"{table}.parquet")
        assert list(getattr(data, table).columns) == list(written.columns)


def test_a_missing_file_is_named_without_a_column_or_rows(tmp_path):
    with pytest.raises(DataError) as info:
        load_table(tmp_path / "accounts.csv", name="accounts")
    message = str(info.value)
    assert message.startswith(
        f"{tmp_path / 'accounts.csv'}: file of the accounts table does not exist"
    )
    assert "column" not in message.splitlines()[0] and "offending" not in message


# -- real exports: ids, optional names, empty tables, time zones (#14) -------------------


def _files(folder: Path, fmt: str = "csv", **frames: pd.DataFrame) -> dict[str, Path]:
    """The three tables (the good fixture where not given) written as ``fmt`` files."""
    paths = {}
    for table in ("accounts", "subscriptions", "events"):
        frame = frames.get(table)
        if frame is None:
            frame = pd.read_csv(GOOD[table], dtype=str)
        paths[table] = folder / f"{table}.{fmt}"
        if fmt == "csv":
            frame.to_csv(paths[table], index=False)
        else:
            frame.to_parquet(paths[table], index=False)
    return paths


def _id_frames(ids: list) -> dict[str, pd.DataFrame]:
    """Two accounts (the ids given), a subscription each and an event each."""
    return {
        "accounts": pd.DataFrame({"account_id": ids, "name": ["A", "B"]}),
        "subscriptions": pd.DataFrame(
            {
                "account_id": ids,
                "start_date": ["2026-01-01"] * 2,
                "end_date": [None, None],
                "mrr": [10.0, 5.0],
            }
        ),  # fmt: skip
        "events": pd.DataFrame(
            {"account_id": ids, "timestamp": ["2026-01-02"] * 2, "event_type": ["login"] * 2}
        ),
    }


def test_zero_padded_csv_ids_stay_text(tmp_path):
    acc = tmp_path / "accounts.csv"
    acc.write_text("account_id,name\n000123,A\n0042,B\n")
    subs = tmp_path / "subscriptions.csv"
    subs.write_text(
        "account_id,start_date,end_date,mrr\n000123,2026-01-01,,10\n0042,2026-01-01,,5\n"
    )
    ev = tmp_path / "events.csv"
    ev.write_text(
        "account_id,timestamp,event_type\n000123,2026-01-02,login\n0042,2026-01-03,login\n"
    )
    data, health = load_event_logs(acc, subs, ev)
    assert data.accounts["account_id"].tolist() == ["000123", "0042"]
    assert data.subscriptions["account_id"].tolist() == ["000123", "0042"]
    assert data.events["account_id"].tolist() == ["000123", "0042"]
    assert health.rejected == {}


def test_zero_padded_csv_ids_with_a_mapped_column(tmp_path):
    frames = {k: f.rename(columns={"account_id": "Customer ID"}) for k, f in
              _id_frames(["007", "010"]).items()}  # fmt: skip
    paths = _files(tmp_path, "csv", **frames)
    columns = {t: {"account_id": "Customer ID"} for t in paths}
    data, health = _load(paths, columns=columns)
    assert data.accounts["account_id"].tolist() == ["007", "010"]
    assert data.events["account_id"].tolist() == ["007", "010"] and health.rejected == {}


def test_parquet_integer_and_whole_float_ids_become_decimal_text(tmp_path):
    frames = _id_frames([123, 124])
    frames["subscriptions"]["account_id"] = [123.0, 124.0]  # float ids holding integers
    frames["events"]["account_id"] = pd.array([123, pd.NA], dtype="Int64")
    frames["events"] = frames["events"].iloc[:1]
    data, health = _load(_files(tmp_path, "parquet", **frames))
    assert data.accounts["account_id"].tolist() == ["123", "124"]
    assert data.subscriptions["account_id"].tolist() == ["123", "124"]
    assert data.events["account_id"].tolist() == ["123"]
    assert all(isinstance(v, str) for v in data.subscriptions["account_id"])
    assert health.rejected == {}


def test_ids_typed_differently_across_files_match(tmp_path):
    # accounts.csv: text ids; subscriptions.parquet: floats; events.csv: integers, then
    # written from a float column (123.0), then events.parquet with integers
    frames = _id_frames(["123", "124"])
    frames["subscriptions"]["account_id"] = [123.0, 124.0]
    paths = {
        "accounts": _files(tmp_path, "csv", **frames)["accounts"],
        "subscriptions": _files(tmp_path, "parquet", **frames)["subscriptions"],
        "events": tmp_path / "events.csv",
    }
    paths["events"].write_text(
        "account_id,timestamp,event_type\n123,2026-01-02,login\n124,2026-01-03,login\n"
    )
    data, health = _load(paths)
    assert data.accounts["account_id"].tolist() == ["123", "124"]
    assert data.subscriptions["account_id"].tolist() == ["123", "124"]
    assert data.events["account_id"].tolist() == ["123", "124"] and health.rejected == {}
    paths["events"].write_text(
        "account_id,timestamp,event_type\n123.0,2026-01-02,login\n124.0,2026-01-03,login\n"
    )
    data, health = _load(paths)
    assert data.events["account_id"].tolist() == ["123", "124"] and health.rejected == {}
    paths["events"] = tmp_path / "events.parquet"
    frames["events"].assign(account_id=[123, 124]).to_parquet(paths["events"])
    data, health = _load(paths)
    assert data.events["account_id"].tolist() == ["123", "124"] and health.rejected == {}


def test_snapshot_ids_are_text_in_csv_and_parquet(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("id,Churn\n000123,Yes\n0042,No\n")
    snap, _ = load_snapshot(path, id_column="id", label_column="Churn", positive_value="Yes")
    assert snap["id"].tolist() == ["000123", "0042"]
    path = tmp_path / "s.parquet"
    pd.DataFrame({"id": [123.0, 42.0], "Churn": ["Yes", "No"]}).to_parquet(path)
    snap, _ = load_snapshot(path, id_column="id", label_column="Churn", positive_value="Yes")
    assert snap["id"].tolist() == ["123", "42"]


def test_accounts_name_is_optional_and_noted(tmp_path):
    accounts = pd.read_csv(GOOD["accounts"]).drop(columns="name")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        data, health = _load(_files(tmp_path, "csv", accounts=accounts))
    note = "accounts has no name column: account ids stand in for names"
    assert note in health.notes and note in health.to_dict()["notes"]
    assert f"note: {note}" in str(health)
    assert not health.has_errors and health.warnings == [] and "name" not in data.accounts
    # every other required column stays required
    subs = pd.read_csv(GOOD["subscriptions"]).drop(columns="mrr")
    with pytest.raises(DataError, match="column 'mrr' is missing"):
        _load(_files(tmp_path, "csv", accounts=accounts, subscriptions=subs))


def test_health_note_records_each_sentence_once():
    health = DataHealth()
    health.note("accounts has no name column: account ids stand in for names")
    health.note("accounts has no name column: account ids stand in for names")
    assert health.notes == ["accounts has no name column: account ids stand in for names"]
    assert health.to_dict()["notes"] == health.notes


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("table", ["accounts", "subscriptions", "events"])
def test_a_table_with_a_header_and_no_rows_is_refused(tmp_path, table, fmt):
    frame = pd.read_csv(GOOD[table], dtype=str).iloc[:0]
    paths = _files(tmp_path, fmt, **{table: frame})
    with pytest.raises(DataError) as info:
        _load(paths)
    err = info.value
    assert err.file == str(paths[table]) and err.rule.startswith("has no rows")
    assert str(err).startswith(f"{paths[table]}: has no rows") and "how to fix:" in str(err)
    assert err.count == 0 and err.health.has_errors


def test_a_snapshot_with_a_header_and_no_rows_is_refused(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("id,Churn,tenure\n")
    with pytest.raises(DataError, match=r"s\.csv: has no rows") as info:
        load_snapshot(path, id_column="id", label_column="Churn", positive_value="Yes")
    assert "how to fix:" in str(info.value)


def test_timestamps_with_offsets_are_converted_to_utc_and_counted(tmp_path):
    # a naive value after one with an offset keeps its own clock (pandas alone would
    # give it the offset of the value before it)
    ev = tmp_path / "events.csv"
    ev.write_text(
        "account_id,timestamp,event_type\n"
        "A1,2026-03-01T10:00:00+02:00,login\n"
        "A1,2026-03-01T10:00:00,login\n"
        "A2,2026-03-01 10:00:00-0500,login\n"
        "A2,2026-03-02,login\n"
        "A3,2026-03-01T10:00:00Z,login\n"
    )
    data, health = load_event_logs(GOOD["accounts"], GOOD["subscriptions"], ev)
    assert data.events["timestamp"].dtype == "datetime64[ns]"
    assert data.events["timestamp"].tolist() == [
        pd.Timestamp("2026-03-01 08:00"),
        pd.Timestamp("2026-03-01 10:00"),
        pd.Timestamp("2026-03-01 15:00"),
        pd.Timestamp("2026-03-02"),
        pd.Timestamp("2026-03-01 10:00"),
    ]
    note = "events: 3 timestamp value(s) with a time-zone offset converted to UTC (tz-naive)"
    assert health.notes == [note]
    # a tz-aware Parquet column: every value is converted and counted
    path = tmp_path / "events.parquet"
    pd.DataFrame({"account_id": ["A1", "A2"], "event_type": ["login"] * 2,
                  "timestamp": pd.to_datetime(["2026-03-01 10:00"] * 2).tz_localize("Europe/Paris")}
                 ).to_parquet(path)  # fmt: skip
    data, health = load_event_logs(GOOD["accounts"], GOOD["subscriptions"], path)
    assert data.events["timestamp"].tolist() == [pd.Timestamp("2026-03-01 09:00")] * 2
    assert health.notes == [
        "events: 2 timestamp value(s) with a time-zone offset converted to UTC (tz-naive)"
    ]


def test_naive_timestamps_get_no_note():
    _, health = load_event_logs(GOOD["accounts"], GOOD["subscriptions"], WARN["events"])
    assert not any("time-zone" in n for n in health.notes)


# -- snapshot: missing id, label values, tenure units (#14) ------------------------------


def _snap(tmp_path: Path, frame: pd.DataFrame, **kw):
    path = tmp_path / "snapshot.parquet"
    frame.to_parquet(path, index=False)
    kw = {"id_column": "id", "label_column": "churned", "positive_value": "Yes", **kw}
    return load_snapshot(path, **kw)


def test_snapshot_without_the_default_id_column_numbers_the_rows(tmp_path):
    frame = pd.DataFrame({"churned": ["Yes", "No", "No"], "x": [1, 2, 3]})
    snap, health = _snap(tmp_path, frame, id_column="account_id")
    assert snap["account_id"].tolist() == ["1", "2", "3"]
    assert snap.columns[0] == "account_id" and snap["label"].tolist() == [1, 0, 0]
    note = "snapshot has no account_id column: accounts are numbered by their row (1, 2, ...)"
    assert note in health.notes
    obs = snapshot_observations(snap, as_of="2026-10-31", id_column="account_id")
    assert obs["account_id"].tolist() == ["1", "2", "3"] and "x" in obs
    # another missing name stays an error
    with pytest.raises(DataError, match="column 'customer_id' is missing"):
        _snap(tmp_path, frame, id_column="customer_id")


@pytest.mark.parametrize(
    ("values", "positive", "labels"),
    [
        (["true", "True", "false"], True, [1, 1, 0]),
        ([True, False, True], True, [1, 0, 1]),
        (["1", "1.0", "0"], 1, [1, 1, 0]),
        ([1, 0, 1], 1, [1, 0, 1]),
        ([1.0, 0.0, 1.0], 1, [1, 0, 1]),
        ([1, 0, 1], "1", [1, 0, 1]),
        (["Yes", "No", "No"], "Yes", [1, 0, 0]),
    ],
    ids=["bool-text", "bool", "one-text", "one-int", "one-float", "one-as-text", "Yes"],
)
def test_snapshot_positive_value_is_compared_as_text(tmp_path, values, positive, labels):
    frame = pd.DataFrame({"id": ["a", "b", "c"], "churned": values})
    snap, health = _snap(tmp_path, frame, positive_value=positive)
    assert snap["label"].tolist() == labels


def test_snapshot_yes_is_not_true(tmp_path):
    frame = pd.DataFrame({"id": ["a", "b"], "churned": ["yes", "no"]})
    with pytest.raises(DataError, match="never holds the positive value True") as info:
        _snap(tmp_path, frame, positive_value=True)
    assert "quote it" in str(info.value)


def test_snapshot_zero_one_label_from_csv(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("id,churned\na,1\nb,0\nc,0\n")
    snap, health = load_snapshot(path, id_column="id", label_column="churned", positive_value=1)
    assert snap["label"].tolist() == [1, 0, 0]
    assert "label churned = 1 -> 1 (1 rows), '0' -> 0 (2 rows)" in health.notes


def test_snapshot_label_with_two_values_takes_the_other_as_negative(tmp_path):
    frame = pd.DataFrame(
        {"id": list("abcd"), "churned": ["Attrited", "Existing", "Existing", "Existing"]}
    )
    snap, health = _snap(tmp_path, frame, positive_value="Attrited")
    assert snap["label"].tolist() == [1, 0, 0, 0]
    assert "label churned = 'Attrited' -> 1 (1 rows), 'Existing' -> 0 (3 rows)" in health.notes
    snap, _ = _snap(tmp_path, frame, positive_value="Attrited", negative_value="Existing")
    assert snap["label"].tolist() == [1, 0, 0, 0]


def test_snapshot_label_values_outside_the_pair_are_refused_with_counts(tmp_path):
    values = ["Yes"] * 3 + ["No"] * 5 + ["maybe"] * 2 + ["unknown"]
    frame = pd.DataFrame({"id": [f"c{i}" for i in range(11)], "churned": values})
    with pytest.raises(DataError) as info:
        _snap(tmp_path, frame)
    err = info.value
    assert "neither the positive nor the negative label" in err.rule
    assert "'No' (5), 'Yes' (3), 'maybe' (2), 'unknown' (1)" in err.rule
    assert err.column == "churned" and err.count == 3 and err.rows.index.tolist() == [9, 10, 11]
    assert "negative_value" in str(err) and "snapshot.parquet" in str(err)
    # with negative_value given, every row holding a third value is offending
    with pytest.raises(DataError) as info:
        _snap(tmp_path, frame, negative_value="No")
    assert info.value.count == 3 and info.value.rows.index.tolist() == [9, 10, 11]
    with pytest.raises(DataError) as info:
        _snap(tmp_path, frame, negative_value="maybe")
    assert info.value.count == 6  # 'No' is now neither
    with pytest.raises(DataError, match="same positive and negative value"):
        _snap(tmp_path, frame, negative_value="Yes")


def test_snapshot_blank_labels_stay_an_emptiness_error(tmp_path):
    frame = pd.DataFrame({"id": list("abcd"), "churned": ["Yes", "No", "", None]})
    with pytest.raises(DataError) as info:
        _snap(tmp_path, frame)
    assert "must not be empty (the churn label)" in info.value.rule
    assert info.value.rows.index.tolist() == [3, 4]
    assert len(info.value.health.errors) == 1  # the blanks are not 'neither' values


@pytest.mark.parametrize(
    ("unit", "days"), [("months", [0, 365.28]), ("years", [0, 365.25 * 1.5]), ("days", [0, 12])]
)
def test_snapshot_tenure_units(tmp_path, unit, days):
    frame = pd.DataFrame({"id": ["a", "b"], "churned": ["Yes", "No"], "tenure": [0, 12]})
    if unit == "years":
        frame["tenure"] = [0, 1.5]
    snap, _ = _snap(tmp_path, frame, tenure_column="tenure", tenure_unit=unit)
    obs = snapshot_observations(snap, as_of="2026-10-31", id_column="id", tenure_column="tenure")
    assert obs["tenure_days"].tolist() == pytest.approx(days)
    explicit = snapshot_observations(
        snap.copy(), as_of="2026-10-31", id_column="id", tenure_column="tenure", tenure_unit=unit
    )
    assert explicit["tenure_days"].tolist() == pytest.approx(days)


def test_snapshot_negative_tenure_names_the_unit(tmp_path):
    frame = pd.DataFrame({"id": ["a", "b"], "churned": ["Yes", "No"], "tenure": [-1, 2]})
    with pytest.raises(DataError, match=r"must be >= 0 \(years\)"):
        _snap(tmp_path, frame, tenure_column="tenure", tenure_unit="years")


# -- subscription lines: plans and add-ons (#14) -----------------------------------------


def _lines_subs(**extra) -> pd.DataFrame:
    """A1: a growth plan with a meetings add-on on top; A2: growth alone; A3: no plan value."""
    return pd.DataFrame(
        {
            "account_id": ["A1", "A1", "A1", "A2", "A3", "A3"],
            "start_date": ["2026-01-01", "2026-01-01", "2026-03-01", "2026-02-15",
                           "2026-03-01", "2026-03-10"],
            "end_date": ["2026-03-01", "2026-03-01", "", "", "", "2026-04-10"],
            "mrr": [100, 300, 100, 500, 1000, 300],
            "plan": ["growth", "meetings", "growth", "growth", None, "meetings"],
            **extra,
        }
    )  # fmt: skip


def test_addon_lines_are_derived_from_the_plan_column(tmp_path):
    data, health = _load(_files(tmp_path, "csv", subscriptions=_lines_subs()))
    subs = data.subscriptions
    assert subs["line_kind"].tolist() == ["plan", "addon", "plan", "plan", "plan", "addon"]
    assert "2 subscription lines are add-ons (never sold alone): meetings" in health.notes
    assert health.flagged == {}  # add-on lines are not overlapping rows of one line


def test_a_plan_value_sold_alone_once_is_a_plan(tmp_path):
    subs = _lines_subs()
    subs.loc[len(subs)] = ["A4", "2026-01-01", "", 30, "meetings"]  # meetings alone, once
    accounts = pd.read_csv(GOOD["accounts"])
    accounts.loc[len(accounts)] = ["A4", "Delta", *[None] * 6]
    data, health = _load(_files(tmp_path, "csv", accounts=accounts, subscriptions=subs))
    assert "line_kind" not in data.subscriptions
    assert not any("add-on" in n for n in health.notes)


def test_without_addons_or_plans_no_line_kind_is_added(tmp_path):
    data, health = _load(GOOD)
    assert "line_kind" not in data.subscriptions and health.notes == [
        "events: 1 timestamp value(s) with a time-zone offset converted to UTC (tz-naive)"
    ]
    subs = _lines_subs().drop(columns="plan")
    data, _ = _load(_files(tmp_path, "csv", subscriptions=subs))
    assert "line_kind" not in data.subscriptions


def test_line_kind_column_is_mapped_and_case_insensitive(tmp_path):
    kinds = ["Plan", "ADDON", "plan", " plan ", "plan", "Plan"]
    subs = _lines_subs(kind=kinds)
    paths = _files(tmp_path, "csv", subscriptions=subs)
    columns = {"subscriptions": {"line_kind": "kind"}}
    data, health = _load(paths, columns=columns)
    # the export says A3's meetings line is a plan: it is taken as written
    assert data.subscriptions["line_kind"].tolist() == [
        "plan",
        "addon",
        "plan",
        "plan",
        "plan",
        "plan",
    ]
    assert "1 subscription line is an add-on (column line_kind)" in health.notes


def test_line_kind_other_values_are_refused(tmp_path):
    subs = _lines_subs(line_kind=["plan", "add-on", "plan", "", "plan", "extra"])
    with pytest.raises(DataError) as info:
        _load(_files(tmp_path, "csv", subscriptions=subs))
    err = info.value
    assert err.column == "line_kind" and "must be 'plan' or 'addon'" in err.rule
    assert err.count == 3 and err.rows.index.tolist() == [2, 4, 6]
    assert "how to fix:" in str(err) and "subscriptions.csv" in str(err)


def test_addon_lines_reach_the_features_engine(tmp_path):
    from churnlab.observations import build_observation_table

    data, _ = _load(_files(tmp_path, "csv", subscriptions=_lines_subs()))
    spine = pd.DataFrame({"account_id": ["A1"], "as_of": [pd.Timestamp("2026-02-01")]})
    row = build_observation_table(
        data.accounts, data.subscriptions, data.events, spine, event_types=["login"]
    ).iloc[0]
    assert (row.plan, row.mrr) == ("growth", 400.0)


# -- nothing but DataError escapes (#14) -------------------------------------------------


@pytest.mark.parametrize(
    "csv",
    [
        "id,churned\n",  # no rows
        "id,churned\na,\nb,\n",  # every label blank
        "churned\nYes\nNo\n",  # id missing (not the default name)
        "id,churned\na,Yes\na,No\n",  # duplicate ids
        "id,churned,tenure\na,Yes,x\nb,No,-1\n",  # tenure not a number / negative
        "id,churned\na,No\nb,Maybe\nc,Later\n",  # positive never present
    ],
)
def test_snapshot_refusals_are_data_errors(tmp_path, csv):
    path = tmp_path / "s.csv"
    path.write_text(csv)
    kw = {"tenure_column": "tenure"} if "tenure" in csv else {}
    with pytest.raises(DataError) as info:
        load_snapshot(path, id_column="id", label_column="churned", positive_value="Yes", **kw)
    assert "how to fix:" in str(info.value) and "s.csv" in str(info.value)


def test_an_empty_line_kind_column_counts_as_absent(tmp_path):
    data, health = _load(_files(tmp_path, "csv", subscriptions=_lines_subs(line_kind=None)))
    assert data.subscriptions["line_kind"].tolist()[:2] == ["plan", "addon"]
    assert "subscriptions: line_kind is empty in every row: add-ons are derived from the plan" in (
        health.notes
    )


def test_two_lines_always_sold_together_are_both_plans():
    """Nothing sold alone: no rule tells the plan from the add-on, so neither is an add-on."""
    from churnlab.data._lines import addon_plans

    subs = pd.DataFrame(
        {
            "account_id": ["A", "A", "B", "B"],
            "plan": ["growth", "meetings", "growth", "meetings"],
            "start_date": pd.to_datetime(["2026-01-01"] * 4),
            "end_date": pd.to_datetime(["2026-07-01"] * 4),
        }
    )
    assert addon_plans(subs) == []
    alone = pd.concat([subs, subs.iloc[[0]].assign(account_id="C")], ignore_index=True)
    assert addon_plans(alone) == ["meetings"]


def test_an_export_appended_twice_is_counted_and_its_copies_excluded(tmp_path):
    # #22 item 2: exact duplicate event rows inflated every activity count silently
    events = pd.read_csv(GOOD["events"], dtype=str)
    twice = pd.concat([events, events.iloc[:3]], ignore_index=True)
    paths = {**GOOD, "events": tmp_path / "events.csv"}
    twice.to_csv(paths["events"], index=False)
    with pytest.warns(DataWarning, match="exact copies of an earlier row"):
        data, health = _load(paths)
    assert health.rejected == {("events", "exact copies of an earlier row"): 3}
    baseline, _ = _load(GOOD)
    pd.testing.assert_frame_equal(data.events, baseline.events)
    warning = next(w for w in health.warnings if "exact copies" in w)
    assert "events.csv" in warning and "3 row(s)" in warning
    # a param keeps them (counted as suspicious)
    with pytest.warns(DataWarning, match="exact copies"):
        kept, health = _load(paths, duplicate_events="keep")
    assert len(kept.events) == len(twice) and not health.rejected
    assert health.flagged == {("events", "exact copies of an earlier row"): 3}


def test_a_csv_row_with_the_wrong_number_of_fields_is_named_by_its_line(tmp_path):
    # #22 item 8: a bare carriage return inside an unquoted name split one account into two
    # (a phantom account "Co" named after a region); validate only saw "1 row without any
    # subscription"
    good = GOOD["accounts"].read_text().splitlines()
    header, first, *rest = good
    fields = first.split(",")
    broken = ",".join([fields[0], fields[1] + "\rCo", *fields[2:]])
    paths = {**GOOD, "accounts": tmp_path / "accounts.csv"}
    paths["accounts"].write_bytes(("\n".join([header, broken, *rest]) + "\n").encode())
    with pytest.raises(DataError) as err:
        _load(paths)
    text = str(err.value)
    assert str(paths["accounts"]) in text and "number of fields" in text
    assert "line 2" in text and "line 3" in text and "carriage return" in text
    assert err.value.count == 2
    # too many fields (an unquoted comma) is named the same way
    paths["accounts"].write_text("\n".join([header, first + ",extra", *rest]) + "\n")
    with pytest.raises(DataError, match=r"line 2: \d+ fields"):
        _load(paths)
