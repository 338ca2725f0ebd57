"""The KPI table and the MRR bridge of the executive view, from the monthly KPIs (``kpis.csv``).

Both read the overall rows (``segment == "all"``) of :func:`churnlab.kpis.kpi_table`: the
movements of the bridge are the columns :func:`churnlab.kpis.monthly_kpis` computes (one
definition), so the bridge reconciles with the KPI table by construction::

    start + new + reactivation + expansion - contraction - churn = end
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["BRIDGE_STEPS", "EXECUTIVE_KPIS", "MrrBridge", "kpi_changes", "mrr_bridge", "overall"]

#: The KPIs of the executive table: ``(kpis.csv column, kind, higher is better)``.
EXECUTIVE_KPIS: tuple[tuple[str, str, bool], ...] = (
    ("arr", "money", True),
    ("net_revenue_retention", "rate", True),
    ("gross_revenue_retention", "rate", True),
    ("logo_churn_rate", "rate", False),
    ("gross_revenue_churn", "rate", False),
)

#: The steps of an MRR bridge, in order (``kpis.csv`` column of each movement).
BRIDGE_STEPS: tuple[tuple[str, str], ...] = (
    ("start", "mrr_start"),
    ("new", "new_mrr"),
    ("reactivation", "reactivation_mrr"),
    ("expansion", "expansion_mrr"),
    ("contraction", "contraction_mrr"),
    ("churn", "churned_mrr"),
    ("end", "closing_mrr"),
)


def overall(kpis: pd.DataFrame) -> pd.DataFrame:
    """The overall monthly rows of ``kpis.csv``, sorted by month (``month`` as Timestamp).

    Parameters
    ----------
    kpis : pandas.DataFrame
        The KPI table (``kpis.csv``); without a ``segment`` column every row is overall.

    Returns
    -------
    pandas.DataFrame
        One row per month, index 0..n-1.
    """
    if "month" not in kpis.columns:
        return pd.DataFrame({"month": pd.Series(dtype="datetime64[ns]")})
    rows = kpis[kpis["segment"] == "all"] if "segment" in kpis.columns else kpis
    rows = rows.assign(month=pd.to_datetime(rows["month"]))
    return rows.sort_values("month").reset_index(drop=True)


def _value(row: pd.DataFrame, column: str) -> float:
    if row.empty or column not in row.columns:
        return float("nan")
    return float(row[column].iloc[0])


def kpi_changes(kpis: pd.DataFrame) -> pd.DataFrame:
    """The executive KPIs of the last month with their change month over month and year over year.

    Parameters
    ----------
    kpis : pandas.DataFrame
        The KPI table (``kpis.csv``).

    Returns
    -------
    pandas.DataFrame
        One row per KPI of :data:`EXECUTIVE_KPIS`: ``key``, ``kind``, ``good_up``,
        ``month``, ``value``, ``month_ago`` and ``year_ago`` (the values one and twelve
        months earlier, NaN when the series does not reach back so far), ``mom`` and
        ``yoy`` (the differences: rates in fractions, money in the currency). Empty when
        there is no month.
    """
    rows = overall(kpis)
    columns = ["key", "kind", "good_up", "month", "value", "month_ago", "year_ago", "mom", "yoy"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    month = rows["month"].iloc[-1]
    last = rows.tail(1)
    before = rows[rows["month"] == month - pd.DateOffset(months=1)]
    year = rows[rows["month"] == month - pd.DateOffset(months=12)]
    out = []
    for key, kind, good_up in EXECUTIVE_KPIS:
        value, month_ago, year_ago = (_value(r, key) for r in (last, before, year))
        out.append(
            {
                "key": key,
                "kind": kind,
                "good_up": good_up,
                "month": month,
                "value": value,
                "month_ago": month_ago,
                "year_ago": year_ago,
                "mom": value - month_ago,
                "yoy": value - year_ago,
            }
        )
    return pd.DataFrame(out, columns=columns)


@dataclass(frozen=True)
class MrrBridge:
    """The MRR movements of one or more consecutive months.

    Attributes
    ----------
    first_month, last_month : pandas.Timestamp
        First days of the first and the last month of the bridge.
    months : int
        How many months it spans (fewer than asked when the data is shorter).
    start : float
        MRR on the first day of ``first_month`` of the accounts active then (S).
    new, reactivation : float
        MRR at the end of accounts that started for the first time / came back after
        an earlier churn (they are never in a month's S).
    expansion, contraction, churn : float
        MRR gained and lost by the accounts of each month's S (positive amounts).
    end : float
        MRR on the first day after ``last_month`` of every account active then.
    """

    first_month: pd.Timestamp
    last_month: pd.Timestamp
    months: int
    start: float
    new: float
    reactivation: float
    expansion: float
    contraction: float
    churn: float
    end: float

    @property
    def gap(self) -> float:
        """``end`` minus the sum of the movements: 0 when the bridge reconciles."""
        moved = self.new + self.reactivation + self.expansion - self.contraction - self.churn
        return self.end - (self.start + moved)

    def steps(self) -> list[tuple[str, float]]:
        """``(step, signed amount)`` in bridge order (contraction and churn negative)."""
        sign = {"contraction": -1.0, "churn": -1.0}
        return [(name, sign.get(name, 1.0) * getattr(self, name)) for name, _ in BRIDGE_STEPS]


def mrr_bridge(kpis: pd.DataFrame, months: int = 1) -> MrrBridge | None:
    """The MRR bridge of the last ``months`` months of ``kpis.csv`` (fewer when shorter).

    The start is the first month's ``mrr_start``, the end the last month's
    ``closing_mrr`` (the next month's ``mrr_start``), and each movement the sum of its
    monthly column over the months.

    Parameters
    ----------
    kpis : pandas.DataFrame
        The KPI table (``kpis.csv``).
    months : int
        1 for the month's bridge, 12 for the trailing twelve months.

    Returns
    -------
    MrrBridge or None
        None when the table has no monthly MRR movements (snapshot data, or a KPI table
        written before the bridge columns existed).
    """
    rows = overall(kpis)
    needed = [column for _, column in BRIDGE_STEPS]
    if rows.empty or any(c not in rows.columns for c in needed):
        return None
    rows = rows.dropna(subset=needed).tail(max(1, int(months)))
    if rows.empty:
        return None
    total = {name: float(rows[column].sum()) for name, column in BRIDGE_STEPS[1:-1]}
    return MrrBridge(
        first_month=rows["month"].iloc[0],
        last_month=rows["month"].iloc[-1],
        months=len(rows),
        start=float(rows["mrr_start"].iloc[0]),
        end=float(rows["closing_mrr"].iloc[-1]),
        **total,
    )
