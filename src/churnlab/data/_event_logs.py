"""Loading and validating the event-log shape: accounts, subscriptions, events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from churnlab.messages import message

from ._checks import Checks, exclude, flag
from ._health import DataHealth, TableHealth
from ._io import as_id, blank, load_table
from ._lines import line_kinds, mark_addons

__all__ = ["REQUIRED_COLUMNS", "EventLogData", "load_event_logs"]

#: Columns every table must have (after column mapping). ``accounts.name`` is optional:
#: without it the account ids stand in for names (a note in the data health says so).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id",),
    "subscriptions": ("account_id", "start_date", "end_date", "mrr"),
    "events": ("account_id", "timestamp", "event_type"),
}
_NPS = "nps_response"
#: The events table of the subscriptions' cross checks when the events are on a backend.
_NO_EVENTS = pd.DataFrame(
    {c: pd.Series(dtype="datetime64[ns]" if c == "timestamp" else object) for c in
     ("account_id", "timestamp", "event_type")}
)  # fmt: skip


@dataclass(frozen=True)
class EventLogData:
    """Validated input tables, typed as ``docs/architecture.md``, "Input tables".

    Dates are tz-naive ``datetime64[ns]`` (UTC); ids are strings (a categorical column
    stays categorical, with string categories); ``mrr`` and event ``value`` are float,
    ``seats`` and ``billing_period_months`` int64. Each frame has a fresh RangeIndex.
    ``accounts.name`` is absent when the export has none. ``subscriptions.line_kind``
    (``plan`` / ``addon``) is present when the export has it or add-on lines were
    derived (see :func:`churnlab.data._lines.addon_plans`); absent = every line is a plan.
    """

    accounts: pd.DataFrame
    subscriptions: pd.DataFrame
    events: pd.DataFrame
    #: With ``events_con``: how to read the validated events on another backend (the
    #: features engine's), their types, count and date range; ``events`` is then an
    #: Ibis table on ``events_con``.
    events_source: Any = None


def load_event_logs(
    accounts_path: str | Path,
    subscriptions_path: str | Path,
    events_path: str | Path,
    *,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    data_end: str | None = None,
    fmt: str | None = None,
    duplicate_events: Literal["exclude", "keep"] = "exclude",
    events_con: Any = None,
) -> tuple[EventLogData, DataHealth]:
    """Load, type and validate the accounts, subscriptions and events tables.

    Parameters
    ----------
    accounts_path, subscriptions_path, events_path : str or Path
        CSV or Parquet files.
    columns : mapping, optional
        Per table (``accounts``, ``subscriptions``, ``events``) a mapping
        ``churnlab_name -> column name in the file``.
    data_end : str, optional
        Last day the data describes (ISO date). Events after it are excluded and
        subscriptions starting after it are flagged; ``None`` skips these checks.
    fmt : {"csv", "parquet"}, optional
        File format of all three files; ``None`` infers it from each suffix.
    duplicate_events : {"exclude", "keep"}
        Events that are exact copies of an earlier row (same account, time, type, value
        and user: an export appended twice) are counted and excluded, or counted and kept.
    events_con : Ibis backend, optional
        Check the events where they lie, on this backend (e.g. ``ibis.duckdb.connect()``):
        the events file is read by the backend, never by pandas, and
        ``EventLogData.events`` is an Ibis table on it (see
        :mod:`churnlab.data._event_scan`). ``None``: read with pandas.

    Returns
    -------
    (EventLogData, DataHealth)

    Raises
    ------
    DataError
        A rule of the data contract is broken: a table has no rows, a required column
        is missing, dates do not parse, ``account_id`` is empty or duplicated, a
        subscription ends on or before its start, ``line_kind`` is neither ``plan`` nor
        ``addon``, an NPS value lies outside 0-10, numbers do not parse. The first
        problem is raised (the message names file, column, rule, rows and count; the
        others are listed in the hint); ``err.health.errors`` holds all of them.

    Notes
    -----
    Account ids are text in every table: a CSV id column is read as text (``000123``
    stays ``000123``), integer ids become their decimal text and whole-number float
    ids lose their ``.0``, so ids typed differently across files still match. Values
    with a time-zone offset are converted to UTC (tz-naive). Without a ``line_kind``
    column, add-on lines are derived from the ``plan`` column (a note names them).

    Warns
    -----
    DataWarning
        For rows excluded (negative MRR, unknown accounts, events after ``data_end``,
        exact copies of an earlier event)
        or kept but suspicious (overlapping subscriptions of the same plan line,
        subscriptions starting after ``data_end``); all are counted in the DataHealth.
    """
    columns = columns or {}
    paths = {"accounts": accounts_path, "subscriptions": subscriptions_path, "events": events_path}
    files = {k: str(v) for k, v in paths.items()}
    on_engine = events_con is not None
    raw = {
        k: load_table(
            p, fmt=fmt, columns=columns.get(k) or {}, name=k, text_columns=("account_id",)
        )
        for k, p in paths.items()
        if not (on_engine and k == "events")
    }
    health = DataHealth()
    checks = Checks(health)
    for k, table in raw.items():
        checks.has_rows(table, file=files[k], name=k)
    if on_engine:
        from . import _event_scan as scan

        raw_events = scan.read_events(
            events_con, events_path, fmt=fmt, columns=columns.get("events") or {}
        )
        rows_read = scan.count_rows(raw_events, file=files["events"], checks=checks)
    checks.raise_if_any()
    accounts = _accounts(raw["accounts"], files["accounts"], checks)
    subs = _subscriptions(raw["subscriptions"], files["subscriptions"], checks)
    if on_engine:
        typed = scan.scan_events(raw_events, file=files["events"], checks=checks, fmt=fmt)
    else:
        events = _events(raw["events"], files["events"], checks)
    checks.raise_if_any()

    end = pd.Timestamp(data_end) + pd.Timedelta(days=1) if data_end else None
    source = None
    if on_engine:  # the subscriptions' cross checks here, the events' on the backend
        subs, _ = _cross_checks(health, accounts, subs, _NO_EVENTS, files, end)
        typed, whole = typed
        source = scan.EventSource(
            files["events"], fmt, dict(columns.get("events") or {}), whole,
            tuple(accounts["account_id"].astype(str)), end, duplicate_events,
        )  # fmt: skip
        found = scan.finish_events(typed, source=source, health=health, rows_read=rows_read)
        events = found.table
    else:
        subs, events = _cross_checks(health, accounts, subs, events, files, end)
        events = _duplicates(health, events, files["events"], keep=duplicate_events == "keep")
    subs = mark_addons(health, subs)
    accounts = _fill_signup(health, accounts, subs, files["accounts"])
    if end is not None:
        flag(
            health,
            accounts,
            accounts["signup_date"] >= end,
            name="accounts",
            file=files["accounts"],
            column="signup_date",
            reason="signed up after data_end",
            show=["account_id"],
        )
    out = {"accounts": accounts, "subscriptions": subs, "events": events}
    date_cols = {"accounts": "signup_date", "subscriptions": "start_date", "events": "timestamp"}
    for k, frame in out.items():
        if k == "events" and source is not None:
            continue  # counted on the backend (finish_events)
        dates = frame[date_cols[k]]
        health.tables[k] = TableHealth(
            files[k], len(raw[k]), len(frame), date_cols[k], dates.min(), dates.max()
        )
    if source is not None:
        health.tables = {k: health.tables[k] for k in out}
        data = EventLogData(
            accounts.reset_index(drop=True), subs.reset_index(drop=True), events, source
        )
        return data, health
    data = EventLogData(*(frame.reset_index(drop=True) for frame in out.values()))
    return data, health


def _accounts(raw: pd.DataFrame, file: str, checks: Checks) -> pd.DataFrame:
    out = raw.copy()
    if not checks.require(raw, REQUIRED_COLUMNS["accounts"], file=file, name="accounts"):
        return out
    out["account_id"] = ids = checks.ids(raw, "account_id", file=file, shown=raw)
    checks.rule(
        raw,
        ids.notna() & ids.duplicated(keep=False),
        file=file,
        column="account_id",
        rule="must be unique (one row per account)",
        hint="keep one row per account: de-duplicate the accounts export",
        show=["name"],
    )
    if "name" in raw:
        out["name"] = raw["name"].astype("string").astype(object).where(raw["name"].notna(), None)
    else:
        checks.health.note(message("messages.data.no_name_column"))
    if "signup_date" in raw:
        out["signup_date"] = checks.dates(
            raw, "signup_date", file=file, required=False, shown=raw, name="accounts"
        )
    return out


def _subscriptions(raw: pd.DataFrame, file: str, checks: Checks) -> pd.DataFrame:
    out = raw.copy()
    if not checks.require(raw, REQUIRED_COLUMNS["subscriptions"], file=file, name="subscriptions"):
        return out
    out["account_id"] = checks.ids(raw, "account_id", file=file, shown=raw)
    if "subscription_id" in raw:
        sid = as_id(raw["subscription_id"])
        checks.rule(
            raw,
            sid.isna() | sid.duplicated(keep=False),
            file=file,
            column="subscription_id",
            rule="must be unique and not empty",
            hint="give every subscription row its own id, or drop the column (ids are made)",
            show=["account_id"],
        )
        out["subscription_id"] = sid
    else:
        out.insert(0, "subscription_id", [f"S{i + 1:07d}" for i in range(len(raw))])
    kw = {"file": file, "shown": raw, "name": "subscriptions"}
    start = checks.dates(raw, "start_date", required=True, **kw)
    end = checks.dates(raw, "end_date", required=False, **kw)
    out["start_date"], out["end_date"] = start, end
    checks.rule(
        raw,
        end.notna() & start.notna() & (end <= start),
        file=file,
        column="end_date",
        rule="must be after start_date (end is exclusive)",
        hint="a monthly row 2026-01-01 -> 2026-02-01 covers January; fix or remove these rows",
        show=["subscription_id", "account_id", "start_date"],
    )
    out["mrr"] = checks.numbers(raw, "mrr", file=file, shown=raw)
    for col in ("seats", "billing_period_months"):
        if col in raw:
            values = checks.numbers(raw, col, file=file, shown=raw, whole=True)
            out[col] = values.fillna(0).astype("int64")
    if "billing_period_months" in raw:
        checks.rule(
            raw,
            out["billing_period_months"] < 1,
            file=file,
            column="billing_period_months",
            rule="must be at least 1 (1 = monthly, 12 = annual)",
            hint="use the contract's billing period in months",
        )
    if "line_kind" in raw and blank(raw["line_kind"]).all():
        # an empty optional column is no column: the add-ons are derived
        out = out.drop(columns="line_kind")
        checks.health.note(message("messages.data.line_kind_empty"))
    elif "line_kind" in raw:
        out["line_kind"] = line_kinds(raw, file, checks)
    return out


def _events(raw: pd.DataFrame, file: str, checks: Checks) -> pd.DataFrame:
    # a shallow copy: every checked column is replaced, never written into (the event log
    # is the largest table; a deep copy doubled it)
    out = raw.copy(deep=False)
    if not checks.require(raw, REQUIRED_COLUMNS["events"], file=file, name="events"):
        return out
    out["account_id"] = checks.ids(raw, "account_id", file=file, shown=raw)
    out["timestamp"] = checks.dates(
        raw, "timestamp", file=file, required=True, shown=raw, name="events"
    )
    event_type = as_id(raw["event_type"])
    checks.rule(
        raw,
        event_type.isna(),
        file=file,
        column="event_type",
        rule="must not be empty",
        hint="every event needs a type (login, feature_<name>, nps_response, ...)",
    )
    out["event_type"] = event_type
    if "value" in raw:
        out["value"] = checks.numbers(raw, "value", file=file, shown=raw, required=False)
    else:
        out["value"] = np.nan
    nps = (event_type == _NPS).to_numpy()
    value = out["value"]
    checks.rule(
        raw,
        pd.Series(nps, index=raw.index) & ~value.between(0, 10),
        file=file,
        column="value",
        rule=f"must be an NPS score 0-10 for {_NPS} events",
        hint="NPS answers are whole numbers from 0 (detractor) to 10 (promoter)",
        show=["account_id", "event_type"],
    )
    out["user_id"] = as_id(raw["user_id"]) if "user_id" in raw else None
    return out


def _cross_checks(
    health: DataHealth,
    accounts: pd.DataFrame,
    subs: pd.DataFrame,
    events: pd.DataFrame,
    files: dict[str, str],
    end: pd.Timestamp | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    known = pd.Index(accounts["account_id"])
    sub_kw = {"name": "subscriptions", "file": files["subscriptions"]}
    ev_kw = {"name": "events", "file": files["events"]}
    subs = exclude(
        health,
        subs,
        subs["mrr"] < 0,
        column="mrr",
        reason="with negative MRR",
        show=["account_id", "start_date"],
        **sub_kw,
    )
    subs = exclude(
        health,
        subs,
        ~subs["account_id"].isin(known),
        column="account_id",
        reason="of accounts not in the accounts table",
        **sub_kw,
    )
    unknown = ~np.asarray(events["account_id"].isin(known))
    events = exclude(
        health,
        events,
        pd.Series(unknown, index=events.index),
        column="account_id",
        reason="of accounts not in the accounts table",
        show=["event_type"],
        **ev_kw,
    )
    if end is not None:
        events = exclude(
            health,
            events,
            events["timestamp"] >= end,
            column="timestamp",
            reason="after data_end",
            show=["account_id", "event_type"],
            **ev_kw,
        )
        flag(
            health,
            subs,
            subs["start_date"] >= end,
            column="start_date",
            reason="starting after data_end",
            show=["account_id"],
            **sub_kw,
        )
    flag(
        health,
        subs,
        overlapping(subs),
        column="start_date",
        reason="overlapping an earlier row of the same plan line",
        show=["account_id", "plan", "end_date"],
        **sub_kw,
    )
    return subs, events


def _duplicates(health: DataHealth, events: pd.DataFrame, file: str, *, keep: bool) -> pd.DataFrame:
    """Count the events that repeat an earlier row exactly; exclude them unless ``keep``."""
    copies = exact_copies(events)
    where = {
        "name": "events",
        "file": file,
        "column": "timestamp",
        "reason": "exact copies of an earlier row",
        "show": ["account_id", "event_type"],
    }
    if keep:
        flag(health, events, copies, **where)  # type: ignore[arg-type]
        return events
    return exclude(health, events, copies, **where)  # type: ignore[arg-type]


def exact_copies(table: pd.DataFrame) -> pd.Series:
    """``table.duplicated(keep="first")``, with a fraction of its memory and time on large tables.

    Rows are first reduced to one 64-bit hash each (numbers normalised so that values
    ``duplicated`` takes as equal hash alike: -0.0 and 0.0, every NaN); only rows whose
    hash occurs more than once are compared exactly. Identical rows always share a hash,
    so the result is exactly ``duplicated``'s; a hash collision only adds a candidate. On
    27M events ``duplicated`` itself took 90 s and 3 GB of memory on top of the table
    (it factorises every column and combines the codes).
    """
    if len(table) < 100_000:
        return table.duplicated(keep="first")
    hashes = np.zeros(len(table), dtype="uint64")
    for i, column in enumerate(table.columns):
        values = table[column]
        if pd.api.types.is_float_dtype(values.dtype):
            numbers = values.to_numpy(dtype="float64") + 0.0  # -0.0 + 0.0 is 0.0
            values = pd.Series(np.where(np.isnan(numbers), np.nan, numbers), copy=False)
        elif values.dtype == object and values.isna().any():
            values = values.where(values.notna(), None)  # None, NaN and NA are one missing
        column_hash = pd.util.hash_pandas_object(values, index=False).to_numpy()
        # mix the columns in (multiply-xor with an odd constant per column, as pandas does)
        hashes ^= column_hash * np.uint64(0x9E3779B97F4A7C15 + 2 * i)
        del column_hash
    candidates = pd.Series(hashes).duplicated(keep=False).to_numpy()
    del hashes
    copies = np.zeros(len(table), dtype=bool)
    if candidates.any():
        copies[candidates] = table[candidates].duplicated(keep="first").to_numpy()
    return pd.Series(copies, index=table.index)


def overlapping(subs: pd.DataFrame) -> pd.Series:
    """True for rows that start before an earlier row of the same account and plan ends.

    A row ending on the day the next one starts (renewal, expansion) is not an overlap:
    the end date is exclusive. Without a ``plan`` column all of an account's rows form
    one line.
    """
    keys = ["account_id"] + (["plan"] if "plan" in subs else [])
    order = subs.sort_values([*keys, "start_date", "end_date"], kind="stable")
    end = order["end_date"]
    end_ns = np.where(end.isna(), np.iinfo(np.int64).max, end.to_numpy().view("int64"))
    grouped = [order[k].astype(object) for k in keys]
    reach = pd.Series(end_ns, index=order.index).groupby(grouped, dropna=False).cummax()
    previous = reach.groupby(grouped, dropna=False).shift(fill_value=np.iinfo(np.int64).min)
    start_ns = order["start_date"].to_numpy().view("int64")
    result = pd.Series(start_ns < previous.to_numpy(), index=order.index)
    return result.reindex(subs.index)


def _fill_signup(
    health: DataHealth, accounts: pd.DataFrame, subs: pd.DataFrame, file: str
) -> pd.DataFrame:
    first = subs.groupby("account_id", observed=True)["start_date"].min()
    derived = accounts["account_id"].map(first).astype("datetime64[ns]")
    no_subs = int(derived.isna().sum())
    if no_subs:
        health.flag("accounts", "without any subscription", no_subs)
    if "signup_date" not in accounts:
        health.note(message("messages.data.signup_derived"))
        return accounts.assign(signup_date=derived)
    missing = accounts["signup_date"].isna() & derived.notna()
    if missing.any():
        health.flag(
            "accounts", "with empty signup_date set to the first subscription start", missing.sum()
        )
    return accounts.assign(signup_date=accounts["signup_date"].fillna(derived))
