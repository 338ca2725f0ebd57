"""``churnlab runs``: list the runs, show one, compare two, prune old ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from churnlab.cli._common import Overlay, Override, ParamsFile, app, fail, load, out
from churnlab.config import DEFAULT_PARAMS_FILE
from churnlab.errors import ChurnlabError

runs_app = typer.Typer(
    name="runs",
    help=(
        "The runs in the reports folder: list them (status, as_of, data set, duration, key "
        "KPIs, delivery), show one, compare two, prune old ones."
    ),
    no_args_is_help=False,
    invoke_without_command=True,
)
app.add_typer(runs_app)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _reports(params_file: Path, overlay: list[Path] | None, override: list[str] | None):
    from churnlab.run import ReportsFolder

    cfg = load(params_file, overlay, override)
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
    if ctx.invoked_subcommand is not None:
        return
    from churnlab.run.index import list_runs, run_rows

    try:
        rows = run_rows(list_runs(_reports(params_file, overlay, override)))
    except ChurnlabError as exc:
        raise fail(exc) from None
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    if not rows:
        out.print("no runs yet: `churnlab run` makes the first")
        return
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0))
    datasets = list(dict.fromkeys(r.dataset for r in rows))
    many = len(datasets) > 1
    if not many:
        out.print(f"data set: {datasets[0]}", markup=False, highlight=False)
    columns = ["run", "status", "as_of", *(["data set"] if many else [])]
    for column in (*columns, "took", "churn", "ARR", "at risk", "mail"):
        right = column in ("took", "churn", "ARR", "at risk")
        table.add_column(
            column,
            justify="right" if right else "left",
            no_wrap=column != "data set",
            overflow="fold",
        )
    for r in rows:
        took = f"{r.duration_s:.0f}s" if r.duration_s is not None else "-"
        kpi = r.kpis
        table.add_row(
            r.run_id,
            r.status,
            r.as_of,
            *([r.dataset] if many else []),
            took,
            kpi.get("logo_churn_rate", "-"),
            kpi.get("arr", "-"),
            kpi.get("arr_at_risk", "-"),
            r.delivery,
        )
    out.print(table)


@runs_app.command("show")
def runs_show(
    run: Annotated[str, typer.Argument(help="Run id (or a unique prefix), 'latest' or a path.")],
    params_file: ParamsFile = Path(DEFAULT_PARAMS_FILE),
    overlay: Overlay = None,
    override: Override = None,
) -> None:
    """Show one run: status, dates, data set, previous run, stages, warnings, delivery."""
    from churnlab.run.index import delivery_state, find_run

    try:
        info = find_run(_reports(params_file, overlay, override), run)
    except ChurnlabError as exc:
        raise fail(exc) from None
    m = info.manifest
    lines = [
        f"run {info.name}: {info.status}",
        f"  folder      {info.folder.path}",
        f"  as_of       {m.get('as_of')}  (data up to {m.get('data_end') or 'n/a'})",
        f"  data set    {info.dataset.label}  [{info.dataset.id}]",
        f"  previous    {m.get('previous_run') or 'none (no comparable earlier run)'}",
        f"  started     {m.get('started_at')}  took {m.get('duration_s')} s",
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
    a: Annotated[str, typer.Argument(help="The earlier run (id, prefix or 'latest').")],
    b: Annotated[str, typer.Argument(help="The later run (id, prefix or 'latest').")] = "latest",
    top: Annotated[int, typer.Option(help="Accounts to list (largest health drops).")] = 10,
    params_file: ParamsFile = Path(DEFAULT_PARAMS_FILE),
    overlay: Overlay = None,
    override: Override = None,
) -> None:
    """Compare two runs: their KPIs, and the accounts whose health changed most."""
    from churnlab.run.index import diff_runs, find_run

    try:
        reports = _reports(params_file, overlay, override)
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
    out.print(f"KPIs: {first.name} -> {second.name}", markup=False)
    out.print(kpis.to_string(index=False, float_format="{:,.4g}".format), markup=False)
    changed = scores.dropna(subset=["health_change"])
    out.print(
        f"\nscores: {len(scores)} accounts, {int((changed['health_change'] != 0).sum())} changed health; largest drops:"
    )
    out.print(changed.head(top).to_string(index=False), markup=False, highlight=False)


@runs_app.command("prune")
def runs_prune(
    keep: Annotated[int, typer.Option("--keep", help="Runs to keep per data set (newest).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")
    ] = False,
    params_file: ParamsFile = Path(DEFAULT_PARAMS_FILE),
    overlay: Overlay = None,
    override: Override = None,
) -> None:
    """Delete all but the newest --keep runs of each data set.

    Never deleted: each data set's latest successful run, the run reports/latest points
    to, and a run in progress.
    """
    from churnlab.run.index import prune_runs

    try:
        removed, kept = prune_runs(_reports(params_file, overlay, override), keep, dry_run=dry_run)
    except ChurnlabError as exc:
        raise fail(exc) from None
    verb = "would delete" if dry_run else "deleted"
    for run in removed:
        out.print(f"{verb} {run.name} ({run.status})", markup=False)
    out.print(f"{verb} {len(removed)} run(s); {len(kept)} kept", markup=False)
