"""Track record of an earlier run: a hand-worked fixture, a synthetic lift check, edges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from churnlab.modeling.track_record import (
    TABLE_COLUMNS,
    TrackRecord,
    measure_run,
    sentence,
    track_record_table,
    window_closed,
)
from churnlab.observations.periods import active_periods

T = pd.Timestamp
AS_OF = T("2026-01-31")
LEAD, HORIZON, GRACE = 30, 90, 14
# label window (AS_OF + 30, AS_OF + 120] = (2026-03-02, 2026-05-31]
DATA_END = T("2026-06-10")  # a cover end on 05-31 is still pending (05-31 + 14 = 06-14)

# account: subscriptions (start, end) -> what happened, by hand
SUBSCRIPTIONS = [
    ("A01", "2025-04-01", "2026-04-01"),  # churn 04-01 in window, confirmed 04-15 -> churned
    ("A02", "2025-03-03", "2026-03-03"),  # churn 03-03, first day of the window -> churned
    ("A03", "2025-02-15", "2026-02-15"),  # churn 02-15 in the lead time -> unknown, in lead
    ("A04", "2025-04-15", "2026-04-15"),  # renews on 04-15 (back-to-back row) -> renewed
    ("A04", "2026-04-15", "2027-04-15"),
    ("A05", "2025-09-01", "2026-09-01"),  # under contract until 09-01 -> open
    ("A06", "2025-05-31", "2026-05-31"),  # cover ends 05-31, grace open at 06-10 -> pending
    ("A07", "2025-03-20", "2026-03-20"),  # 10-day gap <= 14 days of grace: no churn
    ("A07", "2026-03-30", "2027-03-30"),  #   renewal 03-20 in window -> renewed
    ("A08", "2025-06-05", "2026-06-05"),  # ends after the window (pending churn) -> open
    # A09 has no subscription in the current data -> unknown, not active
    ("A10", "2025-03-02", "2026-03-02"),  # churn 03-02 = window start -> unknown, in lead
    ("A11", "2025-01-01", None),  # running, no renewal date -> open
]

# account: (old churn_probability, old arr, old renewal_date, flagged)
OLD = {
    "A01": (0.60, 12000.0, "2026-04-01", True),
    "A02": (0.30, 6000.0, "2026-03-03", False),
    "A03": (0.50, 24000.0, "2026-02-15", True),
    "A04": (0.35, 30000.0, "2026-04-15", True),
    "A05": (0.10, 5000.0, "2026-09-01", False),
    "A06": (0.40, 8000.0, "2026-05-31", True),
    "A07": (0.32, 10000.0, "2026-03-20", False),
    "A08": (0.10, 4000.0, "2026-06-05", False),
    "A09": (0.05, 3000.0, "2026-12-31", False),
    "A10": (0.45, 20000.0, "2026-03-02", True),
    "A11": (0.02, 2000.0, None, False),
}


def subscriptions(rows=SUBSCRIPTIONS) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": [r[0] for r in rows],
            "start_date": pd.to_datetime([r[1] for r in rows]),
            "end_date": pd.to_datetime([r[2] for r in rows]),
            "mrr": 100.0,
        }
    )


def old_scores(old=OLD, as_of=AS_OF) -> pd.DataFrame:
    ids = list(old)
    p = np.array([old[i][0] for i in ids])
    arr = np.array([old[i][1] for i in ids])
    renewal = pd.to_datetime([old[i][2] for i in ids])
    return pd.DataFrame(
        {
            "account_id": ids,
            "as_of": as_of,
            "churn_probability": p,
            "health_score": 50,
            "health_band": "yellow",
            "touch_tier": "tech_touch",
            "arr": arr,
            "renewal_date": renewal,
            "days_to_renewal": (renewal - as_of).days,
            "expected_arr_at_risk": p * arr,
        }
    )


@pytest.fixture(scope="module")
def record() -> TrackRecord:
    periods = active_periods(subscriptions(), GRACE, DATA_END)
    flagged = [i for i, v in OLD.items() if v[3]]
    return measure_run(
        old_scores(),
        flagged,
        periods,
        run_id="run-2026-01",
        as_of=AS_OF,
        lead_days=LEAD,
        horizon_days=HORIZON,
        data_end=DATA_END,
    )


def test_outcomes_per_account(record):
    acc = record.accounts.set_index("account_id")
    assert acc["outcome"].to_dict() == {
        "A01": "churned",
        "A02": "churned",
        "A03": "unknown",
        "A04": "renewed",
        "A05": "open",
        "A06": "unknown",
        "A07": "renewed",
        "A08": "open",
        "A09": "unknown",
        "A10": "unknown",
        "A11": "open",
    }
    reasons = acc.loc[acc["outcome"] == "unknown", "unknown_reason"].to_dict()
    assert reasons == {
        "A03": "churned_in_lead",
        "A06": "churn_pending",
        "A09": "not_active",
        "A10": "churned_in_lead",
    }
    assert (acc.loc[acc["outcome"] != "unknown", "unknown_reason"] == "").all()
    assert acc["label"].dtype == "Int64"
    assert acc["label"].isna().sum() == 4 and int(acc["label"].sum()) == 2
    # the churn date of a window churn, and of a churn in the lead time
    assert acc.at["A01", "churn_date"] == T("2026-04-01")
    assert acc.at["A03", "churn_date"] == T("2026-02-15")
    assert acc.at["A10", "churn_date"] == T("2026-03-02")
    assert pd.isna(acc.at["A04", "churn_date"]) and pd.isna(acc.at["A06", "churn_date"])
    assert record.window_start == T("2026-03-02") and record.window_end == T("2026-05-31")


def test_observation_summary_matches(record):
    s = record.observations
    assert s.n_candidates == 11 and s.n_not_active == 1  # A09
    assert s.n_dropped_churned_in_lead == 2  # A03, A10
    assert s.n_dropped_churn_pending == 1  # A06
    assert s.n_labelled == 7 and s.n_positive == 2  # A01, A02


def test_deciles_sorted_with_ties_by_account_id(record):
    # sorted by p desc, then id: A01 .60, A03 .50, A10 .45, A06 .40, A04 .35, A07 .32,
    # A02 .30, A05 .10, A08 .10 (tie: A05 first), A09 .05, A11 .02; decile = i * 10 // 11 + 1
    acc = record.accounts
    assert acc["account_id"].tolist() == [
        "A01",
        "A03",
        "A10",
        "A06",
        "A04",
        "A07",
        "A02",
        "A05",
        "A08",
        "A09",
        "A11",
    ]
    assert acc["decile"].tolist() == [1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]


def test_flagged_rest_and_overall_by_hand(record):
    f, r, a = record.flagged, record.rest, record.overall
    # flagged A01 A03 A04 A06 A10: churned A01, renewed A04; A03 A10 in lead, A06 pending
    assert (f.n_accounts, f.n_labelled, f.n_churned, f.n_renewed, f.n_open) == (5, 2, 1, 1, 0)
    assert (f.n_unknown, f.n_churned_in_lead, f.n_churn_pending, f.n_not_active) == (3, 2, 1, 0)
    # rest A02 A05 A07 A08 A09 A11: churned A02, renewed A07, open A05 A08 A11, A09 gone
    assert (r.n_accounts, r.n_labelled, r.n_churned, r.n_renewed, r.n_open) == (6, 5, 1, 1, 3)
    assert (r.n_unknown, r.n_churned_in_lead, r.n_churn_pending, r.n_not_active) == (1, 0, 0, 1)
    assert (a.n_accounts, a.n_labelled, a.n_churned, a.n_renewed, a.n_open) == (11, 7, 2, 2, 3)
    assert (a.n_unknown, a.n_churned_in_lead, a.n_churn_pending, a.n_not_active) == (4, 2, 1, 1)
    # churn rates 1/2, 1/5, 2/7; lift = rate / (2/7): 1.75, 0.7, 1
    assert f.churn_rate == pytest.approx(0.5)
    assert r.churn_rate == pytest.approx(0.2)
    assert a.churn_rate == pytest.approx(2 / 7)
    assert (f.lift, r.lift, a.lift) == pytest.approx((1.75, 0.7, 1.0))
    # mean predicted over the labelled: (.6 + .35) / 2; (.3 + .32 + .1 + .1 + .02) / 5;
    # (.6 + .3 + .35 + .32 + .1 + .1 + .02) / 7 = 1.79 / 7
    assert f.mean_predicted == pytest.approx(0.475)
    assert r.mean_predicted == pytest.approx(0.168)
    assert a.mean_predicted == pytest.approx(1.79 / 7)


def test_calibration_and_auc_by_hand(record):
    f, r, a = record.flagged, record.rest, record.overall
    # Brier, labelled only: A01 (.6-1)^2=.16, A02 (.3-1)^2=.49, A04 .35^2=.1225,
    # A07 .32^2=.1024, A05 .01, A08 .01, A11 .0004 -> sum .8953 / 7
    assert a.brier == pytest.approx(0.8953 / 7)
    assert f.brier == pytest.approx((0.16 + 0.1225) / 2)
    assert r.brier == pytest.approx((0.49 + 0.1024 + 0.01 + 0.01 + 0.0004) / 5)
    # AUC: positives .6 and .3 vs negatives .35 .32 .1 .1 .02: .6 wins 5, .3 wins 3 -> 8/10
    assert a.roc_auc == pytest.approx(0.8)
    assert f.roc_auc == pytest.approx(1.0)  # .6 vs .35
    assert r.roc_auc == pytest.approx(0.75)  # .3 beats .1 .1 .02, loses to .32
    # cross-check with scikit-learn on the labelled accounts
    lab = record.accounts[record.accounts["outcome"] != "unknown"]
    y = (lab["outcome"] == "churned").astype(int)
    assert a.roc_auc == pytest.approx(roc_auc_score(y, lab["churn_probability"]))
    assert a.brier == pytest.approx(brier_score_loss(y, lab["churn_probability"]))


def test_arr_lost_and_predicted_by_hand(record):
    f, r, a = record.flagged, record.rest, record.overall
    # lost: A01 12000 + A02 6000; in the lead time: A03 24000 + A10 20000 (both flagged)
    assert (a.arr_lost, f.arr_lost, r.arr_lost) == (18000.0, 12000.0, 6000.0)
    assert (a.arr_churned_in_lead, f.arr_churned_in_lead, r.arr_churned_in_lead) == (
        44000.0,
        44000.0,
        0.0,
    )
    # expected ARR at risk = p * arr: A01 7200, A02 1800, A03 12000, A04 10500, A05 500,
    # A06 3200, A07 3200, A08 400, A09 150, A10 9000, A11 40
    assert f.arr_predicted == pytest.approx(7200 + 10500)  # labelled: A01 A04
    assert r.arr_predicted == pytest.approx(1800 + 3200 + 500 + 400 + 40)
    assert a.arr_predicted == pytest.approx(23640)
    assert f.arr_predicted_all == pytest.approx(17700 + 12000 + 3200 + 9000)
    assert r.arr_predicted_all == pytest.approx(5940 + 150)
    assert a.arr_predicted_all == pytest.approx(47990)


def test_decile_table_by_hand(record):
    d = record.deciles.set_index("decile")
    assert d.index.tolist() == list(range(1, 11))
    assert d["n_accounts"].tolist() == [2, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    assert d["n_churned"].tolist() == [1, 0, 0, 0, 0, 1, 0, 0, 0, 0]  # A01, A02
    assert d["n_unknown"].tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 1, 0]  # A03 A10 A06 A09
    # decile 1: A01 churned, A03 (in lead) left out -> rate 1, mean .6, lift 1 / (2/7) = 3.5
    assert d.at[1, "churn_rate"] == 1.0 and d.at[1, "mean_predicted"] == pytest.approx(0.6)
    assert d.at[1, "lift"] == pytest.approx(3.5) and d.at[6, "lift"] == pytest.approx(3.5)
    assert np.isnan(d.at[2, "churn_rate"]) and np.isnan(d.at[2, "lift"])  # only A10
    assert d.at[4, "churn_rate"] == 0.0 and d.at[4, "n_renewed"] == 1  # A04
    assert d[["brier", "roc_auc"]].isna().all().all()
    assert d["n_accounts"].sum() == 11 and d["n_churned"].sum() == 2


def test_sentence(record):
    assert sentence(record) == (
        "Of the 5 accounts flagged on 2026-01-31, 1 churned (50%, vs 20% of the rest); "
        "a further 2 churned during the 30-day lead time and 1 could not be measured "
        "(not in the rates)."
    )
    custom = sentence(
        record,
        number=lambda n: f"<{n}>",
        percent=lambda x: f"{100 * x:.1f} %",
        date=lambda d: d.strftime("%d %b %Y"),
    )
    assert custom.startswith(
        "Of the <5> accounts flagged on 31 Jan 2026, <1> churned (50.0 %, vs 20.0 % of the rest)"
    )


def test_sentence_plain_and_no_flags():
    periods = active_periods(subscriptions(), GRACE, DATA_END)
    scores = old_scores()
    kwargs = dict(run_id="r", as_of=AS_OF, lead_days=LEAD, horizon_days=HORIZON, data_end=DATA_END)
    rec = measure_run(scores, ["A01", "A02", "A04", "A05"], periods, **kwargs)
    # churned A01 A02 of 4 labelled; rest labelled A07 A08 A11, none churned
    assert (
        sentence(rec)
        == "Of the 4 accounts flagged on 2026-01-31, 2 churned (50%, vs 0% of the rest)."
    )
    none = measure_run(scores, [], periods, **kwargs)
    assert none.flagged.n_accounts == 0 and np.isnan(none.flagged.churn_rate)
    assert (
        sentence(none)
        == "No account was flagged on 2026-01-31; 29% of the 11 other accounts churned."
    )
    one = measure_run(scores, ["A06"], periods, **kwargs)  # the pending churn only
    assert sentence(one, missing="-") == (
        "Of the 1 account flagged on 2026-01-31, 0 churned (-, vs 29% of the rest); "
        "1 could not be measured (not in the rates)."
    )


def test_renewal_bounds_follow_the_label_window():
    # window (03-02, 05-31]: a renewal on 03-02 is in the lead time (open), on 05-31 counts
    subs = subscriptions(
        [
            ("S1", "2025-03-02", "2026-03-02"),
            ("S1", "2026-03-02", "2027-03-02"),
            ("S2", "2025-05-31", "2026-05-31"),
            ("S2", "2026-05-31", "2027-05-31"),
        ]
    )
    old = {"S1": (0.2, 1000.0, "2026-03-02", False), "S2": (0.1, 1000.0, "2026-05-31", False)}
    rec = measure_run(
        old_scores(old),
        [],
        active_periods(subs, GRACE, DATA_END),
        run_id="r",
        as_of=AS_OF,
        lead_days=LEAD,
        horizon_days=HORIZON,
        data_end=DATA_END,
    )
    assert rec.accounts.set_index("account_id")["outcome"].to_dict() == {
        "S1": "open",
        "S2": "renewed",
    }
    assert np.isnan(rec.overall.roc_auc) and rec.overall.churn_rate == 0.0
    assert np.isnan(rec.overall.lift)  # overall churn rate 0: no lift


def test_no_lead_time():
    subs = subscriptions([("L1", "2025-01-01", "2026-02-10"), ("L2", "2025-01-01", None)])
    old = {"L1": (0.9, 100.0, None, True), "L2": (0.1, 100.0, None, False)}
    rec = measure_run(
        old_scores(old),
        ["L1"],
        active_periods(subs, GRACE, DATA_END),
        run_id="r",
        as_of=AS_OF,
        lead_days=0,
        horizon_days=90,
        data_end=DATA_END,
    )
    assert rec.accounts["outcome"].tolist() == ["churned", "open"]
    assert rec.overall.roc_auc == 1.0 and rec.overall.n_unknown == 0


def test_window_closed_edges():
    # 2026-01-31 + 30 + 90 + 14 days = 2026-06-14
    kw = dict(lead_days=LEAD, horizon_days=HORIZON, grace_days=GRACE)
    assert window_closed(AS_OF, data_end="2026-06-14", **kw)  # exactly on the day: closed
    assert not window_closed(AS_OF, data_end="2026-06-13", **kw)
    assert window_closed("2026-01-31", data_end=T("2026-12-31"), **kw)
    assert window_closed(AS_OF, lead_days=0, horizon_days=1, grace_days=0, data_end="2026-02-01")
    with pytest.raises(ValueError, match="grace_days"):
        window_closed(AS_OF, lead_days=0, horizon_days=90, grace_days=-1, data_end=DATA_END)


def test_invalid_input_is_refused():
    periods = active_periods(subscriptions(), GRACE, DATA_END)
    kwargs = dict(run_id="r", as_of=AS_OF, lead_days=LEAD, horizon_days=HORIZON)
    with pytest.raises(ValueError, match="cannot be measured yet"):
        measure_run(old_scores(), [], periods, data_end="2026-05-30", **kwargs)
    with pytest.raises(ValueError, match="not in old_scores"):
        measure_run(old_scores(), ["ZZZ"], periods, data_end=DATA_END, **kwargs)
    dup = pd.concat([old_scores(), old_scores().head(1)])
    with pytest.raises(ValueError, match="repeated account_id"):
        measure_run(dup, [], periods, data_end=DATA_END, **kwargs)
    with pytest.raises(ValueError, match="as_of"):
        measure_run(old_scores(as_of=T("2026-02-28")), [], periods, data_end=DATA_END, **kwargs)
    with pytest.raises(ValueError, match="expected_arr_at_risk"):
        measure_run(
            old_scores().drop(columns="expected_arr_at_risk"),
            [],
            periods,
            data_end=DATA_END,
            **kwargs,
        )


def test_inputs_are_not_modified_and_result_is_deterministic(record):
    periods = active_periods(subscriptions(), GRACE, DATA_END)
    scores = old_scores()
    before_s, before_p = scores.copy(), periods.copy()
    kwargs = dict(
        run_id="run-2026-01",
        as_of=AS_OF,
        lead_days=LEAD,
        horizon_days=HORIZON,
        data_end=DATA_END,
    )
    flagged = [i for i, v in OLD.items() if v[3]]
    shuffled = measure_run(scores.sample(frac=1, random_state=1), flagged, periods, **kwargs)
    pd.testing.assert_frame_equal(scores, before_s)
    pd.testing.assert_frame_equal(periods, before_p)
    pd.testing.assert_frame_equal(shuffled.accounts, record.accounts)
    pd.testing.assert_frame_equal(track_record_table([shuffled]), track_record_table([record]))


def test_track_record_table(record, tmp_path):
    table = track_record_table([record, record])
    assert list(table.columns) == TABLE_COLUMNS
    assert len(table) == 2 * (3 + 10)
    first = table.iloc[:13]
    assert first["section"].tolist() == ["all", "flagged", "rest"] + ["decile"] * 10
    assert first["group"].tolist() == ["", "", ""] + [str(i) for i in range(1, 11)]
    assert (table["run_id"] == "run-2026-01").all()
    assert (table["as_of"] == AS_OF).all() and (table["window_end"] == T("2026-05-31")).all()
    flagged = first.set_index("section").loc["flagged"]
    assert flagged["n_accounts"] == 5 and flagged["churn_rate"] == pytest.approx(0.5)
    assert flagged["arr_lost"] == 12000.0 and flagged["roc_auc"] == 1.0
    counts = first[["n_churned", "n_renewed", "n_open", "n_unknown"]].sum(axis=1)
    assert (counts == first["n_accounts"]).all()
    assert table["n_accounts"].dtype == np.int64
    # readable CSV: ISO dates, empty group, no index
    path = tmp_path / "track_record.csv"
    table.to_csv(path, index=False)
    text = path.read_text().splitlines()
    assert text[0] == ",".join(TABLE_COLUMNS)
    assert text[1].startswith("run-2026-01,2026-01-31,2026-03-02,2026-05-31,2026-06-10,all,,11,7,")
    empty = track_record_table([])
    assert list(empty.columns) == TABLE_COLUMNS and empty.empty


def synthetic_run(n: int = 5000, seed: int = 20260731):
    """Labels drawn from the probabilities: churn dates in the window when the draw is 1.

    Periods are written in ``active_periods``' output format directly.
    """
    rng = np.random.default_rng(seed)
    p = rng.beta(1.0, 8.0, n)  # mean 1/9
    y = rng.random(n) < p
    ids = np.array([f"S{i:05d}" for i in range(n)])
    window_start = AS_OF + pd.Timedelta(days=LEAD)
    offset = rng.integers(1, HORIZON + 1, n)  # day 1..90 of the window
    churn = (window_start + pd.to_timedelta(offset, unit="D")).where(y)
    data_end = AS_OF + pd.Timedelta(days=LEAD + HORIZON + GRACE)
    periods = pd.DataFrame(
        {
            "account_id": ids,
            "period_number": 1,
            "start_date": T("2024-01-01"),
            "end_date": churn,
            "churned": y,
            "last_end_date": churn,
            "pending_churn": False,
        }
    )
    arr = rng.uniform(1000, 50000, n)
    scores = pd.DataFrame(
        {
            "account_id": ids,
            "as_of": AS_OF,
            "churn_probability": p,
            "arr": arr,
            "renewal_date": pd.NaT,
            "expected_arr_at_risk": p * arr,
        }
    )
    flagged = ids[p >= np.quantile(p, 0.9)]
    return scores, flagged, periods, data_end, p, y


def test_decile_lift_and_calibration_on_synthetic_draws():
    scores, flagged, periods, data_end, p, y = synthetic_run()
    assert window_closed(
        AS_OF, lead_days=LEAD, horizon_days=HORIZON, grace_days=GRACE, data_end=data_end
    )
    rec = measure_run(
        scores,
        flagged,
        periods,
        run_id="synthetic",
        as_of=AS_OF,
        lead_days=LEAD,
        horizon_days=HORIZON,
        data_end=data_end,
    )
    d = rec.deciles.set_index("decile")
    assert d["n_accounts"].tolist() == [500] * 10
    assert rec.overall.n_unknown == 0 and rec.overall.n_churned == int(y.sum())
    # decile 1 holds the 500 highest probabilities
    top = np.sort(p)[::-1][:500]
    assert d.at[1, "mean_predicted"] == pytest.approx(top.mean())
    assert d.at[1, "churn_rate"] > d.at[10, "churn_rate"]
    assert d.at[1, "lift"] > 2 > 1 > d.at[10, "lift"]
    # the labels are Bernoulli(p) draws, so the realised rate has mean mean(p) and standard
    # error sqrt(sum p(1 - p)) / n (about 0.0043 here); 4 standard errors fail by chance
    # with probability ~6e-5, so a failure means a bias, not bad luck
    se = np.sqrt(np.sum(p * (1 - p))) / len(p)
    assert abs(rec.overall.churn_rate - p.mean()) < 4 * se
    assert rec.overall.mean_predicted == pytest.approx(p.mean())
    # the reliability table: each decile within 4 of its own standard errors
    dec = rec.accounts.set_index("account_id").loc[scores["account_id"], "decile"].to_numpy()
    for k in range(1, 11):
        pk = p[dec == k]
        se_k = np.sqrt(np.sum(pk * (1 - pk))) / len(pk)
        assert abs(d.at[k, "churn_rate"] - d.at[k, "mean_predicted"]) < 4 * se_k + 1e-12
    # scikit-learn agrees on AUC and Brier over all (every account is labelled here)
    assert rec.overall.roc_auc == pytest.approx(roc_auc_score(y.astype(int), p))
    assert rec.overall.brier == pytest.approx(brier_score_loss(y.astype(int), p))
    assert rec.overall.roc_auc > 0.6
    # ARR lost = old ARR of the churners; predicted over everyone = sum p * arr
    assert rec.overall.arr_lost == pytest.approx(scores["arr"][y].sum())
    assert rec.overall.arr_predicted_all == pytest.approx(scores["expected_arr_at_risk"].sum())
    assert rec.flagged.n_accounts == len(flagged)
    assert rec.flagged.churn_rate > rec.rest.churn_rate


def test_all_tied_probabilities_split_by_account_id():
    subs = subscriptions([(f"T{i:02d}", "2025-01-01", None) for i in range(20)])
    old = {f"T{i:02d}": (0.1, 100.0, None, False) for i in reversed(range(20))}
    rec = measure_run(
        old_scores(old),
        [],
        active_periods(subs, GRACE, DATA_END),
        run_id="r",
        as_of=AS_OF,
        lead_days=LEAD,
        horizon_days=HORIZON,
        data_end=DATA_END,
    )
    assert rec.accounts["account_id"].tolist() == [f"T{i:02d}" for i in range(20)]
    assert rec.accounts["decile"].tolist() == [k for k in range(1, 11) for _ in range(2)]
