"""What-if levers (modeling/levers.py): the edits, the params rules, and the generator's truth.

The lever estimates are checked on the real run of the shared sample (``pipeline_run``: its
champion, scoring rows and training observations) against the generator's hazard function
(``sample/_simulate.py`` ``hazard_log_odds``): each lever's edited features are mapped to the
drivers they measure (``sample.driver_features`` on the ground truth), and the generator's
drop is the change of the monthly hazard when those drivers' latent states are switched off
the way the edit does it.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from churnlab.config import load_params
from churnlab.errors import ParamsError, UsageError
from churnlab.modeling import load_model
from churnlab.modeling.levers import LEVER_COLUMNS, apply_edits, evaluate_levers
from churnlab.sample import _spec as S
from churnlab.sample._simulate import hazard_log_odds
from churnlab.sample._truth import driver_features
from tests.helpers import ROOT

# ------------------------------------------------------------------ the generator's drop

_END = 400 * S.DAY  # the month end the hazard is evaluated at (seconds)
_MONTH = 13


class _Recording(dict):
    """A state dict that records which latent states the hazard function reads."""

    read: set[str]

    def __getitem__(self, key):  # noqa: D105
        self.read.add(key)
        return super().__getitem__(key)


def _state() -> tuple[_Recording, SimpleNamespace]:
    """One account, a year in, with no driver active (onboarded, value on day 10)."""
    st = _Recording(
        first_start=np.array([0]),
        champion_lost=np.array([-(10**7)]),
        resolved_month=np.array([-(10**7)]),
        decline_age=np.array([0]),
        slow_open_until=np.array([-np.inf]),
        unhappy=np.array([False]),
        breadth=np.array([4]),
    )
    st.read = set()
    offsets = np.zeros((1, 6))
    offsets[0, 4] = offsets[0, 5] = 10 * S.DAY
    return st, SimpleNamespace(onboarding_offsets=offsets)


#: Each driver's latent state while active, and after the lever's edit (None: no edit
#: a lever can make switches it off; touch tier is ARR, a fixed attribute).
_TOGGLES = {
    "onboarding_not_completed": (
        ("onboarding_offsets", 4, 10**7 * S.DAY),
        ("onboarding_offsets", 4, _END - S.DAY),  # completed at as_of (days_to_onboard = tenure)
    ),
    "declining_usage": (("decline_age", None, 3), ("decline_age", None, 0)),
    "unresolved_tickets": (
        ("slow_open_until", None, _END + 30 * S.DAY),
        ("slow_open_until", None, _END),  # resolved at as_of
    ),
    "narrow_adoption": (("breadth", None, 2), ("breadth", None, 4)),  # to the tier median
    "champion_loss": (("champion_lost", None, _MONTH - 1), ("champion_lost", None, -(10**7))),
    "touch_tier": None,
}


def _set(st, acc, toggle) -> None:
    name, column, value = toggle
    if column is None:
        st[name] = np.array([value])
    else:
        acc.onboarding_offsets[0, column] = value


def generator_drop(drivers: list[str]) -> float:
    """The generator's monthly churn probability before minus after the edit of ``drivers``."""
    st, acc = _state()
    for d in drivers:
        if _TOGGLES[d] is not None:
            _set(st, acc, _TOGGLES[d][0])
    before = expit(hazard_log_odds(st, acc, _MONTH, _END, np.array([0])))[0]
    for d in drivers:
        if _TOGGLES[d] is not None:
            _set(st, acc, _TOGGLES[d][1])
    after = expit(hazard_log_odds(st, acc, _MONTH, _END, np.array([0])))[0]
    return float(before - after)


def test_the_hazard_reads_no_csm_touch():
    st, acc = _state()
    hazard_log_odds(st, acc, _MONTH, _END, np.array([0]))
    assert st.read == {
        "first_start",
        "champion_lost",
        "resolved_month",
        "decline_age",
        "slow_open_until",
        "unhappy",
        "breadth",
    }
    assert not any("touch" in k or "csm" in k or "meeting" in k for k in st.read)


# ------------------------------------------------------------- the levers on the real run


