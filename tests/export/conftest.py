"""A real PostgreSQL server for the export tests, started by the tests themselves.

One server per test session (:func:`tests.export.pgserver.running_server`): a temporary
folder, ``initdb`` + ``pg_ctl`` as ``nobody`` when the tests run as root, a Unix socket in
that folder, SCRAM passwords, the password in a ``PGPASSFILE``; stopped at the end. Every
test that uses it also uses the shared pipeline run, so it runs on the pipeline's xdist
worker (``tests/conftest.py``, ``pytest_itemcollected``): one server serves them all.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.export.pgserver import PgServer, ServerError, running_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    """A running throw-away server; ``PGPASSFILE`` names its password file meanwhile."""
    env = pytest.MonkeyPatch()
    try:
        with running_server() as server:
            env.setenv("PGPASSFILE", str(server.passfile))
            for name in ("PGPASSWORD", "PGSERVICE", "PGHOST", "PGUSER", "PGDATABASE"):
                env.delenv(name, raising=False)
            yield server
    except ServerError as exc:
        pytest.fail(str(exc))
    finally:
        env.undo()
