"""Where steps run: in this process (:class:`LocalExecutor`) or on a Dask cluster
(:class:`DaskExecutor`).

The runner decides what runs (cache checks, order, skips) and records it; an executor only runs
the steps it is handed, each once its inputs are ready, and reports each as it ends. An
:class:`Executor` is configuration: ``open(client)`` returns a session that lives for one pipeline
run, so one executor (and the Dask client it holds) can serve many runs.

- **Local**: one step at a time in the calling thread, in topological order; outputs are passed
  in memory, and a cached step's output is read from the store once, when a step needs it.
- **Dask**: each step is a task; a step's outputs stay on the worker that computed them and go
  straight to the workers of the steps that read them, so independent steps run in parallel.
  External inputs are scattered once; a cached step's output is read from the store by the worker
  that needs it. Workers open their own stores from the tracking and artifact URIs passed in each
  task, which must therefore be reachable from the workers (a local path is, for a
  ``LocalCluster``; a remote cluster needs a shared database and an object store).
  ``address=None`` starts a ``LocalCluster(n_workers, threads_per_worker=1, processes=True)`` for
  the run and closes it after; it starts processes, so a script that uses it needs the
  ``if __name__ == "__main__":`` guard. A ``str`` connects to that scheduler; a
  ``distributed.Client`` is used as is and left open.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from loopml.core.errors import InvalidInput, MissingDependency, did_you_mean, user_message
from loopml.pipeline._task import StepReport, StepTask, error_line, run_step, run_step_on_worker
from loopml.pipeline.results import StoredOutput
from loopml.tracking.client import Client

__all__ = [
    "DaskExecutor",
    "Executor",
    "ExecutorSession",
    "ExternalValue",
    "InputSource",
    "LocalExecutor",
    "resolve_executor",
]


@dataclass(frozen=True, slots=True)
class ExternalValue:
    """An external input of the run (``Pipeline.run(inputs=...)``, or a parameter's default)."""

    name: str
    value: Any


InputSource = ExternalValue | StoredOutput


@runtime_checkable
class ExecutorSession(Protocol):
    """One pipeline run on an executor."""

    def submit(self, task: StepTask, inputs: Mapping[str, InputSource]) -> None:
        """Run ``task`` (its upstream steps have ended) with these inputs."""

    def next_done(self) -> StepReport:
        """Block until a submitted step ends; its report."""

    def values(self) -> Mapping[str, Any]:
        """Outputs computed and kept in this process, by output name."""

    def close(self) -> None:
        """Cancel what is still running and release the resources of the session."""


@runtime_checkable
class Executor(Protocol):
    """Configuration of where steps run; :meth:`open` starts a session for one run."""

    def open(self, client: Client) -> ExecutorSession: ...


@dataclass(frozen=True, slots=True)
class LocalExecutor:
    """Run the steps one at a time in the calling thread."""

    def open(self, client: Client) -> ExecutorSession:
        return _LocalSession(client)


class _LocalSession:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._queue: deque[tuple[StepTask, Mapping[str, InputSource]]] = deque()
        self._values: dict[str, Any] = {}

    def submit(self, task: StepTask, inputs: Mapping[str, InputSource]) -> None:
        self._queue.append((task, inputs))

    def _value(self, source: InputSource) -> Any:
        if isinstance(source, ExternalValue):
            return source.value
        if source.name not in self._values:  # a cached output: read once, when first needed
            self._values[source.name] = source.load(self._client)
        return self._values[source.name]

    def next_done(self) -> StepReport:
        task, inputs = self._queue.popleft()
        try:
            resolved = {name: self._value(source) for name, source in inputs.items()}
        except Exception as exc:
            return StepReport(
                task.step,
                None,
                False,
                error=f"loading its inputs: {error_line(exc)}",
                exception=exc,
            )
        report, values = run_step(task, resolved, keep_exception=True)
        self._values.update(values)
        return report

    def values(self) -> Mapping[str, Any]:
        return self._values

    def close(self) -> None:
        self._queue.clear()


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise MissingDependency(
            user_message(
                "the Dask executor",
                "needs the Python package 'distributed', which is not installed",
                fix="pip install 'loopml[dask]'",
            )
        ) from exc
    return distributed


@dataclass(frozen=True)
class DaskExecutor:
    """Run the steps as tasks on a Dask cluster (see the module docstring for ``address``)."""

    address: Any = None
    n_workers: int = 2

    def __post_init__(self) -> None:
        distributed = _distributed()
        if not (self.address is None or isinstance(self.address, str | distributed.Client)):
            raise InvalidInput(
                user_message(
                    "Dask address",
                    "must be None (a local cluster), a scheduler address or a distributed.Client",
                    type(self.address).__name__,
                    "e.g. address='tcp://127.0.0.1:8786'",
                )
            )
        if type(self.n_workers) is not int or self.n_workers < 1:
            raise InvalidInput(
                user_message("n_workers", "must be a positive integer", self.n_workers)
            )

    def open(self, client: Client) -> ExecutorSession:
        distributed = _distributed()
        owned: list[Any] = []
        if isinstance(self.address, distributed.Client):
            dask_client = self.address
        elif isinstance(self.address, str):
            dask_client = distributed.Client(self.address)
            owned.append(dask_client)
        else:
            cluster = distributed.LocalCluster(
                n_workers=self.n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                scheduler_kwargs={"dashboard_address": ":0"},  # no dashboard; any free port
            )
            owned.append(cluster)
            dask_client = distributed.Client(cluster)
            owned.append(dask_client)
        return _DaskSession(distributed, dask_client, owned)


def _report_of(result: tuple[StepReport, dict[str, Any]]) -> StepReport:
    return result[0]


def _pick(result: tuple[StepReport, dict[str, Any]], name: str) -> Any:
    return result[1][name]


class _DaskSession:
    def __init__(self, distributed: Any, client: Any, owned: list[Any]) -> None:
        self._client = client
        self._owned = owned
        self._token = uuid.uuid4().hex[:8]
        self._done = distributed.as_completed()
        self._steps: dict[Any, str] = {}  # report future → step name
        self._results: dict[str, Any] = {}  # step name → future of (report, values)
        self._producer: dict[str, str] = {}  # output name → step that ran here
        self._picked: dict[str, Any] = {}  # output name → future of its value
        self._scattered: dict[str, Any] = {}  # external input name → future

    def _key(self, kind: str, name: str) -> str:
        return f"loopml-{kind}-{name}-{self._token}"

    def _source(self, source: InputSource) -> Any:
        if isinstance(source, ExternalValue):
            if source.name not in self._scattered:
                self._scattered[source.name] = self._client.scatter(source.value, hash=False)
            return self._scattered[source.name]
        step = self._producer.get(source.name)
        if step is None:
            return source  # a cached output: the worker reads it from the store
        if source.name not in self._picked:
            self._picked[source.name] = self._client.submit(
                _pick, self._results[step], source.name, key=self._key("output", source.name)
            )
        return self._picked[source.name]

    def submit(self, task: StepTask, inputs: Mapping[str, InputSource]) -> None:
        args = {name: self._source(source) for name, source in inputs.items()}
        result = self._client.submit(
            run_step_on_worker, task, args, key=self._key("step", task.step), pure=False
        )
        report = self._client.submit(_report_of, result, key=self._key("report", task.step))
        self._results[task.step] = result
        self._steps[report] = task.step
        self._done.add(report)

    def next_done(self) -> StepReport:
        future = next(self._done)
        step = self._steps.pop(future)
        try:
            report: StepReport = future.result()
        except Exception as exc:  # the task itself failed: a worker died, the step did not pickle
            return StepReport(step, None, False, error=f"the Dask task failed: {error_line(exc)}")
        if report.ok:
            for name in report.outputs:
                self._producer[name] = step
        return report

    def values(self) -> Mapping[str, Any]:
        return {}

    def close(self) -> None:
        futures = [*self._steps, *self._results.values(), *self._picked.values()]
        futures += list(self._scattered.values())
        if futures:
            self._client.cancel(futures)
        self._steps.clear()
        self._results.clear()
        self._picked.clear()
        self._scattered.clear()
        for resource in reversed(self._owned):
            resource.close()


def resolve_executor(executor: str | Executor, address: Any) -> Executor:
    """The executor ``Pipeline.run`` was asked for: ``"local"``, ``"dask"`` or an instance."""
    if isinstance(executor, str):
        if executor == "local":
            if address is not None:
                raise InvalidInput(
                    user_message(
                        "address",
                        "only applies to the Dask executor",
                        address,
                        "pass executor='dask' with it, or drop address=",
                    )
                )
            return LocalExecutor()
        if executor == "dask":
            return DaskExecutor(address)
        raise InvalidInput(
            user_message(
                "executor",
                "must be 'local', 'dask' or an Executor",
                executor,
                did_you_mean(executor, ("local", "dask"), 3) or "e.g. executor='dask'",
            )
        )
    if not isinstance(executor, Executor):
        raise InvalidInput(
            user_message(
                "executor",
                "must be 'local', 'dask' or an Executor (an object with open(client))",
                type(executor).__name__,
            )
        )
    if address is not None:
        raise InvalidInput(
            user_message(
                "address",
                "goes into the executor itself when an Executor is passed",
                address,
                "DaskExecutor(address=...)",
            )
        )
    return executor
