"""churnlab: churn analysis and prediction workbench for customer-success teams.

The workbench API (imported on first use, so ``import churnlab`` stays fast):

- :func:`open_project` — the project of a ``params.yaml`` (overlays, overrides), with the
  latest run of its data set; :func:`sample_project` — the built-in synthetic sample.
- :class:`Project` — ``health``, ``kpis``, ``tables`` (observations), ``train()``,
  ``model``, ``scores()``, ``riskiest()``, ``explain_account(id)``, ``what_if(id, **changes)``.
- :func:`format_table` — a table as a reader should see it (percent, money, days,
  "not reached").

Examples
--------
>>> import churnlab
>>> project = churnlab.sample_project()
>>> bool(project.tables.training["label"].isin([0, 1]).all())
True
>>> churnlab.format_table(project.kpis.tail(1)[["month", "logo_churn_rate"]]).frame.iloc[0, 1][-1]
'%'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported when the name is first used).
_LAZY = {
    "Project": "churnlab.workbench",
    "WhatIf": "churnlab.explain.account",
    "find_params": "churnlab.workbench",
    "open_project": "churnlab.workbench",
    "sample_project": "churnlab.workbench",
    "AccountExplanation": "churnlab.explain.account",
    "format_table": "churnlab.display",
}

__all__ = ["__version__", *sorted(_LAZY)]

if TYPE_CHECKING:  # pragma: no cover
    Project: Any
    WhatIf: Any
    AccountExplanation: Any
    find_params: Any
    open_project: Any
    sample_project: Any
    format_table: Any


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'churnlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
