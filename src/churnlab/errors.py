"""The few exception types churnlab raises, one per kind of failure.

Every message names what is wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd


class ChurnlabError(Exception):
    """Base class of every error churnlab raises on purpose."""


class ParamsError(ChurnlabError):
    """``params.yaml``, an overlay or a ``-p key=value`` override is invalid."""


class DataError(ChurnlabError):
    """Input data breaks a rule of the data contract.

    Parameters
    ----------
    file : str
        The file (or table name) the data came from.
    column : str
        The offending column; ``"-"`` for a rule about the whole file.
    rule : str
        The rule that was broken, in words ("must be unique", "must be >= 0").
    rows : pandas.DataFrame, optional
        The offending rows; a few are shown in the message.
    count : int, optional
        How many rows break the rule (defaults to ``len(rows)``).
    hint : str, optional
        How to fix it.
    """

    def __init__(
        self,
        file: str,
        column: str,
        rule: str,
        rows: pd.DataFrame | None = None,
        count: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = str(file)
        self.column = column
        self.rule = rule
        self.rows = rows
        self.count = int(count if count is not None else (0 if rows is None else len(rows)))
        self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        # a rule about the whole file (missing, unreadable) names no column and no rows
        where = f"column '{self.column}' " if self.column not in ("", "-") else ""
        msg = f"{self.file}: {where}{self.rule}"
        if self.count or self.rows is not None:
            msg += f" ({self.count} offending row(s))"
        if self.rows is not None and len(self.rows):
            msg += "\n  first offending rows:\n" + _indent(self.rows.head(5).to_string())
        if self.hint:
            msg += f"\n  how to fix: {self.hint}"
        return msg


class ModelError(ChurnlabError):
    """A model cannot be trained, loaded or applied to the given data."""


class DeliveryError(ChurnlabError):
    """The report could not be delivered (SMTP, authentication, TLS)."""


class ExportError(ChurnlabError):
    """A run's scores could not be written to the database (exit code 5).

    The run is not exportable (it did not succeed, it has no scores), the database cannot
    be reached, or its tables do not match the schema (``churnlab export --migrate``).
    """


class RunError(ChurnlabError):
    """A pipeline run failed (a notebook raised, a lock is held)."""


class UsageError(ChurnlabError):
    """A request churnlab refuses before doing anything (exit code 2).

    ``--only`` asked to reuse a run of other data, params or date; the reports folder or
    its ``latest`` link is not churnlab's.
    """


class StorageError(ChurnlabError):
    """The reports folder or the cache cannot be written (exit code 4).

    The disk is full, the file system is read-only, or permission is denied. The message
    names the path and the cause.
    """


class Interrupted(BaseException):
    """The run was stopped by a signal (SIGTERM, SIGINT); its manifest says ``interrupted``.

    A ``BaseException``, like ``KeyboardInterrupt``: a stage's ``except Exception`` does
    not swallow it.

    Attributes
    ----------
    signum : int
        The signal's number; the command exits with ``128 + signum``.
    """

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = int(signum)
        super().__init__(f"stopped by {signal.Signals(self.signum).name}")


class StageSkipped(ChurnlabError):
    """A stage has nothing to do with this data (e.g. no model can be trained): not a failure.

    The runner records the stage as ``skipped`` with this message as the reason, and the
    run goes on; the report states what is missing and why. ``said``: the reason as a
    message of the catalogues (``churnlab.messages``), so the report can say it in its
    language; the runner stores it as the stage's ``reason_message``.
    """

    #: Marks the line of a notebook's error output that carries ``said`` (as JSON).
    SAID = "churnlab-said: "

    def __init__(self, reason: str, said: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.said = said

    def _render_traceback_(self) -> list[str]:
        """What IPython shows in a notebook instead of a traceback: the reason, then ``said``.

        The runner reads ``said`` back from the executed notebook's error output
        (:meth:`said_in`), so a stage skipped under papermill keeps its reason in words
        of every language, as one run in-process does.
        """
        import json

        lines = [f"{type(self).__name__}: {self}"]
        if self.said is not None:
            lines.append(self.SAID + json.dumps(self.said, ensure_ascii=False))
        return lines

    @classmethod
    def said_in(cls, traceback: Sequence[str] | None) -> dict[str, Any] | None:
        """The ``said`` message in a notebook's error output (None when it has none)."""
        import json

        for line in traceback or ():
            if line.startswith(cls.SAID):
                try:
                    said = json.loads(line[len(cls.SAID) :])
                except ValueError:
                    return None
                return said if isinstance(said, dict) else None
        return None


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def format_rows(values: Sequence[object], limit: int = 5) -> str:
    """Render a few offending values for an error message."""
    shown = ", ".join(repr(v) for v in list(values)[:limit])
    more = len(values) - limit
    return shown + (f", ... and {more} more" if more > 0 else "")
