"""Churned vs retained: cohort selection and a ranked, corrected comparison.

Ranking scale
-------------
Features are ranked by *separation*, a 0-1 scale shared by both kinds:
``|Cliff's delta|`` for numeric features and, for categoricals, the total
variation distance between the churned and retained level shares
(``0.5 * sum |share_churned - share_retained|``). For a two-level feature the
two coincide (Cliff's delta of a 0/1 indicator is the risk difference), and
neither depends on how many accounts churned, unlike Cramér's V, which is
reported with its bootstrap CI but not used for ranking. Features with a group
smaller than ``min_group`` are ranked last and never described as findings.

One row per metric
------------------
Window variants of one metric (``logins_7d``, ``logins_28d``, ``logins_90d``)
measure the same thing and would crowd the top of the ranking. With
``one_per_metric=True`` (the default) the summary keeps, per *metric family*
(the name with a trailing ``_<n>d`` window suffix removed: ``logins_28d`` ->
``logins``; ``logins_trend_28d`` -> ``logins_trend``, its own family), the
variant ranked first and lists the others in ``variants``. Every variant is
still tested: the Benjamini-Hochberg correction runs over all tested features
before the families are collapsed, so dropping variants never makes a p-value
smaller.

Nothing to compare
------------------
A cohort table without churned accounts, without retained accounts, or with no
rows at all (:func:`select_cohorts` found no milestone in the look-back window)
is valid data, not an error: :func:`compare_cohorts` then returns a
:class:`CohortComparison` whose ``summary`` is empty (same columns and dtypes),
whose ``findings()`` is ``[]`` and whose ``notes`` say why, e.g. "no churned
account in the look-back window: nothing to compare" (see :data:`NOTHING_TO_COMPARE`).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnlab.cohorts import stats
from churnlab.cohorts._findings import categorical_finding, numeric_finding
from churnlab.errors import DataError
from churnlab.messages import Message
from churnlab.observations.schema import META_COLUMNS as FEATURE_META_COLUMNS

#: Columns of the observation table that are never compared as features.
META_COLUMNS = (*FEATURE_META_COLUMNS, "cohort")
__all__ = [
    "CohortComparison",
    "compare_cohorts",
    "metric_family",
    "select_cohorts",
    "split_features",
]
CHURNED, RETAINED = "churned", "retained"
MISSING_LEVEL = "(missing)"
#: Notes of a comparison that cannot compare anything (``CohortComparison.notes``).
NOTHING_TO_COMPARE = {
    "empty": "no account in the look-back window: nothing to compare",
    "no_churned": "no churned account in the look-back window: nothing to compare",
    "no_retained": "no retained account in the look-back window: nothing to compare",
    "no_features": "no feature column in the cohort table: nothing to compare",
}


def select_cohorts(
    observations: pd.DataFrame,
    *,
    end: str | pd.Timestamp,
    lookback_days: int = 365,
    milestone: str = "renewal",
    segment: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """Churned and retained accounts at a common milestone within a look-back window.

    Parameters
    ----------
    observations : pandas.DataFrame
        Observation table (architecture.md, "Observation table") with ``account_id``,
        ``checkpoint``, ``label`` and, for milestone rows, ``renewal_date``.
    end : str or Timestamp
        End of the look-back window (inclusive), usually the run's ``as_of``.
    lookback_days : int
        Keep milestones whose ``renewal_date`` falls in ``(end - lookback_days, end]``.
    milestone : str
        The ``checkpoint`` value to compare at (``"renewal"``: rows made N days
        before each renewal; their label says whether the account churned at it).
        Snapshot tables (``checkpoint == "snapshot"`` or no ``checkpoint``
        column) use every row.
    segment : mapping, optional
        Column filters, e.g. ``{"touch_tier": "high_touch"}``; a list value keeps any of its values.

    Returns
    -------
    pandas.DataFrame
        One row per account (its latest milestone in the window) with a
        ``cohort`` column, ``"churned"`` or ``"retained"``. The input is not modified.
    """
    obs = observations
    is_snapshot = "checkpoint" not in obs or obs["checkpoint"].eq("snapshot").all()
    if not is_snapshot:
        end_ts = pd.Timestamp(end)
        start_ts = end_ts - pd.Timedelta(days=int(lookback_days))
        for col in ("renewal_date", "label"):
            if col not in obs:
                raise DataError("observation table", col, "is required to select cohorts")
        keep = (
            obs["checkpoint"].eq(milestone)
            & (obs["renewal_date"] > start_ts)
            & (obs["renewal_date"] <= end_ts)
        )
        obs = obs.loc[keep]
    obs = obs.loc[obs["label"].notna()]
    for col, value in (segment or {}).items():
        if col not in obs:
            raise DataError(
                "observation table", col, "is not a column", hint="pick a segment column"
            )
        values = list(value) if isinstance(value, list | tuple | set) else [value]
        obs = obs.loc[obs[col].isin(values)]
    if not is_snapshot:
        obs = obs.sort_values(["account_id", "renewal_date", "as_of"])
        obs = obs.drop_duplicates("account_id", keep="last")
    out = obs.reset_index(drop=True).copy()
    # an empty window gives an empty table with the same columns (compare_cohorts says so)
    out["cohort"] = np.where(out["label"].astype(int) == 1, CHURNED, RETAINED).astype(object)
    return out


def split_features(
    table: pd.DataFrame,
    features: Sequence[str] | None = None,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
) -> tuple[list[str], list[str]]:
    """Numeric and categorical feature columns of a cohort table.

    Explicit ``numeric`` / ``categorical`` lists win; otherwise ``features``
    (or every column except ``META_COLUMNS`` and datetimes) is split by dtype:
    numbers and booleans are numeric, everything else categorical.
    """
    if numeric is not None or categorical is not None:
        return list(numeric or []), list(categorical or [])
    cols = [c for c in (features or table.columns) if c not in META_COLUMNS]
    cols = [c for c in cols if not pd.api.types.is_datetime64_any_dtype(table[c])]
    num = [c for c in cols if pd.api.types.is_numeric_dtype(table[c])]
    return num, [c for c in cols if c not in num]


def _numeric_row(x: pd.Series, y: pd.Series) -> dict:
    xv, yv = x.dropna().to_numpy(float), y.dropna().to_numpy(float)
    d, lo, hi = stats.cliffs_delta(xv, yv)
    row = {
        "kind": "numeric",
        "n_churned": len(xv),
        "n_retained": len(yv),
        "missing_churned": float(x.isna().mean()) if len(x) else np.nan,
        "missing_retained": float(y.isna().mean()) if len(y) else np.nan,
        "median_churned": np.median(xv) if len(xv) else np.nan,
        "median_retained": np.median(yv) if len(yv) else np.nan,
        "mean_churned": xv.mean() if len(xv) else np.nan,
        "mean_retained": yv.mean() if len(yv) else np.nan,
        "effect_measure": "cliffs_delta",
        "effect": d,
        "effect_low": lo,
        "effect_high": hi,
        "separation": abs(d),
        "test": "mann-whitney",
        "p_value": stats.mann_whitney_p(xv, yv),
    }
    if np.isin(np.concatenate([xv, yv]), [0.0, 1.0]).all():  # a 0/1 flag: also as shares
        row.update(
            level="1", share_churned=row["mean_churned"], share_retained=row["mean_retained"]
        )
        row.update(risk_difference=d, rd_low=lo, rd_high=hi)
    return row


def _categorical_row(x: pd.Series, y: pd.Series, bootstrap: int, seed: int) -> dict:
    x = x.astype(object).where(x.notna(), MISSING_LEVEL).astype(str)
    y = y.astype(object).where(y.notna(), MISSING_LEVEL).astype(str)
    counts = pd.crosstab(
        pd.Categorical(np.r_[np.repeat(0, len(x)), np.repeat(1, len(y))], categories=[0, 1]),
        np.r_[x.to_numpy(), y.to_numpy()],
        dropna=False,
    )
    # always two rows (churned, retained), even when a group (or both) has no account
    counts = counts.reindex(index=pd.CategoricalIndex([0, 1]), fill_value=0)
    table = counts.to_numpy(float).reshape(2, -1)
    n1, n2 = table.sum(axis=1)
    shares = table / np.maximum(table.sum(axis=1, keepdims=True), 1)
    diff = shares[0] - shares[1]
    if not diff.size:  # no account at all: no level to report
        shares, diff = np.full((2, 1), np.nan), np.array([0.0])
    k = int(np.argmax(np.abs(diff)))
    v, v_lo, v_hi, p = stats.cramers_v(table, bootstrap=bootstrap, seed=seed)
    rd, rd_lo, rd_hi = (
        stats.newcombe_interval(table[0, k], n1, table[1, k], n2) if n1 and n2 else (np.nan,) * 3
    )
    return {
        "kind": "categorical",
        "n_churned": int(n1),
        "n_retained": int(n2),
        "missing_churned": float((x == MISSING_LEVEL).mean()) if n1 else np.nan,
        "missing_retained": float((y == MISSING_LEVEL).mean()) if n2 else np.nan,
        "level": str(counts.columns[k]) if len(counts.columns) else np.nan,
        "share_churned": shares[0, k],
        "share_retained": shares[1, k],
        "effect_measure": "cramers_v",
        "effect": v,
        "effect_low": v_lo,
        "effect_high": v_hi,
        "risk_difference": rd,
        "rd_low": rd_lo,
        "rd_high": rd_hi,
        "separation": 0.5 * float(np.abs(diff).sum()) if n1 and n2 else np.nan,
        "test": "chi-square",
        "p_value": p,
    }


SUMMARY_COLUMNS = [
    "rank", "feature", "kind", "finding", "n_churned", "n_retained", "median_churned",
    "median_retained", "mean_churned", "mean_retained", "level", "share_churned",
    "share_retained", "effect_measure", "effect", "effect_low", "effect_high",
    "risk_difference", "rd_low", "rd_high", "separation", "test", "p_value", "p_adjusted",
    "significant", "small_group", "missing_churned", "missing_retained", "variants",
    "finding_message",
]  # fmt: skip
_TEXT_COLUMNS = (
    "feature", "kind", "finding", "level", "effect_measure", "test", "variants", "finding_message",
)  # fmt: skip
_INT_COLUMNS = ("rank", "n_churned", "n_retained")
_BOOL_COLUMNS = ("significant", "small_group")
_WINDOW_SUFFIX = re.compile(r"_\d+d$")


def _empty_summary() -> pd.DataFrame:
    """A comparison summary without rows: the columns and dtypes of a ranked one."""

    def dtype(col: str) -> str:
        if col in _TEXT_COLUMNS:
            return "object"
        return "int64" if col in _INT_COLUMNS else "bool" if col in _BOOL_COLUMNS else "float64"

    return pd.DataFrame({c: pd.Series(dtype=dtype(c)) for c in SUMMARY_COLUMNS})


def metric_family(feature: str) -> str:
    """The metric a feature measures: its name without a ``_<n>d`` window suffix.

    >>> metric_family("logins_28d"), metric_family("logins_trend_28d"), metric_family("mrr")
    ('logins', 'logins_trend', 'mrr')
    """
    return _WINDOW_SUFFIX.sub("", feature)


def _one_per_family(summary: pd.DataFrame) -> pd.DataFrame:
    """Keep the first-ranked row of each metric family; list the others in ``variants``."""
    family = summary["feature"].map(metric_family)
    first = ~family.duplicated()
    others = summary.loc[~first].groupby(family[~first])["feature"].agg(", ".join)
    out = summary.loc[first].copy()
    out["variants"] = family[first].map(others).fillna("").to_numpy()
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class CohortComparison:
    """Result of :func:`compare_cohorts`: a ranked ``summary`` that renders in notebooks.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per feature, ranked (``rank`` 1 = strongest separation); see
        :data:`SUMMARY_COLUMNS` and the module docstring.
    n_churned, n_retained : int
        Cohort sizes (rows of the cohort table).
    alpha, min_group : float, int
        The settings used.
    """

    summary: pd.DataFrame
    n_churned: int
    n_retained: int
    alpha: float
    min_group: int
    notes: tuple[str, ...] = field(default=())

    def findings(self, top: int = 5) -> list[str]:
        """Plain-language findings of the top significant, adequately sized features."""
        ok = self.summary.loc[self.summary["significant"] & ~self.summary["small_group"]]
        return ok["finding"].head(top).tolist()

    def _repr_html_(self) -> str:
        cols = ["rank", "feature", "finding", "effect_measure", "effect", "effect_low",
                "effect_high", "p_adjusted", "significant"]  # fmt: skip
        head = (
            f"<p><b>Churned vs retained</b>: {self.n_churned} churned, {self.n_retained} "
            f"retained accounts; BH-adjusted alpha = {self.alpha}; groups under "
            f"{self.min_group} accounts flagged.</p>"
        )
        notes = "".join(f"<p><i>{html.escape(n)}</i></p>" for n in self.notes)
        body = self.summary[cols].to_html(index=False, float_format="{:.3g}".format, escape=True)
        return head + notes + body


def compare_cohorts(
    cohort_table: pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    alpha: float = 0.05,
    min_group: int = 30,
    bootstrap: int = 1000,
    seed: int = 0,
    labels: Mapping[str, str] | None = None,
    one_per_metric: bool = True,
) -> CohortComparison:
    """Compare churned and retained accounts feature by feature, ranked by effect.

    Parameters
    ----------
    cohort_table : pandas.DataFrame
        Output of :func:`select_cohorts` (needs ``cohort``).
    features, numeric, categorical : sequence of str, optional
        Which columns to compare (see :func:`split_features`).
    alpha : float
        Significance level after Benjamini-Hochberg correction across all
        tested features.
    min_group : int
        A feature whose churned or retained group (non-missing values for
        numerics) is smaller is flagged ``small_group``, never significant,
        and its finding says "too few accounts to compare".
    bootstrap : int
        Resamples of the stratified bootstrap for Cramér's V intervals.
    seed : int
        Bootstrap seed (results are deterministic for a given seed).
    labels : mapping, optional
        Readable feature names for findings (defaults built into churnlab).
    one_per_metric : bool
        Keep one row per metric family (the best-separating window variant;
        the others are listed in ``variants``); see the module docstring. The
        BH correction always covers every tested feature.

    Returns
    -------
    CohortComparison
        With nothing to compare (no churned account, no retained account, an
        empty cohort table, or no feature column) the ``summary`` is empty
        (same columns), ``findings()`` is ``[]`` and ``notes`` holds the reason
        from :data:`NOTHING_TO_COMPARE`.

    Notes
    -----
    Numeric: Cliff's delta (churned vs retained) with Cliff's 1993 CI and the
    Mann-Whitney U p-value; missing values are dropped (their shares are
    reported). Categorical: missing is its own level; Cramér's V with a
    bootstrap CI, chi-square p-value, and the risk difference of the most
    different level with Newcombe's hybrid score CI.
    """
    if "cohort" not in cohort_table:
        raise DataError("cohort table", "cohort", "is missing", hint="build it with select_cohorts")
    num, cat = split_features(cohort_table, features, numeric, categorical)
    is_churned = cohort_table["cohort"].eq(CHURNED).to_numpy()
    n_churned, n_retained = int(is_churned.sum()), int((~is_churned).sum())
    nothing = _nothing_to_compare(n_churned, n_retained, bool(num or cat))
    if nothing:
        return CohortComparison(
            summary=_empty_summary(),
            n_churned=n_churned,
            n_retained=n_retained,
            alpha=alpha,
            min_group=min_group,
            notes=(nothing,),
        )
    churned, retained = cohort_table.loc[is_churned], cohort_table.loc[~is_churned]
    rows = [{"feature": f, **_numeric_row(churned[f], retained[f])} for f in num]
    rows += [
        {"feature": f, **_categorical_row(churned[f], retained[f], bootstrap, seed + i)}
        for i, f in enumerate(cat)
    ]
    summary = pd.DataFrame(rows).reindex(columns=SUMMARY_COLUMNS)
    summary["small_group"] = (summary["n_churned"] < min_group) | (
        summary["n_retained"] < min_group
    )
    summary["p_adjusted"] = stats.benjamini_hochberg(summary["p_value"])
    summary["significant"] = (summary["p_adjusted"] <= alpha) & ~summary["small_group"]
    messages = [_finding(r, labels or {}) for r in summary.to_dict("records")]
    summary["finding"] = [m["text"] for m in messages]  # one string per feature
    summary["finding_message"] = [json.dumps(m, ensure_ascii=False) for m in messages]
    summary = summary.sort_values(
        ["small_group", "separation", "feature"], ascending=[True, False, True], na_position="last"
    ).reset_index(drop=True)
    summary["variants"] = ""
    if one_per_metric:
        summary = _one_per_family(summary)
    summary["rank"] = np.arange(1, len(summary) + 1)
    notes = ()
    if is_churned.sum() < min_group or (~is_churned).sum() < min_group:
        notes = (f"Fewer than {min_group} accounts in a cohort: no finding is reliable.",)
    return CohortComparison(
        summary=summary[SUMMARY_COLUMNS],
        n_churned=int(is_churned.sum()),
        n_retained=int((~is_churned).sum()),
        alpha=alpha,
        min_group=min_group,
        notes=notes,
    )


def _nothing_to_compare(n_churned: int, n_retained: int, has_features: bool) -> str | None:
    """The note of a comparison that cannot compare anything, else None."""
    if not n_churned and not n_retained:
        return NOTHING_TO_COMPARE["empty"]
    if not n_churned:
        return NOTHING_TO_COMPARE["no_churned"]
    if not n_retained:
        return NOTHING_TO_COMPARE["no_retained"]
    return None if has_features else NOTHING_TO_COMPARE["no_features"]


def _finding(row: dict, labels: Mapping[str, str]) -> Message:
    if row["kind"] == "numeric":
        return numeric_finding(row, labels)
    return categorical_finding(row, labels)
