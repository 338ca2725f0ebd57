"""Running churnlab: the run folder, the stages, the runner and the steps behind the notebooks.

- :mod:`~churnlab.run.folder`: :class:`RunFolder`, every file of a run defined once, and
  :class:`ReportsFolder` (``runs/``, ``latest``, the run lock).
- :mod:`~churnlab.run.stages`: the stages in order, with what each reads and writes.
- :mod:`~churnlab.run.steps`: one module per notebook, callable in-process.
- :mod:`~churnlab.run.runner`: :func:`~churnlab.run.runner.run_pipeline`.
- :mod:`~churnlab.run.record`: what the manifest records (inputs, versions, errors).

This package's face names only the run folder, so that the report and delivery, which
read run folders, do not load the whole pipeline: import the runner from
:mod:`churnlab.run.runner`.
"""

from churnlab.run.folder import CHARTS, LAYOUT_VERSION, ReportsFolder, RunFile, RunFolder

__all__ = ["CHARTS", "LAYOUT_VERSION", "ReportsFolder", "RunFile", "RunFolder"]
