"""Population drift: has the population being scored moved away from the training data?

The measure is the **Population Stability Index** (PSI), the usual one in credit-risk
and churn model monitoring. Both samples of a feature are cut into the same bins; with
``e_i`` and ``a_i`` the shares of the *expected* sample (the reference: training
observations, last month's scoring rows) and of the *actual* sample (the current
scoring rows) in bin ``i``::

    PSI = sum_i (a_i - e_i) * ln(a_i / e_i)

It is a symmetrised Kullback-Leibler divergence: 0 for identical shares, growing as
mass moves between bins, with no upper bound. The industry rule of thumb reads it as:

* ``PSI < 0.1``: **stable**, no meaningful shift;
* ``0.1 <= PSI < 0.25``: **moderate** shift, worth a look;
* ``PSI >= 0.25``: **major** shift, the model scores a population unlike its training data.

The thresholds are :data:`PSI_MODERATE` and :data:`PSI_MAJOR` (keyword arguments of
:func:`drift_table` and :func:`drift_level`).

Conventions (tested on hand-worked fixtures):

* **Numeric** features (numeric dtypes except bool): the cut points are the quantiles
  of the non-missing, finite expected values at levels ``1/bins, ..., (bins-1)/bins``
  (numpy's default linear interpolation, as ``pandas.qcut``), deduplicated, so a
  column with few distinct values gets fewer bins. The outer edges are -inf and +inf,
  so every actual value has a bin. Bins are closed on the right, ``(lower, upper]``,
  as in ``pandas.cut``; a point mass at the minimum (many zeros) thus gets a bin of
  its own. ``inf`` is a value (it falls in an outer bin), not a missing value.
* **Categorical** features (object, string, category and bool dtypes, or any column
  passed with ``kind="categorical"``): one bin per level seen in either sample, levels
  compared as strings, as the model sees them
  (:func:`churnlab.modeling.model.as_levels`).
* **Missing values** (NaN, None, ``pd.NA``) form a bin of their own in both kinds, so
  a rise in the missing share is drift like any other.
* **Empty bins**: in the formula every share below :data:`PSI_FLOOR` (``1e-4``; in
  particular the 0 of an empty bin) is raised to ``1e-4``, the common choice (as in
  Evidently), so that the PSI stays finite; shares are not renormalised. A bin empty
  in both samples contributes 0. A feature whose whole mass moves into a bin that was
  empty scores about ``2 * ln(1e4) = 18.4``.
* A feature constant (and equal) in both samples has PSI 0. A sample with no rows at
  all gives PSI NaN, not an error: there is nothing to compare.

Everything is deterministic and vectorised (one quantile, ``np.searchsorted`` and
``np.bincount`` per numeric feature, one ``pd.factorize`` per categorical feature).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from churnlab.modeling.model import as_levels

__all__ = [
    "LEVELS",
    "MISSING_BIN",
    "PSI_FLOOR",
    "PSI_MAJOR",
    "PSI_MODERATE",
    "PsiResult",
    "drift_level",
    "drift_table",
    "feature_kind",
    "population_stability",
]

#: PSI from which a shift counts as moderate (below: stable).
PSI_MODERATE = 0.1
#: PSI from which a shift counts as major.
PSI_MAJOR = 0.25
#: Smallest bin share used in the PSI formula (an empty bin counts with this share).
PSI_FLOOR = 1e-4
#: Values of the ``level`` column of :func:`drift_table`: the three PSI levels, then
#: ``absent`` (the feature is missing from either frame) and ``empty`` (a frame has no rows).
LEVELS = ("stable", "moderate", "major", "absent", "empty")
#: Label of the missing-value bin.
MISSING_BIN = "missing"

Kind = Literal["numeric", "categorical"]
_KINDS = ("numeric", "categorical")
#: Bins of one feature: labels, expected counts, actual counts, has a missing bin, cut points.
_Binned = tuple[tuple[str, ...], np.ndarray, np.ndarray, bool, tuple[float, ...]]


@dataclass(frozen=True, eq=False)
class PsiResult:
    """The PSI of one feature and the bins behind it.

    Attributes
    ----------
    psi : float
        The Population Stability Index; NaN when either sample has no rows.
    kind : {"numeric", "categorical"}
        How the feature was binned.
    labels : tuple of str
        One label per bin: ``"(lower, upper]"`` for numeric bins, the level for
        categorical ones (sorted), ``"missing"`` for the missing-value bin.
    expected_counts, actual_counts : numpy.ndarray
        Rows of each sample per bin (int64, aligned with ``labels``).
    has_missing_bin : bool
        True when the last bin holds the missing values (there is one when either
        sample has a missing value).
    cut_points : tuple of float
        Numeric features: the inner bin edges (deduplicated quantiles of the expected
        sample); empty for categorical features.
    """

    psi: float
    kind: Kind
    labels: tuple[str, ...]
    expected_counts: np.ndarray
    actual_counts: np.ndarray
    has_missing_bin: bool = False
    cut_points: tuple[float, ...] = ()

    @property
    def n_expected(self) -> int:
        """Rows in the expected sample, missing values included."""
        return int(self.expected_counts.sum())

    @property
    def n_actual(self) -> int:
        """Rows in the actual sample, missing values included."""
        return int(self.actual_counts.sum())

    @property
    def missing_expected(self) -> float:
        """Share of missing values in the expected sample (NaN when it has no rows)."""
        return self._missing_share(self.expected_counts)

    @property
    def missing_actual(self) -> float:
        """Share of missing values in the actual sample (NaN when it has no rows)."""
        return self._missing_share(self.actual_counts)

    def _missing_share(self, counts: np.ndarray) -> float:
        n = counts.sum()
        if n == 0:
            return float("nan")
        return float(counts[-1] / n) if self.has_missing_bin else 0.0

    @property
    def bins(self) -> pd.DataFrame:
        """One row per bin: counts, shares and the bin's term of the PSI sum.

        Returns
        -------
        pandas.DataFrame
            ``bin`` (label), ``missing`` (True for the missing-value bin),
            ``expected_count``, ``actual_count``, ``expected_share``, ``actual_share``
            (raw shares) and ``contribution`` (``(a - e) * ln(a / e)`` on the floored
            shares; the column sums to ``psi``).
        """
        e_share, a_share = _shares(self.expected_counts), _shares(self.actual_counts)
        missing = np.zeros(len(self.labels), dtype=bool)
        if self.has_missing_bin:
            missing[-1] = True
        return pd.DataFrame(
            {
                "bin": list(self.labels),
                "missing": missing,
                "expected_count": self.expected_counts,
                "actual_count": self.actual_counts,
                "expected_share": e_share,
                "actual_share": a_share,
                "contribution": _terms(e_share, a_share),
            }
        )

    def __float__(self) -> float:
        return float(self.psi)


def _shares(counts: np.ndarray) -> np.ndarray:
    n = counts.sum()
    return counts / n if n else np.full(len(counts), np.nan)


def _terms(e_share: np.ndarray, a_share: np.ndarray) -> np.ndarray:
    e = np.maximum(e_share, PSI_FLOOR)
    a = np.maximum(a_share, PSI_FLOOR)
    return (a - e) * np.log(a / e)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def feature_kind(expected: pd.Series, actual: pd.Series | None = None) -> Kind:
    """How a feature is binned when no ``kind`` is given.

    Parameters
    ----------
    expected, actual : pandas.Series
        The two samples (``actual`` optional).

    Returns
    -------
    {"numeric", "categorical"}
        ``"numeric"`` when the dtype of ``expected`` (and of ``actual``, if given) is
        numeric and not bool; ``"categorical"`` otherwise: object, string, category,
        bool, or two samples whose dtypes disagree (their values are then compared as
        levels, so a column loaded with the wrong type shows as drift).
    """
    ok = _is_numeric(expected) and (actual is None or _is_numeric(actual))
    return "numeric" if ok else "categorical"


def _as_float(series: pd.Series) -> np.ndarray:
    if not _is_numeric(series):
        series = pd.to_numeric(series.astype(object), errors="raise")
    return series.to_numpy(dtype=float, na_value=np.nan)


def _with_missing_bin(
    labels: list[str], e_counts: np.ndarray, a_counts: np.ndarray, e_na: int, a_na: int
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, bool]:
    if e_na or a_na:
        labels = [*labels, MISSING_BIN]
        e_counts = np.append(e_counts, e_na)
        a_counts = np.append(a_counts, a_na)
    return tuple(labels), e_counts.astype(np.int64), a_counts.astype(np.int64), bool(e_na or a_na)


def _bin_index(x: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Bin of each value: ``i`` when ``cuts[i - 1] < x <= cuts[i]`` (right-closed bins)."""
    if len(cuts) > 16:
        return np.searchsorted(cuts, x, side="left")
    # a few cut points: one vectorised comparison each beats a binary search per value
    index = np.zeros(len(x), dtype=np.intp)
    for cut in cuts:
        index += x > cut
    return index


