"""The step cache: a key per step, and the finished run that already computed it.

``cache key = sha256(canonical JSON of {step name, code fingerprint, params, input digests})``:

- the **code fingerprint** is :attr:`Step.code_digest` (what it sees and what it does not:
  :mod:`loopml.pipeline.steps`);
- **params** are the bound keyword-only parameters, as canonical JSON;
- an **input digest** is the digest of the upstream output (recorded when it was stored, so it is
  known without loading the value) or of the external value (:func:`value_digest`: a ``Path`` by
  its file content, anything else by its serialised bytes).

So a change of code, of a param or of an input re-runs the step, and a step whose output did not
change (same bytes) leaves the steps after it cached.

Lookup: the newest FINISHED run of the experiment tagged ``loopml.step.cache_key = <key>`` (an
indexed tag search). Every run the engine finishes carries the key and its outputs, including the
runs that record a cache hit, so the newest one always names the outputs; ``cached_from`` follows a
hit back to the run that computed them. The cache is scoped to the experiment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loopml.core.entities import Run
from loopml.pipeline._names import (
    TAG_CACHE_KEY,
    TAG_CACHED_FROM,
    TAG_OUTPUT_PREFIX,
    canonical_json,
    sha256_hex,
)
from loopml.pipeline.results import StoredOutput
from loopml.pipeline.steps import Step
from loopml.tracking.client import Client

__all__ = ["CacheHit", "cache_key", "find_cached"]

#: Bump when the key's recipe changes, so old keys stop matching.
KEY_FORMAT = 1


def cache_key(step: Step, input_digests: Mapping[str, str]) -> str:
    """The cache key of ``step`` given the digests of its inputs (by input name)."""
    payload: dict[str, Any] = {
        "format": KEY_FORMAT,
        "step": step.name,
        "code": step.code_digest,
        "params": dict(step.params),
        "inputs": {name: input_digests[name] for name in step.inputs},
    }
    return sha256_hex(canonical_json(payload))


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A finished run holding the outputs for a key; ``origin`` is the run that computed them."""

    run: Run
    origin: str
    outputs: Mapping[str, StoredOutput]


def find_cached(client: Client, experiment_id: str, step: Step, key: str) -> CacheHit | None:
    """The newest finished run of ``step`` with ``key`` whose outputs are all recorded, or None."""
    page = client.search_runs(
        experiment_id,
        f"tags.`{TAG_CACHE_KEY}` = '{key}' and attributes.status = 'FINISHED'",
        max_results=1,
        order_by=["attributes.start_time DESC"],
    )
    if not page.items:
        return None
    run = page.items[0]
    tags = run.data.tags
    files = {info.path: info for info in client.list_artifacts(run.info.run_id, "outputs")}
    outputs: dict[str, StoredOutput] = {}
    for name in step.outputs:
        digest = tags.get(TAG_OUTPUT_PREFIX + name)
        info = next(
            (i for path, i in files.items() if path.rsplit(".", 1)[0] == f"outputs/{name}"), None
        )
        if digest is None or info is None or info.digest != digest:
            return None  # recorded by something else than this engine: not a usable hit
        outputs[name] = StoredOutput(
            name, step.name, run.info.run_id, info.path, digest, info.file_size or 0
        )
    origin = tags.get(TAG_CACHED_FROM) or run.info.run_id
    return CacheHit(run, origin, outputs)
