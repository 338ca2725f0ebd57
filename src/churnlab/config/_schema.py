"""The JSON Schema of ``params.yaml`` and the description of every key (``churnlab params``)."""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python

from churnlab.config._params import Params

#: The JSON Schema dialect of :func:`params_schema`.
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: The shipped schema file, next to ``params.yaml`` (``churnlab params --schema`` writes it).
SCHEMA_FILE = "params.schema.json"

_NULL: dict[str, Any] = {"type": "null"}
_ANNOTATIONS = ("description", "default", "examples")


def params_schema() -> dict[str, Any]:
    """The JSON Schema of ``params.yaml`` and of its overlays, generated from :class:`Params`.

    It is ``Params.model_json_schema()`` changed so that one schema serves the complete
    ``params.yaml`` and the partial overlays alike:

    * no key is required (an overlay sets any subset; ``params.yaml`` sets them all);
    * every value may be null, and so may each entry of a mapping such as
      ``features.ratios`` (in an overlay, null removes the entry below it, see
      :func:`deep_merge`);
    * the titles pydantic derives from the key names are dropped, and the defaults of
      lists and mappings (made by a ``default_factory``, left out by pydantic) are added.

    Unknown keys stay errors (``additionalProperties: false``), so a typo is flagged.
    Cross-field rules (the data paths of ``data.shape``, ordered tiers and health bands)
    are checked by :func:`load_params` only.

    Returns
    -------
    dict
        A JSON Schema (draft 2020-12). The shipped ``params.schema.json`` is
        ``json.dumps(params_schema(), indent=2)`` plus a newline.
    """
    generated = Params.model_json_schema()
    defs = generated.pop("$defs", {})
    models = _section_models(Params)
    _for_overlays(generated, Params)
    for name, node in defs.items():
        _for_overlays(node, models[name])
    body = {k: v for k, v in generated.items() if k not in ("title", "description")}
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "churnlab parameters",
        "description": (
            "params.yaml (every default) and the overlays layered on it with --params FILE. "
            "No key is required; in an overlay, null removes the entry below it so the default "
            "applies, and a list replaces the list below it. Generated from churnlab.config.Params: "
            "churnlab params --schema > params.schema.json. Read every key's meaning with "
            "churnlab params --explain."
        ),
        **body,
        "$defs": defs,
    }


