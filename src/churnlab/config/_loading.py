"""Loading ``params.yaml``, overlays and ``-p key=value`` overrides into :class:`Params`."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from churnlab.config._params import Params
from churnlab.errors import ParamsError

DEFAULT_PARAMS_FILE = "params.yaml"


def load_params(
    path: str | Path = DEFAULT_PARAMS_FILE,
    overlays: Sequence[str | Path] = (),
    overrides: Iterable[str] = (),
) -> Params:
    """Read ``params.yaml``, layer overlays and ``key=value`` overrides, validate.

    The main file is read as it is. Each overlay, then each override, is merged on top
    with :func:`deep_merge`: mappings merge key by key, a list or a scalar replaces the
    value below it (``features: {windows: [7, 30]}`` replaces the whole default list), and
    ``null`` removes the entry below it, so that the model's default applies
    (``features: {ratios: {logins_per_seat_28d: null}}`` drops that ratio;
    ``-p data.format=`` gives ``data.format`` its default, null). Every field that accepts
    null has null as its default, so removing such a key and setting it to null agree.

    Parameters
    ----------
    path : str or Path
        The main params file; relative data paths are resolved against its folder.
    overlays : sequence of str or Path
        Further YAML files merged on top, in order (e.g. ``params/telco.yaml``).
    overrides : iterable of str
        ``section.key=value`` strings (values parsed as YAML scalars, an empty value is
        null), applied last.

    Returns
    -------
    Params
        The frozen, validated parameters.

    Raises
    ------
    ParamsError
        For a missing or unreadable file, an unknown key (with the closest valid key
        suggested), or a value of the wrong type or range (with its dotted path).
    """
    path = Path(path)
    merged = _read_yaml(
        path, hint="run from the project folder, or name the file with --params-file"
    )
    for overlay in overlays:
        merged = deep_merge(
            merged, _read_yaml(Path(overlay), hint="check the path given to --params")
        )
    for override in overrides:
        merged = deep_merge(merged, parse_override(override))
    return validate_params(merged, root=path.resolve().parent)


def validate_params(raw: Mapping[str, Any], root: Path = Path(".")) -> Params:
    """Validate a raw params mapping into :class:`Params`, translating errors."""
    _check_no_secrets(raw)
    try:
        return Params.model_validate({**raw, "root": root})
    except ValidationError as exc:
        raise ParamsError(_explain(exc, raw)) from None


def parse_override(text: str) -> dict[str, Any]:
    """Turn ``"model.seed=7"`` into ``{"model": {"seed": 7}}`` (value parsed as YAML).

    An empty value (``"data.format="``) is ``None``, which :func:`deep_merge` reads as
    "remove this key", so the model's default applies.
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ParamsError(
            f"override {text!r} is not of the form section.key=value (e.g. model.seed=7)"
        )
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError as exc:
        raise ParamsError(f"override {text!r}: the value is not valid YAML ({exc})") from None
    except ValueError as exc:  # YAML reads 2026-13-01 as a date and fails on the month
        raise ParamsError(
            f"override {text!r}: {value.strip()!r} is not a valid date ({exc}). How to fix: "
            "write an existing date as YYYY-MM-DD, e.g. 2026-10-31"
        ) from None
    node: Any = parsed
    for part in reversed(key.strip().split(".")):
        node = {part: node}
    return node


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Return a new dict: ``top`` merged into ``base`` recursively.

    Parameters
    ----------
    base : mapping
        The values below (e.g. ``params.yaml``); never modified.
    top : mapping
        The overlay. A mapping merges into the mapping below it key by key; a ``None``
        value removes the key from the result (a key absent from ``base`` is dropped
        too, also inside new mappings); any other value, lists included, replaces the
        value below it.

    Returns
    -------
    dict
        The merged values (deep copies: changing them changes neither input).
    """
    out = copy.deepcopy(dict(base))
    for key, value in top.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping):
            below = out.get(key)
            out[key] = deep_merge(below if isinstance(below, Mapping) else {}, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_yaml(path: Path, hint: str) -> dict[str, Any]:
    if not path.exists():
        raise ParamsError(f"params file {path} does not exist. How to fix: {hint}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    except ValueError as exc:  # an impossible date such as 2026-02-30
        raise ParamsError(
            f"{path}: a date that does not exist ({exc}). How to fix: write existing dates "
            'as "YYYY-MM-DD"'
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(
            f"{path}: the top level must be a mapping of sections, got {type(data).__name__}"
        )
    return data


_SECRET_WORDS = ("password", "passwd", "secret", "token", "api_key", "apikey")


def _check_no_secrets(raw: Mapping[str, Any], prefix: str = "") -> None:
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        low = str(key).lower()
        if any(w in low for w in _SECRET_WORDS) and not low.endswith("_env"):
            raise ParamsError(
                f"{dotted}: credentials must not be stored in params files; put the value in an "
                "environment variable and name that variable (e.g. delivery.smtp.password_env)"
            )
        if isinstance(value, Mapping):
            _check_no_secrets(value, dotted + ".")


def _explain(exc: ValidationError, raw: Mapping[str, Any]) -> str:
    lines = ["invalid parameters:"]
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not str(p).startswith("function-after")]
        dotted = ".".join(loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            parent, key = loc[:-1], loc[-1]
            valid = _valid_keys(parent)
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
            hint = f"; did you mean '{'.'.join([*parent, close[0]])}'?" if close else ""
            lines.append(
                f"  {dotted}: unknown key{hint} (valid keys here: {', '.join(sorted(valid))})"
            )
        elif err["type"] == "value_error" and "must" in err["msg"]:
            lines.append(f"  {dotted}: {err['msg'].removeprefix('Value error, ')}")
        elif err["type"] == "missing":
            lines.append(f"  {dotted}: required but missing")
        else:
            value = _lookup(raw, loc)
            lines.append(f"  {dotted} = {value!r}: {err['msg']}")
    return "\n".join(lines)


def _valid_keys(path: Sequence[str]) -> list[str]:
    model: type[BaseModel] = Params
    for part in path:
        field = model.model_fields.get(part)
        if field is None or not (
            isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        ):
            return []
        model = field.annotation
    return [k for k in model.model_fields if k != "root"]


def _lookup(raw: Any, loc: Sequence[str]) -> Any:
    node = raw
    for part in loc:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return "<missing>"
    return node
