"""Synthetic and Telco observation tables for the modeling tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from tests.helpers import TELCO


def make_synthetic_table(
    n_accounts: int = 400, n_months: int = 15, seed: int = 0, horizon_days: int = 90
) -> pd.DataFrame:
    """A multi-as_of observation table with a known logistic churn relationship.

    Features: ``usage`` (account level + monthly noise, lowers risk), ``tickets``
    (Poisson, raises risk), ``nps`` (numeric with missing values, lowers risk),
    ``plan`` (categorical, starter is riskier), ``region`` (categorical, no effect).
    ``true_probability`` is the generating probability (not a feature: tests drop it).
    """
    rng = np.random.default_rng(seed)
    as_of = pd.date_range("2025-01-31", periods=n_months, freq="ME")
    acc = np.repeat(np.arange(n_accounts), n_months)
    dates = np.tile(as_of.to_numpy(), n_accounts)
    base_usage = rng.normal(0, 1, n_accounts)[acc]
    usage = base_usage + rng.normal(0, 0.5, len(acc))
    tickets = rng.poisson(1.0, len(acc)).astype(float)
    nps = np.where(rng.random(len(acc)) < 0.3, np.nan, rng.integers(0, 11, len(acc)))
    plan = np.array(["starter", "growth", "enterprise"])[rng.integers(0, 3, n_accounts)][acc]
    region = np.array(["emea", "amer", "apac"])[rng.integers(0, 3, n_accounts)][acc]
    logit = (
        -2.2
        - 1.2 * usage
        + 0.45 * tickets
        - 0.15 * np.nan_to_num(nps - 5.0)
        + np.where(plan == "starter", 0.8, 0.0)
    )
    p = expit(logit)
    label = (rng.random(len(acc)) < p).astype(int)
    churn_offset = rng.integers(1, horizon_days + 1, len(acc))
    dates = pd.to_datetime(dates)
    churn_date = pd.Series(dates + pd.to_timedelta(churn_offset, unit="D")).where(label == 1)
    arr = np.round(np.exp(rng.normal(9.5, 0.8, n_accounts)), 2)[acc]
    renewal = dates + pd.to_timedelta(rng.integers(0, 365, len(acc)), unit="D")
    return pd.DataFrame(
        {
            "account_id": [f"A{i:05d}" for i in acc],
            "as_of": dates,
            "checkpoint": "month_end",
            "label": label,
            "churn_date": churn_date.to_numpy(),
            "renewal_date": renewal,
            "days_to_renewal": (renewal - dates).days,
            "arr": arr,
            "usage": usage,
            "tickets": tickets,
            "nps": nps,
            "plan": plan,
            "region": region,
            "true_probability": p,
        }
    )


SYNTH_NUMERIC = ["usage", "tickets", "nps"]
SYNTH_CATEGORICAL = ["plan", "region"]


def load_telco(as_of: str = "2020-01-31") -> pd.DataFrame:
    """The IBM Telco snapshot as a single-as_of observation table."""
    df = pd.read_csv(TELCO)
    feats = df.drop(columns=["customerID", "Churn"])
    # 11 blank TotalCharges rows all have tenure 0: nothing billed yet.
    feats["TotalCharges"] = pd.to_numeric(feats["TotalCharges"].str.strip().replace("", np.nan))
    feats["TotalCharges"] = feats["TotalCharges"].fillna(0.0)
    keys = pd.DataFrame(
        {
            "account_id": df["customerID"],
            "as_of": pd.Timestamp(as_of),
            "checkpoint": "snapshot",
            "label": (df["Churn"] == "Yes").astype(int),
        }
    )
    return pd.concat([keys, feats], axis=1)
