"""The pipeline's steps: one module per notebook, callable in-process.

Each notebook of ``notebooks/`` is a thin story over one of these modules: it opens its
stage with :func:`open_stage` and calls the module's functions cell by cell. Each module's
``run(ctx)`` calls the same functions in the same order, so the runner can run the whole
pipeline in one Python process (``run_pipeline(cfg, in_process=True)``) and get the same
run folder without starting kernels.

- :mod:`~churnlab.run.steps.data_health` (00): inputs, KPIs, observation tables.
- :mod:`~churnlab.run.steps.cohorts` (01): churned vs retained, survival.
- :mod:`~churnlab.run.steps.model` (02): backtest, champion, scores.
- :mod:`~churnlab.run.steps.time_to_churn` (03): hazard model, survival, forecast, levers.
- :mod:`~churnlab.run.steps.explanations` (04): SHAP, reasons, renewal map, early warning.
- :mod:`~churnlab.run.steps.monitoring` (05): drift, track record of earlier runs.
- :mod:`~churnlab.run.steps.report`: headline and report.
"""

from churnlab.run.steps import (
    cohorts,
    data_health,
    explanations,
    model,
    monitoring,
    report,
    time_to_churn,
)
from churnlab.run.steps.context import (
    Inputs,
    StageContext,
    account_names,
    chart_image,
    chart_words,
    load_inputs,
    load_run_params,
    open_stage,
    resolve_data_end,
    save_chart,
    saved_chart,
)

__all__ = [
    "Inputs",
    "StageContext",
    "account_names",
    "chart_image",
    "chart_words",
    "cohorts",
    "data_health",
    "explanations",
    "load_inputs",
    "load_run_params",
    "model",
    "monitoring",
    "open_stage",
    "report",
    "resolve_data_end",
    "save_chart",
    "saved_chart",
    "time_to_churn",
]
