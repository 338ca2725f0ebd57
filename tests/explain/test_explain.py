"""Tests of churnlab.explain: values against the shap library, additivity, reasons."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churnlab.errors import ModelError
from churnlab.explain import (
    ShapResult,
    explain_model,
    global_importance,
    linear_shap,
    linear_shap_columns,
    reason_context,
    reasons_summary,
    top_reasons,
    tree_shap,
)
from churnlab.vocabulary import feature_label

NUMERIC = ["logins_28d", "days_since_last_login", "last_nps", "open_ticket_backlog", "noise_a"]
CATEGORICAL = ["plan"]


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Model input frame with a categorical, missing values and zero-heavy counts; known drivers."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "logins_28d": rng.poisson(20, n).astype(float),
            "days_since_last_login": rng.exponential(10, n).round(0),
            "last_nps": rng.integers(0, 11, n).astype(float),
            "open_ticket_backlog": np.where(rng.random(n) < 0.6, 0.0, rng.poisson(2, n)),
            "noise_a": rng.normal(size=n),
        }
    )
    X.loc[rng.random(n) < 0.15, "last_nps"] = np.nan
    plan = pd.Series(rng.choice(["starter", "growth", "enterprise"], n), dtype=object)
    plan[rng.random(n) < 0.05] = np.nan
    X["plan"] = pd.Categorical(plan, categories=["enterprise", "growth", "starter"])
    logit = (
        -1.0
        - 0.12 * (X["logins_28d"] - 20)
        + 0.08 * X["days_since_last_login"]
        + 0.5 * X["open_ticket_backlog"]
        + 0.8 * (X["plan"] == "starter")
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y.to_numpy()


@pytest.fixture(scope="module")
def lgb_fixture():
    X, y = _frame(3000, seed=1)
    params = dict(
        objective="binary", num_leaves=15, learning_rate=0.1, min_child_samples=20,
        cat_smooth=1, min_data_per_group=5, num_threads=1, seed=7, verbose=-1,
    )  # fmt: skip
    booster = lgb.train(params, lgb.Dataset(X, y), 60)
    return booster, X, y


def _shap_reference(booster, X):
    explainer = shap.TreeExplainer(booster)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = explainer.shap_values(X)
    return np.asarray(values), float(np.ravel(explainer.expected_value)[0])


def test_tree_shap_equals_shap_tree_explainer(lgb_fixture):
    booster, X, _ = lgb_fixture
    assert any(t["tree_structure"] for t in booster.dump_model()["tree_info"])
    ref, base = _shap_reference(booster, X)
    ours = tree_shap(booster, X)
    assert list(ours.values.columns) == booster.feature_name()
    np.testing.assert_allclose(ours.values.to_numpy(), ref, atol=1e-6, rtol=0)
    assert ours.base_value == pytest.approx(base, abs=1e-9)
    assert ours.values.index.equals(X.index)
    # the categorical and the feature with missing values do carry attributions
    assert ours.values["plan"].abs().max() > 0.05
    assert ours.values["last_nps"].abs().max() > 0


def test_tree_shap_chunks_and_threads_agree(lgb_fixture):
    booster, X, _ = lgb_fixture
    ref, _ = _shap_reference(booster, X)
    ours = tree_shap(booster, X, chunk_rows=700, n_jobs=2)
    np.testing.assert_allclose(ours.values.to_numpy(), ref, atol=1e-6, rtol=0)


def test_tree_shap_sparse_cell_route_agrees(lgb_fixture, monkeypatch):
    import churnlab.explain._tree as engine

    booster, X, _ = lgb_fixture
    ref, _ = _shap_reference(booster, X)
    monkeypatch.setattr(engine, "_DENSE_CELLS", 1)  # every tree takes the np.unique route
    np.testing.assert_allclose(tree_shap(booster, X).values.to_numpy(), ref, atol=1e-6, rtol=0)


def test_tree_shap_zero_as_missing_and_unseen_rows(lgb_fixture):
    _, X, y = lgb_fixture
    params = dict(objective="binary", num_leaves=7, zero_as_missing=True, num_threads=1, verbose=-1)
    booster = lgb.train(params, lgb.Dataset(X, y), 30)
    other, _ = _frame(800, seed=9)  # rows the model never saw, explained alone
    ref, _ = _shap_reference(booster, other)
    np.testing.assert_allclose(tree_shap(booster, other).values.to_numpy(), ref, atol=1e-6, rtol=0)


def test_tree_shap_additivity(lgb_fixture):
    booster, X, _ = lgb_fixture
    ours = tree_shap(booster, X)
    gap = ours.check_additivity(booster.predict(X, raw_score=True))
    assert gap < 1e-9
    with pytest.raises(ModelError, match="do not add up"):
        ours.check_additivity(booster.predict(X, raw_score=True) + 0.01)


def test_tree_shap_missing_feature_is_a_model_error(lgb_fixture):
    booster, X, _ = lgb_fixture
    with pytest.raises(ModelError, match="last_nps"):
        tree_shap(booster, X.drop(columns="last_nps"))


@pytest.fixture(scope="module")
def logistic_fixture():
    X, y = _frame(1500, seed=3)
    X = X.assign(plan=X["plan"].astype(object))
    num = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    pre = ColumnTransformer(
        [("num", num, NUMERIC), ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)]
    )
    pipe = Pipeline([("preprocess", pre), ("model", LogisticRegression(max_iter=1000))])
    pipe.fit(X, y)
    return pipe, X, y


def test_linear_shap_columns_equal_shap_linear_explainer(logistic_fixture):
    pipe, X, _ = logistic_fixture
    background, explain = X.iloc[:90], X.iloc[90:400]
    pre = pipe.named_steps["preprocess"]
    Z_bg, Z = pre.transform(background), pre.transform(explain)
    masker = shap.maskers.Independent(Z_bg, max_samples=len(Z_bg))
    explainer = shap.LinearExplainer(pipe.named_steps["model"], masker)
    ref = explainer.shap_values(Z)
    cols, base = linear_shap_columns(pipe, explain, background=background)
    np.testing.assert_allclose(cols.to_numpy(), ref, atol=1e-6, rtol=0)
    assert base == pytest.approx(float(np.ravel(explainer.expected_value)[0]), abs=1e-6)


def test_linear_shap_sums_one_hot_columns_and_adds_up(logistic_fixture):
    pipe, X, _ = logistic_fixture
    background = X.iloc[:500]
    cols, _ = linear_shap_columns(pipe, X, background=background)
    ours = linear_shap(pipe, X, background=background, chunk_rows=400)
    assert list(ours.values.columns) == NUMERIC + CATEGORICAL
    one_hot = [c for c in cols.columns if c.startswith("cat__plan_")]
    assert len(one_hot) == 4  # three plans + missing
    np.testing.assert_allclose(ours.values["plan"], cols[one_hot].sum(axis=1), atol=1e-12)
    np.testing.assert_allclose(ours.values["last_nps"], cols["num__last_nps"], atol=1e-12)
    ours.check_additivity(pipe.decision_function(X))
    # with no background the explained rows are the reference: values average to zero
    own = linear_shap(pipe, X)
    np.testing.assert_allclose(own.values.mean(axis=0), 0.0, atol=1e-9)


def test_explain_model_dispatches_on_kind(lgb_fixture, logistic_fixture):
    booster, X, _ = lgb_fixture
    table = X.assign(account_id=[f"A{i:05d}" for i in range(len(X))])
    prepare = lambda t: t[NUMERIC + CATEGORICAL]  # noqa: E731
    tree_model = SimpleNamespace(kind="lightgbm", booster_=booster, pipeline_=None, prepare=prepare)
    res = explain_model(tree_model, table)
    assert res.method == "tree"
    res.check_additivity(booster.predict(X, raw_score=True))
    pipe, Xl, _ = logistic_fixture
    lin_model = SimpleNamespace(kind="logistic", booster_=None, pipeline_=pipe, prepare=prepare)
    res = explain_model(lin_model, Xl, background=Xl.iloc[:300])
    assert res.method == "linear"
    res.check_additivity(pipe.decision_function(Xl))
    with pytest.raises(ModelError, match="cannot explain"):
        explain_model(SimpleNamespace(kind="svm", prepare=prepare), table)


def test_global_importance_recovers_true_drivers(lgb_fixture, logistic_fixture):
    booster, X, _ = lgb_fixture
    ranking = global_importance(tree_shap(booster, X))
    truth = {"logins_28d", "days_since_last_login", "open_ticket_backlog", "plan"}
    assert set(ranking["feature"].head(4)) == truth
    assert ranking["share"].sum() == pytest.approx(1.0)
    assert list(ranking["rank"]) == list(range(1, len(ranking) + 1))
    assert ranking["mean_abs_shap"].is_monotonic_decreasing
    assert ranking.set_index("feature").loc["noise_a", "rank"] >= 5
    pipe, Xl, _ = logistic_fixture
    lin = global_importance(linear_shap(pipe, Xl))
    assert set(lin["feature"].head(4)) == truth


def test_feature_labels():
    assert feature_label("logins_28d") == "Logins in the last 28 days"
    assert feature_label("onboarding_completed") == "Onboarding completed"
    assert feature_label("feature_reports_90d") == "Feature reports (90 days)"
    assert feature_label("webinar_count") == "Webinar count"


def _reason_fixture():
    features = ["logins_28d", "onboarding_completed", "mrr", "seat_utilisation_28d", "plan"]
    table = pd.DataFrame(
        {
            "account_id": ["A1", "A2"],
            "touch_tier": ["tech_touch", "high_touch"],
            "logins_28d": [3.0, 120.0],
            "onboarding_completed": [0.0, 1.0],
            "mrr": [1250.0, 9000.0],
            "seat_utilisation_28d": [0.25, 0.9],
            "plan": ["starter", "enterprise"],
        },
        index=pd.Index([10, 11], name="row"),
    )
    values = pd.DataFrame(
        [[0.9, 0.4, -0.2, 0.1, -0.05], [-0.7, -0.3, 0.2, -0.1, 0.0]],
        index=table.index,
        columns=features,
    )
    shap_result = ShapResult(values, -2.0, table[features], "tree")
    reference = pd.DataFrame(
        {
            "touch_tier": ["tech_touch"] * 4 + ["high_touch"] * 2,
            "label": [0, 0, 0, 1, 0, 0],
            "logins_28d": [40.0, 41.0, 45.0, 1.0, 200.0, 100.0],
            "onboarding_completed": [1.0, 1.0, 0.0, 0.0, 1.0, 1.0],
            "mrr": [1000.0, 1500.0, 2500.0, 10.0, 8000.0, 9000.0],
            "seat_utilisation_28d": [0.5, 0.6, 0.7, 0.1, 0.8, 0.85],
        }
    )
    return shap_result, table, reference


def test_reason_context_medians_of_retained():
    _, _, reference = _reason_fixture()
    ctx = reason_context(reference)
    assert ctx.loc["tech_touch", "logins_28d"] == 41.0  # the churned row (1.0) is ignored
    assert ctx.loc["high_touch", "mrr"] == 8500.0
    assert ctx.loc["tech_touch", "onboarding_completed"] == pytest.approx(2 / 3)
    assert ctx.loc["tech_touch", "n_retained"] == 3


def test_top_reasons_exact_text():
    """Direction first, plain words, the tier's retained accounts; equal comparisons dropped.

    Peers (retained, same tier), by hand: tech touch logins 40/41/45 -> median 41,
    onboarding 2 of 3 -> 67%, MRR median $1,500, seat use median 60%; high touch logins
    median 150, onboarding 2 of 2 -> 100%, MRR median $8,500, seat use median 82.5% -> 82%.
    """
    shap_result, table, reference = _reason_fixture()
    reasons = top_reasons(shap_result, table, k=3, context=reason_context(reference))
    a1 = reasons[reasons["account_id"] == "A1"]
    up = a1[a1["direction"] == "raises_risk"]
    assert list(up["reason_text"]) == [
        "Raises risk: 3 logins in the last 28 days (retained accounts in this tier: median 41)",
        "Raises risk: onboarding not completed "
        "(67% of retained accounts in this tier completed it)",
        "Raises risk: 25% of seats active in the last 28 days "
        "(retained accounts in this tier: median 60%)",
    ]
    down = a1[a1["direction"] == "lowers_risk"]
    assert list(down["reason_text"]) == [
        "Lowers risk: MRR: $1,250 (retained accounts in this tier: median $1,500)",
        "Lowers risk: Plan = starter",
    ]
    assert list(down["contribution"]) == [-0.2, -0.05]
    a2 = reasons.loc[11]
    assert list(a2.loc[a2["direction"] == "raises_risk", "reason_text"]) == [
        "Raises risk: MRR: $9,000 (retained accounts in this tier: median $8,500)"
    ]  # zero contributions (plan) are never reasons
    # onboarding completed, as 100% of its peers did: an equal comparison, dropped
    assert list(a2.loc[a2["direction"] == "lowers_risk", "feature"]) == [
        "logins_28d",
        "seat_utilisation_28d",
    ]
    assert list(a2.loc[a2["direction"] == "lowers_risk", "rank"]) == [1, 2]
    summary = reasons_summary(reasons, k=2)
    assert summary.loc[10] == (
        "Raises risk: 3 logins in the last 28 days (retained accounts in this tier: median 41); "
        "Raises risk: onboarding not completed "
        "(67% of retained accounts in this tier completed it)"
    )
    # the two strongest of both directions, the risk-raising ones first
    assert summary.loc[11] == (
        "Raises risk: MRR: $9,000 (retained accounts in this tier: median $8,500); "
        "Lowers risk: 120 logins in the last 28 days "
        "(retained accounts in this tier: median 150)"
    )
    plain = top_reasons(shap_result, table, k=1)
    assert list(plain["reason_text"]) == [
        "Raises risk: 3 logins in the last 28 days",
        "Lowers risk: MRR: $1,250",
        "Raises risk: MRR: $9,000",
        "Lowers risk: 120 logins in the last 28 days",
    ]


def test_top_reasons_scales_to_many_accounts():
    rng = np.random.default_rng(5)
    n = 20_000
    values = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"f{i}_28d" for i in range(6)])
    data = pd.DataFrame(rng.poisson(4, size=(n, 6)).astype(float), columns=values.columns)
    reasons = top_reasons(ShapResult(values, 0.0, data, "tree"), data, k=3)
    top = reasons[(reasons["direction"] == "raises_risk") & (reasons["rank"] == 1)]
    expected = values.columns[np.argmax(values.to_numpy(), axis=1)]
    assert (top["feature"].to_numpy() == expected[top.index]).all()
    S = values.to_numpy()
    expected_rows = np.minimum((S > 0).sum(axis=1), 3) + np.minimum((S < 0).sum(axis=1), 3)
    assert len(reasons) == expected_rows.sum()


def test_plots_return_figures_without_showing(lgb_fixture):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from churnlab.plots.explain import plot_dependence, plot_importance_bar

    booster, X, _ = lgb_fixture
    result = tree_shap(booster, X)
    fig = plot_importance_bar(result, top=4)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[-1] == feature_label(global_importance(result)["feature"].iloc[0])
    assert len(fig.axes[0].patches) == 4
    for feature in ("logins_28d", "plan"):
        fig = plot_dependence(result, feature, sample=300)
        assert fig.axes[0].get_xlabel() == feature_label(feature)
    _, ax = plt.subplots()
    assert plot_importance_bar(result, ax=ax) is ax.figure
    plt.close("all")


@pytest.fixture(scope="module")
def sample_tables(observations, sample_truth):
    """The month-end observations of the shared pipeline run (stage 00's real output)."""
    train = observations[observations["checkpoint"] == "month_end"].reset_index(drop=True)
    return train, sample_truth


def test_sample_ranking_finds_generator_drivers(sample_tables):
    """LightGBM's global SHAP ranking (by metric family) recovers the generator's strong drivers.

    The shared sample (2000 accounts, 24 months, seed 7), the month-end observations stage
    00 wrote (18 months: 16 480 rows, 938 positives). A family's importance is mean |sum of
    its features' SHAP values| (exact for a group). At least 3 of the 4 strong drivers (any
    of their ground-truth ``features``) must be in the top 6 families; contract timing
    (``billing_period_months``, ``tenure_days``: an annual account can only churn when its
    renewal falls in the 90-day horizon) takes two of the six places. Measured:
    billing_period_months, days_to_onboard, tenure_days, open_ticket_backlog, last_nps,
    feature_alerts (three strong drivers; logins is eighth).
    """
    from churnlab.cohorts import metric_family
    from churnlab.modeling import fit_churn_model
    from churnlab.sample import driver_features

    train, truth = sample_tables
    strongest = max(truth["drivers"], key=lambda d: abs(d["log_odds"]))["feature"]
    assert strongest == "onboarding_completed"
    model = fit_churn_model(train, kind="lightgbm", seed=1, horizon_days=90)
    result = explain_model(model, train)
    result.check_additivity(model.predict_raw(train))
    v = result.values
    family = v.T.groupby(v.columns.map(metric_family)).sum().T.abs().mean()
    ranked = list(family.sort_values(ascending=False, kind="stable").index)
    top6 = set(ranked[:6])
    measures = driver_features(truth, v.columns)
    found = {
        d["name"]
        for d in truth["drivers"]
        if {metric_family(c) for c in measures[d["name"]]} & top6
    }
    strong = {d["name"] for d in truth["drivers"] if d["strong"]}
    assert len(found & strong) >= 3, (ranked[:6], found)
    # the bar is not trivial: the strong drivers' families are a minority of all families
    strong_families = {metric_family(c) for n in strong for c in measures[n]}
    assert len(strong_families) < len(ranked) / 3
    assert truth["irrelevant_attributes"] == ["region"]
    # region gets only noise splits: under 3% of the total and below every strong driver.
    # (Not "bottom half by rank": many families are never split on at all, so the rank of a
    # family with a few noise splits is about 18; measured share 1.4% with LightGBM at
    # 0.05 x 500 rounds, 2.0% at the 0.1 x 250 of #21: a larger step gives noise splits a
    # little more weight.)
    assert family["region"] < 0.03 * family.sum()
    for name in strong:
        assert family["region"] < max(family[metric_family(c)] for c in measures[name])
    rank = global_importance(result).set_index("feature")["rank"]
    assert rank["onboarding_completed"] < rank["region"]
    reasons = top_reasons(result, train, context=reason_context(train))
    assert reasons["reason_text"].str.len().gt(0).all()
    assert reasons_summary(reasons).index.isin(train.index).all()


def test_shap_explanation_carries_the_exact_values_and_draws(lgb_fixture):
    """``to_explanation`` hands churnlab's values to shap.plots unchanged (both model kinds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    booster, X, _ = lgb_fixture
    result = tree_shap(booster, X)
    explanation = result.to_explanation()
    np.testing.assert_array_equal(explanation.values, result.values.to_numpy())
    np.testing.assert_allclose(
        explanation.values.sum(axis=1) + explanation.base_values, result.log_odds()
    )
    assert explanation.feature_names[0] == feature_label(result.features[0])
    plan = result.features.index("plan")
    codes = explanation.data[:, plan]
    assert np.isnan(codes[X["plan"].isna().to_numpy()]).all()  # missing stays missing
    assert set(explanation.display_data[:, plan]) >= {"starter", "growth"}
    shap.plots.waterfall(explanation[0], show=False)
    shap.plots.beeswarm(explanation, show=False)
    assert plt.gcf().axes
    plt.close("all")
    assert result.to_explanation(labels=False).feature_names == result.features
