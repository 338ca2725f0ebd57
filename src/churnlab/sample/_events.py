"""Event generation for one month, vectorised over accounts, users and days."""

from __future__ import annotations

import numpy as np

from . import _spec as S

PAIR_CHUNK = 250_000  # (account, user) pairs per login matrix chunk (bounds memory)


class EventLog:
    """Collects event arrays (account code, seconds, type code, value, user index)."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, acct, ts, etype, value=None, user=None) -> None:
        n = len(acct)
        if n == 0:
            return
        value = np.full(n, np.nan) if value is None else np.asarray(value, dtype=np.float64)
        user = np.full(n, -1, np.int16) if user is None else np.asarray(user, dtype=np.int16)
        etype = np.broadcast_to(np.asarray(etype, dtype=np.int8), (n,))
        self.parts.append(
            (np.asarray(acct, np.int32), np.asarray(ts, np.int64), etype.copy(), value, user)
        )

    def take(self) -> tuple[np.ndarray, ...]:
        """Concatenate what was collected, sorted by time, and empty the log."""
        if not self.parts:
            empty = (np.int32, np.int64, np.int8, np.float64, np.int16)
            return tuple(np.empty(0, t) for t in empty)
        cols = [np.concatenate(c) for c in zip(*self.parts, strict=True)]
        self.parts = []
        order = np.argsort(cols[1], kind="stable")
        return tuple(c[order] for c in cols)


class Scheduled:
    """Events fixed in advance (onboarding, first value, ticket resolutions)."""

    def __init__(self) -> None:
        self.cols = (
            np.empty(0, np.int32),
            np.empty(0, np.int64),
            np.empty(0, np.int8),
            np.empty(0),
        )

    def push(self, acct, ts, etype, value) -> None:
        keep = np.isfinite(ts)
        new = (acct[keep], ts[keep].astype(np.int64), np.asarray(etype)[keep], value[keep])
        self.cols = tuple(
            np.concatenate([a, b.astype(a.dtype)]) for a, b in zip(self.cols, new, strict=True)
        )

    def release(self, log: EventLog, until_s: int, lo_s: np.ndarray, hi_s: np.ndarray) -> None:
        """Emit due events inside their account's covered days; drop the other due ones."""
        acct, ts, etype, value = self.cols
        due = ts < until_s
        a, t = acct[due], ts[due]
        ok = (t >= lo_s[a]) & (t < hi_s[a])
        log.add(a[ok], t[ok], etype[due][ok], value[due][ok])
        self.cols = tuple(c[~due] for c in self.cols)


def business_time(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds into the day, 08:00-18:00."""
    return rng.integers(8 * 3600, 18 * 3600, n)


def random_day_ts(rng: np.random.Generator, lo_d: np.ndarray, hi_d: np.ndarray) -> np.ndarray:
    """A timestamp (seconds) on a random day in [lo_d, hi_d), in business hours."""
    day = lo_d + np.floor(rng.random(len(lo_d)) * (hi_d - lo_d)).astype(np.int64)
    return day * S.DAY + business_time(rng, len(lo_d))


def _pairs(idx: np.ndarray, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(account, user index) for every user 0..users-1 of each account in ``idx``."""
    k = users[idx]
    acct = np.repeat(idx, k)
    first = np.repeat(np.cumsum(k) - k, k)
    return acct, np.arange(len(acct)) - first


def usage(
    rng: np.random.Generator,
    log: EventLog,
    idx: np.ndarray,
    month_start: int,
    n_days: int,
    state: dict,
) -> None:
    """Logins (one per user per active day) and feature use of the accounts in ``idx``.

    ``state`` holds per-account arrays: ``lo``/``hi`` (covered days), ``e_prev``/``e_new``
    (engagement at the month's start and end; days in between are interpolated),
    ``users``, ``user_offset``, ``champion_stop`` (day before which the champion still
    logs in), ``breadth`` and ``feature_order``.
    """
    acct, user = _pairs(idx, state["users"])
    days = np.arange(n_days)
    frac = ((days + 0.5) / n_days).astype(np.float32)
    weekday = (month_start + days + 3) % 7  # 0 = Monday
    day_factor = np.where(weekday >= 5, S.WEEKEND_FACTOR, 1.0).astype(np.float32)
    table = np.random.default_rng(7).normal(0.0, 0.6, S.USER_TABLE_SIZE).astype(np.float32)
    for lo in range(0, len(acct), PAIR_CHUNK):
        a, u = acct[lo : lo + PAIR_CHUNK], user[lo : lo + PAIR_CHUNK]
        ueff = np.where(
            u == 0, S.CHAMPION_BOOST, table[(state["user_offset"][a] + u) % S.USER_TABLE_SIZE]
        )
        e0 = (state["e_prev"][a] + ueff).astype(np.float32)
        slope = (state["e_new"][a] - state["e_prev"][a]).astype(np.float32)
        p = day_factor / (1.0 + np.exp(-(e0[:, None] + slope[:, None] * frac[None, :])))
        first = state["lo"][a] - month_start
        stop = np.where(
            u == 0, np.minimum(state["hi"][a], state["champion_stop"][a]), state["hi"][a]
        )
        valid = (days[None, :] >= first[:, None]) & (days[None, :] < (stop - month_start)[:, None])
        hit = (rng.random(p.shape, dtype=np.float32) < p) & valid
        row, day = np.nonzero(hit)
        la, lu = a[row], u[row]
        tod = np.clip(rng.normal(13 * 3600, 3 * 3600, len(row)), 6 * 3600, 21 * 3600).astype(
            np.int64
        )
        ts = (month_start + day) * S.DAY + tod
        log.add(la, ts, S.ET["login"], user=lu)
        use = rng.random(len(row)) < S.FEATURE_PER_LOGIN_P
        fa = la[use]
        pick = np.floor(rng.random(len(fa)) * state["breadth"][fa]).astype(np.int64)
        feature = state["feature_order"][fa, pick]
        ftype = (S.ET["feature_reports"] + feature).astype(np.int8)
        fts = ts[use] + rng.integers(60, 3600, len(fa))
        log.add(fa, fts, ftype, user=lu[use])
