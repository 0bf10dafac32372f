"""A pipeline: steps wired into a DAG by the names of their inputs and outputs.

Wiring rules, all checked when the :class:`Pipeline` is built, each breach an
:class:`~loopml.core.errors.InvalidInput` naming the step:

- step names are unique, and so are output names across the whole pipeline;
- an input is the output of the step that declares it, or an **external input** given to
  :meth:`Pipeline.run`. With ``inputs=(...)`` declared, an input that is neither is refused at once
  ("did you mean"); without it, the external inputs are whatever no step provides, and ``run``
  checks them;
- a keyword-only parameter without a default must be bound (``step.bind(name=value)``);
- the graph has no cycle. The order of the list does not matter: steps run in a topological order
  (ties keep the list order).
"""

from __future__ import annotations

import graphlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from loopml.core.errors import InvalidInput, did_you_mean, user_message
from loopml.pipeline._names import check_pipeline_name
from loopml.pipeline.steps import Step

if TYPE_CHECKING:
    from loopml.pipeline.executors import Executor
    from loopml.pipeline.results import PipelineResult, StepEvent

__all__ = ["Pipeline"]


class Pipeline:
    """A named DAG of :class:`~loopml.pipeline.steps.Step` objects.

    >>> from loopml.pipeline import step
    >>> @step(outputs="raw")
    ... def load(source: str) -> list[int]:
    ...     return [1, 2, 3]
    >>> @step(outputs="total")
    ... def total(raw: list[int], *, scale: int = 1) -> int:
    ...     return sum(raw) * scale
    >>> pipe = Pipeline("demo", [total.bind(scale=2), load])
    >>> [s.name for s in pipe.steps], pipe.external_inputs
    (['load', 'total'], ('source',))
    """

    def __init__(
        self, name: str, steps: Sequence[Step], *, inputs: Iterable[str] | None = None
    ) -> None:
        self._name = check_pipeline_name(name)
        given = list(steps)
        for item in given:
            if not isinstance(item, Step):
                raise InvalidInput(
                    user_message(
                        f"pipeline {name!r}",
                        "takes steps built with @step",
                        getattr(item, "__name__", type(item).__name__),
                        "decorate the function: @step(outputs=...)",
                    )
                )
        if not given:
            raise InvalidInput(user_message(f"pipeline {name!r}", "needs at least one step"))
        self._producers = _producers(given)
        declared = None if inputs is None else tuple(inputs)
        _check_inputs(given, self._producers, declared)
        _check_params(given)
        self._steps = _topological(given, self._producers)
        self._by_name = MappingProxyType({s.name: s for s in self._steps})
        external = {
            name
            for s in self._steps
            for name in s.inputs
            if name not in self._producers and name not in s.input_defaults
        }
        optional = {
            name
            for s in self._steps
            for name in s.inputs
            if name not in self._producers and name in s.input_defaults
        }
        self._external = tuple(sorted(external | set(declared or ())))
        self._optional = tuple(sorted(optional - external - set(declared or ())))

    @property
    def name(self) -> str:
        return self._name

    @property
    def steps(self) -> tuple[Step, ...]:
        """The steps in the order they run (topological; ties keep the given order)."""
        return self._steps

    @property
    def step_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self._steps)

    def __getitem__(self, name: str) -> Step:
        found = self._by_name.get(name)
        if found is None:
            raise InvalidInput(_unknown_step(self._name, name, self._by_name))
        return found

    @property
    def producers(self) -> Mapping[str, str]:
        """Output name → the name of the step that produces it."""
        return self._producers

    @property
    def external_inputs(self) -> tuple[str, ...]:
        """The inputs :meth:`run` must be given (no step produces them, no default)."""
        return self._external

    @property
    def optional_inputs(self) -> tuple[str, ...]:
        """Inputs no step produces that fall back to the function's default when not given."""
        return self._optional

    def upstream(self, name: str) -> tuple[str, ...]:
        """The steps ``name`` reads outputs of (directly)."""
        s = self[name]
        return tuple(dict.fromkeys(self._producers[i] for i in s.inputs if i in self._producers))

    def downstream(self, names: Iterable[str]) -> frozenset[str]:
        """``names`` and every step that depends on them, directly or not."""
        selected = {self[n].name for n in names}
        for s in self._steps:  # topological order: one pass suffices
            if any(u in selected for u in self.upstream(s.name)):
                selected.add(s.name)
        return frozenset(selected)

    def __repr__(self) -> str:
        return f"Pipeline({self._name!r}, steps={list(self.step_names)})"

    def run(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        executor: str | Executor = "local",
        address: Any = None,
        cache: bool = True,
        force: bool | str | Iterable[str] = (),
        experiment: str | None = None,
        tracking_uri: str | None = None,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        on_event: Callable[[StepEvent], None] | None = None,
    ) -> PipelineResult:
        """Run the pipeline; see :func:`loopml.pipeline.runner.run_pipeline`."""
        from loopml.pipeline.runner import run_pipeline

        return run_pipeline(
            self,
            inputs,
            executor=executor,
            address=address,
            cache=cache,
            force=force,
            experiment=experiment,
            tracking_uri=tracking_uri,
            run_name=run_name,
            tags=tags,
            on_event=on_event,
        )


