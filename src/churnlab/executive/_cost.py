"""Retention cost: what the CS team costs per dollar of ARR and per account it keeps.

For the last complete month of ``kpis.csv`` and each segment with a cost:

- retained accounts = the month's base S minus its churned accounts;
- retained ARR = 12 x (MRR of S - churned MRR - contraction), the ARR the base kept
  (gross revenue retention x starting ARR);
- **cost per retained account** = monthly CS cost / retained accounts (per month);
- **cost per 1,000 of retained ARR** = 12 x monthly CS cost / retained ARR x 1,000 (a
  year of the team against the ARR it kept).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from churnlab.executive._kpis import overall
from churnlab.vocabulary import TIERS

__all__ = ["retention_cost"]

_COLUMNS = [
    "segment",
    "month",
    "monthly_cost",
    "retained_accounts",
    "retained_arr",
    "cost_per_account",
    "cost_per_1k_arr",
]


def _retained(row: pd.Series) -> tuple[int, float]:
    accounts = int(row["active_accounts_start"]) - int(row["churned_logos"])
    mrr = float(row["mrr_start"]) - float(row["churned_mrr"]) - float(row["contraction_mrr"])
    return accounts, 12.0 * mrr


def retention_cost(kpis: pd.DataFrame, cs_cost: float | Mapping[str, float] | None) -> pd.DataFrame:
    """CS cost per retained account and per 1,000 of retained ARR, last complete month.

    Parameters
    ----------
    kpis : pandas.DataFrame
        ``kpis.csv`` (overall and per touch-tier rows).
    cs_cost : float or mapping of str to float or None
        ``report.cs_cost``: the monthly cost of the CS team, in total or per touch tier.

    Returns
    -------
    pandas.DataFrame
        ``segment`` (``all``, and each tier with a cost when given per tier; ``all`` is
        left out when a tier of the book has no cost), ``month``, ``monthly_cost``,
        ``retained_accounts``, ``retained_arr``, ``cost_per_account``,
        ``cost_per_1k_arr`` (NaN when nothing was retained). Empty without a cost or
        without monthly MRR movements (snapshot data).
    """
    needed = ("active_accounts_start", "churned_logos", "mrr_start", "churned_mrr")
    if cs_cost is None or kpis.empty or any(c not in kpis.columns for c in needed):
        return pd.DataFrame(columns=_COLUMNS)
    month = overall(kpis)["month"].iloc[-1]
    last = kpis[pd.to_datetime(kpis["month"]) == month].set_index("segment")
    if isinstance(cs_cost, Mapping):
        costs = {t: float(cs_cost[t]) for t in TIERS if t in cs_cost and t in last.index}
        present = [t for t in TIERS if t in last.index and last.loc[t, "active_accounts_start"]]
        if set(present) <= set(costs):
            costs = {"all": sum(costs.values()), **costs}
    else:
        costs = {"all": float(cs_cost)}
    rows = []
    for segment, cost in costs.items():
        accounts, arr = _retained(last.loc[segment])
        rows.append(
            {
                "segment": segment,
                "month": month,
                "monthly_cost": cost,
                "retained_accounts": accounts,
                "retained_arr": arr,
                "cost_per_account": cost / accounts if accounts > 0 else np.nan,
                "cost_per_1k_arr": 12.0 * cost / arr * 1000 if arr > 0 else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=_COLUMNS)
