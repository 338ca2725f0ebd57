"""CSV-injection neutralisation (OWASP) and atomic CSV writes."""

from __future__ import annotations

import csv
import os

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from churnlab.csvsafe import (
    FORMULA_PREFIXES,
    neutralise_formulas,
    read_csv,
    restore_formulas,
    write_csv,
)

MALICIOUS = ['=HYPERLINK("http://evil","x")', "@SUM(1+1)", "-2+3", "\t=cmd", "+1", "\rX"]


def _accounts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4", "A5", "A6", "A7"],
            "name": [*MALICIOUS, "Acme = Co"],
            "mrr": [-120.5, 10.0, 0.0, 3.5, 7.0, 1.0, 2.0],
            "seats": [1, -2, 3, 4, 5, 6, 7],
        }
    )


def test_malicious_names_are_prefixed_and_numbers_untouched():
    accounts = _accounts()
    before = accounts.copy()
    safe = neutralise_formulas(accounts)
    assert safe["name"].tolist() == [
        '\'=HYPERLINK("http://evil","x")',
        "'@SUM(1+1)",
        "'-2+3",
        "'\t=cmd",
        "'+1",
        "'\rX",
        "Acme = Co",  # '=' inside the text is harmless
    ]
    pd.testing.assert_frame_equal(
        safe[["account_id", "mrr", "seats"]], before[["account_id", "mrr", "seats"]]
    )
    pd.testing.assert_frame_equal(accounts, before)  # input not modified
    assert safe["mrr"].dtype == "float64" and safe["mrr"].iloc[0] == -120.5


def test_mixed_string_categorical_and_label_columns():
    frame = pd.DataFrame(
        {
            "mixed": pd.Series([-3, "-x", None, 2.5], dtype=object),
            "text": pd.array(["=a", None, "b", "@c"], dtype="string"),
            "band": pd.Categorical(["=red", "green", "=red", "green"]),
            "=cmd|' /C calc'!A0": [1, 2, 3, 4],
            "ints_as_objects": pd.Series([1, -2, 3, 4], dtype=object),
        }
    )
    safe = neutralise_formulas(frame)
    assert safe["mixed"].tolist()[:2] == [-3, "'-x"] and safe["mixed"].iloc[3] == 2.5
    assert safe["mixed"].iloc[2] is None
    assert safe["text"].tolist()[0] == "'=a" and safe["text"].tolist()[3] == "'@c"
    assert safe["text"].isna().tolist() == [False, True, False, False]
    assert safe["band"].tolist() == ["'=red", "green", "'=red", "green"]
    assert isinstance(safe["band"].dtype, pd.CategoricalDtype)
    assert list(safe.columns)[3] == "'=cmd|' /C calc'!A0"
    assert safe["ints_as_objects"].tolist() == [1, -2, 3, 4]


def test_write_csv_round_trip(tmp_path):
    path = write_csv(_accounts(), tmp_path / "renewal_map.csv")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["account_id", "name", "mrr", "seats"]
    names = [row[1] for row in rows[1:]]
    assert all(not name.startswith(FORMULA_PREFIXES) for name in names)
    assert names[0] == '\'=HYPERLINK("http://evil","x")'
    assert rows[1][2] == "-120.5" and rows[2][3] == "-2"  # numbers stay numbers
    back = pd.read_csv(path)
    assert back["mrr"].iloc[0] == -120.5 and back["mrr"].dtype == "float64"


def test_write_csv_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "early_warning.csv"
    path.write_text("old content\n", encoding="utf-8")
    os.chmod(path, 0o640)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_csv(_accounts(), path)
    assert path.read_text(encoding="utf-8") == "old content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["early_warning.csv"]  # no temp left
    monkeypatch.undo()
    write_csv(_accounts(), path)
    assert path.read_text(encoding="utf-8").startswith("account_id,name,mrr,seats\n")
    assert os.stat(path).st_mode & 0o777 == 0o640  # permissions of the replaced file kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["early_warning.csv"]


@given(
    st.lists(
        st.one_of(st.text(max_size=12), st.floats(allow_nan=False), st.integers()),
        min_size=1,
        max_size=20,
    )
)
def test_no_cell_starts_a_formula_and_text_is_recoverable(values):
    frame = pd.DataFrame({"cell": pd.Series(values, dtype=object)})
    safe = neutralise_formulas(frame)["cell"].tolist()
    for original, cell in zip(values, safe, strict=True):
        if isinstance(original, str):
            assert not cell.startswith(FORMULA_PREFIXES)
            risky = original.lstrip("'").startswith(FORMULA_PREFIXES)
            assert cell == ("'" + original if risky else original)
        else:
            assert cell is original or cell == original


@given(
    st.lists(
        st.one_of(
            st.text(alphabet="'=+-@\t\rab ,\"", max_size=8),
            st.text(max_size=8),
            st.floats(allow_nan=False),
            st.integers(),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_the_escape_is_undone_exactly(values):
    # #22 item 3: the report and the email showed 'HYPERLINK(...), '-Minus Co: read back
    # through restore_formulas, every text is what was written, also one that starts '=
    frame = pd.DataFrame({"cell": pd.Series(values, dtype=object), "=label": 1})
    back = restore_formulas(neutralise_formulas(frame))
    assert back["cell"].tolist() == values and list(back.columns) == ["cell", "=label"]


def test_read_csv_gives_back_the_names_as_written(tmp_path):
    names = ['=HYPERLINK("http://x")', "-Minus Co", "+Plus GmbH", "'=quoted", "Acme", "@home"]
    frame = pd.DataFrame({"account_id": ["-1", "A2", "A3", "A4", "A5", "A6"], "name": names})
    path = write_csv(frame, tmp_path / "scores.csv")
    on_disk = pd.read_csv(path, dtype=str)
    assert on_disk["name"].tolist()[:4] == [
        '\'=HYPERLINK("http://x")',
        "'-Minus Co",
        "'+Plus GmbH",
        "''=quoted",
    ]
    assert on_disk["account_id"].tolist()[0] == "'-1"
    pd.testing.assert_frame_equal(read_csv(path, dtype=str), frame)
