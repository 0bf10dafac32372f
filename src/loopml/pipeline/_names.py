"""Names and canonical JSON shared by the pipeline modules.

Rules: a step name is ``[A-Za-z_][A-Za-z0-9_.-]*`` (it names a run and appears in tag values);
an output name is a Python identifier (a step receives it as a parameter of that name). Params
are canonical JSON values: None, bool, int, finite float, str, lists (or tuples) of them and
dicts with str keys; anything else could not be hashed the same way in every process.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from loopml.core.errors import InvalidInput, user_message, verbatim

__all__ = [
    "TAG_CACHED_FROM",
    "TAG_CACHE_KEY",
    "TAG_CODE_DIGEST",
    "TAG_ERROR",
    "TAG_OUTPUT_PREFIX",
    "TAG_PIPELINE_KIND",
    "TAG_PIPELINE_NAME",
    "TAG_PIPELINE_STEPS",
    "TAG_STEP_NAME",
    "canonical_json",
    "check_json_value",
    "check_output_name",
    "check_pipeline_name",
    "check_step_name",
    "sha256_hex",
]

#: Tags of a pipeline run.
TAG_PIPELINE_NAME = "loopml.pipeline.name"
TAG_PIPELINE_KIND = "loopml.pipeline.kind"  # "pipeline" on the pipeline run, "step" on step runs
TAG_PIPELINE_STEPS = "loopml.pipeline.steps"  # JSON list of the step names, in run order
#: Tags of a step run.
TAG_STEP_NAME = "loopml.step.name"
TAG_CACHE_KEY = "loopml.step.cache_key"
TAG_CODE_DIGEST = "loopml.step.code_digest"
TAG_CACHED_FROM = "loopml.step.cached_from"
TAG_ERROR = "loopml.step.error"
TAG_OUTPUT_PREFIX = "loopml.output."  # + output name: the sha256 of its serialised bytes

_STEP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,199}")


def check_step_name(name: object) -> str:
    return _check_name("step name", name, "e.g. @step(outputs='model', name='fit_model')")


def check_pipeline_name(name: object) -> str:
    return _check_name("pipeline name", name, "e.g. Pipeline('flight-delay', [...])")


def _check_name(subject: str, name: object, fix: str) -> str:
    if not isinstance(name, str) or not _STEP_NAME.fullmatch(name):
        raise InvalidInput(
            user_message(
                subject,
                "must start with a letter or '_' and hold only letters, digits, '_', '.', '-'",
                name,
                fix,
            )
        )
    return name


def check_output_name(step: str, name: object) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise InvalidInput(
            user_message(
                f"output name of step {step!r}",
                "must be a Python identifier (a later step receives it as a parameter)",
                name,
                "e.g. outputs=('train', 'valid')",
            )
        )
    return name


def check_json_value(subject: str, value: Any) -> None:
    """Raise InvalidInput unless ``value`` is a canonical JSON value (see the module rules)."""
    problem = _json_problem(value)
    if problem is not None:
        raise InvalidInput(
            user_message(
                subject,
                "must be a JSON value (None, bool, int, finite float, str, lists, dicts with str "
                "keys), so that it hashes the same everywhere",
                verbatim(problem),
                "pass plain values (e.g. float(x), x.tolist()); put objects in an input instead",
            )
        )


def _json_problem(value: Any) -> str | None:
    if value is None or isinstance(value, bool | int | str):
        return None if type(value) in (type(None), bool, int, str) else _typed(value)
    if isinstance(value, float):
        if type(value) is not float:
            return _typed(value)
        return None if math.isfinite(value) else repr(value)
    if isinstance(value, list | tuple):
        for item in value:
            problem = _json_problem(item)
            if problem is not None:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"<dict key {key!r} of type {type(key).__name__}>"
            problem = _json_problem(item)
            if problem is not None:
                return problem
        return None
    return _typed(value)


def _typed(value: Any) -> str:
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8, no NaN: equal values give equal bytes."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
