"""The public surface is exactly what ``loopml.__all__`` says, and every name resolves."""

from __future__ import annotations

import importlib

import loopml

EXPECTED = {
    "ActiveRun", "ArtifactInfo", "Client", "Conflict", "DatasetInput", "Experiment",
    "InvalidInput", "LoopmlError", "Metric", "MissingDependency", "NotFound", "Page", "Param",
    "Run", "RunData", "RunInfo", "RunStatus", "RunTag", "SchemaOutdated", "StoreError",
    "ViewType", "__version__", "active_run", "end_run", "get_tracking_uri", "log_artifact",
    "log_artifacts", "log_dict", "log_figure", "log_input", "log_metric", "log_metrics",
    "log_param", "log_params", "log_text", "set_experiment", "set_tag", "set_tags",
    "set_tracking_uri", "start_run",
    # models and registry
    "IntegrityError", "NotTrusted", "ModelVersion", "RegisteredModel", "LoadedModel",
    "save_model", "Signature", "SignatureMismatch", "infer_signature", "ModelInfo",
    "ModelRegistry", "load_model", "log_model", "register_model",
    "data", "evaluate", "pipeline", "project", "training",
}  # fmt: skip


def test_all_is_exact() -> None:
    assert set(loopml.__all__) == EXPECTED
    assert len(loopml.__all__) == len(set(loopml.__all__))


def test_every_public_name_resolves() -> None:
    for name in loopml.__all__:
        assert getattr(loopml, name) is not None


def test_submodule_all_lists_resolve() -> None:
    for module in (
        "loopml.core.errors",
        "loopml.core.entities",
        "loopml.core.filters",
        "loopml.core.settings",
        "loopml.core.validation",
        "loopml.store.artifacts",
        "loopml.store.conformance",
        "loopml.store.sql",
        "loopml.store.stores",
        "loopml.tracking",
        "loopml.core.registry",
        "loopml.core.model_uri",
        "loopml.models.flavors",
        "loopml.models.package",
        "loopml.models.conformance",
        "loopml.registry",
        "loopml.data",
        "loopml.evaluate",
        "loopml.pipeline",
        "loopml.project",
        "loopml.training",
        "loopml.data.sources",
        "loopml.data.sampling",
        "loopml.data.splits",
        "loopml.core.snapshots",
        "loopml.store.data",
    ):
        mod = importlib.import_module(module)
        for name in mod.__all__:
            assert hasattr(mod, name), f"{module}.{name}"


def test_version_is_a_pep440_string() -> None:
    assert loopml.__version__[0].isdigit()


def test_evaluate_is_a_callable_package() -> None:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    generator = np.random.default_rng(0)
    frame = pd.DataFrame({"x": generator.normal(size=300)})
    frame["y"] = (frame["x"] + generator.normal(size=300) > 0).astype(int)
    model = LogisticRegression().fit(frame[["x"]], frame["y"])
    result = loopml.evaluate(model, frame, "y", latency=False, n_resamples=50, importance=None)
    assert result.metrics["roc_auc"].value == loopml.evaluate.roc_auc(
        frame["y"], model.predict_proba(frame[["x"]])[:, 1]
    )
