"""The modelling tests' own tables: the synthetic table's signal and the Telco table."""

from __future__ import annotations

from tests.modeling.synthetic import load_telco, make_synthetic_table


def test_synthetic_table_shape_and_signal():
    t = make_synthetic_table(n_accounts=50, n_months=12)
    assert len(t) == 600
    assert t["as_of"].nunique() == 12
    assert t.groupby(["account_id", "as_of"]).size().max() == 1
    # label 1 <=> churn date set, inside the 90-day window after as_of
    churned = t["label"] == 1
    assert t.loc[churned, "churn_date"].notna().all()
    assert t.loc[~churned, "churn_date"].isna().all()
    gap = (t.loc[churned, "churn_date"] - t.loc[churned, "as_of"]).dt.days
    assert gap.between(1, 90).all()


def test_telco_table_is_clean():
    t = load_telco()
    assert len(t) == 7043
    assert int(t["label"].sum()) == 1869
    assert t["TotalCharges"].notna().all()
    assert (t.loc[t["tenure"] == 0, "TotalCharges"] == 0).all()
    assert (t["tenure"] == 0).sum() == 11
