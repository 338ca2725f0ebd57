"""One account's explanation: its score, exact SHAP values, waterfall and reasons in words."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churnlab.explain.result import ShapResult

__all__ = ["AccountExplanation", "WhatIf", "explain_row", "rank_by_risk", "unchanged"]


@dataclass(frozen=True)
class AccountExplanation:
    """Why one account has its churn score (``churnlab.workbench.Project.explain_account``).

    Attributes
    ----------
    account_id, name : str
    probability : float
        Calibrated churn probability (``scores.csv`` ``churn_probability``).
    health_score : float
    health_band, touch_tier : str
    arr, expected_arr_at_risk : float
    base_value : float
        The average account's log-odds (SHAP base value).
    values : pandas.Series
        Feature -> SHAP contribution (log-odds of the uncalibrated model).
    data : pandas.DataFrame
        The account's feature values: one row, in the model's input types.
    reasons : pandas.DataFrame
        The account's rows of ``top_reasons``: direction, rank, feature, value, sentence.
    reasons_text : str
        The reasons as one line, as ``scores.csv`` has them.
    next_step : str
        The playbook's next step.
    method : str
        ``"tree"`` or ``"linear"`` SHAP.
    """

    account_id: str
    name: str
    probability: float
    health_score: float
    health_band: str
    touch_tier: str
    arr: float
    expected_arr_at_risk: float
    base_value: float
    values: pd.Series
    data: pd.DataFrame
    reasons: pd.DataFrame
    reasons_text: str
    next_step: str
    method: str

    @property
    def log_odds(self) -> float:
        """The model's raw score of the account: base value plus every contribution."""
        return float(self.base_value + self.values.sum())

    def to_explanation(self) -> Any:
        """The account's values as a one-row ``shap.Explanation`` (churnlab's exact values)."""
        values = pd.DataFrame(
            [self.values.to_numpy()], index=self.data.index, columns=self.values.index
        )
        result = ShapResult(values, self.base_value, self.data, self.method)
        return result.to_explanation()[0]

    def plot(self, max_display: int = 10) -> Any:
        """The waterfall: from the average account's log-odds to this account's.

        ``shap.plots.waterfall`` on :meth:`to_explanation`; returns the figure.
        """
        import warnings

        import matplotlib.pyplot as plt

        with warnings.catch_warnings():  # shap's progress bar: no widgets in a plain kernel
            warnings.filterwarnings("ignore", message="IProgress not found")
            import shap

        shap.plots.waterfall(self.to_explanation(), max_display=max_display, show=False)
        fig = plt.gcf()
        fig.set_size_inches(8, 0.45 * (min(max_display, len(self.values)) + 2))
        return fig

    def __repr__(self) -> str:
        return (
            f"AccountExplanation(account_id={self.account_id!r}, "
            f"probability={self.probability:.4f}, reasons={len(self.reasons)})"
        )

    def _repr_html_(self) -> str:
        """The account's figures, its reasons and next step, and the waterfall."""
        import matplotlib.pyplot as plt

        from churnlab.display import html_block
        from churnlab.vocabulary import vocabulary

        words = vocabulary()
        said, key = words.text, "workbench.account."
        rows = [
            (said(key + "probability"), words.rate(self.probability)),
            (said(key + "health"), words.number(self.health_score)),
            (said(key + "tier"), words.tier_label(self.touch_tier)),
            (said(key + "arr"), words.money(self.arr)),
            (said(key + "at_risk"), words.money(self.expected_arr_at_risk)),
            (said(key + "next_step"), self.next_step or said("workbench.missing")),
        ]
        sentences = self.reasons["reason_text"].tolist() or [said(key + "none")]
        title = said(key + "title", account_id=self.account_id, name=self.name)
        fig = self.plot()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight", facecolor="white")
        plt.close(fig)
        png = base64.b64encode(buffer.getvalue()).decode("ascii")
        return html_block(title, rows, sentences) + f"<img src='data:image/png;base64,{png}'>"


def explain_row(
    shap: ShapResult, index: Any, reasons: pd.DataFrame, scores_row: pd.Series
) -> AccountExplanation:
    """One account's :class:`AccountExplanation` from the explained table.

    Parameters
    ----------
    shap : ShapResult
        Values of the whole scoring table.
    index : label
        The account's row in the scoring table (and in ``shap``).
    reasons : pandas.DataFrame
        ``top_reasons`` of the whole table (indexed like it).
    scores_row : pandas.Series
        The account's row of the scores (with ``reasons`` and ``next_step``).
    """
    mine = reasons.loc[reasons.index == index]

    def text(column: str) -> str:
        value = scores_row.get(column, "")
        return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)

    return AccountExplanation(
        account_id=str(scores_row["account_id"]),
        name=text("name"),
        probability=float(scores_row["churn_probability"]),
        health_score=float(scores_row["health_score"]),
        health_band=text("health_band"),
        touch_tier=text("touch_tier"),
        arr=float(scores_row["arr"]),
        expected_arr_at_risk=float(scores_row["expected_arr_at_risk"]),
        base_value=float(shap.base_value),
        values=shap.values.loc[index].rename(None),
        data=shap.data.loc[[index]],
        reasons=mine.reset_index(drop=True),
        reasons_text=text("reasons"),
        next_step=text("next_step"),
        method=shap.method,
    )


def rank_by_risk(scores: pd.DataFrame) -> pd.Series:
    """Account ids, riskiest first: highest churn probability, ties by expected ARR at risk.

    Isotonic calibration gives probabilities in steps, so many accounts can share the top
    one; among them the account with the most ARR at risk comes first, then by id.
    """
    keys = ["churn_probability", "expected_arr_at_risk", "account_id"]
    ranked = scores.sort_values(keys, ascending=[False, False, True], kind="stable")
    return ranked["account_id"].astype(str).reset_index(drop=True)


def unchanged(a: Any, b: Any) -> bool:
    """Whether two values of a feature are the same (both missing counts as the same)."""
    if pd.isna(a) and pd.isna(b):
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class WhatIf:
    """One account's score before and after a change of its features (:meth:`churnlab.workbench.Project.what_if`).

    Attributes
    ----------
    account_id : str
    changes : dict
        The changes asked for.
    features : pandas.DataFrame
        Every feature that moved (those asked for and those that measure the same thing):
        columns ``before``, ``after``.
    probability_before, probability_after : float
        Calibrated churn probability.
    health_before, health_after : float
        Health score.
    arr : float
        The account's ARR (expected ARR at risk = probability x ARR).
    """

    account_id: str
    changes: dict
    features: pd.DataFrame
    probability_before: float
    probability_after: float
    health_before: float
    health_after: float
    arr: float

    @property
    def risk_drop(self) -> float:
        """Probability points the change takes off (negative: it adds risk)."""
        return self.probability_before - self.probability_after

    def summary(self) -> pd.DataFrame:
        """Probability, health and expected ARR at risk, before and after (a small table)."""
        return pd.DataFrame(
            {
                "churn_probability": [self.probability_before, self.probability_after],
                "health_score": [self.health_before, self.health_after],
                "expected_arr_at_risk": [
                    self.probability_before * self.arr,
                    self.probability_after * self.arr,
                ],
            },
            index=pd.Index(["before", "after"], name="account"),
        )

    def __repr__(self) -> str:
        return f"WhatIf({self.account_id!r}, {self.changes!r})\n{self.summary().to_string()}"

    def _repr_html_(self) -> str:
        from churnlab.display import format_table
        from churnlab.vocabulary import vocabulary

        words = vocabulary()
        title = words.text("workbench.what_if.title", account_id=self.account_id)
        moved = format_table(
            self.features.reset_index(), caption=words.text("workbench.what_if.changed")
        )
        return format_table(self.summary(), caption=title)._repr_html_() + moved._repr_html_()
