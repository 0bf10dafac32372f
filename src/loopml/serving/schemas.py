"""The request and response shapes of the server, for its OpenAPI document only.

The server never builds these models per request (reading JSON with orjson and checking it
against the model signature is what it does); they describe the wire format to clients, to the
docs page and to schemathesis, which fuzzes the server against them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

__all__ = ["COMPONENTS", "ERROR_RESPONSES", "body", "component"]


class PredictRequest(BaseModel):
    """Rows (``records``) or ``columns`` to predict, with optional unit ids."""

    model_config = ConfigDict(extra="forbid")

    records: list[dict[str, Any]] | None = Field(
        None, description="One JSON object per row: feature name -> value."
    )
    columns: dict[str, list[Any]] | None = Field(
        None, description="Feature name -> one value per row (all lists of one length)."
    )
    unit_id: str | int | None = Field(
        None,
        description="What the request is about (a customer, a flight): routes it (the same "
        "unit always meets the same arm) and labels its rows in the prediction log.",
    )
    unit_ids: list[str | int | None] | None = Field(
        None, description="One unit id per row, for the prediction log."
    )


class Problem(BaseModel):
    kind: str
    column: str
    severity: str
    message: str
    expected: str | None = None
    got: str | None = None
    examples: list[Any] = []
    count: int = 0


class SignatureDiff(BaseModel):
    ok: bool
    problems: list[Problem]


class PredictResponse(BaseModel):
    request_id: str
    model_name: str
    model_version: int | None
    arm: str
    predictions: list[Any]
    probabilities: list[list[float | None]] | None = None
    classes: list[Any] | None = None
    latency_ms: float
    warnings: list[Problem] | None = None


class ErrorResponse(BaseModel):
    error: str = Field(description="What went wrong, and the fix.")
    code: str = Field(description="A stable code: SIGNATURE_MISMATCH, OVERLOADED, ...")
    request_id: str
    diff: SignatureDiff | None = Field(
        None, description="For 422: every way the request differs from the model signature."
    )


Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
]  # fmt: skip


class RequestInput(BaseModel):
    name: str
    shape: list[int]
    datatype: Datatype
    data: list[Any]
    parameters: dict[str, Any] | None = None


class RequestOutput(BaseModel):
    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    """An Open Inference Protocol v2 inference request."""

    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: Datatype
    data: list[Any]


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str
    parameters: dict[str, Any]
    outputs: list[ResponseOutput]


class MetadataTensor(BaseModel):
    name: str
    datatype: Datatype
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class Live(BaseModel):
    live: bool


class Ready(BaseModel):
    ready: bool


class ModelReady(BaseModel):
    name: str
    ready: bool


_REQUEST_MODELS: tuple[type[BaseModel], ...] = (PredictRequest, InferenceRequest)
_refs, _schema = models_json_schema(
    [(model, "validation") for model in _REQUEST_MODELS],
    ref_template="#/components/schemas/{model}",
)
#: The request schemas the routes' bodies refer to, for the OpenAPI document's components.
COMPONENTS: dict[str, Any] = dict(_schema.get("$defs", {}))


def component(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def body(name: str) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON request body of the component ``name``."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": component(name)}},
        }
    }


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse} for status in statuses}


#: The error statuses of each kind of route (the bodies are :class:`ErrorResponse`).
ERROR_RESPONSES = {
    "predict": _errors(400, 404, 413, 422, 503),
    "model": _errors(404, 503),
}
