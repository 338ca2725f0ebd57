"""``churnlab export``, and the export of ``churnlab run --export``: scores to a database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from churnlab.cli._common import (
    EXIT_EXPORT,
    Overlay,
    Override,
    ParamsFile,
    app,
    console,
    fail,
    load,
    out,
    resolve_run_dir,
)
from churnlab.config import DEFAULT_PARAMS_FILE, Params
from churnlab.errors import ChurnlabError, UsageError

if TYPE_CHECKING:
    from churnlab.export import ExportResult, Target

__all__ = ["check_export_target", "export_after_run"]


@app.command()
def export(
    run_dir: Annotated[
        str,
        typer.Argument(
            metavar="RUN_DIR", help="The run folder to export, or 'latest' (reports/latest)."
        ),
    ] = "latest",
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="URL",
            help="The database: postgresql://user@host/db, duckdb:///path/scores.duckdb or "
            "sqlite:///path/scores.sqlite (default: delivery.database.url). Never a password: "
            "PostgreSQL reads it from PGPASSWORD, PGPASSFILE or PGSERVICE.",
        ),
    ] = None,
    migrate: Annotated[
        bool,
        typer.Option(
            "--migrate",
            help="Add the columns this churnlab writes that existing tables lack (nullable); "
            "without it such a table is refused with the missing columns named.",
        ),
    ] = False,
    params_file: ParamsFile = Path(DEFAULT_PARAMS_FILE),
    overlay: Overlay = None,
    override: Override = None,
) -> None:
    """Write a run's scores to the database tables a CRM sync reads (see docs/crm.md).

    Two tables (names in delivery.database): churn_scores_history gets every exported run,
    one row per run and account; churn_scores_current holds the newest run of each data set,
    replaced in one transaction only by a newer successful run (a later as_of, then a later
    finish time). Exporting the same run again changes nothing; a failed run is never
    exported. The manifest records the export (the database without credentials, rows,
    time). Exit codes: 0 exported (or already there), 2 bad parameters or usage (a URL with
    a password, no database named), 5 the export failed (the run did not succeed, the
    database cannot be reached, a table does not match the schema: see --migrate).
    """
    try:
        cfg = load(params_file, overlay, override)
        target = check_export_target(cfg, to)
        folder = resolve_run_dir(cfg, run_dir)
        result = _export(cfg, folder, target, migrate=migrate)
    except ChurnlabError as exc:
        raise fail(exc) from None
    _print_result(result)


def check_export_target(cfg: Params, url: str | None = None) -> Target:
    """The database to export to: ``url`` (``--to``), else ``delivery.database.url``.

    Raises
    ------
    UsageError
        Neither names a database, or the URL carries a password.
    """
    from churnlab.export import parse_target

    if url is not None:
        return parse_target(url, source="--to")
    if cfg.delivery.database.url is None:
        raise UsageError(
            "no database to export to. How to fix: give --to URL (e.g. "
            "duckdb:///reports/scores.duckdb) or set delivery.database.url in your params"
        )
    return parse_target(cfg.delivery.database.url, root=cfg.root, source="delivery.database.url")


def _export(cfg: Params, folder: Path, target: Target, *, migrate: bool) -> ExportResult:
    from churnlab.export import export_run

    database = cfg.delivery.database
    return export_run(
        folder,
        target,
        history_table=database.history_table,
        current_table=database.current_table,
        migrate=migrate,
    )


def _print_result(result: ExportResult) -> None:
    current = {
        "replaced": f"now holds this run ({result.rows:,} rows)",
        "unchanged": "already held this run",
        "kept_newer": f"kept the newer run {result.current_run}",
    }[result.current]
    for column in result.migrated:
        out.print(f"migrated: added column {column}", markup=False, highlight=False)
    out.print(
        f"exported {result.run_id} to {result.target}: {result.history_added:,} of "
        f"{result.rows:,} rows added to {result.history_table}; {result.current_table} "
        f"{current}",
        markup=False,
        highlight=False,
    )


def export_after_run(cfg: Params, target: Target, result: object) -> int | None:
    """Export a finished run (``churnlab run --export``); the exit code when it failed.

    Only a succeeded run is exported. A failed export is said on stderr and recorded in
    the manifest; the caller goes on (to ``--send``) and exits with the code returned.
    """
    if not getattr(result, "succeeded", False):
        out.print("not exported: the run did not succeed", markup=False, highlight=False)
        return None
    try:
        _print_result(_export(cfg, result.run_dir, target, migrate=False))  # type: ignore[attr-defined]
    except ChurnlabError as exc:
        label = type(exc).__name__
        console.print(Text.assemble(("export failed", "bold red"), f" ({label}): {exc}"))
        return EXIT_EXPORT
    return None
