"""The public surface of ``loopml.training``: every listed name resolves, and the examples in
the docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

import loopml.training

MODULES = [
    "loopml.training",
    "loopml.training.zoo",
    "loopml.training.baselines",
    "loopml.training.imbalance",
    "loopml.training.ensembles",
    "loopml.training.hpo",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_resolve_and_doctests_run(name: str) -> None:
    module = importlib.import_module(name)
    for public in module.__all__:
        assert hasattr(module, public), f"{name}.{public}"
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_the_package_lists_each_name_once() -> None:
    assert len(loopml.training.__all__) == len(set(loopml.training.__all__))
