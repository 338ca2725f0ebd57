"""The base of every section of ``params.yaml``: unknown keys are errors, no bool numbers."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


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
