"""``loopml-model.yaml``: what a package holds and how to trust it.

The manifest names the flavor and its options, the signature, the input example, the Python and
library versions the model was saved with, pip requirements, a metrics snapshot, and the sha256
of every other file in the package. It is plain YAML so a person can read it and any language
can parse it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from loopml.core.errors import IntegrityError, InvalidInput, user_message
from loopml.models.signature import Signature

__all__ = ["FORMAT_VERSION", "MANIFEST_NAME", "Manifest"]

MANIFEST_NAME = "loopml-model.yaml"
#: Bumped when a reader of an older loopml could misread a newer package.
FORMAT_VERSION = 1
_SHA256_HEX = frozenset("0123456789abcdef")
#: libyaml's safe loader when PyYAML was built with it: ~8x faster than the pure-Python one on a
#: manifest (0.3 vs 2.2 ms measured), which is most of resolving an alias to a manifest.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _SHA256_HEX


@dataclass(frozen=True)
class Manifest:
    """The parsed manifest. ``files`` maps each package file (relative path) to its sha256."""

    flavor: str
    options: Mapping[str, Any]
    safe: bool
    files: Mapping[str, str]
    signature: Signature | None = None
    input_example: str | None = None
    python_version: str = ""
    loopml_version: str = ""
    libraries: Mapping[str, str] = field(default_factory=dict)
    pip_requirements: tuple[str, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    created_time: int = 0
    run_id: str | None = None
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "flavor": self.flavor,
            "safe": self.safe,
            "options": dict(self.options),
            "signature": None if self.signature is None else self.signature.to_dict(),
            "input_example": self.input_example,
            "python_version": self.python_version,
            "loopml_version": self.loopml_version,
            "libraries": dict(self.libraries),
            "pip_requirements": list(self.pip_requirements),
            "metrics": dict(self.metrics),
            "created_time": self.created_time,
            "run_id": self.run_id,
            "files": dict(sorted(self.files.items())),
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def replace(self, **changes: Any) -> Manifest:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_yaml(cls, text: bytes | str, origin: str = "package") -> Manifest:
        """Parse and check a manifest; a malformed one is an IntegrityError naming the field."""
        try:
            data = yaml.load(text, Loader=_SafeLoader)
        except yaml.YAMLError as exc:
            raise IntegrityError(
                user_message(f"{MANIFEST_NAME} of {origin}", "is not valid YAML", str(exc))
            ) from exc
        if not isinstance(data, dict):
            raise IntegrityError(
                user_message(f"{MANIFEST_NAME} of {origin}", "must be a mapping", type(data))
            )
        return cls.from_dict(data, origin)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "package") -> Manifest:
        def bad(key: str, rule: str, value: object) -> IntegrityError:
            return IntegrityError(
                user_message(
                    f"field {key!r} of {MANIFEST_NAME} in {origin}",
                    rule,
                    value,
                    "re-save the model with loopml.models.save_model",
                )
            )

        version = data.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise bad("format_version", "must be a positive integer", version)
        if version > FORMAT_VERSION:
            raise bad(
                "format_version",
                f"is newer than this loopml reads ({FORMAT_VERSION}); upgrade loopml",
                version,
            )
        flavor = data.get("flavor")
        if not isinstance(flavor, str) or not flavor:
            raise bad("flavor", "must name a flavor", flavor)
        files = data.get("files")
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and _is_sha256(v) for k, v in files.items()
        ):
            raise bad("files", "must map file names to sha256 hex digests", files)
        for name in files:
            if name.startswith("/") or ".." in name.split("/") or name == MANIFEST_NAME:
                raise bad("files", "must list relative paths inside the package", name)
        options = data.get("options") or {}
        if not isinstance(options, dict):
            raise bad("options", "must be a mapping", options)
        safe = data.get("safe")
        if not isinstance(safe, bool):
            raise bad("safe", "must be true or false", safe)
        signature = data.get("signature")
        try:
            parsed_signature = None if signature is None else Signature.from_dict(signature)
        except InvalidInput as exc:
            raise bad("signature", "is malformed", str(exc)) from exc
        example = data.get("input_example")
        if example is not None and example not in files:
            raise bad("input_example", "must name a file listed in 'files'", example)
        metrics = data.get("metrics") or {}
        libraries = data.get("libraries") or {}
        requirements = data.get("pip_requirements") or []
        if not isinstance(metrics, dict) or not isinstance(libraries, dict):
            raise bad("metrics/libraries", "must be mappings", (metrics, libraries))
        if not isinstance(requirements, list):
            raise bad("pip_requirements", "must be a list", requirements)
        return cls(
            flavor=flavor,
            options=options,
            safe=safe,
            files={str(k): str(v) for k, v in files.items()},
            signature=parsed_signature,
            input_example=example,
            python_version=str(data.get("python_version", "")),
            loopml_version=str(data.get("loopml_version", "")),
            libraries={str(k): str(v) for k, v in libraries.items()},
            pip_requirements=tuple(str(r) for r in requirements),
            metrics={str(k): float(v) for k, v in metrics.items()},
            created_time=int(data.get("created_time") or 0),
            run_id=None if data.get("run_id") is None else str(data["run_id"]),
            format_version=version,
        )
