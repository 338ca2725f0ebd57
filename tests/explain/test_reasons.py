"""Reasons in plain words on small hand-made cases: merging, dropping, missing values, playbook.

Every expected number below is worked by hand from the fixture (medians of the retained rows
of the tier, shares, sums of SHAP values), not read back from the code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.config import load_params
from churnlab.explain import (
    ShapResult,
    feature_families,
    feature_topics,
    next_steps,
    playbook_features,
    reason_context,
    reasons_summary,
    top_reasons,
)
from churnlab.vocabulary import vocabulary

EN = vocabulary("en")


def _playbook():
    """The playbook of the project's params.yaml (the defaults)."""
    from tests.helpers import ROOT

    return load_params(ROOT / "params.yaml").playbook


def _case(values: dict[str, list[float]], shap: dict[str, list[float]], reference: dict):
    n = len(next(iter(values.values())))
    table = pd.DataFrame(
        {"account_id": [f"A{i}" for i in range(n)], "touch_tier": ["low_touch"] * n, **values}
    )
    features = list(shap)
    result = ShapResult(pd.DataFrame(shap, index=table.index), -2.0, table[features], "tree")
    ref = pd.DataFrame({"touch_tier": "low_touch", **reference})
    return result, table, reason_context(ref)


def test_duplicated_measures_are_one_reason_with_their_contributions_summed():
    """logins_28d and logins_per_seat_28d: one topic; days_to_onboard and the flag: another."""
    result, table, context = _case(
        {
            "logins_28d": [6.0],
            "logins_per_seat_28d": [0.3],
            "days_to_onboard": [np.nan],
            "onboarding_completed": [0.0],
            "tenure_days": [400.0],
        },
        {
            "logins_28d": [0.15],
            "logins_per_seat_28d": [0.45],
            "days_to_onboard": [0.6],
            "onboarding_completed": [0.1],
            "tenure_days": [0.65],
        },
        {
            "label": [0, 0, 0, 0, 1],
            "logins_28d": [30.0, 40.0, 50.0, 60.0, 1.0],
            "logins_per_seat_28d": [1.0, 1.2, 1.4, 1.6, 0.0],
            "days_to_onboard": [10.0, 12.0, 14.0, np.nan, np.nan],
            "onboarding_completed": [1.0, 1.0, 1.0, 0.0, 0.0],
            "tenure_days": [100.0, 200.0, 300.0, 500.0, 50.0],
        },
    )
    reasons = top_reasons(result, table, k=3, context=context)
    assert list(reasons["topic"]) == ["onboarding", "tenure_days", "logins"]
    # onboarding: 0.6 + 0.1; logins: 0.15 + 0.45 (the per-seat ratio is the stronger measure)
    assert list(reasons["contribution"]) == pytest.approx([0.7, 0.65, 0.6])
    assert list(reasons["feature"]) == ["days_to_onboard", "tenure_days", "logins_per_seat_28d"]
    assert list(reasons["reason_text"]) == [
        # 3 of the 4 retained completed onboarding (days_to_onboard recorded)
        "Raises risk: onboarding not completed (75% of retained accounts completed it)",
        # 400 days = 13 months; retained median (200 + 300) / 2 = 250 days = 8 months
        "Raises risk: customer for 13 months (retained accounts: median 8 months)",
        # retained median of (1.0, 1.2, 1.4, 1.6) = 1.3
        "Raises risk: 0.30 logins per seat in the last 28 days (retained accounts: median 1.30)",
    ]
    assert not reasons["reason_text"].str.contains("missing", case=False).any()


def test_a_count_and_its_charge_are_one_topic_by_their_data():
    reference = pd.DataFrame(
        {"day_calls": [10.0, 20.0, 35.0, 50.0], "day_charge": [1.7, 3.4, 5.95, 8.5]}
    )
    topics = feature_topics(["day_calls", "day_charge", "eve_calls"], reference)
    assert topics["day_calls"] == topics["day_charge"] != topics["eve_calls"]
    # without data only the names decide
    assert len(set(feature_topics(["day_calls", "day_charge"]).values())) == 2
    assert feature_topics(["logins_7d", "logins_trend_28d", "days_since_last_login"]) == {
        "logins_7d": "logins",
        "logins_trend_28d": "logins",
        "days_since_last_login": "logins",
    }


def test_a_reason_equal_to_its_comparison_is_dropped_and_the_next_one_moves_up():
    result, table, context = _case(
        {"open_ticket_backlog": [0.0], "seats": [12.0], "last_nps": [np.nan]},
        {"open_ticket_backlog": [0.9], "seats": [0.4], "last_nps": [0.3]},
        {
            "label": [0, 0, 0],
            "open_ticket_backlog": [0.0, 0.0, 1.0],  # median 0 = the account's 0: dropped
            "seats": [10.0, 12.0, 14.0],  # median 12 = the account's 12: dropped
            "last_nps": [8.0, np.nan, np.nan],  # 1 of 3 answered
        },
    )
    reasons = top_reasons(result, table, k=3, context=context)
    assert list(reasons["reason_text"]) == [
        "Raises risk: no NPS answer (33% of retained accounts answered)"
    ]
    assert list(reasons["rank"]) == [1]
    without = top_reasons(result, table, k=3)  # no comparison: nothing to drop
    assert list(without["reason_text"]) == [
        "Raises risk: no support ticket open",
        "Raises risk: 12 seats",
        "Raises risk: no NPS answer",
    ]


