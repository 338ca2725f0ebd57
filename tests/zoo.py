"""The data zoo: variants of the built-in sample and of Telco that a user's first export looks like.

Each :class:`Case` writes its files into a folder and returns the params overlay that points
churnlab at them (a mapping-only overlay: the data's shape, paths and column names). The
zoo is made by code from the generated sample and the Telco copy in the repository; no
variant is committed as data. ``tests/test_zoo.py`` runs every case through ``validate``
and the in-process pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tests.helpers import TELCO

#: How a case must end: the whole pipeline with a report; a report whose skipped parts
#: are stated (no model); or ``validate`` refusing the data with a named rule.
RUNS, PARTIAL, REFUSED = "runs", "partial", "refused"

Overlay = dict[str, Any]
Frames = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class Case:
    """One zoo variant: how to make it, and how it must end."""

    name: str
    make: Callable[[Path], Overlay]
    expect: str
    rule: str = ""  # for REFUSED: words the error's rule must contain


# ----------------------------------------------------------------------------- event logs


def base_frames(months: int = 15, n_accounts: int = 240, seed: int = 11) -> Frames:
    """A small generated sample as plain frames (ids as text, no categoricals)."""
    from churnlab.sample import generate_sample

    s = generate_sample(n_accounts=n_accounts, months=months, seed=seed)
    events = s.events.astype({"account_id": str, "event_type": str, "user_id": object})
    return {
        "accounts": s.accounts.copy(),
        "subscriptions": s.subscriptions.copy(),
        "events": events,
    }


def write_logs(folder: Path, frames: Frames, fmt: str = "parquet", **columns: Any) -> Overlay:
    """Write the three tables and return the overlay that points at them."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for table, frame in frames.items():
        path = folder / f"{table}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        paths[table] = str(path)
    data: dict[str, Any] = {"shape": "events", "as_of": "2026-10-31", **paths}
    if columns:
        data["columns"] = columns
    return {"data": data}


def _logs(transform: Callable[[Frames], Frames], fmt: str = "parquet", **kw: Any):
    def make(folder: Path) -> Overlay:
        return write_logs(folder, transform(base_frames(**kw)), fmt)

    return make


def _no_names(f: Frames) -> Frames:
    return {**f, "accounts": f["accounts"].drop(columns="name")}


def _no_seats(f: Frames) -> Frames:
    return {**f, "subscriptions": f["subscriptions"].drop(columns="seats")}


def _custom_events(f: Frames) -> Frames:
    """A social app: no logins, no onboarding, tickets, NPS or CSM events; its own names."""
    names = {
        "login": "open_app", "feature_reports": "post", "feature_dashboards": "like",
        "feature_integrations": "message", "feature_automation": "share",
        "feature_api": "comment", "feature_alerts": "follow",
    }  # fmt: skip
    ev = f["events"][f["events"]["event_type"].isin(names)].copy()
    ev["event_type"] = ev["event_type"].map(names)
    ev["user_id"] = None
    return {**f, "events": ev}


def _no_cs_events(f: Frames) -> Frames:
    cs = ("csm_meeting", "qbr", "webinar", "nps_response", "ticket_opened", "ticket_resolved",
          "onboarding_step", "onboarding_completed", "first_value")  # fmt: skip
    return {**f, "events": f["events"][~f["events"]["event_type"].isin(cs)]}


def _one_plan(f: Frames) -> Frames:
    """A single $10 monthly plan: one plan, one touch tier."""
    subs = f["subscriptions"].assign(mrr=10.0, plan="basic", billing_period_months=1)
    return {**f, "subscriptions": subs, "accounts": f["accounts"].assign(plan="basic")}


def _addons(f: Frames) -> Frames:
    """A $300 'meetings' add-on line beside the plan of every third account's first period."""
    subs = f["subscriptions"]
    first = subs.sort_values("start_date").drop_duplicates("account_id")
    addon = first.iloc[::3].assign(
        subscription_id=lambda t: t["subscription_id"] + "-addon",
        mrr=300.0,
        plan="meetings",
        seats=0,
    )
    return {**f, "subscriptions": pd.concat([subs, addon], ignore_index=True)}


def _integer_ids(f: Frames) -> Frames:
    def to_int(s: pd.Series) -> pd.Series:
        return s.astype(str).str.lstrip("A").astype(int)

    return {t: df.assign(account_id=to_int(df["account_id"])) for t, df in f.items()}


