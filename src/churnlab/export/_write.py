"""Writing one run's scores to the two tables in one transaction, and recording it.

:func:`export_run` reads the run's ``scores.csv`` (with :func:`churnlab.csvsafe.read_csv`:
every value as it was written), its manifest (status, data set, finish time) and its
headline (the horizon of the probabilities), then, in one transaction:

1. creates the tables when absent, checks them when present (``migrate`` adds columns);
2. appends to the history table the rows of this run it does not hold yet (a second
   export of the same run adds nothing);
3. replaces the current table's rows of the run's data set when this run is newer than the
   run they come from: a later ``as_of``, or the same ``as_of`` and a later finish time. An
   older run, or a re-run of a past month, leaves them as they are.

A failed or unfinished run is never exported. Rows go in as one bulk insert per table
(:func:`churnlab.export._rows.bulk_insert`: COPY on PostgreSQL, an Arrow scan on DuckDB,
executemany on SQLite). The run's
manifest gets an ``exports`` record: the target without credentials, the rows, what
happened to each table, the time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from churnlab.atomic import write_json
from churnlab.errors import ExportError
from churnlab.export._rows import bulk_insert, score_frame
from churnlab.export._schema import SCHEMA_VERSION, prepare_table, score_tables
from churnlab.export._target import Target
from churnlab.run.folder import RunFolder

if TYPE_CHECKING:
    import sqlalchemy as sa

try:  # the manifest is updated under the run's delivery lock (POSIX only)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["ExportResult", "export_run"]

logger = logging.getLogger("churnlab.export")

Current = Literal["replaced", "unchanged", "kept_newer"]


@dataclass(frozen=True)
class ExportResult:
    """What one export did.

    Attributes
    ----------
    run_id : str
        The exported run.
    target : str
        The database, without credentials.
    history_table, current_table : str
        The tables written.
    rows : int
        Rows of the run's ``scores.csv``.
    history_added : int
        Rows appended to the history table (0 when the run was exported before).
    current : {"replaced", "unchanged", "kept_newer"}
        ``replaced``: the current table now holds this run's rows for its data set;
        ``unchanged``: it already did; ``kept_newer``: it holds a newer run (``current_run``).
    current_run : str
        The run whose rows the current table holds for the data set after the export.
    created : tuple of str
        Tables this export created.
    migrated : tuple of str
        ``table.column`` added by ``migrate``.
    exported_at : str
        UTC ISO time of the export.
    duration_s : float
        Seconds the export took.
    """

    run_id: str
    target: str
    history_table: str
    current_table: str
    rows: int
    history_added: int
    current: Current
    current_run: str
    created: tuple[str, ...]
    migrated: tuple[str, ...]
    exported_at: str
    duration_s: float

    def record(self) -> dict[str, Any]:
        """The manifest's ``exports`` record of this export."""
        out = asdict(self)
        out.pop("run_id")
        return {"status": "exported", "schema_version": SCHEMA_VERSION, **out}


def export_run(
    run_dir: str | Path,
    target: Target,
    *,
    history_table: str = "churn_scores_history",
    current_table: str = "churn_scores_current",
    migrate: bool = False,
    now: dt.datetime | None = None,
) -> ExportResult:
    """Write a succeeded run's scores to the history and current tables of ``target``.

    Parameters
    ----------
    run_dir : str or Path
        The run folder (``reports/latest`` is resolved to the run it points to).
    target : Target
        The database (:func:`churnlab.export.parse_target`).
    history_table, current_table : str
        The tables (``delivery.database``); created when absent.
    migrate : bool
        Add the columns an existing table lacks (``--migrate``) instead of refusing.
    now : datetime, optional
        The export's time (UTC); default: the clock.

    Returns
    -------
    ExportResult
        What was written; also appended to the manifest's ``exports`` list.

    Raises
    ------
    ExportError
        The run did not succeed or has no scores, a table does not match the schema, or
        the database failed; nothing was written then (one transaction).
    """
    import sqlalchemy as sa

    folder = RunFolder(run_dir).resolve()
    manifest = folder.read_manifest()
    _check_exportable(folder, manifest)
    run_id = str(manifest.get("run_id") or folder.name)
    started = time.monotonic()
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    try:
        rows = score_frame(folder, manifest, exported_at=now)
    except (OSError, ValueError, KeyError) as exc:  # a damaged scores.csv or manifest
        raise ExportError(
            f"cannot read the scores of run {run_id} ({folder.scores}, {folder.manifest.name}): "
            f"{type(exc).__name__}: {exc}. Nothing was written"
        ) from None
    history, current = score_tables(history_table, current_table)
    engine = target.engine()
    created: list[str] = []
    migrated: list[str] = []
    try:
        with engine.begin() as conn:  # one transaction: all of it, or nothing
            for table in (history, current):
                new, added = prepare_table(conn, table, migrate=migrate, where=target.display)
                created += [table.fullname] if new else []
                migrated += [f"{table.fullname}.{name}" for name in added]
            added_rows = _append_history(conn, history, run_id, rows)
            state, holder = _replace_current(conn, current, run_id, rows)
    except (sa.exc.SQLAlchemyError, ExportError) as exc:
        error = (
            exc
            if isinstance(exc, ExportError)
            else ExportError(_database_failure(exc, run_id, target))
        )
        failed = {"status": "failed", "target": target.display, "error": str(error)}
        _record(folder, {**failed, "exported_at": now.isoformat()})
        raise error from None
    finally:
        engine.dispose()
    result = ExportResult(
        run_id=run_id,
        target=target.display,
        history_table=history.fullname,
        current_table=current.fullname,
        rows=len(rows),
        history_added=added_rows,
        current=state,
        current_run=holder,
        created=tuple(created),
        migrated=tuple(migrated),
        exported_at=now.isoformat(),
        duration_s=round(time.monotonic() - started, 3),
    )
    _record(folder, result.record())
    logger.info(
        "exported %s to %s: %d rows, %d new in %s, %s %s",
        *(run_id, target.display, len(rows), added_rows, history.fullname),
        *(current.fullname, state),
    )
    return result


