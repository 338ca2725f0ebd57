"""Turn simulation arrays into the accounts / subscriptions / events tables of architecture.md."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _spec as S
from ._accounts import Accounts
from ._simulate import Simulated


def account_ids(n: int) -> np.ndarray:
    """``A00001`` style ids, zero-padded to fit ``n`` (at least 5 digits)."""
    width = max(5, len(str(n)))
    return np.char.add("A", np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def _days(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")


def _tier(mrr: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    arr = 12.0 * mrr
    return (arr >= thresholds[0]).astype(np.int64) + (arr >= thresholds[1])


def accounts_table(
    acc: Accounts, ids: np.ndarray, first_start: np.ndarray, thresholds: tuple[float, float]
) -> pd.DataFrame:
    """One row per account; CSM by the touch tier of the signup ARR."""
    n = len(ids)
    tier = _tier(acc.mrr, thresholds)
    high = np.array(S.HIGH_TOUCH_CSMS, dtype=object)[np.arange(n) % len(S.HIGH_TOUCH_CSMS)]
    low = np.array(S.LOW_TOUCH_CSMS, dtype=object)[np.arange(n) % len(S.LOW_TOUCH_CSMS)]
    csm = np.where(tier == 2, high, np.where(tier == 1, low, "pooled"))
    return pd.DataFrame(
        {
            "account_id": ids,
            "name": acc.names,
            "industry": np.array(S.INDUSTRIES, dtype=object)[acc.industry],
            "region": np.array(S.REGIONS, dtype=object)[acc.region],
            "plan": np.array(S.PLANS, dtype=object)[acc.plan],
            "acquisition_channel": np.array(S.CHANNELS, dtype=object)[acc.channel],
            "csm_owner": csm.astype(object),
            "signup_date": _days(first_start),
        }
    )


def subscriptions_table(sim: Simulated, ids: np.ndarray) -> pd.DataFrame:
    """One row per contract period, sorted by account and start; ids ``S0000001``."""
    r = sim.rows
    order = np.lexsort((r["start"], r["account"]))
    n = len(order)
    width = max(6, len(str(n)))
    return pd.DataFrame(
        {
            "subscription_id": np.char.add(
                "S", np.char.zfill(np.arange(1, n + 1).astype(str), width)
            ).astype(object),
            "account_id": ids[r["account"][order]],
            "start_date": _days(r["start"][order]),
            "end_date": _days(r["end"][order]),
            "mrr": r["mrr"][order].astype(np.float64),
            "plan": np.array(S.PLANS, dtype=object)[r["plan"][order]],
            "seats": r["seats"][order].astype(np.int64),
            "billing_period_months": r["billing"][order].astype(np.int64),
        }
    )


def events_table(sim: Simulated, ids: np.ndarray) -> pd.DataFrame:
    """Events with categorical ``account_id``, ``event_type`` and ``user_id``.

    Consumes ``sim.events``: the seconds array is converted to nanoseconds in place
    (the simulation output is private and used once; this halves peak memory).
    """
    acct, ts, etype, value, user = sim.events
    key_dtype = np.int32 if len(ids) * S.MAX_USERS < 2**31 else np.int64
    key = acct.astype(key_dtype) * S.MAX_USERS + user
    key[user < 0] = -1
    present = np.zeros(len(ids) * S.MAX_USERS, dtype=bool)
    present[key[key >= 0]] = True
    code_of = (np.cumsum(present) - 1).astype(key_dtype)
    user_code = code_of[np.maximum(key, 0)]
    user_code[key < 0] = -1
    del key
    keys = np.flatnonzero(present)
    user_names = np.char.add(
        np.char.add(ids[keys // S.MAX_USERS].astype(str), "-u"),
        (keys % S.MAX_USERS + 1).astype(str),
    ).astype(object)
    return pd.DataFrame(
        {
            "account_id": pd.Categorical.from_codes(acct, categories=pd.Index(ids, dtype=object)),
            "timestamp": np.multiply(ts, 1_000_000_000, out=ts).view("datetime64[ns]"),
            "event_type": pd.Categorical.from_codes(
                etype, categories=pd.Index(list(S.EVENT_TYPES), dtype=object)
            ),
            "value": value,
            "user_id": pd.Categorical.from_codes(
                user_code, categories=pd.Index(user_names, dtype=object)
            ),
        }
    )