def _zero_padded_ids(f: Frames) -> Frames:
    def pad(s: pd.Series) -> pd.Series:
        return "00" + s.astype(str).str.lstrip("A")

    return {t: df.assign(account_id=pad(df["account_id"])) for t, df in f.items()}


def _mixed_id_types(f: Frames) -> Frames:
    ints = _integer_ids(f)
    return {
        **ints,
        "accounts": ints["accounts"].assign(account_id=lambda t: t["account_id"].astype(str)),
    }


def _one_account(f: Frames) -> Frames:
    first = f["accounts"]["account_id"].iloc[0]
    return {t: df[df["account_id"] == first] for t, df in f.items()}


def _no_churner(f: Frames) -> Frames:
    """Every subscription still running: nobody ever churned."""
    subs = f["subscriptions"].sort_values(["account_id", "start_date"])
    last = ~subs.duplicated("account_id", keep="last")
    subs = subs.assign(end_date=subs["end_date"].where(~last, pd.NaT))
    # a gap between rows would still be a churn: join every row to the next one
    nxt = subs.groupby("account_id")["start_date"].shift(-1)
    subs["end_date"] = subs["end_date"].where(nxt.isna(), nxt)
    return {**f, "subscriptions": subs}


def _everyone_churned(f: Frames) -> Frames:
    """Every account's cover ends within its first three months."""
    subs = f["subscriptions"].sort_values(["account_id", "start_date"])
    first = subs.drop_duplicates("account_id")
    ends = first["start_date"] + pd.DateOffset(months=2)
    return {**f, "subscriptions": first.assign(end_date=ends.to_numpy())}


def _header_only(f: Frames) -> Frames:
    return {t: df.iloc[:0] for t, df in f.items()}


def _empty_optional(f: Frames) -> Frames:
    return {**f, "accounts": f["accounts"].assign(industry=None, csm_owner=None)}


def _mixed_timezones(f: Frames) -> Frames:
    ev = f["events"].copy()
    text = ev["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object)
    text.iloc[::2] = text.iloc[::2] + "+02:00"
    return {**f, "events": ev.assign(timestamp=text)}


def _odd_column_names(folder: Path) -> Overlay:
    """The export's own column names, mapped: spaces, quotes, dots, non-ASCII."""
    f = base_frames()
    renames = {
        "accounts": {"account_id": "Customer ID", "name": "Société", "industry": "cust.industry"},
        "subscriptions": {"account_id": "Customer ID", "mrr": "MRR ($)", "plan": "plan's name"},
        "events": {"account_id": "Customer ID", "event_type": "event name", "timestamp": "at"},
    }
    frames = {t: df.rename(columns=renames[t]) for t, df in f.items()}
    columns = {t: {ours: theirs for ours, theirs in m.items()} for t, m in renames.items()}
    return write_logs(folder, frames, "csv", **columns)


def _social_app(folder: Path) -> Overlay:
    """README's example: posts, likes and messages, no logins or seats, one $10 monthly plan,
    five months of history, and the export's own column names (mapped)."""
    f = _one_plan(_no_seats(_custom_events(base_frames(months=5, n_accounts=1500, seed=5))))
    frames = {
        "accounts": f["accounts"][["account_id"]].rename(columns={"account_id": "user_id"}),
        "subscriptions": f["subscriptions"][["account_id", "start_date", "end_date", "mrr"]]
        .rename(columns={"account_id": "user_id", "start_date": "period_start",
                         "end_date": "period_end", "mrr": "amount"}),
        "events": f["events"][["account_id", "timestamp", "event_type"]]
        .rename(columns={"account_id": "user_id", "timestamp": "created_at",
                         "event_type": "action"}),
    }  # fmt: skip
    columns = {
        "accounts": {"account_id": "user_id"},
        "subscriptions": {"account_id": "user_id", "start_date": "period_start",
                          "end_date": "period_end", "mrr": "amount"},
        "events": {"account_id": "user_id", "timestamp": "created_at", "event_type": "action"},
    }  # fmt: skip
    return write_logs(folder, frames, "csv", **columns)


# ----------------------------------------------------------------------------- snapshots


def telco_frame() -> pd.DataFrame:
    """The Telco snapshot as shipped (7 043 customers)."""
    return pd.read_csv(TELCO)


def write_snapshot(folder: Path, frame: pd.DataFrame, **snapshot: Any) -> Overlay:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "snapshot.csv"
    frame.to_csv(path, index=False)
    defaults = {
        "id_column": "customerID", "label_column": "Churn", "positive_value": "Yes",
        "mrr_column": "MonthlyCharges", "tenure_column": "tenure",
        "numeric_columns": ["TotalCharges"],
    }  # fmt: skip
    return {
        "data": {"shape": "snapshot", "as_of": "2026-10-31",
                 "snapshot": {**defaults, **snapshot, "path": str(path)}},
        "cohorts": {"segment": "Contract"},
    }  # fmt: skip


def _snapshot(transform: Callable[[pd.DataFrame], pd.DataFrame], **snapshot: Any):
    def make(folder: Path) -> Overlay:
        return write_snapshot(
            folder, transform(telco_frame().sample(1500, random_state=3)), **snapshot
        )

    return make


def _no_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="customerID")


