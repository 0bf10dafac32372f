"""ONNX models run with onnxruntime, and verified export of scikit-learn packages to ONNX.

The flavor saves an ``onnx.ModelProto`` as ``model.onnx`` and loads an
``onnxruntime.InferenceSession`` (CPU) from the verified bytes. ``predict(frame)`` feeds the
graph from the DataFrame in one of two ways, chosen from the graph's inputs:

- every input is named after a column: one ``[N, 1]`` tensor per column, converted to the
  input's element type (float, double, int64, string, …);
- otherwise a single input: one ``[N, n_columns]`` tensor of all (numeric) columns, in the
  frame's order (a loaded package first puts columns in training order).

The output named ``label`` (skl2onnx's name) or else the first output is ``predict``; an output
named ``probabilities``/``output_probability`` or a ZipMap (list of dicts) is ``predict_proba``,
returned as a 2-D array.

:func:`export_onnx` converts a loaded ``sklearn`` package with skl2onnx and keeps the
conversion only if onnxruntime reproduces the original model on the input example: labels
exactly, probabilities (or regression outputs) within ``tolerance``. What it measured travels
in the ONNX file's metadata and in the package's manifest options.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.models.flavors.base import Flavor, VerifiedFiles, require

if TYPE_CHECKING:
    import os

    from loopml.models.loaded import LoadedModel
    from loopml.models.manifest import Manifest

__all__ = ["ConversionMismatch", "OnnxFlavor", "export_onnx"]

MODEL_FILE = "model.onnx"
#: Keys of the ONNX model's ``metadata_props`` that loopml writes (values are JSON).
EXPORT_KEY = "loopml.export"
CLASSES_KEY = "loopml.classes"
#: Outputs skl2onnx names; other graphs fall back to position (predict = the first output).
_LABEL_NAMES = ("label", "output_label")
_PROBA_NAMES = ("probabilities", "output_probability")
_ELEMENT_TYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}
#: ai.onnx.ml 3 is the first with double-precision tree ensembles; skl2onnx picks the lowest
#: opsets the model needs, up to these.
_ML_OPSET = 3


def _is_model_proto(model: object) -> bool:
    return any(
        cls.__name__ == "ModelProto" and cls.__module__.split(".")[0] == "onnx"
        for cls in type(model).__mro__
    )


def _column_array(frame: pd.DataFrame, column: str, onnx_type: str, rank: int) -> Any:
    series = frame[column]
    dtype = _ELEMENT_TYPES.get(onnx_type)
    if dtype is None:
        raise InvalidInput(
            user_message(f"ONNX input {column!r}", "has a type loopml cannot feed", onnx_type)
        )
    try:
        if dtype is np.object_:
            values = series.astype(str).to_numpy(dtype=object)
        else:
            values = series.to_numpy(dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            user_message(
                f"column {column!r}",
                f"cannot be converted to the ONNX input type {onnx_type}",
                str(series.dtype),
                "pass values of that type (and no missing values for integer inputs)",
            )
        ) from exc
    return values.reshape(-1, 1) if rank != 1 else values


def _feeds(session: Any, frame: Any) -> dict[str, Any]:
    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(frame)
    inputs = session.get_inputs()
    columns = [str(c) for c in frame.columns]
    if all(i.name in columns for i in inputs):
        return {i.name: _column_array(frame, i.name, i.type, len(i.shape)) for i in inputs}
    if len(inputs) != 1:
        missing = sorted(i.name for i in inputs if i.name not in columns)
        raise InvalidInput(
            user_message(
                "model input",
                "must have a column for every input of the ONNX graph",
                verbatim(f"missing: {', '.join(missing)}"),
            )
        )
    (single,) = inputs
    dtype = _ELEMENT_TYPES.get(single.type)
    if dtype is None or dtype is np.object_:
        raise InvalidInput(
            user_message(
                f"ONNX input {single.name!r}",
                "must be a numeric tensor to be fed from the whole frame",
                single.type,
            )
        )
    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise InvalidInput(
            user_message(
                "model input",
                f"must be all numeric: the ONNX graph takes one {single.type} tensor",
                verbatim(f"non-numeric columns: {', '.join(map(str, non_numeric))}"),
            )
        )
    try:
        return {single.name: frame.to_numpy(dtype=dtype)}
    except (TypeError, ValueError) as exc:  # e.g. missing values in nullable integer columns
        raise InvalidInput(
            user_message(
                "model input",
                f"cannot be converted to the ONNX input type {single.type}",
                str(exc).splitlines()[0] if str(exc) else None,
            )
        ) from exc


def _output_names(session: Any) -> tuple[str, str | None]:
    """``(predict output, predict_proba output or None)``."""
    outputs = session.get_outputs()
    names = [o.name for o in outputs]
    label = next((n for n in names if n in _LABEL_NAMES), names[0])
    proba = next(
        (
            o.name
            for o in outputs
            if o.name != label and (o.name in _PROBA_NAMES or o.type.startswith("seq(map("))
        ),
        None,
    )
    return label, proba


class OnnxFlavor(Flavor):
    name = "onnx"
    extra = "onnx"
    modules = ("onnxruntime", "onnx")
    distributions = ("onnx", "onnxruntime")

    def matches(self, model: object) -> bool:
        return _is_model_proto(model)

    def save(self, model: Any, directory: Path) -> dict[str, Any]:
        data: bytes = model.SerializeToString()
        session = self._session(data)  # refuse at save what could not be loaded
        label, proba = _output_names(session)
        options: dict[str, Any] = {
            "model_file": MODEL_FILE,
            "opsets": {(o.domain or "ai.onnx"): int(o.version) for o in model.opset_import},
            "inputs": {i.name: i.type for i in session.get_inputs()},
            "predict_output": label,
            "proba_output": proba,
        }
        props = {p.key: p.value for p in model.metadata_props}
        if EXPORT_KEY in props:
            options["export"] = json.loads(props[EXPORT_KEY])
        (directory / MODEL_FILE).write_bytes(data)
        return options

    def _session(self, data: bytes) -> Any:
        ort = require("onnxruntime", self.extra, "running an ONNX model")
        try:
            return ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types, untyped
            raise InvalidInput(
                user_message(
                    "ONNX model", "cannot be loaded by onnxruntime", str(exc).splitlines()[0]
                )
            ) from exc

    def load(self, files: VerifiedFiles, options: Mapping[str, Any], trust: bool) -> Any:
        return self._session(files.read_bytes(str(options.get("model_file", MODEL_FILE))))

    def _as_session(self, model: Any) -> Any:
        """A session for ``model``: the loaded one, or a new one for an unsaved ModelProto."""
        return self._session(model.SerializeToString()) if _is_model_proto(model) else model

    def predict(self, model: Any, frame: Any) -> Any:
        session = self._as_session(model)
        label, _ = _output_names(session)
        (result,) = session.run([label], _feeds(session, frame))
        if isinstance(result, np.ndarray) and result.ndim == 2 and result.shape[1] == 1:
            return result.ravel()  # a regressor's [N, 1] output, as scikit-learn returns it
        return result

    def has_proba(self, model: Any) -> bool:
        return _output_names(self._as_session(model))[1] is not None

    def predict_proba(self, model: Any, frame: Any) -> Any:
        session = self._as_session(model)
        _, proba = _output_names(session)
        if proba is None:
            raise InvalidInput(
                user_message("this ONNX model", "has no probabilities output", fix="use predict()")
            )
        (result,) = session.run([proba], _feeds(session, frame))
        if isinstance(result, list):  # ZipMap: one {class: probability} dict per row
            kind = next(o.type for o in session.get_outputs() if o.name == proba)
            keys = list(result[0]) if result else []
            dtype = np.float32 if "tensor(float)" in kind else np.float64
            return np.array([[row[k] for k in keys] for row in result], dtype=dtype)
        return result

    def classes(self, model: Any) -> list[Any] | None:
        meta = self._as_session(model).get_modelmeta().custom_metadata_map
        return None if CLASSES_KEY not in meta else list(json.loads(meta[CLASSES_KEY]))

    def example(self) -> tuple[Any, Any]:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        rng = np.random.default_rng(19)
        frame = pd.DataFrame(
            {"distance": rng.gamma(2.0, 400.0, 200), "dep_delay": rng.normal(5.0, 20.0, 200)}
        )
        target = (frame["dep_delay"] + rng.normal(0, 10, 200) > 10).astype(int)
        model = make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, target)
        skl2onnx = require("skl2onnx", "onnx", "the onnx flavor example")
        candidate = _candidates(frame, _data_types())[0]
        onnx_model = _convert(skl2onnx, model, candidate, classifier=True)
        _set_metadata(onnx_model, CLASSES_KEY, json.dumps(_json_list(model.classes_)))
        return onnx_model, frame


# ---------------------------------------------------------------------------------- export


class ConversionMismatch(InvalidInput):
    """The ONNX conversion does not reproduce the original model within the tolerance.

    ``max_abs_diff`` is the smallest difference (of probabilities, or of a regressor's
    predictions) any attempted conversion measured, NaN when none ran; ``attempts`` describes
    each conversion tried, in order.
    """

    def __init__(
        self,
        message: str,
        max_abs_diff: float = math.nan,
        tolerance: float = math.nan,
        attempts: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.max_abs_diff = max_abs_diff
        self.tolerance = tolerance
        self.attempts = tuple(attempts)


@dataclass(frozen=True)
class _Candidate:
    """One way to declare the graph's inputs: ``label`` says which (e.g. "double matrix")."""

    label: str
    initial_types: list[tuple[str, Any]]


