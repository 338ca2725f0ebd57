"""Why is each account at risk: exact SHAP values, the global drivers, per-account reasons.

Typical use::

    values = explain_model(model, scoring_table)        # ShapResult, in log-odds
    drivers = global_importance(values)                 # ranked by mean |SHAP|
    context = reason_context(observations, by="touch_tier")
    reasons = top_reasons(values, scoring_table, k=3, context=context)
    values.to_explanation()                             # a shap.Explanation for shap.plots

- :mod:`~churnlab.explain.result`: :class:`ShapResult`.
- ``_shap``: TreeSHAP (LightGBM) and linear SHAP (the baseline), global importance.
- ``_tree``: the fast exact TreeSHAP behind ``tree_shap``.
- ``_reasons``: per-account reasons in plain language.
"""

from churnlab.explain._reasons import reason_context, reasons_summary, top_reasons
from churnlab.explain._shap import (
    explain_model,
    global_importance,
    linear_shap,
    linear_shap_columns,
    tree_shap,
)
from churnlab.explain.result import ShapResult

__all__ = [
    "ShapResult",
    "explain_model",
    "global_importance",
    "linear_shap",
    "linear_shap_columns",
    "reason_context",
    "reasons_summary",
    "top_reasons",
    "tree_shap",
]