def _outside_labels(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.loc[out.index[:7], "Churn"] = "maybe"
    out.loc[out.index[7:10], "Churn"] = ""
    return out


def _unknown_labels(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.loc[out.index[:7], "Churn"] = "maybe"
    return out


def _zero_one_label(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(Churn=(frame["Churn"] == "Yes").astype(int))


def _tenure_years(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(tenure=(frame["tenure"] / 12).round(2))


def _id_like_and_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """An id-like text column (a surname per customer) and a 51-level state column."""
    rng = np.random.default_rng(5)
    states = [f"State {i:02d}" for i in range(51)]
    return frame.assign(
        surname=[f"Surname{i:05d}" for i in range(len(frame))],
        state=rng.choice(states, len(frame)),
    )


def _odd_snapshot_columns(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(
        columns={"PaymentMethod": "Payment method", "InternetService": "client's internet",
                 "StreamingTV": "streaming.tv", "Contract": "Vertrag (Länge)"}
    )  # fmt: skip


CASES: tuple[Case, ...] = (
    Case("sample", _logs(lambda f: f), RUNS),
    Case("no_names", _logs(_no_names), RUNS),
    Case("no_seats", _logs(_no_seats), RUNS),
    Case("custom_events_no_logins", _logs(_custom_events), RUNS),
    Case("no_cs_events", _logs(_no_cs_events), RUNS),
    Case("one_plan_one_tier", _logs(_one_plan), RUNS),
    Case("addon_lines", _logs(_addons), RUNS),
    Case("integer_ids_csv", _logs(_integer_ids, fmt="csv"), RUNS),
    Case("integer_ids_parquet", _logs(_integer_ids), RUNS),
    Case("zero_padded_ids_csv", _logs(_zero_padded_ids, fmt="csv"), RUNS),
    Case("zero_padded_ids_parquet", _logs(_zero_padded_ids), RUNS),
    Case("id_types_differ", _logs(_mixed_id_types), RUNS),
    Case("four_months", _logs(lambda f: f, months=4), PARTIAL),
    Case("six_months", _logs(lambda f: f, months=6, n_accounts=600), RUNS),
    Case("empty_optional_columns", _logs(_empty_optional), RUNS),
    Case("mixed_time_zones", _logs(_mixed_timezones, fmt="csv"), RUNS),
    Case("odd_column_names", _odd_column_names, RUNS),
    Case("social_app_five_months", _social_app, RUNS),
    Case("one_account", _logs(_one_account), PARTIAL),
    Case("no_churner", _logs(_no_churner), PARTIAL),
    Case("everyone_churned", _logs(_everyone_churned), PARTIAL),
    Case("header_only", _logs(_header_only), REFUSED, "no rows"),
    Case("history_too_short", _logs(lambda f: f, months=2), REFUSED, "too little time"),
    Case("snapshot_no_id", _snapshot(_no_id, id_column=None), RUNS),
    Case("snapshot_blank_labels", _snapshot(_outside_labels), REFUSED, "must not be empty"),
    Case("snapshot_labels_outside_pair", _snapshot(_unknown_labels), REFUSED, "neither"),
    Case("snapshot_zero_one_label", _snapshot(_zero_one_label, positive_value=1), RUNS),
    Case("snapshot_tenure_years", _snapshot(_tenure_years, tenure_unit="years"), RUNS),
    Case("snapshot_id_like_and_wide", _snapshot(_id_like_and_wide), RUNS),
    Case("snapshot_odd_columns", _snapshot(_odd_snapshot_columns), RUNS),
    Case("snapshot_no_revenue", _snapshot(lambda f: f, mrr_column=None), RUNS),
)