@pytest.fixture(scope="module")
def lever_run(pipeline_run, pipeline_cfg):
    model = load_model(pipeline_run.model)
    scoring = pd.read_parquet(pipeline_run.scoring)
    reference = pd.read_parquet(pipeline_run.observations)
    result = evaluate_levers(model, scoring, pipeline_cfg, reference=reference)
    return SimpleNamespace(
        model=model, scoring=scoring, reference=reference, result=result, cfg=pipeline_cfg
    )


def test_levers_agree_with_the_generator(lever_run, sample_truth):
    by_lever = lever_run.result.by_lever.set_index("lever")
    truth = {d["name"]: d for d in sample_truth["drivers"]}
    strong, weak = {}, {}
    for name, lever in lever_run.cfg.levers.items():
        drivers = [d for d, cols in driver_features(sample_truth, lever.set).items() if cols]
        assert drivers, name  # every default lever measures some driver of the sample
        truth_drop = generator_drop(drivers)
        model_drop = by_lever.loc[name, "mean_risk_drop"]
        assert by_lever.loc[name, "applies_to"] > 0, name
        if truth_drop != 0:
            assert np.sign(model_drop) == np.sign(truth_drop), (name, model_drop, truth_drop)
        if any(truth[d]["strong"] for d in drivers):
            strong[name] = model_drop
        else:
            weak[name] = model_drop
    print("strong", strong, "weak", weak)
    assert set(strong) == {"onboarding", "tickets", "usage"}
    assert set(weak) == {"adoption", "csm_touch"}
    assert min(strong.values()) > max(weak.values())


def test_csm_touch_has_no_causal_support_and_every_lever_says_association(lever_run, sample_truth):
    touch = driver_features(sample_truth, ["days_since_last_csm_touch"])
    assert [d for d, cols in touch.items() if cols] == ["touch_tier"]
    assert generator_drop(["touch_tier"]) == 0.0  # the generator gives touches no effect
    result = lever_run.result
    assert result.notes[0]["key"] == "levers.caveat"
    assert "not a proven effect" in result.notes[0]["text"]
    for _, row in result.by_lever.iterrows():
        said = json.loads(row["note_message"])
        assert said["key"] == "levers.note" and said["text"] == row["note"]
        assert "association" in row["note"].lower()


def test_biggest_lever_per_account_matches_single_predictions(lever_run):
    per = lever_run.result.per_account
    scoring, model = lever_run.scoring, lever_run.model
    assert per.index.equals(scoring.index)
    assert list(per.columns) == ["account_id", *LEVER_COLUMNS]
    assert (per["account_id"] == scoring["account_id"]).all()
    assert set(per["biggest_lever"].dropna()) <= set(lever_run.cfg.levers)
    assert (per["lever_risk_drop"] >= 0).all() and (per["lever_risk_drop"] <= 1).all()
    np.testing.assert_allclose(
        per["lever_arr_protected"], per["lever_risk_drop"] * scoring["arr"], rtol=1e-12
    )
    assert (per.loc[per["biggest_lever"].isna(), "lever_risk_drop"] == 0).all()
    # a few accounts, one row and one lever at a time
    ratios = dict(lever_run.cfg.features.ratios)
    picked = per[per["biggest_lever"].notna()].sample(4, random_state=0).index
    for i in picked:
        row = scoring.loc[[i]]
        base = model.predict_proba(row)[0]
        drops = {}
        for name, lever in lever_run.cfg.levers.items():
            only = lever.direction if lever.direction != "set" else None
            edited = apply_edits(
                row, lever.set, reference=lever_run.reference, only=only, ratios=ratios
            )
            if not edited[model.features].equals(row[model.features]):
                drops[name] = base - model.predict_proba(edited)[0]
        best = max(drops, key=lambda k: drops[k])
        assert per.loc[i, "biggest_lever"] == best
        assert per.loc[i, "lever_risk_drop"] == pytest.approx(drops[best], abs=1e-9)


