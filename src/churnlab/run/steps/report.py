"""The report step: ``headline.json`` and ``report.html`` from the files of the stages before.

Run by the runner after the last notebook, in its own process (no kernel).
"""

from __future__ import annotations

from churnlab.run.steps.context import StageContext

__all__ = ["run"]


def run(ctx: StageContext) -> None:
    """Render the executive report of the run (and its headline) into the run folder."""
    from churnlab.report import render_report

    render_report(ctx.folder, ctx.cfg, previous=ctx.previous, earlier_runs=ctx.earlier)
