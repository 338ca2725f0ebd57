"""Leakage-safe as-of features: the observation table (Ibis expressions on DuckDB or Spark).

:func:`build_observation_table` adds features to a spine of
``(account_id, as_of)`` rows (from :mod:`churnlab.observations.labels`). Every feature of a
row is computed only from data strictly before its ``as_of``: events with
``timestamp < as_of`` and subscription rows with ``start_date < as_of`` (the
current contract is the one covering ``as_of - 1 day``). Every ``as_of`` must
be a midnight (a date); windows are whole calendar days. The work runs as a
few queries built with Ibis (on DuckDB or Spark): small ones (the distinct ``as_of`` days and
event types, the event and account counts), the event block's stages (temporary
tables, see :mod:`churnlab.observations._engine.events`) and the final query: no Python
loop touches rows or accounts. How the windows avoid joining events to observations: see
:mod:`churnlab.observations._engine.events`.

Feature definitions (``w`` in ``windows``; window ``[as_of - w days, as_of)``):

* ``<type>_<w>d``: event counts per type (``logins_28d``, ``feature_reports_90d``,
  ``tickets_opened_90d`` ...); ``<type>_trend_<w>d`` and
  ``active_users_trend_<w>d`` = ``(last - previous) / (previous + 1)`` with the
  previous window ``[as_of - 2w, as_of - w)``, for ``w`` in ``trend_windows``.
* ``active_users_<w>d``: distinct non-null ``user_id`` with a ``login``;
  ``seat_utilisation_<w>d = active_users_<w>d / seats`` (NaN when seats is 0).
* ``adoption_breadth_<w>d``: distinct ``feature_*`` event types used.
* ``days_since_last_login``: calendar days since the last login (NaN if none;
  LightGBM takes NaN, the baseline imputes).
* ``onboarding_completed`` (0/1), ``days_to_onboard`` and
  ``time_to_value_days`` (days from the first subscription start to the first
  ``onboarding_completed`` / ``first_value`` event, NaN when not reached yet).
* ``open_ticket_backlog`` = tickets opened - tickets resolved before ``as_of``;
  ``median_resolution_days_<W>d`` over the largest window ``W``.
* ``last_nps`` and ``nps_category`` (``detractor`` 0-6, ``passive`` 7-8,
  ``promoter`` 9-10, ``none``); ``days_since_last_csm_touch`` (csm_meeting,
  qbr, webinar; NaN if none).
* Contract features (``mrr``, ``arr``, ``seats``, ``plan``,
  ``billing_period_months``, ``mrr_change_90d``, ``tenure_days``,
  ``renewal_date``, ``days_to_renewal``): see :mod:`churnlab.observations._engine.contract`.
* ``touch_tier``: by :func:`churnlab.vocabulary.tier_rule` (``high_touch`` when
  ``arr >= high``, ``low_touch`` when ``arr >= low``, else ``tech_touch``; missing
  when the account has no current contract).
* ratio metrics ``{name: (numerator, denominator)}``, NaN when the
  denominator is 0 or missing.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from churnlab.errors import DataError
from churnlab.observations._engine.backend import Engine, default_duckdb_settings, engine_for
from churnlab.observations._engine.contract import contract_block
from churnlab.observations._engine.events import day_number, event_block, finish_window_columns
from churnlab.observations.schema import CONTRACT_COLUMNS, STATIC_COLUMNS
from churnlab.vocabulary import LOWEST_TIER, tier_rule

__all__ = ["DUCKDB_CONFIG", "build_observation_table"]


# event columns placed after the window features (the column order of the output table)
_LATE_COLUMNS = (
    "days_since_last_login",
    "tickets_opened_total",
    "tickets_resolved_total",
    "onboarded_day",
    "first_value_day",
    "last_csm_touch_day",
    "last_nps",
)

TableLike = pd.DataFrame | ir.Table


# settings of the DuckDB connection the engine opens when none is given (features.duckdb
# overrides them in a run): bounded memory (min(6 GB, 40 % of the RAM)), spilling under the
# system temp directory, no insertion-order bookkeeping (the result is sorted in the query)
DUCKDB_CONFIG = default_duckdb_settings()


def _backend(con: object, tables: Sequence[TableLike]) -> object:
    if con is not None:
        return con
    for t in tables:
        if isinstance(t, ir.Table):
            try:
                return t._find_backend()
            except Exception:  # noqa: BLE001 - an unbound memtable has no backend
                continue
    return ibis.duckdb.connect(**DUCKDB_CONFIG)


def _table(
    obj: TableLike, name: str, required: Sequence[str], optional: Mapping[str, str]
) -> ir.Table:
    """An Ibis table with the required columns and typed nulls for missing optional ones."""
    table = obj if isinstance(obj, ir.Table) else ibis.memtable(obj)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DataError(
            name, missing[0], "is required but missing", hint=f"columns: {list(table.columns)}"
        )
    fills = {c: ibis.null(t) for c, t in optional.items() if c not in table.columns}
    # an empty pandas column of objects has no type: the staged tables need one
    fills |= {
        c: table[c].cast("string")
        for c in ("account_id", "event_type", "user_id")
        if c in table.columns and table[c].type().is_null()
    }
    return table.mutate(**fills) if fills else table


def _timestamps(table: ir.Table, columns: Sequence[str]) -> ir.Table:
    return table.mutate(**{c: table[c].cast("timestamp") for c in columns})


def build_observation_table(
    accounts: TableLike,
    subscriptions: TableLike,
    events: TableLike,
    spine: TableLike,
    *,
    windows: Sequence[int] = (7, 28, 90),
    event_types: Sequence[str] | None = None,
    ratios: Mapping[str, Sequence[str]] | None = None,
    touch_thresholds: tuple[float, float] = (12000, 60000),
    trend_windows: Sequence[int] = (28,),
    con: object | None = None,
    notes: list[str] | None = None,
) -> pd.DataFrame:
    """Spine rows plus their as-of features, one row per ``(account_id, as_of)``.

    Parameters
    ----------
    accounts, subscriptions, events : pandas.DataFrame or ibis.Table
        The input tables (``docs/architecture.md``, "Input tables"). Ibis tables may
        read Parquet in place (``con.read_parquet``); pandas frames are
        registered as in-memory tables. Inputs are never modified.
    spine : pandas.DataFrame or ibis.Table
        ``account_id``, ``as_of`` and any pass-through columns (``checkpoint``,
        ``label``, ``churn_date``), e.g. from :func:`churnlab.observations.make_observations`.
    windows : sequence of int
        Window lengths in days for counts, active users and adoption breadth.
    event_types : sequence of str, optional
        Event types to count; ``None`` = every type present in ``events``.
    ratios : mapping, optional
        ``{name: (numerator, denominator)}`` over output columns, e.g.
        ``{"logins_per_seat_28d": ("logins_28d", "seats")}``. A ratio naming a column
        the table does not have (no login events, no such window) raises a
        ``DataError``, or, when ``notes`` is given, is left out with a note.
    touch_thresholds : (float, float)
        ``(low_touch_min_arr, high_touch_min_arr)``.
    trend_windows : sequence of int
        Windows with a trend column (last window vs the one before).
    con : ibis backend (DuckDB or PySpark), optional
        Where to run; default: the backend of an Ibis input, else a new
        in-memory DuckDB with :data:`DUCKDB_CONFIG` (at most 2 threads, memory
        limit min(6 GB, 40 % of the RAM), spilling under the system temp
        directory, no insertion order). With ``ibis.pyspark.connect(spark)`` the
        same definitions run on Spark (``_engine/backend.py`` holds what differs).
        The event block's intermediate results (account ids, per-bucket
        counts, sparse events, user presence, running values) are staged there
        (DuckDB: temporary tables; Spark: persisted DataFrames under temporary
        views) named ``_churnlab_stage_<hex>`` and dropped before this returns,
        also when it fails.
    notes : list of str, optional
        Collects what was left out (ratios whose columns the data does not give).

    Returns
    -------
    pandas.DataFrame
        Spine columns first, then the contract columns, ``touch_tier``, the
        static attributes and the features (float64), sorted by
        ``(as_of, account_id)``.
    """
    windows = sorted({int(w) for w in windows})
    trend_windows = sorted({int(w) for w in trend_windows})
    if not windows or min(windows) <= 0 or any(w <= 0 for w in trend_windows):
        raise ValueError(f"windows must be positive day counts, got {windows} / {trend_windows}")
    low, high = touch_thresholds
    backend = _backend(con, [accounts, subscriptions, events, spine])
    engine = engine_for(backend)

    acc = _table(
        accounts, "accounts", ["account_id"], {c: "string" for c in (*STATIC_COLUMNS, "plan")}
    )
    subs = _table(
        subscriptions,
        "subscriptions",
        ["account_id", "start_date", "end_date", "mrr"],
        {
            "subscription_id": "string",
            "plan": "string",
            "seats": "float64",
            "billing_period_months": "int64",
            "line_kind": "string",  # plan / addon; missing = every line is a plan
        },
    )
    subs = _timestamps(subs, ["start_date", "end_date"]).mutate(
        subscription_id=subs.subscription_id.cast("string")
    )
    ev = _timestamps(
        _table(
            events,
            "events",
            ["account_id", "timestamp", "event_type"],
            {"value": "float64", "user_id": "string"},
        ),
        ["timestamp"],
    )
    ev = ev.select(
        "account_id", "timestamp", "event_type", value=ev.value.cast("float64"), user_id=ev.user_id
    )
    sp = _table(spine, "spine", ["account_id", "as_of"], {})
    sp = _timestamps(sp, ["as_of"])
    present = backend.to_pyarrow(ev.select("event_type").distinct().drop_null())
    all_event_types = sorted(present.column("event_type").to_pylist())
    if event_types is None:
        event_types = all_event_types
    event_types = list(dict.fromkeys(event_types))

    keys = sp.select("account_id", "as_of").distinct()
    as_of_days = _as_of_days(backend, sp)
    # the busiest account's event count sizes the packed counts: counted exactly (a
    # GROUP BY account_id, small groups), because a guess (4x the mean) was too small for
    # real logs, whose busiest accounts have far more than 4x the mean, and the counts
    # then had to be built twice (about 20 s at 100k accounts); the engine still checks
    busiest = ev.group_by("account_id").aggregate(n=ev.count()).n.max()
    guess = max(1, int(backend.execute(busiest) or 0))
    # the event block's intermediate tables live as temporary tables until the fetch
    with _Stages(engine) as stages:
        # a backend that recomputes a shared part of a query at every use (Spark inlines
        # common table expressions) gets those parts staged; DuckDB computes them once
        reuse = stages if engine.stage_shared else _as_is
        keys = reuse(keys)
        if not isinstance(events, ir.Table):
            # events given as a pandas frame: on Spark an in-memory table is one partition
            # held in the query plan and sent to every step that scans it; staged once it
            # is read like any cached table
            ev = reuse(ev)
        events_table = event_block(
            keys,
            ev,
            windows=windows,
            trend_windows=trend_windows,
            event_types=event_types,
            as_of_days=as_of_days,
            max_events_per_account=guess,
            all_event_types=all_event_types,
            stage=stages,
            execute=engine.execute,
            release=stages.drop,
            last_before=engine.last_before,
            packed=engine.packed,
            reuse=reuse,
        )
        win = finish_window_columns(
            events_table, windows=windows, trend_windows=trend_windows, event_types=event_types
        )
        win = win.select(*[c for c in win.columns if c not in _LATE_COLUMNS], *_LATE_COLUMNS)
        table = sp
        for block in (reuse(contract_block(keys, subs)), reuse(win)):
            table = _attach(table, block, ["account_id", "as_of"])
        static = acc.select("account_id", *STATIC_COLUMNS, account_plan=acc.plan)
        table = _attach(table, static, ["account_id"])
        table = _derived(
            table, windows=windows, low=low, high=high, ratios=ratios or {}, notes=notes
        )
        # column order and the (as_of, account_id) sort in the query: the pandas side then
        # only checks them instead of copying the wide result twice
        order = _column_order(list(table.columns), spine_columns=list(sp.columns))
        # float64 in the query: a cast in pandas copies every one of the ~100 columns
        floats = set(_float_columns(order, spine_columns=list(sp.columns)))
        table = table.select(
            *[
                table[c].cast("float64").name(c)
                if c in floats and (table[c].type().is_numeric() or table[c].type().is_boolean())
                else table[c]
                for c in order
            ]
        )
        # via Arrow: Ibis' execute() turns every column holding a null into Python objects
        # the spine's other columns break ties: an account may have two observations on
        # one day (a month end that is also a renewal checkpoint); their order is fixed
        tie_breaks = [c for c in sp.columns if c not in ("as_of", "account_id")]
        result = engine.fetch(table.order_by(["as_of", "account_id", *tie_breaks]))
    # self_destruct: Arrow columns are freed as they are converted
    df = result.to_pandas(
        date_as_object=False, coerce_temporal_nanoseconds=True, self_destruct=True
    )
    del result
    return _tidy(df, spine_columns=list(sp.columns), event_types=event_types)


def _as_is(table: ir.Table) -> ir.Table:
    return table


class _Stages:
    """Materialise intermediate tables on the engine's backend (``Engine.stage``); drop them on exit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.names: list[str] = []

    def __call__(self, table: ir.Table) -> ir.Table:
        name = self.engine.new_name()
        self.names.append(name)
        return self.engine.stage(name, table)

    def __enter__(self) -> _Stages:
        return self

    def drop(self, table: ir.Table) -> None:
        """Drop one staged table early (its memory is needed by the next stages)."""
        name = table.get_name()
        if name in self.names:
            self.names.remove(name)
            self.engine.drop(name)

    def __exit__(self, *exc: object) -> None:
        # every table is dropped even if one drop fails; a failure of the build itself
        # is not replaced by a failure of the clean-up
        failed = []
        while self.names:
            name = self.names.pop()
            try:
                self.engine.drop(name)
            except Exception as err:  # noqa: BLE001 - reported below, after the others
                failed.append(f"{name}: {err}")
        if failed:
            warnings.warn(
                "could not drop temporary tables: " + "; ".join(failed), RuntimeWarning, 2
            )


