"""A papermill engine that reports cell progress to a callback (for the run progress display)."""

from __future__ import annotations

from collections.abc import Callable

from papermill.engines import NBClientEngine, papermill_engines

ENGINE_NAME = "churnlab"


class ProgressEngine(NBClientEngine):
    """papermill's nbclient engine, calling ``cell_callback(done, total)`` after each cell."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, cell_callback=None, **kwargs):
        callback: Callable[[int, int], None] | None = cell_callback
        if callback is not None:
            total = len(nb_man.nb.cells)
            original = nb_man.cell_complete
            state = {"done": 0}

            def cell_complete(cell, cell_index=None, **kw):
                original(cell, cell_index=cell_index, **kw)
                state["done"] += 1
                callback(state["done"], total)

            nb_man.cell_complete = cell_complete
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


def register_engine() -> str:
    """Register the engine with papermill (idempotent) and return its name."""
    papermill_engines.register(ENGINE_NAME, ProgressEngine)
    return ENGINE_NAME
