"""Adaptive micro-batching: the concurrent requests of one arm, coalesced into one vectorised
predict, with a latency budget that sheds load.

A :class:`Batcher` owns one arm's queue. Rules:

- A request is queued whole and answered whole; a batch takes queued requests in arrival order
  while their rows fit ``max_batch_size`` (a larger request goes alone). Requests whose client
  went away are dropped from the queue.
- When the model is idle, a batch leaves at the end of the event loop's current turn, unless
  the server has read other prediction requests that are still on their way to a queue
  (:class:`Arrivals`: being parsed, validated): then it waits for them, for ``max_batch_size``
  rows, or for ``max_wait_ms``, whichever comes first. While the model is busy, requests
  queue, and the next batch leaves the moment it is free. A lone client therefore never waits,
  and a crowd fills batches.
- Where the model runs: a model whose first timed prediction (the warm-up with its input
  example, else its first batch) takes at most ``inline_max_ms`` runs on the event loop itself:
  no thread hand-off, and no contention for the GIL (a worker thread predicting a boosted model
  gives up and retakes the GIL once per tree, and each retake waits for the busy loop: predicts
  measured 5 to 50 times slower). A slower model runs on a worker thread of its own, so the loop
  keeps reading requests, answering health checks and shedding load meanwhile.
- Load shedding: a request is refused with :class:`~loopml.serving.errors.Overloaded` (503 and
  ``Retry-After``) when its expected wait (the batches ahead of it, the running one included,
  times the measured time of a batch, an exponential moving average) exceeds
  ``latency_budget_ms``. An idle model with an empty queue never sheds.
- The fast-path features of a batch are assembled into one frame and predicted together; a
  request that took the reference path (its own conformed frame) is predicted on its own in the
  same turn.
- After predicting, the batcher hands a :class:`~loopml.predictions.records.PredictionBatch` to
  the prediction sink, if any; a failing sink is logged once and never fails a prediction.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_limits  # type: ignore[import-untyped]

from loopml.core.errors import user_message, verbatim
from loopml.predictions.records import PredictionBatch
from loopml.serving.config import ServingConfig
from loopml.serving.errors import Overloaded
from loopml.serving.metrics import ArmMetrics, Metrics
from loopml.serving.outputs import Predictor
from loopml.serving.sources import Arm
from loopml.serving.validation import Features, InputPlan

__all__ = ["Arrivals", "Batcher", "Outcome", "PredictionSink"]

logger = logging.getLogger(__name__)

#: Weight of the newest batch in the moving averages.
_EWMA = 0.2


class PredictionSink(Protocol):
    """Where a server hands its predictions (the prediction log implements it).

    ``log`` is called on a model's worker thread after each batch and must not block on I/O.
    """

    def log(self, batch: PredictionBatch) -> None: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one request gets back: its rows of the batch's predictions and probabilities."""

    predictions: Any
    probabilities: Any | None
    classes: list[Any] | None
    warnings: tuple[Any, ...] = ()


@dataclass(slots=True)
class _Pending:
    features: Features
    future: asyncio.Future[Outcome]
    request_id: str
    unit_ids: Sequence[str | None] | None
    started: float
    timestamp_ms: int


def _limit_worker_threads(threads: int | None) -> None:
    if threads is not None:
        threadpool_limits(threads, user_api="openmp")  # this worker thread's OpenMP threads


class _Threads:
    """The OpenMP threads the model may use, limited around each prediction on the calling
    thread (``None``: the libraries' default)."""

    def __init__(self, threads: int | None) -> None:
        self.threads = threads
        self._openmp: Any = None
        if threads is not None:
            self._openmp = ThreadpoolController().select(user_api="openmp")

    def limit(self) -> contextlib.AbstractContextManager[Any]:
        if self._openmp is None:
            return contextlib.nullcontext()
        return cast(contextlib.AbstractContextManager[Any], self._openmp.limit(limits=self.threads))


