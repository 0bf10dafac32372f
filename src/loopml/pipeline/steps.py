"""Steps: plain functions with declared outputs; their parameters say what they need.

Rules of a step function's signature:

- a positional (or positional-or-keyword) parameter is an **input**: the pipeline passes the
  output of an earlier step, or an external input of ``Pipeline.run(inputs=...)``, of that name
  (a default is used when nothing provides the name);
- a keyword-only parameter (after ``*``) is a **param**: its default, or the value given to
  :meth:`Step.bind`. Params are JSON values (see :mod:`loopml.pipeline._names`); they enter the
  cache key and are logged on the step run;
- ``*args`` and ``**kwargs`` are refused: they cannot be wired by name.

``outputs`` names what the function returns: one name takes the whole return value, several names
take a tuple (or list) of exactly that many values, none means the function returns ``None``.

The **code fingerprint** (:attr:`Step.code_digest`) is the sha256 of the step's qualified name,
declared outputs, ``version`` and normalised source: the function's syntax tree without its
docstring and decorators, so comments, blank lines and formatting do not count while any change to
the code does. When the source cannot be read (a lambda typed in a REPL), the compiled bytecode is
used instead. The fingerprint does NOT see the helpers the function calls, global variables it
reads, or the versions of the libraries it uses: when one of those changes the results, bump
``version=`` (or run with ``force=``) to invalidate the cache by hand.
"""

from __future__ import annotations

import ast
import inspect
import logging
import textwrap
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, overload

from loopml.core.errors import InvalidInput, did_you_mean, user_message
from loopml.pipeline._names import (
    canonical_json,
    check_json_value,
    check_output_name,
    check_step_name,
    sha256_hex,
)

__all__ = ["Step", "code_fingerprint", "step"]

log = logging.getLogger(__name__)

_MISSING: Any = inspect.Parameter.empty


