"""Save a model as a package directory, and load one back only if every byte checks out.

Layout::

    <package>/
      loopml-model.yaml      manifest (see loopml.models.manifest)
      model.<ext>            the serialized model, in the flavor's own format
      input_example.json     the input example, pandas "split" JSON (optional)
      requirements.txt       pip requirements of the flavor, pinned to the saving versions

Saving writes into a sibling staging directory and renames it into place, so a crash never
leaves a half-written package under the final name. Loading reads each file once and hashes
exactly the bytes it then uses; any mismatch with the manifest (or with digests recorded
outside the package, by a run or the registry) is an :class:`IntegrityError`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import os
import platform
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from loopml._version import __version__
from loopml.core.errors import (
    Conflict,
    IntegrityError,
    InvalidInput,
    NotFound,
    NotTrusted,
    user_message,
)
from loopml.core.ids import now_ms
from loopml.models.flavors import Flavor, VerifiedFiles, detect_flavor, get_flavor
from loopml.models.loaded import LoadedModel
from loopml.models.manifest import FORMAT_VERSION, MANIFEST_NAME, Manifest
from loopml.models.signature import Signature, infer_signature

__all__ = [
    "DirectorySource",
    "PackageSource",
    "load_package",
    "read_manifest",
    "save_model",
    "sha256_file",
]

INPUT_EXAMPLE = "input_example.json"
REQUIREMENTS = "requirements.txt"
#: Rows of the input example used to infer output columns (predicting is cheap on few rows).
_OUTPUT_PROBE_ROWS = 100


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _version_of(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _as_frame(example: Any) -> pd.DataFrame:
    if isinstance(example, pd.DataFrame):
        return example
    if isinstance(example, Mapping):
        return pd.DataFrame(dict(example))
    raise InvalidInput(
        user_message(
            "input example",
            "must be a pandas DataFrame or a mapping of column -> values",
            type(example).__name__,
        )
    )


def _example_json(frame: pd.DataFrame) -> str:
    """The example as pandas "split" JSON, with floats written exactly (pandas' own writer
    keeps 10 significant digits; Python's float repr round-trips every bit)."""
    doc = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
    for j, (_, column) in enumerate(frame.items()):
        if column.dtype.kind == "f":
            for i, value in enumerate(column.tolist()):
                doc["data"][i][j] = value if math.isfinite(value) else None
    return json.dumps(doc, allow_nan=False, ensure_ascii=False)


def _resolve_signature(
    flavor: Flavor, model: Any, signature: Any, example: pd.DataFrame | None
) -> Signature | None:
    """A Signature as given, or inferred from a training frame (``signature=df``) or the input
    example, with outputs from the model's predictions on a few rows.

    A few example rows cannot tell a string column's domain, so categorical domains are
    inferred only from a training frame (pandas ``category`` columns carry theirs in the dtype).
    """
    if isinstance(signature, Signature) or (signature is None and example is None):
        return signature
    from_example = signature is None
    frame = example if from_example else _as_frame(signature)
    assert frame is not None
    try:
        predictions = flavor.predict(model, frame.head(_OUTPUT_PROBE_ROWS))
    except Exception:  # the model may need preprocessing the example lacks; inputs still help
        predictions = None
    return infer_signature(frame, predictions, max_categories=0 if from_example else 50)


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    flavor: str | None = None,
    signature: Signature | pd.DataFrame | None = None,
    input_example: pd.DataFrame | Mapping[str, Any] | None = None,
    pip_requirements: list[str] | None = None,
    metrics: Mapping[str, float] | None = None,
    run_id: str | None = None,
) -> Manifest:
    """Write ``model`` as a package directory at ``path`` (which must not exist yet).

    ``signature`` may be a :class:`Signature`, or a training DataFrame to infer it from; by
    default it is inferred from ``input_example``. The flavor is detected from the model's type
    unless named.
    """
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise Conflict(
            user_message(
                f"model package path {str(target)!r}",
                "already exists and is not empty",
                fix="choose a new path or remove the old package",
            )
        )
    chosen = detect_flavor(model) if flavor is None else get_flavor(flavor)
    if flavor is not None and not chosen.matches(model):
        raise InvalidInput(
            user_message(
                f"model of type {type(model).__name__}",
                f"cannot be saved with the {chosen.name!r} flavor",
                fix="omit flavor= to let loopml detect the flavor",
            )
        )
    example = None if input_example is None else _as_frame(input_example)
    sig = _resolve_signature(chosen, model, signature, example)
    if sig is not None and example is not None:
        sig.validate(example, category_policy="ignore").raise_for_errors()

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        options = chosen.save(model, staging)
        if example is not None:
            (staging / INPUT_EXAMPLE).write_text(_example_json(example), encoding="utf-8")
        libraries = {
            dist: version
            for dist in (*chosen.distributions, "pandas", "numpy")
            if (version := _version_of(dist)) is not None
        }
        requirements = pip_requirements or [
            f"{dist}=={libraries[dist]}" for dist in chosen.distributions if dist in libraries
        ]
        (staging / REQUIREMENTS).write_text("\n".join(requirements) + "\n", encoding="utf-8")
        files = {
            p.relative_to(staging).as_posix(): sha256_file(p)
            for p in sorted(staging.rglob("*"))
            if p.is_file()
        }
        manifest = Manifest(
            flavor=chosen.name,
            options=options,
            safe=chosen.safe,
            files=files,
            signature=sig,
            input_example=INPUT_EXAMPLE if example is not None else None,
            python_version=platform.python_version(),
            loopml_version=__version__,
            libraries=libraries,
            pip_requirements=tuple(requirements),
            metrics=dict(metrics or {}),
            created_time=now_ms(),
            run_id=run_id,
            format_version=FORMAT_VERSION,
        )
        (staging / MANIFEST_NAME).write_text(manifest.to_yaml(), encoding="utf-8")
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