def _check_exportable(folder: RunFolder, manifest: dict[str, Any]) -> None:
    """Refuse a run that did not succeed or has no scores."""
    if not manifest:
        raise ExportError(f"{folder.path} is not a run folder: it has no {folder.manifest.name}")
    status = manifest.get("status")
    if status != "succeeded":
        raise ExportError(
            f"run {folder.name} is {status}, not succeeded: only the scores of a succeeded "
            "run are exported (a failed run never replaces what a CRM reads). How to fix: "
            "export the latest successful run (churnlab export latest)"
        )
    if not folder.scores.exists():
        skipped = [
            f"{s.get('name')}: {s.get('reason')}"
            for s in manifest.get("stages") or []
            if s.get("status") == "skipped"
        ]
        why = f" (skipped: {'; '.join(skipped)})" if skipped else ""
        raise ExportError(
            f"run {folder.name} has no {folder.scores.name}: no account was scored{why}, so "
            "there is nothing to export"
        )


def _append_history(conn: sa.Connection, history: sa.Table, run_id: str, rows: pd.DataFrame) -> int:
    """Insert the rows of ``run_id`` the history table does not hold yet; how many."""
    import sqlalchemy as sa

    query = sa.select(history.c.account_id).where(history.c.run_id == run_id)
    held = set(conn.execute(query).scalars())
    new = rows[~rows["account_id"].isin(held)] if held else rows
    bulk_insert(conn, history, new)
    return len(new)


def _replace_current(
    conn: sa.Connection, current: sa.Table, run_id: str, rows: pd.DataFrame
) -> tuple[Current, str]:
    """Replace the data set's rows when this run is newer than theirs; what happened."""
    import sqlalchemy as sa

    if rows.empty:
        return "unchanged", run_id
    first = rows.iloc[0]
    dataset = first["dataset_id"]
    mine = (first["as_of"], first["run_finished_at"].to_pydatetime())
    held = conn.execute(
        sa.select(current.c.run_id, current.c.as_of, current.c.run_finished_at, sa.func.count())
        .where(current.c.dataset_id == dataset)
        .group_by(current.c.run_id, current.c.as_of, current.c.run_finished_at)
    ).all()
    if len(held) == 1 and held[0][0] == run_id and held[0][3] == len(rows):
        return "unchanged", run_id
    for other, as_of, finished, _ in held:
        if other != run_id and (_as_date(as_of), _as_utc(finished)) >= mine:
            return "kept_newer", str(other)  # a later as_of, or a later re-run of it
    conn.execute(sa.delete(current).where(current.c.dataset_id == dataset))
    bulk_insert(conn, current, rows)
    return "replaced", run_id


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):  # SQLite returns what it stored when types are loose
        return dt.date.fromisoformat(value[:10])
    return value


def _as_utc(value: Any) -> dt.datetime:
    """A stored finish time as an aware UTC datetime (SQLite keeps no time zone)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _database_failure(exc: Exception, run_id: str, target: Target) -> str:
    """What went wrong, in the database's words (never the statement or its parameters)."""
    import sqlalchemy as sa

    original = getattr(exc, "orig", None) or exc
    said = " ".join(str(original).split())[:400]
    if isinstance(exc, sa.exc.IntegrityError):
        how = "another export wrote the same rows at the same moment: export again"
    elif target.kind != "postgresql":
        how = (
            f"check that no other program has the {target.kind} file open for writing and "
            "that its folder is writable"
        )
    elif isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        how = (
            "check that the database is running and reachable, that the database and schema "
            "exist, and the credentials in PGPASSWORD, PGPASSFILE or PGSERVICE"
        )
    else:
        how = "check the tables' permissions and the message above"
    return (
        f"could not export run {run_id} to {target.display}: {said}. Nothing was written "
        f"(one transaction, rolled back). How to fix: {how}"
    )


def _record(folder: RunFolder, record: dict[str, Any]) -> None:
    """Append ``record`` to the manifest's ``exports`` list, under the run's lock."""
    with contextlib.ExitStack() as stack:
        if fcntl is not None:
            handle = stack.enter_context(open(folder.delivery_lock, "a+b"))  # noqa: SIM115
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            stack.callback(fcntl.flock, handle.fileno(), fcntl.LOCK_UN)
        manifest = folder.read_manifest()  # fresh: keep what others wrote meanwhile
        manifest["exports"] = [*(manifest.get("exports") or []), record]
        write_json(folder.manifest, manifest)