@dataclass(frozen=True, eq=False)
class Step:
    """A function with declared outputs, its inputs and bound params. Build with :func:`step`.

    Calling a step calls the function with the bound params (handy in tests).
    """

    name: str
    fn: Callable[..., Any] = field(repr=False)
    outputs: tuple[str, ...]
    inputs: tuple[str, ...]
    params: Mapping[str, Any]
    version: str = ""
    code_digest: str = field(default="", repr=False)
    #: Inputs with a default: used when nothing in the pipeline provides the name.
    input_defaults: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: Keyword-only parameters without a default (they must be bound before the step runs).
    required_params: tuple[str, ...] = field(default=(), repr=False)

    def bind(self, **params: Any) -> Step:
        """A copy of this step with ``params`` set (keyword-only parameters only)."""
        keyword_only = set(self.params) | set(self.required_params)
        for key, value in params.items():
            if key not in keyword_only:
                if key in self.inputs:
                    rule = "is an input (a positional parameter), not a param"
                    fix = f"wire {key!r} as the output of a step or pass it in run(inputs=...)"
                else:
                    rule = "is not a keyword-only parameter of the function"
                    hint = did_you_mean(key, keyword_only, 3)
                    fix = hint or (
                        f"declare it after '*' in {self.name}(...)"
                        if keyword_only
                        else f"{self.name}(...) takes no params; declare one after '*'"
                    )
                raise InvalidInput(
                    user_message(f"bound name {key!r} of step {self.name!r}", rule, fix=fix)
                )
            check_json_value(f"param {key!r} of step {self.name!r}", value)
        merged = {**self.params, **params}
        return replace(
            self,
            params=MappingProxyType(merged),
            required_params=tuple(p for p in self.required_params if p not in merged),
        )

    def wire(self, **sources: str) -> Step:
        """A copy of this step whose inputs come from other names: ``wire(model="model_lgbm")``
        passes the output ``model_lgbm`` as the function's parameter ``model``.

        One function can so serve several steps of a pipeline (one per candidate model, say):
        give each its own ``name`` and ``outputs`` with :func:`step`, and its own sources here.
        Inputs are passed by position, so only the names the pipeline matches change.
        """
        self._check_inputs("wired", sources)
        renamed = list(self.inputs)
        for key, source in sources.items():
            renamed[self.inputs.index(key)] = check_output_name(self.name, source)
        self._check_distinct(renamed)
        defaults = {
            renamed[self.inputs.index(key)]: value for key, value in self.input_defaults.items()
        }
        return replace(self, inputs=tuple(renamed), input_defaults=MappingProxyType(defaults))

    def gather(self, **groups: Sequence[str]) -> Step:
        """A copy of this step whose input ``param`` receives several outputs as one dict:
        ``gather(evaluations=["eval_a", "eval_b"])`` calls the function with
        ``evaluations={"eval_a": ..., "eval_b": ...}``.

        For a step over however many upstream outputs a pipeline has (one per candidate model,
        say). Each gathered name is an input of its own (wiring, cache key, lazy loading), so a
        change to any of them re-runs the step; the code fingerprint stays the function's.
        """
        self._check_inputs("gathered", groups)
        layout: list[tuple[str, tuple[str, ...] | None]] = []
        renamed: list[str] = []
        for name in self.inputs:
            sources = groups.get(name)
            if sources is None:
                layout.append((name, None))
                renamed.append(name)
                continue
            names = (sources,) if isinstance(sources, str) else tuple(sources)
            if not names:
                raise InvalidInput(
                    user_message(
                        f"gathered input {name!r} of step {self.name!r}",
                        "must name at least one output",
                        list(names),
                    )
                )
            layout.append((name, tuple(check_output_name(self.name, n) for n in names)))
            renamed.extend(names)
        self._check_distinct(renamed)
        defaults = {k: v for k, v in self.input_defaults.items() if k not in groups}
        return replace(
            self,
            fn=_Gathered(self.fn, tuple(layout)),
            inputs=tuple(renamed),
            input_defaults=MappingProxyType(defaults),
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **{**self.params, **kwargs})

    def _check_inputs(self, how: str, names: Iterable[str]) -> None:
        """InvalidInput for the first of ``names`` that is not an input of the step."""
        for key in names:
            if key not in self.inputs:
                raise InvalidInput(
                    user_message(
                        f"{how} name {key!r} of step {self.name!r}",
                        "is not an input (a positional parameter) of the step",
                        fix=did_you_mean(key, self.inputs, 3)
                        or f"its inputs are {list(self.inputs)}",
                    )
                )

    def _check_distinct(self, inputs: list[str]) -> None:
        if len(set(inputs)) != len(inputs):
            raise InvalidInput(
                user_message(f"inputs of step {self.name!r}", "must be distinct", inputs)
            )


class _Gathered:
    """The function of a step made by :meth:`Step.gather`: regroups the positional values it is
    called with into the dicts the wrapped function takes. A module-level class, so it pickles
    (Dask) as the wrapped function does."""

    def __init__(
        self, fn: Callable[..., Any], layout: tuple[tuple[str, tuple[str, ...] | None], ...]
    ) -> None:
        self.fn = fn
        self.layout = layout
        self.__wrapped__ = fn
        self.__name__ = getattr(fn, "__name__", "gathered")
        self.__qualname__ = getattr(fn, "__qualname__", self.__name__)

    def __call__(self, *values: Any, **params: Any) -> Any:
        args: list[Any] = []
        position = 0
        for _name, names in self.layout:
            if names is None:
                args.append(values[position])
                position += 1
            else:
                args.append(dict(zip(names, values[position : position + len(names)], strict=True)))
                position += len(names)
        return self.fn(*args, **params)


@overload
def step(
    fn: Callable[..., Any],
    /,
    *,
    outputs: str | tuple[str, ...] | list[str] = (),
    name: str | None = None,
    version: str | int = "",
) -> Step: ...


