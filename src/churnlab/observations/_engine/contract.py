"""Subscription (contract) feature block of the observation table (Ibis on DuckDB).

Definitions (``d0 = as_of - 1 day``; a row covers day ``d`` when
``start_date <= d < end_date``, ``end_date`` NaT = still running; only rows
with ``start_date < as_of`` are looked at):

* **current rows**: the rows covering ``d0``; when none does (the account is
  inside a grace gap) the rows with the latest ``end_date`` before ``as_of``
  (the contract that just lapsed), never the row that closes the gap later.
* ``mrr``, ``seats``: sums over the current rows; ``arr = 12 * mrr``.
* ``plan``, ``billing_period_months``: of the top current row: plan lines first
  (``line_kind`` other than ``addon``; an add-on line wins only when no current
  row is a plan line), then latest ``start_date``, then highest ``mrr``, then
  largest ``subscription_id``. ``line_kind`` missing = every line is a plan.
* ``mrr_change_90d = mrr - MRR on (d0 - 90 days)``; NaN when no row covered
  that day (new account or grace gap then).
* ``tenure_days``: days from the earliest ``start_date`` to ``as_of``.
* ``renewal_date``: the earliest renewal on or after ``as_of`` of a covering
  row: its ``end_date``, or for a running row (``end_date`` NaT) the next
  anniversary ``start_date + k * billing_period_months`` months ``>= as_of``.
  NaT inside a grace gap. The ``end_date`` of a running contract row is taken
  as known at ``as_of`` (the term end); ``renewal_date`` and
  ``days_to_renewal`` are metadata, never model features.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

_FAR_FUTURE = ibis.timestamp("2262-01-01 00:00:00")


def _covers(table: ir.Table, day: ir.TimestampValue) -> ir.BooleanValue:
    return (table.start_date <= day) & (table.end_date.isnull() | (table.end_date > day))


def contract_block(spine: ir.Table, subscriptions: ir.Table) -> ir.Table:
    """Current contract, MRR change, tenure and renewal date per ``(account_id, as_of)``."""
    keys = spine.select("account_id", "as_of")
    j = keys.join(
        subscriptions,
        [keys.account_id == subscriptions.account_id, subscriptions.start_date < keys.as_of],
    )
    d0 = j.as_of - ibis.interval(days=1)
    d90 = j.as_of - ibis.interval(days=91)
    eff_end = j.end_date.fill_null(_FAR_FUTURE)
    group = [j.account_id, j.as_of]
    covers = _covers(j, d0)
    j = j.mutate(
        _covers=covers,
        _covers90=_covers(j, d90),
        _has_cover=covers.cast("int64").max().over(group_by=group),
        _last_end=eff_end.max().over(group_by=group),
        _eff_end=eff_end,
    )
    current = j._covers | ((j._has_cover == 0) & (j._eff_end == j._last_end))
    bpm = j.billing_period_months.fill_null(1).cast("int64")
    months = (j.as_of.year() - j.start_date.year()) * 12 + (j.as_of.month() - j.start_date.month())
    k = ((months + bpm - 1) // bpm) * bpm
    anniversary = j.start_date + k.as_interval("M")
    anniversary = ibis.ifelse(
        anniversary < j.as_of, j.start_date + (k + bpm).as_interval("M"), anniversary
    )
    row_renewal = ibis.ifelse(j.end_date.isnull(), anniversary, j.end_date)
    is_plan = j.line_kind.cast("string").fill_null("plan").lower() != "addon"
    j = j.mutate(
        _current=current,
        _row_renewal=row_renewal,
        _rank=ibis.row_number().over(
            group_by=[j.account_id, j.as_of],
            order_by=[
                ibis.desc(current),
                ibis.desc(is_plan),
                ibis.desc(j.start_date),
                ibis.desc(j.mrr),
                ibis.desc(j.subscription_id),
            ],
        ),
    )
    agg = j.group_by(["account_id", "as_of"]).aggregate(
        mrr=j.mrr.sum(where=j._current).cast("float64"),
        seats=j.seats.sum(where=j._current).cast("float64"),
        _mrr90=j.mrr.sum(where=j._covers90).cast("float64"),
        _n90=j._covers90.sum(),
        plan=j.plan.max(where=j._rank == 0),
        billing_period_months=j.billing_period_months.max(where=j._rank == 0).cast("float64"),
        _first_start=j.start_date.min(),
        renewal_date=j._row_renewal.min(where=j._covers),
    )
    return agg.mutate(
        arr=agg.mrr * 12,
        mrr_change_90d=ibis.ifelse(agg._n90 > 0, agg.mrr - agg._mrr90, ibis.null("float64")),
        tenure_days=agg.as_of.delta(agg._first_start, unit="day").cast("float64"),
        days_to_renewal=agg.renewal_date.delta(agg.as_of, unit="day"),
        first_start=agg._first_start,
    ).drop("_mrr90", "_n90", "_first_start")
