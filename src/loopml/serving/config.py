"""``ServingConfig``: the knobs of a prediction server, checked once when it is built.

Rules:

- ``max_batch_size`` counts rows, not requests: concurrent requests of one arm are coalesced
  until their rows would exceed it (a single request larger than it is predicted alone, never
  split).
- ``max_wait_ms`` is the longest an idle model's batch waits for the prediction requests the
  server has read but not yet queued (still being parsed and validated); with none on their way
  a batch leaves at once, so a lone client never waits. ``0`` never waits. Requests arriving
  while the model is busy queue anyway and form the next batch.
- ``latency_budget_ms`` sheds load: a request whose expected wait in its arm's queue (the batches
  ahead of it times the measured batch time) exceeds the budget is answered 503 with
  ``Retry-After`` at once, so queues never grow without bound.
- ``max_body_bytes``: a larger request body is answered 413 before it is read in full.
- ``category_policy`` and ``allow_extra_columns`` are those of
  :meth:`loopml.models.signature.Signature.validate`: values outside a recorded category domain
  warn by default, and fields the model was not trained on are an error (422) unless allowed.
- ``probabilities``: a classifier's responses carry its class probabilities.
- ``inline_max_ms``: a model whose warm-up prediction takes at most this long runs on the
  event loop itself, a slower one on a worker thread (see :mod:`loopml.serving.batching`).
- ``model_threads``: the OpenMP threads of the model, on the thread that runs it (``None``: the
  library's default). One is the default: a server's cores serve requests, and a small batch
  gains nothing from forking threads (HistGradientBoosting predicts one row faster on one).
- ``freeze_gc``: once its models are loaded and warm, the app freezes the garbage collector's
  view of everything alive (``gc.freeze()``, after a ``gc.collect()``; again after each swap),
  so full collections no longer walk the millions of objects of pandas, scikit-learn and the
  model, and stop the server for 100+ ms under load. Frozen objects are still freed by
  reference counting; only reference cycles among them stay. Turn it off to embed the app in
  a process that manages its collector itself.
- ``poll_interval`` (seconds) is how often the model source is asked for a change; ``0`` never.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from loopml.core.errors import InvalidInput, user_message

__all__ = ["ServingConfig"]

CategoryPolicy = Literal["warn", "error", "ignore"]
_POLICIES = ("warn", "error", "ignore")


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(user_message(f"serving config {name}", "must be an integer >= 1", value))


def _non_negative(name: str, value: object, *, positive: bool = False) -> None:
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value > 0 if positive else value >= 0)
    )
    if not ok:
        rule = "must be a finite number > 0" if positive else "must be a finite number >= 0"
        raise InvalidInput(user_message(f"serving config {name}", rule, value))


@dataclass(frozen=True, slots=True, kw_only=True)
class ServingConfig:
    """How a prediction server batches, sheds, validates and answers (rules: module docstring).

    >>> ServingConfig(max_batch_size=32).max_wait_ms
    2.0
    >>> ServingConfig(max_batch_size=0)
    Traceback (most recent call last):
    ...
    loopml.core.errors.InvalidInput: serving config max_batch_size must be an integer >= 1; got 0.
    """

    max_batch_size: int = 64
    max_wait_ms: float = 2.0
    latency_budget_ms: float = 1000.0
    max_body_bytes: int = 8 * 1024 * 1024
    category_policy: CategoryPolicy = "warn"
    allow_extra_columns: bool = False
    probabilities: bool = True
    inline_max_ms: float = 5.0
    model_threads: int | None = 1
    poll_interval: float = 1.0
    freeze_gc: bool = True

    def __post_init__(self) -> None:
        _positive_int("max_batch_size", self.max_batch_size)
        _positive_int("max_body_bytes", self.max_body_bytes)
        if self.model_threads is not None:
            _positive_int("model_threads", self.model_threads)
        _non_negative("max_wait_ms", self.max_wait_ms)
        _non_negative("latency_budget_ms", self.latency_budget_ms, positive=True)
        _non_negative("poll_interval", self.poll_interval)
        _non_negative("inline_max_ms", self.inline_max_ms)
        if self.category_policy not in _POLICIES:
            raise InvalidInput(
                user_message(
                    "serving config category_policy",
                    f"must be one of {', '.join(_POLICIES)}",
                    self.category_policy,
                )
            )
        for name in ("allow_extra_columns", "probabilities", "freeze_gc"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidInput(
                    user_message(
                        f"serving config {name}", "must be true or false", getattr(self, name)
                    )
                )