@dataclass(frozen=True)
class _Outcome:
    """What one conversion measured: ``problem`` is why it is unfaithful at any tolerance
    (conversion error, labels that differ, a wrong output shape); None when only the measured
    difference decides."""

    candidate: _Candidate
    model: Any
    max_abs_diff: float
    problem: str | None = None

    def faithful(self, tolerance: float) -> bool:
        return self.problem is None and self.max_abs_diff <= tolerance

    def describe(self) -> str:
        parts = (
            [] if math.isnan(self.max_abs_diff) else [f"max abs difference {self.max_abs_diff:.3g}"]
        )
        parts += [] if self.problem is None else [self.problem]
        return f"{self.candidate.label}: {', '.join(parts)}"


def _data_types() -> Any:
    return require("skl2onnx.common.data_types", "onnx", "exporting a model to ONNX")


def _candidates(frame: pd.DataFrame, types: Any) -> list[_Candidate]:
    """Input declarations to try, in order of preference.

    All-numeric frames: one ``input`` matrix, double then float (a tree compares float32
    thresholds, where a double input can fall on the other side); then one input per column.
    Mixed frames: one input per column (string for text/categorical, int64 for integers and
    booleans, double or float for floats).
    """
    numeric = all(
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        for dtype in frame.dtypes
    )
    width = frame.shape[1]
    found: list[_Candidate] = []
    if numeric:
        found += [
            _Candidate("double matrix", [("input", types.DoubleTensorType([None, width]))]),
            _Candidate("float matrix", [("input", types.FloatTensorType([None, width]))]),
        ]
    for label, floating in (("double", types.DoubleTensorType), ("float", types.FloatTensorType)):
        declared: list[tuple[str, Any]] = []
        for column, dtype in frame.dtypes.items():
            if pd.api.types.is_float_dtype(dtype):
                declared.append((str(column), floating([None, 1])))
            elif pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
                declared.append((str(column), types.Int64TensorType([None, 1])))
            else:
                declared.append((str(column), types.StringTensorType([None, 1])))
        found.append(_Candidate(f"{label} per column", declared))
    return found


