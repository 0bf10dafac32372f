"""The serving errors, and the one place where every error becomes an HTTP response.

A request fails with a loopml error whose kind decides the status (:data:`STATUS`, first match
in order):

- :class:`~loopml.models.signature.SignatureMismatch` -> 422, the body carries the diff;
- :class:`PayloadTooLarge` -> 413; :class:`MalformedRequest` (not JSON, wrong shape) and any
  other :class:`~loopml.core.errors.InvalidInput` -> 400;
- :class:`~loopml.core.errors.NotFound` (unknown model or version) -> 404;
  :class:`~loopml.core.errors.Conflict` -> 409; :class:`~loopml.core.errors.NotTrusted` -> 403;
- :class:`Overloaded` (load shed) and :class:`NotReady` -> 503, with ``Retry-After``;
- anything else -> 500, logged with its traceback and shown as a generic message (a client's
  mistake is never a 500: those are the kinds above).

Every error body has one shape, read by plain and Open Inference Protocol clients alike:
``{"error": message, "code": LoopmlError.code, "request_id": ...}`` (+ ``"diff"`` for 422), and
the response carries the ``x-request-id`` header.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import orjson
from starlette.responses import Response

from loopml.core.errors import (
    Conflict,
    InvalidInput,
    LoopmlError,
    NotFound,
    NotTrusted,
    user_message,
)
from loopml.models.signature import SignatureMismatch

__all__ = [
    "REQUEST_ID_HEADER",
    "STATUS",
    "MalformedRequest",
    "NotReady",
    "Overloaded",
    "PayloadTooLarge",
    "error_response",
    "status_of",
]

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"


class MalformedRequest(InvalidInput):
    """The request body is not JSON, or not of the shape the route reads."""

    code = "MALFORMED_REQUEST"


class PayloadTooLarge(InvalidInput):
    """The request body is larger than ``ServingConfig.max_body_bytes``."""

    code = "PAYLOAD_TOO_LARGE"


class Overloaded(LoopmlError):
    """The arm's queue would make the request wait longer than the latency budget."""

    code = "OVERLOADED"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotReady(LoopmlError):
    """The server has not loaded its models yet."""

    code = "NOT_READY"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


#: Error kind -> HTTP status; the first kind the error is an instance of wins.
STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (SignatureMismatch, 422),
    (PayloadTooLarge, 413),
    (InvalidInput, 400),
    (NotFound, 404),
    (Conflict, 409),
    (NotTrusted, 403),
    (Overloaded, 503),
    (NotReady, 503),
)


def status_of(exc: BaseException) -> int:
    """The HTTP status of ``exc`` (500 for anything not in :data:`STATUS`)."""
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def error_response(exc: BaseException, request_id: str) -> Response:
    """The JSON response for ``exc``; a 500 is logged with its traceback and shown generically."""
    status = status_of(exc)
    body: dict[str, Any]
    headers = {REQUEST_ID_HEADER: request_id}
    if status == 500:
        logger.error("request %s failed", request_id, exc_info=exc)
        body = {
            "error": user_message(
                "the server",
                "failed while answering the request",
                fix=f"report request id {request_id} with the server's log",
            ),
            "code": exc.code if isinstance(exc, LoopmlError) else LoopmlError.code,
        }
    else:
        body = {"error": str(exc), "code": getattr(exc, "code", LoopmlError.code)}
    body["request_id"] = request_id
    if isinstance(exc, SignatureMismatch):
        body["diff"] = exc.diff.to_dict()
    retry_after = getattr(exc, "retry_after", None)
    if status == 503 and isinstance(retry_after, int | float):
        headers["retry-after"] = str(max(1, math.ceil(retry_after)))
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )
