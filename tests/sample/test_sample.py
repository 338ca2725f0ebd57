"""Synthetic SaaS sample: schema, invariants, calibration targets, drivers, determinism.

Churn, MRR and periods are recomputed here with plain pandas from domain.md (not with
churnlab's own periods / KPI code), on the default 3000-account sample.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from churnlab.errors import ParamsError
from churnlab.sample import SampleData, generate_sample, write_sample

END = pd.Timestamp("2026-10-31")
GRACE = 30
THRESHOLDS = (12_000.0, 60_000.0)


@pytest.fixture(scope="module")
def sample() -> SampleData:
    return generate_sample()


def active_periods(subs: pd.DataFrame) -> pd.DataFrame:
    """Rows separated by at most GRACE days form one period (domain.md)."""
    s = subs.sort_values(["account_id", "start_date"]).reset_index(drop=True)
    prev_end = s.groupby("account_id")["end_date"].cummax().groupby(s["account_id"]).shift()
    new = prev_end.isna() | ((s["start_date"] - prev_end).dt.days > GRACE)
    g = s.groupby(new.cumsum()).agg(
        account_id=("account_id", "first"), start=("start_date", "min"), end=("end_date", "max")
    )
    g["churned"] = g["end"] <= END
    return g.reset_index(drop=True)


def mrr_on(subs: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
    """Account MRR on ``day``; inside a grace gap, the MRR of the row that closes it."""
    covered = subs[(subs["start_date"] <= day) & (subs["end_date"] > day)]
    mrr = covered.groupby("account_id")["mrr"].sum()
    last_end = subs[subs["end_date"] <= day].groupby("account_id")["end_date"].max()
    nxt = subs[subs["start_date"] > day].sort_values("start_date").groupby("account_id").first()
    gap = nxt.join(last_end.rename("last_end"), how="inner")
    gap = gap[((gap["start_date"] - gap["last_end"]).dt.days <= GRACE) & ~gap.index.isin(mrr.index)]
    return pd.concat([mrr, gap["mrr"]])


def monthly_kpis(sample: SampleData) -> pd.DataFrame:
    """Per calendar month: S, churned, NRR and logo churn by touch tier (domain.md)."""
    subs = sample.subscriptions
    periods = active_periods(subs)
    churns = periods[periods["churned"]]
    starts = pd.date_range("2024-11-01", "2026-09-01", freq="MS")
    out = []
    for p_start in starts:
        p_next = p_start + pd.offsets.MonthBegin(1)
        start_mrr = mrr_on(subs, p_start)
        next_mrr = mrr_on(subs, p_next).reindex(start_mrr.index, fill_value=0.0)
        churned_ids = churns.loc[
            (churns["end"] > p_start) & (churns["end"] <= p_next), "account_id"
        ]
        churned = start_mrr.index.isin(churned_ids)
        arr = 12 * start_mrr
        tier = np.where(arr >= THRESHOLDS[1], "high", np.where(arr >= THRESHOLDS[0], "low", "tech"))
        row = {"month": p_start, "nrr": next_mrr.sum() / start_mrr.sum(), "n": len(start_mrr)}
        for t in ("tech", "low", "high"):
            row[f"n_{t}"] = (tier == t).sum()
            row[f"churned_{t}"] = (churned & (tier == t)).sum()
        out.append(row)
    return pd.DataFrame(out)


@pytest.fixture(scope="module")
def kpis(sample) -> pd.DataFrame:
    return monthly_kpis(sample)


@pytest.fixture(scope="module")
def account_churn(sample) -> pd.Series:
    """1 when the account's first active period churned (inside the data)."""
    periods = active_periods(sample.subscriptions)
    first = periods.groupby("account_id").first()
    return first["churned"].astype(int).reindex(sample.accounts["account_id"])


# --- schema and invariants ------------------------------------------------------------