def _section_models(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """``model`` and every section model under it, by class name (their ``$defs`` keys)."""
    found = {model.__name__: model}
    for field in model.model_fields.values():
        for inner in _models_in(field.annotation):
            found.update(_section_models(inner))
    return found


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The models an annotation names, also as values of a mapping (``dict[str, Play]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _for_overlays(node: dict[str, Any], model: type[BaseModel]) -> None:
    """Fit one model's object schema to overlays, in place: nothing required, null allowed.

    Also drops the titles pydantic derives from key names and adds the defaults made by
    a ``default_factory`` (lists and mappings), which pydantic leaves out.
    """
    node.pop("required", None)
    properties = node.get("properties", {})
    for name, prop in properties.items():
        prop.pop("title", None)
        default = model.model_fields[name].get_default(call_default_factory=True)
        plain = default is not PydanticUndefined and not isinstance(default, BaseModel)
        if plain and "default" not in prop:
            prop["default"] = to_jsonable_python(default)
        _entries_nullable(prop)
        properties[name] = _nullable(prop)


def _entries_nullable(schema: dict[str, Any]) -> None:
    """Let the entries of mapping-valued schemas (``additionalProperties``) be null, in place."""
    for branch in schema.get("anyOf", []):
        _entries_nullable(branch)
    entries = schema.get("additionalProperties")
    if isinstance(entries, dict):
        _entries_nullable(entries)
        schema["additionalProperties"] = _nullable(entries)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null: annotations (description, default) first, then ``anyOf``."""
    notes = {k: schema[k] for k in _ANNOTATIONS if k in schema}
    rest = {k: v for k, v in schema.items() if k not in notes}
    if _admits_null(rest):
        return {**notes, **rest}
    branches = rest["anyOf"] if list(rest) == ["anyOf"] else [rest]
    return {**notes, "anyOf": [*branches, _NULL]}


def _admits_null(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(_admits_null(b) for b in schema.get("anyOf", []))


@dataclass(frozen=True)
class ParamDoc:
    """One entry of ``churnlab params --explain``: a section or a key with its meaning.

    Attributes
    ----------
    path : str
        Dotted path, e.g. ``"observation.horizon_days"``.
    section : bool
        True for a section (a mapping of keys), False for a key.
    type : str
        The accepted values as text, e.g. ``"integer in [1, 730]"``; empty for a section.
    value : Any
        The effective value as JSON-able data (None for a section).
    default : Any
        The model's default as JSON-able data; :data:`NO_DEFAULT` when there is none.
    description : str
        What the section or key means.
    """

    path: str
    section: bool
    type: str
    value: Any
    default: Any
    description: str


#: :attr:`ParamDoc.default` of a key that has no default (``data.as_of``).
NO_DEFAULT: Any = object()


def describe_params(cfg: Params) -> list[ParamDoc]:
    """Every section and key of ``cfg`` in file order, with type, value and description.

    Parameters
    ----------
    cfg : Params
        The effective parameters (their values are reported).

    Returns
    -------
    list of ParamDoc
        A section comes right before its keys; the description of a section is its class
        docstring, that of a key its field description.
    """
    schema = Params.model_json_schema()
    return list(_describe(cfg, schema, schema.get("$defs", {}), prefix=""))


def _describe(
    section: BaseModel, schema: dict[str, Any], defs: dict[str, Any], prefix: str
) -> Iterator[ParamDoc]:
    values = section.model_dump(mode="json")
    for name, field in type(section).model_fields.items():
        if name == "root":
            continue
        path = f"{prefix}{name}"
        value = getattr(section, name)
        if isinstance(value, BaseModel):
            doc = inspect.cleandoc(type(value).__doc__ or "") or (field.description or "")
            yield ParamDoc(path, True, "", None, NO_DEFAULT, doc)
            yield from _describe(value, defs[type(value).__name__], defs, prefix=path + ".")
            continue
        default = field.get_default(call_default_factory=True)
        yield ParamDoc(
            path=path,
            section=False,
            type=_type_text(schema["properties"][name]),
            value=values[name],
            default=NO_DEFAULT if default is PydanticUndefined else to_jsonable_python(default),
            description=field.description or "",
        )


def _type_text(schema: Mapping[str, Any]) -> str:
    """A JSON schema as short text: ``integer in [1, 730]``, ``"csv" | "parquet" | null``."""
    if "anyOf" in schema:
        return " | ".join(_type_text(b) for b in schema["anyOf"])
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array" and "prefixItems" in schema:
        return "[" + ", ".join(_type_text(i) for i in schema["prefixItems"]) + "]"
    if kind == "array":
        at_least = schema.get("minItems", 0)
        size = {0: "", 1: " (non-empty)"}.get(at_least, f" (at least {at_least})")
        return f"list[{_type_text(schema.get('items', {}))}]{size}"
    if kind == "object":
        return f"map[string, {_type_text(schema.get('additionalProperties', {}))}]"
    if kind == "string" and schema.get("format") == "date":
        return 'date ("YYYY-MM-DD")'
    return str(kind) + _range_text(schema)


def _range_text(schema: Mapping[str, Any]) -> str:
    """The numeric bounds of ``schema`` as text: `` in [1, 730]``, `` in (0, 1]``, `` >= 0``."""
    lows = [
        (op, bracket, schema[key])
        for key, op, bracket in (("minimum", ">=", "["), ("exclusiveMinimum", ">", "("))
        if key in schema
    ]
    highs = [
        (op, bracket, schema[key])
        for key, op, bracket in (("maximum", "<=", "]"), ("exclusiveMaximum", "<", ")"))
        if key in schema
    ]
    if lows and highs:
        (_, left, low), (_, right, high) = lows[0], highs[0]
        return f" in {left}{low}, {high}{right}"
    return "".join(f" {op} {bound}" for op, _, bound in lows + highs)
