"""The features engine (Ibis on DuckDB or Spark): fenced off, reached through ``build_observation_table``.

Everything in here is an implementation detail of :func:`build_observation_table`; the
rest of churnlab imports only that function and :func:`open_engine` (the backend a run
asks for, through :mod:`churnlab.observations`). What differs per backend lives in
:mod:`~churnlab.observations._engine.backend`.
"""

from churnlab.observations._engine.backend import check_spark, open_engine
from churnlab.observations._engine.build import DUCKDB_CONFIG, build_observation_table

__all__ = ["DUCKDB_CONFIG", "build_observation_table", "check_spark", "open_engine"]
