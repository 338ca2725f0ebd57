"""Loading and validation of input data, and the data-health summary.

Two input shapes (``docs/architecture.md``, "Input tables" and "Snapshot shape"):

- **event logs**: :func:`load_event_logs` reads accounts, subscriptions and events
  (CSV or Parquet), types them, checks the data contract and returns
  :class:`EventLogData` with a :class:`DataHealth` summary;
- **account snapshot**: :func:`load_snapshot` reads one row per account with a churn
  label; :func:`snapshot_observations` turns it into an observation table.

Broken rules raise :class:`~churnlab.errors.DataError` (file, column, rule, rows,
count, how to fix). Suspicious rows are excluded or kept, always counted in
:class:`DataHealth` and announced with a :class:`DataWarning`; nothing is dropped
silently. This package does no config reading: callers pass explicit arguments.

Note: the repository's top-level ``data/`` folder holds data files and is unrelated.
"""

from __future__ import annotations

from ._event_logs import REQUIRED_COLUMNS, EventLogData, load_event_logs, overlapping
from ._event_scan import EventSource
from ._extent import last_day
from ._health import DataHealth, DataWarning, TableHealth
from ._io import load_table
from ._snapshot import DAYS_PER_MONTH, DAYS_PER_UNIT, load_snapshot, snapshot_observations

__all__ = [
    "DAYS_PER_MONTH",
    "DAYS_PER_UNIT",
    "REQUIRED_COLUMNS",
    "DataHealth",
    "DataWarning",
    "EventLogData",
    "EventSource",
    "TableHealth",
    "last_day",
    "load_event_logs",
    "load_snapshot",
    "load_table",
    "overlapping",
    "snapshot_observations",
]
