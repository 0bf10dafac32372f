"""The prediction server: :func:`create_app` builds a FastAPI app over a model source.

Routes (OpenAPI at ``/docs`` and ``/openapi.json``):

- ``POST /predict``: ``{"records": [{...}, ...]}`` or ``{"columns": {"col": [...]}}``, with an
  optional ``unit_id`` (routes the request and labels its rows) or ``unit_ids`` (one per row);
  answers ``request_id``, ``model_name``, ``model_version``, ``arm``, ``predictions``,
  ``probabilities`` and ``classes`` (classifiers), ``latency_ms`` and ``warnings`` (if any);
- the Open Inference Protocol v2: ``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``,
  ``GET /v2/models/{name}[/versions/{version}]`` (metadata), ``.../ready``, ``POST .../infer``
  (shapes in :mod:`loopml.serving.protocol`);
- ``GET /metrics``: Prometheus text (:mod:`loopml.serving.metrics`).

Routing: ``/predict`` and the deployment's own name (``/v2/models/<deployment>/infer``) split
the traffic among the primary and canary arms by weight (by a hash of ``unit_id`` when given,
so a unit always meets the same arm, else at random) and copy it to shadow arms; a model name
(and version) among the arms targets that arm directly. Every response of these routes carries
``x-request-id`` (the client's own, when it sends a valid one, else a new one); errors are mapped
to statuses by :func:`loopml.serving.errors.error_response` alone.

Lifecycle: on startup the app asks the source for its first table (``refresh()`` on a thread),
warms every arm with its input example, and is ready (``/v2/health/ready`` 200). With
``ServingConfig.freeze_gc`` it then moves every object alive to the garbage collector's permanent
generation (``gc.freeze()``, again after each swap): the libraries a model needs hold millions of
objects, and a full collection walking them stopped the server for 100-180 ms every few seconds
under load (p99 150 ms at 32 clients; 20 ms frozen). It then polls
the source every ``poll_interval`` seconds, and swaps in a changed table only once its new arms
are loaded and warm (requests already queued on a replaced arm finish there). A refresh or
warm-up that fails keeps the old table; the error is logged. On shutdown every queued request is
answered before the worker threads stop.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import itertools
import logging
import random
import re
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, MutableMapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response

from loopml._version import __version__
from loopml.core.errors import LoopmlError, NotFound, did_you_mean, user_message, verbatim
from loopml.serving import schemas
from loopml.serving.batching import Arrivals, Batcher, Outcome, PredictionSink
from loopml.serving.config import ServingConfig
from loopml.serving.errors import (
    REQUEST_ID_HEADER,
    MalformedRequest,
    NotReady,
    PayloadTooLarge,
    error_response,
)
from loopml.serving.metrics import CONTENT_TYPE, Metrics
from loopml.serving.protocol import (
    OUTPUT_PREDICTION,
    OUTPUT_PROBABILITIES,
    input_metadata,
    output_metadata,
    output_tensor,
    read_inference_request,
)
from loopml.serving.sources import Arm, ModelSource, RoutingTable

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

_JSON = "application/json"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_MAX_UNIT_ID = 1024
_PREDICT_KEYS = ("records", "columns", "unit_id", "unit_ids")
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def _json(body: Any, request_id: str | None = None, status: int = 200) -> Response:
    headers = None if request_id is None else {REQUEST_ID_HEADER: request_id}
    return Response(
        orjson.dumps(body, option=_NUMPY), status_code=status, media_type=_JSON, headers=headers
    )


def _wire(values: Any) -> Any:
    """Per-row values as orjson writes them: numpy for numbers, Python objects otherwise."""
    if isinstance(values, np.ndarray):
        kind = values.dtype.kind
        if kind in "biu" or (kind == "f" and values.dtype.itemsize >= 4):
            return values if values.flags.c_contiguous else np.ascontiguousarray(values)
        return values.tolist()
    return list(values)


def _unit_id(value: object, what: str = "unit_id") -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedRequest(
            user_message(
                what, "must be a string (or an integer)", verbatim(f"<{type(value).__name__}>")
            )
        )
    text = str(value)
    if not text or len(text) > _MAX_UNIT_ID:
        raise MalformedRequest(
            user_message(
                what,
                f"must be 1 to {_MAX_UNIT_ID} characters",
                verbatim(f"<{len(text)} characters>"),
            )
        )
    return text


def _bucket(key: str) -> float:
    """A stable position in [0, 1) for a unit id."""
    return zlib.crc32(key.encode("utf-8")) / 2**32


class _Arrival:
    """One prediction request counted in :class:`~loopml.serving.batching.Arrivals` from the
    moment the server starts reading it until it is queued (or fails); ``leave`` is idempotent."""

    __slots__ = ("_arrivals", "_left")

    def __init__(self, arrivals: Arrivals) -> None:
        self._arrivals = arrivals
        self._left = False
        arrivals.enter()

    def leave(self) -> None:
        if not self._left:
            self._left = True
            self._arrivals.leave()


class _Runtime:
    """The routing table in force and the batcher of each of its arms."""

    def __init__(self, table: RoutingTable, batchers: dict[str, Batcher]) -> None:
        self.table = table
        self.batchers = batchers
        serving = table.serving
        total = sum(arm.weight for arm in serving)
        self._serving = [batchers[arm.name] for arm in serving]
        self._cumulative: list[float] = []
        acc = 0.0
        for arm in serving:
            acc += arm.weight / total
            self._cumulative.append(acc)
        self.shadows = [(arm, batchers[arm.name]) for arm in table.shadows]
        self.primary = max(serving, key=lambda arm: arm.weight)

    def route(self, unit_id: str | None) -> Batcher:
        if len(self._serving) == 1:
            return self._serving[0]
        point = random.random() if unit_id is None else _bucket(unit_id)
        for batcher, edge in zip(self._serving, self._cumulative, strict=True):
            if point < edge:
                return batcher
        return self._serving[-1]

    def lookup(self, name: str, version: str | None) -> Batcher | None:
        """The arm ``name`` (and ``version``) targets, or None to route by the table."""
        table = self.table
        arms = [arm for arm in table.arms if arm.model_name == name]
        if version is None:
            if name == table.name:
                return None
            if arms:
                serving = [a for a in arms if a.mode != "shadow"] or arms
                return self.batchers[max(serving, key=lambda a: a.weight).name]
        else:
            candidates = arms or (list(table.arms) if name == table.name else [])
            for arm in sorted(candidates, key=lambda a: a.mode == "shadow"):
                if arm.version_text == version:
                    return self.batchers[arm.name]
            if candidates:
                served = sorted({a.version_text or "(unversioned)" for a in candidates})
                raise NotFound(
                    user_message(
                        f"model {name!r} version {version!r}",
                        "is not served here",
                        fix=f"use one of the served versions: {', '.join(served)}",
                    )
                )
        known = sorted({table.name, *(a.model_name for a in table.arms)})
        raise NotFound(
            user_message(
                f"model {name!r}",
                "is not served here",
                fix=did_you_mean(name, known) or f"use one of: {', '.join(known)}",
            )
        )

    def versions(self, name: str) -> list[str]:
        arms = [a for a in self.table.arms if a.model_name == name] or list(self.table.arms)
        return sorted({a.version_text for a in arms if a.version_text}, key=lambda v: int(v))


class _Server:
    """The state behind the routes of one app."""

    def __init__(
        self, source: ModelSource, config: ServingConfig, sink: PredictionSink | None
    ) -> None:
        self.source = source
        self.config = config
        self.sink = sink
        self.metrics = Metrics()
        self.arrivals = Arrivals()
        self.request_ids = _RequestIds()
        self.runtime: _Runtime | None = None
        self._failed: RoutingTable | None = None
        self._poller: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # -- lifecycle ----------------------------------------------------------------------------

    def _build(self, table: RoutingTable) -> _Runtime:
        """A runtime for ``table`` (on a thread): new arms get a warm batcher, unchanged arms
        keep theirs."""
        old = self.runtime.batchers if self.runtime is not None else {}
        batchers: dict[str, Batcher] = {}
        fresh: list[Batcher] = []
        try:
            for arm in table.arms:
                kept = old.get(arm.name)
                if kept is not None and kept.arm.model is arm.model:
                    batchers[arm.name] = kept
                    continue
                batcher = Batcher(
                    arm,
                    self.config,
                    deployment=table.name,
                    metrics=self.metrics,
                    sink=self.sink,
                    arrivals=self.arrivals,
                )
                fresh.append(batcher)
                batcher.warm()
                batchers[arm.name] = batcher
        except BaseException:
            for batcher in fresh:
                batcher.close()
            raise
        return _Runtime(table, batchers)

    def _swap(self, runtime: _Runtime) -> None:
        old = self.runtime
        self.runtime = runtime
        if self.config.freeze_gc:
            if old is None:
                gc.collect()  # what is garbage now is freed, not frozen
            gc.freeze()
        if old is None:
            return
        kept = {id(b) for b in runtime.batchers.values()}
        labels = {b.metrics.labels for b in runtime.batchers.values()}
        for batcher in old.batchers.values():
            if id(batcher) not in kept:
                if batcher.metrics.labels not in labels:
                    self.metrics.forget(batcher.metrics.labels)
                self._spawn(batcher.drain())
        logger.info(
            "serving %s: %s",
            runtime.table.name,
            ", ".join(f"{a.name} ({a.mode} {a.weight:g}%)" for a in runtime.table.arms),
        )

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def start(self) -> None:
        await asyncio.to_thread(self.source.refresh)
        table = self.source.table()
        self._swap(await asyncio.to_thread(self._build, table))
        if self.config.poll_interval > 0:
            self._poller = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval)
            table: RoutingTable | None = None
            try:
                await asyncio.to_thread(self.source.refresh)
                table = self.source.table()
                current = self.runtime.table if self.runtime is not None else None
                if table is current or table is self._failed:
                    continue
                self._swap(await asyncio.to_thread(self._build, table))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("the model source failed to refresh; serving the old table")
                self._failed = table

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self.runtime is not None:
            await asyncio.gather(
                *(b.drain() for b in self.runtime.batchers.values()), return_exceptions=True
            )

    def _runtime(self) -> _Runtime:
        runtime = self.runtime
        if runtime is None:
            raise NotReady(
                user_message("the server", "is still loading its models", fix="retry shortly")
            )
        return runtime

    # -- predicting ---------------------------------------------------------------------------

    async def _serve(
        self,
        runtime: _Runtime,
        batcher: Batcher,
        request_id: str,
        started: float,
        *,
        records: object = None,
        columns: object = None,
        unit_id: str | None = None,
        unit_ids: list[str | None] | None = None,
        shadows: bool = True,
        arrival: _Arrival,
    ) -> Outcome:
        plan = batcher.plan
        features = plan.read_fast(records=records, columns=columns)
        if features is None:
            features = await asyncio.to_thread(
                functools.partial(plan.read, records=records, columns=columns)
            )
        rows = features.rows
        if unit_ids is not None and len(unit_ids) != rows:
            raise MalformedRequest(
                user_message(
                    "unit_ids",
                    f"must have one id per row ({rows})",
                    verbatim(f"<{len(unit_ids)} ids>"),
                )
            )
        per_row: list[str | None] | None = unit_ids
        if per_row is None and unit_id is not None:
            per_row = [unit_id] * rows
        future = batcher.submit(features, request_id, unit_ids=per_row, started=started)
        arrival.leave()
        outcome = await future
        batcher.metrics.request_latency.observe(time.perf_counter() - started)
        if shadows and runtime.shadows:
            for arm, shadow in runtime.shadows:
                point = random.random() if unit_id is None else _bucket(arm.name + unit_id)
                if point * 100 < arm.weight:
                    self._spawn(
                        self._shadow(shadow, request_id, records, columns, per_row, started)
                    )
        return outcome

    async def _shadow(
        self,
        batcher: Batcher,
        request_id: str,
        records: object,
        columns: object,
        unit_ids: list[str | None] | None,
        started: float,
    ) -> None:
        """A shadow arm's copy of a request: logged, never answered; a busy shadow skips."""
        if batcher.expected_wait() > self.config.latency_budget_ms / 1000.0:
            batcher.metrics.shadow_dropped.inc()
            return
        try:
            plan = batcher.plan
            features = plan.read_fast(records=records, columns=columns)
            if features is None:
                features = await asyncio.to_thread(
                    functools.partial(plan.read, records=records, columns=columns)
                )
            await batcher.predict(features, request_id, unit_ids=unit_ids, started=started)
        except Exception as exc:
            batcher.metrics.shadow_dropped.inc()
            logger.debug("shadow arm %s skipped request %s: %s", batcher.arm.name, request_id, exc)

    async def predict(self, request: Request) -> Response:
        arrival = _Arrival(self.arrivals)
        try:
            return await self._predict(request, arrival)
        finally:
            arrival.leave()

    async def _predict(self, request: Request, arrival: _Arrival) -> Response:
        started = request.scope["loopml.started"]
        request_id = request.scope["loopml.request_id"]
        payload = await self._payload(request)
        if not isinstance(payload, dict):
            raise MalformedRequest(
                user_message(
                    "the request body",
                    "must be a JSON object with 'records' or 'columns'",
                    verbatim(f"<{type(payload).__name__}>"),
                )
            )
        for key in payload:
            if key not in _PREDICT_KEYS:
                raise MalformedRequest(
                    user_message(
                        f"request field {key!r}",
                        f"is not one of {', '.join(_PREDICT_KEYS)}",
                        fix=did_you_mean(key, _PREDICT_KEYS) or "remove it",
                    )
                )
        records, columns = payload.get("records"), payload.get("columns")
        if (records is None) == (columns is None):
            raise MalformedRequest(
                user_message(
                    "the request body",
                    "must have exactly one of 'records' (a list of rows) or 'columns'",
                    fix='send {"records": [{"feature": value, ...}]}',
                )
            )
        unit_id = _unit_id(payload.get("unit_id"))
        raw_ids = payload.get("unit_ids")
        unit_ids: list[str | None] | None = None
        if raw_ids is not None:
            if not isinstance(raw_ids, list):
                raise MalformedRequest(
                    user_message(
                        "unit_ids", "must be a list", verbatim(f"<{type(raw_ids).__name__}>")
                    )
                )
            unit_ids = [_unit_id(u, "each of unit_ids") for u in raw_ids]
        runtime = self._runtime()
        batcher = runtime.route(unit_id)
        outcome = await self._serve(
            runtime,
            batcher,
            request_id,
            started,
            records=records,
            columns=columns,
            unit_id=unit_id,
            unit_ids=unit_ids,
            arrival=arrival,
        )
        arm = batcher.arm
        body: dict[str, Any] = {
            "request_id": request_id,
            "model_name": arm.model_name,
            "model_version": arm.version,
            "arm": arm.name,
            "predictions": _wire(outcome.predictions),
        }
        if outcome.probabilities is not None:
            body["probabilities"] = _wire(outcome.probabilities)
            body["classes"] = outcome.classes
        if outcome.warnings:
            body["warnings"] = [p.to_dict() for p in outcome.warnings]
        body["latency_ms"] = round((time.perf_counter() - started) * 1000.0, 3)
        return _json(body, request_id)

    async def infer(self, request: Request, name: str) -> Response:
        return await self._infer(request, name, None)

    async def infer_version(self, request: Request, name: str, version: str) -> Response:
        return await self._infer(request, name, version)

    async def _infer(self, request: Request, name: str, version: str | None) -> Response:
        arrival = _Arrival(self.arrivals)
        try:
            return await self._infer_arriving(request, name, version, arrival)
        finally:
            arrival.leave()

    async def _infer_arriving(
        self, request: Request, name: str, version: str | None, arrival: _Arrival
    ) -> Response:
        started = request.scope["loopml.started"]
        request_id = request.scope["loopml.request_id"]
        runtime = self._runtime()
        target = runtime.lookup(name, version)
        payload = await self._payload(request)
        signature = (target or runtime.batchers[runtime.primary.name]).arm.model.signature
        inputs = read_inference_request(payload, signature)
        batcher = target if target is not None else runtime.route(inputs.unit_id)
        outcome = await self._serve(
            runtime,
            batcher,
            request_id,
            started,
            columns=inputs.columns,
            unit_id=inputs.unit_id,
            shadows=target is None,
            arrival=arrival,
        )
        arm = batcher.arm
        outputs = []
        if OUTPUT_PREDICTION in inputs.outputs:
            outputs.append(output_tensor(OUTPUT_PREDICTION, outcome.predictions))
        if OUTPUT_PROBABILITIES in inputs.outputs and outcome.probabilities is not None:
            outputs.append(output_tensor(OUTPUT_PROBABILITIES, outcome.probabilities))
        parameters: dict[str, Any] = {"request_id": request_id, "arm": arm.name}
        if outcome.warnings:
            parameters["warnings"] = " ".join(p.message for p in outcome.warnings)
        parameters["latency_ms"] = round((time.perf_counter() - started) * 1000.0, 3)
        body: dict[str, Any] = {"model_name": arm.model_name}
        if arm.version is not None:
            body["model_version"] = arm.version_text
        body.update(id=inputs.id or request_id, parameters=parameters, outputs=outputs)
        return _json(body, request_id)

    async def _payload(self, request: Request) -> Any:
        limit = self.config.max_body_bytes
        declared = request.scope["loopml.length"]
        if declared is not None and declared > limit:
            raise self._too_large(declared)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise self._too_large(size)
            chunks.append(chunk)
        try:
            return orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError as exc:
            raise MalformedRequest(
                user_message("the request body", "must be valid JSON", str(exc))
            ) from None

    def _too_large(self, size: int) -> PayloadTooLarge:
        return PayloadTooLarge(
            user_message(
                "the request body",
                f"must be at most {self.config.max_body_bytes} bytes",
                verbatim(f"at least {size} bytes"),
                "split the rows over several requests, or use loopml score for batches",
            )
        )

    # -- metadata -----------------------------------------------------------------------------

    async def model_metadata(self, request: Request, name: str) -> Response:
        return await self._metadata(request, name, None)

    async def model_version_metadata(self, request: Request, name: str, version: str) -> Response:
        return await self._metadata(request, name, version)

    async def _metadata(self, request: Request, name: str, version: str | None) -> Response:
        runtime = self._runtime()
        target = runtime.lookup(name, version)
        arm: Arm = target.arm if target is not None else runtime.primary
        batcher = runtime.batchers[arm.name]
        signature = arm.model.signature
        return _json(
            {
                "name": name,
                "versions": runtime.versions(name),
                "platform": f"loopml_{arm.model.manifest.flavor}",
                "inputs": input_metadata(signature),
                "outputs": output_metadata(signature, batcher.predictor.classes),
            },
            request.scope["loopml.request_id"],
        )

    async def model_ready(self, request: Request, name: str) -> Response:
        return await self._model_ready(request, name, None)

    async def model_version_ready(self, request: Request, name: str, version: str) -> Response:
        return await self._model_ready(request, name, version)

    async def _model_ready(self, request: Request, name: str, version: str | None) -> Response:
        runtime = self._runtime()
        runtime.lookup(name, version)
        return _json({"name": name, "ready": True}, request.scope["loopml.request_id"])

    async def server_ready(self, request: Request) -> Response:
        ready = self.runtime is not None
        return _json({"ready": ready}, request.scope["loopml.request_id"], 200 if ready else 503)

    async def server_live(self, request: Request) -> Response:
        return _json({"live": True}, request.scope["loopml.request_id"])

    async def server_metadata(self, request: Request) -> Response:
        return _json(
            {"name": "loopml", "version": __version__, "extensions": []},
            request.scope["loopml.request_id"],
        )

    async def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)


