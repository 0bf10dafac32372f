"""The examples in public docstrings run (modules with side effects on import are left out)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "loopml.core.errors",
    "loopml.core.html_page",
    "loopml.core.filters",
    "loopml.core.ids",
    "loopml.core.settings",
    "loopml.core.validation",
    "loopml.tracking.names",
    "loopml.tracking.client",
    "loopml.core.model_uri",
    "loopml.models.signature",
    "loopml.models.flavors.pyfunc",
    "loopml.registry.client",
    "loopml.core.snapshots",
    "loopml.data._frames",
    "loopml.data.sampling",
    "loopml.data.splits",
    "loopml.data.sources",
    "loopml.data.schema",
    "loopml.data.expectations",
    "loopml.data.digest",
    "loopml.data.profiling",
    "loopml.data.validation",
    "loopml.evaluate.metrics",
    "loopml.evaluate.bootstrap",
    "loopml.evaluate.calibration",
    "loopml.evaluate.fairness",
    "loopml.evaluate.catalog",
    "loopml.evaluate.slices",
    "loopml.evaluate.behaviour",
    "loopml.evaluate.importance",
    "loopml.evaluate.latency",
    "loopml.evaluate.gates",
    "loopml.evaluate.evaluation",
    "loopml.pipeline",
    "loopml.pipeline.steps",
    "loopml.pipeline.graph",
    "loopml.project.names",
    "loopml.project.config",
    "loopml.project.loader",
    "loopml.project.sections",
    "loopml.training.zoo",
    "loopml.training.baselines",
    "loopml.training.imbalance",
    "loopml.predictions.records",
    "loopml.predictions._layout",
    "loopml.predictions.log",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if name not in ("loopml.tracking.client", "loopml.registry.client"):  # they need a store
        assert result.attempted > 0, f"{name} has no doctest to run"
