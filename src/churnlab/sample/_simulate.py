"""The month-by-month simulation: latent state, contracts, churn decisions and events.

A Python loop runs over months only; every step is vectorised over accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _events as E
from . import _spec as S
from ._accounts import Accounts

NEVER = 10**7  # a month index / day far in the future
TICKET, SILENT, RANDOM = 1, 2, 3  # causes of unhappiness


@dataclass
class Simulated:
    """Raw simulation output (codes and day/second numbers, not yet tables)."""

    rows: dict[str, np.ndarray]  # subscription rows
    events: tuple[np.ndarray, ...]  # account, seconds, type, value, user index
    n_resignups: int
    n_grace_gaps: int


class _Rows:
    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def close(self, st: dict, mask: np.ndarray, end: np.ndarray) -> None:
        idx = np.flatnonzero(mask)
        self.parts.append(
            {
                "account": idx,
                "start": st["row_start"][idx],
                "end": np.asarray(end)[idx] if np.ndim(end) else np.full(len(idx), end),
                "mrr": st["mrr"][idx],
                "plan": st["plan"][idx],
                "seats": st["seats"][idx],
                "billing": st["billing"][idx],
            }
        )

    def collect(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}


def _tier(mrr: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    """0 tech touch, 1 low touch, 2 high touch from ARR = 12 x MRR."""
    arr = 12.0 * mrr
    return (arr >= thresholds[0]).astype(np.int64) + (arr >= thresholds[1])


def _initial_state(acc: Accounts) -> dict:
    n = len(acc.day)
    return {
        "status": np.zeros(n, np.int8),  # 0 not signed up, 1 active, 2 churned
        "row_start": np.zeros(n, np.int64),
        "contract_end": np.zeros(n, np.int64),
        "mrr": acc.mrr.copy(),
        "seats": acc.seats.copy(),
        "plan": acc.plan.copy(),
        "billing": acc.billing.copy(),
        "term_start": np.zeros(n, np.int64),
        "churn_month": np.full(n, NEVER),
        "e": acc.engagement0.copy(),
        "declining": np.zeros(n, bool),
        "decline_age": np.zeros(n, np.int64),  # months into the current declining spell
        "champion_lost": np.full(n, -NEVER),
        "champion_stop": np.full(n, NEVER),
        "unhappy": np.zeros(n, bool),
        "cause": np.zeros(n, np.int8),
        "open_until": np.full(n, -np.inf),  # seconds: latest resolution of open tickets
        "slow_open_until": np.full(n, -np.inf),  # ... of tickets open over 14 days
        "resolved_month": np.full(n, -NEVER),
        "breadth": acc.breadth.copy(),
        "h_hist": np.zeros((n, S.HAZARD_MONTHS)),  # oldest first
        "first_start": np.zeros(n, np.int64),
    }


def _users(acc: Accounts, seats: np.ndarray) -> np.ndarray:
    return np.clip(np.round(seats * acc.activation), 1, S.MAX_USERS).astype(np.int64)


def _open_rows(st, acc, cal, mask, start, m) -> None:
    st["row_start"] = np.where(mask, start, st["row_start"])
    next_end = np.where(
        st["billing"] == 1, cal.anniversary(m + 1, acc.day), cal.anniversary(m + 12, acc.day)
    )
    st["contract_end"] = np.where(mask, next_end, st["contract_end"])


def _contract_changes(rng, st, acc, renew, midterm, thresholds) -> None:
    """Expansions / contractions at renewals (any) and mid-term (annual, expansions only)."""
    n = len(acc.day)
    at_risk = st["declining"] | st["unhappy"]
    p_exp = np.where(at_risk, S.P_EXPAND_AT_RISK, S.P_EXPAND_HEALTHY)
    p_con = np.where(at_risk, S.P_CONTRACT_AT_RISK, S.P_CONTRACT_HEALTHY)
    annual_renewal = renew & (st["billing"] == 12)
    p_exp = np.where(annual_renewal, 3 * p_exp, p_exp)
    p_con = np.where(annual_renewal, 3 * p_con, np.where(midterm, 0.0, p_con))
    u = rng.random(n)
    expand = (renew | midterm) & (u < p_exp)
    contract = renew & (u >= p_exp) & (u < p_exp + p_con)
    factor = np.where(
        expand, rng.uniform(1.1, 1.7, n), np.where(contract, rng.uniform(0.6, 0.9, n), 1.0)
    )
    seats = np.maximum(1, np.round(st["seats"] * factor)).astype(np.int64)
    price = acc.price_per_seat * np.where(annual_renewal, S.ANNUAL_UPLIFT, 1.0)
    st["seats"] = seats
    st["mrr"] = np.where(expand | contract | annual_renewal, np.round(seats * price), st["mrr"])
    derived = (st["mrr"] >= 1000).astype(np.int64) + (st["mrr"] >= 5000)
    st["plan"] = np.maximum(st["plan"], derived)


def _evolve(rng, st, acc, active, new, m, lo, hi) -> None:
    """Latent state for the month: engagement, champion, problems and unhappiness."""
    n = len(acc.day)
    start = active & ~st["declining"] & ~new & (rng.random(n) < S.P_DECLINE_START)
    stop = st["declining"] & (rng.random(n) < S.P_DECLINE_END)
    st["declining"] = active & ((st["declining"] & ~stop) | start)
    st["decline_age"] = np.where(st["declining"], st["decline_age"] + 1, 0)
    noise = rng.normal(0.0, 0.12, n)
    fall = np.where(st["e"] > acc.engagement0 - S.DECLINE_FLOOR, -S.DECLINE_STEP, 0.0)
    drift = np.where(st["declining"], fall, 0.3 * (acc.engagement0 - st["e"]))
    st["e"] = np.where(active & ~new, st["e"] + drift + noise, st["e"])
    users = _users(acc, st["seats"])
    lose = active & (users >= 2) & (st["champion_lost"] < 0) & (rng.random(n) < S.P_CHAMPION_LOSS)
    st["champion_lost"] = np.where(lose, m, st["champion_lost"])
    stop_day = lo + np.floor(rng.random(n) * (hi - lo)).astype(np.int64)
    st["champion_stop"] = np.where(lose, stop_day, st["champion_stop"])
    grow = active & (st["breadth"] < 6) & (rng.random(n) < S.P_BREADTH_GROWTH)
    st["breadth"] = st["breadth"] + grow


def _tickets(rng, st, log, sched, active, lo, hi, tier) -> None:
    n = len(lo)
    problem = active & (rng.random(n) < S.P_PROBLEM)
    complain = problem & (rng.random(n) < np.asarray(S.COMPLAIN_P_BY_TIER)[tier])
    idx = np.flatnonzero(complain)
    opened = E.random_day_ts(rng, lo[idx], hi[idx])
    log.add(idx, opened, S.ET["ticket_opened"])
    u = rng.random(len(idx))
    fast = rng.lognormal(np.log(1.5), 0.9, len(idx)).clip(0.05, 14.0)
    slow = rng.uniform(14.0, 120.0, len(idx))
    days = np.where(
        u < S.TICKET_FAST_P, fast, np.where(u < S.TICKET_FAST_P + S.TICKET_SLOW_P, slow, np.inf)
    )
    days = np.round(days, 2)
    resolved_at = opened + np.round(days * S.DAY)
    sched.push(idx, resolved_at, np.full(len(idx), S.ET["ticket_resolved"], np.int8), days)
    st["open_until"][idx] = np.maximum(st["open_until"][idx], resolved_at)
    slow_until = np.where(days > 14.0, resolved_at, -np.inf)
    st["slow_open_until"][idx] = np.maximum(st["slow_open_until"][idx], slow_until)
    silent = problem & ~complain
    st["cause"] = np.where(
        complain, TICKET, np.where(silent & (st["cause"] != TICKET), SILENT, st["cause"])
    )
    mood = active & ~st["unhappy"] & ~problem & (rng.random(n) < S.P_RANDOM_UNHAPPY)
    st["cause"] = np.where(mood, RANDOM, st["cause"]).astype(np.int8)
    st["unhappy"] = st["unhappy"] | problem | mood


def _nps_and_touches(rng, st, acc, log, active, lo, hi, m, tier) -> None:
    n = len(lo)
    p_answer = np.asarray(S.NPS_RESPONSE_P_BY_TIER)[tier] * np.where(
        st["unhappy"], S.NPS_UNHAPPY_RESPONSE_FACTOR, 1.0
    )
    answer = active & (rng.random(n) < p_answer)  # a rolling monthly in-app survey
    idx = np.flatnonzero(answer)
    unhappy = st["unhappy"][idx]
    u = rng.random(len(idx))
    p_det = np.where(unhappy, S.NPS_DETRACTOR_P_UNHAPPY, S.NPS_DETRACTOR_P_HAPPY)
    p_pas = np.where(unhappy, 0.15, 0.42)
    detractor = rng.choice(7, len(idx), p=np.array([1, 1, 2, 3, 4, 6, 7]) / 24)
    passive = 7 + rng.integers(0, 2, len(idx))
    promoter = 9 + (rng.random(len(idx)) < 0.45)
    score = np.where(u < p_det, detractor, np.where(u < p_det + p_pas, passive, promoter))
    log.add(idx, E.random_day_ts(rng, lo[idx], hi[idx]), S.ET["nps_response"], score.astype(float))
    tenure = m - acc.signup_month
    kinds = (
        ("csm_meeting", active & (rng.random(n) < np.asarray(S.CSM_MEETING_P_BY_TIER)[tier])),
        (
            "qbr",
            active
            & (tier == 2)
            & (tenure % 3 == 0)
            & (tenure > 0)
            & (rng.random(n) < S.QBR_P_HIGH),
        ),
        ("webinar", active & (tier == 0) & (rng.random(n) < S.WEBINAR_P_TECH)),
    )
    for name, mask in kinds:
        idx = np.flatnonzero(mask)
        log.add(idx, E.random_day_ts(rng, lo[idx], hi[idx]), S.ET[name])


def _month_end(rng, st, active, m, end_s) -> None:
    """Resolved complaints clear unhappiness; silent and random unhappiness fade."""
    n = len(active)
    resolved = active & st["unhappy"] & (st["cause"] == TICKET) & (st["open_until"] <= end_s)
    st["resolved_month"] = np.where(resolved, m, st["resolved_month"])
    fade = np.where(st["cause"] == SILENT, S.P_SILENT_RECOVER, S.P_RANDOM_RECOVER)
    recover = active & st["unhappy"] & (st["cause"] != TICKET) & (rng.random(n) < fade)
    clear = resolved | recover
    st["unhappy"] = st["unhappy"] & ~clear
    st["cause"] = np.where(clear, 0, st["cause"]).astype(np.int8)


def hazard_log_odds(st, acc, m, end_s, tier) -> np.ndarray:
    """Monthly churn log-odds from the latent drivers of ``_spec.DRIVERS``."""
    f = S.EFFECT
    onboarded_at = st["first_start"] * S.DAY + acc.onboarding_offsets[:, 4]
    first_value_at = st["first_start"] * S.DAY + acc.onboarding_offsets[:, 5]
    age = end_s - st["first_start"] * S.DAY
    slow_ttv = (age >= S.SLOW_TTV_DAYS * S.DAY) & (
        first_value_at > st["first_start"] * S.DAY + S.SLOW_TTV_DAYS * S.DAY
    )
    champion = (m - st["champion_lost"] < S.CHAMPION_LOSS_MONTHS) & (st["champion_lost"] >= 0)
    resolved = (m - st["resolved_month"] < S.RESOLVED_BONUS_MONTHS) & (st["resolved_month"] >= 0)
    return (
        S.BASE_LOG_ODDS
        + f["onboarding_not_completed"] * (onboarded_at > end_s)
        + f["declining_usage"] * (st["decline_age"] >= S.DECLINE_SUSTAINED_MONTHS)
        + f["unresolved_tickets"] * (st["slow_open_until"] > end_s)
        + f["detractor"] * st["unhappy"]
        + f["champion_loss"] * champion
        + f["slow_time_to_value"] * slow_ttv
        + f["narrow_adoption"] * (st["breadth"] <= S.NARROW_BREADTH)
        + np.where(tier == 2, f["touch_tier"], np.where(tier == 1, S.LOW_TOUCH_LOG_ODDS, 0.0))
        + S.RESOLVED_TICKET_LOG_ODDS * resolved
    )


def decision_hazard(h_hist: np.ndarray) -> np.ndarray:
    """Mean monthly hazard an annual renewal is decided on (``_spec.ANNUAL_NOTICE_MONTHS``
    before the renewal month, over the ``ANNUAL_DECISION_MONTHS`` months before that)."""
    lag, window = S.ANNUAL_NOTICE_MONTHS, S.ANNUAL_DECISION_MONTHS
    return h_hist[:, h_hist.shape[1] - lag - window : h_hist.shape[1] - lag].mean(axis=1)