def _convert(skl2onnx: Any, model: Any, candidate: _Candidate, classifier: bool) -> Any:
    opset = {"": int(skl2onnx.get_latest_tested_opset_version()), "ai.onnx.ml": _ML_OPSET}
    return skl2onnx.convert_sklearn(
        model,
        initial_types=candidate.initial_types,
        target_opset=opset,
        options={id(model): {"zipmap": False}} if classifier else None,
    )


def _first_line(exc: BaseException, limit: int = 160) -> str:
    """``Type: first line of the message`` (shortened), and the same for its direct cause."""
    lines = str(exc).strip().splitlines()
    line = lines[0] if lines else ""
    text = f"{type(exc).__name__}: {line if len(line) <= limit else line[:limit] + '…'}"
    if exc.__cause__ is not None and exc.__cause__ is not exc:
        text += f" (caused by {_first_line(exc.__cause__, limit)})"
    return text


def _label_kind(values: np.ndarray[Any, Any]) -> str:
    kind = values.dtype.kind
    return {"b": "bool", "i": "int", "u": "int", "f": "float"}.get(kind, "text")


def _compare(
    candidate: _Candidate,
    onnx_model: Any,
    frame: pd.DataFrame,
    expected: Any,
    expected_proba: Any,
) -> _Outcome:
    """Run ``onnx_model`` as a loaded package would, and measure it against the original."""
    flavor = OnnxFlavor()
    try:
        session = flavor._session(onnx_model.SerializeToString())
        got = np.asarray(flavor.predict(session, frame))
        got_proba = None if expected_proba is None else flavor.predict_proba(session, frame)
    except Exception as exc:  # a graph onnxruntime rejects, or inputs it cannot be fed
        return _Outcome(candidate, onnx_model, math.nan, _first_line(exc))
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        return _Outcome(
            candidate,
            onnx_model,
            math.nan,
            f"predictions of shape {got.shape}, not {expected.shape}",
        )
    problem = None
    if expected_proba is None:  # a regressor: its predictions are compared within tolerance
        actual, reference = got, expected
    else:  # a classifier: labels must be equal, in kind and value; probabilities within tolerance
        actual, reference = np.asarray(got_proba), np.asarray(expected_proba)
        if _label_kind(got) != _label_kind(expected):
            problem = f"labels are {got.dtype} where the original's are {expected.dtype}"
        elif (mismatched := int(np.sum(got != expected))) > 0:
            problem = f"labels differ on {mismatched} of {len(expected)} rows"
    if actual.shape != reference.shape:
        shapes = f"probabilities of shape {actual.shape}, not {reference.shape}"
        return _Outcome(candidate, onnx_model, math.nan, shapes)
    diff = np.abs(actual.astype(np.float64) - reference.astype(np.float64))
    return _Outcome(candidate, onnx_model, float(np.max(diff)) if diff.size else 0.0, problem)


