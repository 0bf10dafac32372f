"""What a pipeline run gives back: step results, progress events, outputs, and the failure.

A step ends in one of four states: ``"ran"`` (its function ran and its outputs were stored),
``"cached"`` (a finished run with the same cache key was found; nothing ran), ``"failed"`` (its
function raised, or its outputs could not be stored) or ``"skipped"`` (a step it depends on failed
or was skipped). Independent branches keep running after a failure.

:attr:`PipelineResult.outputs` is lazy: a value a step computed in this process is returned as it
is; any other (a cached step's, or one computed on a Dask worker) is read from the artifact store
on first access and kept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from loopml.core.errors import LoopmlError
from loopml.pipeline.materializers import deserialize

if TYPE_CHECKING:
    from loopml.tracking.client import Client

__all__ = [
    "EventKind",
    "Outputs",
    "PipelineResult",
    "StepEvent",
    "StepFailed",
    "StepResult",
    "StepState",
    "StoredOutput",
]

StepState = Literal["ran", "cached", "failed", "skipped"]
EventKind = Literal["started", "cached", "finished", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class StoredOutput:
    """Where one output lives: the run that holds it, its artifact path, digest and size."""

    name: str
    step: str
    run_id: str
    path: str
    digest: str
    size: int

    @property
    def extension(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    def load(self, client: Client) -> Any:
        """Read and deserialise the value (see :mod:`loopml.pipeline.materializers`)."""
        return deserialize(self.extension, client.read_artifact(self.run_id, self.path))


@dataclass(frozen=True, slots=True)
class StepResult:
    """How one step ended.

    ``seconds`` is the time of the step's function (0 for a cached step); ``cached_from`` the run
    that computed the outputs a cached step reuses; ``outputs`` maps each output to its digest.
    """

    name: str
    status: StepState
    run_id: str | None
    seconds: float
    cache_key: str
    cached_from: str | None = None
    outputs: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "outputs", MappingProxyType(dict(self.outputs)))


@dataclass(frozen=True, slots=True)
class StepEvent:
    """Progress of a run, for a progress display: ``on_event(event)`` is called at the driver."""

    kind: EventKind
    step: str
    run_id: str | None = None
    seconds: float | None = None
    cache_key: str | None = None
    cached_from: str | None = None
    error: str | None = None


class Outputs(Mapping[str, Any]):
    """The outputs of the finished steps by name, loaded on first access (see the module)."""

    def __init__(
        self, stored: Mapping[str, StoredOutput], values: Mapping[str, Any], client: Client
    ) -> None:
        self._stored = dict(stored)
        self._values = {k: v for k, v in values.items() if k in self._stored}
        self._client = client
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> Any:
        with self._lock:
            if name in self._values:
                return self._values[name]
            stored = self._stored[name]  # KeyError for an unknown name, as a Mapping should
            value = stored.load(self._client)
            self._values[name] = value
            return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._stored)

    def __len__(self) -> int:
        return len(self._stored)

    def stored(self, name: str) -> StoredOutput:
        """Where the output ``name`` is stored (without loading it)."""
        return self._stored[name]

    def digest(self, name: str) -> str:
        return self._stored[name].digest

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}: sha256:{v.digest[:12]}" for k, v in self._stored.items())
        return f"Outputs({{{shown}}})"


@dataclass(frozen=True, eq=False)
class PipelineResult:
    """One run of a pipeline: its run id, status, every step's result and the outputs."""

    name: str
    run_id: str
    experiment_id: str
    status: Literal["FINISHED", "FAILED"]
    steps: Mapping[str, StepResult]
    outputs: Outputs = field(repr=False)
    seconds: float

    def _named(self, state: StepState) -> tuple[str, ...]:
        return tuple(name for name, s in self.steps.items() if s.status == state)

    @property
    def ran(self) -> tuple[str, ...]:
        return self._named("ran")

    @property
    def cached(self) -> tuple[str, ...]:
        return self._named("cached")

    @property
    def failed(self) -> tuple[str, ...]:
        return self._named("failed")

    @property
    def skipped(self) -> tuple[str, ...]:
        return self._named("skipped")


class StepFailed(LoopmlError):
    """A step of a pipeline failed. ``.step`` names it; ``.result`` holds the partial result.

    The outputs of the steps that finished are stored, so running the pipeline again takes them
    from the cache and resumes at the failed step.
    """

    code = "STEP_FAILED"

    def __init__(self, message: str, *, step: str, result: PipelineResult) -> None:
        super().__init__(message)
        self.step = step
        self.result = result