class _RequestIds:
    """New request ids: 32 hex digits, a random prefix per app and a counter (unique across
    processes without a system call per request)."""

    def __init__(self) -> None:
        self._prefix = uuid.uuid4().hex[:16]
        self._counter = itertools.count()

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


def _read_headers(scope: MutableMapping[str, Any], ids: _RequestIds) -> None:
    """The request id (the client's own when valid, else a new one) and the declared body
    length, read in one pass over the raw headers."""
    request_id = length = None
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            request_id = value.decode("latin-1")
        elif key == b"content-length":
            length = value
    if request_id is None or not _REQUEST_ID.match(request_id):
        request_id = ids.new()
    scope["loopml.request_id"] = request_id
    scope["loopml.length"] = int(length) if length is not None and length.isdigit() else None


def _guarded(
    server: _Server, endpoint: str, handler: Callable[..., Awaitable[Response]]
) -> Callable[..., Awaitable[Response]]:
    """``handler`` with the request id and start time set, its errors answered by
    :func:`error_response`, and the request counted."""

    ids = server.request_ids

    @functools.wraps(handler)
    async def guarded(request: Request, **params: Any) -> Response:
        scope = request.scope
        scope["loopml.started"] = time.perf_counter()
        _read_headers(scope, ids)
        request_id = scope["loopml.request_id"]
        try:
            response = await handler(request, **params)
        except Exception as exc:
            response = error_response(exc, request_id)
            code = exc.code if isinstance(exc, LoopmlError) else LoopmlError.code
            server.metrics.count(endpoint, response.status_code, code)
            return response
        server.metrics.count(endpoint, response.status_code)
        return response

    return guarded


