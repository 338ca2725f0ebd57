"""The customer-success vocabulary: the tier rule, labels and formats, defined once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.vocabulary import BANDS, TIERS, tier_rule, touch_tier, vocabulary

WORDS = vocabulary()


def test_touch_tier_rule_at_its_edges():
    # thresholds (low, high) = (12 000, 60 000): high from 60 000, low from 12 000
    arr = [0.0, 11_999.99, 12_000.0, 59_999.0, 60_000.0, 1e9, np.nan]
    assert touch_tier(arr, (12_000, 60_000)).tolist() == [
        "tech_touch", "tech_touch", "low_touch", "low_touch", "high_touch", "high_touch",
        "tech_touch",
    ]  # fmt: skip
    assert tier_rule((12_000, 60_000)) == (("high_touch", 60_000.0), ("low_touch", 12_000.0))
    assert TIERS[0] == "high_touch" and TIERS[-1] == "tech_touch" and BANDS[0] == "red"


def test_every_stage_applies_the_same_tier_rule(pipeline_run, pipeline_cfg):
    """The engine (observations) and the scoring (scores.csv) agree with the rule."""
    scores = pd.read_csv(pipeline_run.scores)
    expected = touch_tier(scores["arr"], pipeline_cfg.tiers.thresholds)
    assert (scores["touch_tier"] == expected).all()
    observations = pd.read_parquet(pipeline_run.observations)
    has_arr = observations["arr"].notna()
    rule = touch_tier(observations.loc[has_arr, "arr"], pipeline_cfg.tiers.thresholds)
    assert (observations.loc[has_arr, "touch_tier"] == rule).all()


@pytest.mark.parametrize(
    "value, shown",
    [(1_612_345.0, "$1.61M"), (45_300, "$45.3K"), (9_500, "$9,500"), (-45_300, "-$45.3K"),
     (0, "$0"), (None, "n/a"), (float("nan"), "n/a")],
)  # fmt: skip
def test_money(value, shown):
    assert WORDS.money(value) == shown


def test_rates_and_changes():
    assert WORDS.rate(0.0213) == "2.1%" and WORDS.rate(0.165, 0) == "16%"
    assert WORDS.rate(None) == "n/a"
    assert WORDS.change("rate", 0.003) == "+0.3 pp"
    assert WORDS.change("rate", -0.018) == "-1.8 pp"
    assert WORDS.change("money", -12_000) == "-$12K"
    assert WORDS.change("money", 0.0) == "+$0"
    assert WORDS.change("rate", None) == "n/a"
    assert WORDS.month("2026-09-30") == "Sep 2026"
    assert WORDS.date("2026-10-31") == "Oct 31, 2026"


def _python_number(v: float) -> str:
    """The number format the explanations used before Babel (the independent reference)."""
    if float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.2g}" if abs(v) < 0.1 else f"{v:.2f}"


def test_numbers_match_python_formatting():
    rng = np.random.default_rng(3)
    values = np.concatenate(
        [rng.normal(0, 5, 400), rng.exponential(2000, 200).round(0), rng.uniform(0.01, 0.1, 100)]
    )
    values = np.concatenate([values, [0.165, 2.675, 0.125, 12.25, 1234.5]])
    assert [WORDS.number(v) for v in values] == [_python_number(v) for v in values]


def test_feature_labels_from_the_catalogue_and_from_column_names():
    assert WORDS.feature_label("logins_28d") == "Logins in the last 28 days"
    assert WORDS.feature_label("feature_reports_90d") == "Feature reports (90 days)"
    assert WORDS.feature_label("webinar_count") == "Webinar count"
    assert WORDS.feature_in_sentence("logins_28d") == "logins in the last 28 days"
    assert WORDS.feature_in_sentence("mrr") == "MRR"  # an acronym keeps its case
    assert WORDS.feature_in_sentence("Contract") == "Contract"  # a user's column as named
    assert WORDS.tier_label("high_touch") == "High touch"
    assert WORDS.kpi_label("arr_at_risk", days=90) == "ARR at risk, next 90 days"


def test_catalogue_labels_name_real_columns(observations):
    labelled = set(WORDS.catalogue["features"])
    assert labelled <= set(observations.columns), labelled - set(observations.columns)


def test_unknown_language_and_message_are_clear_errors():
    with pytest.raises(ValueError, match="available"):
        vocabulary("xx")
    with pytest.raises(KeyError, match="no message"):
        WORDS.text("kpis.nothing")
