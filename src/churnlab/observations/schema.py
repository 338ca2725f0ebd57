"""The column contract of the observation table (docs/architecture.md, "Observation table").

One row per ``(account_id, as_of)``: the key and label columns, the current contract at
``as_of - 1 day``, the touch tier, the static account attributes, then the features. This
module names the columns that are *not* features, so every stage (cohort comparison,
models, explanations) splits a table the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from churnlab.messages import Message, message

__all__ = [
    "CONTRACT_COLUMNS",
    "META_COLUMNS",
    "STATIC_COLUMNS",
    "count_column",
    "count_name",
    "feature_columns",
    "usable_features",
]

#: Key, label and metadata columns: never model features nor compared as such.
META_COLUMNS = (
    "account_id",
    "as_of",
    "checkpoint",
    "label",
    "churn_date",
    "renewal_date",
    "days_to_renewal",
    "arr",
    "name",
)
#: Static account attributes copied from ``accounts`` (missing ones are typed nulls).
STATIC_COLUMNS = ("industry", "region", "acquisition_channel", "csm_owner")
#: The current contract at ``as_of - 1 day``, right after the spine columns.
CONTRACT_COLUMNS = (
    "renewal_date",
    "days_to_renewal",
    "mrr",
    "arr",
    "seats",
    "plan",
    "billing_period_months",
)


def feature_columns(table: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Split the feature columns of an observation table into (numeric, categorical).

    Parameters
    ----------
    table : pandas.DataFrame
        An observation or scoring table.

    Returns
    -------
    numeric, categorical : list of str
        :data:`META_COLUMNS` and datetime columns are left out; numeric or boolean
        dtypes are numeric, everything else is categorical.
    """
    numeric: list[str] = []
    categorical: list[str] = []
    for col in table.columns:
        if col in META_COLUMNS:
            continue
        dtype = table[col].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            numeric.append(col)
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            continue
        else:
            categorical.append(col)
    return numeric, categorical


#: Column stems of the counts of the event types churnlab knows by name.
COUNT_NAMES = {
    "login": "logins",
    "ticket_opened": "tickets_opened",
    "ticket_resolved": "tickets_resolved",
    "nps_response": "nps_responses",
    "csm_meeting": "csm_meetings",
    "qbr": "qbrs",
    "webinar": "webinars",
    "onboarding_step": "onboarding_steps",
    "onboarding_completed": "onboarding_completed_events",
    "first_value": "first_value_events",
}


def count_name(event_type: str) -> str:
    """Readable column stem for counts of an event type (``login`` -> ``logins``)."""
    if event_type in COUNT_NAMES:
        return COUNT_NAMES[event_type]
    return re.sub(r"[^0-9a-z]+", "_", event_type.lower()).strip("_") or "events"


def count_column(event_type: str, window: int) -> str:
    """The column of an event type's count over a window: ``login``, 28 -> ``logins_28d``."""
    return f"{count_name(event_type)}_{window}d"


_ID_NAME = re.compile(r"(?i)(^|[\W_])(id|no|number|code|key|uuid)$|id$")


def usable_features(
    table: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    *,
    max_categories: int = 30,
    include: Sequence[str] = (),
) -> tuple[list[str], list[str], dict[str, str]]:
    """The features a model (or a comparison) can learn from, and why the others are left out.

    See :func:`usable_features_said`, whose reasons are messages of the catalogues; here
    they are their English text.
    """
    numeric, categorical, said = usable_features_said(
        table, numeric, categorical, max_categories=max_categories, include=include
    )
    return numeric, categorical, {col: str(m["text"]) for col, m in said.items()}


def usable_features_said(
    table: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    *,
    max_categories: int = 30,
    include: Sequence[str] = (),
) -> tuple[list[str], list[str], dict[str, Message]]:
    """The features a model (or a comparison) can learn from, and why the others are left out.

    Always left out: a column without any value, and a constant one (one value, never
    missing). Left out unless named in ``include``: an id-like column (a text column with
    a different value for nearly every account, or a whole-number column named like an id
    with a different value for every account) and a text column with more than
    ``max_categories`` values.

    Parameters
    ----------
    table : pandas.DataFrame
        An observation table (``account_id`` tells accounts apart).
    numeric, categorical : list of str
        The candidate features (see :func:`feature_columns`).
    max_categories : int
        Most distinct values a text feature may have (``features.max_categories``).
    include : sequence of str
        Features kept although id-like or wide (``features.include``).

    Returns
    -------
    numeric, categorical : list of str
        The usable features, in their order.
    left_out : dict of str to message
        Every feature left out, with the reason as a message of the catalogues
        (``messages.model.why_*``, see :mod:`churnlab.messages`).
    """
    left_out: dict[str, Message] = {}
    keep = set(include)
    accounts = table["account_id"].nunique() if "account_id" in table else len(table)
    for col in [*numeric, *categorical]:
        values = table[col]
        present = values.dropna()
        if present.empty:
            left_out[col] = message("messages.model.why_empty")
            continue
        distinct = present.nunique()
        if distinct == 1 and len(present) == len(values):
            value = present.iloc[0]
            value = value.item() if hasattr(value, "item") else value
            left_out[col] = message("messages.model.why_constant", value=repr(value))
            continue
        if col in keep:
            continue
        if col in categorical and distinct > max_categories:
            if accounts >= 20 and distinct >= 0.9 * accounts:
                left_out[col] = message("messages.model.why_id_text", n=int(distinct))
            else:
                left_out[col] = message(
                    "messages.model.why_wide", n=int(distinct), limit=max_categories
                )
        elif col in numeric and _ID_NAME.search(col) and accounts >= 20:
            whole = bool(pd.to_numeric(present, errors="coerce").mod(1).eq(0).all())
            if whole and distinct >= accounts:
                left_out[col] = message("messages.model.why_id_number")
    kept = [c for c in numeric if c not in left_out], [c for c in categorical if c not in left_out]
    return kept[0], kept[1], left_out
