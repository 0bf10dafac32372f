"""What the SQL registry store accepts, and how it says that something does not exist.

The checks here cover what ``loopml.core.registry`` does not: the free text, tags, file lists
and lineage a version is registered with. Each returns the checked value or raises
:class:`~loopml.core.errors.InvalidInput`; each ``*_not_found`` builds (does not raise) the
:class:`~loopml.core.errors.NotFound` the store raises, naming the object and how to list what
does exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from loopml.core.errors import InvalidInput, NotFound, user_message, verbatim
from loopml.core.ids import check_run_id
from loopml.core.registry import Lineage, validate_version
from loopml.core.validation import validate_tag

__all__ = [
    "MAX_FLAVOR_LENGTH",
    "MAX_GIT_COMMIT_LENGTH",
    "MAX_PATH_LENGTH",
    "MAX_TEXT_LENGTH",
    "alias_not_found",
    "model_not_found",
    "model_tag_not_found",
    "no_versions",
    "validate_files",
    "validate_lineage",
    "validate_tags",
    "validate_text",
    "version_not_found",
    "version_tag_not_found",
]

MAX_FLAVOR_LENGTH = 64
MAX_GIT_COMMIT_LENGTH = 64
MAX_PATH_LENGTH = 1024
MAX_TEXT_LENGTH = 1_000_000
_HEX = frozenset("0123456789abcdef")


# -- input checks ---------------------------------------------------------------------------------


def validate_text(what: str, value: object, limit: int, *, required: bool = True) -> str:
    """``value`` if it is a string of at most ``limit`` characters without NUL (and, when
    ``required``, not blank)."""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(user_message(what, "must be a non-empty string", value))
    if len(value) > limit or "\x00" in value:
        raise InvalidInput(
            user_message(
                what,
                f"must be at most {limit} characters without NUL",
                verbatim(f"<{len(value)} characters>"),
            )
        )
    return value


def validate_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    checked = (validate_tag(k, v) for k, v in (tags or {}).items())
    return {t.key: t.value for t in checked}


def validate_files(files: Sequence[tuple[str, str, int]]) -> dict[str, tuple[str, int]]:
    """``path -> (sha256, size)``; paths are relative to the package root, each listed once."""
    out: dict[str, tuple[str, int]] = {}
    for entry in files:
        try:
            path, digest, size = entry
        except (TypeError, ValueError):
            raise InvalidInput(
                user_message("model file entry", "must be a (path, sha256, size) tuple", entry)
            ) from None
        parts = path.split("/") if isinstance(path, str) else []
        if (
            not parts
            or len(path) > MAX_PATH_LENGTH
            or "\x00" in path
            or any(p in ("", ".", "..") for p in parts)
        ):
            raise InvalidInput(
                user_message(
                    "model file path",
                    f"must be a relative path of at most {MAX_PATH_LENGTH} characters, without "
                    "empty, '.' or '..' segments and without a leading or trailing '/'",
                    path,
                    "list paths relative to the package root, e.g. 'model/weights.bin'",
                )
            )
        if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= _HEX:
            raise InvalidInput(
                user_message(
                    f"sha256 of model file {path!r}", "must be 64 lowercase hex digits", digest
                )
            )
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidInput(
                user_message(f"size of model file {path!r}", "must be an integer >= 0", size)
            )
        if path in out:
            raise InvalidInput(
                user_message(f"model file {path!r}", "is listed twice", fix="list each file once")
            )
        out[path] = (digest, size)
    return out


def validate_lineage(lineage: Lineage) -> Lineage:
    if not isinstance(lineage, Lineage):
        raise InvalidInput(user_message("model lineage", "must be a loopml Lineage", lineage))
    run_id = None if lineage.run_id is None else check_run_id(lineage.run_id)
    dataset_ids = tuple(
        validate_text("dataset id in the lineage", d, MAX_TEXT_LENGTH) for d in lineage.dataset_ids
    )
    git_commit = lineage.git_commit
    if git_commit is not None:
        git_commit = validate_text("git commit in the lineage", git_commit, MAX_GIT_COMMIT_LENGTH)
    replaces = lineage.replaces_version
    if replaces is not None:
        replaces = validate_version(replaces)
    return Lineage(run_id, dataset_ids, git_commit, replaces)


# -- NotFound messages ----------------------------------------------------------------------------


def model_not_found(name: str) -> NotFound:
    return NotFound(
        user_message(
            f"registered model {name!r}",
            "does not exist",
            fix="check the name (names are case-sensitive); search_registered_models() lists "
            "the registered models",
        )
    )


def no_versions(name: str) -> NotFound:
    return NotFound(
        user_message(
            f"registered model {name!r}",
            "has no versions",
            fix=f"register one with register_model(<model uri>, {name!r})",
        )
    )


def version_not_found(name: str, version: int, latest: int | None) -> NotFound:
    existing = f"its latest version is {latest}" if latest else "it has no versions yet"
    return NotFound(
        user_message(
            f"version {version} of registered model {name!r}",
            "does not exist",
            fix=f"{existing}; search_model_versions(name={name!r}) lists them",
        )
    )


def alias_not_found(name: str, alias: str, aliases: Mapping[str, int]) -> NotFound:
    known = ", ".join(f"{a!r} -> {v}" for a, v in sorted(aliases.items()))
    return NotFound(
        user_message(
            f"alias {alias!r} of registered model {name!r}",
            "does not exist",
            fix=(f"its aliases are {known}" if known else "it has no aliases")
            + f"; point one at a version with set_alias({name!r}, {alias!r}, <version>)",
        )
    )


def model_tag_not_found(name: str, key: str) -> NotFound:
    return NotFound(
        user_message(
            f"tag {key!r} of registered model {name!r}",
            "does not exist",
            fix="get_registered_model(name).tags lists its tags",
        )
    )


def version_tag_not_found(name: str, version: int, key: str) -> NotFound:
    return NotFound(
        user_message(
            f"tag {key!r} of version {version} of registered model {name!r}",
            "does not exist",
            fix="get_model_version(name, version).tags lists its tags",
        )
    )
