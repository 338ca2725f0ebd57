"""Odd but valid data never ends in a traceback: one-sided or empty cohorts, one group, no values.

Any data that meets the contract runs with defaults; what needs two groups (or any value)
is skipped with a note that says why.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from churnlab.cohorts import (
    churn_by_bins,
    churn_rate_table,
    compare_cohorts,
    cs_lenses,
    kaplan_meier,
    logrank,
    select_cohorts,
)
from churnlab.cohorts._compare import SUMMARY_COLUMNS, _categorical_row
from churnlab.cohorts._lenses import RATE_COLUMNS

matplotlib.use("Agg")

NO_CHURNED = "no churned account in the look-back window: nothing to compare"
NO_RETAINED = "no retained account in the look-back window: nothing to compare"
NO_ACCOUNT = "no account in the look-back window: nothing to compare"
#: The columns of churn_by_bins, as documented.
BIN_COLUMNS = ["feature", "group", "lower", "upper", *RATE_COLUMNS[1:]]


def cohort(labels: list[int], **extra) -> pd.DataFrame:
    """A small hand-made cohort table: a numeric and a categorical feature."""
    n = len(labels)
    table = pd.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(n)],
            "label": np.asarray(labels, dtype=int),
            "logins_28d": np.arange(n, dtype=float),
            "plan": (["starter", "growth"] * n)[:n],
        }
    )
    table["cohort"] = np.where(table["label"] == 1, "churned", "retained").astype(object)
    return table.assign(**extra)


def normal_summary() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    labels = (rng.uniform(size=80) < 0.4).astype(int).tolist()
    return compare_cohorts(cohort(labels), bootstrap=20, min_group=5).summary


def texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


# --- compare_cohorts / select_cohorts ----------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "note"),
    [([0, 0, 0, 0], NO_CHURNED), ([1, 1, 1], NO_RETAINED)],
    ids=["no churned", "no retained"],
)
def test_one_sided_cohort_compares_nothing_and_says_so(labels, note):
    result = compare_cohorts(cohort(labels), bootstrap=20)
    assert result.notes == (note,)
    assert result.summary.empty and list(result.summary.columns) == SUMMARY_COLUMNS
    # the empty summary has the dtypes of a ranked one (so it filters and writes alike)
    pd.testing.assert_series_equal(result.summary.dtypes, normal_summary().dtypes)
    assert result.findings() == []
    assert (result.n_churned, result.n_retained) == (sum(labels), len(labels) - sum(labels))
    assert note in result._repr_html_()


def test_no_renewal_in_the_window_gives_an_empty_cohort_and_a_note():
    obs = pd.DataFrame(
        {
            "account_id": ["A", "B"],
            "as_of": pd.to_datetime(["2024-01-01", "2024-02-01"]),
            "checkpoint": "renewal",
            "label": pd.array([1, 0], dtype="Int64"),
            "renewal_date": pd.to_datetime(["2024-04-01", "2024-05-01"]),
            "logins_28d": [1.0, 2.0],
            "plan": ["starter", "growth"],
        }
    )
    cohort_table = select_cohorts(obs, end="2026-10-31", lookback_days=365)
    assert cohort_table.empty
    assert list(cohort_table.columns) == [*obs.columns, "cohort"]
    result = compare_cohorts(cohort_table)  # defaults
    assert result.notes == (NO_ACCOUNT,)
    assert result.summary.empty and list(result.summary.columns) == SUMMARY_COLUMNS
    assert result.findings() == [] and (result.n_churned, result.n_retained) == (0, 0)


def test_a_snapshot_with_one_cohort_says_which_one_is_missing():
    snap = pd.DataFrame(
        {"account_id": list("xyz"), "checkpoint": "snapshot", "label": 0, "tenure": [1, 5, 9]}
    )
    assert compare_cohorts(select_cohorts(snap, end="2020-01-01")).notes == (NO_CHURNED,)


def test_no_feature_column_compares_nothing():
    table = cohort([0, 1, 0, 1])[["account_id", "label", "cohort"]]
    result = compare_cohorts(table)
    assert result.notes == ("no feature column in the cohort table: nothing to compare",)
    assert result.summary.empty and result.findings() == []


def test_categorical_row_with_an_empty_cohort(monkeypatch):
    """Some pandas versions drop the empty cohort's row from the crosstab (the reported
    "not enough values to unpack"); the row must count 0 accounts, not fail."""
    from churnlab.cohorts import _compare

    crosstab = pd.crosstab

    def dropping_crosstab(*args, **kwargs):
        out = crosstab(*args, **kwargs)
        return out.loc[out.sum(axis=1) > 0]

    monkeypatch.setattr(_compare.pd, "crosstab", dropping_crosstab)
    empty, filled = pd.Series([], dtype=object), pd.Series(["a", "b", "b"])
    row = _categorical_row(empty, filled, bootstrap=10, seed=0)
    assert (row["n_churned"], row["n_retained"]) == (0, 3)
    assert np.isnan(row["separation"]) and np.isnan(row["p_value"])
    row = _categorical_row(empty, empty, bootstrap=10, seed=0)
    assert (row["n_churned"], row["n_retained"]) == (0, 0) and np.isnan(row["separation"])


# --- churn_by_bins, churn_rate_table, cs_lenses ------------------------------------------


def test_churn_by_bins_all_missing_or_empty_gives_an_empty_table_with_a_note():
    t = cohort([0, 1, 0, 1, 0, 1], m=np.nan)
    for bins in (10, [0, 5, 10]):
        out = churn_by_bins(t, "m", bins=bins)
        assert out.empty and list(out.columns) == BIN_COLUMNS
        assert out.attrs["note"] == "nothing to bin: m is missing for every account"
    empty = churn_by_bins(cohort([]), "logins_28d")
    assert empty.empty and list(empty.columns) == BIN_COLUMNS
    assert empty.attrs["note"] == "nothing to bin: no accounts in the cohort table"
    assert empty.dtypes["n"] == np.int64 and empty.dtypes["churn_rate"] == np.float64


def test_churn_by_bins_constant_metric_gives_one_bin():
    t = cohort([1, 1, 0, 0, 0, 0], m=3.0)
    out = churn_by_bins(t, "m")
    assert out["group"].tolist() == ["[3, 3]"]
    assert out[["lower", "upper"]].iloc[0].tolist() == [3.0, 3.0]
    assert out["n"].tolist() == [6] and out["churn_rate"].tolist() == pytest.approx([1 / 3])
    assert out.attrs["note"] == "one bin only: m takes a single value"
    # a single known value among missing ones: one bin plus the missing group
    t = cohort([1, 0, 1, 0], m=[7.0, np.nan, np.nan, np.nan])
    out = churn_by_bins(t, "m", bins=5)
    assert out["group"].tolist() == ["[7, 7]", "missing"] and out["n"].tolist() == [1, 3]


def test_churn_rate_table_single_group_and_empty():
    t = cohort([1, 0, 0, 0], g="only")
    out = churn_rate_table(t, "g")
    assert out["group"].tolist() == ["only"] and out["n"].tolist() == [4]
    assert out[["churn_rate", "share"]].iloc[0].tolist() == [0.25, 1.0]
    assert out["ci_low"].iloc[0] < 0.25 < out["ci_high"].iloc[0]
    empty = churn_rate_table(cohort([], g="only"), "g", order=["only"])
    assert empty.empty and list(empty.columns) == RATE_COLUMNS


LENS_COLUMNS = {
    "onboarding_completed": 1.0,
    "time_to_value_days": 10.0,
    "tickets_opened_90d": 0.0,
    "open_ticket_backlog": 0.0,
    "nps_category": "promoter",
    "touch_tier": "high_touch",
}


def test_cs_lenses_single_group_gives_one_row_per_lens():
    lenses = cs_lenses(cohort([1, 0, 0, 1], **LENS_COLUMNS))
    assert set(lenses) == {"onboarding", "time_to_value", "tickets", "nps", "touch_tier"}
    assert lenses.skipped == {}
    groups = {name: table["group"].tolist() for name, table in lenses.items()}
    assert groups == {
        "onboarding": ["completed"],
        "time_to_value": ["<=14 days"],
        "tickets": ["no tickets"],
        "nps": ["promoter"],
        "touch_tier": ["high_touch"],
    }
    for table in lenses.values():
        assert table[["n", "churned", "share"]].iloc[0].tolist() == [4, 2, 1.0]


def test_cs_lenses_on_an_empty_cohort_skips_every_lens_with_the_reason():
    empty = (
        cohort([])
        .assign(**{c: pd.Series(dtype=type(v)) for c, v in LENS_COLUMNS.items()})
        .drop(columns="touch_tier")
    )
    lenses = cs_lenses(empty)
    assert dict(lenses) == {}
    assert lenses.skipped["onboarding"] == "skipped: no accounts in the cohort table"
    assert set(lenses.skipped) == {"onboarding", "time_to_value", "tickets", "nps", "touch_tier"}
    assert lenses.skipped["touch_tier"].startswith("skipped: needs the column(s)")
    assert "no accounts in the cohort table" in lenses._repr_html_()


# --- survival ----------------------------------------------------------------------------


def test_logrank_with_one_group_is_skipped_with_a_note():
    result = logrank([1, 2, 3, 4], [1, 0, 1, 0], ["high_touch"] * 4)
    assert result.skipped and result.note == "one group only: nothing to compare"
    assert result.groups == ("high_touch",)
    assert np.isnan(result.test_statistic) and np.isnan(result.p_value)
    assert result.degrees_of_freedom == 0
    assert list(result.summary.columns) == ["test_statistic", "p", "-log2(p)"]
    assert "one group only: nothing to compare" in result.to_ascii()
    empty = logrank([], [], [])
    assert empty.skipped and empty.note == "no accounts: nothing to compare"
    assert empty.groups == ()
    # groups=None-like input of one label, and missing groups that are all missing
    assert logrank([1, 2], [1, 1], [None, np.nan]).groups == ("missing",)


def test_logrank_with_two_groups_runs_and_labels_them():
    result = logrank([1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 0, 0], ["a", "a", "a", "b", "b", None])
    assert not result.skipped and result.note == ""
    assert result.groups == ("a", "b", "missing")
    assert result.degrees_of_freedom == 2 and 0 <= result.p_value <= 1


def test_kaplan_meier_one_group_empty_and_missing_groups():
    d, e = [1, 2, 2, 3, 4], [1, 1, 0, 1, 0]
    alone = kaplan_meier(d, e)  # groups=None: one group, "all"
    one = kaplan_meier(d, e, ["x"] * 5)
    assert one["group"].tolist() == ["x"] and alone["group"].tolist() == ["all"]
    pd.testing.assert_frame_equal(one.drop(columns="group"), alone.drop(columns="group"))
    columns = list(one.columns)
    assert columns == [
        "group", "n", "churned", "survival_3m", "survival_6m", "survival_12m",
        "survival_24m", "median_months",
    ]  # fmt: skip
    empty = kaplan_meier([], [], [])
    assert empty.empty and list(empty.columns) == columns
    labelled = kaplan_meier(d, e, ["x", None, "x", np.nan, "x"]).set_index("group")
    assert labelled["n"].to_dict() == {"x": 3, "missing": 2}


# --- plots -------------------------------------------------------------------------------


def test_plots_on_empty_inputs_say_nothing_to_show():
    from churnlab.plots.cohorts import plot_churn_by_bins, plot_effect_sizes, plot_km, plot_lens

    one_sided = compare_cohorts(cohort([0, 0, 0]), bootstrap=10)
    empty_cohort = compare_cohorts(cohort([]), bootstrap=10)
    all_missing = churn_by_bins(cohort([0, 1, 0], m=np.nan), "m")
    cases = [
        (
            plot_effect_sizes(one_sided),
            "nothing to show: no churned account in the look-back window",
        ),
        (plot_effect_sizes(empty_cohort), "nothing to show: no account in the look-back window"),
        (plot_churn_by_bins(all_missing), "nothing to show: m is missing for every account"),
        (
            plot_churn_by_bins(churn_by_bins(cohort([]), "logins_28d"), overall_rate=0.2),
            "nothing to show: no accounts in the cohort table",
        ),
        (plot_km([], [], []), "nothing to show: no accounts"),
        (
            plot_lens(churn_rate_table(cohort([], g="x"), "g")),
            "nothing to show: no accounts in the cohort table",
        ),
    ]
    for fig, expected in cases:
        assert texts(fig) == [expected]
        assert fig.get_size_inches()[0] == pytest.approx(7.0)


def test_effect_sizes_plot_when_every_feature_is_too_small():
    from churnlab.plots.cohorts import plot_effect_sizes

    result = compare_cohorts(cohort([0, 1, 0, 1, 0, 1]), bootstrap=10, min_group=30)
    assert not result.summary.empty and result.summary["small_group"].all()
    fig = plot_effect_sizes(result)
    assert texts(fig) == ["nothing to show: too few accounts to compare (groups under 30)"]


def test_plots_on_one_group_or_one_bin_still_draw():
    from churnlab.plots.cohorts import plot_churn_by_bins, plot_km, plot_lens

    fig = plot_km([1, 2, 3], [1, 0, 1], ["high_touch"] * 3)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["High touch (n=3)"]
    fig = plot_churn_by_bins(churn_by_bins(cohort([1, 0, 0], m=2.0), "m"))  # one bar: says so
    assert texts(fig) == ["nothing to show: M takes a single value here: nothing to compare"]
    fig = plot_lens(churn_rate_table(cohort([1, 0], g="only"), "g"))
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["only (n=2)"]
    assert texts(fig) == []
