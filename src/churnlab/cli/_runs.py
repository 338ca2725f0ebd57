"""``churnlab runs``: list the runs, show one, compare two, prune old ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from churnlab.cli._common import Overlay, Override, ParamsFile, app, fail, load, out
from churnlab.config import DEFAULT_PARAMS_FILE
from churnlab.errors import ChurnlabError

runs_app = typer.Typer(
    name="runs",
    help=(
        "The runs in the reports folder: list them (status, as_of, data set, duration, key "
        "KPIs, delivery), show one, compare two, prune old ones. Exit codes: 0 success, "
        "2 invalid parameters or no such run."
    ),
    no_args_is_help=False,
    invoke_without_command=True,
)
app.add_typer(runs_app)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _reports(
    ctx: typer.Context,
    params_file: Path,
    overlay: list[Path] | None,
    override: list[str] | None,
):
    """The reports folder of the params given to ``runs`` and to its subcommand."""
    from churnlab.run import ReportsFolder

    group = ctx.obj if isinstance(ctx.obj, dict) else {}
    if str(params_file) == DEFAULT_PARAMS_FILE:
        params_file = group.get("params_file", params_file)
    overlays = [*group.get("overlay", []), *(overlay or [])]
    overrides = [*group.get("override", []), *(override or [])]
    cfg = load(params_file, overlays, overrides)
    return ReportsFolder(cfg.path(cfg.run.reports_dir))


@runs_app.callback()
def runs_list(
    ctx: typer.Context,
    as_json: AsJson = False,
    params_file: ParamsFile = Path(DEFAULT_PARAMS_FILE),
    overlay: Overlay = None,
    override: Override = None,
) -> None:
    """List the runs, oldest first: status, as_of, data set, duration, KPIs, delivery.

    Status "abandoned?" marks a run whose process is gone without recording an end; the
    next run marks it abandoned. Delivery "unknown" means the mail server may or may not
    have stored the report: check the mailbox before `churnlab send --force`.
    """
    if ctx.invoked_subcommand is not None:  # `runs --params X show ...`: X counts too
        ctx.obj = {"params_file": params_file, "overlay": overlay or [], "override": override or []}
        return
    from churnlab.run.index import list_runs, run_rows

    try:
        rows = run_rows(list_runs(_reports(ctx, params_file, overlay, override)))
    except ChurnlabError as exc:
        raise fail(exc) from None
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    if not rows:
        out.print("no runs yet: `churnlab run` makes the first")
        return
    datasets = list(dict.fromkeys(r.dataset for r in rows))
    for number, dataset in enumerate(datasets):  # one table per data set: fits 80 columns
        if number:
            out.print()
        out.print(f"data set: {dataset}", markup=False, highlight=False)
        out.print(_table([r for r in rows if r.dataset == dataset]))


def _table(rows: list) -> Table:
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0))
    for column in ("run", "status", "as_of", "took", "churn", "ARR", "at risk", "mail"):
        right = column in ("took", "churn", "ARR", "at risk")
        table.add_column(column, justify="right" if right else "left", no_wrap=True)
    for r in rows:
        took = f"{r.duration_s:.0f}s" if r.duration_s is not None else "-"
        kpi = r.kpis
        table.add_row(
            r.run_id,
            r.status,
            r.as_of,
            took,
            kpi.get("logo_churn_rate", "-"),
            kpi.get("arr", "-"),
            kpi.get("arr_at_risk", "-"),
            r.delivery,
        )
    return table


@runs_app.command("show")
def runs_show(
    ctx: typer.Context,
    run: Annotated[
        str, typer.Argument(metavar="RUN", help="Run id (or a unique prefix), 'latest' or a path.")
    ],
    params_file: ParamsFile = Path(DEFAULT_PARAMS_FILE),
    overlay: Overlay = None,
    override: Override = None,
) -> None:
    """Show one run: status, dates, data set, previous run, stages, warnings, delivery.

    Exit codes: 0 shown, 2 invalid parameters or no such run.
    """
    from churnlab.run.index import delivery_state, find_run, status

    try:
        info = find_run(_reports(ctx, params_file, overlay, override), run)
    except ChurnlabError as exc:
        raise fail(exc) from None
    m = info.manifest
    lines = [
        f"run {info.name}: {status(info)}",
        f"  folder      {info.folder.path}",
        f"  as_of       {m.get('as_of')}  (data up to {m.get('data_end') or 'n/a'})",
        f"  data set    {info.dataset.label}  [{info.dataset.id}]",
        f"  previous    {m.get('previous_run') or 'none (no comparable earlier run)'}",
        f"  started     {m.get('started_at')}"
        + (f"  took {m['duration_s']} s" if m.get("duration_s") is not None else ""),
        f"  delivery    {delivery_state(m)}",
    ]
    if m.get("reused_from"):
        reused = m["reused_from"]
        lines.append(f"  reused      {', '.join(reused['stages'])} from {reused['run']}")
    for stage in m.get("stages") or []:
        extra = stage.get("reason") or (stage.get("error") or {}).get("evalue") or ""
        lines.append(f"  stage {stage['name']:<22} {stage['status']:<12} {extra}"[:160].rstrip())
    for warning in m.get("warnings") or []:
        lines.append(f"  warning: {warning}")
    for line in lines:
        out.print(line, markup=False, highlight=False)


@runs_app.command("diff")
def runs_diff(
    ctx: typer.Context,
    a: Annotated[
        str, typer.Argument(metavar="RUN_A", help="The earlier run (id, prefix or 'latest').")
    ],
    b: Annotated[
        str, typer.Argument(metavar="RUN_B", help="The later run (id, prefix or 'latest').")
    ] = "latest",
    top: Annotated[int, typer.Option(help="Accounts to list (largest health drops).")] = 10,
    params_file: ParamsFile = Path(DEFAULT_PARAMS_FILE),
    overlay: Overlay = None,
    override: Override = None,
) -> None:
    """Compare two runs: their KPIs, and the accounts whose health changed most.

    Exit codes: 0 compared, 2 invalid parameters or no such run.
    """
    from churnlab.run.index import diff_runs, find_run

    try:
        reports = _reports(ctx, params_file, overlay, override)
        first, second = find_run(reports, a), find_run(reports, b)
        kpis, scores = diff_runs(first, second)
    except ChurnlabError as exc:
        raise fail(exc) from None
    if first.dataset.id != second.dataset.id:
        out.print(
            f"note: the runs are of different data sets ({first.dataset.label} / "
            f"{second.dataset.label}): the accounts may not be the same",
            markup=False,
        )
    from churnlab.vocabulary import vocabulary

    words = vocabulary()

    def shown(kind: str | None, value: object) -> str:
        if value is None or value != value:  # missing, NaN
            return "-"
        return words.rate(value) if kind == "rate" else words.money(value)

    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0))
    for column in (
        "KPI",
        first.as_of and str(first.as_of) or first.name,
        str(second.as_of or second.name),
        "change",
    ):
        table.add_column(column, justify="left" if column == "KPI" else "right")
    for row in kpis.itertuples(index=False):
        table.add_row(
            str(row.label or row.kpi),
            shown(row.kind, row.a),
            shown(row.kind, row.b),
            words.change(row.kind or "money", row.change),
        )
    out.print(f"{first.name} -> {second.name}", markup=False)
    out.print(table)
    changed = scores.dropna(subset=["health_change"])
    moved = int((changed["health_change"] != 0).sum())
    out.print(f"\n{len(scores)} accounts, {moved} changed health; the largest drops:")
    drops = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0))
    for column in ("account", "name", "health", "band", "probability"):
        drops.add_column(column, justify="right" if column in ("health", "probability") else "left")
    for row in changed.head(top).itertuples(index=False):
        drops.add_row(
            str(row.account_id),
            "" if pd.isna(row.name) else str(row.name),
            f"{row.health_a:.0f} -> {row.health_b:.0f}",
            f"{row.band_a} -> {row.band_b}",
            f"{100 * row.probability_change:+.1f} pp",
        )
    out.print(drops)


@runs_app.command("prune")
def runs_prune(
    ctx: typer.Context,
    keep: Annotated[
        int, typer.Option("--keep", help="Successful runs to keep per data set (newest).")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")
    ] = False,
    params_file: ParamsFile = Path(DEFAULT_PARAMS_FILE),
    overlay: Overlay = None,
    override: Override = None,
) -> None:
    """Delete all but the newest --keep successful runs of each data set.

    Also kept: the run reports/latest points to, a run in progress, and failed or
    interrupted runs newer than a data set's newest success. The track record looks back
    at runs whose label window has closed (4-5 months with the defaults): keep 6 or more.
    Exit codes: 0 pruned (or listed with --dry-run), 2 invalid parameters or a --keep of zero.
    """
    from churnlab.run.index import prune_runs

    try:
        reports = _reports(ctx, params_file, overlay, override)
        removed, kept = prune_runs(reports, keep, dry_run=dry_run)
    except ChurnlabError as exc:
        raise fail(exc) from None
    verb = "would delete" if dry_run else "deleted"
    for run in removed:
        out.print(f"{verb} {run.name} ({run.status})", markup=False)
    out.print(f"{verb} {len(removed)} run(s); {len(kept)} kept", markup=False)
