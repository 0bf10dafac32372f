"""What the prediction log records: a batch of predictions (:class:`PredictionBatch`) and the
feedback that arrives later (:class:`Feedback`).

A :class:`PredictionBatch` is what a server hands :meth:`PredictionLog.log
<loopml.predictions.log.PredictionLog.log>` after one vectorised predict: the rows of one arm of
one deployment, served by one model version, each row with its request id, time and latency.
Building one checks only what is cheap (names, lengths); the conversion to Arrow happens later
on the log's writer thread, so the batch holds the caller's objects as they are and the caller
must not mutate them after logging (a server builds new ones per batch anyway).

Rules:

- ``deployment`` names a directory of the log: a letter or digit first, then letters, digits,
  ``_ . -`` and inner spaces (the rule of registered model names); a server of a bare model URI
  logs under the model's name. ``arm`` is any non-empty text (``flight-delay@champion``).
- ``model_version`` is the registry version (an ``int`` >= 1), or None for a model loaded from a
  path or a run.
- One row per entry of ``request_ids``; every per-row field has that length. A request of
  several rows repeats its id; ``unit_ids`` (the customer, flight, ... a row is about) tell its
  rows apart. ``timestamps_ms`` (epoch milliseconds, UTC) and ``latency_ms`` may be one number
  for every row.
- ``features`` is the conformed input: a pandas DataFrame, a pyarrow Table or a mapping of
  column name -> values (numpy arrays or lists: the cheapest to log). Each column is logged as
  ``f_<name>`` with its own type (see :mod:`loopml.predictions.log`).
- ``probabilities`` is None, one number per row (the positive class of a binary classifier) or
  one row of class probabilities per row (``n x k``, the model's class order); a binary
  ``n x 2`` array is logged as its second column.

>>> batch = PredictionBatch(
...     deployment="flight-delay", arm="flight-delay@champion", model_name="flight-delay",
...     model_version=3, request_ids=["r1", "r2"], unit_ids=["UA101", "DL7"],
...     timestamps_ms=1_700_000_000_000, features={"distance": [1400.0, 760.0]},
...     predictions=[1, 0], probabilities=[0.81, 0.12], latency_ms=1.7)
>>> batch.rows
2
>>> Feedback(request_id="r1", label=1).label
1
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeAlias

from loopml.core.errors import InvalidInput, did_you_mean, user_message, verbatim

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

__all__ = ["FeatureFrame", "Feedback", "PredictionBatch", "Values", "validate_deployment"]

#: Per-row values: a list or tuple, a numpy array, a pandas Series or a pyarrow Array.
Values: TypeAlias = "Sequence[Any] | npt.NDArray[Any] | pd.Series[Any] | Any"
#: The conformed feature frame: a pandas DataFrame, a pyarrow Table or column name -> values.
FeatureFrame: TypeAlias = "pd.DataFrame | Mapping[str, Values] | Any"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$")
_MAX_NAME_LENGTH = 256
_NAME_RULE = (
    f"must start with a letter or digit, use only letters, digits, '_', '.', '-' and inner "
    f"spaces, and be at most {_MAX_NAME_LENGTH} characters"
)
#: Outcome names become columns ``o_<name>``: identifiers, so SQL needs no quoting.
_OUTCOME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_MAX_ID_LENGTH = 1024


def _name(subject: str, value: object, fix: str) -> str:
    if (
        isinstance(value, str)
        and len(value) <= _MAX_NAME_LENGTH
        and _NAME.match(value)
        and value == value.strip()
    ):
        return value
    raise InvalidInput(user_message(subject, _NAME_RULE, value, fix))


def validate_deployment(name: object) -> str:
    """``name`` if it is a valid deployment name (a directory of the log), else InvalidInput.

    >>> validate_deployment("flight-delay")
    'flight-delay'
    """
    return _name("deployment name", name, "e.g. 'flight-delay'")


def _rows_of(values: Any) -> int:
    """The number of rows of a column, a frame, a Table or a mapping of columns."""
    num_rows = getattr(values, "num_rows", None)
    if isinstance(num_rows, int):  # pyarrow Table / RecordBatch
        return num_rows
    if isinstance(values, Mapping):
        lengths = {len(column) for column in values.values()}
        if len(lengths) > 1:
            raise InvalidInput(
                user_message(
                    "prediction batch features",
                    "must have columns of one length",
                    verbatim(f"<lengths {sorted(lengths)}>"),
                )
            )
        return lengths.pop() if lengths else 0
    shape = getattr(values, "shape", None)
    if shape is not None and len(shape) >= 1:
        return int(shape[0])
    return len(values)


def _per_row(what: str, values: Any, rows: int) -> None:
    try:
        n = _rows_of(values)
    except TypeError:
        raise InvalidInput(
            user_message(
                f"prediction batch {what}",
                "must be a sequence with one value per row",
                verbatim(f"<{type(values).__name__}>"),
            )
        ) from None
    if n != rows:
        raise InvalidInput(
            user_message(
                f"prediction batch {what}",
                f"must have one entry per row ({rows}, the number of request ids)",
                verbatim(f"<{n} entries>"),
            )
        )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True, kw_only=True)
class PredictionBatch:
    """The rows of one predict call of one arm: what the log writes (rules: module docstring)."""

    deployment: str
    arm: str
    model_name: str
    model_version: int | None
    request_ids: Values
    unit_ids: Values | None = None
    timestamps_ms: Values | int
    features: FeatureFrame
    predictions: Values
    probabilities: Values | None = None
    latency_ms: Values | float

    def __post_init__(self) -> None:
        validate_deployment(self.deployment)
        if isinstance(self.request_ids, str | bytes):
            raise InvalidInput(
                user_message(
                    "prediction batch request ids",
                    "must be a sequence of ids, one per row, not one string",
                    self.request_ids,
                    "wrap a single id in a list",
                )
            )
        arm = self.arm
        if not isinstance(arm, str) or not arm.strip() or len(arm) > _MAX_NAME_LENGTH:
            raise InvalidInput(
                user_message(
                    "prediction batch arm",
                    f"must be a non-empty string of at most {_MAX_NAME_LENGTH} characters",
                    arm,
                    "e.g. 'flight-delay@champion' or 'flight-delay/3'",
                )
            )
        _name("prediction batch model name", self.model_name, "the registered model's name")
        version = self.model_version
        if version is not None and (
            isinstance(version, bool) or not isinstance(version, int) or version < 1
        ):
            raise InvalidInput(
                user_message(
                    "prediction batch model version",
                    "must be a registry version (an int >= 1) or None",
                    version,
                )
            )
        rows = self.rows
        _per_row("features", self.features, rows)
        _per_row("predictions", self.predictions, rows)
        if self.unit_ids is not None:
            _per_row("unit ids", self.unit_ids, rows)
        if self.probabilities is not None:
            _per_row("probabilities", self.probabilities, rows)
        if not _number(self.timestamps_ms):
            _per_row("timestamps", self.timestamps_ms, rows)
        if not _number(self.latency_ms):
            _per_row("latencies", self.latency_ms, rows)

    @property
    def rows(self) -> int:
        """The number of rows (predictions) in the batch."""
        return _rows_of(self.request_ids)


def _check_id(what: str, value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput(
            user_message(
                f"feedback {what}",
                "must be a string (an int is taken as its decimal text)",
                verbatim(f"<{type(value).__name__}>"),
            )
        )
    text = str(value)
    if not text or len(text) > _MAX_ID_LENGTH:
        raise InvalidInput(
            user_message(f"feedback {what}", f"must be 1 to {_MAX_ID_LENGTH} characters", text)
        )
    return text


@dataclass(frozen=True, slots=True, kw_only=True)
class Feedback:
    """A label and/or named outcomes for an earlier prediction, arriving at any later time.

    It names the prediction by ``request_id`` (the rows of that request) or by ``unit_id``
    (every prediction of that unit); at least one of them, and at least one of ``label`` and
    ``outcomes``. ``label`` is a string, a bool or a finite number; ``outcomes`` maps names
    (identifiers: letters, digits, ``_``) to finite numbers, logged as columns ``o_<name>``.
    ``timestamp_ms`` defaults to the time the log receives it.

    >>> Feedback(unit_id="UA101", outcomes={"delay_minutes": 42}).outcomes["delay_minutes"]
    42.0
    >>> Feedback(label=1)
    Traceback (most recent call last):
    ...
    loopml.core.errors.InvalidInput: feedback must name a prediction by request_id or unit_id...
    """

    request_id: str | None = None
    unit_id: str | None = None
    label: str | bool | int | float | None = None
    outcomes: Mapping[str, float] = field(default_factory=dict)
    timestamp_ms: int | None = None

    def __post_init__(self) -> None:
        request_id = _check_id("request_id", self.request_id)
        unit_id = _check_id("unit_id", self.unit_id)
        if request_id is None and unit_id is None:
            raise InvalidInput(
                user_message(
                    "feedback",
                    "must name a prediction by request_id or unit_id",
                    fix="pass the request_id of the response, or the unit_id sent with it",
                )
            )
        label = self.label
        if label is not None and not isinstance(label, str | bool | int | float):
            raise InvalidInput(
                user_message(
                    "feedback label",
                    "must be a string, a bool or a number",
                    verbatim(f"<{type(label).__name__}>"),
                )
            )
        if isinstance(label, float) and not math.isfinite(label):
            raise InvalidInput(user_message("feedback label", "must be finite", label))
        if not isinstance(self.outcomes, Mapping):
            raise InvalidInput(
                user_message(
                    "feedback outcomes",
                    "must be a mapping of name -> number",
                    verbatim(f"<{type(self.outcomes).__name__}>"),
                )
            )
        outcomes: dict[str, float] = {}
        for name, value in self.outcomes.items():
            if not isinstance(name, str) or not _OUTCOME.match(name):
                raise InvalidInput(
                    user_message(
                        "feedback outcome name",
                        "must be an identifier of at most 128 characters (letters, digits, '_', "
                        "not starting with a digit)",
                        name,
                        "e.g. 'revenue' or 'delay_minutes'",
                    )
                )
            if not _number(value) or not math.isfinite(float(value)):
                raise InvalidInput(
                    user_message(f"feedback outcome {name!r}", "must be a finite number", value)
                )
            outcomes[name] = float(value)
        if label is None and not outcomes:
            raise InvalidInput(
                user_message(
                    "feedback", "must carry a label or at least one outcome", fix="pass label=..."
                )
            )
        ts = self.timestamp_ms
        if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int) or ts < 0):
            raise InvalidInput(
                user_message("feedback timestamp_ms", "must be epoch milliseconds (an int)", ts)
            )
        object.__setattr__(self, "request_id", request_id)
        object.__setattr__(self, "unit_id", unit_id)
        object.__setattr__(self, "outcomes", MappingProxyType(outcomes))

    @classmethod
    def from_dict(cls, record: Mapping[str, Any] | Feedback) -> Feedback:
        """A feedback from a JSON-like record (``request_id``, ``unit_id``, ``label``,
        ``outcomes``, ``timestamp_ms``); an unknown key is an error with a suggestion."""
        if isinstance(record, Feedback):
            return record
        if not isinstance(record, Mapping):
            raise InvalidInput(
                user_message(
                    "feedback record",
                    "must be a mapping",
                    verbatim(f"<{type(record).__name__}>"),
                    "pass {'request_id': ..., 'label': ...}",
                )
            )
        known = ("request_id", "unit_id", "label", "outcomes", "timestamp_ms")
        for key in record:
            if key not in known:
                raise InvalidInput(
                    user_message(
                        f"feedback record key {key!r}",
                        f"is not one of {', '.join(known)}",
                        fix=did_you_mean(key, known) or "remove it",
                    )
                )
        return cls(**{key: record[key] for key in known if key in record})
