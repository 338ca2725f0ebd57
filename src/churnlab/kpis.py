"""Subscription KPIs per calendar month, exactly as ``docs/domain.md`` defines them.

For a month P with first day ``m`` and next month's first day ``m'``:

- S = accounts active on ``m`` (covered, or inside a grace gap); ``MRR_start`` =
  their MRR on ``m``; ``MRR_next`` = their MRR on ``m'``, or 0 for an account
  whose churn date ``c`` (first day without cover) satisfies ``m < c <= m'``
  (the last covered day ``c - 1`` lies in P).
- Churn dates come from the periods table: confirmed churns and **pending**
  churns (cover ended, grace window still open at the data end) both count as
  churn here, because their MRR on ``m'`` is gone; ``pending_churned_logos``
  says how many of the month's churned logos are pending.
- New accounts (first period) and re-signups (period 2+) that start during P
  are counted in ``new_accounts`` / ``resignups`` and never enter S.
- Segments are evaluated per account and month: the touch tier comes from ARR
  (12 x MRR) on ``m`` for accounts active then, otherwise from ARR on the last
  day of P (accounts that started during P); any static account column can be
  used instead.

Only complete months should be reported: the month of ``end`` must satisfy
``m' <= data_end + 1 day``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.observations.periods import coverage_matrix
from churnlab.vocabulary import touch_tier

__all__ = [
    "annualise",
    "cohort_retention",
    "customer_ltv",
    "kpi_overview",
    "kpi_table",
    "last_complete_month",
    "month_starts",
    "monthly_kpis",
    "onboarding_completion",
    "tier_summary",
    "time_to_value",
]

DEFAULT_TIER_THRESHOLDS = (12_000.0, 60_000.0)


def annualise(monthly_rate):
    """Convert a monthly rate to an annual one: ``1 - (1 - m)^12`` (never ``12 m``).

    Works on floats, numpy arrays and pandas objects; 2% monthly is 21.53% annual.
    """
    return 1 - (1 - monthly_rate) ** 12


def month_starts(start, end) -> pd.DatetimeIndex:
    """First days of the calendar months from the month of ``start`` to that of ``end``."""
    first = pd.Timestamp(start).to_period("M").to_timestamp()
    last = pd.Timestamp(end).to_period("M").to_timestamp()
    if last < first:
        raise ValueError(f"end ({end}) is before start ({start})")
    return pd.date_range(first, last, freq="MS")


def _churn_candidates(periods: pd.DataFrame) -> pd.DataFrame:
    """Periods whose cover has ended on or before the data end (churned or pending)."""
    ended = periods["churned"].astype(bool) | periods.get(
        "pending_churn", pd.Series(False, index=periods.index)
    ).astype(bool)
    return periods.loc[ended, ["account_id", "last_end_date", "churned"]]


def _segment_values(
    segment: str | None,
    accounts_index: pd.Index,
    mrr_at_start: np.ndarray,
    mrr_at_end: np.ndarray,
    active_at_start: np.ndarray,
    accounts: pd.DataFrame | None,
    tier_thresholds: tuple[float, float],
) -> np.ndarray:
    """``(n_accounts, n_months)`` array of segment labels."""
    shape = mrr_at_start.shape
    if segment is None:
        return np.full(shape, "all", dtype=object)
    if segment == "touch_tier":
        arr = 12 * np.where(active_at_start, mrr_at_start, mrr_at_end)
        return touch_tier(arr, tier_thresholds).astype(object)
    if accounts is None or segment not in accounts.columns:
        raise ValueError(f"segment '{segment}' is not 'touch_tier' nor a column of accounts")
    static = accounts.assign(account_id=accounts["account_id"].astype(str)).set_index("account_id")[
        segment
    ]
    values = static.reindex(accounts_index).astype(object).fillna("unknown").to_numpy()
    return np.repeat(values[:, None], shape[1], axis=1)


def monthly_kpis(
    subscriptions: pd.DataFrame,
    periods: pd.DataFrame,
    start,
    end,
    grace_days: int,
    segment: str | None = None,
    accounts: pd.DataFrame | None = None,
    tier_thresholds: tuple[float, float] = DEFAULT_TIER_THRESHOLDS,
) -> pd.DataFrame:
    """Logo, revenue and retention KPIs per calendar month (and segment).

    Parameters
    ----------
    subscriptions : pandas.DataFrame
        ``account_id, start_date, end_date, mrr`` (not modified).
    periods : pandas.DataFrame
        ``periods.active_periods(subscriptions, grace_days, data_end)``.
    start, end : date-like
        First and last month to report (any day inside the month).
    grace_days : int
        Same grace as used for ``periods``.
    segment : str, optional
        None for overall numbers, ``"touch_tier"`` for ARR tiers, or a static
        column of ``accounts``.
    accounts : pandas.DataFrame, optional
        Needed only for a static ``segment`` column.
    tier_thresholds : (float, float)
        ``(low_touch_min_arr, high_touch_min_arr)``.

    Returns
    -------
    pandas.DataFrame
        One row per month (and segment value, column named ``segment``):
        counts and MRR (``active_accounts_start``, ``mrr_start``,
        ``active_accounts``, ``mrr``, ``arr`` on the last day, ``new_accounts``,
        ``resignups``, ``churned_logos``, ``pending_churned_logos``,
        ``churned_mrr``, ``contraction_mrr``, ``expansion_mrr``,
        ``expansion_accounts``; the MRR bridge's ``new_mrr`` and ``reactivation_mrr``,
        the MRR on ``m'`` of accounts not carried over from S, first-time customers and
        returning ones, and ``closing_mrr``, the MRR on ``m'`` of every account active
        then, so that ``mrr_start + new_mrr + reactivation_mrr + expansion_mrr -
        contraction_mrr - churned_mrr = closing_mrr``, the next month's ``mrr_start``), rates (``logo_churn_rate``,
        ``logo_retention_rate``, ``gross_revenue_churn``,
        ``gross_revenue_retention``, ``net_revenue_retention``,
        ``expansion_rate``, ``arpa``) and ``*_annual`` versions of the churn and
        retention rates. Rates over an empty S are NaN.
    """
    months = month_starts(start, end)
    n_m = len(months)
    nexts = months + pd.DateOffset(months=1)
    last_days = nexts - pd.Timedelta(days=1)
    dates = months.append(pd.DatetimeIndex([nexts[-1]])).append(last_days)
    accounts_index, _, mrr, active = coverage_matrix(subscriptions, dates, grace_days)
    n_a = len(accounts_index)
    mrr_start, mrr_next_raw, mrr_end = mrr[:, :n_m], mrr[:, 1 : n_m + 1], mrr[:, n_m + 1 :]
    in_s, active_end = active[:, :n_m], active[:, n_m + 1 :]

    def _month_matrix(frame: pd.DataFrame, date_col: str) -> np.ndarray:
        """Boolean (account, month) matrix of the rows whose date falls in the month."""
        out = np.zeros((n_a, n_m), dtype=bool)
        row = accounts_index.get_indexer(frame["account_id"].astype(str))
        col = months.get_indexer(frame[date_col].dt.to_period("M").dt.to_timestamp())
        keep = (row >= 0) & (col >= 0)
        out[row[keep], col[keep]] = True
        return out

    ended = _churn_candidates(periods)
    ended = ended.assign(_last_day=ended["last_end_date"] - pd.Timedelta(days=1))
    churned_in = _month_matrix(ended, "_last_day") & in_s
    pending_in = _month_matrix(ended[~ended["churned"].astype(bool)], "_last_day") & churned_in
    starts = periods.assign(_start=pd.to_datetime(periods["start_date"]))
    first = starts["period_number"].astype(int) == 1
    new_in = _month_matrix(starts[first], "_start")
    resign_in = _month_matrix(starts[~first], "_start")

    mrr_s = np.where(in_s, mrr_start, 0.0)
    mrr_next = np.where(in_s & ~churned_in, mrr_next_raw, 0.0)
    stay = in_s & ~churned_in
    # the MRR bridge's arrivals: active on m' without being carried over from S (new
    # accounts, and accounts that had been active before m: reactivations)
    arrived = active[:, 1 : n_m + 1] & ~stay
    first_start = starts.groupby(starts["account_id"].astype(str))["_start"].min()
    was_customer = first_start.reindex(accounts_index).to_numpy()[:, None] <= months.to_numpy()
    diff = mrr_next - mrr_s
    seg = _segment_values(
        segment, accounts_index, mrr_start, mrr_end, in_s, accounts, tier_thresholds
    )
    cells = pd.DataFrame(
        {
            "month": np.tile(months.to_numpy(), n_a),
            "segment": seg.ravel(),
            "active_accounts_start": in_s.ravel(),
            "mrr_start": mrr_s.ravel(),
            "active_accounts": active_end.ravel(),
            "mrr": np.where(active_end, mrr_end, 0.0).ravel(),
            "new_accounts": new_in.ravel(),
            "resignups": resign_in.ravel(),
            "churned_logos": churned_in.ravel(),
            "pending_churned_logos": pending_in.ravel(),
            "churned_mrr": np.where(churned_in, mrr_s, 0.0).ravel(),
            "contraction_mrr": np.where(stay & (diff < 0), -diff, 0.0).ravel(),
            "expansion_mrr": np.where(stay & (diff > 0), diff, 0.0).ravel(),
            "expansion_accounts": (stay & (diff > 0)).ravel(),
            "new_mrr": np.where(arrived & ~was_customer, mrr_next_raw, 0.0).ravel(),
            "reactivation_mrr": np.where(arrived & was_customer, mrr_next_raw, 0.0).ravel(),
            "closing_mrr": np.where(stay | arrived, mrr_next_raw, 0.0).ravel(),
            "_arrived": arrived.ravel(),
            "_mrr_next": mrr_next.ravel(),
        }
    )
    relevant = cells[
        ["active_accounts_start", "active_accounts", "new_accounts", "resignups", "_arrived"]
    ]
    cells = cells[relevant.any(axis=1).to_numpy()]
    keys = ["month"] if segment is None else ["month", "segment"]
    out = cells.groupby(keys, sort=True).sum(numeric_only=True)
    if segment is not None:  # every month x segment, zeros where nothing happened
        full = pd.MultiIndex.from_product([months, sorted(cells["segment"].unique())], names=keys)
        out = out.reindex(full, fill_value=0)
    else:
        out = out.reindex(pd.Index(months, name="month"), fill_value=0)
    out = out.reset_index()
    count_cols = [
        "active_accounts_start",
        "active_accounts",
        "new_accounts",
        "resignups",
        "churned_logos",
        "pending_churned_logos",
        "expansion_accounts",
    ]
    out[count_cols] = out[count_cols].astype(int)
    out = _add_rates(out)
    out = out.drop(columns=["_mrr_next", "_arrived"])
    return out.rename(columns={"segment": segment}) if segment is not None else out


def kpi_table(
    subscriptions: pd.DataFrame,
    periods: pd.DataFrame,
    start,
    end,
    grace_days: int,
    segment: str = "touch_tier",
    accounts: pd.DataFrame | None = None,
    tier_thresholds: tuple[float, float] = DEFAULT_TIER_THRESHOLDS,
) -> pd.DataFrame:
    """Overall and per-segment monthly KPIs stacked, the shape of ``kpis.csv``.

    Same arguments as :func:`monthly_kpis`. The ``segment`` column holds
    ``"all"`` for the overall rows and the segment value otherwise; the column
    ``segment_by`` names the segmentation (``"touch_tier"``).
    """
    overall = monthly_kpis(subscriptions, periods, start, end, grace_days).assign(segment="all")
    by = monthly_kpis(
        subscriptions, periods, start, end, grace_days, segment, accounts, tier_thresholds
    ).rename(columns={segment: "segment"})
    both = pd.concat([overall, by], ignore_index=True).assign(segment_by=segment)
    first = ["month", "segment_by", "segment"]
    return both[first + [c for c in both.columns if c not in first]]


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    den = den.astype(float)
    return num.astype(float) / den.where(den > 0)


def _add_rates(out: pd.DataFrame) -> pd.DataFrame:
    out = out.copy()
    out["arr"] = 12 * out["mrr"]
    out["logo_churn_rate"] = _ratio(out["churned_logos"], out["active_accounts_start"])
    out["logo_retention_rate"] = 1 - out["logo_churn_rate"]
    lost = out["churned_mrr"] + out["contraction_mrr"]
    out["gross_revenue_churn"] = _ratio(lost, out["mrr_start"])
    out["gross_revenue_retention"] = 1 - out["gross_revenue_churn"]
    out["net_revenue_retention"] = _ratio(out["_mrr_next"], out["mrr_start"])
    out["expansion_rate"] = _ratio(out["expansion_accounts"], out["active_accounts_start"])
    out["arpa"] = _ratio(out["mrr"], out["active_accounts"])
    out["logo_churn_rate_annual"] = annualise(out["logo_churn_rate"])
    out["gross_revenue_churn_annual"] = annualise(out["gross_revenue_churn"])
    out["gross_revenue_retention_annual"] = 1 - out["gross_revenue_churn_annual"]
    out["net_revenue_retention_annual"] = out["net_revenue_retention"] ** 12
    return out


def customer_ltv(kpis: pd.DataFrame, gross_margin: float) -> pd.Series:
    """Simple customer LTV per row: ``arpa x gross_margin / gross_revenue_churn``.

    The monthly revenue churn is the gross revenue churn. A month without any
    revenue churn (0) or with an empty base gives NaN: the simple formula has no
    finite answer then, and a month's zero churn says nothing about lifetime.
    """
    if not 0 < gross_margin <= 1:
        raise ValueError(f"gross_margin must be in (0, 1], got {gross_margin}")
    churn = kpis["gross_revenue_churn"].astype(float)
    return (kpis["arpa"] * gross_margin / churn.where(churn > 0)).rename("customer_ltv")


def _first_starts(periods: pd.DataFrame) -> pd.DataFrame:
    """``account_id``, ``first_start`` and start ``cohort`` (month) of each account."""
    first = (
        periods.assign(account_id=periods["account_id"].astype(str))
        .groupby("account_id", sort=True)["start_date"]
        .min()
        .rename("first_start")
        .reset_index()
    )
    first["cohort"] = first["first_start"].dt.to_period("M").dt.to_timestamp()
    return first


def _first_event(events: pd.DataFrame, event_type: str, data_end) -> pd.Series:
    """First timestamp of ``event_type`` per account, on or before ``data_end``."""
    ts = pd.to_datetime(events["timestamp"])
    keep = (events["event_type"] == event_type) & (ts <= pd.Timestamp(data_end))
    hits = pd.DataFrame({"account_id": events["account_id"].astype(str), "ts": ts})[keep]
    return hits.groupby("account_id")["ts"].min()


def onboarding_completion(
    periods: pd.DataFrame, events: pd.DataFrame, onboarding_days: int, data_end
) -> pd.DataFrame:
    """Onboarding completion rate by start cohort (month of the first start).

    An account completed onboarding when its first ``onboarding_completed``
    event falls within ``onboarding_days`` days of its first start date.

    Returns
    -------
    pandas.DataFrame
        ``cohort``, ``accounts_started``, ``onboarding_completed``,
        ``onboarding_completion_rate``, and ``window_complete`` (False when the
        cohort's last account started less than ``onboarding_days`` before
        ``data_end``, so its rate can still rise).
    """
    first = _first_starts(periods)
    done_at = _first_event(events, "onboarding_completed", data_end)
    delay = done_at.reindex(first["account_id"]).to_numpy() - first["first_start"].to_numpy()
    completed = pd.Series(delay).le(pd.Timedelta(days=int(onboarding_days))).to_numpy()
    per = first.assign(completed=completed).groupby("cohort", sort=True)
    out = per.agg(
        accounts_started=("account_id", "size"),
        onboarding_completed=("completed", "sum"),
        last_start=("first_start", "max"),
    ).reset_index()
    out["onboarding_completed"] = out["onboarding_completed"].astype(int)
    out["onboarding_completion_rate"] = out["onboarding_completed"] / out["accounts_started"]
    limit = pd.Timestamp(data_end) - pd.Timedelta(days=int(onboarding_days))
    out["window_complete"] = out["last_start"] <= limit
    return out.drop(columns="last_start")


def time_to_value(periods: pd.DataFrame, events: pd.DataFrame, data_end) -> pd.DataFrame:
    """Median time to value (days from first start to first ``first_value``) by cohort.

    Returns
    -------
    pandas.DataFrame
        ``cohort``, ``accounts_started``, ``reached_value``,
        ``median_time_to_value_days`` (over accounts that reached value; NaN if none).
    """
    first = _first_starts(periods)
    reached_at = _first_event(events, "first_value", data_end)
    delay = reached_at.reindex(first["account_id"]).to_numpy() - first["first_start"].to_numpy()
    days = pd.Series(delay).dt.total_seconds().to_numpy() / 86_400
    per = first.assign(ttv_days=days).groupby("cohort", sort=True)
    return per.agg(
        accounts_started=("account_id", "size"),
        reached_value=("ttv_days", "count"),
        median_time_to_value_days=("ttv_days", "median"),
    ).reset_index()


def cohort_retention(
    subscriptions: pd.DataFrame,
    periods: pd.DataFrame,
    grace_days: int,
    start,
    end,
    kind: str = "logo",
) -> pd.DataFrame:
    """Signup-cohort retention matrix for a heatmap.

    Rows are start cohorts (month of each account's first start, from the month
    of ``start`` to that of ``end``); column ``k`` is the first day of the
    ``k``-th month after the cohort month. Logo: share of the cohort's accounts
    active on that day (a re-signed account counts as active again). Revenue:
    the cohort's MRR on that day / its starting MRR (each account's MRR on its
    first start day), so values above 1 mean net expansion. Column 0 is 1 by
    definition; days after ``end`` are NaN.
    """
    if kind not in ("logo", "revenue"):
        raise ValueError(f"kind must be 'logo' or 'revenue', got {kind!r}")
    cohort_months = month_starts(start, end)
    first = _first_starts(periods)
    first = first[first["cohort"].isin(cohort_months)]
    days = cohort_months[1:].append(pd.DatetimeIndex([cohort_months[-1] + pd.DateOffset(months=1)]))
    days = days[days <= pd.Timestamp(end)]
    n_k = len(cohort_months)
    accounts_index, _, mrr, active = coverage_matrix(subscriptions, days, grace_days)
    row = accounts_index.get_indexer(first["account_id"])
    cohort_pos = cohort_months.get_indexer(first["cohort"])
    values = (active if kind == "logo" else mrr)[row].astype(float)
    if kind == "logo":
        base = np.ones(len(first))
    else:
        subs = subscriptions.assign(account_id=subscriptions["account_id"].astype(str))
        on_first = subs.merge(first, on="account_id")
        on_first = on_first[pd.to_datetime(on_first["start_date"]) == on_first["first_start"]]
        base_mrr = on_first.groupby("account_id")["mrr"].sum()
        base = base_mrr.reindex(first["account_id"]).fillna(0.0).to_numpy()
    # cell (cohort c, offset k) collects day index c + k - 1 (days start at cohort_months[1])
    offsets = np.arange(len(days))[None, :] + 1 - cohort_pos[:, None]
    keep = offsets >= 1
    acc_idx, day_idx = np.nonzero(keep)
    long = pd.DataFrame(
        {
            "cohort": first["cohort"].to_numpy()[acc_idx],
            "k": offsets[acc_idx, day_idx],
            "value": values[acc_idx, day_idx],
        }
    )
    num = long.groupby(["cohort", "k"])["value"].sum().unstack("k")
    den = pd.Series(base).groupby(first["cohort"].to_numpy()).sum()
    matrix = num.div(den.where(den > 0), axis=0)
    matrix = matrix.reindex(index=den.index, columns=range(1, n_k))
    matrix.insert(0, 0, np.where(den > 0, 1.0, np.nan))
    matrix.index.name, matrix.columns.name = "cohort", "months_since_start"
    return matrix


#: The headline columns of :func:`kpi_overview`, in order.
OVERVIEW_COLUMNS = (
    "month",
    "active_accounts",
    "arr",
    "logo_churn_rate",
    "gross_revenue_retention",
    "net_revenue_retention",
    "expansion_rate",
)


def kpi_overview(kpis: pd.DataFrame, months: int = 6) -> pd.DataFrame:
    """The overall KPI rows (``segment == "all"``) of the last ``months`` months, headline columns."""
    overall = kpis[kpis["segment"] == "all"]
    return overall[[c for c in OVERVIEW_COLUMNS if c in overall]].tail(months)


def tier_summary(kpis: pd.DataFrame, months: int = 6) -> pd.DataFrame:
    """Average monthly logo churn, GRR, NRR and expansion per segment over the last ``months``.

    ``accounts_now`` is each segment's active accounts in the last month.
    """
    recent = sorted(kpis["month"].unique())[-months:]
    part = kpis[kpis["month"].isin(recent)]
    cols = ["logo_churn_rate", "gross_revenue_retention", "net_revenue_retention", "expansion_rate"]
    table = part.groupby("segment")[cols].mean()
    table["accounts_now"] = part[part["month"] == recent[-1]].set_index("segment")[
        "active_accounts"
    ]
    return table


def last_complete_month(data_end: pd.Timestamp) -> pd.Timestamp:
    """First day of the last calendar month that the data covers completely."""
    nxt = data_end + pd.Timedelta(days=1)
    month_start = data_end.replace(day=1)
    return month_start if nxt.month != data_end.month else month_start - pd.DateOffset(months=1)