def test_a_users_own_columns_get_directional_generic_sentences():
    result, table, context = _case(
        {"Contract": ["Month-to-month"], "MonthlyCharges": [70.25], "Score": [3.0]},
        {"Contract": [0.8], "MonthlyCharges": [-0.3], "Score": [0.2]},
        {
            "label": [0, 0, 0, 1],
            "Contract": ["Two year", "Two year", "One year", "Month-to-month"],
            "MonthlyCharges": [20.0, 30.0, 100.0, 90.0],
            "Score": [3.0, 4.0, 5.0, 1.0],
        },
    )
    reasons = top_reasons(result, table, k=3, context=context)
    assert list(reasons["reason_text"]) == [
        "Raises risk: Contract = Month-to-month (retained accounts: mostly Two year)",
        "Raises risk: Score: 3 (retained accounts: median 4)",
        "Lowers risk: MonthlyCharges: 70.2 (retained accounts: median 30)",
    ]


def test_missing_values_say_what_they_mean():
    result, table, _ = _case(
        {
            "time_to_value_days": [np.nan],
            "days_since_last_csm_touch": [np.nan],
            "days_since_last_login": [np.nan],
            "mrr_change_90d": [-200.0],
            "logins_trend_28d": [-0.45],
            "billing_period_months": [12.0],
        },
        {
            "time_to_value_days": [0.6],
            "days_since_last_csm_touch": [0.5],
            "days_since_last_login": [0.35],
            "mrr_change_90d": [0.3],
            "logins_trend_28d": [0.2],
            "billing_period_months": [-0.9],
        },
        {"label": [0]},
    )
    reasons = top_reasons(result, table, k=6)
    assert list(reasons["reason_text"]) == [
        "Raises risk: first value not reached yet",
        # days_since_last_login (0.35) and logins_trend_28d (0.2): one topic, 0.55
        "Raises risk: no login on record",
        "Raises risk: no CSM touch on record",
        "Raises risk: MRR down $200 over the last 90 days",
        "Lowers risk: 12-month contract",
    ]


def test_reasons_in_japanese_start_with_the_japanese_direction():
    ja = vocabulary("ja")
    result, table, context = _case(
        {"onboarding_completed": [0.0], "billing_period_months": [12.0]},
        {"onboarding_completed": [0.5], "billing_period_months": [-0.4]},
        {"label": [0, 0], "onboarding_completed": [1.0, 0.0], "billing_period_months": [1, 12]},
    )
    reasons = top_reasons(result, table, context=context, words=ja)
    assert list(reasons["reason_text"]) == [
        ja.text(
            "reasons.direction.raises_risk",
            reason=ja.text(
                "reasons.compare.share_done",
                reason=ja.text("reasons.onboarding.not_completed"),
                share=ja.rate(0.5, 0),
                peers=ja.text("reasons.peers.all"),
            ),
        ),
        ja.text(
            "reasons.direction.lowers_risk",
            reason=ja.text("reasons.contract.months", n=12),
        ),
    ]
    assert reasons["reason_text"].iloc[0].startswith("リスク増: ")


def test_the_playbook_resolves_families_once_with_shell_patterns():
    features = [
        "logins_28d",
        "logins_per_seat_28d",
        "days_since_last_login",
        "open_ticket_backlog",
        "tickets_opened_90d",
        "days_to_onboard",
        "last_nps",
        "tenure_days",
        "mrr_change_90d",
    ]
    playbook = _playbook()
    families = playbook_features(playbook, features)
    assert families["usage"] == ["logins_28d", "logins_per_seat_28d", "days_since_last_login"]
    assert families["support"] == ["open_ticket_backlog", "tickets_opened_90d"]
    assert families["onboarding"] == ["days_to_onboard"]
    assert families["commercial"] == ["mrr_change_90d"]
    assert "tenure_days" not in feature_families(playbook, features)
    # a feature two families match belongs to the first
    assert playbook_features({"a": ["logins_*"], "b": ["*_28d"]}, ["logins_28d"]) == {
        "a": ["logins_28d"],
        "b": [],
    }


def test_the_next_step_is_the_family_of_the_strongest_raising_reason_that_has_one():
    result, table, _ = _case(
        {"tenure_days": [400.0, 400.0], "days_to_onboard": [np.nan, 9.0], "last_nps": [3.0, 9.0]},
        {"tenure_days": [0.9, 0.9], "days_to_onboard": [0.5, -0.5], "last_nps": [0.2, -0.1]},
        {"label": [0]},
    )
    reasons = top_reasons(result, table)
    steps = next_steps(reasons, _playbook(), EN)
    # tenure has no family; then onboarding (A0), or only NPS lowering risk (A1: no step)
    assert steps.to_dict("index") == {
        0: {"family": "onboarding", "next_step": EN.text("playbook.onboarding")}
    }
    own = {"onboarding": {"features": ["days_to_*"], "next_step": "Call them today"}}
    assert next_steps(reasons, own, EN)["next_step"].tolist() == ["Call them today"]
    summary = reasons_summary(reasons, k=1)
    assert summary.tolist() == [
        "Raises risk: customer for 13 months",
        "Raises risk: customer for 13 months",
    ]
