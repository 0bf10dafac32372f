"""loopml: the production ML feedback loop in one package.

The public surface is exactly ``__all__`` (a test pins it). Tracking follows MLflow's
conventions::

    import loopml

    loopml.set_experiment("flights")
    with loopml.start_run(run_name="gbm"):
        loopml.log_params({"max_depth": 6})
        loopml.log_metric("auc", 0.81)
"""

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
    InvalidInput,
    LoopmlError,
    MissingDependency,
    NotFound,
    SchemaOutdated,
    StoreError,
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
    "InvalidInput",
    "LoopmlError",
    "Metric",
    "MissingDependency",
    "NotFound",
    "Page",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "SchemaOutdated",
    "StoreError",
    "ViewType",
    "__version__",
    "active_run",
    "end_run",
    "get_tracking_uri",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
