"""The database an export writes to: its URL checked, shown without credentials, connected.

Three kinds are supported: PostgreSQL (``postgresql://``, driven by psycopg 3), DuckDB
(``duckdb:///path``, with ``duckdb-engine``) and SQLite (``sqlite:///path``). A URL that
carries a password is refused (:func:`churnlab.config.url_secret_problem`): PostgreSQL
reads it from ``PGPASSWORD``, ``PGPASSFILE`` or ``PGSERVICE``, as psql does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from churnlab.config import redact_url, url_secret_problem
from churnlab.errors import UsageError

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["KINDS", "Target", "parse_target"]

Kind = Literal["postgresql", "duckdb", "sqlite"]
#: URL scheme -> (kind, the SQLAlchemy driver churnlab uses for it).
_SCHEMES: dict[str, tuple[Kind, str]] = {
    "postgresql": ("postgresql", "postgresql+psycopg"),
    "postgres": ("postgresql", "postgresql+psycopg"),
    "postgresql+psycopg": ("postgresql", "postgresql+psycopg"),
    "duckdb": ("duckdb", "duckdb"),
    "sqlite": ("sqlite", "sqlite"),
}
#: The kinds of database an export can write to.
KINDS: tuple[Kind, ...] = ("postgresql", "duckdb", "sqlite")
_EXAMPLES = (
    "postgresql://churnlab@db.example.com/crm, duckdb:///reports/scores.duckdb, "
    "sqlite:///reports/scores.sqlite"
)


@dataclass(frozen=True)
class Target:
    """A database to export to.

    Attributes
    ----------
    kind : {"postgresql", "duckdb", "sqlite"}
        The kind of database.
    display : str
        The URL without user name, password or query values: what logs, messages and the
        manifest show.
    url : sqlalchemy.URL
        The URL to connect with (never printed; it holds no password either).
    """

    kind: Kind
    display: str
    url: sa.URL = field(repr=False)

    def engine(self) -> sa.Engine:
        """A new engine without a connection pool (one export, one connection)."""
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        connect_args: dict[str, object] = {}
        if self.kind == "postgresql":
            connect_args = {"connect_timeout": 10, "application_name": "churnlab export"}
        return sa.create_engine(
            self.url, poolclass=NullPool, hide_parameters=True, connect_args=connect_args
        )


def parse_target(url: str, *, root: Path | None = None, source: str = "--to") -> Target:
    """Check a database URL and return the :class:`Target` it names.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL: ``postgresql://user@host:port/db`` (``?host=/socket/dir`` for a
        Unix socket), ``duckdb:///path/scores.duckdb``, ``sqlite:///path/scores.sqlite``.
    root : Path, optional
        Folder a relative DuckDB or SQLite path is resolved against (the main params
        file's folder for ``delivery.database.url``); default: the working directory.
        The file's folder is created when missing.
    source : str
        Where the URL came from (``--to``, ``delivery.database.url``), named in errors.

    Raises
    ------
    UsageError
        The URL carries a password, is not a URL, or names a database churnlab does not
        write to. The message never repeats the password.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    problem = url_secret_problem(url)
    if problem:
        raise UsageError(f"{source}: the database URL must not carry credentials: {problem}")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(
            f"{source}: {redact_url(url)!r} is not a database URL. How to fix: write one such "
            f"as {_EXAMPLES}"
        ) from None
    scheme = parsed.drivername.lower()
    if scheme not in _SCHEMES:
        raise UsageError(
            f"{source}: churnlab exports to PostgreSQL, DuckDB or SQLite, not {scheme!r}. "
            f"How to fix: write a URL such as {_EXAMPLES}"
        )
    kind, driver = _SCHEMES[scheme]
    parsed = parsed.set(drivername=driver)
    if kind != "postgresql":
        parsed = _file_url(parsed, kind, root, source)
    if kind == "postgresql":
        display = redact_url(parsed.render_as_string(hide_password=True))
    else:  # the file, whatever the URL's user part
        display = f"{kind}:///{parsed.database}"
    return Target(kind=kind, display=display, url=parsed)


def _file_url(url: sa.URL, kind: Kind, root: Path | None, source: str) -> sa.URL:
    """A DuckDB or SQLite URL with an absolute file path (its folder created)."""
    database = url.database or ""
    if not database or database == ":memory:":
        raise UsageError(
            f"{source}: a {kind} URL names a file, e.g. {kind}:///reports/scores.{kind} "
            f"(three slashes: relative; four: absolute); an in-memory database would "
            "keep nothing"
        )
    path = Path(database).expanduser()
    if not path.is_absolute():
        path = (root or Path.cwd()) / path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"{source}: cannot create the folder of {path} ({exc.strerror}). How to fix: "
            "name a file in a folder churnlab may write to"
        ) from None
    return url.set(database=str(path.resolve()))
