"""Rules for what may be logged, checked before anything is written.

Each function returns the normalised entity or raises :class:`InvalidInput` with a message that
names the object, states the rule, shows the value and suggests the fix. Stores call
:func:`validate_batch` first and write only if the whole batch passes, so a bad batch writes
nothing.
"""

from __future__ import annotations

import enum
import functools
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from loopml.core.entities import DatasetInput, Metric, Param, RunTag
from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.core.ids import now_ms

__all__ = [
    "MAX_BATCH",
    "MAX_KEY_LENGTH",
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "ValidBatch",
    "validate_batch",
    "validate_choice",
    "validate_dataset_input",
    "validate_experiment_name",
    "validate_key",
    "validate_metric",
    "validate_param",
    "validate_run_name",
    "validate_tag",
    "validate_user",
]

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 8000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 256
MAX_RUN_NAME_LENGTH = 250
MAX_USER_LENGTH = 256
#: Free-text fields (dataset source, schema, profile): large but bounded.
MAX_TEXT_LENGTH = 1_000_000
#: The most entries one batch may carry (metrics + params + tags).
MAX_BATCH = 100_000
_INT64 = 2**63

_KEY = re.compile(r"^[\w\-. /:]+$")


E = TypeVar("E", bound=enum.Enum)


def validate_choice(what: str, choices: type[E], value: object) -> E:
    """``value`` as a member of the enum ``choices``, or an InvalidInput listing them.

    >>> from loopml.core.entities import ViewType
    >>> validate_choice("view type", ViewType, "ALL")
    <ViewType.ALL: 'ALL'>
    """
    try:
        return choices(value)
    except ValueError:
        raise InvalidInput(
            user_message(what, f"must be one of {', '.join(str(c.value) for c in choices)}", value)
        ) from None


@functools.lru_cache(maxsize=8192)
def _is_valid_key(key: str) -> bool:
    return (
        bool(key.strip())
        and len(key) <= MAX_KEY_LENGTH
        and bool(_KEY.match(key))
        and ".." not in key
        and not key.startswith("/")
    )


def validate_key(kind: str, key: object) -> str:
    """A key names a metric, param or tag: letters, digits, ``_ - . / : space``, ≤ 250 chars.

    >>> validate_key("metric", "val/auc")
    'val/auc'
    """
    if type(key) is str and _is_valid_key(key):  # the hot path: a key seen before
        return key
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput(
            user_message(f"{kind} key", "must be a non-empty string", key, "e.g. 'auc'")
        )
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            user_message(
                f"{kind} key {key[:40]!r}...",
                f"must be at most {MAX_KEY_LENGTH} characters",
                verbatim(f"<{len(key)} characters>"),
                "use a shorter name",
            )
        )
    if not _KEY.match(key) or ".." in key or key.startswith("/"):
        raise InvalidInput(
            user_message(
                f"{kind} key",
                "may contain only letters, digits, spaces and _ - . / : (no '..', no leading '/')",
                key,
                "rename it, e.g. " + repr(re.sub(r"[^\w\-. /:]", "_", key).lstrip("/")),
            )
        )
    return key


def validate_metric(
    key: object, value: object, timestamp: object = None, step: object = 0
) -> Metric:
    """Check one metric point; the timestamp defaults to now."""
    name = validate_key("metric", key)
    if (
        type(value) is float
        and math.isfinite(value)
        and type(step) is int
        and -_INT64 <= step < _INT64
    ):
        # Hot path for plain Python numbers; everything else takes the full checks below.
        if timestamp is None:
            return Metric(name, value, now_ms(), step)
        if type(timestamp) is int and -_INT64 <= timestamp < _INT64:
            return Metric(name, value, timestamp, step)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(
            user_message(
                f"metric {name!r}",
                "must be a real number",
                value,
                "log a float such as 0.93 (convert with float(...) if you must)",
            )
        )
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInput(
            user_message(
                f"metric {name!r}",
                "must be a finite number",
                number,
                "skip the point, or log a separate flag metric for failures",
            )
        )
    ts = now_ms() if timestamp is None else _check_int(f"timestamp of metric {name!r}", timestamp)
    return Metric(name, number, ts, _check_int(f"step of metric {name!r}", step))


