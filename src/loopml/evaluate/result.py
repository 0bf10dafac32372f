"""The result of :func:`~loopml.evaluate.evaluate`: frozen, JSON-ready, saved and loaded.

:class:`EvaluationResult` holds every part of an evaluation (metrics with intervals, gains,
slices, worst slices, behaviour, calibration, fairness, importance, latency, model size, curves
for the report, notes on subsampling, seconds per part) and the per-row predictions and truth.
Rules:

- :meth:`EvaluationResult.to_dict` is plain JSON (``json.dumps(..., allow_nan=False)`` works):
  NaN and infinities become None, and the per-row arrays are left out.
  :meth:`EvaluationResult.from_dict` rebuilds what the dict holds, so
  ``from_dict(d).to_dict() == d`` (the arrays are then None).
- :meth:`EvaluationResult.save` writes ``evaluation.json``, ``predictions.npz`` (the per-row
  predictions and truth, for paired comparisons with a later model) and ``report.html``;
  :meth:`EvaluationResult.load` reads them back.
- ``data_digest`` (:func:`data_digest`: sha256 over the column names and
  ``pandas.util.hash_pandas_object`` of the rows) tells whether two results saw the same data.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.evaluate.behaviour import BehaviourResult
from loopml.evaluate.bootstrap import Estimate, Gain
from loopml.evaluate.calibration import ReliabilityCurve
from loopml.evaluate.catalog import Task, metric_spec
from loopml.evaluate.fairness import FairnessReport
from loopml.evaluate.importance import Importance
from loopml.evaluate.latency import Latency
from loopml.evaluate.slices import Slice, SliceReport

__all__ = ["FORMAT", "Calibration", "Curves", "EvaluationResult", "data_digest"]

FloatArray = npt.NDArray[np.float64]
#: Version of the JSON written by :meth:`EvaluationResult.to_dict`.
FORMAT = 1


# --------------------------------------------------------------------------------------------
# Result parts


@dataclass(frozen=True, slots=True, eq=False)
class Calibration:
    """Reliability curve, ECE and MCE; after cross-fitted recalibration when asked."""

    curve: ReliabilityCurve
    ece: float
    mce: float
    recalibration: Literal["platt", "isotonic"] | None = None
    recalibrated_ece: float | None = None
    recalibrated_mce: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "curve": self.curve.to_dict(),
            "ece": self.ece,
            "mce": self.mce,
            "recalibration": self.recalibration,
            "recalibrated_ece": self.recalibrated_ece,
            "recalibrated_mce": self.recalibrated_mce,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        c = data["curve"]
        curve = ReliabilityCurve(
            bin_edges=np.asarray(c["bin_edges"], dtype=np.float64),
            mean_predicted=np.asarray(c["mean_predicted"], dtype=np.float64),
            fraction_positive=np.asarray(c["fraction_positive"], dtype=np.float64),
            counts=np.asarray(c["counts"], dtype=np.int64),
            bin_index=np.asarray(c["bin_index"], dtype=np.int64),
            strategy=c["strategy"],
        )
        return cls(
            curve=curve,
            ece=float(data["ece"]),
            mce=float(data["mce"]),
            recalibration=data.get("recalibration"),
            recalibrated_ece=data.get("recalibrated_ece"),
            recalibrated_mce=data.get("recalibrated_mce"),
        )


@dataclass(frozen=True, slots=True, eq=False)
class Curves:
    """Curves for the report, at most 200 points each. Classification: ROC (``x`` false
    positive rate, ``y`` true positive rate) and precision-recall (``x`` recall, ``y``
    precision), from scikit-learn's ``roc_curve`` and ``precision_recall_curve``. Regression:
    mean prediction (``x``) against mean target (``y``) per decile of the prediction."""

    kind: Literal["classification", "regression"]
    first_x: tuple[float, ...]
    first_y: tuple[float, ...]
    second_x: tuple[float, ...] = ()
    second_y: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "first_x": list(self.first_x),
            "first_y": list(self.first_y),
            "second_x": list(self.second_x),
            "second_y": list(self.second_y),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Curves:
        return cls(
            kind=data["kind"],
            **{
                k: tuple(float(v) for v in data[k])
                for k in ("first_x", "first_y", "second_x", "second_y")
            },
        )


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def _interval_from(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "low": _nan(data["low"]),
        "high": _nan(data["high"]),
        "confidence": float(data["confidence"]),
        "n_resamples": int(data["n_resamples"]),
        "method": data["method"],
        "n_undefined": int(data["n_undefined"]),
        "standard_error": _nan(data["standard_error"]),
    }


def _clean(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """Everything :func:`evaluate` measured (see the module rules). ``predictions`` and
    ``y_true`` are the per-row scores and truth (None after :meth:`from_dict`)."""

    task: Task
    target: str
    n_rows: int
    threshold: float
    confidence: float
    n_resamples: int
    seed: int
    data_digest: str
    metrics: Mapping[str, Estimate]
    gains: Mapping[str, Gain] = field(default_factory=dict)
    slices: Mapping[str, SliceReport] = field(default_factory=dict)
    worst_slices: tuple[Slice, ...] = ()
    behaviour: tuple[BehaviourResult, ...] = ()
    calibration: Calibration | None = None
    fairness: FairnessReport | None = None
    importance: Importance | None = None
    latency: Latency | None = None
    model_size_mb: float | None = None
    curves: Curves | None = None
    notes: tuple[str, ...] = ()
    #: Seconds per part of the evaluation (``total`` included).
    seconds: Mapping[str, float] = field(default_factory=dict)
    predictions: FloatArray | None = None
    y_true: FloatArray | None = None

    @property
    def primary_metric(self) -> str:
        """The first metric: the one worst slices and permutation importance use."""
        return next(iter(self.metrics))

    def value(self, metric: str) -> float:
        """The whole-sample value of ``metric``; InvalidInput if it was not evaluated."""
        name = metric_spec(metric, self.task).name
        if name not in self.metrics:
            raise InvalidInput(
                user_message(
                    f"metric {metric!r}",
                    "was not evaluated",
                    verbatim(f"the result holds {', '.join(self.metrics)}"),
                    f"evaluate(..., metrics=[..., {name!r}])",
                )
            )
        return self.metrics[name].value

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (NaN as None); the per-row arrays are left out."""
        out = {
            "format": FORMAT,
            "task": self.task,
            "target": self.target,
            "n_rows": self.n_rows,
            "threshold": self.threshold,
            "confidence": self.confidence,
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "data_digest": self.data_digest,
            "metrics": {k: {"value": v.value, **v.to_dict()} for k, v in self.metrics.items()},
            "gains": {k: g.to_dict() for k, g in self.gains.items()},
            "slices": {k: r.to_dict() for k, r in self.slices.items()},
            "worst_slices": [s.to_dict() for s in self.worst_slices],
            "behaviour": [b.to_dict() for b in self.behaviour],
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "fairness": None if self.fairness is None else self.fairness.to_dict(),
            "importance": None if self.importance is None else self.importance.to_dict(),
            "latency": None if self.latency is None else self.latency.to_dict(),
            "model_size_mb": self.model_size_mb,
            "curves": None if self.curves is None else self.curves.to_dict(),
            "notes": list(self.notes),
            "seconds": dict(self.seconds),
        }
        cleaned: dict[str, Any] = _clean(out)
        return cleaned

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text (``allow_nan=False``: strict JSON)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationResult:
        """The result a :meth:`to_dict` dict describes (without the per-row arrays)."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise InvalidInput(
                user_message(
                    "evaluation result dict",
                    f"must be a mapping with format {FORMAT} (what to_dict() returns)",
                    got,
                )
            )
        metrics = {
            k: Estimate(value=_nan(v["value"]), **_interval_from(v))
            for k, v in data["metrics"].items()
        }
        gains = {
            k: Gain(
                delta=_nan(g["delta"]),
                candidate=_nan(g["candidate"]),
                baseline=_nan(g["baseline"]),
                **_interval_from(g),
            )
            for k, g in data["gains"].items()
        }
        optional: dict[str, Any] = {
            "calibration": (Calibration, data.get("calibration")),
            "fairness": (FairnessReport, data.get("fairness")),
            "importance": (Importance, data.get("importance")),
            "latency": (Latency, data.get("latency")),
            "curves": (Curves, data.get("curves")),
        }
        parts = {
            name: None if raw is None else kind.from_dict(raw)
            for name, (kind, raw) in optional.items()
        }
        return cls(
            task=data["task"],
            target=data["target"],
            n_rows=int(data["n_rows"]),
            threshold=float(data["threshold"]),
            confidence=float(data["confidence"]),
            n_resamples=int(data["n_resamples"]),
            seed=int(data["seed"]),
            data_digest=data["data_digest"],
            metrics=metrics,
            gains=gains,
            slices={k: SliceReport.from_dict(r) for k, r in data["slices"].items()},
            worst_slices=tuple(Slice.from_dict(s) for s in data["worst_slices"]),
            behaviour=tuple(BehaviourResult.from_dict(b) for b in data["behaviour"]),
            model_size_mb=data.get("model_size_mb"),
            notes=tuple(data.get("notes", ())),
            seconds=dict(data.get("seconds", {})),
            **parts,
        )

    def save(self, directory: str | Path, *, report: bool = True) -> list[Path]:
        """Write ``evaluation.json``, ``predictions.npz`` (when held) and, with ``report``,
        ``report.html`` into ``directory`` (created); the paths written."""
        from loopml.evaluate.report import to_html

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written = [out / "evaluation.json"]
        written[0].write_text(self.to_json(), encoding="utf-8")
        if self.predictions is not None and self.y_true is not None:
            arrays = out / "predictions.npz"
            with arrays.open("wb") as fh:
                np.savez(fh, predictions=self.predictions, y_true=self.y_true)
            written.append(arrays)
        if report:
            page = out / "report.html"
            page.write_text(to_html(self), encoding="utf-8")
            written.append(page)
        return written

    @classmethod
    def load(cls, directory: str | Path) -> EvaluationResult:
        """The result :meth:`save` wrote (with the per-row arrays when they were saved)."""
        where = Path(directory)
        data = json.loads((where / "evaluation.json").read_text(encoding="utf-8"))
        result = cls.from_dict(data)
        arrays = where / "predictions.npz"
        if arrays.exists():
            with np.load(arrays, allow_pickle=False) as held:
                predictions, truth = held["predictions"], held["y_true"]
            if predictions.shape != (result.n_rows,) or truth.shape != (result.n_rows,):
                raise InvalidInput(
                    user_message(
                        f"{arrays}",
                        f"must hold {result.n_rows} predictions and truths",
                        verbatim(f"shapes {predictions.shape} and {truth.shape}"),
                    )
                )
            object.__setattr__(result, "predictions", predictions.astype(np.float64))
            object.__setattr__(result, "y_true", truth.astype(np.float64))
        return result


def data_digest(frame: pd.DataFrame) -> str:
    """sha256 of the frame's column names and ``hash_pandas_object`` of its rows."""
    digest = hashlib.sha256(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