def test_schema_matches_architecture(sample):
    a, s, e = sample.accounts, sample.subscriptions, sample.events
    assert list(a.columns) == [
        "account_id", "name", "industry", "region", "plan", "acquisition_channel",
        "csm_owner", "signup_date",
    ]  # fmt: skip
    assert list(s.columns) == [
        "subscription_id", "account_id", "start_date", "end_date", "mrr", "plan", "seats",
        "billing_period_months",
    ]  # fmt: skip
    assert list(e.columns) == ["account_id", "timestamp", "event_type", "value", "user_id"]
    for col in ("signup_date",):
        assert a[col].dtype == "datetime64[ns]"
    assert s["start_date"].dtype == s["end_date"].dtype == "datetime64[ns]"
    assert e["timestamp"].dtype == "datetime64[ns]"
    assert s["mrr"].dtype == np.float64 and s["seats"].dtype == np.int64
    assert e["value"].dtype == np.float64
    for col in ("account_id", "event_type", "user_id"):
        assert isinstance(e[col].dtype, pd.CategoricalDtype)
    assert a["account_id"].is_unique and a["account_id"].str.fullmatch(r"A\d{5}").all()
    assert s["subscription_id"].is_unique
    assert set(a["plan"]) == set(s["plan"]) == {"starter", "growth", "enterprise"}
    assert set(a["acquisition_channel"]) == {"inbound", "outbound", "partner", "self_serve"}
    assert (a["signup_date"] == a["signup_date"].dt.normalize()).all()
    assert (s["start_date"] == s["start_date"].dt.normalize()).all()
    assert len(a) == 3000 and 1_000_000 <= len(e) <= 3_000_000


def test_subscription_invariants(sample):
    s = sample.subscriptions.sort_values(["account_id", "start_date"])
    assert (s["start_date"] < s["end_date"]).all()
    assert s["end_date"].notna().all()  # running rows keep their contractual end
    assert (s["mrr"] >= 0).all() and (s["seats"] >= 1).all()
    assert set(s["billing_period_months"]) == {1, 12}
    assert (s["start_date"] <= END).all()
    assert set(s["account_id"]) == set(sample.accounts["account_id"])
    prev_end = s.groupby("account_id")["end_date"].shift()
    assert not (s["start_date"] < prev_end).any(), "overlapping rows"
    first = s.groupby("account_id")["start_date"].min()
    signup = sample.accounts.set_index("account_id")["signup_date"]
    assert (first.reindex(signup.index) == signup).all()
    gaps = (s["start_date"] - prev_end).dt.days.dropna()
    grace = ((gaps > 0) & (gaps <= GRACE)).sum()
    resign = (gaps > GRACE).sum()
    assert grace >= 20 and resign >= 20  # both kinds of gap occur
    annual = s[s["billing_period_months"] == 12]
    assert (annual.groupby("account_id").size() > 1).any()
    term_days = (annual["end_date"] - annual["start_date"]).dt.days
    assert term_days.max() <= 366
    monthly = s[s["billing_period_months"] == 1]
    assert ((monthly["end_date"] - monthly["start_date"]).dt.days <= 31).all()
    changed = s.groupby("account_id")["mrr"].nunique() > 1
    assert changed.mean() > 0.2  # expansions and contractions happen


def test_events_only_while_covered(sample):
    e, s = sample.events, sample.subscriptions
    assert e["timestamp"].max() < END + pd.Timedelta(days=1)
    periods = active_periods(s)
    ev = pd.DataFrame(
        {"account_id": e["account_id"].astype(str), "timestamp": e["timestamp"]}
    ).sort_values("timestamp")
    per = periods.sort_values("start")
    joined = pd.merge_asof(
        ev, per, left_on="timestamp", right_on="start", by="account_id", direction="backward"
    )
    assert joined["start"].notna().all()
    assert (joined["timestamp"] < joined["end"]).all()


def test_event_values_and_users(sample):
    e = sample.events
    user_types = e["event_type"].astype(str).str.match(r"login|feature_")
    assert e.loc[user_types, "user_id"].notna().all() and e.loc[~user_types, "user_id"].isna().all()
    same_account = e.loc[user_types, "user_id"].astype(str).str[:6] == e.loc[
        user_types, "account_id"
    ].astype(str)
    assert same_account.all()
    nps = e.loc[e["event_type"] == "nps_response", "value"]
    assert nps.between(0, 10).all() and (nps == nps.round()).all() and nps.nunique() == 11
    steps = e.loc[e["event_type"] == "onboarding_step", "value"]
    assert set(steps) == {1.0, 2.0, 3.0, 4.0}
    resolved = e.loc[e["event_type"] == "ticket_resolved", "value"]
    assert (resolved >= 0).all()
    opened = (e["event_type"] == "ticket_opened").sum()
    assert 0 < len(resolved) < opened  # some tickets are never resolved
    done = e[e["event_type"] == "onboarding_completed"].groupby("account_id", observed=True).size()
    assert done.max() == 1 and 0.6 < len(done) / 3000 < 0.9
    touches = set(e["event_type"].astype(str))
    assert {"csm_meeting", "qbr", "webinar", "first_value"} <= touches
    assert {
        f"feature_{f}"
        for f in ("reports", "dashboards", "integrations", "automation", "api", "alerts")
    } <= touches
    assert e["timestamp"].is_monotonic_increasing