def _as_of_days(backend: object, spine: ir.Table) -> np.ndarray:
    """Distinct ``as_of`` day numbers; every ``as_of`` must be a midnight."""
    days = spine.select(
        day=day_number(spine.as_of), midnight=spine.as_of == spine.as_of.truncate("D")
    )
    found = backend.execute(days.group_by("day").aggregate(ok=days.midnight.min()))
    bad = found[~found["ok"].fillna(True).astype(bool)]
    if len(bad):
        raise DataError(
            "spine",
            "as_of",
            "must be a date (midnight): features use whole calendar days",
            count=len(bad),
            hint="normalise as_of to midnight (e.g. Series.dt.normalize())",
        )
    return (
        np.sort(found["day"].dropna().to_numpy(dtype="int64"))
        if len(found)
        else np.zeros(1, "int64")
    )


def _attach(left: ir.Table, right: ir.Table, keys: Sequence[str]) -> ir.Table:
    """Left join keeping the left keys once and every other column of ``right``."""
    joined = left.left_join(right, list(keys))
    return joined.select(
        *[left[c] for c in left.columns], *[right[c] for c in right.columns if c not in keys]
    )


def _derived(
    t: ir.Table,
    *,
    windows: Sequence[int],
    low: float,
    high: float,
    ratios: Mapping[str, Sequence[str]],
    notes: list[str] | None = None,
) -> ir.Table:
    onboarded = t.onboarded_day.notnull()
    first_start = day_number(t.first_start)
    t = t.mutate(
        plan=t.plan.fill_null(t.account_plan),
        touch_tier=ibis.cases(
            *[(t.arr >= minimum, tier) for tier, minimum in tier_rule((low, high))],
            (t.arr.notnull(), LOWEST_TIER),
        ),
        onboarding_completed=onboarded.cast("float64"),
        days_to_onboard=(t.onboarded_day - first_start).cast("float64"),
        time_to_value_days=(t.first_value_day - first_start).cast("float64"),
        open_ticket_backlog=(
            t.tickets_opened_total.fill_null(0) - t.tickets_resolved_total.fill_null(0)
        ).cast("float64"),
        nps_category=ibis.cases(
            (t.last_nps >= 9, "promoter"),
            (t.last_nps >= 7, "passive"),
            (t.last_nps.notnull(), "detractor"),
            else_="none",
        ),
        days_since_last_csm_touch=(day_number(t.as_of) - t.last_csm_touch_day).cast("float64"),
        **{f"seat_utilisation_{w}d": t[f"active_users_{w}d"] / t.seats.nullif(0) for w in windows},
    )
    missing = {name: [c for c in parts if c not in t.columns] for name, parts in ratios.items()}
    missing = {name: cols for name, cols in missing.items() if cols}
    for name, cols in missing.items():
        text = (
            f"the ratio {name} is left out: the data gives no column {' or '.join(cols)} "
            f"(features.ratios.{name} = {list(ratios[name])})"
        )
        if notes is None:
            raise DataError(
                "features.ratios",
                name,
                f"refers to {', '.join(cols)}, which the observation table does not have",
                hint="remove the ratio in an overlay (features: {ratios: {"
                f"{name}: null}}}}) or check the event types and windows of the data",
            )
        notes.append(text[0].upper() + text[1:] + ".")
    ratios = {name: parts for name, parts in ratios.items() if name not in missing}
    if ratios:
        t = t.mutate(
            **{
                n: t[a].cast("float64") / t[b].cast("float64").nullif(0)
                for n, (a, b) in ratios.items()
            }
        )
    helpers = [
        "account_plan", "onboarded_day", "first_value_day", "last_csm_touch_day",
        "tickets_opened_total", "tickets_resolved_total", "first_start",
    ]  # fmt: skip
    return t.drop(*helpers)


