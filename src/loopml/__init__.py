"""loopml: the production ML feedback loop in one package.

The public surface is exactly ``__all__`` (a test pins it). Tracking follows MLflow's
conventions::

    import loopml

    loopml.set_experiment("flights")
    with loopml.start_run(run_name="gbm"):
        loopml.log_params({"max_depth": 6})
        loopml.log_metric("auc", 0.81)
        info = loopml.log_model(model, "model", input_example=X.head(),
                                registered_model_name="flight-delay")

    loopml.ModelRegistry().set_alias("flight-delay", "champion", info.registered_version.version)
    loopml.load_model("models:/flight-delay@champion").predict(X)

The data layer lives in ``loopml.data`` (sources, schema and validation, snapshots, sampling,
splits). ``loopml.evaluate(model, test_frame, "target", slices=[...])`` evaluates a model (the
package ``loopml.evaluate`` holds the metrics, gates and report too); ``loopml.pipeline`` runs
cached, tracked pipelines; ``loopml.training`` holds baselines, the model zoo, tuning and
``train_project``; ``loopml.project`` reads ``loopml.yaml``.
"""

import importlib
from typing import Any

from loopml._version import __version__
from loopml.core.entities import (
    ArtifactInfo,
    DatasetInput,
    Experiment,
    Metric,
    Page,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from loopml.core.errors import (
    Conflict,
    IntegrityError,
    InvalidInput,
    LoopmlError,
    MissingDependency,
    NotFound,
    NotTrusted,
    SchemaOutdated,
    StoreError,
)
from loopml.core.registry import ModelVersion, RegisteredModel
from loopml.models.loaded import LoadedModel
from loopml.models.package import save_model
from loopml.models.signature import Signature, SignatureMismatch, infer_signature
from loopml.registry import (
    ModelInfo,
    ModelRegistry,
    load_model,
    log_model,
    register_model,
)
from loopml.tracking import (
    ActiveRun,
    Client,
    active_run,
    end_run,
    get_tracking_uri,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    set_experiment,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)

__all__ = [
    "ActiveRun",
    "ArtifactInfo",
    "Client",
    "Conflict",
    "DatasetInput",
    "Experiment",
    "IntegrityError",
    "InvalidInput",
    "LoadedModel",
    "LoopmlError",
    "Metric",
    "MissingDependency",
    "ModelInfo",
    "ModelRegistry",
    "ModelVersion",
    "NotFound",
    "NotTrusted",
    "Page",
    "Param",
    "RegisteredModel",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "SchemaOutdated",
    "Signature",
    "SignatureMismatch",
    "StoreError",
    "ViewType",
    "__version__",
    "active_run",
    "data",
    "end_run",
    "evaluate",
    "get_tracking_uri",
    "infer_signature",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_text",
    "pipeline",
    "project",
    "register_model",
    "save_model",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "training",
]


_LAZY = frozenset(("data", "evaluate", "pipeline", "project", "training"))


def __getattr__(name: str) -> Any:
    """The subpackages of ``_LAZY`` are imported on first use: they bring pyarrow, DuckDB,
    Optuna or plotly, which tracking alone does not need."""
    if name in _LAZY:
        return importlib.import_module(f"loopml.{name}")
    raise AttributeError(f"module 'loopml' has no attribute {name!r}")
