"""What every ``churnlab`` command shares: the app, the consoles, the options, the exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from churnlab.config import Params, load_params
from churnlab.errors import DeliveryError, ExportError, ParamsError, StorageError, UsageError

__all__ = [
    "EXIT_DELIVERY",
    "EXIT_EXPORT",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_STORAGE",
    "EXIT_USAGE",
    "Overlay",
    "Override",
    "ParamsFile",
    "app",
    "console",
    "fail",
    "load",
    "out",
    "resolve_run_dir",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DELIVERY, EXIT_STORAGE = 0, 1, 2, 3, 4
EXIT_EXPORT = 5  # churnlab export, run --export: the scores could not be written


def _plain_type(self: typer.core.TyperOption | typer.core.TyperArgument, ctx: object) -> str | None:
    """The value column of ``--help``: nothing for a flag, else the metavar or a plain word.

    Typer prints Python types (``<bool>``, ``<list[Path]>``); a flag takes no value, a
    repeatable option takes one value per use and an argument is named by its metavar, so
    churnlab shows ``FILE``, ``KEY=VALUE``, ``DATE``, or Click's words (``TEXT``,
    ``INTEGER``, ``PATH``).
    """
    if isinstance(self, typer.core.TyperArgument):
        return None  # its name (the metavar) is shown in the column before
    if self.metavar is not None:
        return self.metavar
    if getattr(self, "is_flag", False) and not getattr(self, "count", False):
        return None
    label = _TYPER_DISPLAY[type(self)](self, ctx) or ""
    label = label.strip("<>.").removeprefix("list[").removesuffix("]")
    return {"str": "TEXT", "int": "INTEGER", "float": "NUMBER"}.get(label, label.upper())


_TYPER_DISPLAY = {
    cls: cls.display_type_rich for cls in (typer.core.TyperOption, typer.core.TyperArgument)
}
for _cls in _TYPER_DISPLAY:
    _cls.display_type_rich = _plain_type  # type: ignore[method-assign,assignment]

app = typer.Typer(
    name="churnlab",
    help=(
        "churnlab: churn analysis and prediction for customer-success teams.\n\n"
        "Start with `churnlab sample` (built-in SaaS sample data), `churnlab validate` "
        "(data-health summary) and `churnlab params` (effective parameters). "
        "Defaults live in params.yaml; layer your own with --params FILE or -p key=value."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

ParamsFile = Annotated[
    Path,
    typer.Option(
        "--params-file", metavar="FILE", help="Main params file (defaults of the project)."
    ),
]
Overlay = Annotated[
    list[Path] | None,
    typer.Option(
        "--params", metavar="FILE", help="Overlay YAML merged on top of params.yaml (repeatable)."
    ),
]
Override = Annotated[
    list[str] | None,
    typer.Option(
        "-p",
        "--set",
        metavar="KEY=VALUE",
        help="Override one value, e.g. -p model.seed=7 (repeatable).",
    ),
]


def _print_version(value: bool) -> None:
    if value:
        from churnlab import __version__

        typer.echo(f"churnlab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    pass


def load(params_file: Path, overlays: list[Path] | None, overrides: list[str] | None) -> Params:
    return load_params(params_file, overlays or [], overrides or [])


def fail(exc: Exception) -> typer.Exit:
    code = EXIT_FAILED
    if isinstance(exc, ParamsError | UsageError):
        code = EXIT_USAGE
    elif isinstance(exc, DeliveryError):
        code = EXIT_DELIVERY
    elif isinstance(exc, StorageError):
        code = EXIT_STORAGE
    elif isinstance(exc, ExportError):
        code = EXIT_EXPORT
    label = type(exc).__name__
    # the message is text, never markup: "-p 'delivery.recipients=[a@b.c]'" keeps its brackets
    console.print(Text.assemble(("error", "bold red"), f" ({label}): {exc}"), highlight=False)
    return typer.Exit(code)


def resolve_run_dir(cfg: Params, run_dir: str) -> Path:
    """The run folder a command names: a path, or ``latest`` (the reports folder's)."""
    from churnlab.run import ReportsFolder, RunFolder

    if run_dir == "latest":
        reports = ReportsFolder(cfg.path(cfg.run.reports_dir))
        reports.check_latest()
        if not reports.latest.exists():
            raise UsageError(f"{reports.latest} does not exist yet: run `churnlab run` first")
        return reports.latest.resolve()
    folder = RunFolder(run_dir)
    if not folder.manifest.exists():
        raise UsageError(
            f"{folder.path} is not a run folder (no {folder.manifest.name}): name a folder "
            "under reports/runs/, or 'latest'"
        )
    return folder.path