def _column_order(columns: list[str], *, spine_columns: list[str]) -> list[str]:
    """Spine, contract, tier and static columns, then numeric features, then categorical ones."""
    front = [*spine_columns, *[c for c in CONTRACT_COLUMNS if c not in spine_columns]]
    front += ["touch_tier", *STATIC_COLUMNS]
    rest = [c for c in columns if c not in front]
    categorical = ["nps_category"]
    return front + [c for c in rest if c not in categorical] + categorical


def _float_columns(order: list[str], *, spine_columns: list[str]) -> list[str]:
    """The contract amounts and every numeric feature: float64 in the observation table."""
    front = _column_order([], spine_columns=spine_columns)[:-1]
    numeric = [c for c in order if c not in front and c != "nps_category"]
    return ["mrr", "arr", "seats", "billing_period_months", *numeric]


def _tidy(
    df: pd.DataFrame, *, spine_columns: list[str], event_types: Sequence[str]
) -> pd.DataFrame:
    """Column order, dtypes and the (as_of, account_id) sort (no copy when already right)."""
    order = _column_order(list(df.columns), spine_columns=spine_columns)
    if list(df.columns) != order:
        df = df[order]
    dtypes: dict[str, str] = dict.fromkeys(
        _float_columns(order, spine_columns=spine_columns), "float64"
    )
    dtypes.update(
        {c: "datetime64[ns]" for c in ("as_of", "renewal_date", "churn_date") if c in df.columns}
    )
    dtypes["days_to_renewal"] = "Int64"
    if "label" in df.columns:
        dtypes["label"] = "Int64"
    # other date / timestamp columns passed through from the spine: datetime64[ns] as well
    for c in spine_columns:
        if c not in dtypes and (
            pd.api.types.is_datetime64_any_dtype(df[c].dtype) and df[c].dt.tz is None
        ):
            dtypes[c] = "datetime64[ns]"
    changed = {c: t for c, t in dtypes.items() if str(df[c].dtype) != t}
    for c, t in changed.items():  # column by column: DataFrame.astype copies every column
        df[c] = df[c].astype(t)
    as_of = df["as_of"].to_numpy()
    ids = df["account_id"].to_numpy()
    in_order = (as_of[1:] > as_of[:-1]) | ((as_of[1:] == as_of[:-1]) & (ids[1:] >= ids[:-1]))
    if not in_order.all():
        df = df.sort_values(["as_of", "account_id"], kind="mergesort")
    if not df.index.equals(pd.RangeIndex(len(df))):
        df = df.reset_index(drop=True)  # a copy of the wide frame: only when needed
    return df