class _Route(APIRoute):
    """A route documented like any FastAPI route, whose handler skips FastAPI's per-request
    dependency solving and response validation: the endpoints take the request and their path
    parameters (strings) and return a Response themselves."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            response: Response = await endpoint(request, **request.path_params)
            return response

        return handler


def _framework_error(request: Request, exc: Exception) -> Response:
    """Errors raised before a route runs (unknown path, wrong method, bad parameters)."""
    request_id = request.scope.get("loopml.request_id") or uuid.uuid4().hex
    if isinstance(exc, HTTPException):
        status, message = exc.status_code, str(exc.detail)
        code = "ENDPOINT_NOT_FOUND" if status == 404 else f"HTTP_{status}"
        body = {"error": message, "code": code, "request_id": request_id}
        headers = {REQUEST_ID_HEADER: request_id, **(exc.headers or {})}
        return Response(orjson.dumps(body), status, headers=headers, media_type=_JSON)
    return error_response(MalformedRequest(str(exc)), request_id)


def create_app(
    source: ModelSource,
    *,
    config: ServingConfig | None = None,
    log: PredictionSink | None = None,
) -> FastAPI:
    """The prediction server over ``source`` (rules: module docstring); ``log`` receives every
    batch of predictions (a :class:`~loopml.predictions.log.PredictionLog`, say).

    >>> from loopml.serving import StaticSource
    >>> app = create_app(StaticSource("models:/flight-delay@champion"))
    >>> sorted(r.path for r in app.routes if r.path.startswith("/v2/models"))[:2]
    ['/v2/models/{name}', '/v2/models/{name}/infer']
    """
    server = _Server(source, config or ServingConfig(), log)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await server.start()
        try:
            yield
        finally:
            await server.stop()

    app = FastAPI(
        title="loopml prediction server",
        version=__version__,
        description=__doc__.split("\n\n")[1] if __doc__ else "",
        lifespan=lifespan,
    )
    app.state.server = server
    app.router.route_class = _Route
    app.add_exception_handler(HTTPException, _framework_error)
    app.add_exception_handler(RequestValidationError, _framework_error)

    def route(
        path: str,
        handler: Callable[..., Awaitable[Response]],
        *,
        methods: Sequence[str] = ("GET",),
        model: type | None = None,
        errors: str | None = None,
        request_body: str | None = None,
        summary: str,
        tags: Sequence[str],
        extra: dict[int | str, dict[str, Any]] | None = None,
    ) -> None:
        responses: dict[int | str, dict[str, Any]] = {}
        if errors is not None:
            responses.update(schemas.ERROR_RESPONSES[errors])
        responses.update(extra or {})
        app.add_api_route(
            path,
            _guarded(server, path, handler),
            methods=list(methods),
            response_model=None,
            responses={200: {"model": model}, **responses} if model is not None else responses,
            openapi_extra=schemas.body(request_body) if request_body else None,
            summary=summary,
            tags=list(tags),
        )

    route(
        "/predict",
        server.predict,
        methods=("POST",),
        model=schemas.PredictResponse,
        errors="predict",
        request_body="PredictRequest",
        summary="Predict rows (records or columns)",
        tags=("predict",),
    )
    model_routes = (
        ("/v2/models/{name}", server.infer, server.model_metadata, server.model_ready),
        (
            "/v2/models/{name}/versions/{version}",
            server.infer_version,
            server.model_version_metadata,
            server.model_version_ready,
        ),
    )
    for prefix, infer, metadata, ready in model_routes:
        route(
            f"{prefix}/infer",
            infer,
            methods=("POST",),
            model=schemas.InferenceResponse,
            errors="predict",
            request_body="InferenceRequest",
            summary="Open Inference Protocol v2 inference",
            tags=("open inference protocol",),
        )
        route(
            prefix,
            metadata,
            model=schemas.ModelMetadata,
            errors="model",
            summary="Model metadata",
            tags=("open inference protocol",),
        )
        route(
            f"{prefix}/ready",
            ready,
            model=schemas.ModelReady,
            errors="model",
            summary="Model readiness",
            tags=("open inference protocol",),
        )
    route(
        "/v2",
        server.server_metadata,
        model=schemas.ServerMetadata,
        summary="Server metadata",
        tags=("open inference protocol",),
    )
    route(
        "/v2/health/live",
        server.server_live,
        model=schemas.Live,
        summary="Liveness",
        tags=("health",),
    )
    route(
        "/v2/health/ready",
        server.server_ready,
        model=schemas.Ready,
        summary="Readiness (503 while loading)",
        tags=("health",),
        extra={503: {"model": schemas.Ready}},
    )
    route(
        "/metrics",
        server.metrics_text,
        summary="Prometheus metrics",
        tags=("health",),
        extra={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                schemas.COMPONENTS
            )
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