def test_by_lever_sums_what_each_lever_changes(lever_run):
    by_lever = lever_run.result.by_lever
    per = lever_run.result.per_account
    assert list(by_lever["lever"]) == list(lever_run.cfg.levers)
    assert by_lever["biggest_for"].sum() == per["biggest_lever"].notna().sum()
    onboarding = by_lever.set_index("lever").loc["onboarding"]
    assert onboarding["play"] == "onboarding"
    not_done = (lever_run.scoring["onboarding_completed"] < 1).sum()
    assert onboarding["applies_to"] == not_done  # already onboarded: skipped


# ------------------------------------------------------------------------- apply_edits


def _reference() -> pd.DataFrame:
    """20 retained tech-touch rows (logins_28d 50, ...), 20 high touch, 20 churned (0)."""
    rows = []
    for tier, level, label in (("tech_touch", 50, 0), ("high_touch", 200, 0), ("tech_touch", 0, 1)):
        for _ in range(20):
            rows.append(
                {
                    "touch_tier": tier,
                    "label": label,
                    "logins_7d": level / 4,
                    "logins_28d": level,
                    "logins_90d": 3 * level,
                    "active_users_28d": level / 10,
                    "days_since_last_login": 2.0 if level else 60.0,
                    "days_to_onboard": 20.0,
                }
            )
    return pd.DataFrame(rows)


def _accounts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["a", "b", "c"],
            "touch_tier": ["tech_touch", "tech_touch", "high_touch"],
            "seats": [10.0, 10.0, 50.0],
            "tenure_days": [100.0, 200.0, 300.0],
            "logins_7d": [2.0, 25.0, 0.0],
            "logins_28d": [10.0, 80.0, 0.0],
            "logins_90d": [40.0, 240.0, 0.0],
            "logins_trend_28d": [-0.5, 0.2, -1.0],
            "active_users_28d": [2.0, 9.0, 0.0],
            "seat_utilisation_28d": [0.2, 0.9, 0.0],
            "days_since_last_login": [9.0, 1.0, np.nan],
            "logins_per_seat_28d": [1.0, 8.0, 0.0],
            "onboarding_completed": [0.0, 1.0, 0.0],
            "days_to_onboard": [np.nan, 5.0, np.nan],
            "time_to_value_days": [np.nan, 8.0, 20.0],
            "onboarding_completed_events_28d": [0.0, 0.0, 0.0],
            "open_ticket_backlog": [2.0, 0.0, 1.0],
            "tickets_resolved_28d": [1.0, 0.0, 0.0],
            "tickets_resolved_90d": [3.0, 0.0, 0.0],
            "nps_category": ["detractor", "none", "promoter"],
        }
    )


def test_usage_to_the_tier_median_moves_every_usage_feature_together():
    accounts = _accounts()
    before = accounts.copy()
    out = apply_edits(
        accounts,
        {"logins_28d": "tier_median", "active_users_28d": "tier_median"},
        reference=_reference(),
        only="raise",
        ratios={"logins_per_seat_28d": ("logins_28d", "seats")},
    )
    pd.testing.assert_frame_equal(accounts, before)  # the input is never modified
    # a: tech touch, below the retained tech median (churned rows are not the benchmark)
    a = out.iloc[0]
    assert (a["logins_7d"], a["logins_28d"], a["logins_90d"]) == (12.5, 50.0, 150.0)
    assert a["logins_trend_28d"] == 0.0  # no longer declining
    assert a["active_users_28d"] == 5.0 and a["seat_utilisation_28d"] == 0.5
    assert a["logins_per_seat_28d"] == 5.0
    assert a["days_since_last_login"] == 2.0
    # b: already above the median: raise-only leaves it as it was
    pd.testing.assert_series_equal(out.iloc[1], accounts.iloc[1])
    # c: high touch median, active users capped at seats (20 <= 50)
    c = out.iloc[2]
    assert (c["logins_28d"], c["logins_90d"], c["active_users_28d"]) == (200.0, 600.0, 20.0)
    assert c["days_since_last_login"] == 2.0 and c["logins_trend_28d"] == 0.0


def test_a_number_moves_the_other_windows_in_proportion():
    out = apply_edits(_accounts(), {"logins_28d": 20})
    assert list(out["logins_7d"]) == [4.0, 20 / 80 * 25, 5.0]  # same ratio; 0: by length
    assert list(out["logins_90d"]) == [80.0, 60.0, 20 * 90 / 28]
    assert list(out["logins_trend_28d"]) == [0.0, 0.0, 0.0]  # raised: 0; lowered: min(t, 0)


