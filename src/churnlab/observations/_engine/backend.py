"""What differs per backend of the features engine: DuckDB or Spark (the seam).

The feature definitions (:mod:`~churnlab.observations._engine.events`,
:mod:`~churnlab.observations._engine.contract`, :mod:`~churnlab.observations._engine.build`)
are Ibis expressions shared by every backend. What one backend does differently lives here,
in one :class:`Engine` per backend:

* **materialising a stage** (:meth:`Engine.stage`): DuckDB creates a temporary table;
  Spark persists the stage's DataFrame (memory, then disk) under a temporary view;
* **dropping it** (:meth:`Engine.drop`): ``DROP TABLE`` in DuckDB's quoting; on Spark the
  view is dropped and the DataFrame unpersisted;
* **what a backend cannot express**: the last NPS answer before ``as_of`` is an ASOF join
  on DuckDB and, as Spark SQL has no ASOF join, a range join of the (small) NPS answers
  with the latest one taken by ``max_by`` (:meth:`Engine.last_before`);
* **fetching** the observation table as Arrow (:meth:`Engine.fetch`): DuckDB's Arrow
  export; Spark's ``DataFrame.toArrow`` (the rows stay in the query's order);
* **packed counts** (:class:`~churnlab.observations._engine.events.Packing`): float64
  sums of integers below ``2**52`` and 64-bit shifts and masks are exact on both backends
  (Spark sums doubles in any order, and every partial sum is an exact integer), so both
  use them; ``packed`` stays a per-backend switch for a backend where that fails.

:func:`connect` opens the backend a run asks for (``features.engine``), with the settings
of ``features.duckdb`` / ``features.spark``, and refuses Spark by name when Java or pyspark
is missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import psutil
import pyarrow as pa

from churnlab.errors import UsageError

__all__ = [
    "DuckDBEngine",
    "check_spark",
    "Engine",
    "SparkEngine",
    "default_duckdb_settings",
    "engine_for",
    "java_version",
    "open_engine",
    "spark_session",
]

#: The smallest Java release Spark 4 runs on.
MIN_JAVA = 17
#: DuckDB's memory limit by default: 40 % of the machine's RAM, at most 4 GB (#21: at 100k
#: accounts 4 GB built the features as fast as 6 GB, with a 2.2 GB lower peak).
MAX_DUCKDB_MEMORY_GB = 4.0
DUCKDB_MEMORY_SHARE = 0.4


def default_duckdb_settings(
    threads: int | None = None, memory_limit: str | None = None, temp_dir: str | None = None
) -> dict[str, Any]:
    """The DuckDB settings the engine opens its connection with (bounded defaults).

    Parameters
    ----------
    threads : int, optional
        Worker threads; default: the CPU count, at most 2 (the demo's target machine).
    memory_limit : str, optional
        DuckDB's memory limit (``"4GB"``); default: min(6 GB, 40 % of the RAM).
    temp_dir : str, optional
        Where DuckDB spills; default: ``churnlab-duckdb`` under the system temp directory.

    Returns
    -------
    dict
        ``threads``, ``memory_limit``, ``preserve_insertion_order`` (False: the result is
        sorted in the query) and ``temp_directory``.
    """
    if memory_limit is None:
        ram_gb = psutil.virtual_memory().total / 1024**3
        memory_limit = f"{min(MAX_DUCKDB_MEMORY_GB, DUCKDB_MEMORY_SHARE * ram_gb):.1f}GB"
    return {
        "threads": int(threads or min(2, os.cpu_count() or 1)),
        "memory_limit": memory_limit,
        "preserve_insertion_order": False,
        "temp_directory": temp_dir or str(Path(tempfile.gettempdir()) / "churnlab-duckdb"),
    }


class Engine:
    """One backend of the features engine: how stages live, what it cannot express."""

    #: Whether the counts are packed into float64 words (see ``events.Packing``).
    packed = True
    #: Whether parts of a query read several times are staged first: a backend that
    #: inlines common table expressions (Spark) would compute them again at every use.
    stage_shared = False

    def __init__(self, con: Any) -> None:
        self.con = con

    @staticmethod
    def new_name() -> str:
        """A fresh name for a staged table."""
        return f"_churnlab_stage_{uuid.uuid4().hex}"

    def stage(self, name: str, table: ir.Table) -> ir.Table:
        """Materialise ``table`` under ``name``; returns the table that reads it."""
        raise NotImplementedError

    def drop(self, name: str) -> None:
        """Drop the staged table ``name`` (no error when it is gone)."""
        raise NotImplementedError

    def fetch(self, table: ir.Table) -> pa.Table:
        """The rows of ``table`` as Arrow, in the query's order."""
        return self.con.to_pyarrow(table)

    def execute(self, expr: ir.Expr) -> Any:
        """Run a (small) expression and return its value or frame."""
        return self.con.execute(expr)

    def last_before(self, keys: ir.Table, values: ir.Table, column: str) -> ir.Table:
        """Per ``(account_id, as_of)`` of ``keys``, ``column`` of the latest row before ``as_of``.

        ``values`` holds ``account_id``, ``timestamp`` and ``column``, one row per account
        and timestamp. Keys without an earlier row are absent.
        """
        j = keys.join(
            values,
            [keys.account_id == values.account_id, values.timestamp < keys.as_of],
        )
        j = j.select(keys.account_id, keys.as_of, j.timestamp, j[column])
        return j.group_by(["account_id", "as_of"]).aggregate(
            **{column: j[column].argmax(j.timestamp)}
        )


class DuckDBEngine(Engine):
    """DuckDB: temporary tables, an ASOF join for the last value before a date."""

    def stage(self, name: str, table: ir.Table) -> ir.Table:
        return self.con.create_table(name, table, temp=True)

    def drop(self, name: str) -> None:
        # plain SQL: Ibis 12's drop_table renders an empty table name with sqlglot 30
        self.con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')

    def last_before(self, keys: ir.Table, values: ir.Table, column: str) -> ir.Table:
        from churnlab.observations._engine.events import _asof_last

        return _asof_last(keys, values, column)


class SparkEngine(Engine):
    """Spark: persisted DataFrames under temporary views; a range join for the last value."""

    stage_shared = True

    def __init__(self, con: Any) -> None:
        super().__init__(con)
        self._frames: dict[str, Any] = {}  # staged name -> its persisted DataFrame

    def stage(self, name: str, table: ir.Table) -> ir.Table:
        from pyspark import StorageLevel

        frame = self._frame(table)
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        frame.createOrReplaceTempView(name)
        self._frames[name] = frame
        return self.con.table(name)

    def drop(self, name: str) -> None:
        self.con._session.catalog.dropTempView(name)
        frame = self._frames.pop(name, None)
        if frame is not None:
            frame.unpersist()

    def fetch(self, table: ir.Table) -> pa.Table:
        result = self._frame(table).toArrow()
        # Spark hands timestamps back in UTC with a time zone: the engine's are naive UTC
        fields = [
            pa.field(f.name, pa.timestamp("us"))
            if pa.types.is_timestamp(f.type) and f.type.tz is not None
            else f
            for f in result.schema
        ]
        return result.cast(pa.schema(fields))

    def _frame(self, table: ir.Table) -> Any:
        """The Spark DataFrame of ``table`` (its in-memory tables registered first)."""
        self.con._run_pre_execute_hooks(table)
        return self.con._session.sql(self.con.compile(table))


def engine_for(con: Any) -> Engine:
    """The :class:`Engine` of an Ibis backend (DuckDB or PySpark)."""
    name = getattr(con, "name", "")
    if name == "pyspark":
        return SparkEngine(con)
    if name == "duckdb":
        return DuckDBEngine(con)
    # any other Ibis backend: the portable rewrites, staging as that backend's tables
    return _GenericEngine(con)


class _GenericEngine(Engine):
    """Another Ibis backend: plain tables as stages, the portable rewrites."""

    def stage(self, name: str, table: ir.Table) -> ir.Table:
        return self.con.create_table(name, table)

    def drop(self, name: str) -> None:
        self.con.drop_table(name, force=True)


def java_version() -> int | None:
    """The major version of the ``java`` on the PATH (or under ``JAVA_HOME``); None without one."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in (out.stderr + out.stdout).splitlines():
        if "version" in line and '"' in line:
            text = line.split('"')[1]
            major = text.split(".")[1] if text.startswith("1.") else text.split(".")[0]
            major = major.split("-")[0].split("+")[0]
            return int(major) if major.isdigit() else None
    return None


def check_spark() -> Any:
    """Refuse ``features.engine: spark`` without pyspark or Java 17+, before anything runs.

    Called where a run starts (``churnlab run`` and ``validate`` after the params load),
    so that a missing Spark is a usage error (exit 2), not a failed stage 00.

    Returns
    -------
    pyspark.sql.SparkSession or None
        The session already running in this process (Databricks, a test), if any: it
        needs no local Java.

    Raises
    ------
    UsageError
        Naming what is missing (pyspark, or Java and the version found) and how to install it.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise UsageError(
            "features.engine is spark, but pyspark is not installed. How to fix: install "
            "churnlab with its Spark extra (pip install 'churnlab[spark]'), or set "
            "features.engine: duckdb"
        ) from err
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    found = java_version()
    if found is None or found < MIN_JAVA:
        home = os.environ.get("JAVA_HOME")
        where = f"under JAVA_HOME ({home})" if home else "on the PATH"
        have = f"no java {where}" if found is None else f"java {found} {where}"
        raise UsageError(
            f"features.engine is spark, which needs Java {MIN_JAVA} or newer, but there is "
            f"{have}. How to fix: install a Java runtime (Debian: apt-get install "
            "default-jre-headless; `make java` or `make test` does it) or point JAVA_HOME at "
            "one, or set features.engine: duckdb"
        )
    return None


def spark_session(master: str, conf: Mapping[str, Any]) -> tuple[Any, bool]:
    """A Spark session at ``master`` with ``conf``, and whether it was started here.

    A session already running in this process (a notebook on Databricks, a test
    session) is used as it is. A local master gets as many shuffle partitions as it has
    cores unless ``conf`` says otherwise (Spark's 200 suit a cluster, not one machine).

    Raises
    ------
    UsageError
        When pyspark is not installed, or no Java 17 or newer is found.
    """
    active = check_spark()
    if active is not None:
        return active, False
    from pyspark.sql import SparkSession

    settings: dict[str, str] = {
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    if master.startswith("local"):
        cores = master[len("local[") : -1] if master.startswith("local[") else "1"
        parts = str(os.cpu_count() or 2) if cores in ("*", "") else cores.split(",")[0]
        settings |= {"spark.sql.shuffle.partitions": parts, "spark.ui.enabled": "false"}
    settings |= {str(k): _conf_text(v) for k, v in conf.items()}
    builder = SparkSession.builder.master(master).appName("churnlab")
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session, True


def _conf_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@contextlib.contextmanager
def open_engine(
    engine: str,
    *,
    duckdb: Mapping[str, Any] | None = None,
    spark_master: str = "local[*]",
    spark_conf: Mapping[str, Any] | None = None,
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """The Ibis backend a run asks for, and the settings it runs with (for the manifest).

    Parameters
    ----------
    engine : {"duckdb", "spark"}
        ``features.engine``.
    duckdb : mapping, optional
        ``features.duckdb``: ``threads``, ``memory_limit``, ``temp_dir`` (None = the
        bounded defaults of :func:`default_duckdb_settings`).
    spark_master, spark_conf
        ``features.spark.master`` and ``features.spark.conf``.

    Yields
    ------
    (backend, settings)
        An in-memory DuckDB (closed on exit) or the Spark session's backend (a session
        started here is stopped on exit, one that was running is left running);
        ``settings``: ``engine`` and DuckDB's ``threads``, ``memory_limit``,
        ``temp_directory``, or Spark's ``master`` and ``spark_version``.

    Raises
    ------
    UsageError
        For Spark without pyspark or Java (the message names what is missing).
    """
    if engine == "spark":
        session, started = spark_session(spark_master, spark_conf or {})
        try:
            used = {
                "engine": "spark",
                "master": session.sparkContext.master,
                "spark_version": session.version,
            }
            yield ibis.pyspark.connect(session), used
        finally:
            if started:
                session.stop()
        return
    if engine != "duckdb":
        raise UsageError(f"features.engine must be duckdb or spark, not {engine!r}")
    given = dict(duckdb or {})
    settings = default_duckdb_settings(
        threads=given.get("threads"),
        memory_limit=given.get("memory_limit"),
        temp_dir=given.get("temp_dir"),
    )
    con = ibis.duckdb.connect(**settings)
    try:
        yield con, {"engine": "duckdb", **settings}
    finally:
        con.disconnect()
