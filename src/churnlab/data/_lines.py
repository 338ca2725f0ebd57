"""Subscription lines: plans and add-ons (``subscriptions.line_kind``).

A subscription row is a **plan** line (the account's contract) or an **add-on** line
(sold on top of a plan, e.g. a "meetings" pack). The features take an account's
``plan`` and ``billing_period_months`` from its plan lines; ``mrr`` and ``seats`` sum
every line.

- When the export has a ``line_kind`` column (mapped like any other), its values are
  ``plan`` or ``addon`` (case-insensitive); any other value, blanks included, is an error.
  A column that is empty in every row counts as absent.
- Otherwise add-ons are derived from the ``plan`` column with this rule: a plan value is
  an **add-on** when every row with that value overlaps in time (``start <= d < end``)
  another row of the same account with a different plan value: it is never sold on its
  own. Rows without a plan value are plans; without a ``plan`` column every line is a
  plan. When no plan value is ever sold alone (every account buys two lines together),
  nothing tells plan from add-on and every line counts as a plan. A note in the data
  health names the add-ons found.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.messages import Message, message

from ._checks import Checks
from ._health import DataHealth
from ._io import as_id, blank

__all__ = ["LINE_KINDS", "addon_plans", "line_kinds", "mark_addons"]

#: The values of ``subscriptions.line_kind``.
LINE_KINDS = ("plan", "addon")
_MAX = np.iinfo(np.int64).max
_MIN = np.iinfo(np.int64).min


def line_kinds(raw: pd.DataFrame, file: str, checks: Checks) -> pd.Series:
    """The ``line_kind`` column as lower-case ``plan`` / ``addon``; other values are errors."""
    text = as_id(raw["line_kind"]).astype(object)
    kind = text.where(text.isna(), text.astype(str).str.lower())
    checks.rule(
        raw,
        ~kind.isin(LINE_KINDS),
        file=file,
        column="line_kind",
        rule="must be 'plan' or 'addon'",
        hint="mark each subscription line as plan (the contract) or addon (sold on top of a "
        "plan), or drop the column: churnlab then derives add-ons from the plan column",
        show=["account_id", "plan"],
    )
    return kind


def mark_addons(health: DataHealth, subs: pd.DataFrame) -> pd.DataFrame:
    """``subs`` with ``line_kind`` derived when the export has none, and a note on add-ons.

    Without a ``line_kind`` column and without add-ons, ``subs`` is returned unchanged
    (no ``line_kind`` column: every line is a plan).
    """
    if "line_kind" in subs:
        n = int((subs["line_kind"] == "addon").sum())
        if n:
            health.note(message("messages.data.addons_marked", addons=_addons(n)))
        return subs
    addons = addon_plans(subs)
    if not addons:
        return subs
    is_addon = _plan_text(subs).isin(addons).to_numpy()
    health.note(
        message(
            "messages.data.addons_derived",
            addons=_addons(int(is_addon.sum())),
            plans=[str(a) for a in addons],
        )
    )
    return subs.assign(line_kind=np.where(is_addon, "addon", "plan"))


def _addons(n: int) -> Message:
    return message("messages.data.addon_lines" + ("_one" if n == 1 else ""), n=n)


def _plan_text(subs: pd.DataFrame) -> pd.Series:
    """The plan value of each row as trimmed text; missing where it is blank."""
    text = subs["plan"].astype("string").str.strip()
    return text.where(~blank(subs["plan"]).to_numpy())


def addon_plans(subs: pd.DataFrame) -> list[str]:
    """The plan values that are add-ons: every row with the value overlaps another plan's row.

    Two rows overlap when some day is covered by both (``start_date <= d < end_date``,
    an empty ``end_date`` = still running); a row ending the day another starts does
    not overlap it. "Another plan" is a row of the same account with a different plan
    value, or with none. Rows without a plan value are plans.

    Parameters
    ----------
    subs : pandas.DataFrame
        ``account_id, plan, start_date, end_date`` (typed as the loader returns them).

    Returns
    -------
    list of str
        The add-on plan values, sorted; empty without a ``plan`` column.
    """
    if "plan" not in subs or subs.empty:
        return []
    plan = _plan_text(subs)
    has_plan = plan.notna().to_numpy()
    if plan.nunique() + int((~has_plan).any()) < 2:
        return []  # one plan value everywhere: nothing else to overlap
    end = subs["end_date"]
    rows = pd.DataFrame(
        {
            "account": subs["account_id"].astype(object).to_numpy(),
            "plan": plan.fillna("").astype(object).to_numpy(),  # "" = no plan value
            "start": subs["start_date"].to_numpy("datetime64[ns]").view("int64"),
            "end": np.where(end.isna(), _MAX, end.to_numpy("datetime64[ns]").view("int64")),
        }
    )
    # the days each (account, plan value) covers, as blocks of merged overlapping rows
    order = rows.sort_values(["account", "plan", "start"], kind="stable")
    keys = [order["account"], order["plan"]]
    reach = order["end"].groupby(keys, sort=False).cummax()
    previous = reach.groupby(keys, sort=False).shift(fill_value=_MIN)
    block = (order["start"] > previous).cumsum()
    blocks = order.groupby(block, sort=False).agg(
        account=("account", "first"), plan=("plan", "first"), start=("start", "min"),
        end=("end", "max"),
    )  # fmt: skip
    # each row with a plan value against the blocks of the account's other plan values
    named = rows[has_plan].rename_axis("row").reset_index()
    pairs = named.merge(blocks, on="account", suffixes=("", "_other"))
    hit = (
        (pairs["plan_other"] != pairs["plan"])
        & (pairs["start_other"] < pairs["end"])
        & (pairs["start"] < pairs["end_other"])
    )
    overlapped = named["row"].isin(pairs.loc[hit, "row"])
    never_alone = overlapped.groupby(named["plan"]).all()
    if never_alone.all() and has_plan.all():
        return []  # nothing is ever sold alone: no way to tell the plan from the add-on
    return sorted(never_alone.index[never_alone.to_numpy()])
