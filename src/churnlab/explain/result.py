"""The SHAP values of one model on a set of rows (:class:`ShapResult`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churnlab.errors import ModelError

__all__ = ["ShapResult"]


@dataclass(frozen=True)
class ShapResult:
    """SHAP values of one model on a set of rows.

    Attributes
    ----------
    values : pandas.DataFrame
        One row per explained row (same index as the input), one column per
        model feature; contributions in log-odds.
    base_value : float
        The expected raw score: ``base_value + values.sum(axis=1)`` is the
        model's log-odds for each row.
    data : pandas.DataFrame
        The feature values that were explained (same shape and index as ``values``).
    method : str
        ``"tree"`` (exact TreeSHAP) or ``"linear"`` (interventional linear SHAP).
    """

    values: pd.DataFrame
    base_value: float
    data: pd.DataFrame
    method: str

    @property
    def features(self) -> list[str]:
        """Feature names, in column order."""
        return list(self.values.columns)

    def log_odds(self) -> pd.Series:
        """``base_value + sum of values`` per row: the model raw score the values explain."""
        return self.values.sum(axis=1) + self.base_value

    def check_additivity(self, raw_log_odds, *, atol: float = 1e-6) -> float:
        """Check that base value + contributions equal the model's raw log-odds.

        Parameters
        ----------
        raw_log_odds : array-like
            The model's raw scores for the same rows (``ChurnModel.predict_raw``).
        atol : float
            Largest absolute difference accepted.

        Returns
        -------
        float
            The largest absolute difference.

        Raises
        ------
        ModelError
            The difference exceeds ``atol`` (values and model do not match).
        """
        raw = np.asarray(raw_log_odds, dtype=float)
        if raw.shape != (len(self.values),):
            raise ModelError(
                f"check_additivity: expected {len(self.values)} raw scores, got shape {raw.shape}"
            )
        gap = float(np.max(np.abs(self.log_odds().to_numpy() - raw), initial=0.0))
        if gap > atol:
            raise ModelError(
                f"SHAP values do not add up to the model output: largest gap {gap:.3g} > {atol:g}; "
                "explain the same model and rows that produced raw_log_odds"
            )
        return gap

    def to_explanation(self, *, labels: bool = True) -> Any:
        """These values as a ``shap.Explanation``, for ``shap.plots`` in a notebook.

        ``shap.plots.waterfall(result.to_explanation()[i])`` draws one account's score,
        ``shap.plots.beeswarm(result.to_explanation())`` every account's. The values are
        churnlab's exact ones (log-odds); nothing is recomputed.

        Parameters
        ----------
        labels : bool
            Name the features by their human labels (:mod:`churnlab.vocabulary`) instead
            of their column names.

        Returns
        -------
        shap.Explanation
            ``data`` holds numbers (a categorical feature's category code, NaN when
            missing, so that beeswarm can colour it); ``display_data`` the values as
            shown (the category names).
        """
        import warnings

        from churnlab.vocabulary import feature_label

        with warnings.catch_warnings():  # shap's progress bar: no widgets in a plain kernel
            warnings.filterwarnings("ignore", message="IProgress not found")
            import shap

        numeric = pd.DataFrame(index=self.data.index)
        for column in self.data.columns:
            values = self.data[column]
            if isinstance(values.dtype, pd.CategoricalDtype):
                codes = values.cat.codes.astype(float)
                numeric[column] = codes.where(codes >= 0)
            else:
                numeric[column] = pd.to_numeric(values, errors="coerce").astype(float)
        names = [feature_label(f) if labels else f for f in self.features]
        return shap.Explanation(
            values=self.values.to_numpy(dtype=float),
            base_values=np.full(len(self.values), self.base_value),
            data=numeric.to_numpy(dtype=float),
            display_data=self.data.astype(object).to_numpy(),
            feature_names=names,
        )

    def _repr_html_(self) -> str:
        """Method, rows, base value and the strongest drivers (mean absolute SHAP)."""
        from churnlab.display import html_block
        from churnlab.vocabulary import vocabulary

        words = vocabulary()
        said, key = words.text, "workbench.shap."
        strength = self.values.abs().mean(axis=0).sort_values(ascending=False, kind="stable")
        total = float(strength.sum())
        top = ", ".join(
            f"{words.feature_label(str(f))} ({words.rate(v / total if total else 0.0, 0)})"
            for f, v in strength.head(5).items()
        )
        method = said(key + self.method) if self.method in ("tree", "linear") else self.method
        rows = [
            (said(key + "method"), method),
            (said(key + "rows"), words.number(len(self.values))),
            (said(key + "base"), words.fixed(self.base_value, 3)),
            (said(key + "top"), top),
        ]
        return html_block(said(key + "title"), rows)

    def __repr__(self) -> str:
        n, p = self.values.shape
        return f"ShapResult(method={self.method!r}, rows={n}, features={p}, base_value={self.base_value:.4f})"
