"""Per-account reasons in plain language, built from SHAP values.

"Logins in the last 28 days: 3 — retained accounts in this tier: median 41":
the driver's human label, the account's value, and what retained accounts of
the same touch tier look like (from a reference table with labels).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from churnlab.errors import DataError
from churnlab.vocabulary import feature_label, vocabulary

if TYPE_CHECKING:  # pragma: no cover
    from churnlab.explain.result import ShapResult

#: Features shown as yes/no.
BOOLEAN_FEATURES = frozenset({"onboarding_completed"})
_MONEY = re.compile(r"(^|_)(mrr|arr|revenue|ltv)(_|$)")
_SHARE = re.compile(r"(utilisation|utilization|share|rate|pct|percent)")
DIRECTIONS = ("raises_risk", "lowers_risk")


def _kind(feature: str, values: pd.Series) -> str:
    if feature in BOOLEAN_FEATURES or pd.api.types.is_bool_dtype(values):
        return "bool"
    if not pd.api.types.is_numeric_dtype(values):
        return "text"
    if _MONEY.search(feature):
        return "money"
    if _SHARE.search(feature):
        return "share"
    return "number"


def format_values(feature: str, values: pd.Series) -> pd.Series:
    """Display strings for one feature's values (integers plain, shares as %, money as $).

    Missing values show as "missing"; booleans as "yes"/"no".
    """
    words = vocabulary()
    kind = _kind(feature, values)
    missing = values.isna()
    if kind == "text":
        shown = values.astype(object).where(missing, values.astype(str))
    elif kind == "bool":
        yes, no = words.text("values.yes"), words.text("values.no")
        shown = pd.Series(np.where(values.astype(float) > 0.5, yes, no), index=values.index)
    else:
        num = pd.to_numeric(values, errors="coerce").astype(float)
        if kind == "share":
            shown = num.map(lambda v: words.rate(v, 0), na_action="ignore")
        else:
            fmt = words.money_exact if kind == "money" else words.number
            shown = num.map(fmt, na_action="ignore")
    return shown.where(~missing, words.text("values.missing")).astype(object)


def reason_context(
    reference_table: pd.DataFrame,
    by: str = "touch_tier",
    *,
    features: list[str] | None = None,
    label: str = "label",
) -> pd.DataFrame:
    """What retained accounts look like, per segment: the context of reason sentences.

    Parameters
    ----------
    reference_table : pandas.DataFrame
        A labelled observation table (label 0 = retained).
    by : str
        Segment column, e.g. ``touch_tier``.
    features : list of str, optional
        Numeric features to summarise; default every numeric column except the label.
    label : str
        Label column.

    Returns
    -------
    pandas.DataFrame
        Index = segment, one column per feature: the median among retained
        accounts (for yes/no features the share of "yes"), plus ``n_retained``.
    """
    for col in (by, label):
        if col not in reference_table.columns:
            raise DataError("reference table", col, "is required for reason context")
    is_retained = pd.to_numeric(reference_table[label], errors="coerce").eq(0).fillna(False)
    retained = reference_table[is_retained.astype(bool)]
    if features is None:
        features = [
            c
            for c in retained.columns
            if c not in (label, by)
            and (
                pd.api.types.is_numeric_dtype(retained[c])
                or pd.api.types.is_bool_dtype(retained[c])
            )
        ]
    groups = retained.groupby(by, observed=True, sort=True)
    flags = [f for f in features if _kind(f, retained[f]) == "bool"]
    nums = [f for f in features if f not in flags]
    out = groups[nums].median() if nums else pd.DataFrame(index=groups.size().index)
    for f in flags:
        out[f] = groups[f].apply(lambda s: s.astype(float).mean())
    out = out[features]
    out["n_retained"] = groups.size()
    return out


def _context_text(feature: str, medians: pd.Series, sample: pd.Series) -> pd.Series:
    if _kind(feature, sample) == "bool":
        words = vocabulary()
        yes = words.text("values.yes")
        return medians.map(lambda v: f"{words.rate(v, 0)} {yes}", na_action="ignore")
    shown = format_values(feature, medians.astype(float))
    return ("median " + shown).where(medians.notna())


def top_reasons(
    shap: ShapResult,
    table: pd.DataFrame,
    *,
    k: int = 3,
    context: pd.DataFrame | None = None,
    by: str = "touch_tier",
) -> pd.DataFrame:
    """The top ``k`` risk-raising and risk-lowering drivers of every account.

    Parameters
    ----------
    shap : ShapResult
        Values for the rows of ``table`` (same index).
    table : pandas.DataFrame
        The scored table: feature values are shown from it (falling back to
        ``shap.data``), plus ``account_id`` / ``as_of`` and the ``by`` column.
    k : int
        Drivers per direction; only strictly positive (raising) or negative
        (lowering) contributions are listed.
    context : pandas.DataFrame, optional
        ``reason_context(reference_table)``; adds "— retained accounts in this
        tier: median ..." to numeric reasons.
    by : str
        Segment column of ``table`` matching ``context``'s index.

    Returns
    -------
    pandas.DataFrame
        One row per (account, direction, rank), indexed by ``table``'s index:
        ``account_id``/``as_of`` (when present), ``direction``
        (``raises_risk``/``lowers_risk``), ``rank``, ``feature``, ``label``,
        ``value``, ``value_display``, ``contribution`` (log-odds),
        ``context_display`` and ``reason_text``.
    """
    if not shap.values.index.equals(table.index):
        raise DataError("table", "index", "must match the index of the explained rows")
    S = shap.values.to_numpy()
    n, p = S.shape
    kk = max(0, min(k, p))
    order_up = np.argsort(-S, axis=1, kind="stable")[:, :kk]
    order_down = np.argsort(S, axis=1, kind="stable")[:, :kk]
    row = np.tile(np.repeat(np.arange(n), kk), 2)
    col = np.concatenate([order_up.ravel(), order_down.ravel()])
    direction = np.repeat([0, 1], n * kk)
    rank = np.tile(np.arange(1, kk + 1), 2 * n)
    contrib = S[row, col]
    keep = np.where(direction == 0, contrib > 0, contrib < 0)
    row, col, direction, rank, contrib = (a[keep] for a in (row, col, direction, rank, contrib))
    sort = np.lexsort((rank, direction, row))
    row, col, direction, rank, contrib = (a[sort] for a in (row, col, direction, rank, contrib))

    features = np.asarray(shap.features, dtype=object)
    value = pd.Series(np.empty(len(row), dtype=object))
    shown = pd.Series("", index=value.index, dtype=object)
    ctx = pd.Series(np.nan, index=value.index, dtype=object)
    segment = table[by].to_numpy()[row] if (context is not None and by in table.columns) else None
    for j in np.unique(col):
        at = np.flatnonzero(col == j)
        f = features[j]
        source = table[f] if f in table.columns else shap.data[f]
        vals = source.iloc[row[at]].reset_index(drop=True)
        value.iloc[at] = vals.to_numpy(dtype=object)
        shown.iloc[at] = format_values(f, vals).to_numpy()
        if segment is not None and f in context.columns:
            med = context[f].reindex(segment[at]).reset_index(drop=True)
            ctx.iloc[at] = _context_text(f, med, source).to_numpy()

    labels = pd.Series([feature_label(f) for f in features], dtype=object)[col].reset_index(
        drop=True
    )
    text = labels + ": " + shown
    text = text.where(ctx.isna(), text + " — retained accounts in this tier: " + ctx.fillna(""))
    out = pd.DataFrame(index=table.index[row])
    for key in ("account_id", "as_of"):
        if key in table.columns:
            out[key] = table[key].to_numpy()[row]
    out["direction"] = np.asarray(DIRECTIONS, dtype=object)[direction]
    out["rank"] = rank
    out["feature"] = features[col]
    out["label"] = labels.to_numpy()
    out["value"] = value.to_numpy()
    out["value_display"] = shown.to_numpy()
    out["contribution"] = contrib
    out["context_display"] = ctx.to_numpy()
    out["reason_text"] = text.to_numpy()
    return out


def reasons_summary(
    reasons: pd.DataFrame, *, k: int = 3, direction: str = "raises_risk", sep: str = "; "
) -> pd.Series:
    """One line per account: its top ``k`` reasons joined, for CSV and report cells.

    Parameters
    ----------
    reasons : pandas.DataFrame
        Output of ``top_reasons``.
    k : int
        Reasons per account.
    direction : {"raises_risk", "lowers_risk"}
    sep : str
        Separator between reasons.

    Returns
    -------
    pandas.Series
        Text per account, indexed like the explained table (accounts without
        such a reason are absent).
    """
    sel = reasons[reasons["direction"] == direction]
    text = sel.loc[sel["rank"] == 1, "reason_text"]
    if not text.index.is_unique:
        raise DataError("reasons", "index", "must identify each account once (a unique index)")
    for rank in range(2, k + 1):
        # ranks are contiguous per account, so rank r exists only where r - 1 does
        more = sel.loc[sel["rank"] == rank, "reason_text"].reindex(text.index)
        text = text.where(more.isna(), text + sep + more.fillna(""))
    return text.rename("reasons")
