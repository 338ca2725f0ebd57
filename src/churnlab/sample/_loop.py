"""The month loop that ties contracts, latent state, events and churn decisions together."""

from __future__ import annotations

import numpy as np

from . import _events as E
from . import _simulate as M
from . import _spec as S
from ._accounts import Accounts, Calendar


def _start_accounts(rng, st, acc, cal, sched, m, ann, ann_ok) -> np.ndarray:
    """New signups and re-signups (> 1 month after a churn) of month ``m``."""
    n = len(acc.day)
    new = acc.signup_month == m
    resign = (st["status"] == 2) & (m >= st["churn_month"] + 2) & ann_ok
    resign &= rng.random(n) < S.P_RESIGN
    start = new | resign
    st["mrr"] = np.where(
        resign, np.maximum(100.0, np.round(st["mrr"] * rng.lognormal(-0.1, 0.2, n))), st["mrr"]
    )
    st["status"][start] = 1
    st["term_start"] = np.where(start, m, st["term_start"])
    st["churn_month"] = np.where(start, M.NEVER, st["churn_month"])
    st["first_start"] = np.where(new, ann, st["first_start"])
    for key, value in (
        ("e", acc.engagement0),
        ("declining", False),
        ("unhappy", False),
        ("decline_age", 0),
    ):
        st[key] = np.where(resign, value, st[key])
    st["cause"] = np.where(resign, 0, st["cause"]).astype(np.int8)
    st["champion_lost"] = np.where(resign, -M.NEVER, st["champion_lost"])
    st["champion_stop"] = np.where(resign, M.NEVER, st["champion_stop"])
    M._open_rows(st, acc, cal, start, ann, m)
    idx = np.flatnonzero(new)
    if len(idx):
        start_s = ann[idx] * S.DAY + E.business_time(rng, len(idx))
        when = start_s[:, None] + acc.onboarding_offsets[idx]
        types = np.array(
            [S.ET["onboarding_step"]] * 4 + [S.ET["onboarding_completed"], S.ET["first_value"]],
            np.int8,
        )
        values = np.array([1.0, 2.0, 3.0, 4.0, np.nan, np.nan])
        k = when.shape[1]
        sched.push(
            np.repeat(idx, k), when.ravel(), np.tile(types, len(idx)), np.tile(values, len(idx))
        )
    return start, int(resign.sum())


def _renewals(rng, st, acc, cal, rows, m, ann, ann_ok, cont, thresholds) -> int:
    """Renewals (monthly rows every month, annual at term end) and annual mid-term changes."""
    n = len(acc.day)
    annual = st["billing"] == 12
    renew = cont & (~annual | ((m - st["term_start"]) % 12 == 0))
    p_mid = np.where(st["declining"] | st["unhappy"], S.P_EXPAND_AT_RISK, S.P_EXPAND_HEALTHY)
    midterm = cont & annual & ~renew & (rng.random(n) < p_mid)
    rows.close(st, renew | midterm, ann)
    M._contract_changes(rng, st, acc, renew, midterm, thresholds)
    p_gap = np.where(annual, S.P_GAP_ANNUAL, S.P_GAP_MONTHLY)
    gap = np.where(renew & (rng.random(n) < p_gap), rng.integers(3, 26, n), 0)
    gap = np.where(ann + gap < cal.data_stop, gap, 0)
    st["row_start"] = np.where(renew | midterm, ann + gap, st["row_start"])
    M._open_rows(st, acc, cal, renew, ann + gap, m)
    return int((gap > 0).sum())


def _concat_columns(parts: list[list]) -> tuple[np.ndarray, ...]:
    """Concatenate per-month event arrays column by column, releasing the parts as it goes."""
    cols = []
    for i in range(len(parts[0])):
        cols.append(np.concatenate([p[i] for p in parts]))
        for p in parts:
            p[i] = None
    return tuple(cols)


def simulate(
    rng: np.random.Generator, acc: Accounts, cal: Calendar, thresholds: tuple[float, float]
) -> M.Simulated:
    """Run the months; return subscription rows and events as arrays."""
    n = len(acc.day)
    st = M._initial_state(acc)
    rows, log, sched = M._Rows(), E.EventLog(), E.Scheduled()
    month_events: list[list] = []
    n_resign = n_gaps = 0
    for m in range(cal.months):
        ms, me = int(cal.month_start[m]), int(cal.month_start[m + 1])
        stop = min(me, cal.data_stop)
        ann = cal.anniversary(m, acc.day)
        ann_ok = ann < cal.data_stop
        e_prev = st["e"].copy()
        start, k = _start_accounts(rng, st, acc, cal, sched, m, ann, ann_ok)
        n_resign += k
        churning = (st["status"] == 1) & (st["churn_month"] == m)
        rows.close(st, churning, st["contract_end"])
        lo = np.where(start, ann, ms)
        hi = np.minimum(np.where(churning, st["contract_end"], stop), stop)
        cont = (st["status"] == 1) & ~start & ~churning & ann_ok
        n_gaps += _renewals(rng, st, acc, cal, rows, m, ann, ann_ok, cont, thresholds)
        active = (st["status"] == 1) & (hi > lo)
        M._evolve(rng, st, acc, active, start, m, lo, hi)
        tier = M._tier(st["mrr"], thresholds)
        M._tickets(rng, st, log, sched, active, lo, hi, tier)
        M._nps_and_touches(rng, st, acc, log, active, lo, hi, m, tier)
        idx = np.flatnonzero(active)
        usage_state = {
            "lo": lo, "hi": hi, "e_prev": np.where(start, st["e"], e_prev), "e_new": st["e"],
            "users": M._users(acc, st["seats"]), "user_offset": acc.user_offset,
            "champion_stop": st["champion_stop"], "breadth": st["breadth"],
            "feature_order": acc.feature_order,
        }  # fmt: skip
        E.usage(rng, log, idx, ms, me - ms, usage_state)
        lo_s = np.where(active, lo * S.DAY, 0)
        hi_s = np.where(active, hi * S.DAY, 0)
        sched.release(log, stop * S.DAY, lo_s, hi_s)
        month_events.append(list(log.take()))
        end_s = stop * S.DAY
        M._month_end(rng, st, active, m, end_s)
        st["status"][churning] = 2
        deciding = (st["status"] == 1) & (st["churn_month"] == M.NEVER)
        h = 1.0 / (1.0 + np.exp(-M.hazard_log_odds(st, acc, m, end_s, tier)))
        st["h_hist"] = np.column_stack([st["h_hist"][:, 1:], h])
        st["h_hist"][start] = h[start, None]
        renewal_next = (st["billing"] == 1) | ((m + 1 - st["term_start"]) % 12 == 0)
        p = np.where(
            st["billing"] == 1,
            st["h_hist"][:, -1 - S.MONTHLY_NOTICE_MONTHS],
            1.0 - (1.0 - S.ANNUAL_COMMITMENT * M.decision_hazard(st["h_hist"])) ** 12,
        )
        churn = deciding & renewal_next & (rng.random(n) < p)
        st["churn_month"] = np.where(churn, m + 1, st["churn_month"])
    rows.close(st, st["status"] == 1, st["contract_end"])
    events = _concat_columns(month_events)
    return M.Simulated(rows.collect(), events, n_resign, n_gaps)
