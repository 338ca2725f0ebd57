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
- ``_reasons``: per-account reasons in plain language (their words: ``_phrases``).
- ``_playbook``: reason families of params.yaml ``playbook`` and the CSM's next step.
"""

from churnlab.explain._phrases import feature_topics
from churnlab.explain._playbook import (
    feature_families,
    next_step_texts,
    next_steps,
    playbook_features,
)
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
    "feature_families",
    "feature_topics",
    "global_importance",
    "linear_shap",
    "linear_shap_columns",
    "next_step_texts",
    "next_steps",
    "playbook_features",
    "reason_context",
    "reasons_summary",
    "top_reasons",
    "tree_shap",
]