def _numeric_bins(expected: pd.Series, actual: pd.Series, bins: int) -> _Binned:
    e, a = _as_float(expected), _as_float(actual)
    e_na, a_na = np.isnan(e), np.isnan(a)
    finite = e[np.isfinite(e)]
    cuts = (
        np.unique(np.quantile(finite, np.arange(1, bins) / bins))
        if len(finite)
        else np.empty(0, dtype=float)
    )
    n_bins = len(cuts) + 1
    e_counts = np.bincount(_bin_index(e[~e_na], cuts), minlength=n_bins)
    a_counts = np.bincount(_bin_index(a[~a_na], cuts), minlength=n_bins)
    edges = [-np.inf, *cuts.tolist(), np.inf]
    labels = [f"({lo:.6g}, {hi:.6g}]" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    binned = _with_missing_bin(labels, e_counts, a_counts, int(e_na.sum()), int(a_na.sum()))
    return (*binned, tuple(float(c) for c in cuts))


def _categorical_bins(expected: pd.Series, actual: pd.Series) -> _Binned:
    e, a = as_levels(expected), as_levels(actual)
    e_na, a_na = e.isna().to_numpy(), a.isna().to_numpy()
    values = np.concatenate([e.to_numpy()[~e_na], a.to_numpy()[~a_na]])
    codes, uniques = pd.factorize(values, sort=True)
    n_e = int((~e_na).sum())
    e_counts = np.bincount(codes[:n_e], minlength=len(uniques))
    a_counts = np.bincount(codes[n_e:], minlength=len(uniques))
    labels = [str(u) for u in uniques]
    binned = _with_missing_bin(labels, e_counts, a_counts, int(e_na.sum()), int(a_na.sum()))
    return (*binned, ())


def population_stability(
    expected: pd.Series | Sequence | np.ndarray,
    actual: pd.Series | Sequence | np.ndarray,
    *,
    bins: int = 10,
    kind: Kind | None = None,
) -> PsiResult:
    """Population Stability Index of one feature, from ``expected`` to ``actual``.

    ``PSI = sum_i (a_i - e_i) * ln(a_i / e_i)`` over the bins (see the module
    docstring for the binning, the missing-value bin and the ``1e-4`` floor on shares).
    Rule of thumb: below 0.1 stable, 0.1 to 0.25 moderate, from 0.25 major shift.

    Parameters
    ----------
    expected : pandas.Series or array-like
        The reference sample (training observations, last month's scoring rows).
        Numeric bins are cut at its quantiles.
    actual : pandas.Series or array-like
        The current sample.
    bins : int, default 10
        Number of quantile bins for a numeric feature (fewer when the expected values
        have ties); ignored for categorical features.
    kind : {"numeric", "categorical"}, optional
        Force the binning; by default inferred by :func:`feature_kind`. A numeric
        ``kind`` on non-numeric values raises ``ValueError``.

    Returns
    -------
    PsiResult
        ``psi`` (NaN when either sample has no rows), the bins and their counts.

    Raises
    ------
    ValueError
        ``bins < 1``, an unknown ``kind``, or ``kind="numeric"`` on values that are
        not numbers.
    """
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    e = expected if isinstance(expected, pd.Series) else pd.Series(expected)
    a = actual if isinstance(actual, pd.Series) else pd.Series(actual)
    if kind is None:
        kind = feature_kind(e, a)
    elif kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS} or None, got {kind!r}")
    if kind == "numeric":
        labels, e_counts, a_counts, has_missing, cuts = _numeric_bins(e, a, int(bins))
    else:
        labels, e_counts, a_counts, has_missing, cuts = _categorical_bins(e, a)
    if len(e) == 0 or len(a) == 0:
        psi = float("nan")
    else:
        psi = float(_terms(e_counts / len(e), a_counts / len(a)).sum())
    return PsiResult(psi, kind, labels, e_counts, a_counts, has_missing, cuts)