@overload
def step(
    fn: None = None,
    /,
    *,
    outputs: str | tuple[str, ...] | list[str] = (),
    name: str | None = None,
    version: str | int = "",
) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    outputs: str | tuple[str, ...] | list[str] = (),
    name: str | None = None,
    version: str | int = "",
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Declare a pipeline step: ``@step(outputs=("train", "valid"))`` or ``step(fn, outputs=...)``.

    ``name`` defaults to the function's name. ``version`` is part of the code fingerprint: bump it
    to invalidate cached results when something the fingerprint cannot see has changed.

    >>> @step(outputs="total")
    ... def add(a: int, b: int, *, scale: int = 1) -> int:
    ...     return (a + b) * scale
    >>> add.inputs, dict(add.params), add.outputs
    (('a', 'b'), {'scale': 1}, ('total',))
    >>> add.bind(scale=10)(1, 2)
    30
    """

    def build(function: Callable[..., Any]) -> Step:
        return _build_step(function, outputs, name, str(version))

    return build if fn is None else build(fn)


def _build_step(
    fn: Callable[..., Any],
    outputs: str | tuple[str, ...] | list[str],
    name: str | None,
    version: str,
) -> Step:
    if isinstance(fn, Step):
        raise InvalidInput(
            user_message(
                f"step {fn.name!r}",
                "is already a step",
                fix="apply @step once; use .bind(...) to set params",
            )
        )
    if not callable(fn):
        raise InvalidInput(user_message("step function", "must be callable", type(fn).__name__))
    step_name = check_step_name(name if name is not None else getattr(fn, "__name__", None))
    names = (outputs,) if isinstance(outputs, str) else tuple(outputs)
    for output in names:
        check_output_name(step_name, output)
    if len(set(names)) != len(names):
        raise InvalidInput(
            user_message(f"outputs of step {step_name!r}", "must be distinct", list(names))
        )
    inputs: list[str] = []
    input_defaults: dict[str, Any] = {}
    params: dict[str, Any] = {}
    required: list[str] = []
    for parameter in inspect.signature(fn).parameters.values():
        kind = parameter.kind
        if kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise InvalidInput(
                user_message(
                    f"step {step_name!r}",
                    "cannot take *args or **kwargs: inputs and params are wired by name",
                    str(parameter),
                    "name each input and param",
                )
            )
        if kind is parameter.KEYWORD_ONLY:
            if parameter.default is _MISSING:
                required.append(parameter.name)
            else:
                check_json_value(
                    f"default of param {parameter.name!r} of step {step_name!r}", parameter.default
                )
                params[parameter.name] = parameter.default
        else:
            inputs.append(parameter.name)
            if parameter.default is not _MISSING:
                input_defaults[parameter.name] = parameter.default
    return Step(
        name=step_name,
        fn=fn,
        outputs=names,
        inputs=tuple(inputs),
        params=MappingProxyType(params),
        version=version,
        code_digest=code_fingerprint(fn, names, version),
        input_defaults=MappingProxyType(input_defaults),
        required_params=tuple(required),
    )


def code_fingerprint(fn: Callable[..., Any], outputs: tuple[str, ...], version: str) -> str:
    """The sha256 of what identifies a step's code (see the module docstring)."""
    payload = {
        "qualname": getattr(fn, "__qualname__", type(fn).__qualname__),
        "outputs": list(outputs),
        "version": version,
        "code": _normalised_source(fn),
    }
    return sha256_hex(canonical_json(payload))


def _normalised_source(fn: Callable[..., Any]) -> str:
    target = inspect.unwrap(fn)
    try:
        source = textwrap.dedent(inspect.getsource(target))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, IndentationError):
        return _bytecode(target)
    nodes = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
    ]
    name = getattr(target, "__name__", "")
    chosen = next((n for n in nodes if getattr(n, "name", "<lambda>") == name), None)
    if chosen is None:
        return _bytecode(target)
    if isinstance(chosen, ast.FunctionDef | ast.AsyncFunctionDef):
        chosen.decorator_list = []
        body = chosen.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            chosen.body = body[1:] or [ast.Pass()]
    return ast.dump(chosen, annotate_fields=True, include_attributes=False)


def _bytecode(fn: Any) -> str:
    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType):
        raise InvalidInput(
            user_message(
                "step function",
                "must be a Python function (its code is part of the cache key)",
                type(fn).__name__,
                "wrap it: @step(outputs=...) def my_step(...): return thing(...)",
            )
        )
    log.debug("no source for %r: its bytecode is its code fingerprint", fn)
    return _code_text(code)


def _code_text(code: types.CodeType) -> str:
    consts = [_code_text(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts]
    return repr((code.co_code.hex(), code.co_names, code.co_varnames, consts))
