"""The base of every section of ``params.yaml``: unknown keys are errors, no bool numbers."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import to_jsonable_python


class _Section(BaseModel):
    """A section of ``params.yaml``: unknown keys are errors, values are frozen.

    A boolean is never read as a number (``horizon_days: true`` is not 1 day).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            kinds = typing.get_args(annotation) or (annotation,)
            if bool not in kinds and any(k in (int, float) for k in kinds):
                raise ValueError("a number is expected, not true/false")
        return value

    def _repr_html_(self) -> str:
        """The effective values with their meaning (a notebook shows ``cfg`` as a table)."""
        import json

        from churnlab.display import html_block
        from churnlab.vocabulary import vocabulary

        words = vocabulary()
        rows: list[tuple[str, ...]] = []

        def walk(section: BaseModel, prefix: str) -> None:
            for name, field in type(section).model_fields.items():
                value = getattr(section, name)
                if name == "root" or field.exclude:
                    continue
                if isinstance(value, BaseModel):
                    rows.append((f"{prefix}{name}: {field.description or ''}",))
                    walk(value, f"{prefix}{name}.")
                    continue
                shown = json.dumps(to_jsonable_python(value), ensure_ascii=False)
                rows.append((f"{prefix}{name}", shown, field.description or ""))

        walk(self, "")
        header = [words.text(f"workbench.params.{k}") for k in ("key", "value", "meaning")]
        return html_block(words.text("workbench.params.title"), rows, header=header)
