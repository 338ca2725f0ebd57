"""The report step: ``headline.json`` and ``report.html`` from the files of the stages before.

Run by the runner after the last notebook, in its own process (no kernel).
"""

from __future__ import annotations

from typing import Any

from churnlab.run.steps.context import StageContext

__all__ = ["run", "warm_up"]


def run(ctx: StageContext) -> None:
    """Render the executive report of the run (and its headline) into the run folder."""
    from churnlab.report import render_report

    render_report(ctx.folder, ctx.cfg, previous=ctx.previous, earlier_runs=ctx.earlier)


def warm_up(cfg: Any) -> None:
    """Import what the report needs and compile its templates, ahead of the report.

    The runner calls it on a thread while the last notebook runs (#21): in the runner's process
    the report would otherwise start by importing matplotlib, the KPI charts (and Ibis
    through them) and compiling its Jinja templates, about 1 s of the demo's last step.
    An error here is left for the report itself to meet and record.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)  # as the report's own charts (no display)
    import matplotlib.pyplot  # noqa: F401

    import churnlab.plots.kpis  # noqa: F401
    from churnlab.report import render_report  # noqa: F401
    from churnlab.report.templating import environment
    from churnlab.vocabulary import vocabulary

    words = vocabulary(cfg.report.language, cfg.report.currency)
    env = environment(words.language, words.currency)
    for name in env.list_templates(extensions=["j2"]):
        env.get_template(name)
