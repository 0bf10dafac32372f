"""Chunks scored in parallel on Dask.

The driver reads the input and writes the outputs (so the workers need no access to either);
each chunk is scattered to the cluster and scored by a task, at most two tasks per worker thread
in flight, and the results are written in input order (a result that comes back early waits for
the ones before it; those waiting count against the same bound, so memory stays bounded).

Each worker process loads the model once, by URI, from the driver's stores (the tracking and
artifact URIs travel with the task): every file is hash-checked on the worker as on the driver.
The stores, and a model given as a directory, must therefore be reachable from the workers (a
local path is, for a ``LocalCluster``; a remote cluster needs a shared database and object
store, as for the pipeline's Dask executor). The model URI is pinned before it is sent: an alias
or ``latest`` becomes the version it named when the job started.

``address=None`` starts a ``LocalCluster(n_workers, threads_per_worker=1, processes=True)`` for
the job and closes it after (a script that uses it needs the ``if __name__ == "__main__":``
guard); a ``str`` connects to that scheduler; a ``distributed.Client`` is used as is and left
open.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from loopml.core.errors import InvalidInput, MissingDependency, user_message, verbatim
from loopml.core.settings import load_settings
from loopml.models.loaded import LoadedModel
from loopml.registry.client import ModelRegistry
from loopml.scoring._chunk import ChunkPlan, ChunkResult, score_chunk
from loopml.scoring._outputs import Outputs
from loopml.tracking.client import Client

__all__ = ["ModelRef", "open_client", "run_on_dask"]

#: Tasks in flight per worker thread: one running, one waiting with its data already there.
_PER_THREAD = 2


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise MissingDependency(
            user_message(
                "scoring on Dask",
                "needs the Python package 'distributed', which is not installed",
                fix="pip install 'loopml[dask]'",
            )
        ) from exc
    return distributed


def open_client(address: Any, n_workers: int) -> tuple[Any, Callable[[], None]]:
    """A Dask client for ``address`` (module docstring) and how to release it."""
    distributed = _distributed()
    if address is None:
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise InvalidInput(user_message("n_workers", "must be a positive integer", n_workers))
        cluster = distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
        )
        client = distributed.Client(cluster)

        def close() -> None:
            client.close()
            cluster.close()

        return client, close
    if isinstance(address, str):
        client = distributed.Client(address)
        return client, client.close
    if isinstance(address, distributed.Client):
        return address, lambda: None
    raise InvalidInput(
        user_message(
            "address",
            "must be None (a local cluster), a scheduler address or a distributed.Client",
            verbatim(type(address).__name__),
            "e.g. address='tcp://127.0.0.1:8786'",
        )
    )


@dataclass(frozen=True, slots=True)
class ModelRef:
    """Where a worker loads the model from: a pinned URI and the driver's stores."""

    uri: str
    tracking_uri: str
    artifact_uri: str
    trust: bool


_models: dict[tuple[ModelRef, bool], tuple[LoadedModel, Outputs]] = {}
_models_lock = threading.Lock()


def _worker_model(ref: ModelRef, probabilities: bool) -> tuple[LoadedModel, Outputs]:
    """The model of ``ref``, loaded once per worker process."""
    key = (ref, probabilities)
    with _models_lock:
        if key not in _models:
            settings = dataclasses.replace(load_settings(), artifact_uri=ref.artifact_uri)
            registry = ModelRegistry(client=Client(ref.tracking_uri, settings))
            model = registry.load_model(ref.uri, trust=ref.trust)
            _models[key] = (model, Outputs(model, probabilities=probabilities))
        return _models[key]


def _score_on_worker(
    ref: ModelRef, chunk_plan: ChunkPlan, index: int, offset: int, batch: pa.RecordBatch
) -> ChunkResult:
    model, outputs = _worker_model(ref, chunk_plan.probabilities)
    return score_chunk(chunk_plan, model, outputs, index, offset, batch)


def run_on_dask(
    client: Any,
    ref: ModelRef,
    chunk_plan: ChunkPlan,
    chunks: Iterator[tuple[int, int, pa.RecordBatch]],
    on_result: Callable[[ChunkResult], None],
) -> None:
    """Score ``chunks`` (index, offset, batch) on the cluster; ``on_result`` in input order."""
    distributed = _distributed()
    workers = client.scheduler_info()["workers"].values()
    window = _PER_THREAD * max(1, sum(int(w.get("nthreads", 1)) for w in workers))
    running = distributed.as_completed()
    outstanding: set[Any] = set()
    ready: dict[int, ChunkResult] = {}
    submitted = written = 0

    def fill() -> None:
        nonlocal submitted
        while submitted - written < window:
            item = next(chunks, None)
            if item is None:
                return
            index, offset, batch = item
            data = client.scatter(batch, hash=False)
            future = client.submit(
                _score_on_worker, ref, chunk_plan, index, offset, data, pure=False
            )
            outstanding.add(future)
            running.add(future)
            submitted += 1

    try:
        fill()
        for future in running:
            outstanding.discard(future)
            result: ChunkResult = future.result()
            ready[result.index] = result
            while written in ready:
                on_result(ready.pop(written))
                written += 1
            fill()
    finally:
        if outstanding:
            client.cancel(list(outstanding))
