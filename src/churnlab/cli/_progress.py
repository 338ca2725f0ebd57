"""How ``churnlab run`` shows its progress: a live display on a terminal, log lines elsewhere."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from churnlab.cli._common import out

__all__ = ["LogProgress", "RunProgress", "print_summary"]


class RunProgress:
    """A rich progress display: one bar for the pipeline, one per running notebook's cells.

    Stages that do not need each other run at once (``run.parallel_stages``): each has its
    own bar. Cell events come from the threads that run the notebooks; rich's display
    takes updates from any thread.
    """

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.overall = None
        self.tasks: dict[str, object] = {}
        self.cells_seen: set[str] = set()

    def __enter__(self) -> RunProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, event: str, info: dict) -> None:
        p = self.progress
        if event == "start":
            self.overall = p.add_task("pipeline", total=len(info["stages"]))
        elif event == "stage_start":
            self.tasks[info["name"]] = p.add_task(f"  {info['name']}", total=None)
        elif event == "cell" and info["name"] in self.tasks:
            self.cells_seen.add(info["name"])
            p.update(self.tasks[info["name"]], total=info["total"], completed=info["done"])
        elif event == "stage_end" and info["name"] in self.tasks:
            task = self.tasks.pop(info["name"])
            if info["name"] not in self.cells_seen:  # in-process: no cell progress, one step
                p.update(task, total=1, completed=1)
            status = info["record"]["status"]
            mark = {"succeeded": "[green]ok[/]", "skipped": "[yellow]skipped[/]"}.get(
                status, "[red]FAILED[/]"
            )
            p.update(task, description=f"  {info['name']} {mark}")
            if self.overall is not None:
                p.advance(self.overall)


class LogProgress:
    """Progress for logs (cron, systemd, Airflow): one timestamped line per stage, UTC."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def line(self, text: str) -> None:
        import datetime as dt

        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.console.print(f"{stamp} {text}", markup=False, highlight=False)

    def __call__(self, event: str, info: dict) -> None:
        if event == "start":
            self.line(f"run started: {info['run_dir']} ({len(info['stages'])} stages)")
        elif event == "stage_start":
            self.line(f"stage {info['name']} started")
        elif event == "stage_end":
            record = info["record"]
            extra = f": {record['reason']}" if record.get("reason") else ""
            self.line(
                f"stage {info['name']} {record['status']} in "
                f"{record.get('duration_s', 0.0):.1f} s{extra}"
            )
        elif event == "end":
            result = info["result"]
            self.line(f"run {result.status}: {result.run_dir}")


def print_summary(result) -> None:
    m = result.manifest
    if result.signal is not None:
        out.print(
            Text.assemble(
                ("run interrupted", "red"),
                f" by {m.get('signal')}: {result.run_dir} (manifest status interrupted; "
                "reports/latest unchanged)",
            )
        )
        return
    if m.get("error_kind") == "storage":
        out.print(
            Text.assemble(("run failed", "red"), f": {result.run_dir}: {m.get('storage_error')}")
        )
        return
    if result.succeeded:
        out.print(
            Text.assemble(
                ("run succeeded", "green"), f" in {m['duration_s']:.0f}s: {result.run_dir}"
            )
        )
        for stage in result.stages:
            if stage["status"] == "skipped":
                out.print(f"  {stage['name']} skipped: {stage.get('reason')}", markup=False)
        out.print(f"report: {result.report}", markup=False, highlight=False)
    else:
        out.print(Text.assemble(("run failed", "red"), f": {result.run_dir}"))
        for stage in result.stages:
            if stage["status"] == "failed":
                err = stage.get("error", {})
                where = (
                    f"cell {err.get('cell_index')}"
                    if err.get("cell_index") is not None
                    else err.get("during") or ("setup" if stage.get("notebook") else "in-process")
                )
                out.print(
                    f"  {stage['name']} ({where}): {err.get('ename')}: {err.get('evalue')}",
                    markup=False,
                    highlight=False,
                )
                if stage.get("notebook"):
                    out.print(
                        f"  executed notebook with the error: {result.run_dir / stage['notebook']}",
                        markup=False,
                    )
                out.print("  the traceback is in the manifest (stages[].error.traceback)")
        out.print("reports/latest still points to the previous successful run.")
