"""The project file ``loopml.yaml``: typed, validated settings for a training project.

::

    from loopml.project import load_project

    project = load_project("loopml.yaml")     # ONE InvalidInput listing every problem, by line
    project.task, project.target, project.metrics.primary
    project.source_options()                  # keyword arguments of loopml.data.open_source
    [c.name for c in project.candidates]

``loopml init`` writes a commented file (:func:`init_project`). The names the file may use
(tasks, model kinds, metrics) are in :mod:`loopml.project.names`; the rules in
:mod:`loopml.project.config` (the whole file), :mod:`~loopml.project.sections` (what to
train), :mod:`~loopml.project.checks` (evaluation and gates) and :mod:`~loopml.project.rules`
(rules joining sections). This package imports only ``loopml.core``, pydantic and PyYAML.
"""

from loopml.project.config import (
    BaselineConfig,
    BehaviourCheck,
    CalibrationConfig,
    CandidateConfig,
    DataConfig,
    DirectionalCheck,
    EnsembleConfig,
    EvaluationConfig,
    ExecutionConfig,
    FairnessGate,
    GateConfig,
    ImprovementGate,
    InvarianceCheck,
    LatencyGate,
    MetricGate,
    MetricsConfig,
    ModelSizeGate,
    PerturbationCheck,
    ProjectConfig,
    RegisterConfig,
    Requirements,
    SearchConfig,
    SearchParam,
    SliceGapGate,
    SplitConfig,
    WorstSlicesConfig,
)
from loopml.project.loader import PROJECT_FILE, load_project, parse_project
from loopml.project.names import (
    CLASSIFICATION_METRICS,
    METRICS,
    MODEL_KIND_TASKS,
    MODEL_KINDS,
    REGRESSION_METRICS,
    TASKS,
)
from loopml.project.scaffold import InitAnswers, example_answers, init_project, render_project
from loopml.project.sections import source_kind

__all__ = [
    "CLASSIFICATION_METRICS",
    "METRICS",
    "MODEL_KINDS",
    "MODEL_KIND_TASKS",
    "PROJECT_FILE",
    "REGRESSION_METRICS",
    "TASKS",
    "BaselineConfig",
    "BehaviourCheck",
    "CalibrationConfig",
    "CandidateConfig",
    "DataConfig",
    "DirectionalCheck",
    "EnsembleConfig",
    "EvaluationConfig",
    "ExecutionConfig",
    "FairnessGate",
    "GateConfig",
    "ImprovementGate",
    "InitAnswers",
    "InvarianceCheck",
    "LatencyGate",
    "MetricGate",
    "MetricsConfig",
    "ModelSizeGate",
    "PerturbationCheck",
    "ProjectConfig",
    "RegisterConfig",
    "Requirements",
    "SearchConfig",
    "SearchParam",
    "SliceGapGate",
    "SplitConfig",
    "WorstSlicesConfig",
    "example_answers",
    "init_project",
    "load_project",
    "parse_project",
    "render_project",
    "source_kind",
]