class PackageSource(Protocol):
    """Where a package's bytes live: a directory, or blobs listed by a run or the registry."""

    @property
    def origin(self) -> str:
        """A human-readable location for messages."""
        ...

    def read(self, name: str) -> bytes:
        """The bytes of file ``name``; NotFound (or IntegrityError) when it is missing."""
        ...

    def recorded_digests(self) -> Mapping[str, str] | None:
        """sha256 per file as recorded *outside* the package (None: nothing recorded)."""
        ...


class DirectorySource:
    """A package directory on the local disk."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        if not (self.path / MANIFEST_NAME).is_file():
            raise NotFound(
                user_message(
                    f"model package {str(self.path)!r}",
                    f"does not exist (no {MANIFEST_NAME} there)",
                    fix="pass a directory written by loopml.models.save_model or log_model",
                )
            )

    @property
    def origin(self) -> str:
        return str(self.path)

    def read(self, name: str) -> bytes:
        try:
            return (self.path / name).read_bytes()
        except FileNotFoundError:
            raise IntegrityError(
                user_message(
                    f"file {name!r} of model package {self.origin}",
                    "is listed in the manifest but missing",
                    fix="restore the package from its original copy",
                )
            ) from None

    def recorded_digests(self) -> Mapping[str, str] | None:
        return None


def read_manifest(source: PackageSource) -> Manifest:
    """The manifest of ``source``, checked against the digests recorded outside it, if any."""
    data = source.read(MANIFEST_NAME)
    recorded = source.recorded_digests()
    if recorded is not None:
        digest = hashlib.sha256(data).hexdigest()
        if recorded.get(MANIFEST_NAME) != digest:
            raise IntegrityError(
                user_message(
                    f"{MANIFEST_NAME} of model package {source.origin}",
                    "does not match the digest recorded when it was logged",
                    fix="restore the package from its original copy or log the model again",
                )
            )
    manifest = Manifest.from_yaml(data, source.origin)
    if recorded is not None:
        for name, digest in manifest.files.items():
            if recorded.get(name) != digest:
                raise IntegrityError(
                    user_message(
                        f"file {name!r} of model package {source.origin}",
                        "has a different digest in the manifest than the one recorded when "
                        "the package was logged",
                        fix="restore the package from its original copy or log the model again",
                    )
                )
    return manifest


def load_package(
    source: PackageSource | str | os.PathLike[str],
    *,
    trust: bool = False,
    metadata: Mapping[str, Any] | None = None,
) -> LoadedModel:
    """Load a package after checking every file against its manifest.

    Unsafe flavors (``pyfunc``: cloudpickle) load only with ``trust=True``.
    """
    if isinstance(source, (str, os.PathLike)):
        source = DirectorySource(source)
    manifest = read_manifest(source)
    flavor = get_flavor(manifest.flavor)
    if not (manifest.safe and flavor.safe) and not trust:
        raise NotTrusted(
            user_message(
                f"model package {source.origin} (flavor {manifest.flavor!r})",
                "is serialized with pickle, and loading it can run any code",
                fix="pass trust=True (CLI: --trust) only if you trust who saved it",
            )
        )
    files = VerifiedFiles(source.read, manifest.files, source.origin)
    native = flavor.load(files, manifest.options, trust)
    example = None
    for name in manifest.files:  # the files the flavor did not read are verified too
        if name not in files.verified or name == manifest.input_example:
            data = files.read_bytes(name)
            if name == manifest.input_example:
                example = data
    info = {**manifest.to_dict(), "source": source.origin, **(metadata or {})}
    return LoadedModel(manifest, flavor, native, info, example)
