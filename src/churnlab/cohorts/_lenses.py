"""Metric cohorts and the ready-made CS lenses: churn rate per bin or group, Wilson 95% CIs.

Public through :mod:`churnlab.cohorts` (``churn_by_bins``, ``churn_rate_table``, ``cs_lenses``).

Odd but valid data never raises: an empty table gives rate tables without rows
(same columns); a single group gives a one-row table (share 1); a metric that
is missing for every account gives an empty bin table whose ``attrs["note"]``
says why ("nothing to bin: ..."); a constant metric gives one bin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from churnlab.cohorts import stats
from churnlab.cohorts._findings import format_number
from churnlab.errors import DataError
from churnlab.vocabulary import TIERS

RATE_COLUMNS = ["group", "n", "churned", "churn_rate", "ci_low", "ci_high", "share"]
BIN_COLUMNS = ["feature", "group", "lower", "upper", *RATE_COLUMNS[1:]]
_NO_ACCOUNTS = "no accounts in the cohort table"


def _require_label(table: pd.DataFrame, label: str) -> None:
    if label not in table:
        raise DataError(
            "cohort table", label, "is missing", hint="pass label=<the 0/1 churn column>"
        )


def churn_rate_table(
    table: pd.DataFrame,
    groups: pd.Series | str,
    *,
    label: str = "label",
    order: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Churn rate per group with Wilson intervals.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows with a 0/1 ``label`` column.
    groups : str or pandas.Series
        A column name, or a Series aligned with ``table`` giving each row's group.
        Missing groups are counted in a ``"missing"`` group, never dropped.
    label : str
        The 0/1 churn column.
    order : sequence of str, optional
        Order of the groups in the output (others follow, sorted).
    confidence : float
        Level of the Wilson interval.

    Returns
    -------
    pandas.DataFrame
        Columns ``group, n, churned, churn_rate, ci_low, ci_high, share`` (share of all rows);
        no rows for an empty table, one row (share 1) for a single group.
    """
    _require_label(table, label)
    key = table[groups] if isinstance(groups, str) else groups
    key = key.astype(object).where(key.notna(), "missing").astype(str)
    y = pd.to_numeric(table[label], errors="coerce")
    grouped = y.groupby(key.to_numpy(), sort=True).agg(["count", "sum"])
    if order is not None:
        first = [g for g in order if g in grouped.index]
        grouped = grouped.loc[first + [g for g in grouped.index if g not in first]]
    n, k = grouped["count"].to_numpy(float), grouped["sum"].to_numpy(float)
    low, high = stats.wilson_interval(k, n, confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = k / n
    return pd.DataFrame(
        {
            "group": grouped.index.astype(str),
            "n": n.astype(int),
            "churned": k.astype(int),
            "churn_rate": rate,
            "ci_low": low,
            "ci_high": high,
            "share": n / n.sum(),
        }
    )


def churn_by_bins(
    table: pd.DataFrame,
    feature: str,
    *,
    bins: int | Sequence[float] = 10,
    label: str = "label",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Churn rate by quantile bin (default deciles) or explicit bin edges of a metric.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows with ``feature`` and a 0/1 ``label``.
    feature : str
        Numeric column to bin.
    bins : int or sequence of float
        Number of quantile bins (ties merge bins, so fewer may come back) or
        explicit edges (closed on the right, the first bin includes its left edge).
    label : str
        The 0/1 churn column.
    confidence : float
        Level of the Wilson interval.

    Returns
    -------
    pandas.DataFrame
        One row per bin in ascending order (plus ``missing`` when values are
        missing, and ``outside the bins`` for values beyond explicit edges) with
        ``lower``, ``upper`` and the columns of :func:`churn_rate_table`.

        When nothing can be binned (an empty table, or ``feature`` missing for
        every account) the table has no rows (same columns) and
        ``attrs["note"]`` says why: "nothing to bin: no accounts in the cohort
        table" or "nothing to bin: <feature> is missing for every account". A
        constant metric with quantile bins gives one bin ``[v, v]`` and the note
        "one bin only: <feature> takes a single value".
    """
    if feature not in table:
        raise DataError("cohort table", feature, "is missing", hint="pick a numeric feature")
    _require_label(table, label)
    x = pd.to_numeric(table[feature], errors="coerce")
    if not x.notna().any():
        why = _NO_ACCOUNTS if table.empty else f"{feature} is missing for every account"
        return _nothing_binned(f"nothing to bin: {why}")
    note = None
    if isinstance(bins, int | np.integer):
        edges = pd.qcut(x, int(bins), retbins=True, duplicates="drop")[1]
        if len(edges) < 2:  # a single value: qcut leaves one edge, i.e. no bin
            edges = np.repeat(float(x.min()), 2)
            note = f"one bin only: {feature} takes a single value"
    else:
        edges = np.asarray(bins, dtype=float)
    if note:
        codes = pd.Series(np.where(x.notna(), 0.0, np.nan), index=x.index)
    else:
        codes = pd.cut(x, edges, include_lowest=True, labels=False)
    lows, highs = edges[:-1], edges[1:]
    names = [
        f"{'[' if i == 0 else '('}{format_number(lo)}, {format_number(hi)}]"
        for i, (lo, hi) in enumerate(zip(lows, highs, strict=True))
    ]
    named = np.asarray(names, dtype=object)[codes.fillna(0).astype(int).to_numpy()]
    group = pd.Series(named, index=table.index).where(codes.notna(), "outside the bins")
    group = group.where(x.notna(), "missing")
    rates = churn_rate_table(table, group, label=label, order=names, confidence=confidence)
    bounds = pd.DataFrame({"group": names, "lower": lows, "upper": highs})
    out = rates.merge(bounds, on="group", how="left")
    out.insert(0, "feature", feature)
    out = out[BIN_COLUMNS]
    if note:
        out.attrs["note"] = note
    return out


def _nothing_binned(note: str) -> pd.DataFrame:
    """A bin table without rows (the columns and dtypes of :func:`churn_by_bins`)."""
    dtypes = {"feature": "object", "group": "object", "n": "int64", "churned": "int64"}
    out = pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "float64")) for c in BIN_COLUMNS})
    out.attrs["note"] = note
    return out


def _onboarding(t: pd.DataFrame) -> pd.Series:
    done = pd.to_numeric(t["onboarding_completed"], errors="coerce")
    return pd.Series(np.where(done > 0, "completed", "not completed"), index=t.index).where(
        done.notna()
    )


def _time_to_value(t: pd.DataFrame) -> pd.Series:
    days = pd.to_numeric(t["time_to_value_days"], errors="coerce")
    bands = pd.cut(days, [-np.inf, 14, 30, 60, np.inf], labels=TTV_BANDS[:-1])
    return bands.astype(str).where(days.notna(), "never")


def _tickets(t: pd.DataFrame) -> pd.Series:
    if all(c in t for c in _LIFETIME_TICKET_COLS):  # lifetime counts win when present
        opened = pd.to_numeric(t[_LIFETIME_TICKET_COLS[0]], errors="coerce").fillna(0)
        backlog = opened - pd.to_numeric(t[_LIFETIME_TICKET_COLS[1]], errors="coerce").fillna(0)
    else:
        opened = pd.to_numeric(t[_TICKET_COLS[0]], errors="coerce").fillna(0)
        backlog = pd.to_numeric(t[_TICKET_COLS[1]], errors="coerce").fillna(0)
    outcome = np.select([backlog > 0, opened > 0], ["unresolved", "all resolved"], "no tickets")
    return pd.Series(outcome, index=t.index)


def _nps(t: pd.DataFrame) -> pd.Series:
    if "nps_category" in t:
        return t["nps_category"].astype(object).where(t["nps_category"].notna(), "no response")
    score = pd.to_numeric(t["last_nps"], errors="coerce")
    cat = np.select([score <= 6, score <= 8, score <= 10], ["detractor", "passive", "promoter"], "")
    return pd.Series(cat, index=t.index).where(score.notna(), "no response")


TTV_BANDS = ["<=14 days", "15-30 days", "31-60 days", ">60 days", "never"]
_TICKET_COLS = ("tickets_opened_90d", "open_ticket_backlog")
_LIFETIME_TICKET_COLS = ("tickets_opened_total", "tickets_resolved_total")

#: lens name -> (title, columns needed (any one of the alternatives), grouping, order)
LENSES: dict[str, tuple[str, tuple[tuple[str, ...], ...], Callable, list[str] | None]] = {
    "onboarding": ("Onboarding completed", (("onboarding_completed",),), _onboarding,
                   ["completed", "not completed"]),
    "time_to_value": ("Time to value", (("time_to_value_days",),), _time_to_value, TTV_BANDS),
    "tickets": ("Support ticket outcome (Goodman's law)", (_TICKET_COLS, _LIFETIME_TICKET_COLS), _tickets,
                ["no tickets", "all resolved", "unresolved"]),
    "nps": ("NPS category", (("nps_category",), ("last_nps",)), _nps,
            ["promoter", "passive", "detractor", "no response"]),
    "touch_tier": ("Touch tier", (("touch_tier",),), lambda t: t["touch_tier"],
                   list(TIERS)),
}  # fmt: skip


class LensTables(dict):
    """``dict`` of lens name -> churn-rate table; ``skipped`` says which lenses had no data."""

    def __init__(self, tables: dict[str, pd.DataFrame], skipped: dict[str, str]) -> None:
        super().__init__(tables)
        self.skipped = dict(skipped)

    def _repr_html_(self) -> str:
        parts = [
            f"<h4>{t.attrs.get('title', k)}</h4>" + t.to_html(index=False) for k, t in self.items()
        ]
        parts += [f"<p><i>{k}: {why}</i></p>" for k, why in self.skipped.items()]
        return "".join(parts)


def cs_lenses(cohort_table: pd.DataFrame, *, label: str = "label") -> LensTables:
    """The ready-made CS lenses: churn rate (Wilson 95% CI) per group of each lens.

    Lenses: ``onboarding`` (completed or not), ``time_to_value`` (<=14, 15-30,
    31-60, >60 days, never), ``tickets`` (no tickets / all resolved /
    unresolved, from ``tickets_opened_90d`` and ``open_ticket_backlog``, or the
    lifetime ``tickets_opened_total`` / ``tickets_resolved_total`` when present),
    ``nps`` (``nps_category``, or derived from ``last_nps``), ``touch_tier``.

    Returns
    -------
    LensTables
        A dict of the lenses whose columns exist (each table's ``attrs["title"]``
        names it); lenses whose columns are missing (e.g. on Telco) are listed in
        ``.skipped`` with the reason. An empty cohort table skips every lens
        ("skipped: no accounts in the cohort table"); a lens with a single group
        gives a one-row table.
    """
    tables, skipped = {}, {}
    for name, (title, alternatives, grouping, order) in LENSES.items():
        if not any(all(c in cohort_table for c in cols) for cols in alternatives):
            needs = " or ".join(" + ".join(cols) for cols in alternatives)
            skipped[name] = f"skipped: needs the column(s) {needs}"
            continue
        if cohort_table.empty:
            skipped[name] = f"skipped: {_NO_ACCOUNTS}"
            continue
        rates = churn_rate_table(cohort_table, grouping(cohort_table), label=label, order=order)
        rates.attrs["title"] = title
        tables[name] = rates
    return LensTables(tables, skipped)
