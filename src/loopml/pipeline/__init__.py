"""Pipelines: steps as plain functions wired by name into a DAG, cached by the hash of their
inputs, code and params, run locally or on Dask, every step a tracked run nested under the
pipeline's run.

>>> from loopml.pipeline import Pipeline, step
>>> @step(outputs="squares")
... def square(numbers: list[int]) -> list[int]:
...     return [n * n for n in numbers]
>>> Pipeline("squares", [square]).external_inputs
('numbers',)

The rules live with their concept: signatures and the code fingerprint in
:mod:`loopml.pipeline.steps`, wiring in :mod:`loopml.pipeline.graph`, the cache key and lookup in
:mod:`loopml.pipeline.cache`, output formats and trust in :mod:`loopml.pipeline.materializers`,
scheduling, tracking and failures in :mod:`loopml.pipeline.runner`, executors in
:mod:`loopml.pipeline.executors`.
"""

from loopml.pipeline.executors import DaskExecutor, Executor, LocalExecutor
from loopml.pipeline.graph import Pipeline
from loopml.pipeline.results import PipelineResult, StepEvent, StepFailed, StepResult
from loopml.pipeline.status import PipelineStatus, StepStatus, pipeline_status
from loopml.pipeline.steps import Step, step

__all__ = [
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "Pipeline",
    "PipelineResult",
    "PipelineStatus",
    "Step",
    "StepEvent",
    "StepFailed",
    "StepResult",
    "StepStatus",
    "pipeline_status",
    "step",
]
