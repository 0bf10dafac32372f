"""Model URIs: where ``load_model`` and ``register_model`` find a model package.

- ``runs:/<run_id>/<artifact path>``: a package logged to a run;
- ``models:/<name>/<version>``, ``models:/<name>/latest``, ``models:/<name>@<alias>``: a registered
  version;
- a local path or ``file://`` URL: a package directory on disk.
"""

from __future__ import annotations

from dataclasses import dataclass

from loopml.core.errors import InvalidInput, user_message
from loopml.core.ids import check_run_id
from loopml.core.registry import validate_alias, validate_model_name, validate_version

__all__ = ["ModelUri", "parse_model_uri"]

_FORMS = "runs:/<run_id>/<path>, models:/<name>/<version>, models:/<name>@<alias> or a directory"


@dataclass(frozen=True, slots=True)
class ModelUri:
    """A parsed model URI. ``kind`` is ``run``, ``version``, ``alias``, ``latest`` or ``path``."""

    kind: str
    run_id: str | None = None
    artifact_path: str = ""
    name: str | None = None
    version: int | None = None
    alias: str | None = None
    path: str | None = None


def _bad(uri: str, rule: str) -> InvalidInput:
    return InvalidInput(user_message(f"model URI {uri!r}", rule, fix=f"use {_FORMS}"))


def parse_model_uri(uri: object) -> ModelUri:
    """Parse ``uri`` (see the module docstring).

    >>> parse_model_uri("models:/churn@champion").alias
    'champion'
    >>> parse_model_uri("models:/churn/3").version
    3
    """
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidInput(user_message("model URI", "must be a non-empty string", uri))
    text = uri.strip()
    if text.startswith("runs:"):
        rest = text[len("runs:") :].lstrip("/")
        run_id, _, path = rest.partition("/")
        if not run_id or not path.strip("/"):
            raise _bad(text, "must name a run and an artifact path")
        parts = [p for p in path.split("/") if p]
        if any(p == ".." for p in parts):
            raise _bad(text, "must not contain '..'")
        return ModelUri("run", run_id=check_run_id(run_id), artifact_path="/".join(parts))
    if text.startswith("models:"):
        rest = text[len("models:") :].lstrip("/")
        if "@" in rest:
            name, _, alias = rest.partition("@")
            return ModelUri("alias", name=validate_model_name(name), alias=validate_alias(alias))
        name, sep, version = rest.rpartition("/")
        if not sep or not name:
            raise _bad(text, "must name a version ('/<number>' or '/latest') or an alias ('@')")
        if version.lower() == "latest":
            return ModelUri("latest", name=validate_model_name(name))
        return ModelUri(
            "version", name=validate_model_name(name), version=validate_version(version)
        )
    if "://" in text and not text.startswith("file://"):
        raise _bad(text, f"has an unknown scheme {text.split('://', 1)[0]!r}")
    path = text[len("file://") :] if text.startswith("file://") else text
    return ModelUri("path", path=path)
