"""The flavor contract as named checks: ``check_flavor(flavor)`` yields ``(name, check)``.

Run it from a test over every flavor::

    @pytest.mark.parametrize("flavor", FLAVOR_NAMES)
    def test_flavor(flavor, tmp_path):
        for name, check in check_flavor(get_flavor(flavor)):
            check()

Each check builds what it needs (the flavor's own ``example()`` model, a fresh temporary
directory) when it runs, and raises :class:`AssertionError` naming what broke. The rules:
predictions after save -> load are bit-identical; the manifest describes the package truly;
every kind of tampering is refused; unsafe flavors need trust; a missing optional library is a
MissingDependency naming the extra to install.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import yaml

from loopml.core.errors import (
    Conflict,
    IntegrityError,
    InvalidInput,
    MissingDependency,
    NotTrusted,
)
from loopml.models.flavors import Flavor
from loopml.models.loaded import LoadedModel
from loopml.models.manifest import MANIFEST_NAME
from loopml.models.package import DirectorySource, load_package, save_model

__all__ = ["check_flavor"]


def _fail(message: str) -> NoReturn:
    raise AssertionError(message)


def _identical(name: str, expected: Any, actual: Any) -> None:
    want, got = np.asarray(expected), np.asarray(actual)
    if want.dtype != got.dtype or want.shape != got.shape:
        _fail(f"{name}: dtype/shape {got.dtype}{got.shape} instead of {want.dtype}{want.shape}")
    if want.dtype.kind in "fc":
        same = np.ascontiguousarray(want).tobytes() == np.ascontiguousarray(got).tobytes()
    else:
        same = bool(np.array_equal(want, got))
    if not same:
        _fail(f"{name}: predictions after save -> load differ from the original model's")


@contextlib.contextmanager
def _package(flavor: Flavor) -> Iterator[tuple[Any, pd.DataFrame, Path]]:
    model, frame = flavor.example()
    root = Path(tempfile.mkdtemp(prefix=f"loopml-check-{flavor.name}-"))
    try:
        path = root / "pkg"
        save_model(model, path, flavor=flavor.name, input_example=frame.head(5))
        yield model, frame, path
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _load(path: Path) -> LoadedModel:
    return load_package(path, trust=True)


def _expect(kind: type[Exception], what: str, action: Callable[[], object]) -> Exception:
    try:
        action()
    except kind as exc:
        return exc
    except Exception as exc:
        _fail(f"{what}: raised {type(exc).__name__} ({exc}) instead of {kind.__name__}")
    _fail(f"{what}: was accepted; expected {kind.__name__}")


def _model_file(path: Path) -> Path:
    manifest = yaml.safe_load((path / MANIFEST_NAME).read_text())
    return path / str(manifest["options"]["model_file"])


# -- the checks ---------------------------------------------------------------------------------


def _check_predict_is_bit_identical(flavor: Flavor) -> None:
    with _package(flavor) as (model, frame, path):
        loaded = _load(path)
        _identical("predict", flavor.predict(model, frame), loaded.predict(frame))


def _check_predict_proba_is_bit_identical(flavor: Flavor) -> None:
    with _package(flavor) as (model, frame, path):
        loaded = _load(path)
        if flavor.has_proba(model) != loaded.has_proba:
            _fail("has_proba differs between the original model and the loaded one")
        if loaded.has_proba:
            _identical(
                "predict_proba", flavor.predict_proba(model, frame), loaded.predict_proba(frame)
            )
        else:
            _expect(
                InvalidInput,
                "predict_proba on a model without it",
                lambda: loaded.predict_proba(frame),
            )


def _check_loading_twice_gives_the_same_predictions(flavor: Flavor) -> None:
    with _package(flavor) as (_, frame, path):
        _identical("second load", _load(path).predict(frame), _load(path).predict(frame))


def _check_package_is_relocatable(flavor: Flavor) -> None:
    with _package(flavor) as (model, frame, path):
        moved = path.parent / "moved" / "elsewhere"
        shutil.copytree(path, moved)
        shutil.rmtree(path)
        _identical("moved package", flavor.predict(model, frame), _load(moved).predict(frame))


def _check_manifest_hashes_every_file(flavor: Flavor) -> None:
    with _package(flavor) as (_, _frame, path):
        manifest = yaml.safe_load((path / MANIFEST_NAME).read_text())
        on_disk = {
            p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in path.rglob("*")
            if p.is_file() and p.name != MANIFEST_NAME
        }
        if manifest["files"] != on_disk:
            _fail(f"manifest files {manifest['files']} != files on disk {on_disk}")


def _check_manifest_describes_the_package(flavor: Flavor) -> None:
    with _package(flavor) as (_, _frame, path):
        loaded = _load(path)
        m = loaded.manifest
        if m.flavor != flavor.name or m.safe != flavor.safe:
            _fail(f"manifest says flavor={m.flavor} safe={m.safe}")
        if not m.python_version or not m.loopml_version:
            _fail("manifest lacks python or loopml version")
        installed = [d for d in flavor.distributions if d in m.libraries]
        if not installed:
            _fail(f"manifest records none of {flavor.distributions} in libraries {m.libraries}")
        if not m.pip_requirements:
            _fail("manifest has no pip requirements")
        if "model_file" not in m.options or m.options["model_file"] not in m.files:
            _fail(f"options.model_file {m.options.get('model_file')!r} is not a package file")
        if loaded.metadata.get("flavor") != flavor.name:
            _fail("LoadedModel.metadata does not carry the manifest")


def _check_signature_is_inferred_from_the_example(flavor: Flavor) -> None:
    with _package(flavor) as (_, frame, path):
        signature = _load(path).signature
        if signature is None:
            _fail("no signature was inferred from the input example")
        if list(signature.names) != [str(c) for c in frame.columns]:
            _fail(f"signature columns {signature.names} != example columns {list(frame.columns)}")
        if not signature.outputs:
            _fail("signature has no outputs though the example could be predicted")


def _check_input_example_round_trips(flavor: Flavor) -> None:
    with _package(flavor) as (model, frame, path):
        example = _load(path).input_example
        if example is None or len(example) != 5:
            _fail(f"input example not stored as 5 rows: {example!r}")
        try:
            pd.testing.assert_frame_equal(
                example.reset_index(drop=True),
                frame.head(5).reset_index(drop=True),
                check_dtype=False,
                check_categorical=False,
                check_exact=True,
            )
        except AssertionError as exc:
            _fail(f"the stored input example is not the example given, exactly: {exc}")
        _identical(
            "predict on the stored example",
            flavor.predict(model, frame.head(5)),
            _load(path).predict(example),
        )


def _check_columns_in_another_order_are_accepted(flavor: Flavor) -> None:
    with _package(flavor) as (model, frame, path):
        shuffled = frame[list(reversed(frame.columns))]
        _identical("reordered columns", flavor.predict(model, frame), _load(path).predict(shuffled))


def _check_missing_column_is_a_signature_error(flavor: Flavor) -> None:
    with _package(flavor) as (_, frame, path):
        loaded = _load(path)
        column = str(frame.columns[0])
        exc = _expect(
            InvalidInput,
            "predict without a column",
            lambda: loaded.predict(frame.drop(columns=column)),
        )
        if column not in str(exc):
            _fail(f"the error does not name the missing column {column!r}: {exc}")


def _check_changed_model_byte_is_refused(flavor: Flavor) -> None:
    with _package(flavor) as (_, _frame, path):
        target = _model_file(path)
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x01
        target.write_bytes(bytes(data))
        _expect(IntegrityError, "a package with one flipped bit", lambda: _load(path))


def _check_truncated_model_file_is_refused(flavor: Flavor) -> None:
    with _package(flavor) as (_, _frame, path):
        target = _model_file(path)
        target.write_bytes(target.read_bytes()[:-1])
        _expect(IntegrityError, "a truncated model file", lambda: _load(path))


def _check_missing_model_file_is_refused(flavor: Flavor) -> None:
    with _package(flavor) as (_, _frame, path):
        _model_file(path).unlink()
        _expect(IntegrityError, "a package without its model file", lambda: _load(path))


def _check_changed_input_example_is_refused(flavor: Flavor) -> None:
    with _package(flavor) as (_, _frame, path):
        example = path / "input_example.json"
        example.write_text(example.read_text().replace("]", "] ", 1))
        _expect(IntegrityError, "a package whose input example changed", lambda: _load(path))


class _RecordedSource(DirectorySource):
    """A directory whose digests were recorded elsewhere (as a run or the registry does)."""

    def __init__(self, path: Path, recorded: Mapping[str, str]) -> None:
        super().__init__(path)
        self._recorded = dict(recorded)

    def recorded_digests(self) -> Mapping[str, str] | None:
        return self._recorded


def _digests(path: Path) -> dict[str, str]:
    return {
        p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in path.rglob("*")
        if p.is_file()
    }


def _check_consistently_rewritten_package_is_refused_against_records(flavor: Flavor) -> None:
    """Replacing the model file AND its manifest hash passes a bare directory check, but not
    the digests a run or the registry recorded at logging time."""
    with _package(flavor) as (_, _frame, path):
        recorded = _digests(path)
        load_package(_RecordedSource(path, recorded), trust=True)  # intact: loads
        target = _model_file(path)
        data = bytearray(target.read_bytes())
        data[-1] ^= 0x01
        target.write_bytes(bytes(data))
        manifest = yaml.safe_load((path / MANIFEST_NAME).read_text())
        manifest["files"][target.name] = hashlib.sha256(bytes(data)).hexdigest()
        (path / MANIFEST_NAME).write_text(yaml.safe_dump(manifest, sort_keys=False))
        _expect(
            IntegrityError,
            "a rewritten package checked against recorded digests",
            lambda: load_package(_RecordedSource(path, recorded), trust=True),
        )


def _check_unsafe_flavor_needs_trust(flavor: Flavor) -> None:
    with _package(flavor) as (_, frame, path):
        if flavor.safe:
            load_package(path).predict(frame)  # a safe flavor loads without trust
        else:
            _expect(
                NotTrusted, "loading an unsafe package without trust", lambda: load_package(path)
            )
            load_package(path, trust=True).predict(frame)


def _check_manifest_claiming_safety_does_not_bypass_trust(flavor: Flavor) -> None:
    if flavor.safe:
        return
    with _package(flavor) as (_, _frame, path):
        manifest = yaml.safe_load((path / MANIFEST_NAME).read_text())
        manifest["safe"] = True
        (path / MANIFEST_NAME).write_text(yaml.safe_dump(manifest, sort_keys=False))
        _expect(
            NotTrusted, "an unsafe flavor whose manifest claims safety", lambda: load_package(path)
        )


@contextlib.contextmanager
def _hidden(modules: tuple[str, ...]) -> Iterator[None]:
    """Make ``import <module>`` fail for ``modules`` and their submodules, then restore them."""
    saved = {
        name: mod
        for name, mod in sys.modules.items()
        if any(name == m or name.startswith(m + ".") for m in modules)
    }
    try:
        for name in saved:
            sys.modules[name] = None  # type: ignore[assignment]
        for name in modules:
            sys.modules[name] = None  # type: ignore[assignment]
        yield
    finally:
        for name in modules:
            sys.modules.pop(name, None)
        for name in saved:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def _check_missing_library_names_the_extra(flavor: Flavor) -> None:
    if not flavor.modules:
        return
    with _package(flavor) as (_, _frame, path), _hidden(flavor.modules):
        exc = _expect(MissingDependency, f"loading without {flavor.modules}", lambda: _load(path))
        wanted = f"pip install 'loopml[{flavor.extra}]'" if flavor.extra else "pip install"
        if wanted not in str(exc):
            _fail(f"the message does not say {wanted!r}: {exc}")


def _check_save_refuses_an_existing_package(flavor: Flavor) -> None:
    with _package(flavor) as (model, _frame, path):
        before = _digests(path)
        _expect(Conflict, "saving over an existing package", lambda: save_model(model, path))
        if _digests(path) != before:
            _fail("a refused save changed the existing package")


def _check_failed_save_leaves_nothing(flavor: Flavor) -> None:
    root = Path(tempfile.mkdtemp(prefix="loopml-check-"))
    try:
        _expect(
            InvalidInput,
            f"saving a non-model with flavor={flavor.name!r}",
            lambda: save_model(object(), root / "pkg", flavor=flavor.name),
        )
        if list(root.iterdir()):
            _fail(f"a failed save left {[p.name for p in root.iterdir()]}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


_CHECKS: tuple[Callable[[Flavor], None], ...] = (
    _check_predict_is_bit_identical,
    _check_predict_proba_is_bit_identical,
    _check_loading_twice_gives_the_same_predictions,
    _check_package_is_relocatable,
    _check_manifest_hashes_every_file,
    _check_manifest_describes_the_package,
    _check_signature_is_inferred_from_the_example,
    _check_input_example_round_trips,
    _check_columns_in_another_order_are_accepted,
    _check_missing_column_is_a_signature_error,
    _check_changed_model_byte_is_refused,
    _check_truncated_model_file_is_refused,
    _check_missing_model_file_is_refused,
    _check_changed_input_example_is_refused,
    _check_consistently_rewritten_package_is_refused_against_records,
    _check_unsafe_flavor_needs_trust,
    _check_manifest_claiming_safety_does_not_bypass_trust,
    _check_missing_library_names_the_extra,
    _check_save_refuses_an_existing_package,
    _check_failed_save_leaves_nothing,
)


def check_flavor(flavor: Flavor) -> Iterator[tuple[str, Callable[[], None]]]:
    """Yield ``(name, check)`` for every rule of the flavor contract (see the module doc)."""
    for check in _CHECKS:
        yield check.__name__.removeprefix("_check_"), functools.partial(check, flavor)
