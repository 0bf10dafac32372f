"""Reading ``loopml.yaml``: one :class:`~loopml.core.errors.InvalidInput` listing every problem.

Each problem is one line, ``loopml.yaml:LINE: field.path: message``, sorted by line; with more
than one, a first line counts them. Field paths are written ``candidates[1].search.n_trials``.
Messages keep the house shape (the rule, the value, the fix): an unknown key lists the known
ones and the closest ("did you mean"), so does a value outside its choices; a missing field says
what to write.

What is reported at once: YAML syntax errors stop the reading (nothing else can be trusted);
otherwise repeated keys, every field error pydantic finds, and the rules joining several
sections (:func:`loopml.project.cross_field_problems`) for the sections that are valid on
their own.

>>> parse_project("name: x\\ntask: clasification\\n", origin="loopml.yaml")
Traceback (most recent call last):
...
loopml.core.errors.InvalidInput: loopml.yaml has 4 problems:
loopml.yaml:1: target: is required. Fix: add target: <the column to predict>.
loopml.yaml:1: data: is required. Fix: add data: {source: <file, SQL URL or duckdb>}.
loopml.yaml:1: candidates: is required. Fix: add candidates: [{model: hist_gradient_boosting}].
loopml.yaml:2: task: must be one of classification, regression; got 'clasification'. Fix: ...
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from loopml.core.errors import InvalidInput, NotFound, user_message, verbatim
from loopml.project import checks, config
from loopml.project._base import path_text
from loopml.project._yaml import compose, line_of
from loopml.project.config import ProjectConfig
from loopml.project.names import suggest
from loopml.project.rules import cross_field_problems

__all__ = ["PROJECT_FILE", "load_project", "parse_project", "validate_project"]

#: The project file's name.
PROJECT_FILE = "loopml.yaml"

_TAGGED: dict[str, type[BaseModel]] = {
    c.__name__: c
    for c in (
        checks.InvarianceCheck, checks.DirectionalCheck, checks.PerturbationCheck,
        checks.MetricGate, checks.ImprovementGate, checks.SliceGapGate, checks.FairnessGate,
        checks.LatencyGate, checks.ModelSizeGate,
    )
}  # fmt: skip
_MISSING_FIX = {
    ("name",): "add name: <project name> (the experiment and registered model name)",
    ("task",): "add task: classification (or regression)",
    ("target",): "add target: <the column to predict>",
    ("data",): "add data: {source: <file, SQL URL or duckdb>}",
    ("data", "source"): "add source: <file, SQL URL, duckdb or snapshot:NAME>",
    ("candidates",): "add candidates: [{model: hist_gradient_boosting}]",
}
_TYPE_RULES = {
    "string_type": "must be text",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}


def load_project(path: str | Path = PROJECT_FILE) -> ProjectConfig:
    """The project ``path`` describes (relative paths in it resolve against its directory).

    NotFound if the file does not exist; ONE InvalidInput listing every problem otherwise.
    """
    source = Path(path)
    if source.is_dir():
        source = source / PROJECT_FILE
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(
            user_message(
                f"project file {str(source)!r}", "does not exist", None,
                "create one with `loopml init` (or pass the path of yours)",
            )
        ) from None  # fmt: skip
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            user_message(f"project file {str(source)!r}", "could not be read", verbatim(str(exc)))
        ) from exc
    return parse_project(text, origin=str(path), root=source.parent.absolute(), path=source)


def parse_project(
    text: str,
    *,
    origin: str = PROJECT_FILE,
    root: str | Path | None = None,
    path: str | Path | None = None,
) -> ProjectConfig:
    """The project a YAML text describes; problems name ``origin`` and their lines.

    ``root``: the directory relative paths resolve against (default: the working directory).
    """
    if not isinstance(text, str):
        raise InvalidInput(user_message("project YAML", "must be text", type(text).__name__))
    node, value, key_problems = compose(text, origin)
    if value is None:
        raise InvalidInput(
            user_message(f"project file {origin}", "is empty", None, "write one with `loopml init`")
        )
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"{origin}:{line_of(node, ())}: "
            + user_message("the project", "must be a mapping of settings", verbatim(_kind(value)))
        )
    return validate_project(
        value, root=root, origin=origin, _node=node, _path=path, _extra=key_problems
    )


def validate_project(
    data: Mapping[str, Any],
    *,
    root: str | Path | None = None,
    origin: str = "<dict>",
    _node: yaml.Node | None = None,
    _path: str | Path | None = None,
    _extra: Sequence[tuple[int, str, str]] = (),
) -> ProjectConfig:
    """The project plain ``data`` describes; ONE InvalidInput listing every problem."""
    if not isinstance(data, Mapping):
        raise InvalidInput(
            user_message("the project", "must be a mapping of settings", verbatim(_kind(data)))
        )
    context = {"root": Path(root) if root is not None else Path.cwd(), "path": _path}
    lines: list[tuple[int, str, str]] = list(_extra)
    try:
        project = ProjectConfig.model_validate(data, context=context)
    except ValidationError as exc:
        broken: set[str] = set()
        for error in exc.errors(include_url=False):
            for loc, message, key in _explain(error):
                if loc:
                    broken.add(str(loc[0]))
                lines.append((line_of(_node, loc, key=key), path_text(loc), message))
        sections = config.valid_sections(data, broken)
        for loc, message in cross_field_problems(sections):
            lines.append((line_of(_node, loc), path_text(loc), message))
    else:
        if not lines:
            return project
    raise InvalidInput(_report(origin, lines, _node is not None))


def _report(origin: str, lines: list[tuple[int, str, str]], with_lines: bool) -> str:
    unique = list(dict.fromkeys(lines))
    if with_lines:
        unique.sort(key=lambda problem: problem[0])
    shown = [
        f"{origin}{f':{line}' if with_lines else ''}: {path + ': ' if path else ''}{message}"
        for line, path, message in unique
    ]
    if len(shown) == 1:
        return shown[0]
    return f"{origin} has {len(shown)} problems:\n" + "\n".join(shown)


def _kind(value: object) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return _shown(value)


def _shown(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _rule(rule: str, value: object = None, fix: str | None = None) -> str:
    if value is None or (isinstance(value, str) and type(value) is not str):
        shown = value  # None, or already verbatim
    else:
        shown = verbatim(_shown(value))
    return user_message("", rule, shown, fix).lstrip()


def _explain(error: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str, bool]]:
    """(location without union tags, message, whether the key is at fault) of one error."""
    raw_loc = tuple(error["loc"])
    loc = tuple(p for p in raw_loc if not (isinstance(p, str) and p in _TAGGED))
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "loopml_problems":
        return [(loc + tuple(rel), message, False) for rel, message in ctx["problems"]]
    if kind == "extra_forbidden":
        model = _model_at(raw_loc[:-1])
        known = [f.alias or n for n, f in model.model_fields.items()] if model else []
        listed = f" (known: {', '.join(known)})" if known else ""
        message = _rule(f"is not a known field{listed}", None, suggest(loc[-1], known))
        return [(loc, message, True)]
    if kind == "missing":
        fix = _MISSING_FIX.get(loc) or f"add {loc[-1]}: ..."
        return [(loc, _rule("is required", None, fix), True)]
    if kind == "literal_error":
        choices = _choices(str(ctx.get("expected", "")))
        rule = (
            f"must be one of {', '.join(choices)}" if len(choices) > 1 else f"must be {choices[0]}"
        )
        return [(loc, _rule(rule, value, suggest(value, choices)), False)]
    if kind == "loopml_kind":
        keys = list(ctx["keys"])
        if isinstance(value, Mapping):
            given = [str(k) for k in value]
            message = _rule(
                f"must be a {ctx['what']} with one of the keys {', '.join(keys)}",
                verbatim("keys " + (", ".join(given) or "none")),
                next((s for s in (suggest(k, keys) for k in given) if s), None),
            )
        else:
            rule = f"must be a mapping with one of the keys {', '.join(keys)}"
            message = _rule(rule, value)
        return [(loc, message, False)]
    if kind == "too_short":
        rule = f"must have at least {ctx.get('min_length')} item(s)"
        return [(loc, _rule(rule, value), False)]
    shown_rule = _TYPE_RULES.get(kind)
    if shown_rule is None:
        text = str(error["msg"]).removeprefix("Value error, ")
        text = text.replace("Input should be", "must be").replace("Input should", "must")
        shown_rule = text[:1].lower() + text[1:]
    return [(loc, _rule(shown_rule, value), False)]


def _choices(expected: str) -> list[str]:
    """``'a', 'b' or 'c'`` (pydantic's literal list) as ``['a', 'b', 'c']``."""
    parts = expected.replace(" or ", ", ").split(", ")
    return [p.strip().strip("'") for p in parts if p.strip()]


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config class of the mapping at ``loc`` (pydantic's, with union tags), if any."""
    annotation: Any = ProjectConfig
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(part, str) and part in _TAGGED:
            annotation = _TAGGED[part]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = next(
                (f for n, f in annotation.model_fields.items() if part in (n, f.alias)), None
            )
            if field is None:
                return None
            annotation = field.annotation
        elif get_origin(annotation) in (tuple, list) and isinstance(part, int):
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) is dict and isinstance(part, str):
            annotation = get_args(annotation)[1]
        else:
            return None
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None
