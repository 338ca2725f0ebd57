"""One Spark session for the whole test run (the Spark parity tests share it).

The tests that use it are marked ``xdist_group("spark")``: with ``pytest -n 2 --dist
loadgroup`` they land on one worker, which starts the session once.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    """A local Spark session (``local[2]``), stopped at the end of the test run.

    Started through churnlab's own :func:`spark_session`, so a missing pyspark or Java
    fails here with churnlab's message (``make test`` installs both).
    """
    from churnlab.observations._engine.backend import spark_session

    session, started = spark_session(
        "local[2]",
        {
            # tiny data: the cost is Spark's own per query, not the rows; one shuffle
            # partition, no adaptive re-planning, no whole-stage code generation and a
            # JVM that compiles less (C1 only) halve a cold build on 2 cores
            "spark.sql.shuffle.partitions": 1,
            "spark.default.parallelism": 2,
            "spark.driver.memory": "1g",
            "spark.sql.adaptive.enabled": False,
            "spark.sql.codegen.wholeStage": False,
            "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
        },
    )
    yield session
    if started:
        session.stop()
