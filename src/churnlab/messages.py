"""Sentences the stages write into run files, stored so the report can say them in its language.

A stage that writes a sentence a reader sees (a cohort finding, the model summary, a
drift warning, a data-health note) stores it twice: the English text under the key it
always had (``summary``: the notebooks, ``churnlab runs``, the manifest read it) and,
beside it, the same sentence as a **message** (``summary_message``)::

    {"key": "messages.model.summary", "fields": {"model": "lightgbm", "auc": 0.76, ...},
     "text": "The lightgbm model ranks a churning account above ..."}

``key`` names the sentence in the catalogues (``locales/<language>/messages.yaml``),
``fields`` hold its raw parts (numbers, ISO dates, feature and tier names, nested
messages) and ``text`` is the sentence rendered in English from the same catalogue, so
every sentence has one definition. The report renders the message in its own language
(:func:`render_message`, :func:`in_language`); a run file written before messages existed
has no ``*_message`` key, and the report shows its English text.

**Placeholders** name how their field is shown, after a colon, so each language formats
it its own way through :class:`~churnlab.vocabulary.Vocabulary`:

=================  ==============================================================
``{x}``            a nested message rendered; a list joined; a number as ``number``
``{x:number}``     :meth:`Vocabulary.number` (``1,234``, ``12.3``, ``0.45``)
``{x:fixed1}``     :meth:`Vocabulary.fixed`: exactly 1 decimal (``fixed0`` ... ``fixed3``)
``{x:rate}``       :meth:`Vocabulary.rate` with 1 decimal (``rate0`` ... ``rate2``)
``{x:money}``      :meth:`Vocabulary.money` (``money_exact`` too)
``{x:date}``       :meth:`Vocabulary.date` of an ISO date (``month`` too)
``{x:feature}``    the feature's label inside a sentence; ``Feature`` its label
``{x:tier}``       a touch tier's label (``band``: a health band's)
``{x:word}``       a catalogue word, ``messages.words.<x>`` ("higher", "lower")
``{x:level}``      a category value in words where the catalogue has them (NPS)
``{x:plain}``      the value as it is (a run id, a column name, a year)
``{x:clauses}``    a list of messages, joined as clauses
=================  ==============================================================

A list field is shown item by item in its placeholder's format, joined by the
language's ``messages.list_separator`` (``{x:clauses}``: by ``messages.clause_separator``);
a field ``{"text": "..."}`` is a literal (a label the caller chose, a loader's words). This
module imports only the vocabulary: every layer may use it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import string
from collections.abc import Callable, Mapping
from typing import Any

from churnlab.vocabulary import Vocabulary, vocabulary

__all__ = [
    "Message",
    "SPECS",
    "in_language",
    "literal",
    "message",
    "render_message",
    "row_reason",
    "rows_in_language",
]

#: A sentence stored in a run file: ``{"key", "fields", "text"}`` (``text`` alone: literal).
Message = dict[str, Any]

#: The field formats a catalogue placeholder may name (see the module docstring).
SPECS = (
    "",
    "number",
    "fixed0",
    "fixed1",
    "fixed2",
    "fixed3",
    "rate",
    "rate0",
    "rate1",
    "rate2",
    "money",
    "money_exact",
    "date",
    "month",
    "feature",
    "Feature",
    "tier",
    "band",
    "word",
    "level",
    "plain",
    "clauses",
)


def message(key: str, **fields: Any) -> Message:
    """A sentence of the catalogues as a run file stores it, with its English text.

    Parameters
    ----------
    key : str
        The sentence's dotted key in ``locales/<language>/messages.yaml``
        (``"messages.model.summary"``).
    **fields
        Its raw parts: numbers, ISO dates (dates and timestamps are stored as ISO
        text), names, lists, nested messages. NaN is stored as None ("n/a").

    Returns
    -------
    dict
        ``{"key": key, "fields": {...}, "text": <English>}``, JSON-ready.
    """
    plain = {name: _plain(value) for name, value in fields.items()}
    out: Message = {"key": key, "fields": plain}
    out["text"] = render_message(out, vocabulary("en"))
    return out


def literal(text: str) -> Message:
    """A sentence that has no catalogue key (shown as it is in every language)."""
    return {"text": text}


def row_reason(reason: str) -> Message:
    """Why a loader excluded or flagged rows (its English words), as a message.

    The catalogues say the loaders' reasons under ``messages.rows.<name>``, whose English
    text is the reason the loader stores (with ``{field:plain}`` parts, such as a column
    name, read back from the text); a reason they do not know is a literal.
    """
    reasons = vocabulary("en").catalogue["messages"]["rows"]
    for name, text in reasons.items():
        fields = _fields_of(str(text), reason)
        if fields is not None and "{reason}" not in str(text):
            return message(f"messages.rows.{name}", **fields)
    return literal(reason)


def _fields_of(template: str, text: str) -> dict[str, str] | None:
    """The ``{field:plain}`` values that make ``template`` read ``text`` (None: no match)."""
    parts = re.split(r"\{(\w+)(?::plain)?\}", template)
    pattern = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
    )
    found = re.fullmatch(pattern, text)
    return None if found is None else found.groupdict()


def rows_in_language(rows: Mapping[str, Any], words: Vocabulary) -> dict[str, Any]:
    """``data_health.json``'s ``rejected_rows`` (``"<table>: <reason>"`` -> count) in words.

    A key whose reason the catalogues do not know keeps its English text.
    """
    out: dict[str, Any] = {}
    for key, count in rows.items():
        table, sep, reason = str(key).partition(": ")
        said = str(key)
        if sep:
            said = render_message(
                message("messages.rows.item", table=table, reason=row_reason(reason)), words
            )
        out[said] = out.get(said, 0) + count
    return out


def render_message(
    msg: Message | str | None,
    words: Vocabulary,
    formats: Mapping[str, Callable[[Any], str]] | None = None,
) -> str:
    """The sentence in the language of ``words``.

    Parameters
    ----------
    msg : dict or str
        A :func:`message`; a literal (``{"text": ...}``) or a plain string is returned
        as it is; a message the catalogue cannot say (a key it lacks, a field the
        sentence no longer has) falls back to its ``text``.
    words : Vocabulary
        The language (and currency) to say it in.
    formats : mapping, optional
        Field formats to use instead of the vocabulary's (spec -> callable), e.g. a
        notebook's own date format.

    Returns
    -------
    str
    """
    if msg is None:
        return ""
    if isinstance(msg, str):
        return msg
    key = msg.get("key")
    if not key:
        return str(msg.get("text", ""))
    try:
        template = words.text(str(key))
        return _Formatter(words, formats or {}).format(template, **(msg.get("fields") or {}))
    except (KeyError, ValueError, IndexError):
        if "text" in msg:  # a run written by a churnlab whose sentence differed
            return str(msg["text"])
        raise


def in_language(payload: Any, words: Vocabulary) -> Any:
    """A run file's content with its sentences in the language of ``words``.

    Every ``<name>_message`` (a message, or its JSON text in a CSV cell) replaces
    ``<name>`` with its rendering, every ``<name>_messages`` (a list) replaces the list
    ``<name>``; a list of records is mapped record by record. Content without messages
    (a run written before them) is returned unchanged: its English text is shown.

    Parameters
    ----------
    payload : dict or list of dict
        ``model_metrics.json``, ``monitoring.json``, ``data_health.json``, or the records
        of ``cohort_comparison.csv``.
    words : Vocabulary
        The report's language.

    Returns
    -------
    dict or list of dict
        A new object; ``payload`` is not changed.
    """
    if isinstance(payload, list):
        return [in_language(item, words) for item in payload]
    if not isinstance(payload, Mapping):
        return payload
    out = dict(payload)
    for name, value in payload.items():
        if name.endswith("_message"):
            msg = _parsed(value)
            if msg is not None:
                out[name.removesuffix("_message")] = render_message(msg, words)
        elif name.endswith("_messages") and isinstance(value, list):
            out[name.removesuffix("_messages")] = [render_message(_parsed(m), words) for m in value]
    return out


# ---------------------------------------------------------------------------- internals


class _Formatter(string.Formatter):
    """``str.format`` whose format specs are the field formats of :data:`SPECS`."""

    def __init__(self, words: Vocabulary, formats: Mapping[str, Callable[[Any], str]]) -> None:
        super().__init__()
        self.words = words
        self.formats = formats

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, list | tuple):
            if format_spec == "clauses":
                separator = self.words.text("messages.clause_separator")
                return separator.join(self.format_field(v, "") for v in value)
            separator = self.words.text("messages.list_separator")
            return separator.join(self.format_field(v, format_spec) for v in value)
        if format_spec in self.formats:
            return self.formats[format_spec](value)
        return _shown(value, format_spec, self.words, self.formats)


def _shown(
    value: Any, spec: str, words: Vocabulary, formats: Mapping[str, Callable[[Any], str]]
) -> str:
    """One field in the format ``spec`` names."""
    if isinstance(value, Mapping):
        return render_message(value, words, formats)  # type: ignore[arg-type]
    if spec not in SPECS:
        raise ValueError(f"unknown field format {spec!r}; known: {', '.join(SPECS[1:])}")
    if spec == "plain":
        return "" if value is None else str(value)
    if spec == "level":
        return "" if value is None else words.level_label(value)
    if spec == "word":  # a name the catalogue does not know is shown as it is
        try:
            return words.text(f"messages.words.{value}")
        except KeyError:
            return str(value)
    if spec in ("feature", "Feature", "tier", "band"):
        if value is None:
            return words.text("changes.missing")
        label = {
            "feature": words.feature_in_sentence,
            "Feature": words.feature_label,
            "tier": words.tier_label,
            "band": words.band_label,
        }[spec]
        return label(str(value))
    if spec in ("date", "month"):
        return words.date(value) if spec == "date" else words.month(value)
    if spec.startswith("rate"):
        return words.rate(value, int(spec[4:] or 1))
    if spec.startswith("money"):
        return words.money_exact(value) if spec == "money_exact" else words.money(value)
    if spec.startswith("fixed"):
        return words.fixed(value, int(spec[5:]))
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return words.text("changes.missing") if value is None else str(value)
    return words.number(value)


def _parsed(value: Any) -> Message | str | None:
    """A message as stored: a dict, or its JSON text (a CSV cell); None when empty."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str) and value.startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _plain(value: Any) -> Any:
    """A field as JSON holds it: numpy scalars as Python, dates as ISO text, NaN as None."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date) and str(value) == "NaT":  # pandas' missing timestamp
        return None
    if isinstance(value, dt.date):  # incl. pandas Timestamp
        if isinstance(value, dt.datetime) and value.time() != dt.time(0):
            return value.isoformat()
        return value.isoformat()[:10]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