def test_csm_owner_follows_touch_tier(sample):
    a = sample.accounts.set_index("account_id")
    first = sample.subscriptions.sort_values("start_date").groupby("account_id").first()
    arr = 12 * first["mrr"].reindex(a.index)
    assert (a.loc[arr < THRESHOLDS[0], "csm_owner"] == "pooled").all()
    assert (a.loc[arr >= THRESHOLDS[0], "csm_owner"] != "pooled").all()


# --- calibration targets -----------------------------------------------------------------


def test_tech_touch_monthly_churn_in_range_and_high_touch_lower(kpis):
    tech = kpis["churned_tech"].sum() / kpis["n_tech"].sum()
    high = kpis["churned_high"].sum() / kpis["n_high"].sum()
    assert 0.01 <= tech <= 0.04
    assert high < tech


def test_nrr_average_in_range(kpis):
    assert 0.90 <= kpis["nrr"].mean() <= 1.20
    # compounded over a year it stays realistic too
    assert 0.85 <= kpis["nrr"].tail(12).prod() <= 1.25


def test_never_onboarded_churn_at_least_twice_as_often(sample, account_churn):
    e, a = sample.events, sample.accounts
    done = set(e.loc[e["event_type"] == "onboarding_completed", "account_id"].astype(str))
    old = a[a["signup_date"] <= END - pd.Timedelta(days=180)]["account_id"]
    completed = old.isin(done).to_numpy()
    churn = account_churn.reindex(old).to_numpy()
    assert churn[~completed].mean() >= 2 * churn[completed].mean()


def test_region_has_no_effect(sample, account_churn):
    table = pd.crosstab(sample.accounts["region"].to_numpy(), account_churn.to_numpy())
    assert chi2_contingency(table).pvalue > 0.01


def test_goodman_resolved_complainers_churn_less_than_silent_detractors(sample, account_churn):
    e = sample.events
    ids = lambda t: set(e.loc[e["event_type"] == t, "account_id"].astype(str))  # noqa: E731
    nps = e[e["event_type"] == "nps_response"]
    detractors = set(nps.loc[nps["value"] <= 6, "account_id"].astype(str))
    resolved = detractors & ids("ticket_resolved")
    silent = detractors - ids("ticket_opened")
    assert len(resolved) >= 50 and len(silent) >= 50
    assert account_churn.reindex(list(resolved)).mean() < account_churn.reindex(list(silent)).mean()


def test_falling_logins_precede_churn(sample):
    """Logins in the 28 days before an as_of vs the 28 days before that, vs churn in 90 days."""
    e = sample.events
    logins = e[e["event_type"] == "login"]
    periods = active_periods(sample.subscriptions)
    churns = periods[periods["churned"]]
    rates = []
    for as_of in pd.date_range("2025-05-31", "2026-06-30", freq="ME"):
        t = logins["timestamp"]
        last = logins[(t >= as_of - pd.Timedelta(days=28)) & (t < as_of)]
        prev = logins[(t >= as_of - pd.Timedelta(days=56)) & (t < as_of - pd.Timedelta(days=28))]
        n_last = last.groupby("account_id", observed=True).size()
        n_prev = prev.groupby("account_id", observed=True).size()
        base = n_prev[n_prev >= 20].index.astype(str)
        trend = (n_last.reindex(n_prev.index, fill_value=0) / n_prev)[n_prev >= 20]
        trend.index = base
        soon = churns[(churns["end"] > as_of) & (churns["end"] <= as_of + pd.Timedelta(days=90))]
        label = trend.index.isin(soon["account_id"])
        falling = trend.to_numpy() < 0.75
        rates.append((label[falling].mean(), label[~falling].mean()))
    falling_rate, other_rate = np.mean(rates, axis=0)
    assert falling_rate >= 1.5 * other_rate