def _unknown_step(pipeline: str, name: str, known: Iterable[str]) -> str:
    return user_message(
        f"step {name!r}",
        f"is not a step of pipeline {pipeline!r}",
        fix=did_you_mean(name, known, 3) or f"the steps are: {', '.join(known)}",
    )


def _producers(steps: Sequence[Step]) -> Mapping[str, str]:
    seen_steps: set[str] = set()
    producers: dict[str, str] = {}
    for s in steps:
        if s.name in seen_steps:
            raise InvalidInput(
                user_message(
                    f"step name {s.name!r}",
                    "appears twice in the pipeline",
                    fix="give one of them another name: step(fn, outputs=..., name='other')",
                )
            )
        seen_steps.add(s.name)
        for output in s.outputs:
            if output in producers:
                raise InvalidInput(
                    user_message(
                        f"output {output!r}",
                        f"is produced by both step {producers[output]!r} and step {s.name!r}",
                        fix="rename one of the outputs",
                    )
                )
            producers[output] = s.name
    return MappingProxyType(producers)


def _check_inputs(
    steps: Sequence[Step], producers: Mapping[str, str], declared: tuple[str, ...] | None
) -> None:
    if declared is None:
        return
    for name in declared:
        if name in producers:
            raise InvalidInput(
                user_message(
                    f"external input {name!r}",
                    f"is also the output of step {producers[name]!r}",
                    fix="drop it from inputs=, or rename the output",
                )
            )
    for s in steps:
        for name in s.inputs:
            if name in producers or name in declared or name in s.input_defaults:
                continue
            known = [*producers, *declared]
            raise InvalidInput(
                user_message(
                    f"input {name!r} of step {s.name!r}",
                    "is neither the output of a step nor a declared external input",
                    fix=did_you_mean(name, known, 3)
                    or f"add it to inputs= (outputs: {', '.join(producers) or 'none'})",
                )
            )


def _check_params(steps: Sequence[Step]) -> None:
    for s in steps:
        if s.required_params:
            missing = s.required_params[0]
            raise InvalidInput(
                user_message(
                    f"param {missing!r} of step {s.name!r}",
                    "has no default and is not bound",
                    fix=f"bind it: {s.name}.bind({missing}=...)",
                )
            )


def _topological(steps: Sequence[Step], producers: Mapping[str, str]) -> tuple[Step, ...]:
    order = {s.name: i for i, s in enumerate(steps)}
    by_name = {s.name: s for s in steps}
    graph = {s.name: {producers[i] for i in s.inputs if i in producers} for s in steps}
    sorter = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = list(exc.args[1])
        raise InvalidInput(
            user_message(
                "pipeline",
                "must not have a cycle",
                " -> ".join(cycle),
                "a step cannot depend, directly or not, on its own output",
            )
        ) from None
    result: list[Step] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=order.__getitem__)
        for name in ready:
            result.append(by_name[name])
            sorter.done(name)
    return tuple(result)
