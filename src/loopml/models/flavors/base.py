"""What a flavor is: how one kind of model is written to, and read back from, a package.

A flavor owns the serialized model file(s) inside a package directory. The package layer
(:mod:`loopml.models.package`) owns everything else: the manifest, hashes, signature, input
example and versions. Loading hands the flavor *verified* bytes (:class:`VerifiedFiles`), so no
flavor ever reads a file whose sha256 was not checked against the manifest.

Optional libraries are imported inside methods (never at module import), through
:func:`require`, so a missing extra is a :class:`~loopml.core.errors.MissingDependency` naming
the exact ``pip install`` command, raised when the flavor is used rather than when loopml loads.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from loopml.core.errors import IntegrityError, InvalidInput, MissingDependency, user_message

__all__ = ["Flavor", "VerifiedFiles", "require"]


def require(module: str, extra: str | None, purpose: str) -> ModuleType:
    """Import ``module`` or raise MissingDependency naming ``pip install 'loopml[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        install = (
            f"pip install 'loopml[{extra}]'" if extra else f"pip install {module.split('.')[0]}"
        )
        raise MissingDependency(
            user_message(
                f"{purpose}",
                f"needs the Python package {module!r}, which is not installed",
                fix=install,
            )
        ) from exc


class VerifiedFiles:
    """Read access to a package's files, each checked against its manifest sha256 when read.

    ``read_bytes`` returns a file's content only after hashing exactly those bytes, so a file
    changed between check and use is impossible by construction (one read, one hash).

    ``read_while_verifying`` is for flavors whose parser is safe on untrusted bytes (skops:
    no code runs, types are allow-listed): the bytes are hashed in a thread *while* the flavor
    parses them, and the returned ``finish()`` must be called before the parsed model is used;
    it raises :class:`IntegrityError` on a mismatch. On a machine with a spare core this hides
    the hash behind the parse (measured in ``benchmarks/models.py``). Flavors that parse with
    native code (xgboost, lightgbm, onnxruntime) or unpickle must use ``read_bytes``.
    """

    def __init__(
        self, read: Callable[[str], bytes], digests: Mapping[str, str], origin: str
    ) -> None:
        self._read = read
        self._digests = dict(digests)
        self._origin = origin
        #: The files whose bytes have been checked so far.
        self.verified: set[str] = set()

    def __contains__(self, name: object) -> bool:
        return name in self._digests

    def _raw(self, name: str) -> bytes:
        if name not in self._digests:
            raise InvalidInput(
                user_message(
                    f"package file {name!r}",
                    "is not listed in the manifest",
                    fix="re-save the model with loopml.models.save_model",
                )
            )
        return self._read(name)

    def _check(self, name: str, actual: str) -> None:
        expected = self._digests[name]
        if actual != expected:
            raise IntegrityError(
                user_message(
                    f"file {name!r} of model package {self._origin}",
                    "does not match the sha256 in its manifest: the package was changed after "
                    "it was saved, so loopml refuses to load it",
                    f"{actual[:12]}… instead of {expected[:12]}…",
                    "restore the package from its original copy or log the model again",
                )
            )
        self.verified.add(name)

    def read_bytes(self, name: str) -> bytes:
        """The file's bytes, after checking their sha256."""
        data = self._raw(name)
        self._check(name, hashlib.sha256(data).hexdigest())
        return data

    def read_while_verifying(self, name: str) -> tuple[bytes, Callable[[], None]]:
        """``(bytes, finish)``: the bytes now, their check when ``finish()`` is called."""
        data = self._raw(name)
        digest: list[str] = []
        # hashlib releases the GIL on large buffers, so this runs beside the parse.
        worker = threading.Thread(target=lambda: digest.append(hashlib.sha256(data).hexdigest()))
        worker.start()

        def finish() -> None:
            worker.join()
            self._check(name, digest[0] if digest else "")

        return data, finish


class Flavor(ABC):
    """One model family's serialization. Subclasses are stateless singletons."""

    #: The manifest's ``flavor`` value.
    name: ClassVar[str]
    #: The loopml extra that installs what this flavor needs (None: part of the core install).
    extra: ClassVar[str | None] = None
    #: Distribution names whose versions the manifest records and pins as requirements.
    distributions: ClassVar[tuple[str, ...]] = ()
    #: Top-level modules the flavor imports to load a model (a check hides them to prove that
    #: their absence is a MissingDependency naming :attr:`extra`).
    modules: ClassVar[tuple[str, ...]] = ()
    #: False when loading may execute arbitrary code (pickle); such packages need ``trust=True``.
    safe: ClassVar[bool] = True

    @abstractmethod
    def matches(self, model: object) -> bool:
        """Whether this flavor can save ``model`` (without importing optional libraries)."""

    @abstractmethod
    def save(self, model: Any, directory: Path) -> dict[str, Any]:
        """Write the model file(s) into ``directory``; return the flavor's options for the
        manifest (JSON-safe; at least ``model_file``)."""

    @abstractmethod
    def load(self, files: VerifiedFiles, options: Mapping[str, Any], trust: bool) -> Any:
        """Rebuild the model from verified bytes. Raise NotTrusted when loading would run code
        the caller did not vouch for."""

    def predict(self, model: Any, frame: Any) -> Any:
        return model.predict(frame)

    def has_proba(self, model: Any) -> bool:
        return callable(getattr(model, "predict_proba", None))

    def predict_proba(self, model: Any, frame: Any) -> Any:
        return model.predict_proba(frame)

    def classes(self, model: Any) -> list[Any] | None:
        """The class labels in ``predict_proba`` column order, when the model has them."""
        classes = getattr(model, "classes_", None)
        if classes is None:
            return None
        return [c.item() if hasattr(c, "item") else c for c in classes]

    @abstractmethod
    def example(self) -> tuple[Any, Any]:
        """A small fitted model and a DataFrame it predicts on, for ``check_flavor``."""
