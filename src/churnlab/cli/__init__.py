"""The ``churnlab`` command: parses arguments and calls the library.

Exit codes (see docs/scheduling.md): 0 success, 1 a run or data failure,
2 invalid usage or parameters, 3 delivery failure, 4 storage (disk full, read-only,
permission denied), 128 + N stopped by signal N (130 SIGINT, 143 SIGTERM).
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from churnlab.cli import _runs  # noqa: F401  (registers `churnlab runs`)
from churnlab.cli._common import (
    EXIT_DELIVERY,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_STORAGE,
    EXIT_USAGE,
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
from churnlab.cli._export import check_export_target, export_after_run  # `churnlab export`
from churnlab.cli._progress import LogProgress, RunProgress, print_summary
from churnlab.config import (
    DEFAULT_PARAMS_FILE,
    NO_DEFAULT,
    SCHEMA_FILE,
    ParamDoc,
    Params,
    describe_params,
    params_schema,
)
from churnlab.errors import ChurnlabError, DataError

__all__ = [
    "EXIT_DELIVERY",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_STORAGE",
    "EXIT_USAGE",
    "app",
    "main",
]


@app.command()
def params(
    params_file: ParamsFile = Path(DEFAULT_PARAMS_FILE),
    overlay: Overlay = None,
    override: Override = None,
    schema: Annotated[
        bool,
        typer.Option(
            "--schema",
            help=(
                "Print the JSON Schema of params.yaml and its overlays, nothing else "
                f"(regenerate the shipped file: churnlab params --schema > {SCHEMA_FILE})."
            ),
        ),
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Print every key by section: its type, effective value and meaning.",
        ),
    ] = False,
) -> None:
    """Print the effective parameters (params.yaml + overlays + overrides) as YAML.

    --explain: every key with its type, effective value and meaning.
    --schema: the JSON Schema editors use to complete and check params files.
    Exit codes: 0 printed, 2 invalid parameters.
    """
    if schema and explain:
        console.print("[bold red]error[/]: use --schema or --explain, not both", highlight=False)
        raise typer.Exit(EXIT_USAGE)
    if schema:
        typer.echo(json.dumps(params_schema(), indent=2))
        return
    try:
        cfg = load(params_file, overlay, override)
    except ChurnlabError as exc:
        raise fail(exc) from None
    if explain:
        _print_explained(describe_params(cfg))
        return
    out.print(cfg.to_yaml(), markup=False, highlight=False, end="")


def _print_explained(docs: list[ParamDoc]) -> None:
    """Print ``describe_params`` output: a heading per section, three lines or so per key."""
    width = max(40, min(out.width, 100))
    for number, doc in enumerate(docs):
        if doc.section:
            top = "." not in doc.path
            if top and number:
                out.print()
            heading = Text.assemble((doc.path, "bold magenta" if top else "bold"), "  ")
            heading.append(doc.description, style="italic")
            out.print(heading, highlight=False)
            continue
        line = Text.assemble(
            ("  " + doc.path, "bold"), " = ", (_shown(doc.value), "cyan"), "  ", (doc.type, "dim")
        )
        if doc.default is not NO_DEFAULT and doc.default != doc.value:
            line.append(f"  (default {_shown(doc.default)})", style="yellow")
        out.print(line, highlight=False)
        for text in textwrap.wrap(
            doc.description, width - 6, break_on_hyphens=False, break_long_words=False
        ):
            out.print(Text("      " + text), highlight=False)


def _shown(value: object) -> str:
    """A value as it reads in YAML flow style or JSON: ``"auto"``, ``[7, 28, 90]``, ``null``."""
    return json.dumps(value, ensure_ascii=False)


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
    Exit codes: 0 written (or kept), 2 invalid parameters.
    """
    from churnlab.sample import generate_sample, write_sample

    try:
        cfg = load(params_file, overlay, override)
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
        raise fail(exc) from None
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

    It checks what `churnlab run` needs: every rule of the data contract, and a history
    long enough for a label window and a backtest (it says when the label window or the
    folds are shortened to fit). Exit code 1 when the data breaks a rule (the message
    names the file, column, rule and offending rows), 2 when the parameters are invalid.
    """
    from churnlab.run.steps.data_health import check

    try:
        cfg = load(params_file, overlay, override)
        loaded, fit = check(cfg)
    except (ChurnlabError, DataError) as exc:
        raise fail(exc) from None
    out.print(str(loaded.health), markup=False, highlight=False)
    if loaded.shape == "events":
        how = "auto: the latest event or subscription start" if cfg.data.as_of == "auto" else "set"
        scored = cfg.with_data_end(loaded.data_end.date()).scoring_as_of()
        out.print(
            f"data ends on {loaded.data_end.date()} (data.as_of, {how}); "
            f"scoring date {scored} (observation.as_of)",
            markup=False,
            highlight=False,
        )
    from churnlab.run.steps.data_health import data_warnings

    for warning in [] if loaded.health.has_errors else data_warnings(loaded):
        out.print(f"warning: {warning}", markup=False, highlight=False)
    if fit is not None:
        out.print(
            f"history: a {fit.horizon_days}-day label window, {fit.n_folds} backtest fold(s), "
            f"{fit.labelled_months} labelled months",
            markup=False,
            highlight=False,
        )
        for note in fit.notes:
            out.print(f"  note: {note}", markup=False, highlight=False)
    if loaded.health.has_errors:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def run(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="DATE",
            help="Scoring date YYYY-MM-DD, or 'auto' = the last complete month on or before data.as_of.",
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="STAGE",
            help="Run only this stage (e.g. 04_explanations or 04; repeatable); the other stages' "
            "files are taken from the latest successful run of the same data set and as_of "
            "(refused, exit 2, when its data or the params those stages read changed).",
        ),
    ] = None,
    send: Annotated[
        bool,
        typer.Option(
            "--send", help="Mail the report when the run succeeds (a failure notice when it fails)."
        ),
    ] = False,
    export: Annotated[
        bool,
        typer.Option(
            "--export",
            help="Write the scores to delivery.database.url when the run succeeds (before "
            "--send; see churnlab export).",
        ),
    ] = False,
    in_process: Annotated[
        bool,
        typer.Option(
            "--in-process",
            help="Run the notebooks' steps in this process instead of executing the notebooks: "
            "faster, the same data files and report, but no executed notebooks in the run folder.",
        ),
    ] = False,
    params_file: ParamsFile = Path(DEFAULT_PARAMS_FILE),
    overlay: Overlay = None,
    override: Override = None,
) -> None:
    """Run the whole analysis (the notebooks, with papermill) and write the executive report.

    Every run is kept in `reports/runs/<as_of>_<UTC time>/` with the executed notebooks,
    CSV/JSON results, report.html, run.log and manifest.json; reports/latest moves to it
    only when it succeeds. data.as_of auto (the default for event logs) reads the data's
    last day from the files, so a scheduled run follows a growing export. Changes are
    compared with the previous run of the same data set (run.name, else the input files).
    On a terminal a progress display, elsewhere (cron) one timestamped line per stage.
    Exit codes: 0 success, 1 the run failed, 2 bad parameters or usage, 3 delivery failed,
    4 the reports folder cannot be written, 5 the export failed (--export; the report is
    still mailed with --send), 130/143 stopped by SIGINT/SIGTERM.
    """
    from churnlab.run.runner import run_pipeline

    _skip_slow_optional_imports()
    extra = list(override or [])
    if as_of is not None:
        extra.append(f"observation.as_of={as_of}")
    try:
        cfg = load(params_file, overlay, extra)
        from churnlab.run.steps.data_health import check_engine

        check_engine(cfg)  # engine: spark without pyspark or Java: exit 2 before the run
        if send:  # a bad address or setting stops the run before it starts
            from churnlab.delivery import DeliverySettings

            DeliverySettings.from_params(cfg.delivery, root=cfg.root)
        target = check_export_target(cfg) if export else None  # no database: exit 2 now
        progress = RunProgress(out) if out.is_terminal else LogProgress(out)
        with progress:
            result = run_pipeline(
                cfg,
                only=only or (),
                progress=progress,
                in_process=in_process,
                command=_command(params_file, overlay, override, in_process),
            )
    except ChurnlabError as exc:
        raise fail(exc) from None
    print_summary(result)
    if result.signal is not None:  # stopped: no mail, the manifest says interrupted
        raise typer.Exit(128 + result.signal)
    exported = export_after_run(cfg, target, result) if target is not None else None
    if send:
        _send_after_run(cfg, result)
    if result.manifest.get("error_kind") == "storage":
        raise typer.Exit(EXIT_STORAGE)
    if not result.succeeded:
        raise typer.Exit(EXIT_FAILED)
    if exported is not None:
        raise typer.Exit(exported)


def _skip_slow_optional_imports() -> None:
    """Keep this process from importing ``rfc3987_syntax`` (0.9 s of a 20 s demo run).

    papermill imports nbformat, nbformat imports jsonschema, and jsonschema imports the
    optional ``rfc3987_syntax`` (its ``iri`` format check) when it is installed, as
    jupyter-events' ``jsonschema[format-nongpl]`` installs it; version 1.1 builds a Lark
    grammar at import (python-jsonschema/jsonschema#1392, #1521). No notebook, schema or
    param of a run is checked for the ``iri`` format; the runner's import of papermill
    falls from 1.3 to 0.4 s, on the way to the first notebook.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def _command(
    params_file: Path, overlay: list[Path] | None, override: list[str] | None, in_process: bool
) -> list[str]:
    """``churnlab run`` with the params it was given (for the failure notice's re-run line)."""
    command = ["churnlab", "run"]
    if str(params_file) != DEFAULT_PARAMS_FILE:
        command += ["--params-file", str(params_file)]
    for path in overlay or []:
        command += ["--params", str(path)]
    for item in override or []:
        command += ["-p", item]
    return command + (["--in-process"] if in_process else [])


def _send_after_run(cfg: Params, result) -> None:
    from churnlab.delivery import (
        DeliverySettings,
        record_not_sent,
        send_failure_notice,
        send_run,
    )

    try:
        settings = DeliverySettings.from_params(cfg.delivery, root=cfg.root)
        if result.succeeded:
            sent = send_run(result.run_dir, settings)
            out.print(f"mailed the report ({sent.message_id}) to {', '.join(sent.recipients)}")
        elif settings.failure_recipients:
            send_failure_notice(result.run_dir, settings)
            out.print("mailed a failure notice to " + ", ".join(settings.failure_recipients))
        else:
            reason = "delivery.failure_recipients is empty"
            record_not_sent(result.run_dir, "failure_notice", reason)
            console.print(f"no failure notice: set delivery.failure_recipients ({reason})")
    except ChurnlabError as exc:
        raise fail(exc) from None


@app.command()
def send(
    run_dir: Annotated[
        str,
        typer.Argument(
            metavar="RUN_DIR", help="The run folder to mail, or 'latest' (reports/latest)."
        ),
    ] = "latest",
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Write the message as .eml into the run folder; send nothing."
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Send even though this run was already mailed.")
    ] = False,
    failure_notice: Annotated[
        bool,
        typer.Option(
            "--failure-notice",
            help="Mail the short failure notice of a failed run to delivery.failure_recipients.",
        ),
    ] = False,
    params_file: ParamsFile = Path(DEFAULT_PARAMS_FILE),
    overlay: Overlay = None,
    override: Override = None,
) -> None:
    """Mail a run's report to the recipients in params.yaml (delivery section).

    The body is the report's first screen (KPIs, ARR at risk, top at-risk renewals) with
    inline charts and a plain-text alternative; report.html is attached. SMTP user and
    password come only from the environment variables named in delivery.smtp
    (default CHURNLAB_SMTP_USER / CHURNLAB_SMTP_PASSWORD). A run is never mailed twice
    unless --force; when the server's answer to the message never came, the outcome is
    recorded as unknown: check the mailbox before --force. Exit codes: 0 sent, 2 bad
    parameters (no recipients, an invalid address), 3 delivery failed or outcome unknown.
    """
    from churnlab.delivery import DeliverySettings, send_failure_notice, send_run

    try:
        cfg = load(params_file, overlay, override)
        folder = resolve_run_dir(cfg, run_dir)
        settings = DeliverySettings.from_params(cfg.delivery, root=cfg.root)
        sender = send_failure_notice if failure_notice else send_run
        result = sender(folder, settings, dry_run=dry_run, force=force)
    except ChurnlabError as exc:
        raise fail(exc) from None
    if dry_run:
        out.print(f"dry run: wrote {result.eml_path} (nothing sent)")
    else:
        out.print(
            f"sent {result.kind} {result.message_id} to {', '.join(result.recipients)} "
            f"after {result.attempts} attempt(s)"
        )


def main() -> None:  # pragma: no cover - entry point
    """Console entry point."""
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