def drift_level(psi: float, *, moderate: float = PSI_MODERATE, major: float = PSI_MAJOR) -> str:
    """The rule-of-thumb level of a PSI value.

    Returns
    -------
    str
        ``"stable"`` (``psi < moderate``), ``"moderate"`` (``moderate <= psi < major``),
        ``"major"`` (``psi >= major``) or ``"empty"`` for a NaN PSI.
    """
    if np.isnan(psi):
        return "empty"
    return "stable" if psi < moderate else "moderate" if psi < major else "major"


_TABLE_COLUMNS = [
    "feature",
    "kind",
    "psi",
    "n_reference",
    "n_current",
    "missing_reference",
    "missing_current",
    "level",
]


def _column(frame: pd.DataFrame, name: str) -> pd.Series | None:
    if name not in frame.columns:
        return None
    col = frame[name]
    if isinstance(col, pd.DataFrame):
        raise ValueError(f"column {name!r} appears more than once in a frame")
    return col


def drift_table(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Sequence[str],
    *,
    bins: int = 10,
    kinds: Mapping[str, Kind] | None = None,
    moderate: float = PSI_MODERATE,
    major: float = PSI_MAJOR,
) -> pd.DataFrame:
    """PSI of every feature from ``reference`` to ``current``, largest shift first.

    PSI measures how far the distribution of a feature has moved between two samples
    (0: identical shares per bin; see :func:`population_stability`). Rule of thumb,
    with the default thresholds: ``psi < 0.1`` stable, ``0.1 <= psi < 0.25`` moderate,
    ``psi >= 0.25`` major.

    Parameters
    ----------
    reference : pandas.DataFrame
        The expected population (training observations, or last month's scoring rows).
    current : pandas.DataFrame
        The population scored now.
    columns : sequence of str
        Features to compare (no duplicates). A feature absent from either frame is
        reported with PSI NaN and level ``"absent"``, not an error.
    bins : int, default 10
        Quantile bins per numeric feature.
    kinds : mapping of str to {"numeric", "categorical"}, optional
        Binning per feature where the dtype would mislead (a numeric code that is a
        category); other features get :func:`feature_kind`.
    moderate, major : float
        PSI thresholds of the ``moderate`` and ``major`` levels
        (default :data:`PSI_MODERATE`, :data:`PSI_MAJOR`).

    Returns
    -------
    pandas.DataFrame
        One row per feature: ``feature``; ``kind`` (``"numeric"`` or
        ``"categorical"``; None when absent from both frames); ``psi``;
        ``n_reference``, ``n_current`` (rows of each frame, missing values included);
        ``missing_reference``, ``missing_current`` (missing-value shares; NaN where
        the column is absent or the frame empty); ``level`` (``"stable"``,
        ``"moderate"``, ``"major"``, ``"absent"`` or ``"empty"`` when a frame has no
        rows). Sorted by ``psi`` descending, NaN last, ties by feature name; a fresh
        0-based index.

    Raises
    ------
    ValueError
        Duplicated names in ``columns`` or in a frame, ``moderate > major``, or a bad
        ``bins`` / ``kinds`` value.
    """
    names = list(columns)
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"columns listed more than once: {dupes}")
    if not moderate <= major:
        raise ValueError(f"moderate ({moderate}) must not exceed major ({major})")
    kinds = dict(kinds or {})
    nan = float("nan")
    rows = []
    for name in names:
        ref, cur = _column(reference, name), _column(current, name)
        row = {
            "feature": name,
            "n_reference": len(reference),
            "n_current": len(current),
        }
        if ref is None or cur is None:
            present = ref if ref is not None else cur
            kind = kinds.get(name) or (feature_kind(present) if present is not None else None)
            row |= {
                "kind": kind,
                "psi": nan,
                "missing_reference": _na_share(ref),
                "missing_current": _na_share(cur),
                "level": "absent",
            }
        else:
            result = population_stability(ref, cur, bins=bins, kind=kinds.get(name))
            row |= {
                "kind": result.kind,
                "psi": result.psi,
                "missing_reference": result.missing_expected,
                "missing_current": result.missing_actual,
                "level": drift_level(result.psi, moderate=moderate, major=major),
            }
        rows.append(row)
    table = pd.DataFrame(rows, columns=_TABLE_COLUMNS)
    table = table.astype({"psi": float, "missing_reference": float, "missing_current": float})
    table = table.astype({"n_reference": "int64", "n_current": "int64"})
    return table.sort_values(
        ["psi", "feature"], ascending=[False, True], na_position="last", kind="mergesort"
    ).reset_index(drop=True)


def _na_share(series: pd.Series | None) -> float:
    if series is None or len(series) == 0:
        return float("nan")
    return float(series.isna().mean())