class Arrivals:
    """The requests a server has read but not yet queued on a batcher: an idle model's batch
    waits for them (at most ``max_wait_ms``). Used on the event loop only.

    The server calls :meth:`enter` when it starts reading a prediction request and
    :meth:`leave` once the request is queued or has failed.
    """

    def __init__(self) -> None:
        self.count = 0
        self.waiting: set[Batcher] = set()

    def enter(self) -> None:
        self.count += 1

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0 and self.waiting:
            for batcher in list(self.waiting):
                batcher._schedule()


class Batcher:
    """One arm's queue (rules: module docstring). Create it off the event loop (loading
    ``threadpoolctl`` and warming take time), then use it from one event loop."""

    def __init__(
        self,
        arm: Arm,
        config: ServingConfig,
        *,
        deployment: str,
        metrics: Metrics,
        sink: PredictionSink | None = None,
        arrivals: Arrivals | None = None,
    ) -> None:
        self.arm = arm
        self.config = config
        self.deployment = deployment
        self.plan = InputPlan(
            arm.model.signature,
            category_policy=config.category_policy,
            allow_extra_columns=config.allow_extra_columns,
        )
        self.predictor = Predictor(arm.model, probabilities=config.probabilities)
        self.metrics: ArmMetrics = metrics.arm(
            arm.model_name, arm.version_text, arm.name, lambda: float(self._queued_rows)
        )
        self._sink = sink
        self._arrivals = arrivals if arrivals is not None else Arrivals()
        self._threads = _Threads(config.model_threads)
        self._max_rows = config.max_batch_size
        self._max_wait = config.max_wait_ms / 1000.0
        self._budget = config.latency_budget_ms / 1000.0
        self._inline_max = config.inline_max_ms / 1000.0
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._inline: bool | None = None  # decided by the first timed prediction
        self._queue: deque[_Pending] = deque()
        self._queued_rows = 0
        self._busy = False
        self._timer: asyncio.TimerHandle | None = None
        self._soon: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: asyncio.Event | None = None
        self._batch_seconds: float | None = None
        self._sink_failed = False

    def __repr__(self) -> str:
        where = {None: "undecided", True: "inline", False: "thread"}[self._inline]
        return f"<Batcher {self.arm.name} {where} queued_rows={self._queued_rows}>"

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    @property
    def inline(self) -> bool | None:
        """Whether the model runs on the event loop (None until its first timed prediction)."""
        return self._inline

    # -- warm-up ------------------------------------------------------------------------------

    def warm(self) -> None:
        """Predict the model's input example through the server's own path (blocking, on the
        calling thread): caches are filled, and the fastest of three timed calls after a cold
        one decides where the model runs and seeds the batch time. A model without an input
        example is not warmed."""
        example = self.arm.model.input_example
        if example is None or len(example) == 0:
            return
        import orjson

        records = orjson.loads(example.to_json(orient="records", date_format="iso"))
        features = self.plan.read_fast(records=records) or self.plan.read(records=records)
        frame = features.frame if features.frame is not None else self.plan.frame([features])
        times = []
        with self._threads.limit():
            for _ in range(4):
                started = time.perf_counter()
                self.predictor(frame)
                times.append(time.perf_counter() - started)
        self._decide(min(times[1:]))

    def _decide(self, seconds: float) -> None:
        self._batch_seconds = seconds
        self._inline = seconds <= self._inline_max

    def _worker(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                1,
                thread_name_prefix=f"loopml-model-{self.arm.name}",
                initializer=_limit_worker_threads,
                initargs=(self.config.model_threads,),
            )
        return self._executor

    # -- the queue ----------------------------------------------------------------------------

    def expected_wait(self) -> float:
        """Seconds a request queued now would wait before its batch starts: the batches ahead
        of it (the running one included) times the measured batch time."""
        if self._batch_seconds is None:
            return 0.0
        batches = math.ceil(self._queued_rows / self._max_rows) + int(self._busy)
        return batches * self._batch_seconds

    def submit(
        self,
        features: Features,
        request_id: str,
        *,
        unit_ids: Sequence[str | None] | None = None,
        started: float | None = None,
    ) -> asyncio.Future[Outcome]:
        """Queue one request's features (on the event loop); the future of its outcome.
        Raises :class:`~loopml.serving.errors.Overloaded` when the queue is over budget."""
        wait = self.expected_wait()
        if wait > self._budget:
            raise Overloaded(
                user_message(
                    f"model {self.arm.name!r}",
                    f"is busy: a request would wait longer than the latency budget "
                    f"({self.config.latency_budget_ms:g} ms)",
                    verbatim(f"an expected wait of {wait * 1000:.0f} ms"),
                    "retry after the time in the Retry-After header",
                ),
                retry_after=wait,
            )
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._queue.append(
            _Pending(
                features,
                future,
                request_id,
                unit_ids,
                time.perf_counter() if started is None else started,
                time.time_ns() // 1_000_000,
            )
        )
        self._queued_rows += features.rows
        self._schedule()
        return future

    async def predict(
        self,
        features: Features,
        request_id: str,
        *,
        unit_ids: Sequence[str | None] | None = None,
        started: float | None = None,
    ) -> Outcome:
        """:meth:`submit`, then wait for the outcome."""
        return await self.submit(features, request_id, unit_ids=unit_ids, started=started)

    def _schedule(self) -> None:
        """Plan the next batch of an idle model: at the end of this turn, or, while requests
        read by the server are still on their way to a queue, when they arrive (at most
        ``max_wait_ms`` later)."""
        if self._busy or self._soon is not None or not self._queue:
            return
        loop = self._loop
        assert loop is not None  # set by the first submit()
        coming = self._arrivals.count > 0
        if self._max_wait > 0 and self._queued_rows < self._max_rows and coming:
            if self._timer is None:
                self._timer = loop.call_later(self._max_wait, self._dispatch)
                self._arrivals.waiting.add(self)
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._arrivals.waiting.discard(self)
        self._soon = loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._soon = None
        self._arrivals.waiting.discard(self)
        batch: list[_Pending] = []
        rows = 0
        queue = self._queue
        while queue:
            pending = queue[0]
            if pending.future.done():  # the client went away
                queue.popleft()
                self._queued_rows -= pending.features.rows
                continue
            if batch and rows + pending.features.rows > self._max_rows:
                break
            queue.popleft()
            self._queued_rows -= pending.features.rows
            batch.append(pending)
            rows += pending.features.rows
        if not batch:
            self._set_idle()
            return
        self._busy = True
        started = time.perf_counter()
        if self._inline:
            try:
                with self._threads.limit():
                    outcomes: list[Outcome | BaseException] | BaseException = self._run(batch)
            except Exception as exc:
                outcomes = exc
            self._finish(batch, outcomes, started)
            return
        work = self._worker().submit(self._run, batch)  # first batch without warm-up: timed
        loop = self._loop
        assert loop is not None

        def done(work: concurrent.futures.Future[list[Outcome | BaseException]]) -> None:
            exc = work.exception()
            outcomes = exc if exc is not None else work.result()
            loop.call_soon_threadsafe(self._finish, batch, outcomes, started)

        work.add_done_callback(done)

    def _finish(
        self,
        batch: list[_Pending],
        outcomes: Sequence[Outcome | BaseException] | BaseException,
        started: float,
    ) -> None:
        seconds = time.perf_counter() - started
        if self._inline is None:  # the first batch of a model without warm-up
            self._decide(seconds)
        else:
            assert self._batch_seconds is not None
            self._batch_seconds += _EWMA * (seconds - self._batch_seconds)
        if isinstance(outcomes, BaseException):  # the batch itself failed: every request learns it
            outcomes = [outcomes] * len(batch)
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.future.done():
                continue
            if isinstance(outcome, BaseException):
                pending.future.set_exception(outcome)
            else:
                pending.future.set_result(outcome)
        self._busy = False
        if self._queue:
            self._schedule()
        else:
            self._set_idle()

    def _set_idle(self) -> None:
        self._busy = False
        if self._idle is not None and not self._queue:
            self._idle.set()

    # -- predicting ---------------------------------------------------------------------------

    def _run(self, batch: list[_Pending]) -> list[Outcome | BaseException]:
        """Predict a batch: the fast-path requests together, each reference-path request
        alone."""
        outcomes: dict[int, Outcome | BaseException] = {}
        groups: list[list[int]] = []
        fast = [i for i, p in enumerate(batch) if p.features.frame is None]
        if fast:
            groups.append(fast)
        groups.extend([i] for i, p in enumerate(batch) if p.features.frame is not None)
        for group in groups:
            members = [batch[i] for i in group]
            try:
                results = self._predict_group(members)
            except Exception as exc:
                results = [exc] * len(members)
            outcomes.update(zip(group, results, strict=True))
        return [outcomes[i] for i in range(len(batch))]

    def _predict_group(self, members: list[_Pending]) -> list[Outcome | BaseException]:
        started = time.perf_counter()
        if members[0].features.frame is not None:
            frame = members[0].features.frame
        else:
            frame = self.plan.frame([p.features for p in members])
        predictions, probabilities = self.predictor(frame)
        done = time.perf_counter()
        rows = len(frame)
        self.metrics.model_latency.observe(done - started)
        self.metrics.batch_rows.observe(rows)
        if self._sink is not None:
            self._log(members, frame, predictions, probabilities, done)
        results: list[Outcome | BaseException] = []
        offset = 0
        classes = self.predictor.classes
        for pending in members:
            end = offset + pending.features.rows
            results.append(
                Outcome(
                    predictions[offset:end],
                    None if probabilities is None else probabilities[offset:end],
                    classes,
                    pending.features.warnings,
                )
            )
            offset = end
        return results

    def _log(
        self,
        members: list[_Pending],
        frame: Any,
        predictions: Any,
        probabilities: Any | None,
        done: float,
    ) -> None:
        assert self._sink is not None
        request_ids: list[str] = []
        unit_ids: list[str | None] = []
        stamps: list[int] = []
        latency: list[float] = []
        for p in members:
            n = p.features.rows
            request_ids.extend([p.request_id] * n)
            unit_ids.extend(p.unit_ids if p.unit_ids is not None else [None] * n)
            stamps.extend([p.timestamp_ms] * n)
            latency.extend([(done - p.started) * 1000.0] * n)
        try:
            self._sink.log(
                PredictionBatch(
                    deployment=self.deployment,
                    arm=self.arm.name,
                    model_name=self.arm.model_name,
                    model_version=self.arm.version,
                    request_ids=request_ids,
                    unit_ids=unit_ids if any(u is not None for u in unit_ids) else None,
                    timestamps_ms=stamps,
                    features=frame,
                    predictions=predictions,
                    probabilities=probabilities,
                    latency_ms=np.asarray(latency),
                )
            )
        except Exception:
            if not self._sink_failed:  # once per arm: the log must not flood
                logger.exception("the prediction sink failed for arm %s", self.arm.name)
            self._sink_failed = True

    # -- shutdown -----------------------------------------------------------------------------

    async def drain(self) -> None:
        """Wait until every queued request is answered, then stop the worker thread. (A request
        that still reaches a drained batcher, having looked it up just before a swap, is
        answered all the same: a worker thread is started again for it.)"""
        self._idle = asyncio.Event()
        if self._busy or self._queue:
            await self._idle.wait()
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, True)

    def close(self) -> None:
        """Stop the worker thread without waiting (for a batcher that never served)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)
