"""The Open Inference Protocol v2 (REST) shapes: reading an inference request into columns, and
writing outputs and model metadata.

A tabular model takes one input per feature column (``name`` = the column, ``shape`` ``[n]`` or
``[n, 1]``), or a single input of shape ``[n, k]`` whose ``k`` values per row are the signature's
columns in order. ``data`` is flat or nested (row-major) and must hold ``prod(shape)`` values;
``datatype`` must be one of the protocol's, and the values themselves are checked against the
model signature like any request. Responses carry the output ``prediction`` (``[n]``, or
``[n, m]`` for several targets) and, for a classifier, ``probabilities`` (``[n, k]``, FP64, in
the model's class order); ``outputs`` in the request selects among them. The request's
``parameters.unit_id`` routes and labels it like ``unit_id`` of ``POST /predict``; the response's
``parameters`` carry ``request_id``, ``arm`` and ``latency_ms``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from loopml.core.errors import did_you_mean, user_message, verbatim
from loopml.models.signature import ColumnSpec, ColumnType, Signature
from loopml.serving.errors import MalformedRequest

__all__ = [
    "DATATYPES",
    "OUTPUT_PREDICTION",
    "OUTPUT_PROBABILITIES",
    "InferenceInputs",
    "datatype_of",
    "input_metadata",
    "output_metadata",
    "output_tensor",
    "read_inference_request",
]

DATATYPES = (
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
)  # fmt: skip
OUTPUT_PREDICTION = "prediction"
OUTPUT_PROBABILITIES = "probabilities"
_OUTPUTS = (OUTPUT_PREDICTION, OUTPUT_PROBABILITIES)
_NUMPY_DATATYPES = {
    "b": {1: "BOOL"},
    "u": {1: "UINT8", 2: "UINT16", 4: "UINT32", 8: "UINT64"},
    "i": {1: "INT8", 2: "INT16", 4: "INT32", 8: "INT64"},
    "f": {2: "FP16", 4: "FP32", 8: "FP64"},
}
_MAX_NESTING = 32


def _bad(subject: str, rule: str, value: object = None, fix: str | None = None) -> Exception:
    return MalformedRequest(user_message(subject, rule, value, fix))


class InferenceInputs:
    """An inference request read: its feature ``columns``, ``id``, ``unit_id`` and the
    ``outputs`` asked for."""

    __slots__ = ("columns", "id", "outputs", "unit_id")

    def __init__(
        self,
        columns: dict[str, list[Any]],
        id: str | None,
        unit_id: str | None,
        outputs: tuple[str, ...],
    ) -> None:
        self.columns = columns
        self.id = id
        self.unit_id = unit_id
        self.outputs = outputs


def _flat_data(data: list[Any], where: str) -> list[Any]:
    """``data`` flattened row-major (its count is checked against the shape by the caller)."""
    out: list[Any] = []

    def walk(items: list[Any], depth: int) -> None:
        if depth > _MAX_NESTING:
            raise _bad(f"{where} data", f"must nest at most {_MAX_NESTING} levels")
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                out.append(item)

    if data and any(isinstance(item, list) for item in data):
        walk(data, 0)
        return out
    return data


def _shape(value: object, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise _bad(f"{where} shape", "must be a non-empty list of sizes", value)
    for size in value:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise _bad(f"{where} shape", "must hold non-negative integers", value)
    return tuple(value)


def read_inference_request(payload: object, signature: Signature | None) -> InferenceInputs:
    """The columns of an inference request (rules: module docstring); MalformedRequest (400)
    for a request that breaks the protocol."""
    if not isinstance(payload, dict):
        raise _bad(
            "the inference request",
            "must be a JSON object",
            verbatim(f"<{type(payload).__name__}>"),
        )
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise _bad("the inference request id", "must be a string", request_id)
    unit_id = _parameters_unit_id(payload.get("parameters"))
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise _bad(
            "the inference request inputs",
            "must be a non-empty list of tensors",
            verbatim(f"<{type(inputs).__name__}>"),
            'send {"inputs": [{"name": ..., "shape": [n], "datatype": ..., "data": [...]}]}',
        )
    names = set() if signature is None else set(signature.names)
    columns: dict[str, list[Any]] = {}
    for i, tensor in enumerate(inputs):
        where = f"inputs[{i}]"
        if not isinstance(tensor, dict):
            raise _bad(where, "must be a JSON object", verbatim(f"<{type(tensor).__name__}>"))
        name = tensor.get("name")
        if not isinstance(name, str) or not name:
            raise _bad(f"{where} name", "must be a non-empty string", name)
        where = f"input {name!r}"
        if name in columns:
            raise _bad(where, "must appear once")
        shape = _shape(tensor.get("shape"), where)
        datatype = tensor.get("datatype")
        if datatype not in DATATYPES:
            raise _bad(
                f"{where} datatype",
                f"must be one of {', '.join(DATATYPES)}",
                datatype,
                did_you_mean(datatype, DATATYPES, ignore_case=True),
            )
        data = tensor.get("data")
        if not isinstance(data, list):
            raise _bad(f"{where} data", "must be a list", verbatim(f"<{type(data).__name__}>"))
        flat = _flat_data(data, where)
        expected = math.prod(shape)
        if len(flat) != expected:
            raise _bad(
                f"{where} data",
                f"must hold {expected} values for shape {list(shape)}",
                verbatim(f"{len(flat)} values"),
            )
        if len(shape) >= 2 and math.prod(shape[1:]) > 1:
            width = math.prod(shape[1:])
            if signature is None or name in names or len(inputs) > 1:
                raise _bad(
                    f"{where} shape",
                    "must be [n] or [n, 1] for a feature column (one input per column), or "
                    f"[n, {len(names)}] for a single input holding the signature's columns",
                    list(shape),
                )
            if width != len(names):
                raise _bad(
                    f"{where} shape",
                    f"must have {len(names)} values per row (the model's columns)",
                    list(shape),
                )
            return InferenceInputs(
                {spec: flat[j::width] for j, spec in enumerate(signature.names)},
                request_id,
                unit_id,
                _outputs(payload.get("outputs")),
            )
        columns[name] = flat
    return InferenceInputs(columns, request_id, unit_id, _outputs(payload.get("outputs")))


def _parameters_unit_id(parameters: object) -> str | None:
    if parameters is None:
        return None
    if not isinstance(parameters, dict):
        raise _bad(
            "the inference request parameters",
            "must be a JSON object",
            verbatim(f"<{type(parameters).__name__}>"),
        )
    unit_id = parameters.get("unit_id")
    if unit_id is None:
        return None
    if isinstance(unit_id, bool) or not isinstance(unit_id, str | int):
        raise _bad("parameters.unit_id", "must be a string", unit_id)
    return str(unit_id)


def _outputs(requested: object) -> tuple[str, ...]:
    if requested is None:
        return _OUTPUTS
    if not isinstance(requested, list):
        raise _bad(
            "the inference request outputs",
            'must be a list of {"name": ...}',
            verbatim(f"<{type(requested).__name__}>"),
        )
    names: list[str] = []
    for item in requested:
        name = item.get("name") if isinstance(item, dict) else None
        if name not in _OUTPUTS:
            raise _bad(
                "requested output",
                f"must be one of {', '.join(_OUTPUTS)}",
                name,
                did_you_mean(name, _OUTPUTS),
            )
        names.append(name)
    return tuple(dict.fromkeys(names))


def datatype_of(array: np.ndarray[Any, Any]) -> str:
    """The protocol datatype of a numpy array (BYTES for strings and objects)."""
    return _NUMPY_DATATYPES.get(array.dtype.kind, {}).get(array.dtype.itemsize, "BYTES")


def output_tensor(name: str, values: Any) -> dict[str, Any]:
    """One output tensor; ``data`` is flat (row-major), as numpy when orjson can write it."""
    array = np.asarray(values)
    datatype = datatype_of(array)
    flat = np.ascontiguousarray(array).reshape(-1)
    data: Any = flat if datatype not in ("BYTES", "FP16") else flat.tolist()
    return {"name": name, "datatype": datatype, "shape": list(array.shape), "data": data}


def _spec_datatype(spec: ColumnSpec) -> str:
    if spec.type in (ColumnType.FLOAT, ColumnType.INTEGER, ColumnType.BOOLEAN):
        try:
            return datatype_of(np.empty(0, dtype=spec.dtype))
        except TypeError:
            pass
        return {ColumnType.FLOAT: "FP64", ColumnType.INTEGER: "INT64"}.get(spec.type, "BOOL")
    return "BYTES"


def input_metadata(signature: Signature | None) -> list[dict[str, Any]]:
    """The inputs of a model's metadata: one tensor per signature column."""
    if signature is None:
        return []
    return [
        {"name": spec.name, "datatype": _spec_datatype(spec), "shape": [-1]}
        for spec in signature.inputs
    ]


def output_metadata(signature: Signature | None, classes: list[Any] | None) -> list[dict[str, Any]]:
    """The outputs of a model's metadata: ``prediction``, and ``probabilities`` of a classifier."""
    outputs = signature.outputs if signature is not None else ()
    datatype = _spec_datatype(outputs[0]) if len(outputs) == 1 else "BYTES"
    shape = [-1] if len(outputs) <= 1 else [-1, len(outputs)]
    out: list[dict[str, Any]] = [{"name": OUTPUT_PREDICTION, "datatype": datatype, "shape": shape}]
    if classes is not None:
        out.append({"name": OUTPUT_PROBABILITIES, "datatype": "FP64", "shape": [-1, len(classes)]})
    return out
