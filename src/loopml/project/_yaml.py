"""YAML with line numbers: compose the node tree, build plain values from it, find a field's line.

The same idea as ``loopml.data.schema`` (which keeps its own reader: ``data`` and ``project`` are
siblings and may not import each other, and ``core`` may not import yaml). Here the tree is
kept whole, so a pydantic error location (``("candidates", 1, "name")``) maps back to a node.

- :func:`compose` parses once: a YAML syntax error is an InvalidInput at its line; repeated keys
  and keys that are not plain text, which PyYAML would silently accept, are returned as problems.
- :func:`line_of` walks the tree along a location: a scalar's own line, else the line of the key
  that holds the value (``split:`` for a problem in the split section), or of the deepest part
  that exists when the location names a missing field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from loopml.core.errors import InvalidInput

__all__ = ["compose", "line_of"]

Loc = Sequence[str | int]


def compose(text: str, origin: str) -> tuple[yaml.Node | None, Any, list[tuple[int, str, str]]]:
    """(root node, the plain value, problems as (line, path, message)) of a YAML text."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context_mark is not None and exc.problem:
            problem += f" ({exc.context} on line {exc.context_mark.line + 1})"
        raise InvalidInput(f"{origin}{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{origin}: invalid YAML: {exc}") from None
    if root is None:
        return None, None, []
    problems: list[tuple[int, str, str]] = []
    _check_keys(root, "", problems)
    try:
        value = SafeConstructor().construct_document(root)
    except yaml.MarkedYAMLError as exc:
        at = exc.problem_mark.line + 1 if exc.problem_mark is not None else 1
        raise InvalidInput(f"{origin}:{at}: invalid YAML: {exc.problem}") from None
    return root, value, problems


def _check_keys(node: yaml.Node, path: str, problems: list[tuple[int, str, str]]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append((key_node.start_mark.line + 1, path, "keys must be plain text"))
                continue
            key = str(key_node.value)
            where = f"{path}.{key}" if path else key
            if key in seen and key != "<<":
                problems.append((key_node.start_mark.line + 1, where, "appears twice"))
            seen.add(key)
            _check_keys(value_node, where, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_keys(item, f"{path}[{i}]", problems)


def line_of(root: yaml.Node | None, loc: Loc, *, key: bool = False) -> int:
    """The 1-based line of the value at ``loc`` (``key=True``: of the key naming it)."""
    if root is None:
        return 1
    node: yaml.Node = root
    line = root.start_mark.line + 1
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            pair = next(
                (
                    (k, v)
                    for k, v in node.value
                    if isinstance(k, yaml.ScalarNode) and k.value == part
                ),
                None,
            )
            if pair is None:
                return line
            key_node, node = pair
            line = key_node.start_mark.line + 1
            if last and not key and isinstance(node, yaml.ScalarNode):
                line = node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
