"""The shared pieces of the project settings: strict scalar types, the base section, problems.

A rule that fails raises :func:`problems_error`: ONE pydantic error carrying every problem it
found, each at a location relative to the field that raised it, so the loader can put each on
its own line (``loopml.yaml:LINE: field.path: message``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict
from pydantic_core import PydanticCustomError

from loopml.core.errors import InvalidInput, user_message

__all__ = [
    "Bool", "Float", "Fraction", "Int", "Loc", "NonNegativeFloat", "Number", "PositiveFloat",
    "PositiveInt", "Problem", "Scalar", "Section", "check_name", "core_rule", "path_text",
    "problems_error", "shaped", "unique",
]  # fmt: skip

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]

Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]
PositiveInt = Annotated[int, Strict(), Field(gt=0)]
PositiveFloat = Annotated[float, Strict(), Field(gt=0)]
NonNegativeFloat = Annotated[float, Strict(), Field(ge=0)]
Fraction = Annotated[float, Strict(), Field(ge=0, le=1)]
Scalar = Annotated[str, Strict()] | Annotated[int, Strict()] | Annotated[float, Strict()] | Bool
Number = Annotated[int, Strict()] | Annotated[float, Strict()]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def shaped(rule: str, value: object = None, fix: str | None = None) -> str:
    """A message of the house shape without its subject (the field path names it)."""
    return user_message("", rule, value, fix).lstrip()


def problems_error(problems: Iterable[Problem]) -> PydanticCustomError:
    """One pydantic error carrying several problems, each at a loc relative to the error's."""
    items = tuple(problems)
    summary = "; ".join(
        (".".join(map(str, loc)) + ": " if loc else "") + message for loc, message in items
    )
    return PydanticCustomError(
        "loopml_problems", "{summary}", {"summary": summary, "problems": items}
    )


def check_name(value: str, what: str) -> str:
    if not _NAME.match(value) or len(value) > 128:
        raise problems_error(
            [((), shaped(
                f"must be a {what} name: letters, digits, '_', '.', '-' (starting with a letter "
                "or digit), at most 128 characters", value,
            ))]
        )  # fmt: skip
    return value


def unique(values: tuple[str, ...], what: str) -> tuple[str, ...]:
    problems = [
        ((i,), shaped(f"names a {what} listed before", value, "list each once"))
        for i, value in enumerate(values)
        if value in values[:i]
    ]
    if problems:
        raise problems_error(problems)
    return values


class Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True
    )


def core_rule(check: Any, value: str) -> str:
    """Run a loopml.core validator; its message (without the subject) as a field problem."""
    try:
        return str(check(value))
    except InvalidInput as exc:
        text = str(exc)
        for subject in ("registered model name ", "model alias "):
            text = text.removeprefix(subject)
        raise problems_error([((), text)]) from None


def path_text(loc: Loc) -> str:
    """``candidates[1].name`` for ``("candidates", 1, "name")``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
