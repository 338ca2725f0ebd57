"""Static account attributes and the per-account draws fixed at signup."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _spec as S


@dataclass(frozen=True)
class Calendar:
    """Month starts (days since epoch) of the data window and the first day after it."""

    month_start: np.ndarray  # int64, months + 14 entries (room for contractual ends)
    months: int
    data_stop: int  # first day after the data end (exclusive)

    def anniversary(self, month: int, day: np.ndarray) -> np.ndarray:
        """Day number of each account's monthly anniversary in ``month``."""
        return self.month_start[month] + day - 1


def make_calendar(end_date: str, months: int) -> Calendar:
    """Calendar of ``months`` months ending on ``end_date`` (inclusive)."""
    end = np.datetime64(end_date, "D")
    first = end.astype("datetime64[M]") - (months - 1)
    starts = (first + np.arange(months + 14)).astype("datetime64[D]").astype(np.int64)
    return Calendar(starts, months, int(end.astype(np.int64)) + 1)


@dataclass(frozen=True)
class Accounts:
    """Static draws, one entry per account (sorted by signup date)."""

    signup_month: np.ndarray
    day: np.ndarray  # day of month of every anniversary (1..28)
    industry: np.ndarray
    region: np.ndarray
    plan: np.ndarray
    channel: np.ndarray
    mrr: np.ndarray
    seats: np.ndarray
    price_per_seat: np.ndarray
    billing: np.ndarray
    completes_onboarding: np.ndarray
    activation: np.ndarray
    engagement0: np.ndarray
    user_offset: np.ndarray
    feature_order: np.ndarray  # (n, 6) feature codes, most likely first
    breadth: np.ndarray
    onboarding_offsets: np.ndarray  # (n, 6) seconds after start: steps 1-4, completed, first value
    names: np.ndarray


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of a (n, k) probability table."""
    u = rng.random(len(probs))
    return (u[:, None] > np.cumsum(probs, axis=1)[:, :-1]).sum(axis=1)


def signup_schedule(rng: np.random.Generator, n: int, cal: Calendar) -> tuple:
    """Signup month and day: 30% staggered over the first 3 months, the rest growing 3%/month."""
    months = cal.months
    weights = 0.7 * 1.03 ** np.arange(months)
    weights = weights / weights.sum() * 0.7
    first = min(3, months)
    weights[:first] += 0.3 / first
    month = rng.choice(months, size=n, p=weights / weights.sum())
    max_day = np.minimum(28, cal.data_stop - cal.month_start[month])
    day = 1 + np.floor(rng.random(n) * max_day).astype(np.int64)
    order = np.lexsort((day, month))
    return month[order].astype(np.int64), day[order]


def company_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Company names such as ``Peak Analytics GmbH`` (a few with ``&``, ``'``, ``<`` or ``=``)."""
    first = np.array(S.NAME_FIRST, dtype=object)[rng.integers(0, len(S.NAME_FIRST), n)]
    second = np.array(S.NAME_SECOND, dtype=object)[rng.integers(0, len(S.NAME_SECOND), n)]
    legal = np.array(S.NAME_LEGAL, dtype=object)[rng.integers(0, len(S.NAME_LEGAL), n)]
    names = first + " " + second + " " + legal
    formula = rng.random(n) < S.FORMULA_NAME_SHARE
    names[formula] = "=" + names[formula]
    return names


def onboarding_offsets(rng: np.random.Generator, completes: np.ndarray) -> np.ndarray:
    """Seconds from the start to onboarding steps 1-4, completion and first value (inf = never)."""
    n = len(completes)
    gaps = rng.lognormal(np.log(3.0), 0.8, size=(n, 4))
    gaps[:, 0] = rng.uniform(0.05, 2.0, n)
    steps = np.cumsum(gaps, axis=1)
    done = steps[:, 3] + rng.uniform(0.05, 2.0, n)
    reached = rng.choice(4, size=n, p=(0.2, 0.35, 0.3, 0.15))  # steps reached by non-completers
    step_no = np.arange(1, 5)[None, :]
    steps = np.where(completes[:, None] | (step_no <= reached[:, None]), steps, np.inf)
    done = np.where(completes, done, np.inf)
    # first value is its own milestone: onboarding makes a slow start only mildly likelier
    ttv_fast = rng.lognormal(np.log(16.0), 0.6, n)
    ttv_slow = np.where(rng.random(n) < 0.5, rng.lognormal(np.log(45.0), 0.4, n), np.inf)
    p_slow = np.where(completes, S.SLOW_START_P_ONBOARDED, S.SLOW_START_P_NOT_ONBOARDED)
    ttv = np.where(rng.random(n) < p_slow, ttv_slow, ttv_fast)
    return np.column_stack([steps, done, ttv]) * S.DAY


def draw_accounts(rng: np.random.Generator, n: int, cal: Calendar) -> Accounts:
    """Draw every static attribute; region is drawn last and used by nothing else."""
    month, day = signup_schedule(rng, n, cal)
    industry = rng.choice(len(S.INDUSTRIES), size=n, p=S.INDUSTRY_P)
    plan = rng.choice(3, size=n, p=S.PLAN_P)
    channel = _categorical(rng, np.asarray(S.CHANNEL_P_BY_PLAN)[plan])
    lo, hi = np.asarray(S.PLAN_MRR_RANGE).T
    mrr = np.clip(
        rng.lognormal(
            np.log(np.asarray(S.PLAN_MRR_MEDIAN)[plan]), np.asarray(S.PLAN_MRR_SIGMA)[plan]
        ),
        lo[plan],
        hi[plan],
    )
    pps = np.asarray(S.PLAN_PRICE_PER_SEAT)[plan] * rng.lognormal(0.0, 0.15, n)
    seats = np.maximum(1, np.round(mrr / pps)).astype(np.int64)
    mrr = np.round(seats * pps)
    billing = np.where(rng.random(n) < np.asarray(S.PLAN_ANNUAL_SHARE)[plan], 12, 1)
    p_onb = np.asarray(S.CHANNEL_ONBOARDING_P)[channel] + 0.08 * (plan == 2)
    completes = rng.random(n) < p_onb
    engagement0 = rng.normal(S.ENGAGEMENT_MEAN, S.ENGAGEMENT_SD, n)
    engagement0 += np.where(completes, 0.0, S.ENGAGEMENT_NOT_ONBOARDED)
    keys = rng.random((n, len(S.FEATURES))) ** (1.0 / np.asarray(S.FEATURE_WEIGHT))
    p_breadth = np.where(completes, S.BREADTH_P_ONBOARDED, S.BREADTH_P_NOT_ONBOARDED)
    breadth = 1 + rng.binomial(4, p_breadth)  # mildly narrower without onboarding
    return Accounts(
        signup_month=month,
        day=day,
        industry=industry,
        region=rng.choice(len(S.REGIONS), size=n, p=S.REGION_P),
        plan=plan,
        channel=channel,
        mrr=mrr,
        seats=seats,
        price_per_seat=pps,
        billing=billing,
        completes_onboarding=completes,
        activation=rng.beta(6.0, 3.0, n),
        engagement0=engagement0,
        user_offset=rng.integers(0, S.USER_TABLE_SIZE, n),
        feature_order=np.argsort(-keys, axis=1).astype(np.int8),
        breadth=breadth.astype(np.int64),
        onboarding_offsets=onboarding_offsets(rng, completes),
        names=company_names(rng, n),
    )
