"""The fast features engine (Ibis on DuckDB): fenced off, reached through ``build_observation_table``.

Everything in here is an implementation detail of :func:`build_observation_table`; the
rest of churnlab imports only that function (through :mod:`churnlab.observations`).
"""

from churnlab.observations._engine.build import DUCKDB_CONFIG, build_observation_table

__all__ = ["DUCKDB_CONFIG", "build_observation_table"]
