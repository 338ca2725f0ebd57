"""The ``churnlab`` command: parses arguments and calls the library.

Exit codes (see docs/scheduling.md): 0 success, 1 a run or data failure,
2 invalid usage or parameters, 3 delivery failure.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from churnlab.config import DEFAULT_PARAMS_FILE, Params, load_params
from churnlab.errors import ChurnlabError, DataError, DeliveryError, ParamsError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DELIVERY = 0, 1, 2, 3

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
console = Console(stderr=True)
out = Console()

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


def _params(params_file: Path, overlays: list[Path] | None, overrides: list[str] | None) -> Params:
    return load_params(params_file, overlays or [], overrides or [])


def _fail(exc: Exception) -> typer.Exit:
    code = EXIT_FAILED
    if isinstance(exc, ParamsError):
        code = EXIT_USAGE
    elif isinstance(exc, DeliveryError):
        code = EXIT_DELIVERY
    label = type(exc).__name__
    console.print(f"[bold red]error[/] ({label}): {exc}", markup=True, highlight=False)
    return typer.Exit(code)


@app.command()
def params(
    params_file: ParamsFile = Path(DEFAULT_PARAMS_FILE),
    overlay: Overlay = None,
    override: Override = None,
) -> None:
    """Print the effective parameters (params.yaml + overlays + overrides) as YAML."""
    try:
        cfg = _params(params_file, overlay, override)
    except ChurnlabError as exc:
        raise _fail(exc) from None
    out.print(cfg.to_yaml(), markup=False, highlight=False, end="")


@app.command()
def sample(
    accounts: Annotated[
        int | None,
        typer.Option("--accounts", "-n", help="Number of accounts (default: sample.n_accounts)."),
    ] = None,
    months: Annotated[
        int | None, typer.Option(help="Months of history (default: sample.months).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: sample.seed).")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: sample.out_dir).")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Replace existing sample files in the folder.")
    ] = False,
    params_file: ParamsFile = Path(DEFAULT_PARAMS_FILE),
    overlay: Overlay = None,
    override: Override = None,
) -> None:
    """Generate the built-in B2B SaaS sample data (Parquet + ground truth) under data/sample.

    The data is deterministic for a given seed. Existing files are kept unless --force:
    a generated sample is never overwritten by accident.
    """
    from churnlab.sample import generate_sample, write_sample

    try:
        cfg = _params(params_file, overlay, override)
        target = cfg.path(out_dir or cfg.sample.out_dir)
        existing = sorted(target.glob("*.parquet")) if target.exists() else []
        if existing and not force:
            console.print(
                f"sample data already exists in {target} ({len(existing)} Parquet files); "
                "keeping it. Use --force to regenerate."
            )
            return
        n = accounts or cfg.sample.n_accounts
        with console.status(
            f"generating {n:,} accounts over {months or cfg.sample.months} months..."
        ):
            data = generate_sample(
                n_accounts=n,
                months=months or cfg.sample.months,
                end_date=str(cfg.sample.end_date),
                seed=cfg.sample.seed if seed is None else seed,
                touch_thresholds=cfg.tiers.thresholds,
            )
            files = write_sample(data, target)
    except ChurnlabError as exc:
        raise _fail(exc) from None
    out.print(
        f"wrote {len(data.accounts):,} accounts, {len(data.subscriptions):,} subscriptions, "
        f"{len(data.events):,} events to {target}"
    )
    for name, path in files.items():
        out.print(f"  {name}: {path}")


@app.command()
def validate(
    params_file: ParamsFile = Path(DEFAULT_PARAMS_FILE),
    overlay: Overlay = None,
    override: Override = None,
) -> None:
    """Load the configured input data, check every rule and print the data-health summary.

    Exit code 1 when the data breaks a rule (the message names the file, column,
    rule and offending rows), 2 when the parameters are invalid.
    """
    from churnlab.pipeline import load_inputs

    try:
        cfg = _params(params_file, overlay, override)
        loaded = load_inputs(cfg)
    except (ChurnlabError, DataError) as exc:
        raise _fail(exc) from None
    out.print(loaded.health)
    if loaded.health.has_errors:
        raise typer.Exit(EXIT_FAILED)


def main() -> None:  # pragma: no cover - entry point
    """Console entry point."""
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