def _json_list(values: Any) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in np.asarray(values).tolist()]


def export_onnx(
    loaded: LoadedModel,
    path: str | os.PathLike[str],
    *,
    tolerance: float = 1e-4,
    example: pd.DataFrame | None = None,
) -> Manifest:
    """Convert a loaded scikit-learn package to an ONNX package at ``path``, if it is faithful.

    The conversion (skl2onnx, ZipMap disabled) is run with onnxruntime on ``example`` (default:
    the package's input example) and kept only if labels equal the original model's exactly and
    probabilities (or regression outputs) differ by at most ``tolerance``. Input declarations
    are tried in order (see :func:`_candidates`); the first faithful one is saved. Otherwise
    :class:`ConversionMismatch` states what each attempt measured, and nothing is written.
    """
    from loopml.models.package import save_model

    if loaded.manifest.flavor != "sklearn":
        raise InvalidInput(
            user_message(
                f"model package of flavor {loaded.manifest.flavor!r}",
                "cannot be exported to ONNX: export_onnx converts scikit-learn packages",
                fix="export a package saved with the sklearn flavor",
            )
        )
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
        raise InvalidInput(user_message("tolerance", "must be a number", tolerance))
    if not math.isfinite(tolerance) or tolerance < 0:
        raise InvalidInput(user_message("tolerance", "must be a finite number >= 0", tolerance))
    skl2onnx = require("skl2onnx", "onnx", "exporting a model to ONNX")
    types = _data_types()
    require("onnxruntime", "onnx", "exporting a model to ONNX")
    frame = loaded.input_example if example is None else example
    if frame is None:
        raise InvalidInput(
            user_message(
                "export_onnx",
                "needs rows to verify the conversion on, and the package has no input example",
                fix="pass example=<a DataFrame of typical inputs>",
            )
        )
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise InvalidInput(
            user_message("example", "must be a non-empty pandas DataFrame", type(frame).__name__)
        )
    if loaded.signature is not None:
        frame = loaded.signature.conform(frame)

    model = loaded.native
    classifier = loaded.has_proba
    expected = model.predict(frame)
    expected_proba = model.predict_proba(frame) if classifier else None

    outcomes: list[_Outcome] = []
    chosen: _Outcome | None = None
    for candidate in _candidates(frame, types):
        try:
            onnx_model = _convert(skl2onnx, model, candidate, classifier)
        except Exception as exc:  # skl2onnx raises RuntimeError, NotImplementedError, …
            outcomes.append(_Outcome(candidate, None, math.nan, _first_line(exc)))
            continue
        outcome = _compare(candidate, onnx_model, frame, expected, expected_proba)
        outcomes.append(outcome)
        if outcome.faithful(tolerance):
            chosen = outcome
            break

    rows = len(frame)
    attempts = [o.describe() for o in outcomes]
    if all(o.model is None for o in outcomes):
        raise InvalidInput(
            user_message(
                f"model of type {type(model).__name__}",
                "cannot be converted to ONNX by skl2onnx",
                verbatim("; ".join(dict.fromkeys(str(o.problem) for o in outcomes))),
                "keep the sklearn package, or register a converter for the unsupported step "
                "with skl2onnx.update_registered_converter",
            )
        )
    if chosen is None:
        measured = [o.max_abs_diff for o in outcomes if not math.isnan(o.max_abs_diff)]
        near = [o.max_abs_diff for o in outcomes if o.model is not None and o.problem is None]
        rule = (
            f"labels must be equal and probabilities within tolerance {tolerance:g}"
            if classifier
            else f"predictions must be within tolerance {tolerance:g}"
        )
        fix = (
            f"pass tolerance >= {min(near):.3g} if that difference is acceptable, or keep the "
            "sklearn package"
            if near
            else "keep the sklearn package: no conversion reproduces its labels"
        )
        raise ConversionMismatch(
            user_message(
                f"ONNX conversion of {type(model).__name__}",
                f"does not reproduce the original model on {rows} example rows ({rule})",
                verbatim("; ".join(attempts)),
                fix,
            ),
            min(measured) if measured else math.nan,
            float(tolerance),
            attempts,
        )

    record = {
        "source_flavor": "sklearn",
        "source": str(loaded.metadata.get("uri") or loaded.metadata.get("source") or ""),
        "source_run_id": loaded.manifest.run_id,
        "converter": "skl2onnx",
        "inputs": chosen.candidate.label,
        "compared": "probabilities and labels" if classifier else "predictions",
        "rows_compared": rows,
        "max_abs_diff": chosen.max_abs_diff,
        "tolerance": float(tolerance),
    }
    onnx_model = chosen.model
    _set_metadata(onnx_model, EXPORT_KEY, json.dumps(record))
    classes = getattr(model, "classes_", None)
    if classifier and classes is not None:
        _set_metadata(onnx_model, CLASSES_KEY, json.dumps(_json_list(classes)))
    return save_model(
        onnx_model,
        path,
        flavor="onnx",
        signature=loaded.signature,
        input_example=frame,
        metrics=dict(loaded.manifest.metrics),
        run_id=None,
    )


def _set_metadata(model: Any, key: str, value: str) -> None:
    for prop in model.metadata_props:
        if prop.key == key:
            prop.value = value
            return
    entry = model.metadata_props.add()
    entry.key = key
    entry.value = value