def test_completing_onboarding_completes_it_at_as_of():
    out = apply_edits(_accounts(), {"onboarding_completed": True}, reference=_reference())
    assert list(out["onboarding_completed"]) == [1.0, 1.0, 1.0]
    assert list(out["days_to_onboard"]) == [100.0, 5.0, 300.0]  # tenure: completed now
    assert list(out["time_to_value_days"]) == [100.0, 8.0, 20.0]  # reached by then at latest
    assert list(out["onboarding_completed_events_28d"]) == [1.0, 0.0, 1.0]


def test_clearing_the_backlog_resolves_its_tickets():
    out = apply_edits(_accounts(), {"open_ticket_backlog": 0}, only="lower")
    assert list(out["open_ticket_backlog"]) == [0.0, 0.0, 0.0]
    assert list(out["tickets_resolved_28d"]) == [3.0, 0.0, 1.0]
    assert list(out["tickets_resolved_90d"]) == [5.0, 0.0, 1.0]


def test_apply_edits_refuses_what_it_cannot_do():
    with pytest.raises(UsageError, match="no_such_feature"):
        apply_edits(_accounts(), {"no_such_feature": 1})
    with pytest.raises(UsageError, match="tier_medain"):
        apply_edits(_accounts(), {"logins_28d": "tier_medain"})
    out = apply_edits(_accounts(), {"nps_category": "promoter"})
    assert list(out["nps_category"]) == ["promoter"] * 3


# ------------------------------------------------------------------ params and other data


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("levers.grow={play: commercial, set: {tenure_days: 400}}", "tenure_days"),
        ("levers.upsell={play: commercial, set: {arr: 100000}}", "'arr'"),
        ("levers.annual={play: commercial, set: {billing_period_months: 12}}", "billing"),
        ("levers.call={play: phone_call, set: {last_nps: 9}}", "phone_call"),
    ],
)
def test_params_refuse_a_lever_the_team_cannot_pull(override, named):
    with pytest.raises(ParamsError) as err:
        load_params(ROOT / "params.yaml", overrides=[override])
    text = str(err.value)
    assert "levers." + override.split("=")[0].split(".")[1] in text and named in text


def test_snapshot_data_skips_the_default_levers_with_notes_and_takes_its_own():
    from churnlab.modeling import fit_churn_model
    from tests.modeling.synthetic import load_telco

    telco = load_telco()
    model = fit_churn_model(telco, kind="logistic", seed=0)
    cfg = load_params(ROOT / "params.yaml")
    result = evaluate_levers(model, telco, cfg, reference=telco)
    assert result.per_account["biggest_lever"].isna().all()
    assert (result.by_lever["applies_to"] == 0).all()
    skipped = [n for n in result.notes if n["key"] == "levers.skipped_missing"]
    assert [n["fields"]["lever"] for n in skipped] == list(cfg.levers)
    assert "the data has no onboarding_completed" in skipped[0]["text"]
    # snapshot data gets its own lever set in an overlay
    own = load_params(
        ROOT / "params.yaml",
        overrides=[
            "levers=null",
            "levers.tech_support={play: support, set: {TechSupport: 'Yes'}}",
        ],
    )
    result = evaluate_levers(model, telco, own, reference=telco)
    row = result.by_lever.iloc[0]
    assert (
        row["lever"] == "tech_support"
        and row["applies_to"] == (telco["TechSupport"] != "Yes").sum()
    )
    assert result.per_account["biggest_lever"].notna().any()
    # a median asked of a category: skipped with a note, never a traceback
    odd = load_params(
        ROOT / "params.yaml",
        overrides=["levers=null", "levers.x={play: support, set: {TechSupport: tier_median}}"],
    )
    result = evaluate_levers(model, telco, odd, reference=telco)
    assert [n["key"] for n in result.notes] == ["levers.caveat", "levers.skipped_value"]
    assert result.by_lever.loc[0, "applies_to"] == 0
