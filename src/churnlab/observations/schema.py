"""The column contract of the observation table (docs/architecture.md, "Observation table").

One row per ``(account_id, as_of)``: the key and label columns, the current contract at
``as_of - 1 day``, the touch tier, the static account attributes, then the features. This
module names the columns that are *not* features, so every stage (cohort comparison,
models, explanations) splits a table the same way.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["CONTRACT_COLUMNS", "META_COLUMNS", "STATIC_COLUMNS", "feature_columns"]

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
