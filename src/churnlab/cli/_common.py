"""What every ``churnlab`` command shares: the app, the consoles, the options, the exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from churnlab.config import Params, load_params
from churnlab.errors import DeliveryError, ParamsError, StorageError, UsageError

__all__ = [
    "EXIT_DELIVERY",
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
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DELIVERY, EXIT_STORAGE = 0, 1, 2, 3, 4

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
)
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

ParamsFile = Annotated[
    Path, typer.Option("--params-file", help="Main params file (defaults of the project).")
]
Overlay = Annotated[
    list[Path] | None,
    typer.Option("--params", help="Overlay YAML merged on top of params.yaml (repeatable)."),
]
Override = Annotated[
    list[str] | None,
    typer.Option("-p", "--set", help="Override one value, e.g. -p model.seed=7 (repeatable)."),
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
    label = type(exc).__name__
    # the message is text, never markup: "-p 'delivery.recipients=[a@b.c]'" keeps its brackets
    console.print(Text.assemble(("error", "bold red"), f" ({label}): {exc}"), highlight=False)
    return typer.Exit(code)
