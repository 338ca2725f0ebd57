"""The one Jinja environment of the report and the email templates (``report/templates``).

HTML templates (``*.html.j2``) are autoescaped: account names and reasons are user data.
Text templates (``*.txt.j2``) are not. An undefined variable is an error, never an empty
string, so a renamed field fails a test instead of vanishing from the report. Filters
come from :mod:`churnlab.vocabulary` (``money``, ``rate``, ``number``, ``fixed``, ``date``,
``month``, ``tier`` ...) plus ``datauri`` (a PNG embedded in the page); every word comes
from the language's catalogue
through the global ``t``: ``{{ t("report.renewals.title") }}``, ``{{ t("x.y", n=3) }}``;
``lang`` is the language code (``<html lang>``).
"""

from __future__ import annotations

import base64
import functools
from pathlib import Path

import jinja2

from churnlab.vocabulary import vocabulary

__all__ = ["data_uri", "environment"]


@functools.cache
def environment(language: str = "en", currency: str | None = None) -> jinja2.Environment:
    """The shared template environment for ``language`` and ``currency`` (cached)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("churnlab", "report/templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",), default_for_string=True, default=False
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    words = vocabulary(language, currency)
    env.filters.update(words.filters())
    env.filters["datauri"] = data_uri
    env.globals["t"] = words.text
    env.globals["lang"] = language
    return env


def data_uri(path: str | Path) -> str:
    """A PNG file as a ``data:`` URI (the report embeds its images)."""
    payload = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:image/png;base64,{payload}"