def _check_int(what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInput(user_message(what, "must be an integer", value, "pass an int"))
    as_int = int(value)
    if not -_INT64 <= as_int < _INT64:
        raise InvalidInput(user_message(what, "must fit in 64 bits", as_int))
    return as_int


def _stringify(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def _check_text(what: str, text: str, limit: int, fix: str = "use a shorter value") -> str:
    """A stored string: at most ``limit`` characters and no NUL (PostgreSQL text cannot hold it)."""
    if len(text) > limit:
        raise InvalidInput(
            user_message(
                what,
                f"must be at most {limit} characters",
                verbatim(f"<{len(text)} characters>"),
                fix,
            )
        )
    if "\x00" in text:
        raise InvalidInput(
            user_message(
                what,
                "must not contain NUL characters (\\x00)",
                text[:60],
                "remove them, e.g. value.replace('\\x00', '')",
            )
        )
    return text


def validate_run_name(name: object) -> str:
    """Run names are strings of at most 250 characters."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(
            user_message("run name", "must be a non-empty string", name, "e.g. 'gbm-depth-6'")
        )
    return _check_text("run name", name, MAX_RUN_NAME_LENGTH)


def validate_user(user: object) -> str:
    """The user recorded on a run: a string of at most 256 characters."""
    if not isinstance(user, str):
        raise InvalidInput(user_message("user", "must be a string", user))
    return _check_text("user", user, MAX_USER_LENGTH, "set LOOPML_USER to a shorter name")


def validate_dataset_input(dataset: DatasetInput) -> DatasetInput:
    """Check a dataset reference's fields against their stored sizes."""
    if not isinstance(dataset, DatasetInput):
        raise InvalidInput(
            user_message(
                "dataset input",
                "must be a loopml DatasetInput",
                verbatim(f"<{type(dataset).__name__}>"),
                "log a DataFrame with log_input, which builds one",
            )
        )
    if not dataset.name.strip():
        raise InvalidInput(user_message("dataset name", "must be a non-empty string", dataset.name))
    if not dataset.digest.strip():
        raise InvalidInput(
            user_message(f"digest of dataset {dataset.name!r}", "must be non-empty", dataset.digest)
        )
    for what, text, limit in (
        ("dataset name", dataset.name, 256),
        (f"digest of dataset {dataset.name[:40]!r}", dataset.digest, 64),
        (f"source type of dataset {dataset.name[:40]!r}", dataset.source_type, 64),
        (f"context of dataset {dataset.name[:40]!r}", dataset.context, 64),
        (f"source of dataset {dataset.name[:40]!r}", dataset.source, MAX_TEXT_LENGTH),
        (f"schema of dataset {dataset.name[:40]!r}", dataset.schema, MAX_TEXT_LENGTH),
        (f"profile of dataset {dataset.name[:40]!r}", dataset.profile, MAX_TEXT_LENGTH),
    ):
        _check_text(what, text, limit)
    if dataset.num_rows is not None:
        _check_int(f"row count of dataset {dataset.name[:40]!r}", dataset.num_rows)
    return dataset


def validate_param(key: object, value: object) -> Param:
    """Params are stored as strings (``str(value)``), at most 8,000 characters."""
    name = validate_key("param", key)
    text = _check_text(
        f"param {name!r}",
        _stringify(value),
        MAX_PARAM_VALUE_LENGTH,
        "log long values as an artifact with log_text or log_dict",
    )
    return Param(name, text)


def validate_tag(key: object, value: object) -> RunTag:
    """Tags are strings of at most 8,000 characters."""
    name = validate_key("tag", key)
    text = _check_text(
        f"tag {name!r}",
        _stringify(value),
        MAX_TAG_VALUE_LENGTH,
        "log long values as an artifact with log_text",
    )
    return RunTag(name, text)


def validate_experiment_name(name: object) -> str:
    """Experiment names are non-empty strings of at most 256 characters."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(
            user_message("experiment name", "must be a non-empty string", name, "e.g. 'flights'")
        )
    return _check_text("experiment name", name, MAX_EXPERIMENT_NAME_LENGTH)


@dataclass(frozen=True, slots=True)
class ValidBatch:
    """A batch that passed every rule: safe to write in one transaction."""

    metrics: tuple[Metric, ...] = ()
    params: tuple[Param, ...] = ()
    tags: tuple[RunTag, ...] = ()


def validate_batch(
    metrics: Iterable[Metric] = (),
    params: Iterable[Param] | Mapping[str, object] = (),
    tags: Iterable[RunTag] | Mapping[str, object] = (),
) -> ValidBatch:
    """Validate a whole batch; raise on the first bad entry so nothing is written.

    Params in one batch must not repeat a key with different values.
    """
    checked_metrics = tuple(validate_metric(m.key, m.value, m.timestamp, m.step) for m in metrics)
    param_items = (
        params.items() if isinstance(params, Mapping) else ((p.key, p.value) for p in params)
    )
    checked_params = tuple(validate_param(k, v) for k, v in param_items)
    tag_items = tags.items() if isinstance(tags, Mapping) else ((t.key, t.value) for t in tags)
    checked_tags = tuple(validate_tag(k, v) for k, v in tag_items)
    size = len(checked_metrics) + len(checked_params) + len(checked_tags)
    if size > MAX_BATCH:
        raise InvalidInput(
            user_message(
                "batch", f"must hold at most {MAX_BATCH} entries", size, "split it into several"
            )
        )
    seen: dict[str, str] = {}
    for p in checked_params:
        if seen.setdefault(p.key, p.value) != p.value:
            raise InvalidInput(
                user_message(
                    f"param {p.key!r}",
                    "appears twice in one batch with different values",
                    verbatim(f"<{seen[p.key]!r} and {p.value!r}>"),
                    "log each param once",
                )
            )
    return ValidBatch(checked_metrics, checked_params, checked_tags)
