"""The two score tables, their versioned schema, and how an existing table is checked.

Both tables have the same columns (:data:`COLUMNS`); they differ in their keys:

- the *history* table is keyed by ``(run_id, account_id)``: every exported run, appended;
- the *current* table is keyed by ``(dataset_id, account_id)``: the newest run of each
  data set.

Every row carries the :data:`SCHEMA_VERSION` it was written with. A table that exists is
checked before anything is written (:func:`prepare_table`): a column churnlab writes that
the table lacks is an error naming the columns, and ``migrate=True``
(``churnlab export --migrate``) adds them, nullable, explicitly; a table written by a newer
churnlab (a higher ``schema_version`` in its rows) is refused. Columns the table has
beyond churnlab's (a sync job's own ``synced_at``) are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from churnlab.errors import ExportError

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = [
    "COLUMNS",
    "LEVER_COLUMNS",
    "SCHEMA_VERSION",
    "ScoreColumn",
    "prepare_table",
    "score_tables",
]

#: Version of the tables' columns, written into every row (``schema_version``). Version 1:
#: the columns of :data:`COLUMNS`, the lever columns nullable.
SCHEMA_VERSION = 1

Kind = Literal["text", "float", "int", "date", "timestamp"]


@dataclass(frozen=True)
class ScoreColumn:
    """One column of the score tables.

    Attributes
    ----------
    name : str
        The column's name in the database.
    kind : {"text", "float", "int", "date", "timestamp"}
        Its type (text, double precision, integer, date, timestamp with time zone).
    nullable : bool
        Whether it may be NULL (every column added after version 1 must be).
    source : str or None
        The ``scores.csv`` column it comes from; None for what the run records (run id,
        data set, finish time) and what the export adds.
    doc : str
        What it holds (docs/crm.md lists it).
    """

    name: str
    kind: Kind
    nullable: bool
    source: str | None
    doc: str


def _c(name: str, kind: Kind, source: str | None, doc: str, nullable: bool = True) -> ScoreColumn:
    return ScoreColumn(name, kind, nullable, source, doc)


#: The lever columns of ``scores.csv`` (time to churn and what-if levers), when a run has them.
LEVER_COLUMNS = (
    _c("survival_12m", "float", "survival_12m", "probability the account is still a customer in 12 months"),
    _c("p_churn_before_renewal", "float", "p_churn_before_renewal", "probability of churning before the next renewal"),
    _c("expected_lifetime_months", "float", "expected_lifetime_months", "expected remaining lifetime in months"),
    _c("biggest_lever", "text", "biggest_lever", "the what-if lever that lowers the risk most"),
    _c("lever_risk_drop", "float", "lever_risk_drop", "drop of the churn probability with that lever"),
    _c("lever_arr_protected", "float", "lever_arr_protected", "ARR at risk that lever protects"),
)  # fmt: skip

#: Every column of both tables, in order.
COLUMNS: tuple[ScoreColumn, ...] = (
    _c("dataset_id", "text", None, "the data set of the run (run.name or the input files)", False),
    _c("dataset_name", "text", None, "run.name, when set"),
    _c("run_id", "text", None, "the run folder's name, <as_of>_<UTC time>", False),
    _c("as_of", "date", None, "the scoring date of the run", False),
    _c("run_finished_at", "timestamp", None, "when the run finished (UTC)", False),
    _c("account_id", "text", "account_id", "the account's id, as text", False),
    _c("account_name", "text", "name", "the account's name"),
    _c("touch_tier", "text", "touch_tier", "high_touch, low_touch or tech_touch"),
    _c("arr", "float", "arr", "annual recurring revenue"),
    _c("churn_probability", "float", "churn_probability", "calibrated probability of churn within horizon_days"),
    _c("horizon_days", "int", None, "the horizon of churn_probability, in days"),
    _c("health_score", "int", "health_score", "health score, 0-100"),
    _c("health_band", "text", "health_band", "red, yellow or green"),
    _c("renewal_date", "date", "renewal_date", "the next renewal of the contract"),
    _c("days_to_renewal", "int", "days_to_renewal", "days from as_of to the renewal"),
    _c("billing_period_months", "int", "billing_period_months", "1 monthly, 12 annual"),
    _c("expected_arr_at_risk", "float", "expected_arr_at_risk", "churn_probability x ARR"),
    _c("csm_owner", "text", "csm_owner", "the CSM who owns the account"),
    _c("reasons", "text", "reasons", "the top reasons, in words, in the report's language"),
    _c("next_step", "text", "next_step", "the CSM's next step from the playbook"),
    _c("language", "text", None, "the language of reasons and next_step (en, ja)"),
    *LEVER_COLUMNS,
    _c("schema_version", "int", None, "the schema version the row was written with", False),
    _c("exported_at", "timestamp", None, "when the row was written (UTC)", False),
)  # fmt: skip

_HISTORY_KEY = ("run_id", "account_id")
_CURRENT_KEY = ("dataset_id", "account_id")


def _sql_type(kind: Kind) -> sa.types.TypeEngine[object]:
    import sqlalchemy as sa

    types: dict[Kind, sa.types.TypeEngine[object]] = {
        "text": sa.Text(),
        "float": sa.Double(),
        "int": sa.Integer(),
        "date": sa.Date(),
        "timestamp": sa.DateTime(timezone=True),
    }
    return types[kind]


def _table(metadata: sa.MetaData, qualified: str, key: tuple[str, ...]) -> sa.Table:
    import sqlalchemy as sa

    schema, _, name = qualified.rpartition(".")
    columns = [
        sa.Column(c.name, _sql_type(c.kind), nullable=c.nullable, primary_key=c.name in key)
        for c in COLUMNS
    ]
    return sa.Table(name, metadata, *columns, schema=schema or None)


def score_tables(history: str, current: str) -> tuple[sa.Table, sa.Table]:
    """The history and current tables under their names (``schema.name`` allowed).

    Parameters
    ----------
    history, current : str
        ``delivery.database.history_table`` and ``current_table``.

    Returns
    -------
    tuple of sqlalchemy.Table
        The history table (key ``run_id, account_id``) and the current table (key
        ``dataset_id, account_id``).
    """
    import sqlalchemy as sa

    metadata = sa.MetaData()
    return _table(metadata, history, _HISTORY_KEY), _table(metadata, current, _CURRENT_KEY)


def prepare_table(
    conn: sa.Connection, table: sa.Table, *, migrate: bool, where: str
) -> tuple[bool, list[str]]:
    """Create ``table`` when absent, else check it against :data:`COLUMNS` (and migrate).

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside the export's transaction.
    table : sqlalchemy.Table
        One of :func:`score_tables`.
    migrate : bool
        Add the columns the table lacks (nullable), instead of refusing.
    where : str
        The database, as shown (no credentials), for the messages.

    Returns
    -------
    created : bool
        Whether the table was created.
    added : list of str
        The columns ``migrate`` added.

    Raises
    ------
    ExportError
        The table lacks columns (without ``migrate``: the message names them and says
        ``--migrate``), a column it lacks cannot be added (NOT NULL), or its rows were
        written by a newer schema version.
    """
    import sqlalchemy as sa

    inspector = sa.inspect(conn)
    if not inspector.has_table(table.name, schema=table.schema):
        table.create(conn)
        return True, []
    present = {c["name"] for c in inspector.get_columns(table.name, schema=table.schema)}
    missing = [c for c in COLUMNS if c.name not in present]
    shown = table.fullname
    if "schema_version" in present:
        newest = conn.execute(sa.select(sa.func.max(table.c.schema_version))).scalar()
        if newest is not None and int(newest) > SCHEMA_VERSION:
            raise ExportError(
                f"table {shown} in {where} holds rows of schema version {newest}, written by "
                f"a newer churnlab; this one writes version {SCHEMA_VERSION}. How to fix: "
                "upgrade churnlab, or export to other tables (delivery.database)"
            )
    if not missing:
        return False, []
    names = ", ".join(c.name for c in missing)
    if not migrate:
        raise ExportError(
            f"table {shown} in {where} does not match churnlab's schema version "
            f"{SCHEMA_VERSION}: it lacks the column(s) {names}. Nothing was written. How to "
            "fix: run `churnlab export --migrate` once to add them (nullable; the rows it "
            "holds get NULL there), or export to other tables (delivery.database)"
        )
    required = [c.name for c in missing if not c.nullable]
    if required:
        raise ExportError(
            f"table {shown} in {where} lacks the key or required column(s) "
            f"{', '.join(required)}, which --migrate cannot add to rows it already holds. "
            "How to fix: export to new tables (delivery.database.history_table, "
            "current_table), or drop this one"
        )
    _add_columns(conn, table, [c.name for c in missing])
    return False, [c.name for c in missing]


def _add_columns(conn: sa.Connection, table: sa.Table, names: list[str]) -> None:
    """``ALTER TABLE ... ADD COLUMN`` for each name, compiled by the database's dialect.

    SQLAlchemy Core has no ADD COLUMN construct (Alembic does, without DuckDB support): the
    statement is assembled from the dialect's own quoting of the table and its compiled
    column definition, never from user text.
    """
    import sqlalchemy as sa
    from sqlalchemy.schema import CreateColumn

    dialect = conn.dialect
    quoted = dialect.identifier_preparer.format_table(table)
    for name in names:
        column = sa.Column(name, table.c[name].type, nullable=True)
        definition = CreateColumn(column).compile(dialect=dialect)
        conn.execute(sa.DDL(f"ALTER TABLE {quoted} ADD COLUMN {definition}"))
