"""Write every run's scores to a database a CRM sync reads (``churnlab export``).

- :func:`parse_target` checks a database URL (PostgreSQL, DuckDB, SQLite; never one that
  carries a password) and returns the :class:`Target`.
- :func:`export_run` writes a succeeded run's ``scores.csv`` to two tables in one
  transaction: the append-only history (``run_id``, ``account_id``) and the current scores
  of each data set (``dataset_id``, ``account_id``), replaced only by a newer run; the
  run's manifest records it under ``exports``.
- :data:`COLUMNS` and :data:`SCHEMA_VERSION`: the tables' columns and their version
  (docs/crm.md).

This is a delivery layer: it reads run folders (``churnlab.run.folder``) and no analysis
layer imports it. PostgreSQL credentials come from the environment only (``PGPASSWORD``,
``PGPASSFILE``, ``PGSERVICE``), as for psql.
"""

from churnlab.export._rows import score_frame
from churnlab.export._schema import COLUMNS, LEVER_COLUMNS, SCHEMA_VERSION, ScoreColumn
from churnlab.export._target import KINDS, Target, parse_target
from churnlab.export._write import ExportResult, export_run

__all__ = [
    "COLUMNS",
    "KINDS",
    "LEVER_COLUMNS",
    "SCHEMA_VERSION",
    "ExportResult",
    "ScoreColumn",
    "Target",
    "export_run",
    "parse_target",
    "score_frame",
]
