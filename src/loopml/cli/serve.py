"""``loopml serve MODEL_URI``: the prediction server (uvicorn with uvloop and httptools).

The model is loaded (and its URI, trust and signature checked) before the server starts, so a
wrong URI is one line and exit code 3, not a stack of server logs. Predictions are written to
the prediction log (``--predictions-uri``, default ``$LOOPML_PREDICTIONS_URI`` or
``$LOOPML_HOME/predictions``) unless ``--no-log-predictions``; stopping the server (Ctrl-C,
SIGTERM) answers the queued requests and flushes the log.

With ``--workers N`` (N > 1) uvicorn starts N processes, each loading the model and writing its
own log files; the parent hands them the settings through the ``_LOOPML_SERVE_SPEC`` environment
variable (internal: a JSON document, not a user setting), and each worker's ``/metrics`` covers
that worker only.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
from typing import TYPE_CHECKING, Any

import typer

from loopml.cli.state import STATE, console
from loopml.core.errors import InvalidInput, user_message

if TYPE_CHECKING:  # the server's imports (FastAPI, pandas) wait until a server starts
    from loopml.serving import ModelSource

__all__ = ["serve", "worker_app"]

_SPEC_VARIABLE = "_LOOPML_SERVE_SPEC"
_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def _source(target: str, name: str | None, trust: bool, tracking_uri: str | None) -> ModelSource:
    from loopml.registry.client import ModelRegistry
    from loopml.serving import StaticSource

    return StaticSource(target, name=name, trust=trust, registry=ModelRegistry(tracking_uri))


def _sink(log_predictions: bool, predictions_uri: str | None) -> Any:
    if not log_predictions:
        return None
    from loopml.predictions import PredictionLog

    return PredictionLog(predictions_uri)


def worker_app() -> Any:
    """The app of one uvicorn worker process (``--workers`` > 1), built from the parent's spec."""
    from loopml.serving import ServingConfig, create_app

    spec = json.loads(os.environ[_SPEC_VARIABLE])
    source = _source(spec["target"], spec["name"], spec["trust"], spec["tracking_uri"])
    sink = _sink(spec["log_predictions"], spec["predictions_uri"])
    if sink is not None:
        atexit.register(sink.close)  # the worker exits once uvicorn has drained it
    return create_app(source, config=ServingConfig(**spec["config"]), log=sink)


def serve(
    target: str = typer.Argument(
        ...,
        help="The model: models:/name@alias, models:/name/3, runs:/<run>/<path> or a package "
        "directory.",
        show_default=False,
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (0.0.0.0: all)."),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port to bind."),
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes."),
    max_batch_size: int = typer.Option(
        64, "--max-batch-size", min=1, help="Rows per vectorised predict (concurrent requests)."
    ),
    max_wait_ms: float = typer.Option(
        2.0, "--max-wait-ms", min=0.0, help="Longest a batch waits for requests on their way."
    ),
    latency_budget_ms: float = typer.Option(
        1000.0,
        "--latency-budget-ms",
        min=0.0,
        help="Shed load (503 + Retry-After) when a request would queue longer than this.",
    ),
    max_body_bytes: int = typer.Option(
        8 * 1024 * 1024, "--max-body-bytes", min=1, help="Larger request bodies get 413."
    ),
    model_threads: int = typer.Option(
        1, "--model-threads", min=0, help="OpenMP threads of the model (0: the library default)."
    ),
    allow_extra_columns: bool = typer.Option(
        False, "--allow-extra-columns", help="Drop request fields the model was not trained on."
    ),
    trust: bool = typer.Option(
        False, "--trust", help="Load a package that runs code (pickle, custom types)."
    ),
    name: str = typer.Option(
        None, "--name", help="Serve an unregistered model under this name (and log under it)."
    ),
    log_predictions: bool = typer.Option(
        True, "--log-predictions/--no-log-predictions", help="Write every prediction to the log."
    ),
    predictions_uri: str = typer.Option(
        None, "--predictions-uri", help="Where the prediction log lives (a path or fsspec URL)."
    ),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request (slower)."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn's log level."),
) -> None:
    """Serve a model over HTTP: POST /predict, the Open Inference Protocol v2 (/v2/...),
    /metrics for Prometheus, OpenAPI docs at /docs."""
    import uvicorn

    from loopml.serving import ServingConfig, create_app

    if log_level not in _LOG_LEVELS:
        raise InvalidInput(
            user_message("--log-level", f"must be one of {', '.join(_LOG_LEVELS)}", log_level)
        )
    config = ServingConfig(
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
        latency_budget_ms=latency_budget_ms,
        max_body_bytes=max_body_bytes,
        model_threads=model_threads or None,
        allow_extra_columns=allow_extra_columns,
    )
    source = _source(target, name, trust, STATE.tracking_uri)
    with console.status(f"Loading {target} ..."):
        source.refresh()
    table = source.table()
    arms = ", ".join(f"{arm.name} ({arm.model.manifest.flavor})" for arm in table.arms)
    console.print(
        f"Serving [bold]{table.name}[/]: {arms} on http://{host}:{port}  "
        f"[dim](docs /docs, metrics /metrics; Ctrl-C stops)[/]",
        highlight=False,
    )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": access_log,
        "log_level": log_level,
    }
    if workers > 1:
        del source, table  # each worker loads its own copy
        os.environ[_SPEC_VARIABLE] = json.dumps(
            {
                "target": target,
                "name": name,
                "trust": trust,
                "tracking_uri": STATE.tracking_uri,
                "log_predictions": log_predictions,
                "predictions_uri": predictions_uri,
                "config": dataclasses.asdict(config),
            }
        )
        uvicorn.run("loopml.cli.serve:worker_app", factory=True, workers=workers, **options)
        return
    sink = _sink(log_predictions, predictions_uri)
    try:
        uvicorn.run(create_app(source, config=config, log=sink), **options)
    finally:
        if sink is not None:
            sink.close()
