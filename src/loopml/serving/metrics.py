"""The server's Prometheus metrics, in a registry of the app's own (no process globals).

``GET /metrics`` exposes (labels in brackets):

- ``loopml_requests_total{endpoint, status}``: every request answered, by status code;
- ``loopml_errors_total{endpoint, status, code}``: failed requests by status and loopml error
  code (``SIGNATURE_MISMATCH``, ``OVERLOADED``, ...);
- ``loopml_request_latency_seconds{model, version, arm}``: server time of answered predictions
  (reading, validation, queueing, predicting, up to the response);
- ``loopml_model_latency_seconds{model, version, arm}``: time of each batch in the model;
- ``loopml_batch_rows{model, version, arm}``: rows per batch (its ``_count`` is the number of
  batches, its ``_sum`` the rows predicted);
- ``loopml_queue_rows{model, version, arm}``: rows waiting for the model now;
- ``loopml_shadow_dropped_total{model, version, arm}``: copies a busy shadow arm skipped.

With several worker processes (``--workers``), each has its own registry: a scrape reads the
worker that answers it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "ArmMetrics", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
_ARM = ("model", "version", "arm")
_SECONDS = (
    0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
_ROWS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)


@dataclass(frozen=True, slots=True)
class ArmMetrics:
    """The metric children of one arm, bound once (a label lookup per request costs)."""

    labels: tuple[str, str, str]
    request_latency: Histogram
    model_latency: Histogram
    batch_rows: Histogram
    shadow_dropped: Counter


class Metrics:
    """Every metric of one app (module docstring)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "loopml_requests", "Requests answered.", ("endpoint", "status"), registry=registry
        )
        self.errors = Counter(
            "loopml_errors",
            "Failed requests by status and error code.",
            ("endpoint", "status", "code"),
            registry=registry,
        )
        self.request_latency = Histogram(
            "loopml_request_latency_seconds",
            "Server time of answered predictions.",
            _ARM,
            buckets=_SECONDS,
            registry=registry,
        )
        self.model_latency = Histogram(
            "loopml_model_latency_seconds",
            "Time of each batch in the model.",
            _ARM,
            buckets=_SECONDS,
            registry=registry,
        )
        self.batch_rows = Histogram(
            "loopml_batch_rows", "Rows per batch.", _ARM, buckets=_ROWS, registry=registry
        )
        self.queue_rows = Gauge(
            "loopml_queue_rows", "Rows waiting for the model.", _ARM, registry=registry
        )
        self.shadow_dropped = Counter(
            "loopml_shadow_dropped",
            "Copies of requests a busy shadow arm skipped.",
            _ARM,
            registry=registry,
        )
        #: (endpoint, status, code) -> the bound request and error counters.
        self._children: dict[tuple[str, int, str | None], tuple[Counter, Counter | None]] = {}

    def arm(
        self, model: str, version: str, arm: str, queue_rows: Callable[[], float]
    ) -> ArmMetrics:
        """Bind the children of one arm; ``queue_rows`` is read at each scrape."""
        labels = (model, version, arm)
        self.queue_rows.labels(*labels).set_function(queue_rows)
        return ArmMetrics(
            labels,
            self.request_latency.labels(*labels),
            self.model_latency.labels(*labels),
            self.batch_rows.labels(*labels),
            self.shadow_dropped.labels(*labels),
        )

    def forget(self, labels: tuple[str, str, str]) -> None:
        """Drop the queue gauge of an arm that left the table (its counters stay)."""
        with contextlib.suppress(KeyError):
            self.queue_rows.remove(*labels)

    def count(self, endpoint: str, status: int, code: str | None = None) -> None:
        key = (endpoint, status, code)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(endpoint, str(status)),
                None if code is None else self.errors.labels(endpoint, str(status), code),
            )
        children[0].inc()
        if children[1] is not None:
            children[1].inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