def test_ground_truth_documents_drivers(sample):
    gt = sample.ground_truth
    features = {d["name"]: d["feature"] for d in gt["drivers"]}
    assert set(features.values()) == {
        "onboarding_completed", "time_to_value_days", "logins_trend_28d", "adoption_breadth_90d",
        "open_ticket_backlog", "last_nps", "active_users_trend_28d", "touch_tier",
    }  # fmt: skip
    effects = [abs(d["log_odds"]) for d in gt["drivers"]]
    assert [d["rank"] for d in gt["drivers"]] == list(range(1, 9))
    assert effects == sorted(effects, reverse=True)
    assert min(effects[:4]) >= max(effects[4:]) + 0.3  # the strong four stand out
    assert gt["irrelevant_attributes"] == ["region"]
    assert gt["parameters"]["seed"] == 42 and gt["realised"]["events"] == len(sample.events)
    measures = {d["name"]: d["features"] for d in gt["drivers"]}
    assert all(fs[0] == features[name] for name, fs in measures.items())  # primary first
    assert {"logins_{w}d", "active_users_{w}d", "days_since_last_login"} <= set(
        measures["declining_usage"]
    )
    assert "days_to_onboard" in measures["onboarding_not_completed"]
    assert "nps_category" in measures["detractor"]
    assert "tickets_opened_{w}d" in measures["unresolved_tickets"]
    assert not any("region" in f for fs in measures.values() for f in fs)


def test_onboarding_only_mildly_coupled_to_breadth_and_time_to_value(sample):
    """Slow time to value and narrow adoption are separate drivers, not onboarding's shadow."""
    a, e = sample.accounts, sample.events
    done = set(e.loc[e["event_type"] == "onboarding_completed", "account_id"])
    completed = a["account_id"].isin(done).to_numpy()
    first = e[e["event_type"] == "first_value"].groupby("account_id", observed=True)["timestamp"]
    ttv = (first.min().reindex(a["account_id"]) - a["signup_date"].to_numpy()).dt.days
    slow = (ttv.isna() | (ttv > 30)).to_numpy()
    assert 0.2 < slow[completed].mean() < slow[~completed].mean() < slow[completed].mean() + 0.3


# --- determinism, files, parameters ---------------------------------------------------


def _digests(paths: dict) -> dict:
    return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in paths.items()}


def test_same_seed_byte_identical_files_and_other_seed_differs(tmp_path):
    kw = {"n_accounts": 200, "months": 12}
    one = _digests(write_sample(generate_sample(seed=7, **kw), tmp_path / "one"))
    two = _digests(write_sample(generate_sample(seed=7, **kw), tmp_path / "two"))
    other = _digests(write_sample(generate_sample(seed=8, **kw), tmp_path / "other"))
    assert set(one) == {"accounts", "subscriptions", "events", "ground_truth", "readme"}
    assert one == two
    assert all(one[k] != other[k] for k in ("accounts", "subscriptions", "events"))


def test_written_files_round_trip(tmp_path):
    sample = generate_sample(n_accounts=150, months=6, end_date="2026-06-15", seed=3)
    paths = write_sample(sample, tmp_path)
    events = pd.read_parquet(paths["events"])
    assert len(events) == len(sample.events)
    assert events["timestamp"].max() < pd.Timestamp("2026-06-16")
    assert (sample.subscriptions["start_date"] <= pd.Timestamp("2026-06-15")).all()
    assert isinstance(events["event_type"].dtype, pd.CategoricalDtype)  # dictionary-encoded
    truth = json.loads(paths["ground_truth"].read_text())
    assert truth["parameters"]["end_date"] == "2026-06-15"
    assert "region" in paths["readme"].read_text()


def test_touch_thresholds_change_tiers():
    base = generate_sample(n_accounts=300, months=6, seed=1)
    all_high = generate_sample(n_accounts=300, months=6, seed=1, touch_thresholds=(0.0, 0.0))
    assert (base.accounts["csm_owner"] == "pooled").any()
    assert not (all_high.accounts["csm_owner"] == "pooled").any()
    assert "webinar" not in set(all_high.events["event_type"].astype(str))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_accounts": 0},
        {"months": 0},
        {"end_date": "31/10/2026"},
        {"touch_thresholds": (5.0, 1.0)},
    ],
)
def test_bad_parameters_raise_params_error(kwargs):
    with pytest.raises(ParamsError):
        generate_sample(**kwargs)
