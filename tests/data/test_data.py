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


def test_a_missing_file_is_named_without_a_column_or_rows(tmp_path):
    with pytest.raises(DataError) as info:
        load_table(tmp_path / "accounts.csv", name="accounts")
    message = str(info.value)
    assert message.startswith(
        f"{tmp_path / 'accounts.csv'}: file of the accounts table does not exist"
    )
    assert "column" not in message.splitlines()[0] and "offending" not in message
