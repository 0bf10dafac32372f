"""The public surface of ``loopml.training``: every listed name resolves (the examples in the
docstrings run in ``tests/test_doctests.py``)."""

from __future__ import annotations

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
def test_all_lists_resolve(name: str) -> None:
    module = importlib.import_module(name)
    for public in module.__all__:
        assert hasattr(module, public), f"{name}.{public}"


def test_the_package_lists_each_name_once() -> None:
    assert len(loopml.training.__all__) == len(set(loopml.training.__all__))
