"""``delivery.database``: the database every run's scores are exported to (churnlab export).

A database URL never carries a password: :func:`url_secret_problem` is the one rule, used
by the params model and by ``churnlab export --to URL``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field, field_validator, model_validator

from churnlab.config._base import _Section

__all__ = ["DatabaseParams", "redact_url", "url_secret_problem"]

#: Query keys of a URL that hold secrets (libpq's ``password``, ``sslpassword`` ...).
_SECRET_QUERY = ("password", "passwd", "secret", "token")
#: A table name: an SQL identifier, optionally after a schema (``analytics.churn_scores``).
_TABLE_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$")
_CREDENTIALS_HOW = (
    "keep the password out of the URL: PostgreSQL reads it from the environment, the way "
    "psql does (PGPASSWORD, a PGPASSFILE such as ~/.pgpass, or a PGSERVICE entry)"
)


def url_secret_problem(url: str) -> str:
    """Why ``url`` may not be used as it is because it carries a secret; empty when it may.

    A password after the user name (``postgresql://user:pw@host/db``) and a query
    parameter that names a secret (``?password=...``, ``?sslpassword=...``) are refused.
    The answer never repeats the secret.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "it is not a valid URL"
    if password is not None:
        return f"it carries a password ({redact_url(url)}); {_CREDENTIALS_HOW}"
    secret = [k for k, _ in parse_qsl(parts.query) if any(w in k.lower() for w in _SECRET_QUERY)]
    if secret:
        return f"its query names a secret ({', '.join(secret)}); {_CREDENTIALS_HOW}"
    return ""


def redact_url(url: str) -> str:
    """``url`` without its user name, password and query values: safe to print and record."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    query = "&".join(f"{k}=..." if k != "host" else f"{k}={v}" for k, v in parse_qsl(parts.query))
    return f"{parts.scheme}://{host}{port}{parts.path}" + (f"?{query}" if query else "")


class DatabaseParams(_Section):
    """The database the scores of every run are written to, for a CRM sync to read."""

    url: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL of the database churnlab export and churnlab run --export write "
            "to: postgresql://user@host:5432/db (PostgreSQL, with psycopg), "
            "duckdb:///reports/scores.duckdb or sqlite:///reports/scores.sqlite (a file, "
            "relative to the main params file's folder). Never a password: PostgreSQL's "
            "PGPASSWORD, PGPASSFILE or PGSERVICE hold it. null: no database (churnlab export "
            "then needs --to)."
        ),
    )
    history_table: str = Field(
        "churn_scores_history",
        description=(
            "Append-only table of every exported run's scores, one row per run and account "
            "(schema.name allowed; the schema must exist)."
        ),
    )
    current_table: str = Field(
        "churn_scores_current",
        description=(
            "The newest scores of each data set, one row per data set and account, replaced "
            "in one transaction by a newer successful run (later as_of, then later finish "
            "time): the table a CRM sync reads."
        ),
    )

    @field_validator("url")
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = url_secret_problem(value)
        if problem:  # "must" keeps the value (the secret) out of the params error
            raise ValueError(f"must not carry credentials: {problem}")
        return value

    @field_validator("history_table", "current_table")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _TABLE_NAME.match(value):
            raise ValueError(
                f"a table name must be an SQL identifier (letters, digits, _), optionally "
                f"after a schema and a dot, e.g. churn_scores_current; got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _two_tables(self) -> DatabaseParams:
        if self.history_table.lower() == self.current_table.lower():
            raise ValueError("history_table and current_table must be two different tables")
        return self
