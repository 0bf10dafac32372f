"""The model registry as a data scientist uses it: log once, load anywhere, promote by alias.

Runs on SQLite and PostgreSQL (the ``tracking_uri`` fixture), with real blobs on disk.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import loopml
from loopml import (
    Client,
    Conflict,
    DatasetInput,
    IntegrityError,
    InvalidInput,
    ModelRegistry,
    NotFound,
    NotTrusted,
)
from loopml.models.flavors import get_flavor


@pytest.fixture
def frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(11)
    X = pd.DataFrame(
        {
            "distance": rng.gamma(2.0, 400.0, 400),
            "hour": rng.integers(5, 23, 400),
            "carrier": pd.Categorical(rng.choice(["AA", "DL", "UA"], 400)),
        }
    )
    y = pd.Series((X["hour"] + rng.normal(0, 3, 400) > 15).astype(int), name="late")
    return X, y


def _fit(x: pd.DataFrame, y: pd.Series, c: float = 1.0) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=500).fit(x[["distance", "hour"]], y)


@pytest.fixture
def registry(tracking_uri: str) -> ModelRegistry:
    loopml.set_tracking_uri(tracking_uri)
    return ModelRegistry(client=loopml.tracking.get_client())


def _bits(a: object) -> bytes:
    return np.ascontiguousarray(np.asarray(a)).tobytes()


def test_log_register_load_every_uri_form(
    registry: ModelRegistry, frame: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = frame
    model = _fit(X, y)
    features = X[["distance", "hour"]]
    with loopml.start_run() as run:
        loopml.log_metric("auc", 0.71)
        info = loopml.log_model(
            model, "model", input_example=features.head(3), registered_model_name="delay"
        )
    assert info.registered_version is not None
    assert info.registered_version.version == 1
    registry.set_alias("delay", "champion", 1)
    local = registry.client.download_artifacts(run.run_id, "model", tmp_path / "dl")
    expected = _bits(model.predict_proba(features))
    for uri in (
        f"runs:/{run.run_id}/model",
        "models:/delay/1",
        "models:/delay/latest",
        "models:/delay@champion",
        local,
        f"file://{local}",
    ):
        loaded = loopml.load_model(uri)
        assert _bits(loaded.predict_proba(features)) == expected, uri
        assert loaded.metadata["flavor"] == "sklearn"
    loaded = loopml.load_model("models:/delay@champion")
    assert loaded.metadata["version"] == 1
    assert loaded.metadata["metrics"] == {"auc": 0.71}
    assert loaded.signature is not None
    assert list(loaded.signature.names) == ["distance", "hour"]


def test_package_size_is_the_bytes_of_every_file_whatever_the_uri(
    registry: ModelRegistry, frame: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = frame
    with loopml.start_run() as run:
        loopml.log_model(_fit(X, y), "model", input_example=X[["distance", "hour"]].head(3))
    registry.register_model(f"runs:/{run.run_id}/model", "sized")
    local = Path(registry.client.download_artifacts(run.run_id, "model", tmp_path / "dl"))
    on_disk = sum(p.stat().st_size for p in local.rglob("*") if p.is_file())
    assert on_disk > 0
    for uri in (f"runs:/{run.run_id}/model", "models:/sized/1", "models:/sized/latest", local):
        assert registry.package_size(uri) == on_disk, uri
    with pytest.raises(NotFound):
        registry.package_size("models:/sized/2")


def test_moving_an_alias_changes_what_loads(
    registry: ModelRegistry, frame: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = frame
    features = X[["distance", "hour"]]
    weak, strong = _fit(X, y, 1e-4), _fit(X, y, 10.0)
    for i, model in enumerate((weak, strong), start=1):
        info = loopml.log_model(model, "m", input_example=features.head(2))
        assert registry.register_model(info.model_uri, "delay").version == i
    registry.set_alias("delay", "champion", 2)
    assert _bits(loopml.load_model("models:/delay@champion").predict_proba(features)) == _bits(
        strong.predict_proba(features)
    )
    registry.set_alias("delay", "champion", 1)  # roll back
    assert _bits(loopml.load_model("models:/delay@champion").predict_proba(features)) == _bits(
        weak.predict_proba(features)
    )
    trail = [(e.action, e.before, e.after) for e in registry.audit_events("delay")]
    alias_moves = [(b["version"], a["version"]) for act, b, a in trail if act == "alias.set"]
    assert alias_moves == [(None, 2), (2, 1)]
    assert sum(act == "model_version.create" for act, _, _ in trail) == 2


def test_bad_references_are_clear_errors(
    registry: ModelRegistry, frame: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = frame
    info = loopml.log_model(_fit(X, y), "model", input_example=X[["distance", "hour"]].head(2))
    registry.register_model(info.model_uri, "delay")
    with pytest.raises(NotFound, match="run"):
        registry.register_model("runs:/" + "0" * 32 + "/model", "delay")
    with pytest.raises(NotFound, match=r"loopml-model\.yaml"):
        registry.register_model(f"runs:/{info.run_id}/elsewhere", "delay")
    with pytest.raises(NotFound):
        registry.set_alias("delay", "champion", 7)
    with pytest.raises(NotFound):
        loopml.load_model("models:/delay@nobody")
    with pytest.raises(NotFound):
        loopml.load_model("models:/unknown/1")
    with pytest.raises(InvalidInput, match="model URI"):
        loopml.load_model("s3x://bucket/model")
    with pytest.raises(InvalidInput, match="alias"):
        registry.set_alias("delay", "latest", 1)
    with pytest.raises(InvalidInput, match="registered model name"):
        registry.register_model(info.model_uri, "bad/name")
    with pytest.raises(NotFound, match="model package"):
        loopml.load_model("/no/such/dir")


def test_aliased_version_cannot_be_deleted(
    registry: ModelRegistry, frame: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = frame
    info = loopml.log_model(_fit(X, y), "model", registered_model_name="delay")
    assert info.registered_version is not None
    registry.set_alias("delay", "champion", 1)
    with pytest.raises(Conflict, match="champion"):
        registry.delete_model_version("delay", 1)
    registry.delete_alias("delay", "champion")
    registry.delete_model_version("delay", 1)
    with pytest.raises(NotFound):
        loopml.load_model("models:/delay/1")
    info2 = loopml.log_model(_fit(X, y), "model2", registered_model_name="delay")
    assert info2.registered_version is not None
    assert info2.registered_version.version == 2  # numbers are never reused


def test_tampered_blob_is_refused(
    registry: ModelRegistry, frame: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = frame
    info = loopml.log_model(_fit(X, y), "model", registered_model_name="delay")
    loopml.load_model("models:/delay/1")
    files = registry.store.model_version_files("delay", 1)
    blob_root = Path(registry.stores.artifact_uri)
    model_file = next(f for f in files if f.path.endswith(".skops"))
    assert model_file.digest is not None
    blob = blob_root / model_file.digest[:2] / model_file.digest
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="sha256"):
        loopml.load_model("models:/delay/1")
    with pytest.raises(IntegrityError):
        loopml.load_model(info.model_uri)  # the run's listing shares the blob


def test_tampered_directory_is_not_registered(
    registry: ModelRegistry, frame: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = frame
    path = tmp_path / "pkg"
    loopml.save_model(_fit(X, y), path, input_example=X[["distance", "hour"]].head(2))
    (path / "model.skops").write_bytes((path / "model.skops").read_bytes() + b"\0")
    with pytest.raises(IntegrityError):
        registry.register_model(str(path), "delay")
    with pytest.raises(NotFound):
        registry.get_registered_model("delay")


def test_register_from_a_directory_copies_it(
    registry: ModelRegistry, frame: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = frame
    model = _fit(X, y)
    path = tmp_path / "pkg"
    loopml.save_model(model, path, signature=X[["distance", "hour"]])
    mv = registry.register_model(str(path), "delay", description="from disk")
    shutil.rmtree(path)  # the version no longer depends on the directory
    loaded = loopml.load_model(mv.uri)
    features = X[["distance", "hour"]]
    assert _bits(loaded.predict(features)) == _bits(model.predict(features))
    assert mv.lineage.run_id is None
    assert mv.description == "from disk"


def test_lineage_records_run_data_commit_and_replaced_version(
    registry: ModelRegistry, frame: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = frame
    first = loopml.log_model(_fit(X, y), "model", registered_model_name="delay")
    assert first.registered_version is not None
    registry.set_alias("delay", "champion", 1)
    digest = hashlib.sha256(b"training data").hexdigest()
    with loopml.start_run() as run:
        loopml.set_tag("loopml.source.git.commit", "a" * 40)
        loopml.log_input(DatasetInput("flights-train", digest, context="training"))
        second = loopml.log_model(
            _fit(X, y, 3.0), "model", registered_model_name="delay", replaces="champion"
        )
    mv = second.registered_version
    assert mv is not None
    assert mv.lineage.run_id == run.run_id
    assert mv.lineage.git_commit == "a" * 40
    assert mv.lineage.dataset_ids == (f"flights-train@{digest}",)
    assert mv.lineage.replaces_version == 1
    assert registry.get_model_version("delay", 2).lineage == mv.lineage


def test_model_card_is_generated_then_editable(
    registry: ModelRegistry, frame: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = frame
    with loopml.start_run():
        loopml.log_metric("roc_auc", 0.6431)
        loopml.log_model(
            _fit(X, y), "model", signature=X[["distance", "hour"]], registered_model_name="delay"
        )
    card = registry.get_model_card("delay", 1)
    assert card.startswith("# delay — version 1")
    assert "roc_auc | 0.6431" in card
    assert "| distance | float | no |" in card
    registry.set_model_card("delay", 1, card + "\nOnly for flights from NYC.\n")
    assert registry.get_model_card("delay", 1).endswith("Only for flights from NYC.\n")
    assert [e.action for e in registry.audit_events("delay", 1)][-1] == "model_version.set_card"


def test_log_model_never_overwrites_and_starts_a_run_when_needed(
    registry: ModelRegistry, frame: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = frame
    info = loopml.log_model(_fit(X, y), "model")
    assert loopml.active_run() is None
    assert registry.client.get_run(info.run_id).info.status.value == "FINISHED"
    with loopml.start_run(run_id=info.run_id), pytest.raises(Conflict, match="never overwritten"):
        loopml.log_model(_fit(X, y), "model")


def test_signature_mismatch_is_a_diff(
    registry: ModelRegistry, frame: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = frame
    loopml.log_model(
        _fit(X, y), "model", signature=X[["distance", "hour"]], registered_model_name="delay"
    )
    loaded = loopml.load_model("models:/delay/1")
    bad = pd.DataFrame({"distance": ["far", "near"], "minute": [1, 2]})
    with pytest.raises(loopml.SignatureMismatch) as caught:
        loaded.predict(bad)
    diff = caught.value.diff
    kinds = {(p.kind, p.column) for p in diff.problems}
    assert ("missing_column", "hour") in kinds
    assert ("unknown_column", "minute") in kinds
    assert ("wrong_type", "distance") in kinds


def test_pyfunc_needs_trust(registry: ModelRegistry) -> None:
    flavor = get_flavor("pyfunc")
    model, X = flavor.example()
    loopml.log_model(model, "model", input_example=X.head(3), registered_model_name="rule")
    with pytest.raises(NotTrusted, match="trust=True"):
        loopml.load_model("models:/rule/1")
    loaded = loopml.load_model("models:/rule/1", trust=True)
    assert _bits(loaded.predict(X)) == _bits(model.predict(X))


def test_client_and_registry_share_the_store(registry: ModelRegistry) -> None:
    assert isinstance(registry.client, Client)
    assert registry.search_registered_models().items == ()


def test_register_a_version_under_another_name_keeps_lineage(
    registry: ModelRegistry, frame: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = frame
    model = _fit(X, y)
    info = loopml.log_model(model, "model", registered_model_name="delay")
    assert info.registered_version is not None
    registry.set_alias("delay", "champion", 1)
    promoted = registry.register_model("models:/delay@champion", "delay-prod")
    assert promoted.version == 1
    assert promoted.lineage == info.registered_version.lineage
    assert promoted.source == "models:/delay@champion"
    features = X[["distance", "hour"]]
    assert _bits(loopml.load_model("models:/delay-prod/1").predict(features)) == _bits(
        model.predict(features)
    )
